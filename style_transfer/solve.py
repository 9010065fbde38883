"""One run at one size: prepared inputs in, a ``RunRecord`` out.

The steps, in order: the start image; the network, the objective and its evaluator; a
check that the start's loss is finite; the optimiser, with its progress (progress.py) and snapshots
after each iteration; and the record of what came out. Nothing here writes the output or
its manifest (``api.transfer`` and ``manifest.build`` do), and nothing reads files except
an init image and the weights.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import colour, images, network
from .errors import InputError, StyleTransferError
from .evaluator import Evaluator, NonFiniteLossError
from .inputs import Prepared, describe
from .objective import Objective
from .optimize import Outcome, Status, interrupted_by, minimize
from .outputs import snapshot_path
from .paths import quoted
from .progress import Progress
from .settings import INITS, ResolvedSettings
from .weights import WEIGHTS_MD5, load_vgg19_weights, resolve_weights, weights_info


@dataclass(frozen=True)
class CoarseToFine:
    """How a coarse-to-fine run (multiscale.py) was split, and each scale's own record."""

    method: str
    schedule: tuple[tuple[int, int], ...]  # (longer side, iterations), coarsest first
    scales: tuple[RunRecord, ...]  # the scales run; fewer than planned if one stopped early


@dataclass(frozen=True)
class RunRecord:
    """What one run produced and everything needed to trace it (``manifest.build`` input)."""

    image: np.ndarray  # uint8 RGB (H, W, 3): the best image found, after colour.finish
    optimised: np.ndarray  # float RGB before colour.finish: where a finer scale starts from
    history: dict[str, list[float]]  # loss terms per iteration by name; index 0 is the start
    final_loss: dict[str, float]  # the terms at the returned image, in the run's precision
    status: Status
    stop_reason: str
    iterations: int
    evaluations: int
    optimize_time_s: float
    wall_time_s: float  # loading and preparing the inputs included
    size: tuple[int, int]  # (width, height) of the output
    style_sizes: tuple[tuple[int, int], ...]  # (width, height) of each style as used
    start: dict  # how the start image was made
    weights: dict  # the weights' provenance (weights.weights_info, + normalisation)
    deepest_layer: str  # the feature extractor's last layer
    inputs: dict  # the inputs as given (inputs.Sources.description)
    coarse_to_fine: CoarseToFine | None = None
    precision: dict | None = None  # precision.Precision.as_dict(): requested, used, reason
    snapshots: tuple[str, ...] = ()  # the snapshot files written, in order
    problems: tuple[str, ...] = ()  # secondary outputs that failed (progress, snapshots)
    # the same terms in float32 when the run ended in a lower precision: what ``score``
    # gives for the saved file (bfloat16 is off by up to a few % on a small style loss)
    final_loss_float32: dict[str, float] | None = None


# ---------------------------------------------------------------------------- the network


@functools.lru_cache(maxsize=4)
def _weights(path: str, md5: str) -> dict:
    return load_vgg19_weights(path)


@functools.lru_cache(maxsize=4)
def _normalised(path: str, md5: str, pooling: str, calibration: str | None) -> tuple[dict, dict]:
    from .normalise import normalised_weights  # the paper's mean-1 VGG19, cached on disk

    return normalised_weights(path, pooling, calibration)


@functools.lru_cache(maxsize=8)
def feature_extractor(
    path: str,
    md5: str,
    layers: tuple[str, ...],
    pooling: str,
    kind: str = "original",
    calibration: str | None = None,
    policy: str = "float32",
) -> keras.Model:
    """The VGG19 feature extractor for these weights and layers, built once per process.

    ``policy``: the Keras dtype policy (precision.POLICIES), so ``auto`` and what it
    resolved to share one model."""
    if kind == "normalised":
        weights = _normalised(path, md5, pooling, calibration)[0]
    else:
        weights = _weights(path, md5)
    return network.build_feature_extractor(layers, weights, pooling, policy)


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
    extractor = feature_extractor(
        str(path), info["md5"], layers, settings.pooling, kind, calibration,
        settings.resolved_precision.used,
    )  # fmt: skip
    if kind == "normalised":
        made = _normalised(str(path), info["md5"], settings.pooling, calibration)[1]
        info = {**info, "normalisation": made}
    return extractor, info


def build_objective(
    extractor: keras.Model, settings: ResolvedSettings, inputs: Prepared
) -> Objective:
    """The objective over prepared inputs: their colour-prepared images, blend and masks.

    The targets (content features, style Grams) are computed once, always in float32: made
    by the bfloat16 network they lowered the loss by ~0.9% at 256 px, a bias the optimiser
    then minimised (Figure 2 C ended 0.87% above float32; BENCHMARKS 5.4).
    """
    exact = extractor
    if settings.resolved_precision.used != "float32":
        exact = load_network(dataclasses.replace(settings, precision="float32"))[0]
    return Objective(
        extractor,
        settings,
        network.preprocess(inputs.objective_content),
        [network.preprocess(s) for s in inputs.objective_styles],
        inputs.blend,
        content_masks=inputs.content_masks,
        style_masks=inputs.style_masks,
        target_extractor=exact,
    )


# ---------------------------------------------------------------------------- the run


def initial_image(
    settings: ResolvedSettings, inputs: Prepared, start: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """The start, in RGB 0..255 at the run's size, and how it was made.

    ``start``: an image to begin from instead of ``settings.init`` (coarse-to-fine's
    previous scale), resized to fit.
    """
    height, width = inputs.shape
    if start is not None:
        return images.resize_to(start, height, width), {"init": "previous scale"}
    if settings.init == "noise":
        rng = np.random.default_rng(settings.seed)
        noise = rng.uniform(0.0, 255.0, size=(height, width, 3)).astype(np.float32)
        return noise, {
            "init": "noise",
            "distribution": "uniform 0..255 per pixel",
            "seed": settings.seed,
        }
    if settings.init == "content":
        return inputs.objective_content, {"init": "content"}
    if settings.init == "style":
        return images.resize_to(inputs.objective_styles[0], height, width), {"init": "style"}
    path = settings.init
    if not Path(path).exists():
        raise InputError(
            f"init {path!r} is neither {', '.join(INITS)} nor an existing image file; "
            "pass one of those or a path"
        )
    loaded, digest = images.load_with_digest(path, name="init image")  # hashed as read
    image = images.resize_to(loaded, height, width)
    return image, {"init": "image", **describe(path, loaded, digest)}


def _check_start(evaluator: Evaluator, x0: np.ndarray) -> None:
    """Refuse a start whose loss is already non-finite (cached: minimize reuses it)."""
    try:
        evaluator.evaluate(x0)
    except NonFiniteLossError as error:
        raise InputError(
            f"{error} (the start image, before any iteration); lower --content-weight/"
            "--style-weight/--tv-weight if they are huge, or use the official weights file"
        ) from None


@dataclass
class _Saved:
    """What the per-iteration hook wrote, and the first snapshot that failed (then it stops)."""

    snapshots: list[str]
    failure: str | None = None


def _on_iteration(
    settings: ResolvedSettings,
    inputs: Prepared,
    objective: Objective,
    output: Path | None,
    shown: Progress | None,
    saved: _Saved,
) -> Callable[[int, np.ndarray, np.ndarray], None]:
    """The per-iteration hook: the progress display and, with an output, the snapshots.

    A snapshot that cannot be written (a full disk, a folder removed mid-run) never stops
    the run: it is noted in ``saved.failure`` and no further snapshots are tried.
    """

    def on_iteration(iteration: int, x: np.ndarray, terms: np.ndarray) -> None:
        if shown is not None:
            shown.update(iteration, objective.named(terms), x)
        due = settings.save_every and iteration % settings.save_every == 0
        if output is not None and due and saved.failure is None:
            snapshot = snapshot_path(output, iteration)
            try:
                images.save_image(_finished(x, settings, inputs), snapshot)
            except (StyleTransferError, OSError, ValueError) as error:
                saved.failure = f"could not write the snapshot {quoted(snapshot)} ({error}); "
                saved.failure += "no further snapshots were saved"
                warnings.warn(saved.failure, stacklevel=2)
            else:
                saved.snapshots.append(str(snapshot))

    return on_iteration


def _finished(x: np.ndarray, settings: ResolvedSettings, inputs: Prepared) -> np.ndarray:
    """The optimiser's ``x`` as the RGB image it stands for (colour preservation applied)."""
    optimised = network.deprocess(x.reshape(*inputs.shape, 3))
    return colour.finish(optimised, inputs.content, settings.preserve_colour)


def _stalled_in_low_precision(outcome: Outcome, settings: ResolvedSettings) -> bool:
    """L-BFGS in bfloat16/float16 ended by itself before its budget (optimize._lbfgs has
    already restarted it once from the best image)."""
    return (
        outcome.status == Status.COMPLETED
        and outcome.iterations < settings.iterations
        and settings.optimizer != "adam"
        and settings.resolved_precision.used != "float32"
    )


def _float32_objective(settings: ResolvedSettings, inputs: Prepared) -> Objective:
    """The run's objective on a float32 network (targets are float32 at any precision)."""
    exact = dataclasses.replace(settings, precision="float32")
    return build_objective(load_network(exact)[0], exact, inputs)


def _float32_terms(
    x: np.ndarray, settings: ResolvedSettings, inputs: Prepared
) -> dict[str, float] | str:
    """The loss terms of the image ``x`` (as optimised) in float32, or why not: a secondary
    figure for the manifest, never worth the image (out of memory, Ctrl-C: skipped)."""
    try:
        objective = _float32_objective(settings, inputs)
        image = tf.constant(np.asarray(x, np.float32).reshape(1, *inputs.shape, 3))
        return objective.named(objective.terms(image).numpy().astype(np.float64)).as_dict()
    except (KeyboardInterrupt, MemoryError, tf.errors.ResourceExhaustedError) as error:
        return f"the final image's float32 losses were not computed ({type(error).__name__})"


def _finish_in_float32(
    outcome: Outcome,
    low: Evaluator,
    settings: ResolvedSettings,
    inputs: Prepared,
    on_iteration: Callable[[int, np.ndarray, np.ndarray], None],
) -> tuple[Outcome, Evaluator]:
    """Spend the iterations left in float32, from the best image so far.

    Near its end a run's decrease per iteration can fall below bfloat16's rounding of the
    loss: L-BFGS then ends early (Figure 2 C at 256 px at 351 of 500 iterations, 0.6%
    above float32's objective; BENCHMARKS 5.4), and float32 can still go on.
    """
    done = outcome.iterations
    try:
        evaluator = Evaluator(_float32_objective(settings, inputs), (*inputs.shape, 3))
    except KeyboardInterrupt as stop:  # the best image so far is kept
        reason = f"{interrupted_by(stop)} after {done} iterations"
        return dataclasses.replace(outcome, status=Status.INTERRUPTED, stop_reason=reason), low
    rest = minimize(
        evaluator,
        outcome.x,
        settings.iterations - done,
        optimizer=settings.optimizer,
        bounds=network.pixel_bounds((*inputs.shape, 3)),
        lbfgs_history=settings.lbfgs_history,
        on_iteration=lambda i, x, terms: on_iteration(done + i, x, terms),
    )
    merged = Outcome(
        rest.x,
        rest.status,
        f"{outcome.stop_reason}; finished in float32 from iteration {done}: {rest.stop_reason}",
        done + rest.iterations,
        outcome.evaluations + rest.evaluations,
        outcome.history + rest.history[1:],  # rest.history[0] re-scores outcome.x
    )
    return merged, evaluator


_OPTIMIZER_NAMES = {"lbfgs": "scipy's L-BFGS-B", "lbfgs-tf": "L-BFGS in TensorFlow"}
_PRECISION_NAMES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def heading(settings: ResolvedSettings, shape: tuple[int, int]) -> str:
    """What a run resolved to, shown before its first iteration (the manifest records it too):
    e.g. ``512 x 384 px, 500 iterations, bfloat16 (auto: CPU has avx512_bf16), scipy's
    L-BFGS-B (history 10)``."""
    chosen = settings.resolved_precision
    why = f"auto: {chosen.reason}" if chosen.requested == "auto" else "requested"
    precision = f"{_PRECISION_NAMES[chosen.used]} ({why})"
    if settings.optimizer == "adam":
        optimizer = f"Adam (learning rate {settings.learning_rate:g})"
    else:
        name = _OPTIMIZER_NAMES[settings.optimizer]
        optimizer = f"{name} (history {settings.lbfgs_history})"
    height, width = shape
    return f"{width} x {height} px, {settings.iterations} iterations, {precision}, {optimizer}"


def run(
    inputs: Prepared,
    settings: ResolvedSettings,
    *,
    start: np.ndarray | None = None,
    output: Path | None = None,
    progress: bool = False,
) -> RunRecord:
    """Optimise one image at ``inputs``' size for ``settings.iterations`` iterations.

    ``start``: an RGB image to begin from instead of ``settings.init`` (resized to fit);
    ``output``: where the final image will go, so snapshots every ``save_every``
    iterations land beside it; ``progress``: show the progress (progress.py). Ctrl-C or a non-finite
    loss ends the run early with the best image so far (``RunRecord.status`` says which).
    """
    started = time.perf_counter()
    height, width = inputs.shape
    start_rgb, start_info = initial_image(settings, inputs, start)

    extractor, weights = load_network(settings)
    objective = build_objective(extractor, settings, inputs)
    evaluator = Evaluator(objective, (height, width, 3))
    x0 = network.preprocess(start_rgb)
    _check_start(evaluator, x0)

    shown, saved = None, _Saved([])
    if progress:
        shown = Progress(
            settings.iterations,
            (settings.content_weight, settings.style_weight, settings.tv_weight),
            heading=heading(settings, inputs.shape),
            preview=lambda x: _finished(x, settings, inputs),
        )
    optimize_started = time.perf_counter()
    on_iteration = _on_iteration(settings, inputs, objective, output, shown, saved)
    outcome = minimize(
        evaluator,
        x0,
        settings.iterations,
        optimizer=settings.optimizer,
        bounds=network.pixel_bounds((height, width, 3)),
        lbfgs_history=settings.lbfgs_history,
        learning_rate=settings.learning_rate,
        on_iteration=on_iteration,
    )
    ran = settings.resolved_precision.as_dict()
    if _stalled_in_low_precision(outcome, settings):
        stalled_at, low = outcome.iterations, evaluator
        outcome, evaluator = _finish_in_float32(outcome, low, settings, inputs, on_iteration)
        if evaluator is not low:
            ran["float32_from_iteration"] = stalled_at
    optimize_seconds = time.perf_counter() - optimize_started
    problems = [saved.failure] if saved.failure else []
    if shown is not None:
        shown.finish("" if outcome.status == Status.COMPLETED else outcome.stop_reason)
        if shown.silenced:
            problems.append("the progress output failed (a closed or broken stdout); it stopped")
            warnings.warn(problems[-1], stacklevel=2)

    optimised = network.deprocess(outcome.x.reshape(height, width, 3))
    finished = colour.finish(optimised, inputs.content, settings.preserve_colour)
    best = outcome.x is evaluator.best_x  # then its terms are known: no second evaluation
    final_terms = objective.named(
        evaluator.best_terms if best else evaluator.evaluate(outcome.x)[0]
    )
    exact_terms = None
    if settings.resolved_precision.used != "float32" and "float32_from_iteration" not in ran:
        exact_terms = _float32_terms(outcome.x, settings, inputs)
        if isinstance(exact_terms, str):
            problems.append(exact_terms)
            exact_terms = None
    return RunRecord(
        image=np.round(finished).astype(np.uint8),
        optimised=optimised,
        history=objective.history(outcome.history),
        final_loss=final_terms.as_dict(),
        status=outcome.status,
        stop_reason=outcome.stop_reason,
        iterations=outcome.iterations,
        evaluations=outcome.evaluations,
        optimize_time_s=optimize_seconds,
        wall_time_s=inputs.seconds + time.perf_counter() - started,
        size=(width, height),
        style_sizes=tuple((s.shape[1], s.shape[0]) for s in inputs.styles),
        start=start_info,
        weights=weights,
        deepest_layer=extractor.layers[-1].name,
        inputs=inputs.description,
        precision=ran,
        snapshots=tuple(saved.snapshots),
        problems=tuple(problems),
        final_loss_float32=exact_terms,
    )
