"""Coarse-to-fine: the documented schedule, one manifest with every scale, a better start."""

import json

import numpy as np
import pytest

from style_transfer import Settings, cli, transfer
from style_transfer.errors import InputError
from style_transfer.multiscale import schedule


def test_schedule_doubles_the_size_and_halves_the_iterations():
    assert schedule(512, 100, 3) == [(128, 100), (256, 50), (512, 25)]
    assert schedule(1024, 300, 2) == [(512, 300), (1024, 150)]
    assert schedule(300, 2, 3) == [(75, 2), (150, 1), (300, 1)]  # never below 1 iteration
    assert schedule(256, 40, 1) == [(256, 40)]  # 1 scale: the single-scale run


@pytest.mark.parametrize(
    ("size", "expected"),
    [(16, 1), (512, 1), (513, 2), (700, 2), (1024, 2), (1025, 3), (2048, 3), (4096, 4)],
)
def test_auto_scales_keep_the_first_scale_at_most_512_px(size, expected):
    """The default: single scale up to 512 px; above, the fewest scales whose coarsest is
    at most 512 px (1024 -> 512, 1024; 2048 -> 512, 1024, 2048)."""
    resolved = Settings(size=size).resolve()
    assert resolved.scales == expected
    first = schedule(size, 500, expected)[0][0]
    assert first <= 512 and (expected == 1 or first >= 256)  # 513 px: 256 (rounded), 513
    assert Settings(size=size, scales=1).resolve().scales == 1  # single scale on request
    assert Settings(size=size, scales="1").resolve().scales == 1  # as the command line gives


def test_a_run_above_the_auto_threshold_goes_coarse_to_fine(
    tubingen, starry_night, tmp_path, monkeypatch
):
    monkeypatch.setattr("style_transfer.settings.AUTO_SCALES_ABOVE", 32)
    output = tmp_path / "auto.png"
    result = transfer(tubingen, starry_night, size=64, iterations=2, output=output, progress=False)
    manifest = json.loads(output.with_name("auto.png.json").read_text())
    assert manifest["settings"]["scales"] == 2
    planned = [(s["size"], s["iterations"]) for s in manifest["coarse_to_fine"]["schedule"]]
    assert planned == [(32, 2), (64, 1)]
    assert result.image.shape[:2] == (48, 64)


@pytest.mark.parametrize("scales", [0, -1, 2.5, True, "x", "2.5"])
def test_scales_must_be_a_whole_number_from_1(scales):
    with pytest.raises(InputError, match="scales"):
        Settings(scales=scales).resolve()


def test_scales_that_shrink_below_the_coarsest_size_are_refused():
    with pytest.raises(InputError, match="fewer --scales or a larger --size"):
        Settings(size=64, scales=3).resolve()  # 64 / 4 = 16 px < 32 px


@pytest.fixture(scope="module")
def coarse_run(tmp_path_factory, tubingen, starry_night):
    output = tmp_path_factory.mktemp("c2f") / "out.png"
    result = transfer(  # alpha as given at every scale: the balance the thresholds assume
        tubingen, starry_night, size=128, iterations=4, scales=3, output=output, progress=False,
        ratio_reference="none",
    )  # fmt: skip
    return result, output


def test_one_manifest_records_every_scale(coarse_run):
    result, output = coarse_run
    manifest = json.loads(output.with_name("out.png.json").read_text())
    c2f = manifest["coarse_to_fine"]
    assert c2f["schedule"] == [
        {"size": 32, "iterations": 4},
        {"size": 64, "iterations": 2},
        {"size": 128, "iterations": 1},
    ]
    assert [scale["size"] for scale in c2f["scales"]] == [[32, 24], [64, 48], [128, 96]]
    assert [scale["iterations"] for scale in c2f["scales"]] == [4, 2, 1]
    for scale in c2f["scales"]:  # the start plus one entry per iteration
        assert len(scale["loss_history"]["total"]) == scale["iterations"] + 1
    assert c2f["scales"][0]["start"]["init"] == "noise"
    assert [s["start"]["init"] for s in c2f["scales"][1:]] == ["previous scale"] * 2
    assert manifest["settings"]["scales"] == 3 and manifest["settings"]["size"] == 128
    assert manifest["optimizer"]["iterations"] == 7
    assert manifest["sizes"]["output"] == [128, 96]
    assert manifest["loss_history"] == c2f["scales"][-1]["loss_history"]
    assert result.image.shape == (96, 128, 3)
    assert output.is_file() and output.with_name("out.loss.png").is_file()


def test_the_upsampled_result_starts_far_below_noise(coarse_run, tubingen, starry_night):
    """The finer scale starts from the upsampled coarse result, not from the noise again
    (which, with the same seed, would give exactly the noise run's first loss)."""
    scales = coarse_run[0].manifest["coarse_to_fine"]["scales"]
    noise = transfer(
        tubingen, starry_night, size=64, iterations=1, progress=False, ratio_reference="none"
    )
    assert scales[1]["loss_history"]["total"][0] < 0.8 * noise.history["total"][0]


def test_cli_scales_flag(tubingen, starry_night, tmp_path, capsys):
    output = tmp_path / "cli.png"
    code = cli.main([
        "transfer", str(tubingen), str(starry_night), "-o", str(output), "--size", "64",
        "--iterations", "2", "--scales", "2", "--quiet",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = json.loads(output.with_name("cli.png.json").read_text())
    assert [s["size"] for s in manifest["coarse_to_fine"]["schedule"]] == [32, 64]
    assert np.asarray(manifest["sizes"]["output"]).tolist() == [64, 48]


def test_compose_sums_the_scales_and_the_manifest_lists_each(tmp_path):
    """Records made by hand (test_transfer.synthetic_record): no network needed."""
    from test_transfer import synthetic_record

    from style_transfer import manifest
    from style_transfer.multiscale import compose
    from style_transfer.optimize import Status

    coarse = synthetic_record(size=(2, 1), iterations=4, evaluations=9, optimize_time_s=1.0)
    fine = synthetic_record(
        start={"init": "previous scale"}, status=Status.INTERRUPTED, optimize_time_s=2.0
    )
    whole = compose([coarse, fine], [(2, 4), (4, 2)], seconds=5.0)
    assert (whole.iterations, whole.evaluations, whole.optimize_time_s) == (5, 12, 3.0)
    assert whole.start == coarse.start and whole.status == Status.INTERRUPTED
    assert whole.size == fine.size and whole.wall_time_s == 5.0
    built = manifest.build(whole, Settings(size=64, scales=2).resolve())
    assert built["optimizer"]["scales_completed"] == 1 and built["optimizer"]["iterations"] == 5
    c2f = built["coarse_to_fine"]
    assert c2f["schedule"] == [{"size": 2, "iterations": 4}, {"size": 4, "iterations": 2}]
    assert [s["size"] for s in c2f["scales"]] == [[2, 1], [4, 3]]
    assert [s["status"] for s in c2f["scales"]] == ["completed", "interrupted"]
    assert built["settings"]["scales"] == 2 and built["loss_history"] == fine.history
