"""The paper's figures, regenerated: specs, the runs behind each panel, and the layout.

``reproduce("fig2")`` renders every panel of arXiv Fig. 2 (CVPR Fig. 3) with
``api.transfer``, saves each on its own with its manifest, and lays them out in one
labelled figure; ``fig3`` is the style-layer x alpha/beta grid (arXiv Fig. 3), ``init``
CVPR Fig. 6 (content, style and four noise starts). A panel whose image and manifest
already exist with exactly the same settings and inputs is reused, so an interrupted
reproduction resumes where it stopped. ``compare`` scores published results and ours
under the same objective.

The Picasso is not public domain: its panel is rendered only when the user has the
painting, is named ``*.private.*`` (never committed), and only ``fig2.private.jpg``
shows it; ``fig2.jpg`` leaves panel E empty.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data, images
from .atomic import replace_atomically
from .errors import InputError, ResourceError
from .manifest import manifest_path, write_json_atomic
from .settings import PAPER_STYLE_LAYERS, Settings

FIGURES = ("fig2", "fig3", "init")
RATIO_SOURCES = ("arxiv", "cvpr")
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
DEFAULT_RATIO_SCALE = 1.0


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
        private = "" if data.paper_image(self.style).shareable else PRIVATE
        return f"{self.key}_{self.style}{private}.jpg"


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


def figure_spec(name: str, ratios: str = "arxiv") -> FigureSpec:
    """The panels of figure ``name`` (fig2, fig3 or init); ``ratios`` picks fig2's alpha/betas."""
    if ratios not in RATIO_SOURCES:
        raise InputError(f"unknown ratio source {ratios!r}; use arxiv or cvpr")
    if name == "fig2":
        panels = []
        for key, (style, arxiv, cvpr) in FIG2_PANELS.items():
            ratio = arxiv if ratios == "arxiv" else cvpr
            title = data.paper_image(style).title.split(", ", 1)
            panels.append(Panel(key, style, ratio, f"{key}  {title[-1]}  α/β = {_ratio(ratio)}"))
        return FigureSpec(
            "fig2",
            f"Figure 2 ({'arXiv' if ratios == 'arxiv' else 'CVPR Fig. 3'} α/β)",
            tuple(panels),
            rows=2,
            cols=3,
            content_panel=True,
        )
    if name == "fig3":
        panels = []
        for row in range(len(PAPER_STYLE_LAYERS)):
            layers = PAPER_STYLE_LAYERS[: row + 1]
            for col, ratio in enumerate(FIG3_RATIOS):
                panels.append(
                    Panel(
                        f"r{row + 1}c{col + 1}",
                        "composition_vii",
                        ratio,
                        "",
                        {"style_layers": tuple(layers)},
                    )
                )
        return FigureSpec(
            "fig3",
            "Figure 3: style from conv1_1 up to conv5_1 (rows) × α/β (columns)",
            tuple(panels),
            rows=len(PAPER_STYLE_LAYERS),
            cols=len(FIG3_RATIOS),
            row_labels=tuple(
                "conv1_1" + (f" … conv{r + 1}_1" if r else "")
                for r in range(len(PAPER_STYLE_LAYERS))
            ),
            col_labels=tuple(f"α/β = {_ratio(r)}" for r in FIG3_RATIOS),
        )
    if name == "init":
        starts = [("content", {"init": "content"}), ("style", {"init": "style"})]
        starts += [(f"noise{seed}", {"init": "noise", "seed": seed}) for seed in INIT_SEEDS]
        panels = [
            Panel(key, INIT_STYLE, INIT_RATIO, f"start: {key.replace('noise', 'noise, seed ')}", o)
            for key, o in starts
        ]
        return FigureSpec(
            "init",
            f"CVPR Fig. 6: different starts, α/β = {_ratio(INIT_RATIO)}",
            tuple(panels),
            rows=2,
            cols=3,
        )
    raise InputError(f"unknown figure {name!r}; use one of {', '.join(FIGURES)} or all")


def panel_settings(panel: Panel, base: Settings, ratio_scale: float = 1.0) -> Settings:
    """The settings of one panel: ``base`` with the panel's alpha/beta (times ``ratio_scale``)."""
    return dataclasses.replace(
        base, ratio=panel.ratio * ratio_scale, content_weight=None, **dict(panel.overrides)
    )


