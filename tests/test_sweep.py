"""sweep and batch: the grid rule, the job lists, and the commands end to end (in-process)."""

from __future__ import annotations

import csv
import json

import PIL.Image
import pytest

from style_transfer import cli, errors
from style_transfer.errors import InputError
from style_transfer.settings import Settings
from style_transfer.sweep import batch, batch_jobs, expand, parse_grid, sweep, sweep_jobs


def test_grid_rule_colon_separates_list_values_comma_their_items():
    ratio, layers = parse_grid(["ratio=1e-5,1e-4,1e-3", "style-layers=conv1_1:conv1_1,conv2_1"])
    assert (ratio.name, ratio.values) == ("ratio", (1e-5, 1e-4, 1e-3))
    assert (layers.name, layers.values) == ("style_layers", (("conv1_1",), ("conv1_1", "conv2_1")))
    (blend,) = parse_grid(["style_blend_weights=0.7,0.3:0.5,0.5"])
    assert blend.values == ((0.7, 0.3), (0.5, 0.5))
    seed, colour, luminance = parse_grid(
        ["seed=1,2", "preserve-colour=none,luminance", "match-luminance=true,no"]
    )
    assert seed.values == (1, 2) and isinstance(seed.values[0], int)
    assert colour.values == (None, "luminance")
    assert luminance.values == (True, False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("alpha=1,2", "unknown setting 'alpha'; use one of"),
        ("ratio", "has no values"),
        ("ratio=1e-3,", "is empty"),
        ("seed=1.5", "is not a whole number"),
        ("style-blend-weights=0.5,x", "every item must be a number"),
    ],
)
def test_grid_errors_are_one_line_naming_the_entry(spec, message):
    with pytest.raises(InputError, match=message):
        parse_grid([spec])


def test_grid_names_each_setting_once():
    with pytest.raises(InputError, match="twice"):
        parse_grid(["ratio=1", "ratio=2"])


def test_sweep_cells_are_the_product_first_axis_slowest(tmp_path):
    axes = parse_grid(["ratio=1e-4,1e-3", "style-layers=conv1_1:conv1_1,conv2_1"])
    jobs = sweep_jobs("c.jpg", ["s.jpg"], axes, Settings(size=32), tmp_path)
    assert [j.name for j in jobs] == [
        "ratio=1e-4_style-layers=conv1_1",
        "ratio=1e-4_style-layers=conv1_1+conv2_1",
        "ratio=1e-3_style-layers=conv1_1",
        "ratio=1e-3_style-layers=conv1_1+conv2_1",
    ]
    assert [(j.settings.ratio, tuple(j.settings.style_layers)) for j in jobs][1] == (
        1e-4,
        ("conv1_1", "conv2_1"),
    )
    assert jobs[0].output == tmp_path / "ratio=1e-4_style-layers=conv1_1.png"
    assert all(j.settings.size == 32 for j in jobs)


def test_batch_is_every_content_in_every_style(tmp_path):
    jobs = batch_jobs(["a/x.jpg", "b/y.png"], ["s.jpg", "t.jpg"], Settings(), tmp_path)
    assert [j.name for j in jobs] == ["x_s", "x_t", "y_s", "y_t"]
    assert jobs[3].styles == ("t.jpg",) and jobs[3].output == tmp_path / "y_t.png"


def test_expand_patterns(tmp_path):
    for name in ("b.jpg", "a.jpg", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    assert expand([str(tmp_path / "*.jpg"), "z.jpg"]) == [
        str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "z.jpg"
    ]  # fmt: skip
    with pytest.raises(InputError, match="no file matches"):
        expand([str(tmp_path / "*.png")])


@pytest.mark.slow
def test_sweep_command_writes_cells_grid_and_table_then_resumes(
    tmp_path, tubingen, starry_night, capsys
):
    out = tmp_path / "sweep"
    argv = ["sweep", str(tubingen), str(starry_night), "--out", str(out),
            "--grid", "ratio=1e-4,1e-3", "--size", "32", "--iterations", "2",
            "--style-layers", "conv1_1", "-q"]  # fmt: skip
    assert cli.main(argv) == errors.EXIT_OK
    for name in ("ratio=1e-4", "ratio=1e-3"):
        manifest = json.loads((out / f"{name}.png.json").read_text())
        assert manifest["settings"]["size"] == 32 and manifest["optimizer"]["iterations"] == 2
        assert manifest["settings"]["style_layers"] == {"block1_conv1": 1.0}
    rows = list(csv.DictReader((out / "table.csv").open()))
    assert [(r["job"], r["status"], float(r["ratio"])) for r in rows] == [
        ("ratio=1e-4", "saved", 1e-4), ("ratio=1e-3", "saved", 1e-3)
    ]  # fmt: skip
    assert float(rows[0]["final_loss.total"]) > 0
    table = json.loads((out / "table.json").read_text())
    # alpha at 32 px keeps the balance of 512 px (settings.content_weight_scale)
    assert table["jobs"][1]["settings"]["content_weight"] == pytest.approx(1e-3 * (512 / 32) ** 2)
    assert PIL.Image.open(out / "grid.png").size[0] > 200
    assert cli.main(argv) == errors.EXIT_OK
    assert "2 jobs: 2 reused" in capsys.readouterr().out


def test_batch_command_exit_code_says_some_failed(tmp_path, tubingen, starry_night, capsys):
    out = tmp_path / "batch"
    argv = ["batch", str(tubingen), str(tmp_path / "missing.jpg"), "--style", str(starry_night),
            "-o", str(out), "--size", "32", "--iterations", "1", "--style-layers", "conv1_1",
            "-q"]  # fmt: skip
    assert cli.main(argv) == errors.EXIT_SOME_FAILED
    printed = capsys.readouterr().out
    assert "[missing_starry_night] failed: cannot read" in printed
    assert "2 jobs: 1 saved, 1 failed" in printed
    assert (out / "tubingen_starry_night.png").is_file()


def test_the_python_functions_write_what_the_commands_write(tmp_path, tubingen, starry_night):
    """sweep() and batch(), the API the commands are a layer over: images, table, grid."""
    settings = Settings(size=32, iterations=1, style_layers="conv1_1")
    lines: list[str] = []
    swept = sweep(tubingen, starry_night, ["seed=0,1"], tmp_path / "s", settings,
                  report=lines.append)  # fmt: skip
    assert swept.report.exit_code == errors.EXIT_OK and swept.report.count("saved") == 2
    names = sorted(p.name for p in swept.files)
    assert names == ["grid.png", "table.csv", "table.json"]
    assert all(p.is_file() for p in swept.files)
    assert (tmp_path / "s" / "seed=1.png").is_file() and any("seed=1" in line for line in lines)
    batched = batch([tubingen], [starry_night], tmp_path / "b", settings, report=lines.append)
    assert sorted(p.name for p in batched.files) == ["table.csv", "table.json"]  # no grid
    assert (tmp_path / "b" / "tubingen_starry_night.png").is_file()


def test_sweep_refuses_save_every(tmp_path, tubingen, starry_night):
    argv = ["sweep", str(tubingen), str(starry_night), "--out", str(tmp_path),
            "--grid", "ratio=1e-3", "--save-every", "2"]  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == errors.EXIT_BAD_INPUT


def test_output_folder_must_be_creatable(tmp_path, tubingen, starry_night, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    argv = ["sweep", str(tubingen), str(starry_night), "--out", str(blocker / "sub"),
            "--grid", "ratio=1e-3"]  # fmt: skip
    assert cli.main(argv) == errors.EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: cannot create output folder")
