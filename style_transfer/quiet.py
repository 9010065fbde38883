"""TensorFlow imported without its native start-up log lines, unless the user asks for them.

TensorFlow 2.21 writes CUDA probes ("failed call to cuInit"), oneDNN notes and absl's
preamble straight to file descriptor 2, past ``TF_CPP_MIN_LOG_LEVEL``, so they reach a
terminal, a log and (through ipykernel's capture of fd 2) every notebook. ``install``
(run by ``import style_transfer``) adds an import hook: whichever module first imports
TensorFlow, fd 2 points at a temporary file while TensorFlow loads and probes its devices,
and that file is replayed only if the import fails. ``STYLE_TRANSFER_VERBOSE=1`` (the
command line's ``--verbose``) lets every line through.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

VERBOSE_VAR = "STYLE_TRANSFER_VERBOSE"


def verbose() -> bool:
    """Whether the user asked for TensorFlow's own log lines."""
    return os.environ.get(VERBOSE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def import_tensorflow() -> ModuleType:
    """``tensorflow``, imported (once) with its native log lines hidden unless ``verbose()``."""
    if "tensorflow" not in sys.modules:
        if verbose():
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
            uninstall()
        else:
            install()
    import tensorflow

    return tensorflow


def install() -> None:
    """Hide TensorFlow's native log lines at its first import, wherever that happens."""
    if (
        "tensorflow" in sys.modules
        or verbose()
        or any(isinstance(f, _Finder) for f in sys.meta_path)
    ):
        return
    sys.meta_path.insert(0, _Finder())


def uninstall() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _Finder)]


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, then wraps its loader in ``_QuietLoader`` (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()  # one use: the real finders answer from here on
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _fd2_hidden():
            self.loader.exec_module(module)
            module.config.list_physical_devices()  # the CUDA probe logs here, not at import


@contextlib.contextmanager
def _fd2_hidden() -> Iterator[None]:
    """File descriptor 2 into a temporary file; replayed to stderr if the block raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no usable stderr: nothing to hide from
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            print(sink.read().decode(errors="replace"), end="", file=sys.stderr)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def native_stderr_dropped() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null while a decoder runs.

    libtiff (and some other native decoders) print their own warnings straight to fd 2,
    beside the one-line error; the failure itself still arrives as a Python exception.
    Other threads' native stderr lines in this instant are dropped too.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
