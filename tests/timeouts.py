"""How long a test waits for a process it started: scaled with the work and the machine's load.

A fixed ``timeout=120`` passes on an idle laptop and fails on a shared CI core. Here the
wait is a generous multiple of the work (a fresh interpreter's start-up plus the pixels ×
iterations it optimises), times how many runnable processes share each core right now,
times ``$STYLE_TRANSFER_TEST_TIMEOUT_SCALE`` (default 1) for machines slower still.
"""

from __future__ import annotations

import os

START_S = 30.0  # a fresh interpreter: import TensorFlow, build VGG19, load the weights
SECONDS_PER_PIXEL_ITERATION = 2e-5  # one L-BFGS iteration on one 2-core CPU, generously
MARGIN = 4.0  # a timeout catches a hang, not a slow run
FLOOR_S = 120.0


def load_factor() -> float:
    """Runnable processes per core over the last minute, at least 1."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return 1.0
    return max(1.0, load / (os.cpu_count() or 1))


def timeout_for(
    *, processes: int = 1, iterations: int = 0, size: int = 32, extra_s: float = 0.0
) -> float:
    """Seconds to wait for ``processes`` runs of ``iterations`` at ``size`` px (longer side,
    4:3), plus ``extra_s`` of other work, on this machine as loaded now."""
    pixels = size * size * 3 / 4
    work = processes * (START_S + iterations * pixels * SECONDS_PER_PIXEL_ITERATION) + extra_s
    scale = float(os.environ.get("STYLE_TRANSFER_TEST_TIMEOUT_SCALE", "1") or 1)
    return max(FLOOR_S, MARGIN * work * load_factor()) * scale
