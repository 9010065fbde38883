"""Paths a user gives: expanded, resolved, compared and quoted without surprises.

``~unknown_user/x`` stays literal (as a shell leaves it) instead of raising; a symlink loop
is a one-line error instead of ``RuntimeError``; two paths are "the same file" when they
name one directory entry or one inode (``os.path.samefile``, else ``realpath``), never by
comparing strings; and a path is quoted with ``repr`` in messages, so a newline or a
non-UTF-8 byte in a name cannot split the one-line error.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def quoted(path: str | os.PathLike | bytes) -> str:
    """``path`` for a message: ``repr`` of its text, so control characters stay escaped."""
    return repr(os.fsdecode(path))


def printable(name: str) -> str:
    """``name`` with undecodable bytes (surrogate escapes) as ``\\xNN``: safe in any text."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def expand_user(path: str | os.PathLike) -> Path:
    """``~`` and ``~user`` expanded; an unknown user's ``~name`` is kept literally."""
    try:
        return Path(os.fsdecode(path)).expanduser()
    except RuntimeError:  # "Could not determine home directory" (unknown user, no $HOME)
        return Path(os.fsdecode(path))


def resolve(path: str | os.PathLike, name: str = "file") -> Path:
    """The absolute path with symlinks followed; a symlink loop is an ``InputError``."""
    path = Path(os.fsdecode(path))
    try:
        return path.resolve()
    except (RuntimeError, OSError) as error:  # 3.11: RuntimeError("Symlink loop from ...")
        problem = "it is a symlink loop" if "loop" in str(error).lower() else str(error)
        raise InputError(
            f"cannot use {name} {quoted(path)}: {problem}; point it at a real file or folder"
        ) from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file: one inode, or one resolved path.

    Both the resolved paths and the paths as given (absolute, symlinks not followed) are
    compared, so an input that is a symlink in the output's place counts as the same too.
    """
    try:
        if os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b):
            return True
    except (OSError, ValueError):
        pass
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
    except (OSError, ValueError):
        pass
    return os.path.normpath(os.path.abspath(a)) == os.path.normpath(os.path.abspath(b))


def blocking_file(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` (itself included) if it is not a folder."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None
