"""Figure 3's row comparison (tools/fig3_rows.py) against hand-computed small cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from style_transfer import images
from style_transfer.manifest import manifest_path
from style_transfer.tools import fig3_rows
from style_transfer.tools.fig3_rows import (
    added_layer_share,
    rms_difference,
    row_changes,
    rows_table,
    write_rows,
)
from style_transfer.tools.figures import FigureSpec, Panel


def test_rms_difference_by_hand():
    first = np.zeros((2, 2, 3), np.float32)
    second = first.copy()
    second[0, 1, 2] = 6.0  # one value of twelve differs by 6: sqrt(36 / 12)
    assert math.isclose(rms_difference(first, second), math.sqrt(3.0))
    assert rms_difference(first, first) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        rms_difference(first, np.zeros((2, 3, 3)))


def _manifest(weights: dict[str, float], losses: dict[str, float]) -> dict:
    return {"settings": {"style_layers": weights}, "final_loss": losses}


def test_added_layer_share_by_hand():
    # w = 1/2 each: 0.5 * 30 / (0.5 * 10 + 0.5 * 30) = 0.75
    manifest = _manifest({"a": 0.5, "b": 0.5}, {"a": 10.0, "b": 30.0, "style": 20.0})
    assert math.isclose(added_layer_share(manifest, "b"), 0.75)
    assert math.isclose(added_layer_share(manifest, "a"), 0.25)


def _save(folder: Path, key: str, value: float, manifest: dict) -> Path:
    path = folder / f"{key}.png"
    images.save_image(np.full((4, 5, 3), value, np.float32), path)
    manifest_path(path).write_text(json.dumps(manifest))
    return path


def test_row_changes_and_table_from_saved_panels(tmp_path: Path):
    spec = FigureSpec(
        "fig3", "rows", tuple(Panel(f"r{r}c1", "composition_vii", 1e-3, "") for r in (1, 2)),
        rows=2, cols=1, col_labels=("α/β = 1e-3",),
    )  # fmt: skip
    panels = {
        "r1c1": _save(tmp_path, "r1c1", 100, _manifest(
            {"a": 1.0}, {"a": 8.0, "content": 2.0, "style": 8.0})),
        "r2c1": _save(tmp_path, "r2c1", 110, _manifest(
            {"a": 0.5, "b": 0.5}, {"a": 12.0, "b": 4.0, "content": 5.0, "style": 8.0})),
    }  # fmt: skip
    [change] = row_changes(spec, panels)
    assert change["rows"] == (1, 2) and change["added_layer"] == "b"
    assert math.isclose(change["rms_difference"], 10.0)  # every value 10 grey levels apart
    assert math.isclose(change["added_layer_share"], 0.25)  # 0.5 * 4 / (0.5 * 12 + 0.5 * 4)
    assert math.isclose(change["content_ratio"], 2.5)
    assert math.isclose(change["style_ratio"], 1.0)
    assert "| 1 → 2 | α/β = 1e-3 | b | 10.0 | 25.00% | 2.5 | 1 |" in rows_table([change])
    written = write_rows(spec, panels, tmp_path / "rows.md")
    assert "| 1 → 2 |" in written.read_text(encoding="utf-8")
    assert row_changes(spec, {"r1c1": panels["r1c1"]}) == []  # a pair with a panel missing


def test_main_writes_rows_for_the_panels_a_folder_has(tmp_path: Path):
    """Two rows of one column (as rendered with transfer): one pair, labelled by its column."""
    for row, value in ((4, 100), (5, 103)):
        layers = [f"l{i}" for i in range(1, row + 1)]  # E_l = 1, w_l = 1/row
        losses = dict.fromkeys([*layers, "content", "style"], 1.0)
        _save(tmp_path, f"r{row}c3_composition_vii", value, _manifest(
            dict.fromkeys(layers, 1 / row), losses))  # fmt: skip
    assert fig3_rows.main([str(tmp_path)]) == 0
    lines = (tmp_path / "rows.md").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if " → " in line] == [
        "| 4 → 5 | α/β = 1e-3 | l5 | 3.0 | 20.00% | 1 | 1 |"
    ]
