"""The command line: score JSON, the weights command, usage and help (bad input: reliability)."""

import json
import os
import subprocess
import sys

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


def test_usage_error_exits_2_in_one_line():
    process = run_cli("transfer", "a.jpg")
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and process.stderr.startswith("error:")


def test_help_names_the_command_the_user_typed():
    assert "usage: python -m style_transfer" in run_cli("--help").stdout
    assert "'python -m style_transfer transfer --help'" in run_cli("transfer", "a.jpg").stderr
    assert cli.program_name("/venv/bin/style-transfer") == "style-transfer"
    assert cli.program_name("/repo/style_transfer/__main__.py") == "python -m style_transfer"
