"""The command line: score JSON, the weights command, and one-line errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from style_transfer import cli, score
from style_transfer.weights import WEIGHTS_MD5


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The real entry point in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "style_transfer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_score_json_matches_api(tubingen, starry_night, tmp_path):
    image = tmp_path / "scored.png"
    PIL.Image.open(tubingen).convert("RGB").resize((64, 48)).save(image)
    process = run_cli(
        "score", str(image), "--content", str(tubingen), "--style", str(starry_night), "--json"
    )
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    for key in ("content_loss", "style_losses", "style_loss", "tv_loss", "total_loss"):
        assert key in report
    assert report["size"] == [64, 48]
    assert set(report["style_losses"]) == {f"block{i}_conv1" for i in range(1, 6)}
    api = score(image, tubingen, starry_night)
    assert report["total_loss"] == pytest.approx(api["total_loss"], rel=1e-6)
    expected = api["content_weight"] * api["content_loss"] + api["style_weight"] * api["style_loss"]
    assert report["total_loss"] == pytest.approx(expected, rel=1e-5)


def test_score_of_the_content_itself_has_zero_content_loss(tubingen, starry_night, tmp_path):
    image = tmp_path / "content.png"
    PIL.Image.open(tubingen).convert("RGB").resize((64, 48)).save(image)
    report = score(image, image, starry_night)
    assert report["content_loss"] == 0.0
    assert report["style_loss"] > 0


def test_transfer_cli_writes_image_and_manifest(tubingen, starry_night, tmp_path):
    output = tmp_path / "out.jpg"
    process = run_cli(
        "transfer", str(tubingen), str(starry_night), "-o", str(output),
        "--size", "48", "--iterations", "3", "--quiet", "--save-every", "2",
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    assert PIL.Image.open(output).size == (48, 36)
    assert (tmp_path / "out.iter00002.jpg").exists()
    manifest = json.loads((tmp_path / "out.jpg.json").read_text())
    assert manifest["optimizer"]["iterations"] == 3
    assert manifest["command"][-1] == "2"


def test_weights_command_prints_path_and_md5():
    process = run_cli("weights", "--no-download")
    assert process.returncode == 0, process.stderr
    assert WEIGHTS_MD5 in process.stdout


@pytest.fixture
def inputs(tmp_path, tubingen, starry_night):
    return {"content": str(tubingen), "style": str(starry_night), "dir": tmp_path}


BAD_TRANSFER_ARGS = {
    "missing content": ["{dir}/nope.jpg", "{style}", "-o", "{dir}/o.png"],
    "content is a folder": ["{dir}", "{style}", "-o", "{dir}/o.png"],
    "output equals input": ["{content}", "{style}", "-o", "{content}"],
    "output folder missing": ["{content}", "{style}", "-o", "{dir}/no/such/o.png"],
    "unknown extension": ["{content}", "{style}", "-o", "{dir}/o.xyz"],
    "zero iterations": ["{content}", "{style}", "-o", "{dir}/o.png", "--iterations", "0"],
    "negative size": ["{content}", "{style}", "-o", "{dir}/o.png", "--size", "-5"],
    "absurd size": ["{content}", "{style}", "-o", "{dir}/o.png", "--size", "999999"],
    "size not a number": ["{content}", "{style}", "-o", "{dir}/o.png", "--size", "big"],
    "negative style weight": ["{content}", "{style}", "-o", "{dir}/o.png", "--style-weight", "-1"],
    "nan ratio": ["{content}", "{style}", "-o", "{dir}/o.png", "--ratio", "nan"],
    "ratio and content weight": [
        "{content}", "{style}", "-o", "{dir}/o.png", "--ratio", "1e-3", "--content-weight", "1",
    ],
    "unknown layer": ["{content}", "{style}", "-o", "{dir}/o.png", "--style-layers", "conv9_1"],
    "unknown preset": ["{content}", "{style}", "-o", "{dir}/o.png", "--preset", "fast"],
    "unknown init": ["{content}", "{style}", "-o", "{dir}/o.png", "--init", "zeros"],
    "unknown optimizer": ["{content}", "{style}", "-o", "{dir}/o.png", "--optimizer", "sgd"],
    "too small for conv5_1": ["{content}", "{style}", "-o", "{dir}/o.png", "--size", "16"],
    "missing weights file": ["{content}", "{style}", "-o", "{dir}/o.png", "--weights", "{dir}/w"],
}  # fmt: skip


def exit_code(args: list[str]) -> int:
    """cli.main in-process; argparse's own errors arrive as SystemExit."""
    try:
        return cli.main(args)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("case", sorted(BAD_TRANSFER_ARGS))
def test_bad_transfer_input_is_one_line_and_non_zero(case, inputs, capsys):
    args = [a.format(**inputs) for a in BAD_TRANSFER_ARGS[case]]
    before = {p: Path(p).read_bytes() for p in (inputs["content"], inputs["style"])}
    assert exit_code(["transfer", *args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err and "Traceback" not in err
    assert not (inputs["dir"] / "o.png").exists()
    for path, data in before.items():
        assert Path(path).read_bytes() == data


def test_usage_error_exits_2_in_one_line():
    process = run_cli("transfer", "a.jpg")
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and process.stderr.startswith("error:")


def test_help_names_the_command_the_user_typed():
    assert "usage: python -m style_transfer" in run_cli("--help").stdout
    assert "'python -m style_transfer transfer --help'" in run_cli("transfer", "a.jpg").stderr
    assert cli.program_name("/venv/bin/style-transfer") == "style-transfer"
    assert cli.program_name("/repo/style_transfer/__main__.py") == "python -m style_transfer"


def test_interrupt_saves_best_image(tubingen, starry_night, tmp_path):
    import signal
    import time

    output = tmp_path / "interrupted.png"
    process = subprocess.Popen(
        [sys.executable, "-m", "style_transfer", "transfer", str(tubingen), str(starry_night),
         "-o", str(output), "--size", "128", "--iterations", "100000", "--save-every", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 240
    while not (tmp_path / "interrupted.iter00005.png").exists() and time.time() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "best image so far" in stderr and "Traceback" not in stderr
    manifest = json.loads((tmp_path / "interrupted.png.json").read_text())
    assert manifest["optimizer"]["status"] == "interrupted"
    assert manifest["optimizer"]["iterations"] >= 5
    saved = np.asarray(PIL.Image.open(output))
    assert saved.shape == (96, 128, 3)
