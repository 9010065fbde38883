"""The public API: stylise an image (``transfer``) or score any image (``score``).

The command line and the notebooks are thin layers over these two functions.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import PIL.Image
import tensorflow as tf

from . import colour, images, network
from .errors import InputError
from .evaluator import Evaluator, NonFiniteLossError
from .manifest import command_line, library_versions, manifest_path, write_json_atomic
from .masks import load_masks
from .memory import check_memory
from .objective import Objective
from .optimize import COMPLETED, minimize
from .plots import loss_plot_path, plot_losses
from .settings import INITS, PAPER_STYLE_LAYERS, PRESETS, ResolvedSettings, Settings
from .weights import WEIGHTS_MD5, load_vgg19_weights, resolve_weights, weights_info

ImageSource = str | os.PathLike | PIL.Image.Image | np.ndarray


@dataclass
class Result:
    """A stylised image with everything needed to trace it."""

    image: np.ndarray  # uint8 RGB (H, W, 3): the best image found
    history: dict[str, list[float]]  # loss terms per iteration; index 0 is the start
    manifest: dict
    status: str  # completed | interrupted | diverged
    stop_reason: str
    optimised: np.ndarray | None = dataclasses.field(default=None, repr=False)  # RGB float,
    # before colour.finish: what coarse-to-fine (multiscale.py) starts the next scale from

    def save(self, path: str | os.PathLike) -> Path:
        """Write the image, its loss curves (``OUT.loss.png``) and manifest (``OUT.png.json``).

        Each file is written atomically; the manifest, written last, names the other two
        and records the image's SHA-256, so a crash between the two writes leaves a pair
        that visibly does not match (``reproduce`` then renders the panel again).
        """
        inputs = _input_paths(self.manifest)
        path = images.check_output_path(path, inputs)
        loss_plot = images.check_output_path(loss_plot_path(path), inputs)
        plot_losses(self, loss_plot, title=f"{path.name}: loss per iteration")
        images.save_image(self.image, path)
        output = {
            **self.manifest["output"],
            "path": str(path),
            "sha256": images.image_digest(path),
            "loss_plot": str(loss_plot),
        }
        write_json_atomic(manifest_path(path), {**self.manifest, "output": output})
        return path


def _input_paths(record: object) -> list[str]:
    """Every ``path`` under a manifest's ``inputs`` and ``start`` (the files not to overwrite)."""
    if isinstance(record, dict):
        if "inputs" in record or "start" in record:
            return _input_paths([record.get("inputs"), record.get("start")])
        found = [record["path"]] if isinstance(record.get("path"), str) else []
        return found + [p for key, v in record.items() if key != "path" for p in _input_paths(v)]
    if isinstance(record, list):
        return [p for item in record for p in _input_paths(item)]
    return []


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


@functools.lru_cache(maxsize=4)
def _weights(path: str, md5: str) -> dict:
    return load_vgg19_weights(path)


@functools.lru_cache(maxsize=4)
def _normalised(path: str, md5: str, pooling: str, calibration: str | None) -> tuple[dict, dict]:
    from .normalise import normalised_weights  # the paper's mean-1 VGG19, cached on disk

    return normalised_weights(path, pooling, calibration)


@functools.lru_cache(maxsize=8)
def _extractor(
    path: str,
    md5: str,
    layers: tuple[str, ...],
    pooling: str,
    kind: str = "original",
    calibration: str | None = None,
    precision: str = "float32",
) -> keras.Model:
    if kind == "normalised":
        weights = _normalised(path, md5, pooling, calibration)[0]
    else:
        weights = _weights(path, md5)
    return network.build_feature_extractor(layers, weights, pooling, precision)


def load_network(settings: ResolvedSettings) -> tuple[keras.Model, dict]:
    """The feature extractor for these settings (cached) and the weights' provenance.

    With ``settings.network == "normalised"`` the weights are rescaled so every filter's
    mean activation over the calibration images is 1 (``normalise.py``); the provenance
    then also names the calibration set.
    """
    path = resolve_weights(settings.weights)
    info = weights_info(path)
    if not info["official"]:
        warnings.warn(
            f"the weights file {str(path)!r} has md5 {info['md5']}, not the official "
            f"{WEIGHTS_MD5}; using it (its layout is VGG19's), recorded as official: false",
            stacklevel=2,
        )
    kind, calibration = settings.network, settings.calibration
    layers = tuple(settings.layers)
    extractor = _extractor(
        str(path), info["md5"], layers, settings.pooling, kind, calibration, settings.precision
    )
    if kind == "normalised":
        made = _normalised(str(path), info["md5"], settings.pooling, calibration)[1]
        info = {**info, "normalisation": made}
    return extractor, info


