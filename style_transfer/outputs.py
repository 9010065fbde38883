"""Every file a run writes, checked before any work starts.

A run with output ``OUT.png`` writes the image, its manifest ``OUT.png.json``, its loss
plot ``OUT.loss.png``, a snapshot ``OUT.iterNNNNN.png`` every ``save_every`` iterations,
and, while writing each of them, a temporary ``.NAME.xxxxxxxx.tmp`` beside it (atomic.py).
``check`` refuses, in one line and before anything is loaded, whatever would make any of
these writes fail or destroy an input: a name the filesystem cannot encode or that is too
long once the temporary file's affixes are added, a missing or read-only folder, a folder
that is really a file, a symlink loop, an image format that would not store the image as
it is, or a name that is one of the inputs (by inode or resolved path, not by spelling).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import InputError

# atomic.replace_atomically's temporary name is "." + NAME + "." + 8 random chars + ".tmp"
TEMP_AFFIXES = len(".") + len(".") + 8 + len(".tmp")
DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096


def manifest_path(output: str | os.PathLike) -> Path:
    """``out.png`` -> ``out.png.json``: one manifest per output, never shared."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def loss_plot_path(output: str | os.PathLike) -> Path:
    """``out.png`` -> ``out.loss.png``: where the loss curves of an output go."""
    output = Path(output)
    return output.with_name(f"{output.stem}.loss.png")


def snapshot_path(output: str | os.PathLike, iteration: int) -> Path:
    """``out.png`` -> ``out.iter00042.png``: the image after ``iteration`` iterations."""
    output = Path(output)
    return output.with_name(f"{output.stem}.iter{iteration:05d}{output.suffix}")


@dataclass(frozen=True)
class Plan:
    """The files one run will write (resolved paths), snapshots as a range of iterations."""

    image: Path
    manifest: Path
    loss_plot: Path
    snapshot_iterations: range  # empty without save_every

    def files(self) -> dict[str, Path]:
        """Each kind of file by name; of the snapshots only the last (the longest name)."""
        named = {"output": self.image, "manifest": self.manifest, "loss plot": self.loss_plot}
        if self.snapshot_iterations:
            named["snapshot"] = snapshot_path(self.image, self.snapshot_iterations[-1])
        return named


def check(
    output: str | os.PathLike,
    inputs: Iterable[object] = (),
    *,
    save_every: int = 0,
    iterations: int = 0,
) -> Plan:
    """The checked ``Plan`` for an output image, or ``InputError`` naming what would fail.

    ``inputs``: every input (paths are compared, other sources ignored); ``save_every``
    and ``iterations``: the snapshots the run will save (``iterations`` of the scale that
    saves them).
    """
    from .images import check_format

    given = Path(os.fsdecode(output))
    where = f"cannot write output {paths.quoted(given)}"
    _check_encodable(given, where)
    if given.is_dir():
        raise InputError(f"{where}: it is a folder; pass a file name such as out.png")
    check_format(given)
    image = paths.resolve(given, "output")
    _check_folder(image.parent, where)
    every = save_every if save_every and save_every > 0 else 0
    snapshots = range(every, iterations + 1, every) if every else range(0)
    plan = Plan(image, manifest_path(image), loss_plot_path(image), snapshots)
    for kind, path in plan.files().items():
        _check_length(path, f"cannot write {kind} {paths.quoted(path)}")
    sources = [Path(os.fsdecode(s)) for s in inputs if isinstance(s, (str, os.PathLike))]
    for source in sources:
        for kind, path in plan.files().items():
            if kind != "snapshot" and paths.same_file(path, source):
                _overwrites(kind, given if kind == "output" else path, source)
        _check_snapshots(plan, source)
    return plan


def _overwrites(kind: str, path: Path, source: Path) -> None:
    raise InputError(
        f"cannot write {kind} {paths.quoted(path)}: it would overwrite the input "
        f"{paths.quoted(source)}; choose a different output name"
    )


