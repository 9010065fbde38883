"""The size-invariant balance: alpha scaled by (reference / size)² under the paper's sum losses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from style_transfer import api, cli, images
from style_transfer.errors import InputError
from style_transfer.manifest import made_with
from style_transfer.settings import RATIO_REFERENCE, Settings


@pytest.mark.parametrize(
    ("size", "expected"),
    [(512, 1e-3), (256, 4e-3), (1024, 2.5e-4), (128, 1.6e-2), (384, 1e-3 * 16 / 9)],
)
def test_effective_alpha_is_the_given_one_times_reference_over_size_squared(size, expected):
    resolved = Settings(size=size).resolve()  # the paper preset: alpha/beta = 1e-3 at 512 px
    assert RATIO_REFERENCE == 512 and resolved.ratio_reference == 512
    assert resolved.content_weight == pytest.approx(expected, rel=1e-12)
    assert resolved.effective_ratio == pytest.approx(expected, rel=1e-12)
    assert resolved.ratio == pytest.approx(1e-3, rel=1e-12)  # as given
    assert resolved.style_weight == 1.0


def test_the_reference_can_be_moved_or_turned_off():
    assert Settings(size=128, ratio_reference=256).resolve().content_weight == pytest.approx(4e-3)
    assert Settings(size=128, ratio_reference="256").resolve().content_weight == pytest.approx(4e-3)
    printed = Settings(size=256, ratio=1e-4, ratio_reference="none").resolve()
    assert (printed.content_weight, printed.ratio_reference) == (pytest.approx(1e-4), None)
    # an explicit alpha is rescaled as the preset's is: alpha/beta always means "at 512 px"
    assert Settings(size=256, content_weight=2.0, style_weight=4.0).resolve().content_weight == (
        pytest.approx(8.0)
    )
    # the authors' mean losses do not grow with size: no reference, and none may be given
    code = Settings(preset="gatys-code", size=256).resolve()
    assert (code.content_weight, code.ratio_reference) == (1.0, None)
    with pytest.raises(InputError, match=r"mean losses.*drop --ratio-reference"):
        Settings(preset="gatys-code", ratio_reference=512).resolve()
    for bad in ("big", 8, 0, True, 1.5):
        with pytest.raises(InputError, match="ratio reference must be a size in px"):
            Settings(ratio_reference=bad).resolve()


def test_the_flag_parses_to_the_setting():
    parser = cli.build_parser()
    for value, expected in (("none", "none"), ("256", "256")):
        args = parser.parse_args(["transfer", "a.png", "b.png", "-o", "o.png",
                                  "--ratio-reference", value])  # fmt: skip
        assert cli._settings(args, "transfer") == Settings(ratio_reference=expected)
    args = parser.parse_args(
        ["score", "x.png", "--content", "a.png", "--style", "b.png", "--ratio-reference", "none"]
    )
    assert cli._settings(args, "score").ratio_reference == "none"


def test_each_coarse_to_fine_scale_keeps_the_balance():
    resolved = Settings(size=512, scales=2).resolve()
    coarse = resolved.at_size(256)
    assert coarse.content_weight == pytest.approx(4e-3) and coarse.ratio == pytest.approx(1e-3)
    off = Settings(size=512, ratio_reference="none").resolve().at_size(256)
    assert off.content_weight == pytest.approx(1e-3)


def _old_manifest(settings: Settings) -> dict:
    """A manifest as written before ratio_reference existed (no rescaling, no such key)."""
    recorded = json.loads(json.dumps(settings.resolve().as_dict()))
    del recorded["ratio_reference"]
    return {"settings": recorded, "precision": {"used": "float32"}}


def test_a_run_from_before_the_setting_answers_the_same_effective_weights():
    old_512 = _old_manifest(Settings(size=512, ratio_reference="none", precision="float32"))
    assert made_with(old_512, Settings(size=512).resolve())  # 512/512: the same alpha
    old_256 = _old_manifest(Settings(size=256, ratio_reference="none", precision="float32"))
    assert not made_with(old_256, Settings(size=256).resolve())  # alpha x4 now: re-render
    assert made_with(old_256, Settings(size=256, ratio_reference="none").resolve())


@pytest.fixture(scope="module")
def blend(tubingen: Path, starry_night: Path):
    """Half photo, half painting, at 128 and 256 px: an image whose losses are both sizeable."""
    content, style = images.load_image(tubingen), images.load_image(starry_night)
    made = {}
    for size in (128, 256):
        photo = images.resize_long_side(content, size)
        made[size] = 0.5 * photo + 0.5 * images.resize_to(style, *photo.shape[:2])
    return made


def test_the_balance_is_size_invariant_as_derived(blend, tubingen, starry_night):
    """Scored at twice the size, L_content grows with the pixels (x4), E_l does not, so the
    rescaled alpha keeps alpha·L_content / beta·L_style; the unscaled one multiplies it by 4."""
    scored = {size: api.score(x, tubingen, starry_night) for size, x in blend.items()}
    small, large = scored[128], scored[256]
    pixels = (256 * 192) / (128 * 96)
    assert large["content_loss"] / small["content_loss"] == pytest.approx(pixels, rel=0.2)
    assert large["style_loss"] / small["style_loss"] == pytest.approx(1.0, rel=0.2)

    def balance(s: dict) -> float:
        return s["content_weight"] * s["content_loss"] / (s["style_weight"] * s["style_loss"])

    assert balance(large) / balance(small) == pytest.approx(1.0, rel=0.2)
    assert small["content_weight"] == pytest.approx(1e-3 * 16) and small["ratio"] == 1e-3
    unscaled = {
        size: api.score(x, tubingen, starry_night, ratio_reference="none")
        for size, x in blend.items()
    }
    assert balance(unscaled[256]) / balance(unscaled[128]) > 3.0


def test_the_manifest_records_the_effective_weights(tmp_path, tubingen, starry_night):
    out = tmp_path / "out.png"
    api.transfer(tubingen, starry_night, size=32, iterations=1, output=out, progress=False)
    recorded = json.loads(Path(f"{out}.json").read_text())["settings"]
    assert recorded["content_weight"] == pytest.approx(1e-3 * (512 / 32) ** 2)
    assert recorded["style_weight"] == 1.0
    assert (recorded["ratio"], recorded["ratio_reference"]) == (pytest.approx(1e-3), 512)
    assert math.isclose(recorded["content_weight"] / recorded["style_weight"], 0.256)
