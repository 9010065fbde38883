"""Figures: the loss curves of a run and images side by side.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``),
never through pyplot's global state, so they work headless (files are rendered by
the Agg canvas), leak no open windows in long sessions, and still show inline in
Jupyter when returned from a cell. Files are written atomically, as images are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import replace_atomically
from .errors import InputError
from .images import ImageSource, load_image
from .outputs import loss_plot_path  # noqa: F401 (its home before outputs.py)

FIGURE_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
CLOSE_LOOK_HEIGHT = 4.2  # inches per picture (about 420 px) where pictures are compared closely


def _weights_of(history: object) -> tuple[Mapping[str, list[float]], dict[str, float]]:
    """The history dict and the weights (α, β, γ) of a ``Result`` or of a plain history."""
    manifest = getattr(history, "manifest", None)
    if manifest is not None:
        settings = manifest.get("settings", {})
        weights = {
            "content": float(settings.get("content_weight", 1.0)),
            "style": float(settings.get("style_weight", 1.0)),
            "tv": float(settings.get("tv_weight", 0.0)),
        }
        return history.history, weights  # type: ignore[attr-defined]
    return history, {}  # type: ignore[return-value]


def plot_losses(
    history: Mapping[str, Sequence[float]] | object,
    path: str | os.PathLike | None = None,
    *,
    content_weight: float | None = None,
    style_weight: float | None = None,
    tv_weight: float | None = None,
    title: str | None = None,
) -> Figure:
    """Loss per iteration on a log scale: total, α·content, β·style (and γ·tv if used).

    The weighted contributions are drawn, not the raw terms: they are what the total
    is the sum of, so the plot shows which term the optimiser is actually reducing.
    ``history`` is a ``Result`` (weights are read from its manifest) or a dict with
    ``total``, ``content``, ``style`` (and optionally ``tv``) lists, as in
    ``Result.history``; then pass the weights (default α = β = 1, γ = 0). Index 0 is
    the starting image. Terms whose weight is 0 are left out (log scale). With
    ``path`` the figure is also written there (atomically).
    """
    values, weights = _weights_of(history)
    for name, given in (("content", content_weight), ("style", style_weight), ("tv", tv_weight)):
        if given is not None:
            weights[name] = float(given)
    weights.setdefault("content", 1.0)
    weights.setdefault("style", 1.0)
    weights.setdefault("tv", 0.0)
    missing = [key for key in ("total", "content", "style") if key not in values]
    if missing:
        raise InputError(
            f"loss history has no {missing[0]!r} values; pass Result.history or a dict "
            "with total, content and style lists"
        )

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = figure.add_subplot()
    symbols = {"content": "α", "style": "β", "tv": "γ"}
    curves = [("total", np.asarray(values["total"], float), "total", "black")]
    for name, color in (("content", "tab:blue"), ("style", "tab:orange"), ("tv", "tab:green")):
        weight = weights[name]
        if name in values and weight != 0:
            label = f"{symbols[name]}·{name}  ({symbols[name]} = {weight:g})"
            curves.append((name, weight * np.asarray(values[name], float), label, color))
    for _, curve, label, color in curves:
        iterations = np.arange(len(curve))
        positive = curve > 0  # a log axis cannot show 0 (e.g. a perfect match)
        axes.plot(iterations[positive], curve[positive], label=label, color=color, lw=1.5)
    axes.set_yscale("log")
    axes.set_xlabel("iteration (0 = start)")
    axes.set_ylabel("loss (weighted contribution to the total)")
    axes.set_title(title or "loss per iteration", parse_math=False)  # a "$" in a file name
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(title="weighted terms; total = their sum", fontsize="small")
    if path is not None:
        save_figure(figure, path)
    return figure


def side_by_side(
    images: Sequence[ImageSource],
    titles: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    *,
    columns: int | None = None,
    image_height: float = 3.0,
) -> Figure:
    """Images next to each other (in rows of ``columns``), each with its title, no axes.

    ``images`` are paths, PIL images or arrays (anything ``transfer`` accepts).
    With ``path`` the figure is also written there (atomically).
    """
    if not images:
        raise InputError("no images to show; pass at least one image")
    if titles is not None and len(titles) != len(images):
        raise InputError(f"{len(images)} images but {len(titles)} titles; pass one title per image")
    arrays = [load_image(image, name=f"image {i + 1}") for i, image in enumerate(images)]
    columns = min(columns or len(arrays), len(arrays))
    rows = -(-len(arrays) // columns)
    aspect = max(a.shape[1] / a.shape[0] for a in arrays)
    figure = Figure(
        figsize=(columns * image_height * aspect, rows * (image_height + 0.35)),
        layout="constrained",
    )
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index < len(arrays):
            axes.imshow(np.clip(arrays[index], 0, 255).astype(np.uint8))
            if titles is not None:
                axes.set_title(titles[index], fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` atomically (a temporary file, then one rename)."""
    path = Path(os.fsdecode(path))
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise InputError(
            f"cannot write figure {str(path)!r}: unknown extension {path.suffix!r}; "
            f"use one of {' '.join(FIGURE_FORMATS)}"
        )
    if not path.resolve().parent.is_dir():
        raise InputError(
            f"cannot write figure {str(path)!r}: its folder does not exist; create it first"
        )
    with replace_atomically(path, name="figure") as handle:
        figure.savefig(handle, format=path.suffix.lstrip(".").lower(), dpi=dpi)
    return path
