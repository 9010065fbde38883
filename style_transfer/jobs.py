"""Many runs of ``api.transfer``: here one after the other, or as Ray tasks on many machines.

``sweep``, ``batch`` and ``reproduce`` each build a list of :class:`Job` and hand it to
:func:`run_jobs`. In-process (the default) the jobs run one after the other in this
process; with ``Placement(workers=N)`` on a local Ray with N workers; with
``Placement(address=...)`` on an existing Ray cluster (``runners.py`` runs them).

Either way the driver checks every job before any work (settings, inputs, that no output
overwrites an input), reuses a job whose image and manifest already exist with the same
settings and inputs, fails a bad job alone with its one-line error while the others
finish, and on Ctrl-C cancels what is still running and keeps every finished job. The
driver writes every image and manifest (atomically, through ``Result.save``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import errors, images, outputs
from .errors import InputError, StyleTransferError
from .manifest import command_line, made_with, manifest_path
from .runners import EXTRA, Placement, run_here, run_on_ray
from .runners import MAX_RETRIES as MAX_RETRIES  # re-exported: part of this module's interface
from .settings import INITS, Settings

SAVED, REUSED, FAILED, CANCELLED = "saved", "reused", "failed", "not run"

Report = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    """One optimisation: inputs, settings, and the image file it produces."""

    name: str  # shown in progress lines and errors, e.g. "ratio=1e-4_style-layers=conv1_1"
    content: str | os.PathLike
    styles: tuple[str | os.PathLike, ...]  # one, or several blended
    settings: Settings
    output: str | os.PathLike
    masks: tuple[str | os.PathLike, ...] | None = None
    style_masks: tuple[str | os.PathLike, ...] | None = None

    def input_files(self) -> list[Path]:
        """Every file the job reads, in manifest order (content, styles, masks, init)."""
        files = [self.content, *self.styles, *(self.masks or ())]
        files += [m for m in self.style_masks or () if m is not None and m != "all"]
        init = self.settings.init
        if isinstance(init, (str, os.PathLike)) and init not in INITS:
            files.append(init)
        return [Path(os.fsdecode(f)) for f in files]


@dataclass
class Outcome:
    """What became of one job: saved, reused, failed (with its error) or not run."""

    job: Job
    status: str
    manifest: dict | None = None
    error: str | None = None


class JobsFailedError(StyleTransferError):
    """Some jobs failed (each with its one-line error); the others were saved."""

    exit_code = errors.EXIT_SOME_FAILED


class JobsInterruptedError(StyleTransferError):
    """Ctrl-C: the finished jobs are kept, the rest were cancelled."""

    exit_code = errors.EXIT_INTERRUPTED


@dataclass
class JobsReport:
    outcomes: list[Outcome]
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C, ``EXIT_SOME_FAILED`` if a job failed, else 0."""
        if self.interrupted:
            return errors.EXIT_INTERRUPTED
        return errors.EXIT_SOME_FAILED if self.count(FAILED) else errors.EXIT_OK

    def raise_if_unfinished(self) -> None:
        """Raise ``JobsInterruptedError`` after Ctrl-C, ``JobsFailedError`` if a job failed."""
        if self.interrupted:
            raise JobsInterruptedError(
                f"interrupted: {self.count(SAVED) + self.count(REUSED)} of {len(self.outcomes)} "
                "jobs are done and kept; run the same command again to finish the rest"
            )
        failed = [o for o in self.outcomes if o.status == FAILED]
        if failed:
            raise JobsFailedError(
                f"{len(failed)} of {len(self.outcomes)} jobs failed, first {failed[0].job.name}: "
                f"{failed[0].error}; fix it and run the same command again (the rest is reused)"
            )

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(s)} {s}" for s in (SAVED, REUSED, FAILED, CANCELLED) if self.count(s)
        )
        line = f"{len(self.outcomes)} jobs: {counts}"
        if self.interrupted:
            line += "; interrupted: run the same command again to finish the rest"
        elif self.count(FAILED):
            line += "; fix the failed ones and run the same command again (the rest is reused)"
        return line


