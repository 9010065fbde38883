"""Many runs of ``api.transfer``: here one after the other, or as Ray tasks on many machines.

``sweep``, ``batch`` and ``reproduce`` each build a list of :class:`Job` and hand it to
:func:`run_jobs`; this module is the only place that knows how jobs are run.

In-process (the default) the jobs run one after the other in this process. With
``Placement(workers=N)`` a local Ray with N workers runs them; with
``Placement(address=...)`` they run on an existing Ray cluster (``ray start --head`` /
``ray start --address``, or KubeRay on Kubernetes). Each Ray task asks for its CPUs
(TensorFlow's thread pools are sized to them inside the worker, before TensorFlow runs)
and for one GPU when the cluster has GPUs. Workers get the input files' bytes from the
driver and send back the image and its manifest; the driver writes them (atomically,
through ``Result.save``), so the nodes need no shared file system.

Either way the driver checks every job before any work (settings, inputs, that no output
overwrites an input), reuses a job whose image and manifest already exist with the same
settings and inputs, fails a bad job alone with its one-line error while the others
finish, and on Ctrl-C cancels what is still running and keeps every finished job.
A Ray worker that dies mid-task (killed, out of memory) is retried by Ray
(:data:`MAX_RETRIES`); nothing is written until a task has returned, so a crash never
leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import errors, images
from .errors import InputError, StyleTransferError
from .manifest import command_line, made_with, manifest_path
from .settings import INITS, Settings

MAX_RETRIES = 3  # Ray re-runs a task whose worker died this many times (not one that raised)
EXTRA = 'pip install "style-transfer[cluster]"'
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


@dataclass(frozen=True)
class Placement:
    """Where jobs run: here (default), on a local Ray with ``workers``, or at ``address``."""

    workers: int | None = None
    address: str | None = None  # "auto" or "HOST:PORT" of a running Ray cluster
    cpus_per_task: int | None = None  # default: cores // workers locally, 1 on a cluster

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.address is None

    def check(self) -> None:
        for name, value in (("--workers", self.workers), ("--cpus-per-task", self.cpus_per_task)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InputError(f"{name} must be a whole number, got {value!r}")
            if value is not None and value < 1:
                raise InputError(f"{name} must be at least 1, got {value}")
        if self.workers is not None and self.address is not None:
            raise InputError(
                "--workers and --ray-address both given; --workers starts a local Ray, "
                "--ray-address joins a running one: give one of them"
            )


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


def add_arguments(parser, *, force: bool = True) -> None:
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


def placement_from_args(args) -> Placement:
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
    progress = _Progress(len(jobs), len(outcomes), len(todo), report)
    runner = _run_here if placement.in_process else _run_on_ray
    interrupted = runner(jobs, todo, outcomes, placement, progress)
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
    images.check_output_path(job.output, every_input)
    images.check_output_path(loss_plot_path(job.output), every_input)


class _Progress:
    """Jobs done / total and, from the jobs rendered so far, the time still needed."""

    def __init__(self, total: int, done: int, to_render: int, report: Report) -> None:
        self.total, self.done, self.remaining, self.report = total, done, to_render, report
        self.rendered = 0
        self.started = time.perf_counter()

    def finished(self, job: Job, what: str) -> None:
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


def _finish(job: Job, result, outcomes: dict, index: int, progress: _Progress) -> None:
    """Save a returned ``Result`` (driver side) and record the outcome."""
    manifest = {**result.manifest, "command": command_line()}
    result.manifest = manifest
    try:
        path = result.save(job.output)
    except StyleTransferError as error:
        _fail(job, str(error), outcomes, index, progress)
        return
    manifest = result.manifest  # as written (save keeps the image if the manifest fails)
    if result.status == "completed":
        outcomes[index] = Outcome(job, SAVED, manifest)
        seconds = manifest.get("wall_time_s", 0.0)
        progress.finished(job, f"saved {path.name} ({seconds:.0f} s)")
    else:  # diverged: the best image so far is saved, but the job did not succeed
        _fail(job, f"{result.stop_reason}; saved the best image so far", outcomes, index, progress)
        outcomes[index].manifest = manifest


def _fail(job: Job, message: str, outcomes: dict, index: int, progress: _Progress) -> None:
    outcomes[index] = Outcome(job, FAILED, error=message)
    progress.finished(job, f"failed: {message}")


def _execute(job: Job):
    """The one call that does the work, in this process or in a Ray worker."""
    from . import api

    return api.transfer(
        job.content,
        list(job.styles),
        job.settings,
        progress=False,
        masks=list(job.masks) if job.masks else None,
        style_masks=list(job.style_masks) if job.style_masks else None,
    )


def _execution(runner: str, threads: dict) -> dict:
    """What the manifest says about where a job ran (threads matter for bitwise equality)."""
    return {"runner": runner, "node": platform.node(), "tensorflow_threads": threads}


def _run_here(jobs, todo, outcomes, placement: Placement, progress: _Progress) -> bool:
    threads = _set_threads(placement.cpus_per_task)
    for index in todo:
        job = jobs[index]
        try:
            result = _execute(job)
        except StyleTransferError as error:
            _fail(job, str(error), outcomes, index, progress)
            continue
        except KeyboardInterrupt:
            return True
        if result.status == "interrupted":  # Ctrl-C during the optimisation
            return True
        result.manifest = {**result.manifest, "execution": _execution("in-process", threads)}
        try:
            _finish(job, result, outcomes, index, progress)
        except KeyboardInterrupt:  # the save is atomic: this job's files are whole or absent
            return True
    return False


def _set_threads(count: int | None) -> dict:
    """Size TensorFlow's thread pools to ``count`` CPUs, if given and TF has not started yet;
    the sizes in effect (0 = TensorFlow's default, one thread per core)."""
    import tensorflow as tf

    if count is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(count)
            tf.config.threading.set_inter_op_parallelism_threads(count)
        except RuntimeError:  # already initialised in this process: keeps its first sizes
            pass
    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


# ------------------------------------------------------------------------------- Ray


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(
            f"--workers and --ray-address need Ray, which is not installed; {EXTRA}"
        ) from None
    return ray


def _connect(ray, placement: Placement) -> bool:
    """Start or join Ray unless this process already has; whether we must shut it down."""
    if ray.is_initialized():  # the caller's Ray (e.g. a test's): use it as it is
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if placement.address is None:
        cpus = placement.workers * _cpus_per_task(placement, local=True)
        ray.init(address="local", num_cpus=cpus, **quiet)  # never a `ray start` one
        return True
    package = str(Path(__file__).resolve().parent)  # ship this exact code to every node
    try:
        _probe(_bootstrap_address(placement.address))
        ray.init(address=placement.address, runtime_env={"py_modules": [package]}, **quiet)
    except (OSError, RuntimeError, ValueError) as error:  # ConnectionError is an OSError
        raise InputError(
            f"cannot join the Ray cluster at {placement.address!r}: "
            f"{' '.join(str(error).split())}; start one with 'ray start --head' or check "
            "--ray-address"
        ) from None
    return True


def _bootstrap_address(address: str) -> str:
    """``auto`` as the HOST:PORT it stands for (RAY_ADDRESS, or the last ``ray start`` here)."""
    if address != "auto":
        return address
    try:
        from ray._private.services import canonicalize_bootstrap_address_or_die
    except ImportError:  # moved in a later Ray: let ray.init find it
        return address
    return canonicalize_bootstrap_address_or_die(address)


def _probe(address: str, seconds: float = 10.0) -> None:
    """Fail fast on a ``HOST:PORT`` nobody listens on (``ray.init`` would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if sep and "://" not in address and port.isdigit():
        socket.create_connection((host, int(port)), timeout=seconds).close()


def _cpus_per_task(placement: Placement, *, local: bool) -> int:
    if placement.cpus_per_task is not None:
        return placement.cpus_per_task
    if local:
        return max(1, (os.cpu_count() or 1) // placement.workers)
    return 1


def _run_on_ray(jobs, todo, outcomes, placement: Placement, progress: _Progress) -> bool:
    ray = _import_ray()
    started = _connect(ray, placement)
    pending: dict = {}
    try:
        cpus = _cpus_per_task(placement, local=placement.address is None)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        options = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": MAX_RETRIES}
        if gpus:  # TensorFlow keeps GPU memory until its process ends: one job per worker
            options["max_calls"] = 1
        task = ray.remote(**options)(_work)
        files: dict[str, object] = {}  # each input file's bytes, put once
        for index in todo:
            job = jobs[index]
            refs = {}
            for path in job.input_files():
                key = str(path)
                if key not in files:
                    files[key] = ray.put(path.read_bytes())
                refs[key] = files[key]
            pending[task.remote(job, refs, cpus)] = index
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                index = pending.pop(ref)
                job = jobs[index]
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    _fail(job, _task_error(error), outcomes, index, progress)
                    continue
                except ray.exceptions.RayError as error:  # the worker died MAX_RETRIES + 1 times
                    message = " ".join(str(error).split())[:300]
                    _fail(job, f"its Ray worker died: {message}", outcomes, index, progress)
                    continue
                _finish(job, result, outcomes, index, progress)
        return False
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        return True
    finally:
        if started:
            ray.shutdown()


def _task_error(error) -> str:
    """The one line of a job's exception raised in a Ray worker."""
    cause = getattr(error, "cause", None) or error
    if isinstance(cause, StyleTransferError):
        return str(cause)
    return f"internal error in the worker: {type(cause).__name__}: {' '.join(str(cause).split())}"


def _work(job: Job, files: dict, threads: int):
    """A Ray task: write the inputs to a local folder, run the job, return its ``Result``
    with every local path in its manifest (and error) replaced by the driver's path."""
    import ray

    used = _set_threads(threads)  # before TensorFlow runs anything in this worker
    with tempfile.TemporaryDirectory(prefix="style-transfer-job-") as folder:
        local: dict[str, str] = {}
        for number, (original, ref) in enumerate(files.items()):
            target = Path(folder, str(number), Path(original).name)
            target.parent.mkdir()
            target.write_bytes(ray.get(ref))
            local[original] = str(target.resolve())
        try:
            result = _execute(_localised(job, local))
        except StyleTransferError as error:
            message = str(error)
            for original, here in local.items():
                message = message.replace(here, original)
            raise type(error)(message) from None
    back = {here: original for original, here in local.items()}
    result.manifest = {
        **_replace_strings(result.manifest, back),
        "execution": {**_execution("ray", used), "gpus": ray.get_gpu_ids()},
    }
    result.optimised = None  # only for coarse-to-fine inside transfer; not worth sending
    return result


def _localised(job: Job, local: dict[str, str]) -> Job:
    def here(path):
        return local.get(str(path), path) if path is not None else None

    settings = job.settings
    if isinstance(settings.init, str) and settings.init in local:
        settings = dataclasses.replace(settings, init=local[settings.init])
    return dataclasses.replace(
        job,
        content=here(job.content),
        styles=tuple(here(s) for s in job.styles),
        settings=settings,
        masks=tuple(here(m) for m in job.masks) if job.masks else None,
        style_masks=tuple(here(m) for m in job.style_masks) if job.style_masks else None,
    )


def _replace_strings(record: object, mapping: dict[str, str]) -> object:
    """``record`` with every string equal to a key of ``mapping`` replaced by its value."""
    if isinstance(record, dict):
        return {k: _replace_strings(v, mapping) for k, v in record.items()}
    if isinstance(record, list):
        return [_replace_strings(v, mapping) for v in record]
    if isinstance(record, str):
        return mapping.get(record, record)
    return record
