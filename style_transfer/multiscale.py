"""Coarse-to-fine: solve small, upsample the result, refine it at twice the size, and so on.

The high-resolution method of Gatys et al. 2017 (*Controlling Perceptual Factors in Neural
Style Transfer*, section 5): the coarse scales fix the large-scale structure cheaply, and the
finer scales, started from the upsampled result, need far fewer iterations than a run from
scratch. ``Settings.scales = S`` solves at ``size / 2^(S-1)``, ..., ``size / 2``, ``size``;
the coarsest scale runs ``iterations`` iterations and each finer one half as many as the
one before (at least 1). The peak memory is that of the finest scale alone.

The scales' records compose into one ``RunRecord`` (``compose``): the finest scale's image
and losses, the whole run's iterations, evaluations and times, the first scale's start, and
``coarse_to_fine`` with the schedule and every scale's own record, which ``manifest.build``
lists per scale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from . import inputs, solve
from .memory import check_memory
from .optimize import Status, interrupted_by
from .settings import ResolvedSettings
from .solve import CoarseToFine, RunRecord

METHOD = (
    "Gatys et al. 2017: solve at the coarsest scale, upsample the result "
    "(bicubic) as the start of the next, iterations halved per finer scale"
)


def schedule(size: int, iterations: int, scales: int) -> list[tuple[int, int]]:
    """``[(longer side, iterations), ...]`` from the coarsest scale to ``size``."""
    return [
        (max(1, round(size / 2 ** (scales - 1 - i))), max(1, iterations // 2**i))
        for i in range(scales)
    ]


def coarse_to_fine(
    sources: inputs.Sources,
    resolved: ResolvedSettings,
    *,
    output: Path | None = None,
    progress: bool = False,
) -> RunRecord:
    """``solve.run`` at every scale of the schedule, each from the previous one's result.

    ``output``: where the final image goes (only the finest scale saves snapshots). A scale
    that is interrupted or diverges ends the run with its own best image.
    """
    started = time.perf_counter()
    plan = schedule(resolved.size, resolved.iterations, resolved.scales)
    # Refuse before the first scale if the finest will not fit.
    check_memory(sources.content.shape[:2], len(sources.styles), resolved)

    records: list[RunRecord] = []
    start, loaded = None, sources
    for index, (size, iterations) in enumerate(plan):
        last = index == len(plan) - 1
        settings = dataclasses.replace(  # alpha at this scale's size: see ratio_reference
            resolved.at_size(size), iterations=iterations, scales=1
        )
        if progress:
            _announce(f"scale {index + 1}/{len(plan)}: {size} px, {iterations} iterations")
        try:
            prepared = inputs.prepare(loaded, settings)
            loaded = dataclasses.replace(sources, seconds=0.0)  # loading counts once, at scale 1
            record = solve.run(
                prepared, settings, start=start, output=output if last else None, progress=progress
            )
        except KeyboardInterrupt as stop:  # between scales: keep the previous scale's image
            if not records:
                raise
            reason = f"{interrupted_by(stop)} before scale {index + 1}/{len(plan)} started"
            records[-1] = dataclasses.replace(
                records[-1], status=Status.INTERRUPTED, stop_reason=reason
            )
            break
        records.append(record)
        if record.status != Status.COMPLETED:
            break  # interrupted or diverged: keep this scale's best image
        start = record.optimised
    return compose(records, plan, time.perf_counter() - started + sources.seconds)


def _announce(line: str) -> None:
    """Print a scale's heading; a closed or broken stdout must not stop the run."""
    with contextlib.suppress(OSError, ValueError):
        print(line, flush=True)


def compose(
    records: Sequence[RunRecord], plan: Sequence[tuple[int, int]], seconds: float
) -> RunRecord:
    """One record for the whole run: the last scale's result, the totals of all scales."""
    return dataclasses.replace(
        records[-1],
        iterations=sum(r.iterations for r in records),
        evaluations=sum(r.evaluations for r in records),
        optimize_time_s=sum(r.optimize_time_s for r in records),
        wall_time_s=seconds,
        start=records[0].start,
        coarse_to_fine=CoarseToFine(METHOD, tuple(plan), tuple(records)),
        problems=tuple(dict.fromkeys(p for r in records for p in r.problems)),
    )
