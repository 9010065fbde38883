"""The figure reproduction end to end at 64 px (offline), its specs, and the comparison table."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import PIL.Image
import pytest

from style_transfer import cli, data, images
from style_transfer.errors import InputError, ResourceError
from style_transfer.manifest import manifest_path
from style_transfer.settings import Settings
from style_transfer.tools import compare, reproduce, tracked
from style_transfer.tools.figures import CALIBRATION, figure_spec, panel_settings

SIZE, ITERATIONS = 64, 2
K = CALIBRATION["original"].k  # the default --ratio-scale calibrated on the default network
REPO = Path(__file__).resolve().parents[1]


def test_figure2_uses_the_papers_ratios():
    arxiv = {p.key: (p.style, p.ratio) for p in figure_spec("fig2").panels}
    assert arxiv == {
        "B": ("shipwreck", 1e-3),
        "C": ("starry_night", 1e-3),
        "D": ("the_scream", 1e-3),
        "E": ("seated_nude", 1e-4),
        "F": ("composition_vii", 1e-4),
    }
    cvpr = [p.ratio for p in figure_spec("fig2", "cvpr").panels]
    assert cvpr == [1e-3, 8e-4, 5e-3, 5e-4, 5e-4]
    with pytest.raises(InputError, match="unknown ratio source"):
        figure_spec("fig2", "nature")


def test_figure3_rows_add_layers_with_equal_weights():
    spec = figure_spec("fig3")
    assert (spec.rows, spec.cols, len(spec.panels)) == (5, 4, 20)
    for panel in spec.panels:
        row, col = int(panel.key[1]), int(panel.key[3])
        resolved = panel_settings(panel, Settings(size=64)).resolve()
        assert list(resolved.style_layers) == [f"block{i}_conv1" for i in range(1, row + 1)]
        assert all(math.isclose(w, 1 / row) for w in resolved.style_layers.values())
        assert math.isclose(resolved.ratio, (1e-5, 1e-4, 1e-3, 1e-2)[col - 1])
        assert panel.style == "composition_vii"


def test_init_figure_starts_and_ratio_scale():
    spec = figure_spec("init")
    starts = [(p.overrides["init"], p.overrides.get("seed")) for p in spec.panels]
    assert starts == [("content", None), ("style", None)] + [("noise", s) for s in (1, 2, 3, 4)]
    scaled = panel_settings(spec.panels[0], Settings(), ratio_scale=1e-4).resolve()
    assert math.isclose(scaled.ratio, 1e-3 * 1e-4)
    with pytest.raises(InputError, match="unknown figure"):
        figure_spec("fig9")


@pytest.fixture(scope="module")
def rendered(images_dir: Path, picasso: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("results")
    lines: list[str] = []
    figures = reproduce.reproduce(
        "all", out, size=SIZE, iterations=ITERATIONS, images_dir=images_dir,
        report=lines.append,
    )  # fmt: skip
    return out, figures, lines


@pytest.mark.slow
def test_reproduce_all_writes_every_panel_and_figure(rendered):
    out, figures, lines = rendered
    names = sorted(p.name for p in figures)
    assert names == ["fig2.jpg", "fig2.private.jpg", "fig3.jpg", "init.jpg", "rows.md"]
    # Figure 3's row comparison: 4 pairs of neighbouring rows x 4 columns
    rows = (out / "fig3" / "rows.md").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("| 4 → 5 | α/β = ") for line in rows) == 4
    assert sum(" → " in line for line in rows) == 16
    # panel-sized figures (100 dpi at 64 px), not sized by the full-resolution content photo
    assert PIL.Image.open(out / "fig2.jpg").size == (round(3.2 * 3 * 100), round(5.8 * 100))
    for name in ("fig2", "fig3", "init"):
        spec = figure_spec(name)
        for panel in spec.panels:
            path = out / name / panel.filename
            manifest = json.loads(manifest_path(path).read_text())
            assert manifest["optimizer"]["iterations"] == ITERATIONS
            assert max(manifest["sizes"]["output"]) == SIZE
            assert math.isclose(manifest["settings"]["ratio"], panel.ratio * K)
            assert manifest["inputs"]["style"]["path"].endswith(
                data.paper_image(panel.style).filename
            )
    # the Picasso's panel is marked private, and only the private figure shows it
    assert (out / "fig2" / "E_seated_nude.private.png").is_file()
    assert not list(out.glob("fig2/E_seated_nude.png"))
    assert any(": saved r1c1_composition_vii.png" in line for line in lines)
    assert any(line.startswith("[31/31] ") for line in lines)  # jobs done / total, all figures


@pytest.mark.slow
def test_reproduce_resumes_and_the_cli_matches_the_api(rendered, images_dir: Path, capsys):
    out, _, _ = rendered
    before = (out / "init" / "content_starry_night.png").stat().st_mtime_ns
    code = cli.main(
        ["reproduce", "init", "--out", str(out), "--size", str(SIZE), "--iterations",
         str(ITERATIONS), "--images", str(images_dir), "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("reusing") == 6
    assert (out / "init" / "content_starry_night.png").stat().st_mtime_ns == before


@pytest.mark.slow
def test_a_panel_from_before_a_setting_existed_is_reused_at_its_default(
    rendered, images_dir: Path, tmp_path: Path
):
    """Panels committed before e.g. --scales/--precision existed stay valid at the defaults."""
    out, _, _ = rendered
    source = out / "init" / "style_starry_night.png"
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes())
    manifest = json.loads(manifest_path(source).read_text())
    for later in ("scales", "precision"):
        del manifest["settings"][later]
    manifest_path(copy).write_text(json.dumps(manifest))
    panel = figure_spec("init").panels[1]
    base = Settings(size=SIZE, iterations=ITERATIONS)
    content = data.image_path("tubingen", images_dir)
    style = data.image_path(panel.style, images_dir)
    assert reproduce.reusable(copy, panel_settings(panel, base, K), content, style)
    # It ran float32: that answers an explicit float32 and the default auto, not mixed.
    for same in ("float32", "auto"):
        request = panel_settings(panel, dataclasses.replace(base, precision=same), K)
        assert reproduce.reusable(copy, request, content, style)
    for changed in ({"scales": 2}, {"precision": "mixed"}):
        request = panel_settings(panel, dataclasses.replace(base, **changed), K)
        assert not reproduce.reusable(copy, request, content, style)


@pytest.mark.slow
def test_an_image_that_does_not_match_its_manifest_is_rendered_again(
    rendered, images_dir: Path, tmp_path: Path
):
    """A crash between writing an image and its manifest must not pass as a finished panel."""
    out, _, _ = rendered
    panel = figure_spec("init").panels[1]
    source = out / "init" / panel.filename
    manifest = json.loads(manifest_path(source).read_text())
    assert manifest["output"]["sha256"] == images.image_digest(source)
    copy = tmp_path / source.name
    manifest_path(copy).write_text(manifest_path(source).read_text())
    request = panel_settings(panel, Settings(size=SIZE, iterations=ITERATIONS), K)
    content = data.image_path("tubingen", images_dir)
    style = data.image_path(panel.style, images_dir)
    copy.write_bytes(source.read_bytes())
    assert reproduce.reusable(copy, request, content, style)
    copy.write_bytes((out / "init" / figure_spec("init").panels[2].filename).read_bytes())
    assert not reproduce.reusable(copy, request, content, style)


@pytest.mark.slow
def test_reproduce_rerenders_when_a_setting_changes(rendered, images_dir: Path):
    out, _, _ = rendered
    lines: list[str] = []
    reproduce.reproduce(
        "init", out, size=SIZE, iterations=ITERATIONS + 1, images_dir=images_dir,
        report=lines.append,
    )  # fmt: skip
    assert not any("reusing" in line for line in lines)
    manifest = json.loads(manifest_path(out / "init" / "noise4_starry_night.png").read_text())
    assert manifest["optimizer"]["iterations"] == ITERATIONS + 1


@pytest.mark.slow
def test_compare_scores_published_and_ours_under_one_objective(rendered, images_dir: Path):
    out, _, _ = rendered
    rows = compare.compare(out, images_dir=images_dir, report=lambda line: None)
    sources = {(row["panel"], row["source"].split()[0]) for row in rows}
    assert sources == {(k, s) for k in "BCDEF" for s in ("jcjohnson/neural-style", "ours")} | {
        ("C", "the")  # the authors' own output (tests/test_calibrate.py checks its row)
    }
    for row in rows:
        if row["source"].startswith("ours"):
            assert row["size"] == [64, 48] and row["iterations"] == ITERATIONS
        else:
            assert row["size"] == [512, 384] and row["iterations"] is None
    ours = {row["source"] for row in rows if row["source"].startswith("ours")}
    assert ours == {"ours (calibrated α/β)"}  # no printed-α/β figure rendered here
    table = (out / "comparison.md").read_text()
    assert table.count("\n") == 2 + len(rows)
    assert json.loads((out / "comparison.json").read_text())["rows"] == rows


def test_missing_inputs_are_clear_errors(tmp_path: Path, capsys):
    with pytest.raises(ResourceError, match="reference_outputs"):
        compare.compare(tmp_path, images_dir=tmp_path)
    assert cli.main(["reproduce", "fig2", "--images", str(tmp_path), "--out", str(tmp_path)]) == 3
    error = capsys.readouterr().err
    assert "tubingen.jpg" in error and error.count("\n") == 1


# --- committed results are not overwritten unless asked (tools/tracked.py) -----------------


def git_folder_with_a_tracked_file(root: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=60)
    folder = root / "results"
    folder.mkdir()
    (folder / "fig2.jpg").write_bytes(b"committed")
    subprocess.run(["git", "-C", str(root), "add", "results/fig2.jpg"], check=True, timeout=60)
    return folder


def test_reproduce_refuses_a_folder_with_tracked_files_unless_asked(tmp_path: Path, capsys):
    folder = git_folder_with_a_tracked_file(tmp_path)
    assert tracked.holds_tracked_files(folder) and tracked.holds_tracked_files(tmp_path)
    assert not tracked.holds_tracked_files(tmp_path / "elsewhere")  # does not exist
    (tmp_path / "untracked").mkdir()
    assert not tracked.holds_tracked_files(tmp_path / "untracked")
    with pytest.raises(InputError, match="--into-tracked") as error:
        reproduce.reproduce("init", folder, size=SIZE, iterations=ITERATIONS)
    assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="--into-tracked"):
        compare.compare(folder)
    assert (folder / "fig2.jpg").read_bytes() == b"committed"  # untouched
    assert cli.main(["reproduce", "init", "--out", str(folder), "--size", "32"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    tracked.check_writable(folder, into_tracked=True)  # asked: allowed


def test_reproduce_writes_into_a_git_ignored_folder_by_default():
    assert tracked.DEFAULT_OUT == "renders"
    parser = cli.build_parser()
    assert parser.parse_args(["reproduce", "init"]).out == "renders"
    assert parser.parse_args(["compare"]).out == "renders"
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", "renders/fig2.jpg"], cwd=REPO, timeout=60
    )
    assert ignored.returncode == 0, "renders/ is not git-ignored"
    assert tracked.holds_tracked_files(REPO / "results")  # the committed results: refused


def test_images_flag_serves_the_normalised_networks_calibration_set(
    images_dir, monkeypatch, tmp_path
):
    """`reproduce calibrate --network normalised --images DIR` stopped with 'no calibration
    images' when $STYLE_TRANSFER_IMAGES was unset and nothing could be fetched: --images
    did not reach the calibration set's default. It now does; a variable already set wins."""
    from style_transfer import normalise
    from style_transfer.tools import cli as tools_cli

    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache: nothing to fall back on
    tools_cli._images_for_everything(str(images_dir))
    found = normalise.calibration_images(None)
    assert len(found) >= 5 and {p.parent.resolve() for p in found} == {images_dir.resolve()}
    tools_cli._images_for_everything(str(tmp_path))
    assert os.environ[data.ENV_VAR] == os.path.abspath(images_dir)


