"""``sweep`` (one image, a grid of settings) and ``batch`` (many photos × many styles).

Both build a list of :class:`~style_transfer.jobs.Job`, run it with
:func:`~style_transfer.jobs.run_jobs` (here, or on Ray with ``--workers``/``--ray-address``),
and write a table of every job's settings and final losses (``table.csv``, ``table.json``);
``sweep`` also writes a labelled grid figure (``grid.png``; both in ``sweep_outputs.py``).
The functions ``sweep`` and ``batch`` do all of it from Python; the commands call them.

The grid rule (``--grid NAME=VALUES ...``): NAME is any ``Settings`` field, written with
``-`` or ``_`` (``ratio``, ``style-layers``, ``tv-weight``, ``init``, ``seed``, ...). For a
single-valued setting, ``,`` separates the values: ``ratio=1e-5,1e-4,1e-3``. For a
list-valued setting (``style-layers``, ``style-blend-weights``), ``:`` separates the values
and ``,`` the items of one value: ``style-layers=conv1_1:conv1_1,conv2_1`` is two values,
``[conv1_1]`` and ``[conv1_1, conv2_1]``. ``none`` is None for settings that may be unset.
The cells are the cartesian product, the first ``--grid`` varying slowest; in the figure the
last one runs along the columns and the others down the rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import itertools
import os
import re
import typing
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError
from .jobs import (
    FAILED,
    Job,
    JobsReport,
    Report,
    add_arguments,
    placement_from_args,
    reporter,
    run_jobs,
)
from .outputs import make_folder
from .runners import Placement
from .settings import Settings
from .sweep_outputs import GRID_FIGURE, grid_figure, write_table
from .sweep_outputs import TABLE as TABLE  # re-exported: the table's default name

LIST_SEPARATOR, ITEM_SEPARATOR, VALUE_SEPARATOR = ":", ",", ","
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
KINDS = {bool: "true or false", int: "a whole number, e.g. 3", float: "a number, e.g. 1e-3"}
EXTENSION = ".png"  # lossless: a reused cell is exactly what was optimised


@dataclasses.dataclass(frozen=True)
class Axis:
    """One ``--grid`` entry: a setting and its values (with the text each was given as)."""

    name: str  # the Settings field
    values: tuple[object, ...]
    texts: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")


def parse_grid(specs: Sequence[str]) -> list[Axis]:
    """``["ratio=1e-5,1e-4", "style-layers=conv1_1:conv1_1,conv2_1"]`` -> axes (the rule
    is in the module docstring); InputError naming the entry for anything unparsable."""
    hints = typing.get_type_hints(Settings)
    axes: list[Axis] = []
    for spec in specs:
        name, sep, text = spec.partition("=")
        field = name.strip().replace("-", "_")
        if not sep or not text:
            raise InputError(
                f"--grid {spec!r} has no values; write NAME=V1,V2 e.g. ratio=1e-4,1e-3"
            )
        if field not in hints:
            valid = ", ".join(sorted(n.replace("_", "-") for n in hints))
            raise InputError(f"--grid {spec!r}: unknown setting {name!r}; use one of {valid}")
        if any(a.name == field for a in axes):
            raise InputError(f"--grid names {name!r} twice; give each setting once")
        kind = hints[field]
        listed = _is_list(kind)
        texts = tuple(text.split(LIST_SEPARATOR if listed else VALUE_SEPARATOR))
        values = tuple(_convert(field, kind, t.strip(), listed) for t in texts)
        axes.append(Axis(field, values, tuple(t.strip() for t in texts)))
    return axes


def _is_list(kind: object) -> bool:
    return any(
        typing.get_origin(k) in (Sequence, list, tuple) for k in (kind, *typing.get_args(kind))
    )


def _convert(field: str, kind: object, text: str, listed: bool) -> object:
    options = typing.get_args(kind) or (kind,)
    where = f"--grid {field.replace('_', '-')}: value {text!r}"
    if not text:
        raise InputError(f"{where} is empty; remove the extra separator")
    if text.lower() == "none" and type(None) in options:
        return None
    if listed:
        items = [item.strip() for item in text.split(ITEM_SEPARATOR)]
        numbers = any(typing.get_args(k) == (float,) for k in options)
        try:
            return tuple(float(i) for i in items) if numbers else tuple(items)
        except ValueError:
            raise InputError(f"{where}: every item must be a number, e.g. 0.7,0.3") from None
    for type_ in (bool, int, float):
        if type_ in options:
            try:
                if type_ is bool:
                    if text.lower() not in TRUE + FALSE:
                        raise ValueError
                    return text.lower() in TRUE
                return type_(text)
            except ValueError:
                raise InputError(f"{where} is not {KINDS[type_]}") from None
    return text


def _slug(text: str) -> str:
    """A file-name-safe form of a grid value: ``conv1_1,conv2_1`` -> ``conv1_1+conv2_1``."""
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text.replace(ITEM_SEPARATOR, "+"))


def sweep_jobs(
    content: str | os.PathLike,
    styles: Sequence[str | os.PathLike],
    axes: Sequence[Axis],
    base: Settings,
    out: str | os.PathLike,
    **inputs: object,
) -> list[Job]:
    """One job per cell of the grid, in product order, writing ``out/NAME=VALUE_....png``."""
    jobs = []
    for cell in itertools.product(*(range(len(a.values)) for a in axes)):
        overrides = {a.name: a.values[i] for a, i in zip(axes, cell)}
        name = "_".join(f"{a.label}={_slug(a.texts[i])}" for a, i in zip(axes, cell)) or "cell"
        settings = dataclasses.replace(base, **overrides)
        jobs.append(
            Job(name, content, tuple(styles), settings, Path(out, name + EXTENSION), **inputs)
        )
    return jobs


def batch_jobs(
    contents: Sequence[str | os.PathLike],
    styles: Sequence[str | os.PathLike],
    base: Settings,
    out: str | os.PathLike,
) -> list[Job]:
    """Every content image in every style, writing ``out/CONTENT_STYLE.png``."""
    return [
        Job(f"{Path(c).stem}_{Path(s).stem}", c, (s,), base,
            Path(out, f"{Path(c).stem}_{Path(s).stem}{EXTENSION}"))
        for c in contents for s in styles
    ]  # fmt: skip


def expand(patterns: Sequence[str]) -> list[str]:
    """File names and glob patterns (quoted, so the shell leaves them) as a list of files."""
    files: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            found = sorted(glob.glob(pattern))
            if not found:
                raise InputError(f"no file matches {pattern!r}; check the pattern and the folder")
            files += found
        else:
            files.append(pattern)
    return files


# ---------------------------------------------------------------------------- API


@dataclasses.dataclass(frozen=True)
class Written:
    """What ``sweep`` or ``batch`` ran and wrote."""

    report: JobsReport  # every job's outcome; .summary(), .exit_code
    files: tuple[Path, ...]  # table.csv, table.json and, for a sweep, grid.png


def sweep(
    content: str | os.PathLike,
    style: str | os.PathLike | Sequence[str | os.PathLike],
    grid: Sequence[str],
    out: str | os.PathLike,
    settings: Settings | None = None,
    *,
    placement: Placement | None = None,
    force: bool = False,
    report: Report = print,
    masks: Sequence[str | os.PathLike] | None = None,
    style_masks: Sequence[str | os.PathLike] | None = None,
) -> Written:
    """``content`` under every combination of ``grid`` (``--grid`` entries, e.g.
    ``["ratio=1e-4,1e-3", "seed=0,1"]``; the rule is in the module docstring) on top of
    ``settings``: one image per cell in ``out``, then the table and the labelled grid.

    Finished cells are reused unless ``force``; a bad cell fails alone (``Written.report``
    says which). ``placement``: here (default) or on Ray (``jobs.Placement``).
    """
    axes = parse_grid(grid)
    folder = make_folder(out)
    styles = (style,) if isinstance(style, (str, os.PathLike)) else tuple(style)
    inputs = {"masks": tuple(masks) if masks else None,
              "style_masks": tuple(style_masks) if style_masks else None}  # fmt: skip
    jobs = sweep_jobs(content, styles, axes, settings or Settings(), folder, **inputs)
    done = run_jobs(jobs, placement, force=force, report=report)
    return Written(done, _write_outputs(done, folder, axes))


def batch(
    contents: Sequence[str | os.PathLike],
    styles: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    settings: Settings | None = None,
    *,
    placement: Placement | None = None,
    force: bool = False,
    report: Report = print,
) -> Written:
    """Every image of ``contents`` in every style of ``styles`` (``out/CONTENT_STYLE.png``),
    then the table; finished jobs are reused unless ``force``, as in ``sweep``."""
    folder = make_folder(out)
    jobs = batch_jobs(contents, styles, settings or Settings(), folder)
    done = run_jobs(jobs, placement, force=force, report=report)
    return Written(done, _write_outputs(done, folder, None))


def _write_outputs(report: JobsReport, out: Path, axes: Sequence[Axis] | None) -> tuple[Path, ...]:
    written = write_table(report, out)
    if axes is not None and report.count(FAILED) + report.count("not run") < len(report.outcomes):
        written.append(grid_figure(report, axes, out / GRID_FIGURE))
    return tuple(written)


# ------------------------------------------------------------------------ commands


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The ``sweep`` and ``batch`` subcommands, with the ``transfer`` command's flags."""
    transfer = commands.choices["transfer"]
    sweep = commands.add_parser("sweep", help="one image under a grid of settings (jobs.py)")
    sweep.add_argument("content", help="content image (the photo)")
    sweep.add_argument("style", nargs="+", help="style image(s); several are blended")
    sweep.add_argument("--out", required=True, help="output folder (created if needed)")
    sweep.add_argument(
        "--grid", nargs="+", required=True, metavar="NAME=VALUES",
        help="settings to vary, e.g. ratio=1e-5,1e-4 style-layers=conv1_1:conv1_1,conv2_1 "
        "(for list settings ':' separates values, ',' items); every combination is run",
    )  # fmt: skip
    _copy_flags(transfer, sweep, skip={"output", "save_every"})
    add_arguments(sweep)
    sweep.set_defaults(handler=_sweep)

    batch = commands.add_parser("batch", help="every content image in every style (jobs.py)")
    batch.add_argument(
        "content", nargs="+", help="content images or quoted patterns ('photos/*.jpg')"
    )
    batch.add_argument("--style", required=True, nargs="+", help="style images, one job each")
    batch.add_argument("-o", "--out", required=True, help="output folder (created if needed)")
    _copy_flags(
        transfer,
        batch,
        skip={"output", "save_every", "style_blend_weights", "masks", "style_masks"},
    )
    add_arguments(batch)
    batch.set_defaults(handler=_batch)


