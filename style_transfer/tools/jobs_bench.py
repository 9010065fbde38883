"""What running jobs on Ray costs and gains (issue 16 item 6), and what ``reproduce all``
would take on k workers.

``python -m style_transfer.tools.jobs_bench measure`` runs one 4-job sweep (256 px, four seeds)
twice in one process: here, 1 process × all cores as TensorFlow threads, then on a local
Ray, N workers × 1 thread; it prints and writes (``--json``) jobs per minute of each, Ray's
start-up, and the Ray overhead per task: the worker-seconds not spent inside ``transfer``
(start-up, TensorFlow import, network build, transfers), divided by the number of tasks.
Run it on a quiet machine; on a shared one the figures mean little.

``python -m style_transfer.tools.jobs_bench plan --workers 1 2 4 8`` takes the per-panel wall
times from the manifests under ``results/`` (or ``--panel-seconds`` measured elsewhere,
e.g. on a GPU with ``bench``) and prints the expected time of ``reproduce all`` on k
workers: the longest-first schedule of the panels onto k workers, plus the overhead per task.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import time
from pathlib import Path

from ..jobs import Placement, run_jobs
from ..manifest import strict_json, write_json_atomic
from ..settings import Settings
from ..sweep import Axis, sweep_jobs

FIGURES = ("fig2", "fig3", "init")


def measure(out: Path, size: int = 256, iterations: int = 100, workers: int = 2) -> dict:
    """The same 4 jobs here (1 process, all cores) and on a local Ray (``workers`` × 1 thread)."""
    from .. import data

    content, style = data.image_path("tubingen"), data.image_path("starry_night")
    seeds = Axis("seed", (1, 2, 3, 4), ("1", "2", "3", "4"))
    settings = Settings(size=size, iterations=iterations)
    cores = os.cpu_count() or 1
    runs = {}
    for name, placement in (
        ("in_process", Placement(cpus_per_task=cores)),
        ("ray", Placement(workers=workers, cpus_per_task=1)),
    ):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        jobs = sweep_jobs(content, [style], [seeds], settings, folder)
        started = time.perf_counter()
        report = run_jobs(jobs, placement, force=True, report=print)
        seconds = time.perf_counter() - started
        inside = [o.manifest["wall_time_s"] for o in report.outcomes if o.manifest]
        parallel = 1 if placement.in_process else workers
        runs[name] = {
            "placement": f"{parallel} × {placement.cpus_per_task} thread(s)",
            "seconds": round(seconds, 1),
            "jobs_per_minute": round(60 * len(inside) / seconds, 3),
            "seconds_inside_transfer": inside,
            "overhead_per_task_s": round((seconds * parallel - sum(inside)) / len(inside), 2),
        }
    result = {"size": size, "iterations": iterations, "jobs": 4, "cores": cores, "runs": runs}
    return result


def panel_seconds(results: Path) -> list[float]:
    """Each panel's ``wall_time_s`` from the manifests of ``results/{fig2,fig3,init}/``."""
    times = []
    for figure in FIGURES:
        for record in sorted((results / figure).glob("*.json")):
            times.append(float(json.loads(record.read_text())["wall_time_s"]))
    return times


def makespan(times: list[float], workers: int, overhead: float = 0.0) -> float:
    """Longest-first greedy schedule of ``times`` onto ``workers``: when the last one ends."""
    ends = [0.0] * workers
    for seconds in sorted(times, reverse=True):
        heapq.heapreplace(ends, ends[0] + seconds + overhead)
    return max(ends)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style_transfer.tools.jobs_bench")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("measure", help="4 jobs here vs on a local Ray")
    run.add_argument("--out", default="/tmp/style_transfer_jobs_bench")
    run.add_argument("--size", type=int, default=256)
    run.add_argument("--iterations", type=int, default=100)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--json", help="also write the figures here, e.g. results/bench/jobs.json")
    plan = commands.add_parser("plan", help="expected time of reproduce all on k workers")
    plan.add_argument("--results", default="results")
    plan.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    plan.add_argument("--panel-seconds", type=float, help="one cost for every panel instead")
    plan.add_argument("--overhead", type=float, default=0.0, help="seconds per task (measure)")
    args = parser.parse_args(argv)
    if args.command == "measure":
        result = measure(Path(args.out), args.size, args.iterations, args.workers)
        print(json.dumps(strict_json(result["runs"]), indent=2, allow_nan=False))
        if args.json:
            write_json_atomic(args.json, result)
        return 0
    times = panel_seconds(Path(args.results))
    if args.panel_seconds is not None:
        times = [args.panel_seconds] * len(times)
    print(f"{len(times)} panels, {sum(times) / 3600:.2f} h in all")
    for k in args.workers:
        print(f"{k:3d} workers: {makespan(times, k, args.overhead) / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
