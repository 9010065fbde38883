"""How much memory a run will need, and a refusal before starting one that would not fit.

The peak resident memory of a run is estimated as

    BASE + max(ACTIVATION_FACTOR · F(image), STYLE_FACTOR · Σ F(style images))
         + (2·history + OPTIMISER_VECTORS) · 8 bytes · 3·pixels

where F is the bytes of every VGG19 feature map up to the deepest layer (float32). The
last term is scipy's L-BFGS-B work array ((2m + 5)·n float64) plus the Evaluator's float64
vectors (its cache of 4 points and gradients, the best x, the start, the bounds). BASE and
ACTIVATION_FACTOR are fitted to the peak RSS (``VmHWM``) of real 3-iteration runs at
256, 512 and 1024 px measured by ``python -m style_transfer bench`` (results/BENCHMARKS.md:
1.01, 1.52 and 3.54 GiB, matched within 2%). The style features are computed once,
before the optimisation, so they do not add to its peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import InputError
from .network import deepest as deepest_of
from .network import layers_up_to

GIB = 2**30
BASE_BYTES = int(0.85 * GIB)  # Python + TensorFlow + the weights + the traced function
ACTIVATION_FACTOR = 1.75  # feature maps kept for the gradient and its buffers, per F (fitted)
STYLE_FACTOR = 1.75
OPTIMISER_VECTORS = 16  # L-BFGS-B's 5n, the Evaluator's 8 cached vectors, best x, x0, bounds
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
    lbfgs_history: int = 20,
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
    shape: tuple[int, int], budget: float, deepest: str, lbfgs_history: int = 20
) -> int:
    """The largest longer side (same aspect) whose estimate fits in ``budget`` bytes (>= 16)."""
    height, width = shape
    longest = max(height, width)
    low, high = 16, longest
    while low < high:
        middle = (low + high + 1) // 2
        scale = middle / longest
        scaled = (max(1, round(height * scale)), max(1, round(width * scale)))
        styles = [scaled]
        if (
            estimate_bytes(scaled, deepest, lbfgs_history=lbfgs_history, style_shapes=styles)
            <= budget
        ):
            low = middle
        else:
            high = middle - 1
    return low


def shape_at_size(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """(height, width) of an image of ``shape`` resized to longer side ``size``, as
    ``images.resize_long_side`` does it, without resizing anything."""
    height, width = shape[:2]
    if height >= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def check_memory(
    content_shape: tuple[int, int], styles: int, settings, available: int | None = None
) -> int:
    """Refuse (InputError) a run whose estimate exceeds the memory available; else the estimate.

    ``content_shape``: the content image as loaded (it is resized to ``settings.size``);
    the ``styles`` style images are taken at that size times ``settings.style_scale``.
    """
    shape = shape_at_size(content_shape, settings.size)
    scale = getattr(settings, "style_scale", 1.0)
    style_shape = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    deepest = deepest_of(settings.layers)
    history = settings.lbfgs_history if settings.optimizer == "lbfgs" else 0
    need = estimate_bytes(
        shape, deepest, lbfgs_history=history, style_shapes=[style_shape] * styles
    )
    available = available_bytes() if available is None else available
    if need > SAFETY * available:
        fits = largest_fitting_size(shape, SAFETY * available, deepest, history)
        height, width = shape
        raise InputError(
            f"a {width}x{height} px run needs about {need / GIB:.1f} GiB of memory but only "
            f"{available / GIB:.1f} GiB is available; use --size {fits} or less, "
            "or free memory or use a machine with more"
        )
    return need
