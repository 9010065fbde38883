"""The command line: score JSON, the weights command, usage and help (bad input: reliability)."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import PIL.Image
import pytest
from timeouts import timeout_for

from style_transfer import Settings, cli, data, errors, score
from style_transfer.weights import WEIGHTS_MD5

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """The real entry point in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "style_transfer", *args],
        capture_output=True,
        text=True,
        timeout=timeout or timeout_for(iterations=3, size=64),
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.subprocess
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


@pytest.mark.slow
@pytest.mark.subprocess
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


@pytest.mark.subprocess
def test_transfer_names_paper_images_and_logs_plain_progress(tmp_path):
    """The README's first image: paper images by name; off a terminal, plain progress lines."""
    process = subprocess.run(
        [sys.executable, "-m", "style_transfer", "transfer", "tubingen", "starry_night",
         "-o", "first.png", "--size", "32", "--iterations", "2"],
        capture_output=True, text=True, timeout=timeout_for(iterations=2), cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert process.stderr == "", process.stderr  # no TensorFlow lines, no warnings
    assert PIL.Image.open(tmp_path / "first.png").size == (32, 24)
    lines = process.stdout.splitlines()
    ran = json.loads((tmp_path / "first.png.json").read_text())["precision"]
    names = {"float32": "float32", "mixed_bfloat16": "bfloat16"}  # what it ran as, in words
    assert lines[0] == (  # what the run resolved to, before it starts, as its manifest says
        f"32 x 24 px, 2 iterations, {names[ran['used']]} (auto: {ran['reason']}), "
        "scipy's L-BFGS-B (history 10)"
    )
    assert [line.split(":")[0] for line in lines[1:3]] == ["iteration 1/2", "iteration 2/2"]
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", process.stdout), process.stdout


@pytest.mark.subprocess
def test_transfer_and_score_find_named_paper_images_in_images_dir(images_dir, tmp_path):
    """--images DIR, as the missing-image error advises, with no $STYLE_TRANSFER_IMAGES and
    an empty Keras cache (nothing to download from: the names must come from DIR)."""
    env = {k: v for k, v in os.environ.items() if k != "STYLE_TRANSFER_IMAGES"}
    env.update(KERAS_HOME=str(tmp_path / "keras"), PYTHONWARNINGS="ignore")
    output = tmp_path / "out.png"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "style_transfer", *args, "--images", str(images_dir)],
            capture_output=True, text=True, env=env, timeout=timeout_for(iterations=2),
        )  # fmt: skip

    made = run("transfer", "tubingen", "starry_night", "-o", str(output), "--size", "32",
               "--iterations", "2", "--quiet")  # fmt: skip
    assert made.returncode == 0, made.stderr
    inputs = json.loads((tmp_path / "out.png.json").read_text())["inputs"]
    assert Path(inputs["content"]["path"]) == (images_dir / "tubingen.jpg").resolve()
    scored = run("score", str(output), "--content", "tubingen", "--style", "starry_night")
    assert scored.returncode == 0, scored.stderr
    assert not (tmp_path / "keras" / data.CACHE_SUBDIR).exists()  # nothing fetched


def test_a_missing_photo_is_reported_before_a_named_style_is_fetched(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.ENV_VAR, raising=False)  # the style must come from the cache...
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # ...which is empty
    for argv in (["transfer", str(tmp_path / "typo.jpg"), "starry_night", "-o",
                  str(tmp_path / "out.png")],
                 ["score", str(tmp_path / "x.png"), "--content", str(tmp_path / "typo.jpg"),
                  "--style", "starry_night"]):  # fmt: skip
        assert cli.main(argv) == errors.EXIT_BAD_INPUT
        error = capsys.readouterr().err
        assert error.startswith("error: cannot read content image") and "typo.jpg" in error
    assert not (tmp_path / "keras" / data.CACHE_SUBDIR).exists()  # no download was tried


@pytest.mark.subprocess
def test_weights_command_prints_path_and_md5():
    process = run_cli("weights", "--no-download")
    assert process.returncode == 0, process.stderr
    assert WEIGHTS_MD5 in process.stdout


POSITIONAL = {
    "transfer": ["c.png", "s.png", "-o", "o.png"],
    "score": ["i.png", "--content", "c.png", "--style", "s.png"],
}


def test_every_setting_is_a_transfer_flag():
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert cli.setting_names("transfer") == fields
    assert set(cli.setting_names("score")) < set(fields)


@pytest.mark.parametrize("command", sorted(POSITIONAL))
def test_omitted_setting_flags_parse_to_the_settings_defaults(command):
    args = cli.build_parser().parse_args([command, *POSITIONAL[command]])
    names = cli.setting_names(command)
    for field in dataclasses.fields(Settings):
        if field.name in names:
            assert getattr(args, field.name) == field.default, field.name
        else:
            assert not hasattr(args, field.name), field.name
    assert cli._settings(args, command) == Settings()


def test_setting_flags_parse_to_the_field_types():
    flags = [
        "--size", "64", "--tv-weight", "1e-3", "--ratio", "2", "--pooling", "max",
        "--style-layers", "conv1_1,conv2_1", "--style-weights", "1", "3", "--no-match-luminance",
        "--preserve-color", "histogram", "--network", "normalised", "--precision", "mixed",
    ]  # fmt: skip
    args = cli.build_parser().parse_args(["transfer", *POSITIONAL["transfer"], *flags])
    settings = cli._settings(args, "transfer")
    assert settings == Settings(
        size=64, tv_weight=1e-3, ratio=2.0, pooling="max", style_layers="conv1_1,conv2_1",
        style_blend_weights=[1.0, 3.0], match_luminance=False, preserve_colour="histogram",
        network="normalised", precision="mixed",
    )  # fmt: skip
    assert type(settings.size) is int and type(settings.ratio) is float


def test_help_states_the_defaults_and_the_alias(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expected in (
        "--size SIZE longer side of the output in px (default 512)",
        "Adam step size (default 10)",
        "--tv-weight TV_WEIGHT total variation weight (default 0: off)",
        "--preserve-colour {luminance,histogram}, --preserve-color",
        "--pooling {avg,max}",
        "--preset PRESET one of paper, gatys-code (default paper)",
        "objective (default: the chosen preset's values):",
    ):
        assert expected in text


def test_reproduce_keeps_its_own_default_network():
    from style_transfer.tools.figures import DEFAULT_NETWORK

    args = cli.build_parser().parse_args(["compare"])
    assert args.network == DEFAULT_NETWORK


@pytest.mark.subprocess
def test_usage_error_exits_2_in_one_line():
    process = run_cli("transfer", "a.jpg")
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and process.stderr.startswith("error:")


@pytest.mark.subprocess
def test_help_names_the_command_the_user_typed():
    assert "usage: python -m style_transfer" in run_cli("--help").stdout
    assert "'python -m style_transfer transfer --help'" in run_cli("transfer", "a.jpg").stderr
    assert cli.program_name("/venv/bin/style-transfer") == "style-transfer"
    assert cli.program_name("/repo/style_transfer/__main__.py") == "python -m style_transfer"
