"""Presets resolve to the documented values; bad settings fail with one clear line."""

import math

import pytest

from style_transfer.errors import InputError
from style_transfer.network import keras_layer_name
from style_transfer.settings import PAPER_STYLE_LAYERS, Settings


def test_paper_preset_values():
    s = Settings().resolve()
    assert (s.pooling, s.init, s.loss_form, s.gram_by_positions) == ("avg", "noise", "paper", False)
    assert s.content_layer == "block4_conv2"
    assert s.style_layers == dict.fromkeys(PAPER_STYLE_LAYERS, 0.2)
    assert s.ratio == pytest.approx(1e-3)


def test_gatys_code_preset_values():
    s = Settings(preset="gatys-code").resolve()
    assert (s.pooling, s.init, s.loss_form, s.gram_by_positions) == ("max", "content", "mse", True)
    assert s.style_layers["block1_conv1"] == pytest.approx(1e3 / 64**2)
    assert s.style_layers["block5_conv1"] == pytest.approx(1e3 / 512**2)
    assert (s.content_weight, s.style_weight) == (1.0, 1.0)


def test_ratio_sets_alpha_over_beta():
    s = Settings(ratio=1e-4, style_weight=10.0).resolve()
    assert s.content_weight == pytest.approx(1e-3)
    assert s.ratio == pytest.approx(1e-4)


def test_layer_names_paper_or_keras():
    assert keras_layer_name("conv4_2") == "block4_conv2"
    assert keras_layer_name("block4_conv2") == "block4_conv2"
    s = Settings(style_layers="conv1_1,conv2_1").resolve()
    assert s.style_layers == {"block1_conv1": 0.5, "block2_conv1": 0.5}


def test_zero_content_weight_allowed_for_texture_synthesis():
    assert Settings(content_weight=0.0).resolve().content_weight == 0.0


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"preset": "picasso"}, "unknown preset"),
        ({"size": 0}, "size"),
        ({"size": 100000}, "size"),
        ({"iterations": 0}, "iterations"),
        ({"iterations": -5}, "iterations"),
        ({"iterations": 2.5}, "whole number"),
        ({"content_weight": -1.0}, "content weight"),
        ({"style_weight": math.nan}, "style weight"),
        ({"tv_weight": math.inf}, "tv weight"),
        ({"ratio": 0.0}, "ratio"),
        ({"ratio": -1e-3}, "ratio"),
        ({"ratio": 1e-3, "content_weight": 1.0}, "not both"),
        ({"content_weight": 0.0, "style_weight": 0.0}, "nothing to optimise"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"pooling": "min"}, "pooling"),
        ({"style_layers": ["conv9_9"]}, "unknown layer"),
        ({"content_layer": "fc7"}, "unknown layer"),
        ({"style_layers": []}, "no style layers"),
        ({"style_layers": ["conv1_1", "block1_conv1"]}, "twice"),
        ({"save_every": -1}, "save_every"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings(overrides, fragment):
    with pytest.raises(InputError) as caught:
        Settings(**overrides).resolve()
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_layer_lists_valid_names():
    with pytest.raises(InputError, match="conv4_2"):
        keras_layer_name("conv6_1")
