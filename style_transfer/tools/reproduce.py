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
import math
import os
from collections.abc import Callable
from pathlib import Path

from .. import data, jobs
from ..errors import InputError, ResourceError
from ..jobs import REUSED, SAVED, Job, Placement, run_jobs
from ..settings import Settings
from .figures import (
    DEFAULT_NETWORK,
    DEFAULT_RATIO_SCALE,
    FIGURES,
    PRIVATE,
    FigureSpec,
    figure_spec,
    layout,
    panel_settings,
)
from .tracked import DEFAULT_OUT, check_writable


def reusable(path: Path, settings: Settings, content: Path, style: Path) -> bool:
    """Whether ``path`` and its manifest exist and were made with exactly these settings
    and inputs (``jobs.reusable``, the one rule for every command that resumes)."""
    return jobs.reusable(Job(path.name, content, (style,), settings, path))


def reproduce(
    figure: str,
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    size: int = 512,
    iterations: int = 500,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = "arxiv",
    ratio_scale: float = DEFAULT_RATIO_SCALE,
    settings: Settings | None = None,
    force: bool = False,
    report: Callable[[str], None] = print,
    into_tracked: bool = False,
    placement: Placement | None = None,
) -> list[Path]:
    """Render ``figure`` (fig2, fig3, init or all) into ``out``; the figure files written.

    Panels go to ``out/FIGURE/KEY_STYLE.jpg`` with their manifests; the figure to
    ``out/FIGURE.jpg``. ``settings`` is the base (default: the paper preset); size,
    iterations and network override it. ``ratio_scale`` multiplies every alpha/beta.
    A folder with git-tracked files (the committed ``results/``) is refused unless
    ``into_tracked`` (``tracked.py``). ``placement``: where the panels run (default: here).
    Raises ``JobsFailedError`` if a panel failed (the others are rendered and their figures
    laid out), ``JobsInterruptedError`` after Ctrl-C (finished panels kept).
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
    check_writable(out, into_tracked)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    content = data.image_path("tubingen", images_dir)
    panels: list[tuple[FigureSpec, str, Job | None]] = []
    for spec in specs:
        (root / spec.name).mkdir(parents=True, exist_ok=True)
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
            settings = panel_settings(panel, base, ratio_scale)
            path = root / spec.name / panel.filename
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
            written += _lay_out(spec, results, root, content, images_dir, report)
    outcome.raise_if_unfinished()
    return written


def _lay_out(
    spec: FigureSpec, results: dict[str, Path | None], root: Path, content: Path,
    images_dir: str | os.PathLike | None, report: Callable[[str], None],
) -> list[Path]:  # fmt: skip
    """The figure, and a private one too when a non-shareable panel was rendered."""
    styles = {p.style: data.available([p.style], images_dir).get(p.style) for p in spec.panels}
    written = [layout(spec, results, content, styles, root / f"{spec.name}.jpg", private=False)]
    if any(PRIVATE in p.filename and results.get(p.key) for p in spec.panels):
        private = root / f"{spec.name}{PRIVATE}.jpg"
        written.append(layout(spec, results, content, styles, private, private=True))
    report(f"[{spec.name}] wrote {', '.join(str(p) for p in written)}")
    return written
