"""The paper's figures as data (which panels, with which settings) and their labelled layout.

``fig2`` is arXiv Fig. 2 (CVPR Fig. 3), ``fig3`` the style-layer x alpha/beta grid (arXiv
Fig. 3), ``init`` CVPR Fig. 6 (content, style and four noise starts). The Picasso is not
public domain: its panel file is marked ``*.private.*`` and only a private figure shows it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import data, images
from ..errors import InputError
from ..settings import PAPER_STYLE_LAYERS, Settings

FIGURES = ("fig2", "fig3", "init")
RATIO_SOURCES = ("arxiv", "cvpr")
DEFAULT_RATIOS = RATIO_SOURCES[0]  # the arXiv paper's alpha/beta
# arXiv Fig. 2 / CVPR Fig. 3: panel -> (style image, alpha/beta arXiv, alpha/beta CVPR).
FIG2_PANELS = {
    "B": ("shipwreck", 1e-3, 1e-3),
    "C": ("starry_night", 1e-3, 8e-4),
    "D": ("the_scream", 1e-3, 5e-3),
    "E": ("seated_nude", 1e-4, 5e-4),
    "F": ("composition_vii", 1e-4, 5e-4),
}
FIG3_RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)
INIT_STYLE = "starry_night"  # CVPR Fig. 6's style is not given in our notes; see results/README
INIT_RATIO = 1e-3
INIT_SEEDS = (1, 2, 3, 4)
PRIVATE = ".private"  # file-name marker of anything derived from a non-shareable image
# What the alpha/beta study in results/README.md supports (see there for the numbers).
DEFAULT_NETWORK = "original"
CALIBRATED, PRINTED = "calibrated", "printed"  # --ratio-scale: k of the network, or 1
DEFAULT_RATIO_SCALE = CALIBRATED
NOT_CALIBRATED = "not yet calibrated"
PANEL_FORMATS = ("png", "jpg")  # png: lossless, so the file scores as optimised


@dataclass(frozen=True)
class RatioCalibration:
    """k: one factor on all of the paper's alpha/beta for a network, and how it was found.

    Found by ``python -m style_transfer reproduce calibrate --network NETWORK``
    (tools/calibrate.py): the k at which Figure 2 panel C, started from ``start``, meets
    ``criterion`` against the authors' method at the same size (our gatys-code render, or
    with ``--reference authors`` their screenshot), paper objective on that network:
    ``content``, its content loss equals the reference's; ``balance``, its content and style
    losses are the same multiple of the reference's. The calibrated figures start from
    ``start`` too, since k holds for that start only. Until measured, k = 1 (the printed
    alpha/beta) and the provenance says so.
    """

    k: float
    provenance: str  # command, date, size, iterations, the ratios and balance achieved
    start: str = "noise"  # the panels' start (Settings.init): noise (the paper's) or content
    criterion: str = "balance"  # what k matched (tools/calibrate.py CRITERIA)

    @property
    def measured(self) -> bool:
        return self.provenance != NOT_CALIBRATED


CALIBRATION: dict[str, RatioCalibration] = {
    "original": RatioCalibration(
        0.003,
        "python -m style_transfer reproduce calibrate --network original --size 512 "
        "--iterations 500 --reference gatys-code --criterion content --start content "
        "(2026-12-05, precision auto): panel C from the photo at k = 0.003 has 0.976 x the "
        "content loss (1.079 x the authors' output's) and 0.022 x the style loss of the "
        "gatys-code reference at 512 px; results/calibrate/original-512px-500it-content-start. "
        "From noise by the balance criterion it was 0.15 (2026-12-04, "
        "results/calibrate/original-512px-500it), against the authors' screenshot 0.6 "
        "(2026-12-03, results/calibration/original-512px-500it)",
        start="content",
        criterion="content",
    ),
    "normalised": RatioCalibration(
        3.3e-05,
        "python -m style_transfer reproduce calibrate --network normalised --size 512 "
        "--iterations 500 --reference gatys-code --k-start 3.3e-05 (2026-12-04, precision "
        "auto): panel C at k = 3.3e-05 has 0.312 x the content loss and 0.305 x the style "
        "loss of the gatys-code reference at 512 px (balance 1.021); "
        "results/calibrate/normalised-512px-500it. Against the authors' screenshot "
        "(--reference authors, 2026-12-03, history 20) it was 4.495e-05, "
        "results/calibration/normalised-512px-500it",
    ),
}
CONTENT_LABEL = "A  Neckarfront, Tübingen (photo: A. Praefcke, CC BY 3.0)"


@dataclass(frozen=True)
class Panel:
    """One optimised image of a figure: its style, settings overrides and labels."""

    key: str  # e.g. "B" or "r3c2"
    style: str  # registry name of the style image
    ratio: float  # the paper's alpha/beta for this panel (before any ratio_scale)
    label: str  # the title shown in the figure
    overrides: Mapping[str, object] = field(default_factory=dict)  # other Settings fields

    @property
    def filename(self) -> str:
        """The panel's file: PNG, lossless (``file_name("jpg")``: the old lossy panels)."""
        return self.file_name("png")

    def file_name(self, panel_format: str) -> str:
        private = "" if data.paper_image(self.style).shareable else PRIVATE
        return f"{self.key}_{self.style}{private}.{panel_format}"


