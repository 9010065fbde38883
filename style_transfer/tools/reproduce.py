"""Render the paper's figures: every panel with ``api.transfer``, reused when already done.

``reproduce("fig2")`` renders every panel of arXiv Fig. 2 (see ``figures``), saves each on
its own with its manifest, and lays them out in one labelled figure. A panel whose image
and manifest already exist with exactly the same settings and inputs is reused, so an
interrupted reproduction resumes where it stopped; manifests written before a setting
existed match a request at that setting's default. The panels of every figure asked for are
one list of jobs (``jobs.py``): rendered here one after the other, or in parallel on Ray
with ``placement`` (``--workers N`` / ``--ray-address``).

The Picasso is not public domain: its panel is rendered only when the user has the
painting, is named ``*.private.*`` (never committed), and only ``fig2.private.jpg``
shows it; ``fig2.jpg`` leaves panel E empty.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from .. import data, jobs
from ..errors import InputError, ResourceError
from ..jobs import REUSED, SAVED, Job, Placement, run_jobs
from ..outputs import make_folder
from ..settings import Settings
from .figures import (
    CALIBRATED,
    CALIBRATION,
    DEFAULT_NETWORK,
    DEFAULT_RATIO_SCALE,
    DEFAULT_RATIOS,
    FIGURES,
    PANEL_FORMATS,
    PRIVATE,
    FigureSpec,
    figure_spec,
    folder_name,
    layout,
    panel_settings,
    ratio_scale_value,
    start_suffix,
)
from .tracked import DEFAULT_OUT, check_writable


def reusable(path: Path, settings: Settings, content: Path, style: Path) -> bool:
    """Whether ``path`` and its manifest exist and were made with exactly these settings
    and inputs (``jobs.reusable``, the one rule for every command that resumes)."""
    return jobs.reusable(Job(path.name, content, (style,), settings, path))


def render_panel(
    name: str, path: Path, settings: Settings, content: Path, style: Path,
    report: Callable[[str], None] = print,
) -> Path:  # fmt: skip
    """One panel with its manifest (reused when already done), here; raises if it failed."""
    run_jobs([Job(name, content, (style,), settings, path)], report=report).raise_if_unfinished()
    return path


def reproduce(
    figure: str,
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    size: int = Settings.size,
    iterations: int = Settings.iterations,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = DEFAULT_RATIOS,
    ratio_scale: str | float = DEFAULT_RATIO_SCALE,
    settings: Settings | None = None,
    force: bool = False,
    panel_format: str = "png",
    report: Callable[[str], None] = print,
    into_tracked: bool = False,
    placement: Placement | None = None,
) -> list[Path]:
    """Render ``figure`` (fig2, fig3, init or all) into ``out``; the figure files written.

    Panels go to ``out/FOLDER/KEY_STYLE.png`` with their manifests, the figure to
    ``out/FOLDER.jpg``; FOLDER is the figure's name for the calibrated alpha/beta, else
    ``FIGURE-printed`` or ``FIGURE-kK`` (``figures.folder_name``). ``settings`` is the base
    (default: the paper preset); size, iterations and network override it. ``ratio_scale``
    multiplies every alpha/beta: ``calibrated`` (the network's k, ``figures.CALIBRATION``),
    ``printed`` (1) or a number. The panels start where ``settings.init`` says, else from the
    start the calibrated k holds for (``RatioCalibration.start``) or, with another scale, from
    noise as the paper does; a start other than that default adds ``-START-start`` to FOLDER
    (the init figure's panels keep their own). Panels are PNG; ``panel_format="jpg"`` renders
    and reuses the old lossy JPEG panels instead. A JPEG panel is never reused for a PNG one. A
    folder with git-tracked files (the committed ``results/``) is refused unless
    ``into_tracked`` (``tracked.py``). ``placement``: where the panels run (default: here).
    Raises ``JobsFailedError`` if a panel failed (the others are rendered and their figures laid
    out), ``JobsInterruptedError`` after Ctrl-C (finished panels kept).
    """
    names = list(FIGURES) if figure == "all" else [figure]
    specs = [figure_spec(name, ratios) for name in names]  # validates the names first
    if panel_format not in PANEL_FORMATS:
        raise InputError(f"unknown panel format {panel_format!r}; use png (lossless) or jpg")
    scale = ratio_scale_value(ratio_scale, network)
    if ratio_scale == CALIBRATED:
        report(f"α/β: the paper's × k = {scale:g} ({network}: {CALIBRATION[network].provenance})")
    base = settings if settings is not None else Settings()
    base = dataclasses.replace(base, size=size, iterations=iterations, network=network)
    base.resolve()  # a bad size, iteration count or network fails before any work
    usual = CALIBRATION[network].start if ratio_scale == CALIBRATED else "noise"
    start = base.init or usual
    base = dataclasses.replace(base, init=start)
    if start != "noise":
        report(f"every panel starts from {start} (the init figure's keep their own)")
    check_writable(out, into_tracked)
    root = Path(out)
    make_folder(root)
    content = data.image_path("tubingen", images_dir)
    panels: list[tuple[FigureSpec, str, Job | None]] = []
    for spec in specs:
        folder = figure_folder(root, spec, ratio_scale, start, usual)
        make_folder(folder)
        for panel in spec.panels:
            name = f"{spec.name} {panel.key} {panel.style}"
            try:
                style = data.image_path(panel.style, images_dir)
            except ResourceError as error:
                if data.paper_image(panel.style).shareable:
                    raise
                report(f"[{name}] skipped, {error}")
                panels.append((spec, panel.key, None))
                continue
            settings = panel_settings(panel, base, scale)
            path = folder / panel.file_name(panel_format)
            panels.append((spec, panel.key, Job(name, content, (style,), settings, path)))
    resolved = base.resolve()
    report(
        f"[{', '.join(s.name for s in specs)}] {sum(j is not None for *_, j in panels)} panels, "
        f"{resolved.size} px, {resolved.iterations} iterations, {resolved.network} network"
    )
    todo = [job for *_, job in panels if job is not None]
    outcome = run_jobs(todo, placement, force=force, report=report)
    done = {o.job.output: o.status in (SAVED, REUSED) for o in outcome.outcomes}
    written = []
    for spec in specs:
        mine = [(key, job) for s, key, job in panels if s is spec]
        if all(job is None or done[Path(job.output).resolve()] for _, job in mine):
            results = {key: None if job is None else Path(job.output) for key, job in mine}
            folder = figure_folder(root, spec, ratio_scale, start, usual)
            shared = common_start(spec, start)
            title = figure_title(spec.title, scale, ratio_scale, resolved.network, shared)
            titled = dataclasses.replace(spec, title=title)
            written += _lay_out(titled, results, folder, content, images_dir, report)
            if spec.name == "fig3":
                written += _rows(titled, results, folder / "rows.md", report)
    outcome.raise_if_unfinished()
    return written


def common_start(spec: FigureSpec, start: str) -> str | None:
    """The start all of ``spec``'s panels share, or None where each brings its own (the
    init figure, whose panels override ``init``)."""
    return None if any("init" in panel.overrides for panel in spec.panels) else start


def figure_folder(
    root: Path, spec: FigureSpec, ratio_scale: str | float, start: str, usual: str
) -> Path:
    """Where ``spec``'s panels go: ``folder_name``, plus ``start_suffix`` when its panels
    share a start other than ``usual`` (the init figure's bring their own: no suffix)."""
    shared = common_start(spec, start)
    suffix = "" if shared is None else start_suffix(shared, usual)
    return root / (folder_name(spec.name, ratio_scale) + suffix)


def figure_title(
    title: str, scale: float, ratio_scale: str | float, network: str, start: str | None = None
) -> str:
    """The figure's title with how its alpha/beta were scaled, on which network and, when
    all panels share a start other than the paper's noise, that start: two figures of the
    same panels on the two networks look alike at a glance."""
    started = "" if start in (None, "noise") else f", from the {start} image"
    return f"{title}, {scaled(scale, ratio_scale)}, {network} network{started}"


def scaled(scale: float, ratio_scale: str | float) -> str:
    """How the figure's alpha/beta were scaled, for its title: the labels show the paper's."""
    if ratio_scale == CALIBRATED:
        return f"× k = {scale:g} (calibrated)"
    return "as printed" if scale == 1.0 else f"× {scale:g}"


def _lay_out(
    spec: FigureSpec, results: dict[str, Path | None], folder: Path, content: Path,
    images_dir: str | os.PathLike | None, report: Callable[[str], None],
) -> list[Path]:  # fmt: skip
    """The figure beside its panels' ``folder`` (``FOLDER.jpg``), and a private one too
    when a non-shareable panel was rendered."""
    styles = {p.style: data.available([p.style], images_dir).get(p.style) for p in spec.panels}
    public = folder.with_name(f"{folder.name}.jpg")
    written = [layout(spec, results, content, styles, public, private=False)]
    if any(PRIVATE in p.filename and results.get(p.key) for p in spec.panels):
        private = folder.with_name(f"{folder.name}{PRIVATE}.jpg")
        written.append(layout(spec, results, content, styles, private, private=True))
    report(f"[{spec.name}] wrote {', '.join(str(p) for p in written)}")
    return written


def _rows(
    spec: FigureSpec, results: dict[str, Path | None], path: Path,
    report: Callable[[str], None],
) -> list[Path]:  # fmt: skip
    """Figure 3's ``rows.md`` (``fig3_rows``); a secondary file: a failure is reported,
    never raised, so it cannot cost the panels or the figure."""
    from .fig3_rows import write_rows

    try:
        written = write_rows(spec, results, path)
    except (OSError, KeyError, ValueError) as error:
        report(f"[{spec.name}] {path.name} not written: {error}")
        return []
    report(f"[{spec.name}] wrote {written}")
    return [written]
