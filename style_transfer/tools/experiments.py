"""The other measurements of results/BENCHMARKS.md (``bench --experiment``).

``coarse-to-fine``: time to reach a single-scale run's objective; ``precision``: float32
beside mixed after the same iterations; ``memory``: peak RSS of a real run per size;
``time-to-objective`` and ``precision-panels``: precision_bench; ``lbfgs-overhead``: scipy's
own time per L-BFGS iteration against 5% of an evaluation (lbfgs_overhead).
"""

from __future__ import annotations

import argparse
import os

from .peak_memory import measure_rss

EXPERIMENTS = (
    "coarse-to-fine", "precision", "memory", "time-to-objective", "precision-panels",
    "lbfgs-overhead",
)  # fmt: skip


def time_to_reach(manifest: dict, target: float) -> float | None:
    """Seconds of optimisation until the total loss first falls to ``target`` (None: never).

    Within a scale the time is taken as spread evenly over its iterations (its loss history
    has no timestamps); earlier scales count in full, with the set-up of every scale.
    """
    scales = manifest.get("coarse_to_fine", {}).get("scales") or [manifest]
    elapsed = 0.0
    for index, scale in enumerate(scales):
        totals = scale["loss_history"]["total"]
        last = index == len(scales) - 1
        if last:
            for iteration, value in enumerate(totals):
                if value <= target:
                    share = iteration / max(len(totals) - 1, 1)
                    return elapsed + share * scale["optimize_time_s"]
            return None
        elapsed += scale["wall_time_s"]
    return None


def coarse_to_fine_experiment(
    size: int,
    iterations: int,
    scales: int,
    weights: str | None = None,
    baseline_iterations: int | None = None,
) -> dict:
    """Tübingen x Starry Night at ``size``: one single-scale run of ``baseline_iterations``
    (default ``iterations``), then coarse-to-fine with ``iterations`` at its coarsest scale;
    the time each takes to reach the single-scale run's final objective (at the full size,
    same objective). A larger coarse-to-fine budget than the baseline's shows how long it
    needs to get there at all."""
    baseline_iterations = baseline_iterations or iterations
    from ..api import transfer
    from ..data import image_path

    content, style = image_path("tubingen"), image_path("starry_night")
    runs = {}
    for name, count, budget in (
        ("single_scale", 1, baseline_iterations),
        ("coarse_to_fine", scales, iterations),
    ):
        result = transfer(
            content, style, size=size, iterations=budget, scales=count, weights=weights,
            progress=False,
        )  # fmt: skip
        runs[name] = result.manifest
    target = runs["single_scale"]["final_loss"]["total"]
    record = {
        "size": size,
        "iterations": iterations,
        "baseline_iterations": baseline_iterations,
        "scales": scales,
        "target_total": target,
    }
    for name, manifest in runs.items():
        record[name] = {
            "schedule": manifest.get("coarse_to_fine", {}).get("schedule"),
            "final_total": manifest["final_loss"]["total"],
            "optimize_time_s": manifest["optimize_time_s"],
            "wall_time_s": manifest["wall_time_s"],
            "function_evaluations": manifest["optimizer"]["function_evaluations"],
            "time_to_target_s": time_to_reach(manifest, target),
        }
    for name, manifest in runs.items():
        scales = manifest.get("coarse_to_fine", {}).get("scales") or [manifest]
        record[name]["per_scale"] = [
            {
                "size": scale.get("size", manifest["sizes"]["output"]),
                "wall_time_s": scale["wall_time_s"],
                "optimize_time_s": scale["optimize_time_s"],
                "total_history": scale["loss_history"]["total"],
            }
            for scale in scales
        ]
    reached = record["coarse_to_fine"]["time_to_target_s"]
    single = record["single_scale"]["time_to_target_s"]
    record["speedup_to_target"] = single / reached if reached else None
    # The other way round: when did the single-scale run reach coarse-to-fine's final value?
    c2f_final = record["coarse_to_fine"]["final_total"]
    record["single_scale"]["time_to_coarse_to_fine_final_s"] = time_to_reach(
        runs["single_scale"], c2f_final
    )
    record["load_average"] = os.getloadavg()
    return record


def precision_experiment(size: int, iterations: int, weights: str | None = None) -> dict:
    """Tübingen x Starry Night at ``size`` for ``iterations``: float32 beside mixed, each
    saved image also scored under the float32 objective."""
    from ..api import score, transfer
    from ..data import image_path

    content, style = image_path("tubingen"), image_path("starry_night")
    record: dict[str, object] = {"size": size, "iterations": iterations}
    for precision in ("float32", "mixed"):
        result = transfer(
            content, style, size=size, iterations=iterations, precision=precision,
            weights=weights, progress=False,
        )  # fmt: skip
        manifest = result.manifest
        evaluations = manifest["optimizer"]["function_evaluations"]
        rescored = score(result.image, content, style, weights=weights)  # float32 objective
        record[precision] = {
            "final_total": manifest["final_loss"]["total"],
            "saved_image_total_float32": rescored["total_loss"],
            "optimize_time_s": manifest["optimize_time_s"],
            "function_evaluations": evaluations,
            "s_per_evaluation": manifest["optimize_time_s"] / max(evaluations, 1),
        }
    record["load_average"] = os.getloadavg()
    return record


def run_experiment(args: argparse.Namespace, precisions: tuple[str, ...]) -> list[dict]:
    """One record per size in ``args.sizes`` for ``args.experiment`` (one of EXPERIMENTS)."""
    if args.experiment == "coarse-to-fine":
        return [
            coarse_to_fine_experiment(
                size, args.iterations, args.scales, args.weights, args.baseline_iterations
            )
            for size in args.sizes
        ]
    if args.experiment == "precision":
        return [precision_experiment(size, args.iterations, args.weights) for size in args.sizes]
    if args.experiment in ("time-to-objective", "precision-panels"):  # precision_bench.py
        from . import precision_bench

        if args.experiment == "time-to-objective":
            return precision_bench.time_to_objective(
                args.sizes, args.iterations, args.every, args.weights,
                tuple(args.lbfgs_histories or ()), tuple(args.optimizers or ()),
            )  # fmt: skip
        return precision_bench.precision_panels(
            args.out, args.iterations, tuple(args.panels or precision_bench.PANELS),
            weights=args.weights,
        )  # fmt: skip
    if args.experiment == "lbfgs-overhead":
        from .lbfgs_overhead import HISTORIES, lbfgs_overhead

        histories = tuple(args.lbfgs_histories or HISTORIES)
        return lbfgs_overhead(args.sizes, args.iterations, histories, args.weights)
    return [
        measure_rss("ours", size, args.rss_steps, precisions[0], args.weights)
        for size in args.sizes
    ]
