"""TensorFlow imported without its native start-up log lines, unless the user asks for them.

TensorFlow 2.21 writes CUDA probes ("failed call to cuInit"), oneDNN notes and absl's
preamble straight to file descriptor 2, past ``TF_CPP_MIN_LOG_LEVEL``, so they reach a
terminal, a log and (through ipykernel's capture of fd 2) every notebook. ``import_tensorflow``
points fd 2 at a temporary file while TensorFlow loads and probes its devices, and replays
that file only if the import fails. ``STYLE_TRANSFER_VERBOSE=1`` (the command line's
``--verbose``) lets every line through.
"""

from __future__ import annotations

import os
import sys
import tempfile
from types import ModuleType

VERBOSE_VAR = "STYLE_TRANSFER_VERBOSE"


def verbose() -> bool:
    """Whether the user asked for TensorFlow's own log lines."""
    return os.environ.get(VERBOSE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def import_tensorflow() -> ModuleType:
    """``tensorflow``, imported (once) with its native log lines hidden unless ``verbose()``."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if verbose():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to hide the lines from
        import tensorflow as tf

        return tf
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here, not at import
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            print(sink.read().decode(errors="replace"), end="", file=sys.stderr)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf
