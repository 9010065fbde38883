"""VGG19 as a multi-output feature extractor that stops at the deepest layer needed.

The network is rebuilt layer by layer (so pooling can be max or average, as the
paper prefers) and filled with the official Keras ImageNet weights. A Keras conv
layer includes its ReLU, so ``block4_conv2`` is the paper's rectified conv4_2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError

if TYPE_CHECKING:  # keras (and TensorFlow) load only when a network is built
    import keras

# (block, number of convs, filters) of VGG19's convolutional part.
VGG19_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CONV_LAYERS = tuple(
    f"block{block}_conv{i}" for block, convs, _ in VGG19_BLOCKS for i in range(1, convs + 1)
)
FILTERS = {
    f"block{block}_conv{i}": filters
    for block, convs, filters in VGG19_BLOCKS
    for i in range(1, convs + 1)
}
POOLINGS = ("avg", "max")
PRECISIONS = ("float32", "mixed")

WeightsDict = Mapping[str, tuple[np.ndarray, np.ndarray]]


def keras_layer_name(name: str) -> str:
    """Map a layer name, paper style (``conv4_2``) or Keras style, to the Keras name."""
    candidate = name.strip().lower()
    if candidate.startswith("conv") and "_" in candidate:
        block, _, index = candidate[4:].partition("_")
        candidate = f"block{block}_conv{index}"
    if candidate not in CONV_LAYERS:
        valid = ", ".join(f"conv{n[5]}_{n[-1]}" for n in CONV_LAYERS)
        raise InputError(
            f"unknown layer {name!r}; use one of {valid} (or Keras names like block4_conv2)"
        )
    return candidate


def paper_layer_name(keras_name: str) -> str:
    """``block4_conv2`` -> ``conv4_2``."""
    return f"conv{keras_name[5]}_{keras_name[-1]}"


def poolings_before(layer: str) -> int:
    """How many 2x poolings lie between the input and ``layer``."""
    return int(keras_layer_name(layer)[5]) - 1


def mixed_dtype_policy() -> str:
    """The Keras mixed policy for this machine: float16 on a GPU, bfloat16 on a CPU."""
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def build_feature_extractor(
    layers: Iterable[str], weights: WeightsDict, pooling: str = "avg", precision: str = "float32"
) -> keras.Model:
    """A ``keras.Model`` mapping a preprocessed BGR batch to float32 ``{layer: features}``.

    Only the layers up to the deepest requested one are built, so no time is spent
    on convolutions whose output no loss uses. ``precision="mixed"`` runs the
    convolutions in bfloat16 (CPU) or float16 (GPU) with float32 weights, and casts
    every returned feature map back to float32, so Grams and losses stay float32.
    """
    import keras

    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; use float32 or mixed")
    dtype = mixed_dtype_policy() if precision == "mixed" else "float32"
    if pooling not in POOLINGS:
        raise InputError(f"unknown pooling {pooling!r}; use 'avg' (the paper's) or 'max'")
    wanted = [keras_layer_name(layer) for layer in layers]
    if not wanted:
        raise InputError("no layers requested; name at least one content or style layer")
    deepest = max(CONV_LAYERS.index(layer) for layer in wanted)
    pool_class = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="bgr_image")
    x = inputs
    outputs = {}
    for layer_index, name in enumerate(CONV_LAYERS[: deepest + 1]):
        if layer_index > 0 and name.endswith("_conv1"):
            x = pool_class(2, strides=2, name=f"block{int(name[5]) - 1}_pool", dtype=dtype)(x)
        conv = keras.layers.Conv2D(
            FILTERS[name], 3, padding="same", activation="relu", name=name, dtype=dtype
        )
        x = conv(x)
        conv.set_weights(list(weights[name]))
        if name in wanted:
            to_float32 = keras.layers.Activation("linear", dtype="float32", name=f"{name}_f32")
            outputs[name] = x if dtype == "float32" else to_float32(x)
    model = keras.Model(inputs, outputs, name=f"vgg19_{pooling}pool_to_{CONV_LAYERS[deepest]}")
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