def features(
    image: ImageSource,
    layers: Sequence[str] = PAPER_STYLE_LAYERS,
    *,
    size: int | None = None,
    pooling: str = "avg",
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
    extractor = _extractor(str(path), md5, tuple(dict.fromkeys(keras_names)), pooling)
    maps = extractor(tf.constant(network.preprocess(rgb)[None]), training=False)
    return {layer: maps[name][0].numpy() for layer, name in zip(layers, keras_names)}


def _describe(source: ImageSource, array: np.ndarray) -> dict:
    height, width = array.shape[:2]
    description: dict[str, object] = {"original_size": [width, height]}
    if isinstance(source, (str, os.PathLike)):
        description["path"] = str(Path(source).resolve())
        description["sha256"] = images.image_digest(source)
    else:
        description["path"] = None
        description["type"] = type(source).__name__
    return description


def _describe_styles(
    styles: list[ImageSource],
    arrays: list[np.ndarray],
    blend: list[float],
    masks: Sequence[ImageSource] | None,
    style_masks: Sequence[ImageSource | None] | None,
) -> dict:
    """``{"styles": [...]}`` with each style's blend weight and masks; empty for one plain style."""
    if len(styles) == 1 and masks is None:
        return {}

    def mask_record(source: ImageSource | None) -> dict | None:
        if source is None or (isinstance(source, str) and source == "all"):
            return None
        if isinstance(source, (str, os.PathLike)):
            return {"path": str(Path(source).resolve()), "sha256": images.image_digest(source)}
        return {"path": None, "type": type(source).__name__}

    records = []
    for i, (source, array) in enumerate(zip(styles, arrays)):
        record = {**_describe(source, array), "blend_weight": blend[i]}
        if masks is not None:
            record["mask"] = mask_record(list(masks)[i])
            record["style_mask"] = mask_record(list(style_masks)[i]) if style_masks else None
        records.append(record)
    return {"styles": records}


def _check_big_enough(
    image: np.ndarray, settings: ResolvedSettings, name: str, *, original: bool = False
) -> None:
    """Refuse an image the deepest layer's poolings would shrink to nothing.

    ``original``: the file as given, which is refused too (a 1x1 px image is not a photo
    to upscale); otherwise the image at the run's size.
    """
    deepest = max(settings.layers, key=network.CONV_LAYERS.index)
    needed = 2 ** network.poolings_before(deepest)
    height, width = image.shape[:2]
    if min(height, width) < needed:
        where, fix = (
            ("", "pass a larger image")
            if original
            else (" at this size", "use a larger --size or a larger image")
        )
        raise InputError(
            f"the {name} is {width}x{height} px{where}, too small for "
            f"{network.paper_layer_name(deepest)} (needs at least {needed} px on each side); {fix}"
        )


def _size_style(style: np.ndarray, height: int, width: int, settings: ResolvedSettings):
    """The preset's style size, times ``style_scale`` (>1: larger style features)."""
    scale = settings.style_scale
    if settings.style_size == "content":
        return images.resize_to(style, max(1, round(height * scale)), max(1, round(width * scale)))
    return images.resize_long_side(style, max(1, round(max(height, width) * scale)))


def _as_styles(style: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    """One style source, or a list/tuple of them, as a non-empty list."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise InputError("no style image given; pass at least one style image")
    return styles


def _blend_weights(settings: ResolvedSettings, count: int) -> list[float]:
    """The normalised blend weight of each style image (equal unless given)."""
    if settings.style_blend_weights is None:
        return [1.0 / count] * count
    if len(settings.style_blend_weights) != count:
        raise InputError(
            f"got {len(settings.style_blend_weights)} style weight(s) for {count} style "
            "image(s); give one weight per style image"
        )
    return list(settings.style_blend_weights)


def _initial_image(
    settings: ResolvedSettings, content: np.ndarray, style: np.ndarray
) -> tuple[np.ndarray, dict]:
    """The start, in RGB 0..255, and how it was made."""
    height, width = content.shape[:2]
    if settings.init == "noise":
        rng = np.random.default_rng(settings.seed)
        start = rng.uniform(0.0, 255.0, size=(height, width, 3)).astype(np.float32)
        return start, {
            "init": "noise",
            "distribution": "uniform 0..255 per pixel",
            "seed": settings.seed,
        }
    if settings.init == "content":
        return content, {"init": "content"}
    if settings.init == "style":
        return images.resize_to(style, height, width), {"init": "style"}
    path = settings.init
    if not Path(path).exists():
        raise InputError(
            f"init {path!r} is neither {', '.join(INITS)} nor an existing image file; "
            "pass one of those or a path"
        )
    start = images.resize_to(images.load_image(path, name="init image"), height, width)
    return start, {"init": "image", **_describe(path, start)}


def transfer(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    output: str | os.PathLike | None = None,
    progress: bool = True,
    masks: Sequence[ImageSource] | None = None,
    style_masks: Sequence[ImageSource | None] | None = None,
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
    styles = _as_styles(style)
    sources = [content, *styles, *(masks or []), *(style_masks or [])]
    input_paths = [s for s in sources if isinstance(s, (str, os.PathLike)) and s != "all"]
    if isinstance(resolved.init, str) and resolved.init not in INITS:
        input_paths.append(resolved.init)
    output_path = images.check_output_path(output, input_paths) if output is not None else None
    if output_path is not None:
        from .plots import loss_plot_path

        images.check_output_path(loss_plot_path(output_path), input_paths)
    run = _solve
    if resolved.scales > 1:  # coarse-to-fine: multiscale.py runs _solve once per scale
        from .multiscale import coarse_to_fine as run
    result = run(content, styles, resolved, output_path, progress, masks, style_masks)
    if output_path is not None:
        result.save(output_path)
    return result


def _solve(
    content: ImageSource,
    styles: list[ImageSource],
    resolved: ResolvedSettings,
    output_path: Path | None = None,
    progress: bool = True,
    masks: Sequence[ImageSource] | None = None,
    style_masks: Sequence[ImageSource | None] | None = None,
    start: np.ndarray | None = None,
) -> Result:
    """One run at ``resolved.size``, not saved; ``start``: an RGB image to begin from instead
    of ``resolved.init`` (resized to fit). Refused before any work if it would not fit in memory.
    """
    started = time.perf_counter()
    content_full = images.load_image(content, name="content image")
    style_fulls = [images.load_image(s, name="style image") for s in styles]
    for name, full in (("content image", content_full), *(("style image", s) for s in style_fulls)):
        _check_big_enough(full, resolved, name, original=True)
    check_memory(content_full.shape[:2], len(styles), resolved)  # before any large array
    content_rgb = images.resize_long_side(content_full, resolved.size)
    height, width = content_rgb.shape[:2]
    style_rgbs = [_size_style(s, height, width, resolved) for s in style_fulls]
    _check_big_enough(content_rgb, resolved, "content image")
    for style_rgb in style_rgbs:
        _check_big_enough(style_rgb, resolved, "style image")
    blend = _blend_weights(resolved, len(styles))
    region_masks, style_region_masks = load_masks(
        masks, style_masks, (height, width), [s.shape[:2] for s in style_rgbs]
    )
    # Colour preservation (colour.py) changes what is optimised, not the inputs' record.
    content_opt, style_opts = colour.prepare(
        content_rgb,
        style_rgbs,
        resolved.preserve_colour,
        method=resolved.histogram_method,
        match=resolved.match_luminance,
    )
    if start is None:
        start_rgb, init_info = _initial_image(resolved, content_opt, style_opts[0])
    else:
        start_rgb, init_info = images.resize_to(start, height, width), {"init": "previous scale"}

    extractor, weights = load_network(resolved)
    objective = Objective(
        extractor,
        resolved,
        network.preprocess(content_opt),
        [network.preprocess(s) for s in style_opts],
        blend,
        content_masks=region_masks,
        style_masks=style_region_masks,
    )
    evaluator = Evaluator(objective, (height, width, 3))
    bar = keras.utils.Progbar(resolved.iterations, stateful_metrics=["loss", "content", "style"])

    def on_iteration(iteration: int, x: np.ndarray, terms: np.ndarray) -> None:
        if progress:
            bar.update(
                iteration,
                [("loss", terms[0]), ("content", terms[1]), ("style", terms[2])],
            )
        if output_path is not None and resolved.save_every and iteration % resolved.save_every == 0:
            snapshot = output_path.with_name(
                f"{output_path.stem}.iter{iteration:05d}{output_path.suffix}"
            )
            optimised = network.deprocess(x.reshape(height, width, 3))
            images.save_image(
                colour.finish(optimised, content_rgb, resolved.preserve_colour), snapshot
            )

    try:  # cached: minimize's own first evaluation reuses it
        evaluator.evaluate(network.preprocess(start_rgb))
    except NonFiniteLossError as error:
        raise InputError(
            f"{error} (the start image, before any iteration); lower --content-weight/"
            "--style-weight/--tv-weight if they are huge, or use the official weights file"
        ) from None
    optimize_started = time.perf_counter()
    outcome = minimize(
        evaluator,
        network.preprocess(start_rgb),
        resolved.iterations,
        optimizer=resolved.optimizer,
        bounds=network.pixel_bounds((height, width, 3)),
        lbfgs_history=resolved.lbfgs_history,
        learning_rate=resolved.learning_rate,
        on_iteration=on_iteration,
    )
    optimize_seconds = time.perf_counter() - optimize_started
    if progress and outcome.status != COMPLETED:
        print(f"\n{outcome.stop_reason}")

    optimised_rgb = network.deprocess(outcome.x.reshape(height, width, 3))
    result_rgb = colour.finish(optimised_rgb, content_rgb, resolved.preserve_colour)
    image = np.round(result_rgb).astype(np.uint8)
    final_terms = evaluator.evaluate(outcome.x)[0]
    names = objective.term_names
    history = {name: [float(t[i]) for t in outcome.history] for i, name in enumerate(names)}
    manifest = {
        "tool": "style_transfer",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "preset": resolved.preset,
        "preset_description": PRESETS[resolved.preset].description,
        "settings": resolved.as_dict(),
        "weights": weights,
        "network": {"pooling": resolved.pooling, "deepest_layer": extractor.layers[-1].name},
        "inputs": {
            "content": _describe(content, content_full),
            "style": _describe(styles[0], style_fulls[0]),
            **_describe_styles(styles, style_fulls, blend, masks, style_masks),
        },
        "sizes": {
            "output": [width, height],
            "style": [style_rgbs[0].shape[1], style_rgbs[0].shape[0]],
            **({"styles": [[s.shape[1], s.shape[0]] for s in style_rgbs]} if blend[1:] else {}),
        },
        "start": init_info,
        "output": {
            "path": str(output_path) if output_path else None,
            "size": [width, height],
            "loss_plot": str(loss_plot_path(output_path)) if output_path else None,
        },
        "optimizer": {
            "name": resolved.optimizer,
            "status": outcome.status,
            "stop_reason": outcome.stop_reason,
            "iterations": outcome.iterations,
            "function_evaluations": outcome.evaluations,
        },
        "final_loss": {name: float(value) for name, value in zip(names, final_terms)},
        "loss_history": history,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "optimize_time_s": round(optimize_seconds, 3),
        "versions": library_versions(),
    }
    return Result(image, history, manifest, outcome.status, outcome.stop_reason, optimised_rgb)


def score(
    image: ImageSource,
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    **overrides: object,
) -> dict:
    """The objective's terms for any image at its own size (content and style resized to it).

    ``style`` may be a list of styles, blended by ``style_blend_weights`` as in ``transfer``.
    Returns ``content_loss`` (unweighted), ``style_losses`` (layer -> unweighted E_l),
    ``style_loss`` (Σ w_l E_l), ``tv_loss``, the weights, and ``total_loss``.
    """
    resolved = make_settings(settings, **overrides).resolve()
    styles = _as_styles(style)
    blend = _blend_weights(resolved, len(styles))
    rgb = images.load_image(image, name="scored image")
    height, width = rgb.shape[:2]
    _check_big_enough(rgb, resolved, "scored image")
    content_rgb = images.resize_to(images.load_image(content, name="content image"), height, width)
    style_rgbs = [
        _size_style(images.load_image(s, name="style image"), height, width, resolved)
        for s in styles
    ]
    for style_rgb in style_rgbs:
        _check_big_enough(style_rgb, resolved, "style image")
    extractor, weights = load_network(resolved)
    objective = Objective(
        extractor,
        resolved,
        network.preprocess(content_rgb),
        [network.preprocess(s) for s in style_rgbs],
        blend,
    )
    terms = objective.terms(tf.constant(network.preprocess(rgb)[None])).numpy().astype(float)
    return {
        "image": str(image) if isinstance(image, (str, os.PathLike)) else None,
        "size": [width, height],
        "preset": resolved.preset,
        "pooling": resolved.pooling,
        "content_layer": resolved.content_layer,
        "style_layer_weights": resolved.style_layers,
        "content_weight": resolved.content_weight,
        "style_weight": resolved.style_weight,
        "tv_weight": resolved.tv_weight,
        "style_blend_weights": blend,
        "content_loss": terms[1],
        "style_losses": dict(zip(resolved.style_layers, terms[4:])),
        "style_loss": terms[2],
        "tv_loss": terms[3],
        "total_loss": terms[0],
        "weights_md5": weights["md5"],
    }
