"""Manifests: the JSON next to every output that says exactly how it was made."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import replace_atomically
from .outputs import manifest_path  # noqa: F401 (its home before outputs.py)
from .settings import PRESETS, ResolvedSettings

if TYPE_CHECKING:
    from .solve import RunRecord

PACKAGES = ("style-transfer", "tensorflow", "keras", "numpy", "scipy", "pillow", "matplotlib")


def library_versions() -> dict[str, str]:
    """Python, platform and the versions of the libraries a result depends on."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def write_json_atomic(path: str | os.PathLike, data: dict) -> Path:
    """Write strict JSON (``strict_json``) to a temporary file beside ``path``, then rename it."""
    path = Path(path)
    with replace_atomically(path, text=True) as handle:
        json.dump(strict_json(data), handle, indent=2, allow_nan=False, default=_jsonable)
        handle.write("\n")
    return path


NON_FINITE = "non_finite"  # the key listing values that were inf or NaN, written as null


def strict_json(data: object) -> object:
    """``data`` as strict JSON can hold it: inf and NaN become ``null`` (JSON has neither),
    and a dict at the top lists where under ``non_finite``, so nothing is silently lost;
    numpy scalars and arrays become Python numbers and lists."""
    replaced: list[str] = []

    def clean(value: object, where: str) -> object:
        if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
            value = value.tolist()  # numpy scalar or array
        if isinstance(value, float) and not math.isfinite(value):
            replaced.append(where or "value")
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(data, "")
    if replaced and isinstance(cleaned, dict):
        cleaned[NON_FINITE] = replaced
    return cleaned


def _jsonable(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")


def command_line() -> list[str]:
    return list(sys.argv)


def input_paths(record: object) -> list[str]:
    """Every ``path`` under a manifest's ``inputs`` and ``start`` (the files not to overwrite)."""
    if isinstance(record, dict):
        if "inputs" in record or "start" in record:
            return input_paths([record.get("inputs"), record.get("start")])
        found = [record["path"]] if isinstance(record.get("path"), str) else []
        return found + [p for key, v in record.items() if key != "path" for p in input_paths(v)]
    if isinstance(record, list):
        return [p for item in record for p in input_paths(item)]
    return []


# What the code did before a setting existed, where today's default differs from it.
BEFORE_IT_EXISTED = {"precision": "float32", "ratio_reference": None}


def with_later_defaults(recorded: dict) -> dict:
    """A manifest's ``settings`` plus the settings added since it was written.

    A setting added later (e.g. ``scales``, ``precision``) takes what the code did before
    it existed: today's default, or ``BEFORE_IT_EXISTED`` where the default changed since.
    """
    from .settings import Settings

    defaults = json.loads(json.dumps(Settings().resolve().as_dict(), allow_nan=False))
    defaults |= BEFORE_IT_EXISTED
    return {**{k: v for k, v in defaults.items() if k not in recorded}, **recorded}


def made_with(record: dict, settings: ResolvedSettings) -> bool:
    """Whether the run behind manifest ``record`` used ``settings`` (so its image answers them).

    Every setting but the precision must be equal (read as ``with_later_defaults``); the
    precision the run used must satisfy the one asked for (``precision.satisfies``: a
    float32 result answers ``auto`` anywhere). ``ratio_reference`` is not compared: it only
    says how the recorded (effective) content weight was derived, and that weight and the
    size are compared, so a run made before the setting existed answers a request whose
    effective weight is the same (e.g. the paper's alpha at 512 px with reference 512).
    """
    from . import precision

    expected = json.loads(json.dumps(settings.as_dict(), allow_nan=False))
    recorded = with_later_defaults(record["settings"])
    for derived in ("precision", "ratio_reference"):
        del expected[derived], recorded[derived]
    return recorded == expected and precision.satisfies(
        precision.recorded(record), settings.precision, settings.size
    )


def build(record: RunRecord, settings: ResolvedSettings, *, output: Path | None = None) -> dict:
    """The manifest of a run: its settings (the whole run's), inputs, start, outcome, losses.

    ``output``: where the image will be written (``Result.save`` fills in its digest).
    A coarse-to-fine record adds ``coarse_to_fine`` with the schedule and one entry per
    scale; its top-level numbers are the whole run's, its losses the finest scale's.
    """
    # a run's modules, loaded only once there is a run
    from .optimize import LBFGS_BLAS_THREADS, Status
    from .plots import loss_plot_path

    width, height = record.size
    sizes = {"output": [width, height], "style": list(record.style_sizes[0])}
    if len(record.style_sizes) > 1:
        sizes["styles"] = [list(size) for size in record.style_sizes]
    optimizer = {
        "name": settings.optimizer,
        "status": record.status,
        "stop_reason": record.stop_reason,
        "iterations": record.iterations,
        "function_evaluations": record.evaluations,
    }
    if settings.optimizer == "lbfgs":  # the order of its sums, so the last bits of its path
        optimizer["blas_threads"] = LBFGS_BLAS_THREADS
    c2f = record.coarse_to_fine
    if c2f is not None:
        optimizer["scales_completed"] = sum(s.status == Status.COMPLETED for s in c2f.scales)
    manifest = {
        "tool": "style_transfer",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "preset": settings.preset,
        "preset_description": PRESETS[settings.preset].description,
        "settings": settings.as_dict(),
        "weights": record.weights,
        "network": {"pooling": settings.pooling, "deepest_layer": record.deepest_layer},
        "precision": record.precision,
        "inputs": record.inputs,
        "sizes": sizes,
        "start": record.start,
        "output": {
            "path": str(output) if output else None,
            "size": [width, height],
            "loss_plot": str(loss_plot_path(output)) if output else None,
            **({"snapshots": list(record.snapshots)} if settings.save_every else {}),
        },
        "optimizer": optimizer,
        **final_losses(record),
        "loss_history": record.history,
        "wall_time_s": round(record.wall_time_s, 3),
        "optimize_time_s": round(record.optimize_time_s, 3),
        "versions": library_versions(),
    }
    if c2f is not None:
        manifest["coarse_to_fine"] = {
            "method": c2f.method,
            "schedule": [{"size": size, "iterations": its} for size, its in c2f.schedule],
            "scales": [_scale_entry(scale) for scale in c2f.scales],
        }
    return manifest


def final_losses(record: RunRecord) -> dict:
    """``final_loss`` as the run computed it, and ``final_loss_float32`` after it when the
    run ended in a lower precision (the losses ``score`` gives for the saved image)."""
    exact = record.final_loss_float32
    return {"final_loss": record.final_loss, **({"final_loss_float32": exact} if exact else {})}


def _scale_entry(record: RunRecord) -> dict:
    """One scale of a coarse-to-fine run, as its manifest lists it."""
    return {
        "size": list(record.size),
        "iterations": record.iterations,
        "function_evaluations": record.evaluations,
        "status": record.status,
        "stop_reason": record.stop_reason,
        "start": record.start,
        "optimize_time_s": round(record.optimize_time_s, 3),
        "wall_time_s": round(record.wall_time_s, 3),
        **final_losses(record),
        "loss_history": record.history,
    }
