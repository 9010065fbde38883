"""Gatys, Ecker & Bethge, "A Neural Algorithm of Artistic Style", in TensorFlow 2 / Keras 3.

The public API: ``transfer`` (stylise an image), ``score`` (the objective of any
image), ``features`` (VGG19 feature maps of an image), ``Settings`` and ``PRESETS``.
They are imported on first use, so that ``import style_transfer`` stays cheap and
TensorFlow starts only when needed.
"""

import importlib
import os

from . import quiet

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's Python-side chatter quiet
quiet.install()  # and its native log lines, whichever module imports it first (quiet.py)

__version__ = "0.1.0"
_API = {
    "transfer": "api",
    "score": "api",
    "features": "api",
    "Result": "api",
    "Settings": "settings",
    "PRESETS": "settings",
    "StyleTransferError": "errors",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> object:
    if name not in _API:
        raise AttributeError(f"module 'style_transfer' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
