"""The settings of one run (the two presets they start from are in ``presets.py``).

``Settings`` holds what the user asked for (``None`` = take the preset's value);
``Settings.resolve()`` validates it and fills every field, giving the ``ResolvedSettings``
(resolved.py) that says exactly what produced an image and goes into its manifest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import InputError
from .network import FILTERS, POOLINGS, PRECISIONS, check_pooling, check_precision, keras_layer_name
from .precision import BFLOAT16_MIN_SIZE
from .presets import PAPER_STYLE_LAYERS as PAPER_STYLE_LAYERS  # re-exported
from .presets import PRESETS, RATIO_REFERENCE, Preset, content_weight_scale
from .resolved import ResolvedSettings
from .weights import ENV_VAR as WEIGHTS_ENV_VAR

OPTIMIZERS = ("lbfgs", "adam", "lbfgs-tf")  # lbfgs-tf: opt-in, state on the device (lbfgs_tf.py)
# L-BFGS correction pairs. scipy's setulb reads and writes its 2 x m x n history (n = 3 values
# per pixel) at every iteration: at 512 px, m = 20 cost ~0.2 s per iteration, a third of a
# bfloat16 iteration; m = 10 reaches the same objective 11-14% sooner (BENCHMARKS.md 5.3).
LBFGS_HISTORY = 10
LEARNING_RATE = 10.0  # Adam's step size, in grey levels
INITS = ("noise", "content", "style")
COLOUR_MODES = ("luminance", "histogram")  # colour.py: preserve the content's colours
HISTOGRAM_METHODS = ("pca", "cholesky", "symmetric")  # "pca" is the authors' default
HISTOGRAM_METHOD = HISTOGRAM_METHODS[0]
NETWORKS = ("original", "normalised")  # normalise.py: the paper's mean-1 VGG19
MIN_SIZE = 16  # longest side in pixels: conv5_1 sits after four 2x poolings
MAX_SIZE = 8192  # longest side in pixels; far beyond what fits in memory on most machines
MIN_SCALE_SIZE = 32  # the coarsest coarse-to-fine scale, longest side in pixels
# scales="auto": coarse-to-fine above this size, its coarsest scale at most this (the size
# the paper's look is calibrated at). VGG's receptive fields are fixed in pixels, so a
# single-scale run at 1024 px paints strokes half as large relative to the picture as at
# 512 px; started from the 512-px solution it keeps the 512-px look (results/README).
AUTO_SCALES = "auto"
AUTO_SCALES_ABOVE = RATIO_REFERENCE
NO_REFERENCE = "none"  # ratio_reference: the content weight exactly as given at every size


def auto_scales(size: int) -> int:
    """The fewest coarse-to-fine scales whose first, ``size / 2^(S-1)``, is at most
    ``AUTO_SCALES_ABOVE`` px: 1 up to 512 px, 2 up to 1024, 3 up to 2048."""
    scales = 1
    while size / 2 ** (scales - 1) > AUTO_SCALES_ABOVE:
        scales += 1
    return scales


def _check_weight(name: str, value: float | None, *, allow_zero: bool = True) -> None:
    if value is None:
        return
    if (
        not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise InputError(f"{name} must be {need}, got {value!r}")


def option(
    default: object,
    help: str,
    *,
    group: str = "run",
    score: bool = False,
    choices: Sequence[str] | None = None,
    flags: Sequence[str] = (),
    metavar: str | None = None,
    shown_default: str | None = None,
) -> object:
    """A ``Settings`` field and how the command line offers it (see ``flags.add_setting_flags``).

    ``group``: where ``--help`` lists it (``run``, ``objective`` or ``beyond``); ``score``:
    the ``score`` command takes it too; ``flags``: the flag names when not ``--field-name``;
    ``shown_default``: how ``--help`` states the default (default: the value itself).
    """
    metadata = {
        "help": help, "group": group, "score": score, "choices": choices, "flags": tuple(flags),
        "metavar": metavar, "shown_default": shown_default,
    }  # fmt: skip
    return field(default=default, metadata=metadata)


OBJECTIVE = {"group": "objective", "score": True}  # the loss: shared by transfer and score
BEYOND = {"group": "beyond"}  # the authors' follow-ups: colour, several styles, style scale


@dataclass(frozen=True)
class Settings:
    """Everything that determines a run. ``None`` means "the preset's value".

    Each field's default, type and help are the command line's too (``cli.py`` builds
    the ``transfer`` and ``score`` flags from them).
    """

    preset: str = option("paper", f"one of {', '.join(PRESETS)}", **OBJECTIVE)
    size: int = option(512, "longer side of the output in px")
    iterations: int = option(500, "optimiser iterations")
    ratio: float | None = option(None, "alpha/beta, content weight over style weight", **OBJECTIVE)
    content_weight: float | None = option(None, "alpha (0 = texture synthesis)", **OBJECTIVE)
    style_weight: float | None = option(None, "beta (0 = content reconstruction)", **OBJECTIVE)
    ratio_reference: int | str | None = option(
        None,
        "the longer side at which alpha/beta hold: alpha is scaled by (PX/size)^2 so any "
        f"--size has the balance of PX (the paper's sum losses); {NO_REFERENCE} = alpha as given",
        metavar=f"PX|{NO_REFERENCE}",
        shown_default=f"the preset's: {RATIO_REFERENCE} for paper, {NO_REFERENCE} for gatys-code",
        **OBJECTIVE,
    )
    tv_weight: float = option(0.0, "total variation weight", shown_default="0: off", **OBJECTIVE)
    pooling: str | None = option(
        None, "avg (paper) or max (authors' code)", choices=POOLINGS, **OBJECTIVE
    )
    init: str | None = option(None, "noise | content | style | PATH (default: the preset's)")
    seed: int = option(0, "seed for the noise start")
    optimizer: str = option(
        OPTIMIZERS[0],
        "L-BFGS (the paper's, scipy's L-BFGS-B), Adam, or lbfgs-tf: a projected L-BFGS "
        "with its state on the device (for GPUs; on a CPU up to a fifth sooner to the objective)",
        choices=OPTIMIZERS,
    )
    content_layer: str | None = option(
        None, "e.g. conv4_2 (the paper's) or block4_conv2", **OBJECTIVE
    )
    style_layers: Sequence[str] | Mapping[str, float] | None = option(
        None, "comma-separated, e.g. conv1_1,conv2_1,conv3_1", **OBJECTIVE
    )
    learning_rate: float = option(LEARNING_RATE, "Adam step size")
    lbfgs_history: int = option(LBFGS_HISTORY, "L-BFGS memory: correction pairs kept")
    save_every: int = option(0, "also save every K iterations", shown_default="0: off")
    weights: str | None = option(
        None, f"local VGG19 notop .h5 file (or set {WEIGHTS_ENV_VAR})", **OBJECTIVE
    )
    network: str = option(
        "original",
        "VGG19 as released, or normalised to mean activation 1 per filter as in the paper",
        choices=NETWORKS,
        **OBJECTIVE,
    )
    calibration: str | None = option(  # used only by the normalised network
        None, "folder of images to normalise on (default: the paper's images)", **OBJECTIVE
    )
    # Beyond the paper (colour.py, masks.py): colour preservation, several styles, style scale.
    preserve_colour: str | None = option(
        None,
        "keep the content's colours: luminance (transfer on Y, content's chroma) or "
        "histogram (style recoloured to the content's colour mean and covariance)",
        choices=COLOUR_MODES,
        flags=("--preserve-colour", "--preserve-color"),
        **BEYOND,
    )
    histogram_method: str = option(
        HISTOGRAM_METHOD,
        "the colour map for --preserve-colour histogram",
        choices=HISTOGRAM_METHODS,
        shown_default="pca, the authors'",
        **BEYOND,
    )
    match_luminance: bool = option(
        True,
        "luminance mode: do not match the style's Y mean/std to the content's",
        flags=("--no-match-luminance",),
        **BEYOND,
    )
    style_blend_weights: Sequence[float] | None = option(
        None,
        "one blend weight per style image, normalised to sum to 1 (default: equal)",
        flags=("--style-weights",),
        metavar="W",
        group="beyond",
        score=True,
    )
    style_scale: float = option(
        1.0, "resize the style images by this factor relative to the preset's size", **BEYOND
    )
    # Performance (multiscale.py, precision in network.py): coarse-to-fine and mixed precision.
    scales: int | str = option(
        AUTO_SCALES,
        "coarse-to-fine: solve at SIZE/2^(S-1) first, double up to SIZE, halving the "
        "iterations at each finer scale; auto = as few as keep the first scale at most "
        f"{AUTO_SCALES_ABOVE} px (1 up to {AUTO_SCALES_ABOVE} px, 2 up to "
        f"{2 * AUTO_SCALES_ABOVE}), so every size has the {AUTO_SCALES_ABOVE}-px look",
        shown_default="auto",
    )
    precision: str = option(
        "auto",
        "the network's arithmetic (Grams and losses stay float32): auto = bfloat16 where the "
        f"CPU has it natively (AMX/AVX512_BF16) and the image is {BFLOAT16_MIN_SIZE} px or "
        "more, else float32; "
        "mixed = bfloat16 (CPU) / float16 (GPU) anyway",
        choices=PRECISIONS,
    )

    def resolve(self) -> ResolvedSettings:
        """Validate and fill in every preset default; raise InputError on the first problem."""
        if self.preset not in PRESETS:
            raise InputError(f"unknown preset {self.preset!r}; use one of {', '.join(PRESETS)}")
        preset = PRESETS[self.preset]
        for name in ("size", "iterations", "seed", "save_every", "lbfgs_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{name} must be a whole number, got {value!r}")
        if self.size < MIN_SIZE or self.size > MAX_SIZE:
            raise InputError(
                f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {self.size}"
            )
        if self.iterations < 1:
            raise InputError(f"iterations must be at least 1, got {self.iterations}")
        if self.save_every < 0:
            raise InputError(
                f"save_every must be 0 (off) or a positive number, got {self.save_every}"
            )
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")
        if self.lbfgs_history < 1:
            raise InputError(f"lbfgs_history must be at least 1, got {self.lbfgs_history}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; use {', '.join(OPTIMIZERS)}")
        _check_weight("content weight", self.content_weight)
        _check_weight("style weight", self.style_weight)
        _check_weight("tv weight", self.tv_weight)
        _check_weight("ratio (alpha/beta)", self.ratio, allow_zero=False)
        _check_weight("learning rate", self.learning_rate, allow_zero=False)

        style_weight = (
            preset.style_weight if self.style_weight is None else float(self.style_weight)
        )
        if self.ratio is not None:
            if self.content_weight is not None:
                raise InputError(
                    "ratio and content weight both given; give --ratio (alpha/beta) or "
                    "--content-weight, not both"
                )
            content_weight = float(self.ratio) * style_weight
        elif self.content_weight is not None:
            content_weight = float(self.content_weight)
        else:
            content_weight = preset.content_weight / preset.style_weight * style_weight
        if content_weight == 0 and style_weight == 0:
            raise InputError(
                "content and style weights are both 0; nothing to optimise: give "
                "--content-weight or --style-weight above 0"
            )
        reference = self._ratio_reference(preset)
        content_weight *= content_weight_scale(self.size, reference)

        pooling = check_pooling(self.pooling or preset.pooling)
        if self.network not in NETWORKS:
            raise InputError(
                f"unknown network {self.network!r}; use original (Keras weights) or normalised"
            )
        init = self.init or preset.init
        if not isinstance(init, str) or not init:
            raise InputError(f"init must be noise, content, style or an image path, got {init!r}")

        content_layer = keras_layer_name(self.content_layer or preset.content_layer)
        style_layers = self._style_layer_weights(preset)
        return ResolvedSettings(
            preset=preset.name,
            size=self.size,
            iterations=self.iterations,
            content_weight=content_weight,
            style_weight=style_weight,
            ratio_reference=reference,
            tv_weight=float(self.tv_weight),
            pooling=pooling,
            init=init,
            seed=self.seed,
            optimizer=self.optimizer,
            content_layer=content_layer,
            style_layers=style_layers,
            gram_by_positions=preset.gram_by_positions,
            loss_form=preset.loss_form,
            style_size=preset.style_size,
            learning_rate=float(self.learning_rate),
            lbfgs_history=self.lbfgs_history,
            save_every=self.save_every,
            weights=self.weights,
            network=self.network,
            calibration=self.calibration if self.network == "normalised" else None,
            **self._followups(),
            **self._performance(),
        )

    def _ratio_reference(self, preset: Preset) -> int | None:
        """The checked reference size in px, or None (no rescaling)."""
        value = self.ratio_reference
        if value is None:
            return preset.ratio_reference
        if isinstance(value, str):
            if value.strip().lower() == NO_REFERENCE:
                return None
            value = int(value) if value.strip().isdigit() else value
        in_range = isinstance(value, int) and MIN_SIZE <= value <= MAX_SIZE
        if isinstance(value, bool) or not in_range:
            raise InputError(
                f"ratio reference must be a size in px ({MIN_SIZE} to {MAX_SIZE}) or "
                f"{NO_REFERENCE}, got {value!r}; e.g. --ratio-reference {RATIO_REFERENCE}"
            )
        if preset.loss_form != "paper":
            raise InputError(
                f"ratio reference {value} applies to the paper's sum losses only; preset "
                f"{preset.name!r} uses mean losses, whose balance does not depend on size: "
                "drop --ratio-reference"
            )
        return value

    def _performance(self) -> dict[str, object]:
        """The checked number of coarse-to-fine scales and the precision."""
        scales = self.scales
        if isinstance(scales, str) and scales.strip().isdigit():
            scales = int(scales)  # from the command line
        if scales == AUTO_SCALES:
            scales = auto_scales(self.size)
        if isinstance(scales, bool) or not isinstance(scales, int) or scales < 1:
            raise InputError(
                f"scales must be {AUTO_SCALES} or a whole number >= 1 (1 = single scale), "
                f"got {self.scales!r}"
            )
        if scales > 1 and self.size / 2 ** (scales - 1) < MIN_SCALE_SIZE:
            raise InputError(
                f"{scales} scales halve size {self.size} below {MIN_SCALE_SIZE} px; "
                "use fewer --scales or a larger --size"
            )
        return {"scales": scales, "precision": check_precision(self.precision)}

    def _followups(self) -> dict[str, object]:
        """The checked colour, blend and style-scale settings (blend weights sum to 1)."""
        if self.preserve_colour is not None and self.preserve_colour not in COLOUR_MODES:
            raise InputError(
                f"unknown colour preservation {self.preserve_colour!r}; use luminance or histogram"
            )
        if self.histogram_method not in HISTOGRAM_METHODS:
            raise InputError(
                f"unknown histogram method {self.histogram_method!r}; "
                f"use one of {', '.join(HISTOGRAM_METHODS)}"
            )
        if not isinstance(self.match_luminance, bool):
            raise InputError(f"match_luminance must be True or False, got {self.match_luminance!r}")
        _check_weight("style scale", self.style_scale, allow_zero=False)
        blend = self.style_blend_weights
        if blend is not None:
            if isinstance(blend, (str, bytes)) or not isinstance(blend, Sequence) or not blend:
                raise InputError(
                    f"style blend weights must be a list of numbers, got {blend!r}; e.g. 0.7 0.3"
                )
            for weight in blend:
                _check_weight("style blend weight", weight)
            total = sum(float(weight) for weight in blend)
            if total == 0:
                raise InputError("style blend weights are all 0; give at least one weight > 0")
            if not math.isfinite(total):  # 1e308 1e308: each finite, the sum inf, each / it 0
                raise InputError(
                    f"style blend weights {list(blend)} sum to more than a float can hold; "
                    "give their ratio in smaller numbers, e.g. 1 1"
                )
            blend = tuple(float(weight) / total for weight in blend)
        return {
            "preserve_colour": self.preserve_colour,
            "histogram_method": self.histogram_method,
            "match_luminance": self.match_luminance,
            "style_blend_weights": blend,
            "style_scale": float(self.style_scale),
        }

    def _style_layer_weights(self, preset: Preset) -> dict[str, float]:
        requested = self.style_layers if self.style_layers is not None else preset.style_layers
        if isinstance(requested, str):
            requested = [part for part in requested.split(",") if part.strip()]
        if isinstance(requested, Mapping):
            weights = {keras_layer_name(k): float(v) for k, v in requested.items()}
            for layer, weight in weights.items():
                _check_weight(f"weight of style layer {layer}", weight)
        else:
            layers = [keras_layer_name(layer) for layer in requested]
            if len(set(layers)) != len(layers):
                raise InputError(f"style layers listed twice in {list(requested)}; list each once")
            if preset.layer_weight == "uniform":
                weights = {layer: 1.0 / max(len(layers), 1) for layer in layers}
            else:
                weights = {layer: 1e3 / FILTERS[layer] ** 2 for layer in layers}
        if not weights:
            raise InputError("no style layers given; name at least one, e.g. conv1_1")
        return weights
