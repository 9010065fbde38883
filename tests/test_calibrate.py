"""Calibration of k against the authors' output, the size check, parity, lossless panels.

Everything at 32-48 px and a few iterations, offline (../shared images and weights).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from style_transfer import api, cli, data
from style_transfer.errors import InputError
from style_transfer.manifest import manifest_path
from style_transfer.settings import Settings
from style_transfer.tools import calibrate, compare, figures, parity, reproduce
from style_transfer.tools.calibrate import Step, next_k, search

# ------------------------------------------------------------------ the search, no renders


def power_law(target: float, exponent: float = -0.3, scale: float = 1e9):
    """A monotone stand-in for a render: L_content = scale * k^exponent, L_style = 1 = the
    target's, so the balance is L_content / target."""
    made: list[float] = []

    def measure(k: float) -> Step:
        made.append(k)
        return Step(k, scale * k**exponent, 1.0, target, 1.0)

    return measure, made


@pytest.mark.parametrize("root", [1e-3, 0.37, 1.0, 6.0, 400.0])
def test_search_brackets_and_converges_within_its_step_bound(root):
    target = 1e9 * root**-0.3
    measure, made = power_law(target, exponent=-0.3)
    steps, converged = search(measure, start=1.0, tolerance=0.05, max_steps=8, report=print)
    assert converged and len(made) <= 8
    assert abs(steps[-1].balance - 1) <= 0.05
    # the found k gives the target within the tolerance when measured again
    assert abs(measure(steps[-1].k).balance - 1) <= 0.05
    if root not in (1.0,):  # the start itself was off: the search had to move k
        assert len(made) >= 2 and made[0] == 1.0


def test_search_uses_known_steps_and_stops_at_its_bound():
    target = 1e9 * 50.0**-0.3
    measure, made = power_law(target)
    known = [Step(48.0, 1e9 * 48.0**-0.3, 1.0, target, 1.0, reused=True)]
    steps, converged = search(measure, known, max_steps=3, report=print)
    assert converged and made == [] and steps == known  # 48 is within 5% of the target already
    # nearly flat, the root at k = 1e6: two renders (each at most 100x) cannot reach it
    slow, made = power_law(1e9 * 1e6**-0.01, exponent=-0.01)
    _, converged = search(slow, max_steps=2, report=print)
    assert not converged and len(made) == 2
    with pytest.raises(InputError, match="at least 1"):
        search(slow, max_steps=0)


def test_a_bracket_is_kept_and_a_non_monotone_response_refused():
    target = 1.0
    low, high = Step(0.1, 2.0, 1, target, 1), Step(10.0, 0.5, 1, target, 1)  # root between
    k = next_k([low, high])
    assert 0.1 * 10 ** (0.1 * 2) <= k <= 10 / 10 ** (0.1 * 2)  # kept 10% inside (log k)
    with pytest.raises(InputError, match="does not fall as k rises"):
        next_k([Step(0.1, 0.5, 1, target, 1), Step(10.0, 2.0, 1, target, 1)])


def test_the_content_criterion_converges_on_the_content_ratio_alone():
    content_only = Step(1.0, 1.02e10, 5e4, 1e10, 1e6, criterion="content")
    assert content_only.measure == pytest.approx(1.02) and content_only.balance > 20
    steps, converged = search(lambda k: pytest.fail("rendered"), [content_only], report=print)
    assert converged and steps == [content_only]
    assert Step(1.0, 1.02e10, 5e4, 1e10, 1e6).measure == pytest.approx(20.4)  # the balance


def test_the_balance_is_the_ratio_of_the_two_ratios():
    """Content 2x theirs and style 0.5x theirs: balance 4 (too stylised: raise k); both
    losses 0.3x theirs (better on both terms by the same factor): balance 1, found."""
    assert Step(1.0, 2.0, 0.5, 1.0, 1.0).balance == pytest.approx(4.0)
    same = Step(1.0, 0.3 * 5e6, 0.3 * 0.14, 5e6, 0.14)
    assert same.balance == pytest.approx(1.0) and same.content_ratio == pytest.approx(0.3)
    steps, converged = search(lambda k: pytest.fail("rendered"), [same], report=print)
    assert converged and steps == [same]


# ------------------------------------------------------------------ real renders, tiny

SIZE, ITERATIONS = 32, 10


