"""Atomic file writes: a crash never leaves a half-written file nor destroys the old one.

Every output of the project (images, manifests, figures, caches, tables) is written through
:func:`replace_atomically`: the bytes go to a hidden temporary file in the same folder,
which is flushed to disk and then renamed over the target in one step.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replace_atomically(
    path: str | os.PathLike, *, text: bool = False, mode: int = 0o644
) -> Iterator[IO]:
    """Yield a temporary file beside ``path``; when the block succeeds it replaces ``path``.

    On any exception (an ``OSError`` from the disk, a failing encoder, Ctrl-C) the temporary
    file is removed and the exception propagates; ``path`` keeps its old content. ``mode``
    is the final file's permissions (a raw temporary file would be owner-only).
    """
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, then renamed)
        "w" if text else "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
        delete=False,
    )  # fmt: skip
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
