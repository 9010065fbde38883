"""Several styles with blend weights, and the style scale."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from timeouts import timeout_for

from style_transfer import api, inputs, transfer
from style_transfer.errors import InputError
from style_transfer.objective import Objective
from style_transfer.settings import PAPER_STYLE_LAYERS, Settings

LAYERS = ("block4_conv2", *PAPER_STYLE_LAYERS)


def fake_extractor(batch, training=False):
    """Stands in for VGG19: layer k sees the image scaled by k+1 (exact features)."""
    return {layer: batch * float(k + 1) for k, layer in enumerate(LAYERS)}


def terms(objective, image):
    return objective.terms(tf.constant(image[None])).numpy()


def random_images(count, shape=(6, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(count)]


@pytest.mark.parametrize("preset", ["paper", "gatys-code"])
def test_blend_one_zero_equals_the_single_style_objective(preset):
    x, content, style_a, style_b = random_images(4)
    settings = Settings(preset=preset, style_blend_weights=[1, 0]).resolve()
    single = Objective(fake_extractor, settings, content, [style_a])
    blended = Objective(
        fake_extractor, settings, content, [style_a, style_b], settings.style_blend_weights
    )
    np.testing.assert_allclose(terms(blended, x), terms(single, x), rtol=1e-6)


def test_blend_with_the_real_network_one_zero_equals_single(tubingen, starry_night, images_dir):
    kwargs = {"size": 32, "iterations": 1, "seed": 3, "progress": False}
    single = transfer(tubingen, starry_night, **kwargs)
    blended = transfer(
        tubingen,
        [starry_night, images_dir / "composition_vii.jpg"],
        style_blend_weights=[1.0, 0.0],
        **kwargs,
    )
    for name in single.history:
        np.testing.assert_allclose(blended.history[name], single.history[name], rtol=1e-5)


def test_blend_is_the_weighted_sum_and_matches_the_blended_target_up_to_a_constant():
    x, y, content, style_a, style_b = random_images(5, seed=1)
    settings = Settings(style_blend_weights=[7, 3]).resolve()
    assert settings.style_blend_weights == pytest.approx((0.7, 0.3))
    blended = Objective(fake_extractor, settings, content, [style_a, style_b], [0.7, 0.3])
    only_a = Objective(fake_extractor, settings, content, [style_a])
    only_b = Objective(fake_extractor, settings, content, [style_b])
    style = blended.term_names.index("style")
    expected = 0.7 * terms(only_a, x)[style] + 0.3 * terms(only_b, x)[style]
    assert terms(blended, x)[style] == pytest.approx(expected, rel=1e-6)

    # numpy: Σ_i b_i ||G − A_i||² = ||G − Σ_i b_i A_i||² + const, so differences agree.
    def blended_target_loss(image):
        total = 0.0
        for layer in PAPER_STYLE_LAYERS:
            scale = LAYERS.index(layer) + 1

            def gram(a, scale=scale):
                flat = (a * scale).reshape(-1, 3).astype(np.float64)
                return flat.T @ flat

            target = 0.7 * gram(style_a) + 0.3 * gram(style_b)
            total += 0.2 * np.sum((gram(image) - target) ** 2) / (4 * 9 * 48**2)
        return total

    difference = terms(blended, x)[style] - terms(blended, y)[style]
    assert difference == pytest.approx(blended_target_loss(x) - blended_target_loss(y), rel=1e-4)


def test_blend_weights_are_checked():
    with pytest.raises(InputError, match="all 0"):
        Settings(style_blend_weights=[0, 0]).resolve()
    with pytest.raises(InputError, match=">= 0"):
        Settings(style_blend_weights=[1, -1]).resolve()
    with pytest.raises(InputError, match="list of numbers"):
        Settings(style_blend_weights="0.7 0.3").resolve()
    with pytest.raises(InputError, match="one weight per style image"):
        inputs.blend_weights(Settings(style_blend_weights=[1, 2, 3]).resolve(), 2)
    assert inputs.blend_weights(Settings().resolve(), 4) == [0.25] * 4


@pytest.mark.parametrize(
    ("preset", "scale", "expected"),
    [("paper", 0.5, (24, 32)), ("paper", 2.0, (96, 128)), ("gatys-code", 0.5, (16, 32))],
)
def test_style_scale_resizes_the_style_relative_to_the_content(preset, scale, expected):
    style = np.zeros((50, 100, 3), np.float32)
    settings = Settings(preset=preset, style_scale=scale).resolve()
    assert inputs.size_style(style, 48, 64, settings).shape[:2] == expected
    with pytest.raises(InputError, match="style scale"):
        Settings(style_scale=0).resolve()


def test_paper_gram_of_a_larger_style_is_brought_to_the_images_positions():
    # A style tiled 2x2 has exactly the same statistics but 4x the positions, so its
    # unnormalised Gram is 4x larger; the paper-form target is rescaled to the image's M.
    x, content, style = random_images(3, seed=2)
    settings = Settings().resolve()
    tiled = np.tile(style, (2, 2, 1))
    plain = Objective(fake_extractor, settings, content, [style])
    scaled = Objective(fake_extractor, settings, content, [tiled])
    np.testing.assert_allclose(terms(scaled, x), terms(plain, x), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_two_styles_with_weights_and_a_style_scale(
    tmp_path, tubingen, starry_night, images_dir
):
    output = tmp_path / "blend.png"
    command = [
        sys.executable, "-m", "style_transfer", "transfer", str(tubingen), str(starry_night),
        str(images_dir / "composition_vii.jpg"), "--style-weights", "0.7", "0.3",
        "--style-scale", "0.5", "--preserve-colour", "histogram", "--histogram-method",
        "cholesky", "-o", str(output), "--size", "64", "--iterations", "3", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    wait = timeout_for(iterations=3, size=64)
    process = subprocess.run(command, capture_output=True, text=True, timeout=wait, env=env)
    assert process.returncode == 0, process.stderr
    manifest = json.loads(output.with_name(output.name + ".json").read_text())
    assert [s["blend_weight"] for s in manifest["inputs"]["styles"]] == pytest.approx([0.7, 0.3])
    assert manifest["settings"]["style_blend_weights"] == pytest.approx([0.7, 0.3])
    assert manifest["settings"]["style_scale"] == 0.5
    assert manifest["settings"]["preserve_colour"] == "histogram"
    assert manifest["settings"]["histogram_method"] == "cholesky"
    assert manifest["sizes"]["styles"] == [[32, 24], [32, 24]]

    bad = [*command[:7], "--style-weights", "1", "2", "3", "-o", str(tmp_path / "x.png")]
    process = subprocess.run(bad, capture_output=True, text=True, timeout=wait, env=env)
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == [
        "error: got 3 style weight(s) for 2 style image(s); give one weight per style image"
    ]


@pytest.mark.slow
@pytest.mark.subprocess
def test_score_of_a_blend_is_the_weighted_sum_of_single_style_scores(
    tubingen, starry_night, images_dir, tmp_path
):
    composition = images_dir / "composition_vii.jpg"
    image = tmp_path / "scored.png"
    api.images.save_image(api.images.resize_long_side(api.images.load_image(tubingen), 64), image)
    single = [api.score(image, tubingen, s) for s in (starry_night, composition)]
    blend = api.score(image, tubingen, [starry_night, composition], style_blend_weights=(1, 3))
    assert blend["style_blend_weights"] == pytest.approx([0.25, 0.75])
    for layer, value in blend["style_losses"].items():
        expected = 0.25 * single[0]["style_losses"][layer] + 0.75 * single[1]["style_losses"][layer]
        assert value == pytest.approx(expected, rel=1e-4)
    assert blend["content_loss"] == pytest.approx(single[0]["content_loss"], rel=1e-6)
    process = subprocess.run(
        [sys.executable, "-m", "style_transfer", "score", str(image), "--content", str(tubingen),
         "--style", str(starry_night), str(composition), "--style-weights", "1", "3", "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["total_loss"] == pytest.approx(blend["total_loss"], rel=1e-5)