def test_the_authors_output_is_cropped_out_of_the_screenshot(images_dir: Path):
    picture = compare.authors_output(images_dir)
    assert picture.shape == (418, 557, 3)
    assert compare.authors_output(images_dir, 512).shape == (384, 512, 3)
    # the frame's dark line is outside, the painting's colours inside
    assert picture[0].mean() > 40 and picture[:, 0].mean() > 40
    high = compare.authors_output(images_dir, render=compare.AUTHORS_HR_RENDER)
    assert high.shape == (418, 557, 3)  # its frame is one row lower: all four edges inside
    for edge in (high[0], high[-1], high[:, 0], high[:, -1]):
        assert edge.mean() > 40


def calibrated_towards(
    tmp_path: Path, images_dir: Path, start: str, k: float, criterion: str, style_factor=1.0
) -> tuple[Settings, tuple[float, float], dict, list[str]]:
    """``calibrate`` from k = 1 towards panel C's losses at ``k`` (its style loss times
    ``style_factor``), at 32 px, 30 iterations (at 10 it hardly responds to k)."""
    base = Settings(size=SIZE, iterations=30, init=start)
    made = calibrate.PanelC(base, tmp_path / "goal", (1.0, 1.0), images_dir)(k)
    goal = made.content_loss, made.style_loss * style_factor
    lines: list[str] = []
    record = calibrate.calibrate(
        tmp_path, base, images_dir=images_dir, criterion=criterion, k_start=1.0, goal=goal,
        max_steps=6, report=lines.append,
    )  # fmt: skip
    assert record["converged"], lines
    return base, goal, record, lines


@pytest.mark.slow
def test_calibration_end_to_end_finds_a_k_that_reproduces_the_target(
    tmp_path: Path, images_dir: Path
):
    # a target the search must move k to reach: panel C's losses at k = 0.3
    base, goal, record, lines = calibrated_towards(tmp_path, images_dir, "noise", 0.3, "balance")
    steps = record["steps"]
    assert steps[0]["k"] == 1.0 and steps[0]["balance"] < 0.95  # started off the target
    assert 0.1 < record["k"] < 1.0
    assert 2 <= len(steps) <= 6 and abs(steps[-1]["balance"] - 1) <= 0.05
    folder = calibrate.calibration_folder(tmp_path, "original", SIZE, 30)
    assert record["reference"] == "gatys-code"  # the default
    assert json.loads((folder / "calibration-gatys-code.json").read_text()) == record
    assert (folder / "calibration-gatys-code.md").read_text().count("\n") == 2 + len(steps)
    assert (folder / "calibration-gatys-code.jpg").stat().st_size > 0  # renders side by side
    assert f"RatioCalibration({record['k']:g}" in lines[-1]
    # rendered again from scratch, the found k gives the target within the tolerance
    again = calibrate.PanelC(base, tmp_path / "again", goal, images_dir)(record["k"])
    assert not again.reused and abs(again.balance - 1) <= 0.05
    # the command again: every render reused, nothing new
    lines.clear()
    rerun = calibrate.calibrate(
        tmp_path, base, images_dir=images_dir, criterion="balance", goal=goal,
        report=lines.append,
    )  # fmt: skip
    assert rerun["k"] == record["k"] and all(s["reused"] for s in rerun["steps"])


@pytest.mark.slow
def test_the_content_criterion_from_the_photo_matches_the_content_loss(
    tmp_path: Path, images_dir: Path
):
    """Issue 13's criterion: panel C, started from the photo, has the target's content loss;
    its renders start from the photo and live apart from the noise starts'."""
    # panel C's content loss at k = 0.01 with a style loss no k gives with it
    _, _, record, lines = calibrated_towards(tmp_path, images_dir, "content", 0.01, "content", 50)
    assert record["criterion"].startswith("content") and record["start"] == "content"
    last = record["steps"][-1]
    assert abs(last["content_ratio"] - 1) <= 0.05 and last["measure"] == last["content_ratio"]
    assert last["style_ratio"] < 0.5  # found on the content loss alone, not the balance
    assert record["steps"][0]["content_ratio"] < 0.95  # k = 1 was too photographic
    folder = calibrate.calibration_folder(tmp_path, "original", SIZE, 30, "content")
    assert folder.name.endswith("-content-start")
    assert (folder / "calibration-gatys-code.json").is_file()
    for step in record["steps"]:
        assert Path(step["image"]).parent == folder
        assert json.loads(manifest_path(step["image"]).read_text())["settings"]["init"] == "content"
    assert '"content", "content")' in lines[-1]  # the line to record carries start and criterion


