"""Committed results are never overwritten by accident.

``reproduce`` and ``compare`` write into ``renders/`` by default (git-ignored). A folder
that holds files tracked by git (``results/``: the committed figures and manifests) is
written into only when asked (``--into-tracked``); its panels are still read and reused.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import InputError

DEFAULT_OUT = "renders"
FLAG = "--into-tracked"


def holds_tracked_files(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` (or anything under it) holds files git tracks; False outside git."""
    path = Path(folder)
    if not path.is_dir():
        return False
    try:
        listed = subprocess.run(
            ["git", "-C", str(path), "ls-files", "-z", "--", "."],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):  # no git: nothing is tracked
        return False
    return listed.returncode == 0 and bool(listed.stdout.strip(b"\0"))


def check_writable(folder: str | os.PathLike, into_tracked: bool = False) -> None:
    """Refuse, in one line, to write into a folder with tracked files unless asked."""
    if not into_tracked and holds_tracked_files(folder):
        raise InputError(
            f"{str(folder)!r} holds files tracked by git (committed results); pass {FLAG} "
            f"to update them, or write elsewhere with --out (default {DEFAULT_OUT}/)"
        )