def _check_snapshots(plan: Plan, source: Path) -> None:
    """Refuse an input that is (or is linked from) one of the snapshots' names."""
    if not plan.snapshot_iterations:
        return
    stem, suffix = plan.image.stem, plan.image.suffix
    pattern = re.compile(rf"{re.escape(stem)}\.iter(\d{{5,}}){re.escape(suffix)}")
    every = plan.snapshot_iterations

    def saved(name: str) -> bool:
        match = pattern.fullmatch(name)
        return bool(match) and int(match[1]) in every and f"{int(match[1]):05d}" == match[1]

    folder = plan.image.parent
    for candidate in {Path(os.path.abspath(source)), Path(os.path.realpath(source))}:
        if Path(os.path.realpath(candidate.parent)) == folder and saved(candidate.name):
            _overwrites("snapshot", folder / candidate.name, source)
    try:
        entries = [e.name for e in os.scandir(folder) if saved(e.name)]
    except OSError:
        return
    for name in entries:  # an existing snapshot name that is a link to the input
        if paths.same_file(folder / name, source):
            _overwrites("snapshot", folder / name, source)


def _check_encodable(path: Path, where: str) -> None:
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise InputError(
            f"{where}: its name cannot be encoded in the filesystem's encoding "
            f"({sys.getfilesystemencoding()}); use a name made of ordinary characters"
        ) from None


def _check_folder(folder: Path, where: str) -> None:
    if not folder.is_dir():
        blocker = paths.blocking_file(folder)
        if blocker is not None:
            raise InputError(
                f"{where}: {paths.quoted(blocker)} is a file, not a folder; "
                "choose another folder or move that file"
            )
        raise InputError(f"{where}: folder {paths.quoted(folder)} does not exist; create it first")
    if not _folder_writable(folder):
        raise InputError(
            f"{where}: folder {paths.quoted(folder)} is not writable; "
            "choose another folder or fix its permissions"
        )


def _folder_writable(folder: Path) -> bool:
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test."):
            pass
    except OSError:
        return False
    return True


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def _check_length(path: Path, where: str) -> None:
    """Refuse a name whose temporary file (name + affixes) the filesystem cannot hold."""
    name_max = _limit(path.parent, "PC_NAME_MAX", DEFAULT_NAME_MAX)
    needed = len(os.fsencode(path.name)) + TEMP_AFFIXES
    if needed > name_max:
        raise InputError(
            f"{where}: its name is {needed - TEMP_AFFIXES} bytes and the temporary file written "
            f"first adds {TEMP_AFFIXES}, over this folder's limit of {name_max}; "
            "use a shorter output name"
        )
    path_max = _limit(path.parent, "PC_PATH_MAX", DEFAULT_PATH_MAX)
    if len(os.fsencode(path)) + TEMP_AFFIXES >= path_max:
        raise InputError(
            f"{where}: the full path is longer than this system's limit of {path_max} bytes; "
            "use a shorter path"
        )


def make_folder(folder: str | os.PathLike, name: str = "output folder") -> Path:
    """``mkdir -p`` for an output folder, with a one-line error naming what is in the way
    (a file where a folder should be, a symlink loop, a read-only parent)."""
    folder = Path(os.fsdecode(folder))
    where = f"cannot create {name} {paths.quoted(folder)}"
    blocker = paths.blocking_file(paths.resolve(folder, name))
    if blocker is not None:
        raise InputError(
            f"{where}: {paths.quoted(blocker)} is a file, not a folder; "
            "choose another folder or move that file"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = " ".join(str(error.strerror or error).split())
        fix = "choose another folder or fix its permissions"
        raise InputError(f"{where}: {reason}; {fix}") from None
    return folder


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Validate an output image path before a long run; the resolved path, or InputError.

    The image's own checks of :func:`check` (which also checks its manifest and loss plot):
    a folder, an extension Pillow cannot write faithfully, a missing or unwritable folder,
    a name too long or not encodable, and any path that is one of ``inputs``.
    """
    return check(path, inputs).image
