"""What ``sweep`` and ``batch`` write beside the images: the table of every job's settings
and final losses (``table.csv``, ``table.json``) and ``sweep``'s labelled grid figure."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import replace_atomically
from .errors import InputError
from .jobs import JobsReport
from .manifest import write_json_atomic

if TYPE_CHECKING:  # sweep.py imports this module; Axis is for the type hints only
    from .sweep import Axis

GRID_FIGURE, TABLE = "grid.png", "table"


def write_table(report: JobsReport, out: str | os.PathLike, name: str = TABLE) -> list[Path]:
    """``NAME.csv`` and ``NAME.json`` in ``out``: each job's status, resolved settings,
    final losses, iterations and wall time (failed jobs: their error)."""
    rows = [_row(o) for o in report.outcomes]
    json_path = write_json_atomic(Path(out, f"{name}.json"), {"jobs": rows})
    columns = list(dict.fromkeys(key for row in rows for key in _flat(row)))
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_flat(row) for row in rows)
    csv_path = Path(out, f"{name}.csv")
    with replace_atomically(csv_path, text=True) as handle:
        handle.write(text.getvalue())
    return [csv_path, json_path]


def _row(outcome) -> dict:
    job, manifest = outcome.job, outcome.manifest or {}
    try:
        settings = job.settings.resolve().as_dict()
    except InputError:
        settings = {}
    return {
        "job": job.name,
        "image": str(job.output),
        "status": outcome.status,
        "error": outcome.error,
        "settings": manifest.get("settings", settings),
        "final_loss": manifest.get("final_loss", {}),
        "iterations": manifest.get("optimizer", {}).get("iterations"),
        "wall_time_s": manifest.get("wall_time_s"),
    }


def _flat(row: dict) -> dict:
    flat = {}
    for key, value in row.items():
        if key in ("settings", "final_loss"):
            prefix = "" if key == "settings" else "final_loss."
            for name, inner in value.items():
                flat[prefix + name] = (
                    json.dumps(inner, allow_nan=False) if isinstance(inner, (dict, list)) else inner
                )
        else:
            flat[key] = value
    return flat


def grid_figure(
    report: JobsReport, axes: Sequence[Axis], path: str | os.PathLike, title: str = ""
) -> Path:
    """The cells as a labelled grid, the last axis across, the others down (written atomically)."""
    from matplotlib.figure import Figure

    from . import images
    from .plots import save_figure

    cols = len(axes[-1].values) if axes else 1
    lead = list(itertools.product(*(range(len(a.values)) for a in axes[:-1])))
    rows = len(lead)
    figure = Figure(figsize=(2.4 * cols + 1.0, 2.4 * rows + 0.8), layout="constrained")
    grid = figure.subplots(rows, cols, squeeze=False)
    for index, (ax, outcome) in enumerate(zip(grid.flat, report.outcomes)):
        ax.set_xticks([])
        ax.set_yticks([])
        row, col = divmod(index, cols)
        if outcome.status in ("saved", "reused"):
            ax.imshow(images.load_image(outcome.job.output).astype(np.uint8))
            loss = (outcome.manifest or {}).get("final_loss", {}).get("total")
            if loss is not None and math.isfinite(loss):
                ax.set_xlabel(f"loss {loss:.3g}", fontsize=7)
        else:
            ax.set_facecolor("0.92")
            ax.text(0.5, 0.5, outcome.status, ha="center", va="center", transform=ax.transAxes)
        if row == 0 and axes:
            ax.set_title(f"{axes[-1].label} = {axes[-1].texts[col]}", fontsize=8)
        if col == 0 and lead and lead[row]:
            label = "\n".join(f"{a.label} = {a.texts[i]}" for a, i in zip(axes[:-1], lead[row]))
            ax.set_ylabel(label, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)
