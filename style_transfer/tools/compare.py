"""Published results and ours, scored under one objective: the Figure 2 comparison table.

``compare`` scores jcjohnson/neural-style's Figure 2 outputs and our rendered panels with
``api.score`` and writes ``comparison.md`` and ``comparison.json``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .. import data
from ..atomic import replace_atomically
from ..errors import ResourceError
from ..manifest import manifest_path, write_json_atomic
from ..settings import Settings
from .figures import DEFAULT_NETWORK, DEFAULT_RATIO_SCALE, figure_spec
from .tracked import DEFAULT_OUT, check_writable

# Panel -> jcjohnson/neural-style's published result (data.REFERENCE_OUTPUTS).
JCJOHNSON = {
    "B": "jcjohnson_shipwreck",
    "C": "jcjohnson_starry_night",
    "D": "jcjohnson_the_scream",
    "E": "jcjohnson_seated_nude",
    "F": "jcjohnson_composition_vii",
}


def references(images_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{panel: path}`` of the published results, found or fetched through the image
    registry (``IMAGES/reference_outputs/`` offline); the Picasso's only if supplied."""
    found = {}
    for key, name in JCJOHNSON.items():
        try:
            found[key] = data.reference_path(name, images_dir)
        except ResourceError:
            if data.REFERENCE_OUTPUTS[name].shareable:
                raise
    return found


def compare(
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = "arxiv",
    ratio_scale: float = DEFAULT_RATIO_SCALE,
    weights: str | None = None,
    calibration: str | None = None,
    report: Callable[[str], None] = print,
    into_tracked: bool = False,
) -> list[dict]:
    """Score jcjohnson/neural-style's Figure 2 and ours (``out/fig2``) under one objective.

    Every image is scored at its own size by ``api.score`` with the paper preset, the
    panel's alpha/beta (times ``ratio_scale``) and ``network``. Writes
    ``out/comparison.md`` and ``out/comparison.json``; returns the rows.
    """
    from ..api import score

    check_writable(out, into_tracked)
    published = references(images_dir)
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
        candidates = []
        if panel.key in published:
            candidates.append(("jcjohnson/neural-style (published)", published[panel.key]))
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
