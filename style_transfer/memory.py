"""How much memory a run will need, and a refusal before starting one that would not fit.

The peak resident memory of a run is estimated as

    BASE + max(ACTIVATION_FACTOR · F(image), STYLE_FACTOR · Σ F(style images))
         + (2·history + OPTIMISER_VECTORS) · 8 bytes · 3·pixels

where F is the bytes of every VGG19 feature map up to the deepest layer (float32). The
last term is scipy's L-BFGS-B work array ((2m + 5)·n float64) plus the Evaluator's float64
vectors (its cache of 4 points and gradients, the best x, the start, the bounds). BASE and
ACTIVATION_FACTOR are fitted to the peak RSS (``VmHWM``) of real runs long enough to fill
the L-BFGS history (30 iterations, history 10, the default coarse-to-fine and precision;
the higher of float32 and auto) at 256, 512 and 1024 px: 1.02, 1.60 and 3.86 GiB, matched
within 0.6%; a 2048-px run (12.25 GiB) is predicted 5.6% high (results/BENCHMARKS.md
section 3). Runs of 3 iterations, the first fit, had touched little of scipy's work array
(its pages are mapped as they are written) and put the constants ~20% low at 1024 and
2048 px. The style features are computed once, before the optimisation, so they do not
add to its peak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError
from .network import deepest as deepest_of
from .network import layers_up_to
from .resolved import ResolvedSettings
from .settings import LBFGS_HISTORY, MIN_SIZE, Settings

GIB = 2**30
BASE_BYTES = int(0.84 * GIB)  # Python + TensorFlow + the weights + the traced function
ACTIVATION_FACTOR = 2.55  # feature maps kept for the gradient and its buffers, per F (fitted)
STYLE_FACTOR = 1.75  # the style images' forward pass alone (no gradient); not refitted
OPTIMISER_VECTORS = 16  # L-BFGS-B's 5n, the Evaluator's 8 cached vectors, best x, x0, bounds
DEFAULT_HISTORY = Settings.lbfgs_history  # the advice never goes below the defaults
DEFAULT_STYLE_SCALE = Settings.style_scale
SAFETY = 0.9  # refuse when the estimate exceeds this share of what is available


def feature_bytes(height: int, width: int, deepest: str, itemsize: int = 4) -> int:
    """Bytes of every conv and pooling output of VGG19 up to ``deepest`` for one image."""
    total = 0
    for layer in layers_up_to(deepest):
        positions = (height // 2**layer.poolings) * (width // 2**layer.poolings)
        total += positions * layer.filters * itemsize
        if layer.index == 1 and layer.poolings:  # the pooling output feeding this block
            total += positions * layer.in_channels * itemsize
    return total


def estimate_bytes(
    shape: tuple[int, int],
    deepest: str = "block5_conv1",
    *,
    lbfgs_history: int = LBFGS_HISTORY,
    style_shapes: Sequence[tuple[int, int]] = (),
) -> int:
    """Estimated peak resident bytes of a run producing an image of ``shape`` (height, width)."""
    height, width = shape
    activations = ACTIVATION_FACTOR * feature_bytes(height, width, deepest)
    styles = STYLE_FACTOR * sum(feature_bytes(h, w, deepest) for h, w in style_shapes)
    optimiser = (2 * lbfgs_history + OPTIMISER_VECTORS) * 8 * 3 * height * width
    return int(BASE_BYTES + max(activations, styles) + optimiser)


def available_bytes() -> int:
    """Memory this process may still use: MemAvailable (Linux) plus what it already holds."""
    try:
        info = Path("/proc/meminfo").read_text()
        available = next(
            int(line.split()[1]) for line in info.splitlines() if "MemAvailable" in line
        )
        status = Path("/proc/self/status").read_text()
        held = next(int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line)
        return (available + held) * 1024
    except (OSError, StopIteration, ValueError):
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def largest_fitting_size(
    shape: tuple[int, int],
    budget: float,
    deepest: str,
    lbfgs_history: int = LBFGS_HISTORY,
    *,
    styles: int = 1,
    style_scale: float = DEFAULT_STYLE_SCALE,
) -> int:
    """The largest longer side (same aspect, at least MIN_SIZE) whose estimate fits in
    ``budget`` bytes, with ``styles`` style images at that size times ``style_scale``."""
    height, width = shape
    longest = max(height, width)
    low, high = MIN_SIZE, longest
    while low < high:
        middle = (low + high + 1) // 2
        scale = middle / longest
        scaled = (max(1, round(height * scale)), max(1, round(width * scale)))
        need = estimate_bytes(
            scaled,
            deepest,
            lbfgs_history=lbfgs_history,
            style_shapes=[_scaled(scaled, style_scale)] * styles,
        )
        if need <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _scaled(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def shape_at_size(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """(height, width) of an image of ``shape`` resized to longer side ``size``, as
    ``images.resize_long_side`` does it, without resizing anything."""
    height, width = shape[:2]
    if height >= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def check_memory(
    content_shape: tuple[int, int],
    styles: int,
    settings: ResolvedSettings,
    available: int | None = None,
) -> int:
    """Refuse (InputError) a run whose estimate exceeds the memory available; else the estimate.

    ``content_shape``: the content image as loaded (it is resized to ``settings.size``);
    the ``styles`` style images are taken at that size times ``settings.style_scale``. The
    refusal names the setting that makes the run too large: ``--lbfgs-history`` or
    ``--style-scale`` when the run would fit at their defaults, else ``--size``.
    """
    shape = shape_at_size(content_shape, settings.size)
    scale = float(settings.style_scale)
    deepest = deepest_of(settings.layers)
    history = settings.lbfgs_history if settings.optimizer.startswith("lbfgs") else 0

    def need(history: int, scale: float) -> int:
        return estimate_bytes(
            shape, deepest, lbfgs_history=history, style_shapes=[_scaled(shape, scale)] * styles
        )

    needed = need(history, scale)
    available = available_bytes() if available is None else available
    budget = SAFETY * available
    if needed <= budget:
        return needed
    usual_history = min(history, DEFAULT_HISTORY)
    usual_scale = min(scale, DEFAULT_STYLE_SCALE)
    if history > usual_history and need(usual_history, scale) <= budget:
        fits = max(h for h in range(usual_history, history) if need(h, scale) <= budget)
        fix = f"use --lbfgs-history {fits} or less (each step of history costs memory)"
    elif scale > usual_scale and need(history, usual_scale) <= budget:
        low, high = usual_scale, scale  # bisect the largest style scale that fits
        for _ in range(30):
            middle = (low + high) / 2
            low, high = (middle, high) if need(history, middle) <= budget else (low, middle)
        shown = math.floor(low * 100) / 100  # never rounded up past what fits
        fix = f"use --style-scale {shown:.2f} or less (larger style images cost memory)"
    elif need(usual_history, usual_scale) <= budget:
        fix = f"use --lbfgs-history {usual_history} and --style-scale {usual_scale:g}"
    else:
        fits = largest_fitting_size(
            shape, budget, deepest, history, styles=styles, style_scale=scale
        )
        fix = f"use --size {fits} or less"
    height, width = shape
    raise InputError(
        f"a {width}x{height} px run needs about {needed / GIB:.1f} GiB of memory but only "
        f"{available / GIB:.1f} GiB is available; {fix}, or free memory or use a machine "
        "with more"
    )


def check_scoring(
    shape: tuple[int, int], style_shapes: Sequence[tuple[int, int]], deepest: str, name: str,
    available: int | None = None,
) -> int:  # fmt: skip
    """Refuse (InputError) scoring an image of ``shape`` (one forward and backward-free pass
    per image, no optimiser) that would not fit in memory; else the estimate."""
    needed = estimate_bytes(shape, deepest, lbfgs_history=0, style_shapes=style_shapes)
    needed -= OPTIMISER_VECTORS * 8 * 3 * shape[0] * shape[1]  # no optimiser when scoring
    available = available_bytes() if available is None else available
    if needed > SAFETY * available:
        height, width = shape
        raise InputError(
            f"scoring the {width}x{height} px {name} needs about {needed / GIB:.1f} GiB of "
            f"memory but only {available / GIB:.1f} GiB is available; pass a smaller image "
            "(resize it), or free memory or use a machine with more"
        )
    return needed
