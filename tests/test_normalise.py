"""The normalised VGG19: mean activation 1 per filter, features = positive per-channel rescaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from style_transfer import images, network, normalise
from style_transfer.errors import InputError
from style_transfer.settings import Settings
from style_transfer.weights import load_vgg19_weights, resolve_weights

SIZE = 96  # calibration images are shrunk to this, so the tests stay quick


@pytest.fixture(autouse=True)
def own_keras_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test gets an empty cache, so nothing is read from or left in ~/.keras."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


@pytest.fixture(scope="module")
def calibration(images_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("calibration")
    for name in ("tubingen.jpg", "starry_night.jpg", "composition_vii.jpg"):
        small = images.resize_long_side(images.load_image(images_dir / name), SIZE)
        images.save_image(small, folder / name.replace(".jpg", ".png"))
    return folder


@pytest.fixture(scope="module")
def original() -> dict:
    return load_vgg19_weights(resolve_weights())


def _calibration_rgb(folder: Path) -> list[np.ndarray]:
    return [images.load_image(p) for p in normalise.calibration_images(folder)]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_mean_activation_is_one_per_filter(calibration: Path, original: dict, pooling: str):
    weights, info = normalise.normalised_weights(resolve_weights(), pooling, calibration, size=SIZE)
    assert info["calibration_images"] == ["composition_vii.png", "starry_night.png", "tubingen.png"]
    before = normalise.mean_activations(original, _calibration_rgb(calibration), pooling)
    after = normalise.mean_activations(weights, _calibration_rgb(calibration), pooling)
    assert np.median(before["block1_conv1"]) > 5  # the released weights are far from 1
    for layer in network.CONV_LAYERS:
        alive = before[layer] > normalise.DEAD
        np.testing.assert_allclose(after[layer][alive], 1.0, rtol=5e-3, err_msg=layer)
        np.testing.assert_array_equal(after[layer][~alive], 0.0)


def test_features_are_positive_per_channel_rescalings(
    calibration: Path, original: dict, images_dir: Path
):
    """On an image outside the calibration set, F_norm = c * F_orig with c > 0 per channel."""
    import tensorflow as tf

    weights, _ = normalise.normalised_weights(resolve_weights(), "avg", calibration, size=SIZE)
    rgb = images.resize_long_side(images.load_image(images_dir / "shipwreck.jpg"), 80)
    batch = tf.constant(network.preprocess(rgb)[None])
    layers = ("block1_conv1", "block2_conv2", "block4_conv2", "block5_conv4")
    plain = network.build_feature_extractor(layers, original, "avg")(batch)
    scaled = network.build_feature_extractor(layers, weights, "avg")(batch)
    for layer in layers:
        f = plain[layer].numpy().reshape(-1, network.FILTERS[layer]).astype(np.float64)
        g = scaled[layer].numpy().reshape(-1, network.FILTERS[layer]).astype(np.float64)
        active = (f**2).sum(axis=0) > 0
        factor = (f * g).sum(axis=0)[active] / (f**2).sum(axis=0)[active]  # least squares
        assert np.all(factor > 0), layer
        scale = np.abs(g).max()  # float32: absolute error relative to the layer's largest value
        np.testing.assert_allclose(
            g[:, active], f[:, active] * factor, rtol=1e-3, atol=1e-5 * scale
        )
        assert np.all(g[:, ~active] == 0)


def test_means_are_cached_per_pooling(calibration: Path, monkeypatch: pytest.MonkeyPatch):
    first, info = normalise.normalised_weights(resolve_weights(), "avg", calibration, size=SIZE)
    assert Path(info["means_cache"]).is_file() and "_avg" in info["means_cache"]

    def measure_again(*args, **kwargs):
        raise AssertionError("the cached means were not used")

    monkeypatch.setattr(normalise, "mean_activations", measure_again)
    again, _ = normalise.normalised_weights(resolve_weights(), "avg", calibration, size=SIZE)
    for layer in network.CONV_LAYERS:
        np.testing.assert_array_equal(first[layer][0], again[layer][0])
    with pytest.raises(AssertionError, match="cached means"):
        normalise.normalised_weights(resolve_weights(), "max", calibration, size=SIZE)


def test_bad_calibration_folders(tmp_path: Path):
    with pytest.raises(InputError, match="not a folder"):
        normalise.calibration_images(tmp_path / "absent")
    with pytest.raises(InputError, match="holds no images"):
        normalise.calibration_images(tmp_path)
    with pytest.raises(InputError, match="unknown network"):
        Settings(network="normalized-ish").resolve()


def test_transfer_on_the_normalised_network_records_it(calibration: Path, tubingen, starry_night):
    from style_transfer import transfer

    result = transfer(
        tubingen, starry_night, size=32, iterations=2, network="normalised",
        calibration=str(calibration), progress=False,
    )  # fmt: skip
    assert result.manifest["settings"]["network"] == "normalised"
    made = result.manifest["weights"]["normalisation"]
    assert made["calibration_images"] == ["composition_vii.png", "starry_night.png", "tubingen.png"]
    assert Settings().resolve().network == "original"


def test_bfloat16_on_the_normalised_network_runs_its_iterations(
    calibration: Path, tubingen, starry_night
):
    """The normalised network's loss is so flat (~5, gradient ~1e-5 a pixel) that scipy's first
    step was lost in bfloat16's rounding and the run stopped after one iteration; see
    optimize.MIN_FIRST_STEP. Here the paper's look on that network (alpha/beta about 3e-8)."""
    from style_transfer import transfer

    result = transfer(
        tubingen, starry_night, size=64, iterations=8, network="normalised", ratio=3e-8,
        precision="mixed", calibration=str(calibration), progress=False,
    )  # fmt: skip
    assert result.manifest["precision"]["used"] == "mixed_bfloat16"
    assert result.manifest["optimizer"]["iterations"] == 8
    totals = result.history["total"]
    assert totals[-1] < 0.5 * totals[0]