def _reusable(path: Path, settings: Settings, content: Path, style: Path) -> bool:
    """Whether ``path`` and its manifest exist and were made with exactly these settings."""
    record = manifest_path(path)
    if not (path.is_file() and record.is_file()):
        return False
    try:
        manifest = json.loads(record.read_text())
        expected = json.loads(json.dumps(settings.resolve().as_dict()))
        recorded = _with_later_defaults(manifest["settings"])
        inputs = manifest["inputs"]
        image_sha256 = manifest["output"].get("sha256")  # absent in manifests before it existed
        return (
            recorded == expected
            and manifest["optimizer"]["status"] == "completed"
            and image_sha256 in (None, images.image_digest(path))
            and inputs["content"]["sha256"] == images.image_digest(content)
            and inputs["style"]["sha256"] == images.image_digest(style)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _with_later_defaults(recorded: dict) -> dict:
    """``recorded`` plus, at their defaults, the settings added since it was written.

    A setting added later (e.g. ``scales``, ``precision``) defaults to what the code did
    before it existed, so a panel rendered without it matches a request at that default.
    """
    defaults = json.loads(json.dumps(Settings().resolve().as_dict()))
    return {**{k: v for k, v in defaults.items() if k not in recorded}, **recorded}


Progress = Callable[[str], None]


def reproduce(
    figure: str,
    out: str | os.PathLike = "results",
    *,
    size: int = 512,
    iterations: int = 500,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = "arxiv",
    ratio_scale: float = DEFAULT_RATIO_SCALE,
    settings: Settings | None = None,
    force: bool = False,
    progress: bool = True,
    report: Progress = print,
) -> list[Path]:
    """Render ``figure`` (fig2, fig3, init or all) into ``out``; the figure files written.

    Panels go to ``out/FIGURE/KEY_STYLE.jpg`` with their manifests; the figure to
    ``out/FIGURE.jpg``. ``settings`` is the base (default: the paper preset); size,
    iterations and network override it. ``ratio_scale`` multiplies every alpha/beta.
    """
    names = list(FIGURES) if figure == "all" else [figure]
    specs = [figure_spec(name, ratios) for name in names]  # validates the names first
    if not (isinstance(ratio_scale, (int, float)) and math.isfinite(ratio_scale)) or (
        ratio_scale <= 0
    ):
        raise InputError(f"ratio scale must be a finite number > 0, got {ratio_scale!r}")
    base = settings if settings is not None else Settings()
    base = dataclasses.replace(base, size=size, iterations=iterations, network=network)
    base.resolve()  # a bad size, iteration count or network fails before any work
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    content = data.image_path("tubingen", images_dir)
    written = []
    for spec in specs:
        written += _render(
            spec, root, base, content, images_dir, ratio_scale, force, progress, report
        )
    return written


def _render(spec, root, base, content, images_dir, ratio_scale, force, progress, report):
    from .api import transfer

    folder = root / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Path | None] = {}
    total = len(spec.panels)
    for index, panel in enumerate(spec.panels, 1):
        where = f"[{spec.name} {index}/{total}] {panel.key} {panel.style}"
        try:
            style = data.image_path(panel.style, images_dir)
        except ResourceError as error:
            if data.paper_image(panel.style).shareable:
                raise
            report(f"{where}: skipped, {error}")
            results[panel.key] = None
            continue
        settings = panel_settings(panel, base, ratio_scale)
        path = folder / panel.filename
        if not force and _reusable(path, settings, content, style):
            report(f"{where}: reusing {path}")
        else:
            resolved = settings.resolve()
            report(
                f"{where}: α/β = {resolved.ratio:.3g}, {len(resolved.style_layers)} style "
                f"layers, start {resolved.init}, {resolved.size} px, "
                f"{resolved.iterations} iterations, {resolved.network} network"
            )
            result = transfer(content, style, settings, output=path, progress=progress)
            if progress:
                print()
            if result.status != "completed":
                raise InputError(
                    f"{where} stopped early ({result.stop_reason}); the image so far is saved, "
                    "run the same command again to render it in full"
                )
        results[panel.key] = path
    styles = {p.style: data.available([p.style], images_dir).get(p.style) for p in spec.panels}
    written = [_layout(spec, results, content, styles, root / f"{spec.name}.jpg", private=False)]
    if any(p.filename.count(PRIVATE) and results.get(p.key) for p in spec.panels):
        written.append(
            _layout(spec, results, content, styles, root / f"{spec.name}{PRIVATE}.jpg", True)
        )
    report(f"[{spec.name}] wrote {', '.join(str(p) for p in written)}")
    return written


