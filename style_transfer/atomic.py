"""Atomic file writes: a crash never leaves a half-written file nor destroys the old one.

Every output of the project (images, manifests, figures, caches, tables, the weights) is
written through :func:`replace_atomically`: the bytes go to a hidden temporary file in the
same folder, which is flushed to disk and then renamed over the target in one step. A
failed write is one error, worded once here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import InputError

WRITE_FIX = "check the folder exists, is writable and has free space"


def write_error(path: str | os.PathLike, error: OSError, name: str = "file") -> InputError:
    """The one-line error for an ``OSError`` while writing ``path`` (a ``name``: output, ...)."""
    reason = " ".join(str(error.strerror or error).split())
    return InputError(f"cannot write {name} {os.fsdecode(path)!r}: {reason}; {WRITE_FIX}")


@contextmanager
def replace_atomically(
    path: str | os.PathLike, *, text: bool = False, mode: int = 0o644, name: str = "file"
) -> Iterator[IO]:
    """Yield a temporary file beside ``path``; when the block succeeds it replaces ``path``.

    On any exception (from the disk, a failing encoder, Ctrl-C, a check at the end of the
    block such as a checksum) the temporary file is removed and ``path`` keeps its old
    content. An ``OSError`` (from the block, the flush or the rename) is raised as
    :func:`write_error`'s ``InputError``, naming the file as ``name``; anything else
    propagates unchanged. ``mode`` is the final file's permissions (a raw temporary file
    would be owner-only).
    """
    path = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, then renamed)
            "w" if text else "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
            delete=False,
        )  # fmt: skip
    except OSError as error:
        raise write_error(path, error, name) from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException as error:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_error(path, error, name) from None
        raise


def write_text(path: str | os.PathLike, text: str, *, name: str = "file") -> Path:
    """Write ``text`` to ``path`` through :func:`replace_atomically`."""
    with replace_atomically(path, text=True, name=name) as handle:
        handle.write(text)
    return Path(path)