@dataclass(frozen=True)
class FigureSpec:
    """A figure: its panels in reading order and its grid."""

    name: str
    title: str
    panels: tuple[Panel, ...]
    rows: int
    cols: int
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()
    content_panel: bool = False  # fig2: panel A is the photo itself


def _ratio(value: float) -> str:
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    return f"1e{exponent}" if math.isclose(mantissa, 1.0) else f"{mantissa:g}e{exponent}"


def _fig2(ratios: str) -> FigureSpec:
    panels = []
    for key, (style, arxiv, cvpr) in FIG2_PANELS.items():
        ratio = arxiv if ratios == "arxiv" else cvpr
        title = data.paper_image(style).title.split(", ", 1)
        panels.append(Panel(key, style, ratio, f"{key}  {title[-1]}  α/β = {_ratio(ratio)}"))
    source = "arXiv" if ratios == "arxiv" else "CVPR Fig. 3"
    return FigureSpec(
        "fig2", f"Figure 2 ({source} α/β)", tuple(panels), rows=2, cols=3, content_panel=True
    )


def _fig3(ratios: str) -> FigureSpec:
    rows = len(PAPER_STYLE_LAYERS)
    panels = tuple(
        Panel(f"r{row + 1}c{col + 1}", "composition_vii", ratio, "",
              {"style_layers": tuple(PAPER_STYLE_LAYERS[: row + 1])})
        for row in range(rows)
        for col, ratio in enumerate(FIG3_RATIOS)
    )  # fmt: skip
    return FigureSpec(
        "fig3",
        "Figure 3: style from conv1_1 up to conv5_1 (rows) × α/β (columns)",
        panels,
        rows=rows,
        cols=len(FIG3_RATIOS),
        row_labels=tuple("conv1_1" + (f" … conv{r + 1}_1" if r else "") for r in range(rows)),
        col_labels=tuple(f"α/β = {_ratio(r)}" for r in FIG3_RATIOS),
    )


def _init(ratios: str) -> FigureSpec:
    starts = [("content", {"init": "content"}), ("style", {"init": "style"})]
    starts += [(f"noise{seed}", {"init": "noise", "seed": seed}) for seed in INIT_SEEDS]
    panels = tuple(
        Panel(key, INIT_STYLE, INIT_RATIO, f"start: {key.replace('noise', 'noise, seed ')}", o)
        for key, o in starts
    )
    title = f"CVPR Fig. 6: different starts, α/β = {_ratio(INIT_RATIO)}"
    return FigureSpec("init", title, panels, rows=2, cols=3)


_SPECS = {"fig2": _fig2, "fig3": _fig3, "init": _init}


def figure_spec(name: str, ratios: str = DEFAULT_RATIOS) -> FigureSpec:
    """The panels of figure ``name`` (fig2, fig3 or init); ``ratios`` picks fig2's alpha/betas."""
    if ratios not in RATIO_SOURCES:
        raise InputError(f"unknown ratio source {ratios!r}; use arxiv or cvpr")
    if name not in _SPECS:
        raise InputError(f"unknown figure {name!r}; use one of {', '.join(FIGURES)} or all")
    return _SPECS[name](ratios)


def ratio_scale_value(choice: str | float, network: str) -> float:
    """The factor on the paper's alpha/beta: ``calibrated`` = the network's k (1 until it
    is measured), ``printed`` = 1, or a number > 0."""
    if choice == CALIBRATED:
        if network not in CALIBRATION:
            raise InputError(f"unknown network {network!r}; use {' or '.join(CALIBRATION)}")
        return CALIBRATION[network].k
    if choice == PRINTED:
        return 1.0
    try:
        value = float(choice)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0 or isinstance(choice, bool):
        raise InputError(
            f"ratio scale must be {CALIBRATED}, {PRINTED} or a finite number > 0, got {choice!r}"
        )
    return value