def _layout(spec, results, content, styles, path: Path, private: bool) -> Path:
    """One labelled figure of the panels, written atomically as a JPEG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cells: list[tuple[str, np.ndarray | None, np.ndarray | None]] = []
    if spec.content_panel:
        cells.append(("A  Neckarfront, Tübingen (photo: A. Praefcke, CC BY 3.0)",
                      images.load_image(content), None))  # fmt: skip
    for panel in spec.panels:
        file = results.get(panel.key)
        shown = file is not None and (private or PRIVATE not in file.name)
        image = images.load_image(file) if shown else None
        inset = None
        if spec.content_panel and shown and styles.get(panel.style) is not None:
            inset = images.load_image(styles[panel.style])
        label = panel.label
        if not shown and file is None:
            label += "\n(not rendered: painting not available)"
        elif not shown:
            label += "\n(rendered locally only: not public domain)"
        cells.append((label, image, inset))

    grid = spec.row_labels or spec.col_labels
    width = 3.2 * spec.cols + (1.2 if grid else 0)
    # dpi: each panel about as many pixels wide as the rendered images (at least 100 dpi);
    # the content photo (full resolution on disk) does not count, or the figure balloons.
    rendered = cells[1:] if spec.content_panel else cells
    dpi = max(100, round(max(_width(image) for _, image, _ in rendered or cells) / 3.0))
    figure = Figure(figsize=(width, 2.6 * spec.rows + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(spec.rows, spec.cols, squeeze=False)
    for ax, (label, image, inset) in zip(axes.flat, cells):
        ax.set_xticks([])
        ax.set_yticks([])
        if image is not None:
            ax.imshow(image.astype(np.uint8))
        else:
            ax.set_facecolor("0.92")
        if label:
            ax.set_title(label, fontsize=8)
        if inset is not None:
            box = ax.inset_axes((0.0, 0.0, 0.28, 0.28))
            box.imshow(inset.astype(np.uint8))
            box.set_xticks([])
            box.set_yticks([])
    for ax in list(axes.flat)[len(cells) :]:
        ax.axis("off")
    for row, text in enumerate(spec.row_labels):
        axes[row, 0].set_ylabel(text, fontsize=9)
    for col, text in enumerate(spec.col_labels):
        axes[0, col].set_title(text, fontsize=9)
    figure.suptitle(spec.title, fontsize=11)
    figure.tight_layout()
    canvas = figure.canvas
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3]
    return images.save_image(pixels, path)


def _width(image: np.ndarray | None) -> int:
    return 0 if image is None else int(image.shape[1])


# ------------------------------------------------------------------ comparison


def reference_folder(images_dir: str | os.PathLike | None = None) -> Path:
    """``reference_outputs/`` inside the images folder (``--images`` or the env variable)."""
    folder = data.images_folder(images_dir)
    candidate = folder / "reference_outputs" if folder is not None else None
    if candidate is None or not candidate.is_dir():
        raise ResourceError(
            "published results not found: put jcjohnson_tubingen_<style>.png files (from "
            "github.com/jcjohnson/neural-style examples/outputs) in IMAGES/reference_outputs/ "
            f"and pass --images IMAGES (or set ${data.ENV_VAR})"
        )
    return candidate


JCJOHNSON = {
    "B": "jcjohnson_tubingen_shipwreck.png",
    "C": "jcjohnson_tubingen_starry.png",
    "D": "jcjohnson_tubingen_scream.png",
    "E": "jcjohnson_tubingen_seated_nude.png",
    "F": "jcjohnson_tubingen_composition_vii.png",
}


def compare(
    out: str | os.PathLike = "results",
    *,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = "arxiv",
    ratio_scale: float = DEFAULT_RATIO_SCALE,
    weights: str | None = None,
    calibration: str | None = None,
    report: Progress = print,
) -> list[dict]:
    """Score jcjohnson/neural-style's Figure 2 and ours (``out/fig2``) under one objective.

    Every image is scored at its own size by ``api.score`` with the paper preset, the
    panel's alpha/beta (times ``ratio_scale``) and ``network``. Writes
    ``out/comparison.md`` and ``out/comparison.json``; returns the rows.
    """
    from .api import score

    references = reference_folder(images_dir)
    content = data.image_path("tubingen", images_dir)
    spec = figure_spec("fig2", ratios)
    rows = []
    for panel in spec.panels:
        try:
            style = data.image_path(panel.style, images_dir)
        except ResourceError:
            continue
        settings = Settings(
            ratio=panel.ratio * ratio_scale,
            network=network,
            weights=weights,
            calibration=calibration,
        )
        candidates = [("jcjohnson/neural-style (published)", references / JCJOHNSON[panel.key])]
        candidates.append(("ours (the saved file)", Path(out) / "fig2" / panel.filename))
        for source, path in candidates:
            if not path.is_file():
                continue
            report(f"[compare] {panel.key} {panel.style}: scoring {path}")
            scored = score(path, content, style, settings)
            row = {
                "panel": panel.key,
                "style": panel.style,
                "source": source,
                "image": path.name,
                "size": scored["size"],
                "ratio": settings.ratio,
                "network": network,
                "content_loss": scored["content_loss"],
                "style_loss": scored["style_loss"],
                "total_loss": scored["total_loss"],
                "weighted_content": scored["content_weight"] * scored["content_loss"],
                "weighted_style": scored["style_weight"] * scored["style_loss"],
                "iterations": None,
                "wall_time_s": None,
            }
            record = manifest_path(path)
            if source.startswith("ours") and record.is_file():
                manifest = json.loads(record.read_text())
                row["iterations"] = manifest["optimizer"]["iterations"]
                row["wall_time_s"] = manifest["wall_time_s"]
                rows.append(row)
                optimised = _as_optimised(row, manifest, settings)
                if optimised is not None:
                    rows.append(optimised)
                continue
            rows.append(row)
    if not rows:
        raise ResourceError(
            "nothing to compare: no published result or Figure 2 panel found; "
            "run 'python -m style_transfer reproduce fig2' first"
        )
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / "comparison.json", {"rows": rows})
    table = comparison_table(rows)
    _write_text(root / "comparison.md", table)
    report(table)
    return rows


def _as_optimised(row: dict, manifest: dict, settings: Settings) -> dict | None:
    """The run's own final losses (float image, before 8-bit/JPEG saving) as a table row,
    if the run used the same objective as the comparison; else None."""
    used, wanted = manifest["settings"], settings.resolve()
    same = (
        used["network"] == wanted.network
        and math.isclose(used["content_weight"], wanted.content_weight)
        and math.isclose(used["style_weight"], wanted.style_weight)
        and used["preset"] == wanted.preset
        and used["pooling"] == wanted.pooling
    )
    if not same:
        return None
    final = manifest["final_loss"]
    return {
        **row,
        "source": "ours (as optimised, from its manifest)",
        "content_loss": final["content"],
        "style_loss": final["style"],
        "total_loss": final["total"],
        "weighted_content": wanted.content_weight * final["content"],
        "weighted_style": wanted.style_weight * final["style"],
    }


def comparison_table(rows: Sequence[Mapping]) -> str:
    """The rows as a Markdown table (losses unweighted; total = α·content + β·style)."""
    lines = [
        "| panel | source | α/β | content loss | style loss | total | α·content / total "
        "| iterations | wall time (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        share = row["weighted_content"] / row["total_loss"] if row["total_loss"] else float("nan")
        lines.append(
            f"| {row['panel']} {row['style']} | {row['source']} | {row['ratio']:.3g} "
            f"| {row['content_loss']:.4g} | {row['style_loss']:.4g} | {row['total_loss']:.4g} "
            f"| {share:.2f} | {row['iterations'] if row['iterations'] is not None else '—'} "
            f"| {row['wall_time_s'] if row['wall_time_s'] is not None else '—'} |"
        )
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> None:
    with replace_atomically(path, text=True) as handle:
        handle.write(text)
