"""What one L-BFGS iteration costs scipy itself, whatever the network costs (issue 17 item 3).

scipy's L-BFGS-B (our options, ``optimize.lbfgs_options``) minimises a quadratic of a real
image's size, n = width x height x 3, whose value and gradient cost one pass over n, so
what remains of an iteration is L-BFGS-B's own work: its O(m·n) passes over the float64
history of m pairs and, with the pixel bounds, the Cauchy-point search over every bounded
variable. Measured per history m, with and without the bounds, with BLAS on one thread (as
runs use it: ``optimize.one_blas_thread``) and on the library's default threads, and set
against issue 17's budget: 5% of one default-precision (``auto``) Evaluator call at that size.

The quadratic's minimum lies partly outside the box (about a sixth of its coordinates end
on a bound, as saturated pixels do) and its curvatures span two decades, so L-BFGS needs its
history and the line search usually accepts the first step, as in a real run.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
from threadpoolctl import threadpool_info

from ..network import pixel_bounds
from ..optimize import lbfgs_options, one_blas_thread
from .workload import image_shape

BUDGET_SHARE = 0.05  # issue 17 item 3: at most 5% of an iteration outside the network
HISTORIES = (5, 10, 20)  # L-BFGS memories measured by default


def quadratic_problem(
    shape: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, curvature, start) of 0.5 Σ curvature (x - centre)² on an image's pixels."""
    lower, upper = pixel_bounds(shape)
    rng = np.random.default_rng(seed)
    centre = rng.uniform(lower - 25.0, upper + 25.0)  # ~1/6 of the minimum outside the box
    curvature = 10.0 ** rng.uniform(-1.0, 1.0, centre.size)
    return centre, curvature, rng.uniform(lower, upper)


def blas_threads() -> int:
    """The most threads any loaded BLAS library would use now."""
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(counts, default=1)


def scipy_iteration(
    shape: tuple[int, int, int], history: int, bounded: bool, iterations: int, seed: int = 0,
    one_thread: bool = True,
) -> dict:  # fmt: skip
    """Seconds per L-BFGS-B iteration outside the objective, once the history is full, with
    BLAS on one thread (as runs use it) or on the library's default threads."""
    import scipy.optimize

    centre, curvature, start = quadratic_problem(shape, seed)
    inside = 0.0

    def quadratic(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal inside
        started = time.perf_counter()
        gradient = curvature * (x - centre)
        value = 0.5 * float(np.dot(gradient, x - centre))
        inside += time.perf_counter() - started
        return value, gradient

    marks: list[tuple[float, float]] = []  # (time, time inside the objective) per iteration

    def mark(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        marks.append((time.perf_counter(), inside))

    with one_blas_thread() if one_thread else contextlib.nullcontext():
        threads = blas_threads()
        scipy.optimize.minimize(
            quadratic, start, jac=True, method="L-BFGS-B",
            bounds=scipy.optimize.Bounds(*pixel_bounds(shape)) if bounded else None,
            callback=mark, options=lbfgs_options(history + iterations, history),
        )  # fmt: skip
    steady = marks[history - 1 :]  # timed once the history holds its m pairs
    record = {
        "history": history, "bounded": bounded, "blas_threads": threads,
        "variables": centre.size, "iterations": len(marks),
    }  # fmt: skip
    if len(steady) >= 2:
        (t0, in0), (t1, in1) = steady[0], steady[-1]
        record["outside_objective_s_per_iteration"] = ((t1 - t0) - (in1 - in0)) / (len(steady) - 1)
    return record


def evaluation_seconds(size: int, weights: str | None = None, repeats: int = 3) -> dict:
    """The median seconds of one default-precision Evaluator call at ``size`` (synthetic images)."""
    from ..precision import resolve
    from .bench import fresh_call
    from .machine import seconds
    from .workload import build_ours

    evaluator, x0, _, _ = build_ours(size, "auto", weights)
    call = fresh_call(evaluator, x0)
    call()  # trace and warm up
    return {
        "precision": resolve("auto", size).as_dict(),
        "evaluation_s": float(np.median([seconds(call) for _ in range(repeats)])),
    }


def lbfgs_overhead(
    sizes: list[int], iterations: int = 20, histories: tuple[int, ...] = HISTORIES,
    weights: str | None = None,
) -> list[dict]:  # fmt: skip
    """Per size: scipy's own seconds per iteration for each history, bounded and not, BLAS
    on one thread and on its default, and the share of a default-precision iteration they
    would be (evaluation + scipy)."""
    records = []
    for size in sizes:
        record: dict = {"size": size, **evaluation_seconds(size, weights)}
        budget = BUDGET_SHARE / (1 - BUDGET_SHARE) * record["evaluation_s"]
        record["budget_s_per_iteration"] = budget  # 5% of (evaluation + this)
        record["runs"] = []
        for history in histories:
            for bounded in (True, False):
                for one_thread in (True, False):
                    shape = (*image_shape(size), 3)
                    run = scipy_iteration(
                        shape, history, bounded, iterations, one_thread=one_thread
                    )
                    outside = run.get("outside_objective_s_per_iteration")
                    if outside is not None:
                        run["share_of_iteration"] = outside / (outside + record["evaluation_s"])
                    record["runs"].append(run)
        record["load_average"] = os.getloadavg()
        records.append(record)
    return records