def _copy_flags(source: argparse.ArgumentParser, target: argparse.ArgumentParser, skip) -> None:
    """``source``'s optional flags on ``target`` too, in their groups (as ``parents=`` does)."""
    for group in source._action_groups:
        actions = [
            a for a in group._group_actions
            if a.option_strings and a.dest not in skip and a.dest != "help"
        ]  # fmt: skip
        if actions:
            into = (
                target
                if group is source._optionals
                else target.add_argument_group(group.title, group.description)
            )
            for action in actions:
                into._add_action(action)


def _settings(args: argparse.Namespace) -> Settings:
    """Every ``Settings`` field the command has a flag for (the flags' dest is the field)."""
    return Settings(
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(Settings)
            if hasattr(args, f.name)
        }
    )


def _sweep(args: argparse.Namespace) -> int:
    done = sweep(
        args.content, args.style, args.grid, args.out, _settings(args),
        placement=placement_from_args(args), force=args.force, report=reporter(args.quiet),
        masks=args.masks, style_masks=args.style_masks,
    )  # fmt: skip
    return _summarise(done)


def _batch(args: argparse.Namespace) -> int:
    done = batch(
        expand(args.content), args.style, args.out, _settings(args),
        placement=placement_from_args(args), force=args.force, report=reporter(args.quiet),
    )  # fmt: skip
    return _summarise(done)


def _summarise(done: Written) -> int:
    print(f"{done.report.summary()}; wrote {', '.join(str(p) for p in done.files)}")
    return done.report.exit_code