@pytest.mark.slow
def test_the_default_reference_is_gatys_code_rendered_at_the_panels_size(
    tmp_path: Path, images_dir: Path
):
    base = Settings(size=SIZE, iterations=3, lbfgs_history=3)
    record = calibrate.calibrate(
        tmp_path, base, images_dir=images_dir, k_start=0.5, max_steps=1, report=lambda line: None
    )
    recorded = figures.CALIBRATION["original"]  # unset, the recorded procedure is rerun
    assert record["start"] == recorded.start
    assert record["criterion"] == calibrate.CRITERIA[recorded.criterion]
    reference = Path(record["reference_image"])
    made = json.loads(manifest_path(reference).read_text())
    assert made["preset"] == "gatys-code" and made["settings"]["size"] == SIZE
    assert made["settings"]["lbfgs_history"] == 3 and made["settings"]["iterations"] == 3
    # the target is that render scored under the paper objective, at its own size
    content = data.image_path("tubingen", images_dir)
    style = data.image_path("starry_night", images_dir)
    scored = api.score(reference, content, style, Settings())
    assert record["target"] == {
        "content_loss": scored["content_loss"],
        "style_loss": scored["style_loss"],
    }
    step = record["steps"][0]
    assert step["content_target"] == scored["content_loss"]
    assert step["balance"] == pytest.approx(
        (step["content_loss"] / scored["content_loss"])
        / (step["style_loss"] / scored["style_loss"])
    )
    # the size check reuses the same reference render rather than making another
    rows = calibrate.check_sizes(
        tmp_path, base, [SIZE], images_dir=images_dir, ratio_scale=0.5, report=lambda line: None
    )
    assert rows[0]["gatys_code"]["image"] == str(reference)
    assert rows[0]["balance"] == pytest.approx(step["balance"])
    with pytest.raises(InputError, match="unknown reference"):
        calibrate.calibrate(tmp_path, base, images_dir=images_dir, reference="theirs")


@pytest.mark.slow
def test_the_target_is_the_authors_output_scored_at_the_panels_size(images_dir: Path):
    scored = calibrate.target(Settings(size=48), images_dir)
    assert scored["size"] == [48, 36] and scored["content_loss"] > 0