# ---------------------------------------------------------------- command-line flags


def add_arguments(parser: argparse.ArgumentParser, *, force: bool = True) -> None:
    """``--workers``, ``--ray-address``, ``--cpus-per-task`` (and ``--force``) on ``parser``."""
    group = parser.add_argument_group("where the jobs run (default: here, one after the other)")
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"start a local Ray and run N jobs at a time (needs Ray: {EXTRA})",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="run the jobs on a running Ray cluster: auto, or the head's HOST:PORT "
        "(ray start --head prints it)",
    )
    group.add_argument(
        "--cpus-per-task",
        type=int,
        metavar="K",
        help="CPUs (TensorFlow threads) per job (default: cores/N with --workers, 1 on a "
        "cluster; a job also gets one GPU when the cluster has GPUs)",
    )
    if force:
        group.add_argument("--force", action="store_true", help="re-render jobs already done")


def placement_from_args(args: argparse.Namespace) -> Placement:
    return Placement(args.workers, args.ray_address, args.cpus_per_task)


def reporter(quiet: bool) -> Report:
    """``print``, or with ``quiet`` only the lines of failed jobs."""

    def report(line: str) -> None:
        if not quiet or " failed" in line:
            print(line, flush=True)

    return report


# ---------------------------------------------------------------------------- resume


def reusable(job: Job) -> bool:
    """Whether ``job.output`` and its manifest exist, completed, from the same settings and
    inputs: settings equal, the inputs' SHA-256 equal, and the image the one the manifest
    recorded (``output.sha256``; manifests written before it existed are trusted)."""
    path = Path(job.output)
    record = manifest_path(path)
    if not (path.is_file() and record.is_file()):
        return False
    try:
        manifest = json.loads(record.read_text())
        image_sha256 = manifest["output"].get("sha256")
        return (
            made_with(manifest, job.settings.resolve())
            and manifest["optimizer"]["status"] == "completed"
            and image_sha256 in (None, images.image_digest(path))
            and _recorded_inputs(manifest) == [images.image_digest(f) for f in job.input_files()]
        )
    except (OSError, ValueError, KeyError, TypeError, StyleTransferError):
        return False


def _recorded_inputs(manifest: dict) -> list[str]:
    """The SHA-256 of every input file a manifest names, in ``Job.input_files`` order."""
    inputs = manifest["inputs"]
    styles = inputs.get("styles") or [inputs["style"]]
    digests = [inputs["content"]["sha256"], *(s["sha256"] for s in styles)]
    digests += [s["mask"]["sha256"] for s in styles if s.get("mask")]
    digests += [s["style_mask"]["sha256"] for s in styles if s.get("style_mask")]
    if manifest.get("start", {}).get("init") == "image":
        digests.append(manifest["start"]["sha256"])
    return digests


# ------------------------------------------------------------------------- the driver


def run_jobs(
    jobs: Sequence[Job],
    placement: Placement | None = None,
    *,
    force: bool = False,
    report: Report = print,
) -> JobsReport:
    """Run every job (reusing finished ones unless ``force``); what became of each.

    Never raises for one bad job: its outcome is ``failed`` with the one-line error, and
    the others run. Raises ``InputError`` only for a problem with the whole list (two jobs
    writing one file, a job writing over another's input) or with ``placement``.
    """
    placement = placement or Placement()
    placement.check()
    jobs = [_normalised(job) for job in jobs]
    _check_outputs_distinct(jobs)
    every_input = {f for job in jobs for f in job.input_files()}
    outcomes: dict[int, Outcome] = {}
    todo: list[int] = []
    for index, job in enumerate(jobs):
        try:
            _check(job, every_input)
        except StyleTransferError as error:
            outcomes[index] = Outcome(job, FAILED, error=str(error))
            report(f"[{job.name}] failed: {error}")
            continue
        if not force and reusable(job):
            manifest = json.loads(manifest_path(job.output).read_text())
            outcomes[index] = Outcome(job, REUSED, manifest)
            report(f"[{job.name}] reusing {job.output}")
            continue
        todo.append(index)
    progress = _Progress(jobs, outcomes, len(todo), report)
    runner = run_here if placement.in_process else run_on_ray
    interrupted = runner(jobs, todo, placement, progress.finish, progress.fail)
    ordered = [outcomes.get(i) or Outcome(job, CANCELLED) for i, job in enumerate(jobs)]
    return JobsReport(ordered, interrupted)


