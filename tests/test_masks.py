"""Spatial control: guided Grams against numpy, all-ones masks, regions that ignore the rest."""

import json

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from style_transfer import masks, score, transfer
from style_transfer.errors import InputError
from style_transfer.objective import Objective
from style_transfer.settings import PAPER_STYLE_LAYERS, Settings

LAYERS = ("block4_conv2", *PAPER_STYLE_LAYERS)


def fake_extractor(batch, training=False):
    """Stands in for VGG19, position by position: layer k sees the image scaled by k+1.

    Every "feature" depends on its own pixel only, so what lies outside a region is
    exactly outside it (a real network's receptive fields reach further).
    """
    return {layer: batch * float(k + 1) for k, layer in enumerate(LAYERS)}


def terms(objective, image):
    return dict(zip(objective.term_names, objective.terms(tf.constant(image[None])).numpy()))


def random_images(count, shape=(6, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(count)]


@pytest.mark.parametrize("preset", ["paper", "gatys-code"])
def test_all_ones_mask_equals_the_unmasked_objective(preset):
    x, content, style = random_images(3)
    settings = Settings(preset=preset).resolve()
    plain = Objective(fake_extractor, settings, content, [style])
    ones = np.ones(content.shape[:2], np.float32)
    masked = Objective(fake_extractor, settings, content, [style], content_masks=[ones])
    both = Objective(
        fake_extractor, settings, content, [style], content_masks=[ones], style_masks=[ones]
    )
    expected = terms(plain, x)
    for objective in (masked, both):
        for name, value in terms(objective, x).items():
            assert value == pytest.approx(expected[name], rel=1e-6), name


def test_guided_gram_matches_numpy_with_the_authors_normalisation():
    x, content, style = random_images(3, shape=(4, 4, 3), seed=1)
    mask = np.zeros((4, 4), np.float32)
    mask[:, :2] = 1.0
    mask[0, 2] = 0.5  # a soft edge
    settings = Settings(style_layers=["conv1_1"], content_layer="conv1_1").resolve()
    objective = Objective(fake_extractor, settings, content, [style], content_masks=[mask])
    # numpy: T / sqrt(mean T²); G_r = Σ_k T_k² F_k F_kᵀ; E = Σ (G_r − A)² / (4 N² M²).
    # The fake conv1_1 doubles the image.
    guide = mask / np.sqrt(np.mean(mask**2))
    flat_x = (2 * x * guide[..., None]).reshape(-1, 3).astype(np.float64)
    flat_s = (2 * style).reshape(-1, 3).astype(np.float64)
    expected = np.sum((flat_x.T @ flat_x - flat_s.T @ flat_s) ** 2) / (4 * 3**2 * 16**2)
    assert terms(objective, x)["block1_conv1"] == pytest.approx(expected, rel=1e-5)


def test_region_mask_ignores_features_outside_it():
    x, content, style = random_images(3, seed=2)
    left = np.zeros(content.shape[:2], np.float32)
    left[:, :4] = 1.0
    settings = Settings().resolve()
    objective = Objective(fake_extractor, settings, content, [style], content_masks=[left])
    before = terms(objective, x)
    outside, inside = x.copy(), x.copy()
    outside[:, 4:] = np.random.default_rng(3).normal(size=outside[:, 4:].shape) * 10
    inside[:, :4] += 1.0
    after = terms(objective, outside)
    for layer in PAPER_STYLE_LAYERS:
        assert after[layer] == pytest.approx(before[layer], rel=1e-6)
    assert after["content"] != pytest.approx(before["content"])  # the content loss sees it all
    assert terms(objective, inside)["style"] != pytest.approx(before["style"], rel=1e-3)


def test_style_mask_takes_the_style_from_its_region_only():
    x, content, style = random_images(3, seed=4)
    top = np.zeros(style.shape[:2], np.float32)
    top[:3] = 1.0
    settings = Settings().resolve()
    ones = np.ones(content.shape[:2], np.float32)

    def style_loss(style_image):
        objective = Objective(
            fake_extractor,
            settings,
            content,
            [style_image],
            content_masks=[ones],
            style_masks=[top],
        )
        return terms(objective, x)["style"]

    changed = style.copy()
    changed[3:] *= 5.0
    assert style_loss(changed) == pytest.approx(style_loss(style), rel=1e-6)
    changed[:3] *= 2.0
    assert style_loss(changed) != pytest.approx(style_loss(style), rel=1e-3)


def test_two_regions_two_styles_add_up():
    x, content, style_a, style_b = random_images(4, seed=5)
    left = np.zeros(content.shape[:2], np.float32)
    left[:, :4] = 1.0
    settings = Settings().resolve()
    both = Objective(
        fake_extractor, settings, content, [style_a, style_b], [0.5, 0.5], [left, 1 - left]
    )
    only_a = Objective(fake_extractor, settings, content, [style_a], [0.5], [left])
    only_b = Objective(fake_extractor, settings, content, [style_b], [0.5], [1 - left])
    assert terms(both, x)["style"] == pytest.approx(
        terms(only_a, x)["style"] + terms(only_b, x)["style"], rel=1e-6
    )


def test_layer_guide_is_the_area_average_with_mean_square_one():
    mask = np.zeros((4, 4), np.float32)
    mask[:, :2] = 1.0
    mask[:2, 2] = 1.0  # top-right 2x2 block is half covered
    guide = masks.layer_guide(mask, 2, 2).numpy()[0, :, :, 0]
    area = np.array([[1.0, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(guide, area / np.sqrt(np.mean(area**2)), rtol=1e-6)
    assert np.mean(guide**2) == pytest.approx(1.0)


def test_load_mask_reads_white_as_the_region(tmp_path):
    picture = np.zeros((20, 30, 3), np.uint8)
    picture[:, 15:] = 255
    PIL.Image.fromarray(picture).save(tmp_path / "mask.png")
    mask = masks.load_mask(tmp_path / "mask.png", 10, 15)
    assert mask.shape == (10, 15) and mask.dtype == np.float32
    assert mask[:, :6].max() < 0.05 and mask[:, 9:].min() > 0.95
    PIL.Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(InputError, match="all black"):
        masks.load_mask(tmp_path / "black.png", 8, 8, name="mask 2")


def test_mask_counts_are_checked():
    white = np.full((8, 8, 3), 255, np.uint8)
    with pytest.raises(InputError, match="one mask per style image"):
        masks.load_masks([white], None, (8, 8), [(8, 8), (8, 8)])
    with pytest.raises(InputError, match="without content masks"):
        masks.load_masks(None, [white], (8, 8), [(8, 8)])
    with pytest.raises(InputError, match="style mask"):
        masks.load_masks([white, white], [white], (8, 8), [(8, 8), (8, 8)])
    region, style_regions = masks.load_masks([white, white], [white, "all"], (8, 8), [(8, 8)] * 2)
    assert len(region) == 2 and style_regions[1] is None


def test_two_region_transfer_records_its_masks(tmp_path, tubingen, starry_night, images_dir):
    mask = np.zeros((48, 64), np.uint8)
    mask[:20] = 255  # the sky
    PIL.Image.fromarray(mask).save(tmp_path / "sky.png")
    PIL.Image.fromarray(255 - mask).save(tmp_path / "ground.png")
    output = tmp_path / "regions.png"
    result = transfer(
        tubingen,
        [starry_night, images_dir / "composition_vii.jpg"],
        size=64,
        iterations=5,
        masks=[tmp_path / "sky.png", tmp_path / "ground.png"],
        output=output,
        progress=False,
    )
    assert result.history["total"][-1] < result.history["total"][0]
    manifest = json.loads(output.with_name(output.name + ".json").read_text())
    styles = manifest["inputs"]["styles"]
    assert [s["mask"]["path"] for s in styles] == [
        str((tmp_path / name).resolve()) for name in ("sky.png", "ground.png")
    ]
    assert [s["blend_weight"] for s in styles] == [0.5, 0.5]
    assert styles[0]["style_mask"] is None
    # score prepares the masks as transfer does: the saved output scores its final loss
    # (to the 8-bit rounding), and ignoring the masks scores another style loss (the
    # total is dominated by the content term at 64 px under the 512-px balance).
    given = {"masks": [tmp_path / "sky.png", tmp_path / "ground.png"]}
    styles = [starry_night, images_dir / "composition_vii.jpg"]
    final = result.manifest["final_loss"]
    assert score(output, tubingen, styles, **given)["total_loss"] == pytest.approx(
        final["total"], rel=0.02
    )
    assert score(output, tubingen, styles)["style_loss"] > 1.2 * final["style"]
