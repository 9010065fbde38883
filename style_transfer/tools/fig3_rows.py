"""How far apart Figure 3's rows are: does adding a style layer change the picture?

The paper says rows 4 and 5 (style up to conv4_1, up to conv5_1) differ. On the released
VGG19 weights conv5_1's E_l is orders of magnitude below conv4_1's, so adding it mostly
lowers every layer's weight from 1/4 to 1/5. ``row_changes`` measures it for every pair of
neighbouring rows and column from the saved panels and their manifests: the RMS pixel
difference (grey levels, 0..255) and the added layer's share of the deeper row's weighted
style loss. ``reproduce fig3`` writes the table beside its panels as ``rows.md``;
``python -m style_transfer.tools.fig3_rows FOLDER`` writes it for the panels a folder has
(e.g. two rows of one column rendered with ``transfer``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import images
from ..atomic import write_text
from ..manifest import manifest_path
from .figures import FigureSpec, figure_spec


def rms_difference(first: np.ndarray, second: np.ndarray) -> float:
    """Root-mean-square difference of two RGB images in grey levels (0..255)."""
    if first.shape != second.shape:
        raise ValueError(f"images differ in shape: {first.shape} and {second.shape}")
    diff = first.astype(np.float64) - second.astype(np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def added_layer_share(manifest: dict, layer: str) -> float:
    """``layer``'s part of the weighted style loss sum_l w_l E_l in a panel's manifest."""
    weights = manifest["settings"]["style_layers"]
    losses = manifest["final_loss"]
    total = sum(float(w) * float(losses[name]) for name, w in weights.items())
    return float(weights[layer]) * float(losses[layer]) / total


def _panel(path: Path) -> tuple[np.ndarray, dict]:
    manifest = json.loads(manifest_path(path).read_text())
    return images.load_image(path), manifest


def row_changes(spec: FigureSpec, panels: Mapping[str, Path]) -> list[dict]:
    """For rows r and r+1 in every column: RMS pixel difference, the added layer's share of
    row r+1's style loss, and row r+1's content and style loss over row r's. ``panels``:
    key (``r{row}c{col}``) -> saved panel, its manifest beside it; a pair with a panel
    missing is left out."""
    changes = []
    for row in range(1, spec.rows):
        for col in range(1, spec.cols + 1):
            pair = panels.get(f"r{row}c{col}"), panels.get(f"r{row + 1}c{col}")
            if None in pair:
                continue
            upper, upper_manifest = _panel(Path(pair[0]))
            lower, lower_manifest = _panel(Path(pair[1]))
            added = [
                layer
                for layer in lower_manifest["settings"]["style_layers"]
                if layer not in upper_manifest["settings"]["style_layers"]
            ]
            upper_loss, lower_loss = upper_manifest["final_loss"], lower_manifest["final_loss"]
            changes.append(
                {
                    "rows": (row, row + 1),
                    "column": col,
                    "ratio": spec.col_labels[col - 1] if spec.col_labels else "",
                    "added_layer": added[0],
                    "rms_difference": rms_difference(upper, lower),
                    "added_layer_share": added_layer_share(lower_manifest, added[0]),
                    "content_ratio": lower_loss["content"] / upper_loss["content"],
                    "style_ratio": lower_loss["style"] / upper_loss["style"],
                }
            )
    return changes


def rows_table(changes: list[dict]) -> str:
    """The changes as a markdown table."""
    lines = [
        "| rows | column | added layer | RMS pixel difference (0–255) "
        "| added layer's share of the style loss | content loss × | style loss × |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in changes:
        lines.append(
            f"| {c['rows'][0]} → {c['rows'][1]} | {c['ratio'] or c['column']} "
            f"| {c['added_layer']} | {c['rms_difference']:.1f} "
            f"| {c['added_layer_share']:.2%} | {c['content_ratio']:.3g} | {c['style_ratio']:.3g} |"
        )
    return "\n".join(lines) + "\n"


def write_rows(spec: FigureSpec, panels: Mapping[str, Path], path: str | Path) -> Path:
    """``path``: the table of ``row_changes``, written atomically."""
    title = f"# {spec.title}: what each added style layer changes\n\n"
    return write_text(path, title + rows_table(row_changes(spec, panels)))


def main(argv: list[str] | None = None) -> int:
    """``FOLDER/rows.md`` for the Figure 3 panels (``r{row}c{col}_STYLE.png``) in FOLDER."""
    [folder] = sys.argv[1:] if argv is None else argv
    if not Path(folder).is_dir():
        print(
            f"error: {folder} is not a folder; pass the folder holding the Figure 3 panels",
            file=sys.stderr,
        )
        return 2
    spec = figure_spec("fig3")
    found = {p.key: Path(folder) / p.filename for p in spec.panels}
    panels = {key: path for key, path in found.items() if path.is_file()}
    print(write_rows(spec, panels, Path(folder) / "rows.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
