"""Manifests: the JSON next to every output that says exactly how it was made."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from .atomic import replace_atomically
from .errors import InputError

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


def manifest_path(output: str | os.PathLike) -> Path:
    """``out.png`` -> ``out.png.json``: one manifest per output, never shared."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def write_json_atomic(path: str | os.PathLike, data: dict) -> Path:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    try:
        with replace_atomically(path, text=True) as handle:
            json.dump(data, handle, indent=2, allow_nan=False, default=_jsonable)
            handle.write("\n")
    except OSError as error:
        raise _write_error(path, error) from None
    return path


def _write_error(path: Path, error: OSError) -> InputError:
    return InputError(
        f"cannot write {str(path)!r}: {error.strerror or error}; "
        "check the folder exists, is writable and has free space"
    )


def _jsonable(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")


def command_line() -> list[str]:
    return list(sys.argv)
