"""The command-line flags of the ``Settings`` fields, built from their metadata.

Each field's default, type, choices and help are defined once, in ``settings.py``
(``settings.option``); ``cli.py`` and ``tools/cli.py`` add the flags from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections import abc
from collections.abc import Sequence

from .settings import Settings

# --help sections of the settings' groups (``settings.option``); "run" settings go ungrouped.
GROUP_TITLES = {
    "objective": "objective (default: the chosen preset's values)",
    "beyond": "beyond the paper: colour, several styles, style scale, regions "
    "(the authors' follow-ups)",
}
SETTING_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if "help" in f.metadata}
_HINTS = typing.get_type_hints(Settings)


def setting_names(command: str) -> list[str]:
    """The ``Settings`` fields the ``transfer`` (all) or ``score`` command offers as flags."""
    return [n for n, f in SETTING_FIELDS.items() if command == "transfer" or f.metadata["score"]]


def add_setting_flags(
    parser: argparse.ArgumentParser, names: Sequence[str], titles: dict[str, str]
) -> dict[str, argparse._ActionsContainer]:
    """Add the flags of the ``Settings`` fields ``names``, each in its group's section.

    A field whose group has no title in ``titles`` goes among the command's own options.
    Returns the sections by group, so a command can add its own flags to one.
    """
    sections: dict[str, argparse._ActionsContainer] = {}
    for name in names:
        group = SETTING_FIELDS[name].metadata["group"]
        if group in titles and group not in sections:
            sections[group] = parser.add_argument_group(titles[group])
        add_setting_flag(sections.get(group, parser), name)
    return sections


def add_setting_flag(
    container: argparse._ActionsContainer, name: str, default: object = dataclasses.MISSING
) -> None:
    """The flag of ``Settings.<name>``: its default, type, choices and help (``default``
    overrides the field's default, e.g. for a command with another default network)."""
    meta = SETTING_FIELDS[name].metadata
    if default is dataclasses.MISSING:
        default = SETTING_FIELDS[name].default
    flags = meta["flags"] or (f"--{name.replace('_', '-')}",)
    kwargs: dict[str, object] = {"dest": name, "default": default}
    kind, many = _flag_type(_HINTS[name])
    if kind is bool:
        kwargs["action"] = "store_false" if default else "store_true"
    else:
        kwargs.update(type=kind, choices=meta["choices"], metavar=meta["metavar"])
        if many:
            kwargs["nargs"] = "+"
    shown = meta["shown_default"]
    if shown is None and default is not None and kind is not bool:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    kwargs["help"] = meta["help"] if shown is None else f"{meta['help']} (default {shown})"
    container.add_argument(*flags, **kwargs)


def _flag_type(hint: object) -> tuple[type | None, bool]:
    """(the type argparse converts a value to, whether the flag takes several) of a field's
    annotation: ``int``, ``float``, ``bool`` and sequences of them; anything else stays a
    string for ``Settings.resolve`` to parse (layer lists, paths, names)."""
    options = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) not in (typing.Union, types.UnionType) or len(options) != 1:
        options = [hint]
    (kind,) = options
    if typing.get_origin(kind) is abc.Sequence:
        (item,) = typing.get_args(kind)
        return (item if item in (int, float) else None), True
    return (kind if kind in (int, float, bool) else None), False


def add_network_flags(
    group: argparse._ActionsContainer, default: object = dataclasses.MISSING
) -> None:
    """``--network`` and ``--calibration`` (``default``: another default network)."""
    add_setting_flag(group, "network", default)
    add_setting_flag(group, "calibration")


def add_images_flag(parser: argparse.ArgumentParser) -> None:
    """``--images DIR``: where the paper's images named on the command line are found."""
    from .data import ENV_VAR

    parser.add_argument(
        "--images",
        metavar="DIR",
        help=f"folder with the paper's images (or set {ENV_VAR}; default: download them "
        "into the Keras cache)",
    )
