"""The public API: stylise an image (``transfer``) or score any image (``score``).

The command line and the notebooks are thin layers over these two functions. A run is
``inputs.load`` -> ``inputs.prepare`` -> ``solve.run`` (or ``multiscale.coarse_to_fine``)
-> ``manifest.build``; this module wires them together and writes the files.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import images, inputs, manifest, network, outputs, paths, solve
from .errors import InputError, StyleTransferError
from .images import ImageSource
from .inputs import MaskSources, StyleMaskSources
from .memory import check_scoring
from .optimize import Status
from .plots import plot_losses
from .settings import PAPER_STYLE_LAYERS, ResolvedSettings, Settings
from .solve import RunRecord, load_network
from .weights import resolve_weights, weights_info

__all__ = [
    "ImageSource", "Result", "features", "load_network", "make_settings", "score", "transfer",
]  # fmt: skip


@dataclass
class Result:
    """A stylised image with everything needed to trace it."""

    image: np.ndarray  # uint8 RGB (H, W, 3): the best image found
    history: dict[str, list[float]]  # loss terms per iteration; index 0 is the start
    manifest: dict
    status: Status  # a str: "completed", "interrupted" or "diverged"
    stop_reason: str
    optimised: np.ndarray | None = dataclasses.field(default=None, repr=False)  # RGB float,
    # before colour.finish: what a finer scale would start from
    record: RunRecord | None = dataclasses.field(default=None, repr=False)  # the run's record
    problems: list[str] = dataclasses.field(default_factory=list)  # secondary outputs that
    # failed (progress, snapshots, loss plot, manifest), one line each; the image was kept
    saved_to: Path | None = None  # where ``save`` wrote the image (resolved)

    @classmethod
    def from_record(
        cls, record: RunRecord, settings: ResolvedSettings, output: Path | None
    ) -> Result:
        """The Result of a run, with its manifest built from the record."""
        built = manifest.build(record, settings, output=output)
        return cls(
            record.image, record.history, built, record.status, record.stop_reason,
            record.optimised, record, list(record.problems),
        )  # fmt: skip

    def save(self, path: str | os.PathLike) -> Path:
        """Write the image, then its loss curves (``OUT.loss.png``) and manifest (``OUT.png.json``).

        Every path is checked first (outputs.check). Each file is written atomically; the
        image first, so a failure of a secondary file (the plot, the manifest) never costs
        it: such a failure is added to ``problems`` and warned about in one line. The
        manifest, written last, records the image's SHA-256 and names the files that were
        actually written, so a crash between writes leaves a pair that visibly does not
        match (``reproduce`` then renders the panel again).
        """
        plan = outputs.check(path, manifest.input_paths(self.manifest))
        images.save_image(self.image, plan.image)
        self.saved_to = plan.image
        output = {**self.manifest["output"], "path": str(plan.image)}
        output["sha256"] = images.image_digest(plan.image)
        title = f"{paths.printable(plan.image.name)}: loss per iteration"
        plotted = self._secondary(
            "loss plot", plan.loss_plot, lambda: plot_losses(self, plan.loss_plot, title=title)
        )
        output["loss_plot"] = str(plan.loss_plot) if plotted else None
        record = {**self.manifest, "output": output}
        if self._secondary(
            "manifest",
            plan.manifest,
            lambda: manifest.write_json_atomic(plan.manifest, record),
        ):
            self.manifest = record
        return plan.image

    def _secondary(self, kind: str, path: Path, write: Callable[[], object]) -> bool:
        """Run ``write``; on failure note it in ``problems`` (and warn), never raise."""
        try:
            write()
        except (Exception, KeyboardInterrupt) as error:  # any failure: the image is saved
            reason = str(error) if isinstance(error, StyleTransferError) else _reason(error)
            problem = f"could not write the {kind} {paths.quoted(path)} ({reason})"
            self.problems.append(problem)
            warnings.warn(f"{problem}; the image was saved", stacklevel=3)
            return False
        return True


def _reason(error: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(error).split())
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def make_settings(settings: Settings | None = None, **overrides: object) -> Settings:
    """``Settings`` from a base (default: the paper preset) and keyword overrides."""
    base = settings if settings is not None else Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(
            f"unknown setting {unknown[0]!r}; valid settings: {', '.join(sorted(known))}"
        )
    return dataclasses.replace(base, **overrides)


def features(
    image: ImageSource,
    layers: Sequence[str] = PAPER_STYLE_LAYERS,
    *,
    size: int | None = None,
    pooling: str = network.PAPER_POOLING,
    weights: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """VGG19's rectified feature maps of ``image``: ``{layer: (H_l, W_l, N_l) float32}``.

    For looking inside the network (e.g. the Gram matrix of a layer is ``F.T @ F``
    with ``F = maps.reshape(-1, N_l)``). ``layers`` are named as in the settings
    (``conv1_1`` or ``block1_conv1``) and key the result as given; ``size`` resizes
    the longer side first; ``pooling`` is ``avg`` (the paper's) or ``max``.
    """
    if isinstance(layers, str):
        layers = [layers]
    keras_names = [network.keras_layer_name(layer) for layer in layers]
    rgb = images.load_image(image, name="image")
    if size is not None:
        rgb = images.resize_long_side(rgb, size)
    path = resolve_weights(weights)
    md5 = weights_info(path)["md5"]
    extractor = solve.feature_extractor(str(path), md5, tuple(dict.fromkeys(keras_names)), pooling)
    maps = extractor(tf.constant(network.preprocess(rgb)[None]), training=False)
    return {layer: maps[name][0].numpy() for layer, name in zip(layers, keras_names)}


def transfer(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    output: str | os.PathLike | None = None,
    progress: bool = True,
    masks: MaskSources = None,
    style_masks: StyleMaskSources = None,
    **overrides: object,
) -> Result:
    """Repaint ``content`` in the style of ``style`` by optimising the image itself.

    ``settings`` (default: the paper preset) and keyword ``overrides`` (any
    ``Settings`` field, e.g. ``size=256, iterations=100, preset="gatys-code"``) say
    how. With ``output``, the image and its manifest are written there atomically,
    intermediate images every ``save_every`` iterations; the output path is checked
    before any work starts. Ctrl-C or a non-finite loss ends the run early with the
    best image so far (``Result.status`` says which).

    ``style`` may be a list of style images, blended with ``style_blend_weights``
    (normalised to sum to 1; equal by default). ``masks`` (one per style image, white =
    region) paint region i in style i; ``style_masks`` pick the part of each style image
    to take its style from (``None``/``"all"``: the whole image). ``preserve_colour``
    (``"luminance"`` or ``"histogram"``) keeps the content's colours; ``style_scale``
    resizes the style images relative to the content.
    """
    resolved = make_settings(settings, **overrides).resolve()
    styles = inputs.as_styles(style)
    given = inputs.input_paths(content, styles, masks, style_masks, resolved.init)
    output_path = None
    if output is not None:  # every file the run will write, before any work
        output_path = outputs.check(
            output, given, save_every=resolved.save_every, iterations=_saving_scale(resolved)
        ).image
    sources = inputs.load(content, styles, resolved, masks, style_masks)
    if resolved.scales > 1:  # coarse-to-fine: one solve.run per scale
        from .multiscale import coarse_to_fine

        record = coarse_to_fine(sources, resolved, output=output_path, progress=progress)
    else:
        prepared = inputs.prepare(sources, resolved)
        record = solve.run(prepared, resolved, output=output_path, progress=progress)
    result = Result.from_record(record, resolved, output_path)
    if output_path is not None:
        result.save(output_path)
    return result


def _saving_scale(settings: ResolvedSettings) -> int:
    """The iterations of the scale that saves snapshots (the finest; the only one if 1)."""
    if settings.scales == 1:
        return settings.iterations
    from .multiscale import schedule

    return schedule(settings.size, settings.iterations, settings.scales)[-1][1]


def score(
    image: ImageSource,
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    masks: MaskSources = None,
    style_masks: StyleMaskSources = None,
    **overrides: object,
) -> dict:
    """The objective's terms for any image at its own size (content and style resized to it).

    The content, styles and masks are prepared exactly as ``transfer`` prepares them
    (``inputs.prepare``), so the score is the objective ``transfer`` minimises with the same
    settings: ``style`` may be a list of styles, blended by ``style_blend_weights``;
    ``masks``/``style_masks`` guide the style terms region by region; ``preserve_colour=
    "histogram"`` matches the styles' colours to the content's first. ``"luminance"`` is
    refused: a luminance run outputs only its optimised image's luminance (on the content's
    colours), so what it minimised cannot be recomputed from the output.
    Returns ``content_loss`` (unweighted), ``style_losses`` (layer -> unweighted E_l),
    ``style_loss`` (Σ w_l E_l), ``tv_loss``, the weights, and ``total_loss``. The score is
    always computed in float32, whatever ``precision`` says: it is the reference.
    The losses are the preset's formulas exactly (the paper's sums, unscaled, at the image's
    size); ``content_weight`` is alpha at the image's size (``ratio_reference``: the alpha
    ``transfer`` would use there), so ``total_loss`` is the objective a run of that size
    minimised; ``ratio`` is alpha/beta as given.
    """
    exact = make_settings(settings, **overrides)
    resolved = dataclasses.replace(exact, precision="float32").resolve()
    if resolved.preserve_colour == "luminance":
        raise InputError(
            "score cannot use preserve_colour 'luminance' (the output keeps only the optimised "
            "image's luminance, not what the run minimised); score without it or with 'histogram'"
        )
    rgb = images.load_image(image, name="scored image")
    height, width = rgb.shape[:2]
    resolved = resolved.at_size(max(height, width))  # alpha as transfer used it at this size
    inputs.check_big_enough(rgb, resolved, "scored image")
    sources = inputs.load(content, style, resolved, masks, style_masks)
    style_shapes = [  # as prepare will size them, refused before any is resized
        inputs.style_shape(s.shape[:2], height, width, resolved) for s in sources.styles
    ]
    check_scoring((height, width), style_shapes, network.deepest(resolved.layers), "image")
    prepared = inputs.prepare(sources, resolved, shape=(height, width))
    extractor, weights = load_network(resolved)
    objective = solve.build_objective(extractor, resolved, prepared)
    terms = objective.named(objective.terms(tf.constant(network.preprocess(rgb)[None])).numpy())
    return {
        "image": str(image) if isinstance(image, (str, os.PathLike)) else None,
        "size": [width, height],
        "preset": resolved.preset,
        "pooling": resolved.pooling,
        "content_layer": resolved.content_layer,
        "style_layer_weights": resolved.style_layers,
        "content_weight": resolved.content_weight,
        "style_weight": resolved.style_weight,
        "ratio_reference": resolved.ratio_reference,
        "ratio": resolved.ratio if resolved.style_weight else None,
        "tv_weight": resolved.tv_weight,
        "style_blend_weights": prepared.blend,
        "content_loss": terms["content"],
        "style_losses": terms.style_losses(),
        "style_loss": terms["style"],
        "tv_loss": terms["tv"],
        "total_loss": terms.total,
        "weights_md5": weights["md5"],
    }
