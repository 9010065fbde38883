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