def test_a_figures_title_says_how_its_ratios_were_scaled():
    """The panel labels show the paper's alpha/beta; the title says what multiplied them."""
    assert reproduce.scaled(0.6, "calibrated") == "× k = 0.6 (calibrated)"
    assert reproduce.scaled(1.0, "printed") == "as printed"
    assert reproduce.scaled(0.1, 0.1) == "× 0.1"


def test_a_figures_title_names_its_network():
    title = reproduce.figure_title("Figure 3", 3.3e-05, "calibrated", "normalised")
    assert title == "Figure 3, × k = 3.3e-05 (calibrated), normalised network"


def test_a_figures_title_names_a_start_other_than_noise():
    title = reproduce.figure_title("Figure 2", 0.003, "calibrated", "original", "content")
    assert title == "Figure 2, × k = 0.003 (calibrated), original network, from the content image"
    assert "from" not in reproduce.figure_title("Figure 2", 1.0, "printed", "original", "noise")


def test_the_init_figures_title_names_no_common_start():
    """Its panels start from the content, the style and noise whatever the default start."""
    init, fig3 = figure_spec("init"), figure_spec("fig3")
    assert reproduce.common_start(init, "content") is None
    assert reproduce.common_start(fig3, "content") == "content"
    title = reproduce.figure_title("CVPR Fig. 6", 0.003, "calibrated", "original", None)
    assert "from" not in title
    # nor does its folder: another default start leaves its panels as they are
    root = Path("out")
    assert reproduce.figure_folder(root, init, "calibrated", "noise", "content") == root / "init"
    fig3_noise = reproduce.figure_folder(root, fig3, "calibrated", "noise", "content")
    assert fig3_noise == root / "fig3-noise-start"
