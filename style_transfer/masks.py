"""Spatial control with guided Gram matrices, after Gatys et al. (CVPR 2017),
"Controlling Perceptual Factors in Neural Style Transfer", the authors' "simple" mode.

Each region r has a guidance mask T_r (white = inside, values 0..1). At every style
layer the mask is downsampled to the layer's H×W (area averaging, ``tf.image.resize``),
then normalised, as in the authors' code, so that its mean square over the layer's
positions is 1: ``T_r <- T_r / sqrt(mean(T_r²))``. The region's guided Gram is the Gram of
the masked features, ``G_r = (F ∘ T_r)^T (F ∘ T_r)`` (divided by M under the gatys-code
preset), i.e. the Gram restricted to the region and rescaled to the whole layer's M: an
all-ones mask gives exactly the unguided Gram, and regions of different sizes (in the
content and in the style) compare like for like. Each region's target is the guided Gram
of its style image under that style's own mask, or the plain Gram of the whole style
image when it has none.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .errors import InputError
from .images import ImageSource, load_image, resize_to


def load_mask(source: ImageSource, height: int, width: int, *, name: str = "mask") -> np.ndarray:
    """A guidance mask (H, W) in 0..1 at ``height`` x ``width``: white = inside the region.

    Colour masks are read as their mean over R, G, B. An all-black mask is refused.
    """
    rgb = load_image(source, name=name)
    mask = resize_to(rgb, height, width).mean(axis=2) / 255.0
    mask = np.clip(mask, 0.0, 1.0).astype(np.float32)
    if not mask.any():
        raise InputError(f"the {name} is all black (an empty region); paint the region white")
    return mask


def layer_guide(mask: np.ndarray, height: int, width: int, *, name: str = "mask") -> tf.Tensor:
    """The mask downsampled to a layer's ``height`` x ``width``, mean square 1: (1, h, w, 1)."""
    pixels = tf.constant(np.asarray(mask, np.float32)[None, :, :, None])
    guide = tf.image.resize(pixels, (height, width), method="area")
    mean_square = float(tf.reduce_mean(tf.square(guide)))
    if not mean_square > 0:
        raise InputError(
            f"the {name} is empty at a {width}x{height} layer; enlarge the region or the --size"
        )
    return guide / np.float32(np.sqrt(mean_square))


def layer_guides(
    mask: np.ndarray, shapes: dict[str, tuple[int, int]], *, name: str = "mask"
) -> dict[str, tf.Tensor]:
    """``layer_guide`` for every layer in ``shapes`` (layer -> (height, width))."""
    return {layer: layer_guide(mask, h, w, name=name) for layer, (h, w) in shapes.items()}


def guide_features(features: tf.Tensor, guide: tf.Tensor | None) -> tf.Tensor:
    """``F ∘ T``: features (1, h, w, N) weighted per position by a normalised guide."""
    return features if guide is None else features * guide


def load_masks(
    masks: Sequence[ImageSource] | None,
    style_masks: Sequence[ImageSource | None] | None,
    content_shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]],
) -> tuple[list[np.ndarray] | None, list[np.ndarray | None] | None]:
    """Region masks at the content's size and style masks at each style's size, checked.

    One content mask per style image (region i gets style i). A style mask may be
    ``None`` or ``"all"``: that style's whole image is used.
    """
    count = len(style_shapes)
    if masks is None:
        if style_masks is not None:
            raise InputError(
                "style masks given without content masks; add --masks, one per style image"
            )
        return None, None
    masks = [masks] if isinstance(masks, (str, os.PathLike, np.ndarray)) else list(masks)
    if len(masks) != count:
        raise InputError(
            f"got {len(masks)} mask(s) for {count} style image(s); "
            "give one mask per style image (region i is painted in style i)"
        )
    content_masks = [
        load_mask(mask, *content_shape, name=f"mask {i + 1}") for i, mask in enumerate(masks)
    ]
    if style_masks is None:
        return content_masks, None
    if isinstance(style_masks, (str, os.PathLike, np.ndarray)):
        style_masks = [style_masks]
    if len(style_masks) != count:
        raise InputError(
            f"got {len(style_masks)} style mask(s) for {count} style image(s); give one per "
            "style image ('all' for the whole image)"
        )
    loaded = [
        None
        if mask is None or (isinstance(mask, str) and mask == "all")
        else load_mask(mask, *shape, name=f"style mask {i + 1}")
        for i, (mask, shape) in enumerate(zip(style_masks, style_shapes))
    ]
    return content_masks, loaded
