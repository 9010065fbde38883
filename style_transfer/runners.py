"""Where jobs run: one after the other in this process, or as Ray tasks on many machines.

:func:`style_transfer.jobs.run_jobs` decides what to run (checks, reuse) and records what
became of each job; the two runners here only execute ``api.transfer`` per job and hand
each result (or one-line error) back through ``finish(index, result)`` /
``fail(index, message)``, on the driver, in the order the jobs finish. Both return whether
Ctrl-C stopped them.

With ``Placement(workers=N)`` a local Ray with N workers runs the jobs; with
``Placement(address=...)`` an existing Ray cluster does (``ray start --head`` /
``ray start --address``, or KubeRay on Kubernetes). Each Ray task asks for its CPUs
(TensorFlow's thread pools are sized to them inside the worker, before TensorFlow runs)
and for one GPU when the cluster has GPUs. Workers get the input files' bytes from the
driver and send back the image and its manifest; the driver writes them, so the nodes need
no shared file system. A worker that dies mid-task (killed, out of memory) is retried by
Ray (:data:`MAX_RETRIES`); nothing is written until a task has returned, so a crash never
leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, StyleTransferError

if TYPE_CHECKING:  # jobs.py imports this module; these names are for the type hints only
    from .api import Result
    from .jobs import Job

MAX_RETRIES = 3  # Ray re-runs a task whose worker died this many times (not one that raised)
EXTRA = 'pip install "style-transfer[cluster]"'

Finish = Callable[[int, "Result"], None]
Fail = Callable[[int, str], None]


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


def _execute(job: Job) -> Result:
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


def run_here(
    jobs: Sequence[Job], todo: Sequence[int], placement: Placement, finish: Finish, fail: Fail
) -> bool:
    """Run ``jobs[i]`` for each ``i`` in ``todo`` one after the other, in this process."""
    threads = _set_threads(placement.cpus_per_task)
    for index in todo:
        job = jobs[index]
        try:
            result = _execute(job)
        except StyleTransferError as error:
            fail(index, str(error))
            continue
        except KeyboardInterrupt:
            return True
        if result.status == "interrupted":  # Ctrl-C during the optimisation
            return True
        result.manifest = {**result.manifest, "execution": _execution("in-process", threads)}
        try:
            finish(index, result)
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


# --------------------------------------------------------------------------- Ray


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


def run_on_ray(
    jobs: Sequence[Job], todo: Sequence[int], placement: Placement, finish: Finish, fail: Fail
) -> bool:
    """Run ``jobs[i]`` for each ``i`` in ``todo`` as Ray tasks (``placement``: where)."""
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
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    fail(index, _task_error(error))
                    continue
                except ray.exceptions.RayError as error:  # the worker died MAX_RETRIES + 1 times
                    message = " ".join(str(error).split())[:300]
                    fail(index, f"its Ray worker died: {message}")
                    continue
                finish(index, result)
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
