"""Loss curves and side-by-side figures: what is drawn, and how files are written."""

from __future__ import annotations

import json
import types

import numpy as np
import PIL.Image
import pytest

from style_transfer.errors import InputError
from style_transfer.plots import loss_plot_path, plot_losses, save_figure, side_by_side

HISTORY = {
    "total": [12.0, 6.0, 3.0],
    "content": [1000.0, 500.0, 0.0],  # 0 at the end: cannot be drawn on a log axis
    "style": [11.0, 5.5, 3.0],
    "tv": [7.0, 7.0, 7.0],
}


def _curves(figure) -> dict[str, np.ndarray]:
    axes = figure.axes[0]
    return {line.get_label(): np.asarray(line.get_ydata()) for line in axes.lines}


def test_loss_curves_are_the_weighted_terms_on_a_log_axis():
    figure = plot_losses(HISTORY, content_weight=1e-3, style_weight=1.0)
    curves = _curves(figure)
    assert figure.axes[0].get_yscale() == "log"
    assert set(curves) == {"total", "α·content  (α = 0.001)", "β·style  (β = 1)"}  # γ = 0: no tv
    np.testing.assert_allclose(curves["total"], [12.0, 6.0, 3.0])
    np.testing.assert_allclose(curves["α·content  (α = 0.001)"], [1.0, 0.5])  # the 0 is dropped
    np.testing.assert_allclose(curves["β·style  (β = 1)"], [11.0, 5.5, 3.0])
    assert "sum" in figure.axes[0].get_legend().get_title().get_text()


def test_weights_come_from_a_results_manifest_and_zero_weights_are_left_out():
    result = types.SimpleNamespace(
        history=HISTORY,
        manifest={"settings": {"content_weight": 0.0, "style_weight": 2.0, "tv_weight": 0.5}},
    )
    curves = _curves(plot_losses(result))
    assert set(curves) == {"total", "β·style  (β = 2)", "γ·tv  (γ = 0.5)"}
    np.testing.assert_allclose(curves["β·style  (β = 2)"], [22.0, 11.0, 6.0])
    np.testing.assert_allclose(curves["γ·tv  (γ = 0.5)"], [3.5, 3.5, 3.5])


def test_history_without_total_is_refused_in_one_line():
    with pytest.raises(InputError, match="no 'total'") as error:
        plot_losses({"content": [1.0], "style": [1.0]})
    assert "\n" not in str(error.value)


def test_loss_plot_is_written_atomically_next_to_the_output(tmp_path):
    target = loss_plot_path(tmp_path / "out.png")
    assert target == tmp_path / "out.loss.png"
    target.write_bytes(b"old")
    plot_losses(HISTORY, target)
    with PIL.Image.open(target) as image:
        assert image.format == "PNG" and image.size[0] > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.loss.png"]  # no temporary left


def test_save_figure_refuses_bad_extension_and_missing_folder(tmp_path):
    figure = plot_losses(HISTORY)
    with pytest.raises(InputError, match="extension"):
        save_figure(figure, tmp_path / "plot.xyz")
    with pytest.raises(InputError, match="does not exist"):
        save_figure(figure, tmp_path / "missing" / "plot.png")
    assert list(tmp_path.iterdir()) == []


def test_side_by_side_shows_each_image_with_its_title(tmp_path):
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 255
    gray = PIL.Image.new("L", (10, 10), 128)
    figure = side_by_side([red, gray], ["red", "gray"], tmp_path / "pair.png")
    shown = [axes for axes in figure.axes if axes.images]
    assert [axes.get_title() for axes in shown] == ["red", "gray"]
    np.testing.assert_array_equal(shown[0].images[0].get_array()[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(shown[1].images[0].get_array()[0, 0], [128, 128, 128])
    assert (tmp_path / "pair.png").stat().st_size > 0


def test_side_by_side_wraps_into_rows_and_checks_titles():
    squares = [np.full((8, 8, 3), v, np.uint8) for v in (0, 100, 200)]
    figure = side_by_side(squares, columns=2)
    assert len(figure.axes) == 4 and sum(bool(a.images) for a in figure.axes) == 3
    with pytest.raises(InputError, match="one title per image"):
        side_by_side(squares, ["a", "b"])
    with pytest.raises(InputError, match="at least one image"):
        side_by_side([])


def test_transfer_saves_the_loss_plot_and_records_it(tmp_path, tubingen, starry_night):
    import style_transfer as st

    output = tmp_path / "out.png"
    result = st.transfer(
        tubingen, starry_night, size=32, iterations=3, output=output, progress=False
    )
    manifest = json.loads((tmp_path / "out.png.json").read_text())
    assert manifest["output"]["loss_plot"] == str(tmp_path / "out.loss.png")
    assert result.manifest["output"]["loss_plot"] == str(tmp_path / "out.loss.png")
    with PIL.Image.open(tmp_path / "out.loss.png") as image:
        assert image.format == "PNG"
