"""Render the paper's figures: every panel with ``api.transfer``, reused when already done.

``reproduce("fig2")`` renders every panel of arXiv Fig. 2 (see ``figures``), saves each on
its own with its manifest, and lays them out in one labelled figure. A panel whose image
and manifest already exist with exactly the same settings and inputs is reused, so an
interrupted reproduction resumes where it stopped; manifests written before a setting
existed match a request at that setting's default.

The Picasso is not public domain: its panel is rendered only when the user has the
painting, is named ``*.private.*`` (never committed), and only ``fig2.private.jpg``
shows it; ``fig2.jpg`` leaves panel E empty.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from .. import data, images
from ..errors import InputError, ResourceError
from ..manifest import made_with, manifest_path
from ..optimize import Status
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
    """Whether ``path`` and its manifest exist and were made with exactly these settings."""
    record = manifest_path(path)
    if not (path.is_file() and record.is_file()):
        return False
    try:
        manifest = json.loads(record.read_text())
        inputs = manifest["inputs"]
        image_sha256 = manifest["output"].get("sha256")  # absent in manifests before it existed
        return (
            made_with(manifest, settings.resolve())
            and manifest["optimizer"]["status"] == Status.COMPLETED
            and image_sha256 in (None, images.image_digest(path))
            and inputs["content"]["sha256"] == images.image_digest(content)
            and inputs["style"]["sha256"] == images.image_digest(style)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


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
    progress: bool = True,
    report: Callable[[str], None] = print,
    into_tracked: bool = False,
) -> list[Path]:
    """Render ``figure`` (fig2, fig3, init or all) into ``out``; the figure files written.

    Panels go to ``out/FIGURE/KEY_STYLE.jpg`` with their manifests; the figure to
    ``out/FIGURE.jpg``. ``settings`` is the base (default: the paper preset); size,
    iterations and network override it. ``ratio_scale`` multiplies every alpha/beta.
    A folder with git-tracked files (the committed ``results/``) is refused unless
    ``into_tracked`` (``tracked.py``).
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
    written = []
    for spec in specs:
        folder = root / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        results: dict[str, Path | None] = {}
        for index, panel in enumerate(spec.panels, 1):
            where = f"[{spec.name} {index}/{len(spec.panels)}] {panel.key} {panel.style}"
            try:
                style = data.image_path(panel.style, images_dir)
            except ResourceError as error:
                if data.paper_image(panel.style).shareable:
                    raise
                report(f"{where}: skipped, {error}")
                results[panel.key] = None
                continue
            path = folder / panel.filename
            settings = panel_settings(panel, base, ratio_scale)
            if not force and reusable(path, settings, content, style):
                report(f"{where}: reusing {path}")
            else:
                render_panel(path, settings, content, style, where, progress, report)
            results[panel.key] = path
        written += _lay_out(spec, results, root, content, images_dir, report)
    return written


def render_panel(
    path: Path,
    settings: Settings,
    content: Path,
    style: Path,
    where: str = "",
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> Path:
    """One panel with its manifest; an InputError if it stopped before its last iteration."""
    from ..api import transfer

    resolved = settings.resolve()
    report(
        f"{where}: α/β = {resolved.ratio:.3g}, {len(resolved.style_layers)} style "
        f"layers, start {resolved.init}, {resolved.size} px, "
        f"{resolved.iterations} iterations, {resolved.network} network"
    )
    result = transfer(content, style, settings, output=path, progress=progress)
    if progress:
        print()
    if result.status != Status.COMPLETED:
        raise InputError(
            f"{where} stopped early ({result.stop_reason}); the image so far is saved, "
            "run the same command again to render it in full"
        )
    return path


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
