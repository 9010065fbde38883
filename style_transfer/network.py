"""VGG19 as a multi-output feature extractor that stops at the deepest layer needed.

The network is rebuilt layer by layer (so pooling can be max or average, as the
paper prefers) and filled with the official Keras ImageNet weights. A Keras conv
layer includes its ReLU, so ``block4_conv2`` is the paper's rectified conv4_2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import precision as _precision
from .errors import InputError

if TYPE_CHECKING:  # keras (and TensorFlow) load only when a network is built
    import keras

# (block, number of convs, filters) of VGG19's convolutional part.
VGG19_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
POOLINGS = ("avg", "max")  # the 2x2 pooling between blocks: the paper's average, or max
PAPER_POOLING = POOLINGS[0]
PRECISIONS = _precision.REQUESTS  # auto, float32, mixed: see precision.py


@dataclass(frozen=True)
class ConvLayer:
    """One of VGG19's 16 conv layers (each includes its ReLU)."""

    name: str  # the Keras name, block4_conv2
    paper_name: str  # the paper's name, conv4_2
    block: int  # 4
    index: int  # 2: the second conv of its block
    depth: int  # position among the 16 conv layers, 0 = block1_conv1
    filters: int  # output channels
    in_channels: int  # input channels (3 for the image)
    poolings: int  # 2x poolings between the input and this layer (block - 1)


def _table() -> dict[str, ConvLayer]:
    table: dict[str, ConvLayer] = {}
    in_channels = 3
    for block, convs, filters in VGG19_BLOCKS:
        for index in range(1, convs + 1):
            name = f"block{block}_conv{index}"
            table[name] = ConvLayer(
                name, f"conv{block}_{index}", block, index, len(table), filters, in_channels,
                block - 1,
            )  # fmt: skip
            in_channels = filters
    return table


LAYERS: dict[str, ConvLayer] = _table()  # Keras name -> layer, input to output
CONV_LAYERS = tuple(LAYERS)
FILTERS = {name: layer.filters for name, layer in LAYERS.items()}
_BY_PAPER_NAME = {layer.paper_name: layer for layer in LAYERS.values()}

WeightsDict = Mapping[str, tuple[np.ndarray, np.ndarray]]


def conv_layer(name: str) -> ConvLayer:
    """The layer called ``name``, paper style (``conv4_2``) or Keras style (``block4_conv2``)."""
    candidate = str(name).strip().lower()
    found = LAYERS.get(candidate) or _BY_PAPER_NAME.get(candidate)
    if found is None:
        valid = ", ".join(_BY_PAPER_NAME)
        raise InputError(
            f"unknown layer {name!r}; use one of {valid} (or Keras names like block4_conv2)"
        )
    return found


def keras_layer_name(name: str) -> str:
    """Map a layer name, paper style (``conv4_2``) or Keras style, to the Keras name."""
    return conv_layer(name).name


def paper_layer_name(name: str) -> str:
    """``block4_conv2`` (or ``conv4_2``) -> ``conv4_2``."""
    return conv_layer(name).paper_name


def poolings_before(layer: str) -> int:
    """How many 2x poolings lie between the input and ``layer``."""
    return conv_layer(layer).poolings


def deepest(layers: Iterable[str]) -> str:
    """The Keras name of the deepest of ``layers`` (any naming); InputError if there are none."""
    found = [conv_layer(layer) for layer in layers]
    if not found:
        raise InputError("no layers requested; name at least one content or style layer")
    return max(found, key=lambda layer: layer.depth).name


def layers_up_to(layer: str) -> tuple[ConvLayer, ...]:
    """Every conv layer from the input up to and including ``layer``."""
    return tuple(LAYERS.values())[: conv_layer(layer).depth + 1]


def check_pooling(pooling: object) -> str:
    """``pooling`` if it is one of ``POOLINGS``, else InputError (checked only here)."""
    if pooling not in POOLINGS:
        raise InputError(f"unknown pooling {pooling!r}; use avg (the paper's) or max")
    return pooling


def check_precision(precision: object) -> str:
    """``precision`` if it is one of ``PRECISIONS``, else InputError (checked only here)."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    return precision


def build_feature_extractor(
    layers: Iterable[str],
    weights: WeightsDict,
    pooling: str = PAPER_POOLING,
    precision: str = "float32",
) -> keras.Model:
    """A ``keras.Model`` mapping a preprocessed BGR batch to float32 ``{layer: features}``.

    Only the layers up to the deepest requested one are built, so no time is spent
    on convolutions whose output no loss uses. ``precision`` (a request or a Keras policy,
    precision.py) may
    run the convolutions in bfloat16 (CPU) or float16 (GPU) with float32 weights; every
    returned feature map is cast back to float32, so Grams and losses stay float32.
    """
    import keras

    if precision not in _precision.POLICIES:
        check_precision(precision)
    dtype = _precision.policy(precision)
    check_pooling(pooling)
    wanted = {keras_layer_name(layer) for layer in layers}
    last = deepest(wanted)
    pool_class = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="bgr_image")
    x = inputs
    outputs = {}
    for layer in layers_up_to(last):
        if layer.index == 1 and layer.poolings:
            x = pool_class(2, strides=2, name=f"block{layer.block - 1}_pool", dtype=dtype)(x)
        name = layer.name
        conv = keras.layers.Conv2D(
            layer.filters, 3, padding="same", activation="relu", name=name, dtype=dtype
        )
        x = conv(x)
        conv.set_weights(list(weights[name]))
        if name in wanted:
            to_float32 = keras.layers.Activation("linear", dtype="float32", name=f"{name}_f32")
            outputs[name] = x if dtype == "float32" else to_float32(x)
    model = keras.Model(inputs, outputs, name=f"vgg19_{pooling}pool_to_{last}")
    model.trainable = False
    return model


# Keras "caffe" preprocessing: RGB -> BGR, 0..255, minus the ImageNet mean (BGR order).
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """RGB 0..255 (H, W, 3) -> the network's BGR, mean-subtracted input."""
    import keras

    return keras.applications.vgg19.preprocess_input(np.array(rgb, np.float32, copy=True))


def deprocess(bgr: np.ndarray) -> np.ndarray:
    """The network's input -> RGB 0..255 float32, clipped."""
    rgb = (np.asarray(bgr, np.float32) + BGR_MEAN)[..., ::-1]
    return np.clip(rgb, 0.0, 255.0)


def pixel_bounds(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat lower/upper bounds that keep every optimised pixel inside 0..255."""
    lower = np.broadcast_to(-BGR_MEAN, shape).astype(np.float64).ravel()
    return lower, lower + 255.0