def folder_name(figure: str, choice: str | float) -> str:
    """Where a figure's panels go: ``fig2`` (calibrated, the default), ``fig2-printed``,
    or ``fig2-k0.3`` for another factor, so the variants sit side by side."""
    if choice == CALIBRATED:
        return figure
    if choice == PRINTED:
        return f"{figure}-{PRINTED}"
    return f"{figure}-k{float(choice):g}"


def start_suffix(start: str, usual: str = "noise") -> str:
    """What a folder's name gains when its panels start elsewhere than ``usual``."""
    return "" if start == usual else f"-{start}-start"


def panel_settings(panel: Panel, base: Settings, ratio_scale: float = 1.0) -> Settings:
    """The settings of one panel: ``base`` with the panel's alpha/beta (times ``ratio_scale``)."""
    return dataclasses.replace(
        base, ratio=panel.ratio * ratio_scale, content_weight=None, **dict(panel.overrides)
    )


# ------------------------------------------------------------------ layout


@dataclass(frozen=True)
class _Cell:
    label: str
    image: np.ndarray | None = None  # None: an empty grey panel
    inset: np.ndarray | None = None  # fig2: the style image in the corner


def _cells(spec: FigureSpec, results, content: Path, styles, private: bool) -> list[_Cell]:
    """What each grid cell shows; ``private`` figures show the non-shareable panels too."""
    cells = [_Cell(CONTENT_LABEL, images.load_image(content))] if spec.content_panel else []
    for panel in spec.panels:
        file = results.get(panel.key)
        if file is None:
            cells.append(_Cell(panel.label + "\n(not rendered: painting not available)"))
        elif not private and PRIVATE in file.name:
            cells.append(_Cell(panel.label + "\n(rendered locally only: not public domain)"))
        else:
            style = styles.get(panel.style) if spec.content_panel else None
            inset = images.load_image(style) if style is not None else None
            cells.append(_Cell(panel.label, images.load_image(file), inset))
    return cells


def _draw(ax, cell: _Cell) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if cell.image is not None:
        ax.imshow(cell.image.astype(np.uint8))
    else:
        ax.set_facecolor("0.92")
    if cell.label:
        ax.set_title(cell.label, fontsize=8)
    if cell.inset is not None:
        box = ax.inset_axes((0.0, 0.0, 0.28, 0.28))
        box.imshow(cell.inset.astype(np.uint8))
        box.set_xticks([])
        box.set_yticks([])


def _dpi(spec: FigureSpec, cells: list[_Cell]) -> int:
    """Each panel about as many pixels wide as the rendered images (at least 100 dpi); the
    content photo (full resolution on disk) does not count, or the figure balloons."""
    rendered = (cells[1:] if spec.content_panel else cells) or cells
    widest = max(0 if c.image is None else int(c.image.shape[1]) for c in rendered)
    return max(100, round(widest / 3.0))


def layout(spec: FigureSpec, results, content: Path, styles, path: Path, private: bool) -> Path:
    """One labelled figure of the rendered panels (``results``: key -> file or None),
    written atomically as a JPEG to ``path``; ``styles``: style name -> file or None."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cells = _cells(spec, results, content, styles, private)
    width = 3.2 * spec.cols + (1.2 if spec.row_labels or spec.col_labels else 0)
    figure = Figure(figsize=(width, 2.6 * spec.rows + 0.6), dpi=_dpi(spec, cells))
    FigureCanvasAgg(figure)
    axes = figure.subplots(spec.rows, spec.cols, squeeze=False)
    for ax, cell in zip(axes.flat, cells):
        _draw(ax, cell)
    for ax in list(axes.flat)[len(cells) :]:
        ax.axis("off")
    for row, text in enumerate(spec.row_labels):
        axes[row, 0].set_ylabel(text, fontsize=9)
    for col, text in enumerate(spec.col_labels):
        axes[0, col].set_title(text, fontsize=9)
    figure.suptitle(spec.title, fontsize=11)
    figure.tight_layout()
    figure.canvas.draw()
    return images.save_image(np.asarray(figure.canvas.buffer_rgba())[..., :3], path)
