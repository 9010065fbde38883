"""Peak resident memory of a real run, each size in a fresh interpreter.

A process's peak (``VmHWM``) only grows, so every measurement runs in its own subprocess:
``python -m style_transfer.tools.bench --child ours|common --sizes N --iterations STEPS``
prints one JSON line, read back by :func:`measure_rss`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from ..settings import LBFGS_HISTORY, auto_scales
from .machine import gpu_peak_bytes, peak_rss_bytes
from .workload import image_shape, synthetic_images


def full_history_steps(size: int) -> int:
    """Iterations a measurement at ``size`` needs for its finest coarse-to-fine scale (which
    runs 1/2^(S-1) of them) to fill the default L-BFGS history, plus 5.

    scipy's work array is np.zeros, whose pages count in RSS only once written: runs of 3
    iterations measured 1024-px runs 20% low.
    """
    return (LBFGS_HISTORY + 5) * 2 ** (auto_scales(size) - 1)


def child_rss(mode: str, size: int, steps: int, precision: str, weights: str | None) -> dict:
    """In this (fresh) process: run ``steps`` of ``mode`` at ``size``; peak RSS and timings."""
    import tensorflow as tf  # noqa: F401  (imported before the baseline reading)

    baseline = peak_rss_bytes()
    started = time.perf_counter()
    content, style = synthetic_images(size)
    if mode == "ours":
        from ..api import transfer

        result = transfer(
            content, style, size=size, iterations=steps, precision=precision,
            weights=weights, progress=False,
        )  # fmt: skip
        optimizer = result.manifest["optimizer"]
        done, evaluations = optimizer["iterations"], optimizer["function_evaluations"]
        optimize_s = result.manifest["optimize_time_s"]
    else:
        from .kerasio_baseline import build_step

        step = build_step(content, style, weights)
        step_started = time.perf_counter()
        for _ in range(steps):
            step()
        done = evaluations = steps
        optimize_s = time.perf_counter() - step_started
    return {
        "mode": mode,
        "size": list(image_shape(size)[::-1]),
        "precision": precision,
        "iterations": done,
        "evaluations": evaluations,
        "s_per_iteration": optimize_s / max(done, 1),
        "wall_s": time.perf_counter() - started,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak_rss_bytes(),
        "gpu_peak_bytes": gpu_peak_bytes(),
    }


def measure_rss(
    mode: str, size: int, steps: int | None = None, precision: str = "float32",
    weights: str | None = None,
) -> dict:  # fmt: skip
    """Run :func:`child_rss` in a fresh interpreter; its JSON record (or the error).
    ``steps``: iterations, by default :func:`full_history_steps`."""
    steps = steps or full_history_steps(size)
    command = [
        sys.executable, "-m", "style_transfer.tools.bench", "--child", mode, "--sizes", str(size),
        "--iterations", str(steps), "--precision", precision,
    ]  # fmt: skip
    if weights:
        command += ["--weights", weights]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        tail = " ".join(process.stderr.strip().splitlines()[-1:])
        return {"mode": mode, "size": size, "error": tail or f"exit {process.returncode}"}
    return json.loads(process.stdout.strip().splitlines()[-1])