def _normalised(job: Job) -> Job:
    """``job`` with absolute input paths (also an ``init`` path), so that in-process and Ray
    runs record the same strings and a later run compares equal."""

    def absolute(path):
        return str(Path(os.fsdecode(path)).resolve())

    settings = job.settings
    if isinstance(settings.init, str) and settings.init not in INITS:
        settings = dataclasses.replace(settings, init=absolute(settings.init))
    return dataclasses.replace(
        job,
        content=absolute(job.content),
        styles=tuple(absolute(s) for s in job.styles),
        settings=settings,
        output=Path(absolute(job.output)),
        masks=tuple(absolute(m) for m in job.masks) if job.masks else None,
        style_masks=tuple(m if m is None or m == "all" else absolute(m) for m in job.style_masks)
        if job.style_masks
        else None,
    )


def _check_outputs_distinct(jobs: Sequence[Job]) -> None:
    seen: dict[Path, str] = {}
    for job in jobs:
        if job.output in seen:
            raise InputError(
                f"jobs {seen[job.output]!r} and {job.name!r} would both write {str(job.output)!r}; "
                "give each job its own output name"
            )
        seen[job.output] = job.name


def _check(job: Job, every_input: Iterable[Path]) -> None:
    """Everything about ``job`` the driver can check before any work."""
    from .plots import loss_plot_path

    job.settings.resolve()
    if job.settings.save_every:
        raise InputError(
            "save_every is not supported for many jobs (workers save nothing themselves); "
            "use the transfer command for intermediate images"
        )
    for path in job.input_files():
        if not path.is_file():
            raise InputError(f"cannot read {str(path)!r}: the file does not exist; check the path")
    outputs.check_output_path(job.output, every_input)
    outputs.check_output_path(loss_plot_path(job.output), every_input)


class _Progress:
    """Records what became of each job as it ends, and reports jobs done / total with, from
    the jobs rendered so far, the time still needed."""

    def __init__(self, jobs: Sequence[Job], outcomes: dict, to_render: int, report: Report):
        self.jobs, self.outcomes, self.report = jobs, outcomes, report
        self.total, self.done, self.remaining = len(jobs), len(outcomes), to_render
        self.rendered = 0
        self.started = time.perf_counter()

    def finish(self, index: int, result) -> None:
        """Save a returned ``Result`` (driver side) and record the outcome."""
        job = self.jobs[index]
        result.manifest = {**result.manifest, "command": command_line()}
        try:
            path = result.save(job.output)
        except StyleTransferError as error:
            self.fail(index, str(error))
            return
        manifest = result.manifest  # as written (save keeps the image if the manifest fails)
        if result.status == "completed":
            self.outcomes[index] = Outcome(job, SAVED, manifest)
            seconds = manifest.get("wall_time_s", 0.0)
            self._finished(job, f"saved {path.name} ({seconds:.0f} s)")
        else:  # diverged: the best image so far is saved, but the job did not succeed
            self.fail(index, f"{result.stop_reason}; saved the best image so far")
            self.outcomes[index].manifest = manifest

    def fail(self, index: int, message: str) -> None:
        self.outcomes[index] = Outcome(self.jobs[index], FAILED, error=message)
        self._finished(self.jobs[index], f"failed: {message}")

    def _finished(self, job: Job, what: str) -> None:
        self.done += 1
        self.remaining -= 1
        self.rendered += 1
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.rendered * self.remaining
        self.report(
            f"[{self.done}/{self.total}] {job.name}: {what}"
            + (f"; ETA {_clock(eta)}" if self.remaining else f"; all done in {_clock(elapsed)}")
        )


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
