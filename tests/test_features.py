"""``style_transfer.features``: VGG19 feature maps, checked against a numpy convolution."""

from __future__ import annotations

import os

import numpy as np
import pytest

import style_transfer as st
from style_transfer.errors import InputError
from style_transfer.weights import load_vgg19_weights, resolve_weights

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])


def _conv3x3_relu(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'same' 3x3 cross-correlation + bias + ReLU, by summing the nine shifted products."""
    height, width, _ = image.shape
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((height, width, kernel.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + height, dx : dx + width] @ kernel[dy, dx]
    return np.maximum(out + bias, 0.0)


def test_conv1_1_matches_numpy_and_deeper_maps_have_the_right_shapes():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(32, 48, 3)).astype(np.uint8)
    maps = st.features(rgb, ["conv1_1", "block3_conv1", "conv5_1"])

    kernel, bias = load_vgg19_weights(resolve_weights(os.environ.get("STYLE_TRANSFER_WEIGHTS")))[
        "block1_conv1"
    ]
    bgr = rgb[..., ::-1].astype(np.float64) - CAFFE_MEAN_BGR
    expected = _conv3x3_relu(bgr, kernel.astype(np.float64), bias.astype(np.float64))
    np.testing.assert_allclose(maps["conv1_1"], expected, rtol=1e-4, atol=1e-3)

    assert list(maps) == ["conv1_1", "block3_conv1", "conv5_1"]  # keyed as asked
    assert maps["block3_conv1"].shape == (8, 12, 256)  # two 2x poolings
    assert maps["conv5_1"].shape == (2, 3, 512)  # four


def test_size_resizes_the_longer_side_and_pooling_changes_deeper_maps(starry_night):
    average = st.features(starry_night, "conv2_1", size=40)["conv2_1"]
    largest = st.features(starry_night, "conv2_1", size=40, pooling="max")["conv2_1"]
    assert average.shape == (16, 20, 128)  # 970x768 -> 40x32, one pooling
    assert not np.allclose(average, largest)


def test_unknown_layer_is_refused_in_one_line():
    with pytest.raises(InputError, match="unknown layer 'conv9_1'"):
        st.features(np.zeros((16, 16, 3), np.uint8), ["conv9_1"])


def test_layer_table_matches_keras_vgg19():
    """network.LAYERS against keras.applications.VGG19 (built without weights): the same
    conv layers in the same order, their filters and input channels, the poolings before."""
    import keras

    from style_transfer import network

    reference = keras.applications.VGG19(weights=None, include_top=False)
    convs, poolings = [], 0
    for layer in reference.layers:
        if isinstance(layer, keras.layers.MaxPooling2D):
            poolings += 1
        elif isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel.shape  # (3, 3, in, out)
            convs.append((layer.name, kernel[2], kernel[3], poolings))
    table = [(c.name, c.in_channels, c.filters, c.poolings) for c in network.LAYERS.values()]
    assert table == convs
    assert [c.depth for c in network.LAYERS.values()] == list(range(16))
    assert tuple(name for name, *_ in convs) == network.CONV_LAYERS


def test_layer_names_and_deepest():
    from style_transfer import network

    assert network.paper_layer_name("block4_conv2") == "conv4_2"
    assert network.paper_layer_name(" Conv5_4 ") == "conv5_4"
    assert network.keras_layer_name("conv3_4") == "block3_conv4"
    assert network.poolings_before("conv1_2") == 0 and network.poolings_before("conv5_1") == 4
    assert network.deepest(["conv1_1", "block4_conv2", "conv3_4"]) == "block4_conv2"
    assert network.deepest(["conv5_1", "conv4_4"]) == "block5_conv1"
    assert [c.paper_name for c in network.layers_up_to("conv2_1")] == [
        "conv1_1",
        "conv1_2",
        "conv2_1",
    ]
    with pytest.raises(InputError, match="no layers requested"):
        network.deepest([])
    for bad in ("conv6_1", "conv4_5", "block4", "conv", "", None):
        with pytest.raises(InputError, match=r"unknown layer .*conv1_1, conv1_2"):
            network.conv_layer(bad)
