"""Coarse-to-fine: solve small, upsample the result, refine it at twice the size, and so on.

The high-resolution method of Gatys et al. 2017 (*Controlling Perceptual Factors in Neural
Style Transfer*, section 5): the coarse scales fix the large-scale structure cheaply, and the
finer scales, started from the upsampled result, need far fewer iterations than a run from
scratch. ``Settings.scales = S`` solves at ``size / 2^(S-1)``, ..., ``size / 2``, ``size``;
the coarsest scale runs ``iterations`` iterations and each finer one half as many as the
one before (at least 1). The peak memory is that of the finest scale alone.

Everything lands in one manifest: the run's settings, then ``coarse_to_fine`` with the
schedule and, per scale, its size, iterations, evaluations, stop reason, time, final loss
and loss history; ``loss_history`` at the top is the finest scale's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from . import api, images
from .memory import check_memory
from .settings import ResolvedSettings


def schedule(size: int, iterations: int, scales: int) -> list[tuple[int, int]]:
    """``[(longer side, iterations), ...]`` from the coarsest scale to ``size``."""
    return [
        (max(1, round(size / 2 ** (scales - 1 - i))), max(1, iterations // 2**i))
        for i in range(scales)
    ]


def coarse_to_fine(
    content: api.ImageSource,
    styles: list[api.ImageSource],
    resolved: ResolvedSettings,
    output_path: Path | None = None,
    progress: bool = True,
    masks: Sequence[api.ImageSource] | None = None,
    style_masks: Sequence[api.ImageSource | None] | None = None,
) -> api.Result:
    """Run ``api._solve`` at every scale of the schedule; one Result with one manifest."""
    started = time.perf_counter()
    plan = schedule(resolved.size, resolved.iterations, resolved.scales)
    # Refuse before the first scale if the finest will not fit.
    check_memory(images.load_image(content, name="content image").shape[:2], len(styles), resolved)

    records, result, start = [], None, None
    for index, (size, iterations) in enumerate(plan):
        last = index == len(plan) - 1
        settings = dataclasses.replace(resolved, size=size, iterations=iterations, scales=1)
        if progress:
            print(f"scale {index + 1}/{len(plan)}: {size} px, {iterations} iterations")
        result = api._solve(
            content, styles, settings, output_path if last else None, progress, masks,
            style_masks, start,
        )  # fmt: skip
        records.append(_scale_record(result.manifest))
        if result.status != "completed":
            break  # interrupted or diverged: keep this scale's best image
        start = result.optimised
    return _combine(result, resolved, plan, records, time.perf_counter() - started)


def _scale_record(manifest: dict) -> dict:
    optimizer = manifest["optimizer"]
    return {
        "size": manifest["sizes"]["output"],
        "iterations": optimizer["iterations"],
        "function_evaluations": optimizer["function_evaluations"],
        "status": optimizer["status"],
        "stop_reason": optimizer["stop_reason"],
        "start": manifest["start"],
        "optimize_time_s": manifest["optimize_time_s"],
        "wall_time_s": manifest["wall_time_s"],
        "final_loss": manifest["final_loss"],
        "loss_history": manifest["loss_history"],
    }


def _combine(
    result: api.Result,
    resolved: ResolvedSettings,
    plan: list[tuple[int, int]],
    records: list[dict],
    seconds: float,
) -> api.Result:
    """The last scale's result under the whole run's manifest."""
    manifest = dict(result.manifest)
    manifest["settings"] = resolved.as_dict()
    manifest["start"] = records[0]["start"]
    manifest["optimizer"] = {
        **manifest["optimizer"],
        "iterations": sum(r["iterations"] for r in records),
        "function_evaluations": sum(r["function_evaluations"] for r in records),
        "scales_completed": sum(r["status"] == "completed" for r in records),
    }
    manifest["coarse_to_fine"] = {
        "method": "Gatys et al. 2017: solve at the coarsest scale, upsample the result "
        "(bicubic) as the start of the next, iterations halved per finer scale",
        "schedule": [{"size": size, "iterations": its} for size, its in plan],
        "scales": records,
    }
    manifest["optimize_time_s"] = round(sum(r["optimize_time_s"] for r in records), 3)
    manifest["wall_time_s"] = round(seconds, 3)
    return dataclasses.replace(result, manifest=manifest)