@pytest.fixture(scope="module")
def calibrated_fig2(images_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """fig2 at 32 px, 2 iterations, with a recorded k = 0.3 (the constant patched)."""
    out = tmp_path_factory.mktemp("calibrated")
    patch = pytest.MonkeyPatch()
    recorded = figures.RatioCalibration(0.3, "test value", start="content", criterion="content")
    patch.setitem(figures.CALIBRATION, "original", recorded)
    lines: list[str] = []
    try:
        args = cli.build_parser().parse_args(["reproduce", "fig2"])
        assert args.ratio_scale == figures.CALIBRATED and args.panel_format == "png"
        reproduce.reproduce(
            "fig2", out, size=SIZE, iterations=2, images_dir=images_dir,
            ratio_scale=args.ratio_scale, report=lines.append,
        )  # fmt: skip
        reproduce.reproduce(
            "fig2", out, size=SIZE, iterations=2, images_dir=images_dir,
            ratio_scale="printed", report=lines.append,
        )  # fmt: skip
        start = cli.build_parser().parse_args(["reproduce", "fig2", "--start", "noise"]).start
        reproduce.reproduce(
            "fig2", out, size=SIZE, iterations=2, images_dir=images_dir,
            settings=Settings(init=start), report=lines.append,
        )  # fmt: skip
    finally:
        patch.undo()
    return out, lines


@pytest.mark.slow
def test_the_calibrated_ratios_are_the_default_and_recorded(calibrated_fig2):
    out, lines = calibrated_fig2
    assert "k = 0.3 (original: test value)" in lines[0]
    # the calibrated panels start where k was calibrated (the photo), the printed from noise;
    # the calibrated k from another start goes into a folder of its own
    cases = (
        ("fig2", 0.3, "content"),
        ("fig2-printed", 1.0, "noise"),
        ("fig2-noise-start", 0.3, "noise"),
    )
    for folder, k, start in cases:
        for panel in figures.figure_spec("fig2").panels:
            path = out / folder / panel.filename
            if panel.style == "seated_nude" and not path.exists():
                continue
            assert path.suffix == ".png"
            settings = json.loads(manifest_path(path).read_text())["settings"]
            assert settings["init"] == start, (folder, panel.key)
            assert settings["ratio"] == pytest.approx(panel.ratio * k)
            assert settings["content_weight"] == pytest.approx(panel.ratio * k * (512 / SIZE) ** 2)
    for figure in ("fig2", "fig2-printed", "fig2-noise-start"):
        assert (out / f"{figure}.jpg").is_file(), figure


@pytest.mark.slow
def test_a_saved_png_panel_scores_as_its_manifest(calibrated_fig2, images_dir: Path):
    out, _ = calibrated_fig2
    path = out / "fig2" / "C_starry_night.png"
    manifest = json.loads(manifest_path(path).read_text())
    scored = api.score(path, images_dir / "tubingen.jpg", images_dir / "starry_night.jpg",
                       ratio=manifest["settings"]["ratio"])  # fmt: skip
    final = manifest["final_loss"]
    assert scored["content_loss"] == pytest.approx(final["content"], rel=0.02)
    assert scored["style_loss"] == pytest.approx(final["style"], rel=0.02)
    assert scored["total_loss"] == pytest.approx(final["total"], rel=0.02)


@pytest.mark.slow
def test_a_jpeg_panel_is_never_reused_for_a_png_one(calibrated_fig2, images_dir, tmp_path):
    out, _ = calibrated_fig2
    panel = figures.figure_spec("fig2").panels[1]
    png = out / "fig2-printed" / panel.filename
    jpeg = tmp_path / panel.file_name("jpg")
    jpeg.write_bytes(png.read_bytes())
    manifest_path(jpeg).write_text(manifest_path(png).read_text())
    assert jpeg.suffix == ".jpg" and png.suffix == ".png"
    request = figures.panel_settings(panel, Settings(size=SIZE, iterations=2), 1.0)
    content, style = images_dir / "tubingen.jpg", images_dir / "starry_night.jpg"
    assert reproduce.reusable(png, request, content, style)
    assert not reproduce.reusable(tmp_path / panel.filename, request, content, style)


@pytest.mark.slow
def test_compare_has_calibrated_printed_published_and_the_authors(calibrated_fig2, images_dir):
    out, _ = calibrated_fig2
    rows = compare.compare(out, images_dir=images_dir, report=lambda line: None)
    c_rows = {row["source"]: row for row in rows if row["panel"] == "C"}
    assert set(c_rows) == {
        "ours (calibrated α/β)", "ours (printed α/β)", "jcjohnson/neural-style (published)",
        "the authors' notebook",
    }  # fmt: skip
    authors = c_rows["the authors' notebook"]
    assert authors["size"] == [512, 384] and authors["stylisation"] == 1.0
    ours = c_rows["ours (calibrated α/β)"]
    assert ours["stylisation"] == pytest.approx(ours["content_loss"] / authors["content_loss"])
    assert ours["ratio"] == pytest.approx(0.3e-3) and ours["manifest_loss"]["content"] > 0
    assert all(row["stylisation"] is None for row in rows if row["panel"] != "C")
    assert (out / "comparison.md").read_text().count("\n") == 2 + len(rows)


@pytest.mark.slow
def test_parity_renders_gatys_code_and_scores_both_images_both_ways(tmp_path, images_dir):
    assert parity.notebook_size(images_dir) == 682  # 1024 x 768 at shorter side 512
    record = parity.parity(
        tmp_path, Settings(iterations=2, lbfgs_history=4), images_dir=images_dir, size=48,
        report=lambda line: None,
    )  # fmt: skip
    rows = record["rows"]
    resampled = [("ours,", method) for method in parity.SCREENSHOT_FILTERS]
    expected = [("ours", ""), *resampled, ("the", "")]
    assert [(r["image"].split()[0], r["scored_as"]) for r in rows] == [
        (first, preset) for first, _ in expected for preset in ("paper", "gatys-code")
    ]
    for (_, method), row in zip(resampled, rows[2:10:2]):
        assert f"by {method}" in row["image"] and "557 × 418" in row["image"]
    assert all(r["size"] == [512, 384] for r in rows)
    theirs = rows[-2]  # the authors' output, paper objective
    for row in rows[:-2:2]:
        assert row["content_vs_authors"] == pytest.approx(
            row["content_loss"] / theirs["content_loss"]
        )
    # the resampling changes what is scored: not the same losses as ours unresampled
    assert len({round(r["style_loss"], 3) for r in rows[:-2:2]}) == 5
    manifest = json.loads(manifest_path(record["ours"]).read_text())
    assert manifest["preset"] == "gatys-code" and manifest["settings"]["size"] == 48
    assert manifest["settings"]["lbfgs_history"] == 4  # --lbfgs-history reaches the render
    for name in ("parity.md", "parity.json", "parity.jpg"):
        assert (tmp_path / "parity" / name).is_file()


def test_as_screenshot_resamples_as_pil_nearest_does():
    """PIL's nearest takes source pixel floor((i + 0.5) * H / h): an independent formula,
    checked away from exact ties (PIL sums the step, so a tie may round either way)."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, size=(512, 682, 3)).astype(np.float32)
    shot = parity.as_screenshot(picture, (418, 557), "nearest")
    centres = [(np.arange(n) + 0.5) * big / n for n, big in ((418, 512), (557, 682))]
    rows, cols = (np.floor(c).astype(int) for c in centres)
    clear = [np.abs(c - np.round(c)) > 1e-6 for c in centres]
    assert clear[0].sum() >= 410 and clear[1].sum() >= 550
    np.testing.assert_array_equal(
        shot[clear[0]][:, clear[1]], picture[rows[clear[0]]][:, cols[clear[1]]]
    )
    box = parity.as_screenshot(np.full((8, 8, 3), 100.0), (5, 5), "box")
    np.testing.assert_allclose(box, 100.0)  # a flat picture stays flat under any filter


@pytest.mark.slow
@pytest.mark.parametrize("criterion, start", [(None, None), ("balance", "noise")])
def test_check_sizes_tabulates_panel_c_against_gatys_code(tmp_path, images_dir, criterion, start):
    """Unset, the check measures by the recorded criterion from the recorded start."""
    recorded = figures.CALIBRATION["original"]
    rows = calibrate.check_sizes(
        tmp_path, Settings(iterations=2, lbfgs_history=3, init=start), [32, 48],
        images_dir=images_dir, ratio_scale=1.0, criterion=criterion, report=lambda line: None,
    )  # fmt: skip
    criterion, start = criterion or recorded.criterion, start or recorded.start
    assert [r["size"] for r in rows] == [32, 48]
    for row in rows:
        assert (row["criterion"], row["start"]) == (criterion, start)
        for image in (row["panel_c"]["image"], row["gatys_code"]["image"]):  # both runs alike
            settings = json.loads(manifest_path(image).read_text())["settings"]
            assert settings["lbfgs_history"] == 3, image
        ours = json.loads(manifest_path(row["panel_c"]["image"]).read_text())["settings"]
        assert ours["init"] == start
        assert row["content_ratio"] == pytest.approx(
            row["panel_c"]["content_loss"] / row["gatys_code"]["content_loss"]
        )
        assert row["balance"] == pytest.approx(row["content_ratio"] / row["style_ratio"])
        measure = row["content_ratio"] if criterion == "content" else row["balance"]
        assert row["within"] == (0.85 <= measure <= 1.15)
    name = "check-sizes-original" + ("" if start == "noise" else "-content-start")
    table = (tmp_path / "calibrate" / f"{name}.md").read_text()
    assert table.count("\n") == 4 and f"| {start} |" in table
    # the renders side by side: the authors' two renders, then one row per size
    with Image.open(tmp_path / "calibrate" / f"{name}.jpg") as figure:
        width, height = figure.size
    assert 1.1 < height / width < 2.5, (width, height)  # 3 rows of 2 pictures


def test_ratio_scale_flag_and_values():
    parser = cli.build_parser()
    assert parser.parse_args(["reproduce", "fig2", "--ratio-scale", "printed"]).ratio_scale == (
        "printed"
    )
    assert parser.parse_args(["compare", "--ratio-scale", "0.1"]).ratio_scale == 0.1
    assert figures.ratio_scale_value("printed", "normalised") == 1.0
    assert figures.CALIBRATION["original"].k == 1.0 or figures.CALIBRATION["original"].measured
    assert figures.folder_name("fig3", 0.1) == "fig3-k0.1"
    with pytest.raises(InputError, match="ratio scale must be"):
        figures.ratio_scale_value(-1, "original")
    assert not math.isnan(figures.ratio_scale_value(2, "original"))
