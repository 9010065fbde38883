"""The paper's normalised VGG19: every filter rescaled so its mean activation is 1.

Gatys et al. used VGG19 "normalized by scaling the weights such that the mean activation
of each convolutional filter over images and positions is equal to one". ReLU is
positively homogeneous and both poolings commute with a positive per-channel scale, so
dividing layer l's kernel and bias by a per-filter factor m_l, and multiplying the next
layer's input-channel weights by m_l, makes every feature map the original one divided
by m_l. Normalising layer by layer (each layer's means measured on the network already
normalised below it) therefore gives exactly m_l = the original network's mean activation
of layer l: one pass over the calibration images measures all sixteen layers at once.

The means depend on the weights, the pooling (after the first pool) and the calibration
images, so they are cached under ``$KERAS_HOME/style_transfer_normalised/`` keyed by the
weights' md5, a digest of the calibration set and its size, and the pooling.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import data, images, network
from .atomic import replace_atomically
from .errors import InputError, ResourceError
from .network import CONV_LAYERS, WeightsDict
from .paths import expand_user

CALIBRATION_SIZE = 512  # calibration images are shrunk to at most this longer side (px)
CACHE_SUBDIR = "style_transfer_normalised"
DEAD = 1e-12  # a filter whose mean activation is below this never fires; it keeps factor 1
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def calibration_images(
    folder: str | os.PathLike | None = None, images_dir: str | os.PathLike | None = None
) -> list[Path]:
    """The calibration set: every image in ``folder``, or else the paper's images present.

    The paper's images are found as ``data.image_path`` finds them (``images_dir``,
    ``$STYLE_TRANSFER_IMAGES``, the Keras cache, a download); any that cannot be had
    (the Picasso, usually) are left out.
    """
    if folder is not None and str(folder):
        root = expand_user(folder)
        if not root.is_dir():
            raise InputError(f"calibration folder {str(root)!r} is not a folder; pass a folder")
        paths = sorted(p for p in root.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not paths:
            raise InputError(
                f"calibration folder {str(root)!r} holds no images; add JPEG or PNG files"
            )
        return [p.resolve() for p in paths]
    found = data.available(images_dir=images_dir)
    if not found:
        raise ResourceError(
            "no calibration images: none of the paper's images could be found or fetched; "
            f"pass a calibration folder or set ${data.ENV_VAR} to a folder holding them"
        )
    return list(found.values())


def calibration_digest(paths: Sequence[str | os.PathLike], size: int) -> str:
    """SHA-256 over the images' contents (in order) and the calibration size."""
    digest = hashlib.sha256(f"size={size}".encode())
    for path in paths:
        digest.update(images.image_digest(path).encode())
    return digest.hexdigest()


def mean_activations(
    weights: WeightsDict,
    rgb_images: Sequence[np.ndarray],
    pooling: str = network.PAPER_POOLING,
    layers: Sequence[str] = CONV_LAYERS,
) -> dict[str, np.ndarray]:
    """Per-filter mean activation of each conv layer: the mean over positions of each
    image, then over images (each image counts equally, whatever its size)."""
    import tensorflow as tf

    extractor = network.build_feature_extractor(layers, weights, pooling)
    sums = {layer: np.zeros(network.FILTERS[layer], np.float64) for layer in layers}
    for rgb in rgb_images:
        maps = extractor(tf.constant(network.preprocess(rgb)[None]), training=False)
        for layer in layers:
            sums[layer] += tf.reduce_mean(maps[layer], axis=(0, 1, 2)).numpy()
    return {layer: total / len(rgb_images) for layer, total in sums.items()}


def normalise_weights(weights: WeightsDict, means: Mapping[str, np.ndarray]) -> dict:
    """Weights whose layer-l features are the original ones divided by ``means[l]``.

    Layer l's kernel and bias are divided by m_l (per output filter); its input-channel
    weights are multiplied by m_(l-1), undoing the previous layer's rescaling. Filters
    with a mean below ``DEAD`` keep factor 1.
    """
    normalised = {}
    previous = np.ones(3, np.float64)
    for layer in CONV_LAYERS:
        kernel, bias = (np.asarray(w, np.float64) for w in weights[layer])
        factor = np.asarray(means[layer], np.float64)
        factor = np.where(factor > DEAD, factor, 1.0)
        kernel = kernel * previous[None, None, :, None] / factor[None, None, None, :]
        normalised[layer] = (kernel.astype(np.float32), (bias / factor).astype(np.float32))
        previous = factor
    return normalised


def normalised_weights(
    weights_path: str | os.PathLike,
    pooling: str = network.PAPER_POOLING,
    calibration: str | os.PathLike | None = None,
    *,
    size: int = CALIBRATION_SIZE,
    images_dir: str | os.PathLike | None = None,
) -> tuple[dict, dict]:
    """The normalised weights for this weights file and pooling, and how they were made.

    The per-filter means are read from the cache, or measured on the calibration set
    (``calibration`` folder, default the paper's images) and cached. Returns
    ``(weights, info)``; ``info`` names the calibration images, their digest and the cache.
    """
    from .weights import file_md5, keras_cache_dir, load_vgg19_weights

    network.check_pooling(pooling)
    original = load_vgg19_weights(weights_path)
    paths = calibration_images(calibration, images_dir)
    digest = calibration_digest(paths, size)
    md5 = file_md5(weights_path)
    cache = keras_cache_dir(CACHE_SUBDIR) / f"vgg19_means_{md5[:12]}_{digest[:12]}_{pooling}.npz"
    means = _read_cache(cache)
    if means is None:
        rgb = [_calibration_image(p, size) for p in paths]
        means = mean_activations(original, rgb, pooling)
        check_means(means)
        _write_cache(cache, means)
    info = {
        "network": "normalised",
        "calibration_images": [p.name for p in paths],
        "calibration_max_size": size,
        "calibration_digest": digest,
        "means_cache": str(cache),
        "dead_filters": {k: int(np.sum(v <= DEAD)) for k, v in means.items() if np.any(v <= DEAD)},
    }
    return normalise_weights(original, means), info


def _calibration_image(path: Path, size: int) -> np.ndarray:
    """A calibration image at most ``size`` px, refused if conv5's maps would be empty."""
    rgb = _at_most(images.load_image(path, name="calibration image"), size)
    needed = 2 ** network.poolings_before(CONV_LAYERS[-1])
    height, width = rgb.shape[:2]
    if min(height, width) < needed:
        raise InputError(
            f"calibration image {str(path)!r} is {width}x{height} px (at most {size} px), too "
            f"small to measure {network.paper_layer_name(CONV_LAYERS[-1])} (needs at least "
            f"{needed} px on each side); remove it from the calibration folder or use larger ones"
        )
    return rgb


def check_means(means: Mapping[str, np.ndarray]) -> None:
    """Refuse means that cannot normalise: a non-finite one, or a layer no filter fires in
    (dividing by nothing would leave it silently unnormalised)."""
    for layer in CONV_LAYERS:
        values = np.asarray(means[layer], np.float64)
        name = network.paper_layer_name(layer)
        if not np.all(np.isfinite(values)):
            raise InputError(
                f"the calibration images give non-finite mean activations for {name}; "
                "use a calibration folder of ordinary photos of at least 16 px each side"
            )
        if not np.any(values > DEAD):
            raise InputError(
                f"no filter of {name} fires on the calibration images (all means are 0), so it "
                "cannot be normalised; use larger or more varied calibration images"
            )


def _at_most(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` shrunk so its longer side is at most ``size`` px (never enlarged)."""
    return images.resize_long_side(rgb, size) if max(rgb.shape[:2]) > size else rgb


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as stored:
            means = {layer: stored[layer] for layer in CONV_LAYERS}
    except (OSError, KeyError, ValueError):  # absent, partial or corrupt: measure again
        return None
    ok = all(v.shape == (network.FILTERS[k],) and np.all(np.isfinite(v)) for k, v in means.items())
    return means if ok else None


def _write_cache(path: Path, means: Mapping[str, np.ndarray]) -> None:
    """Write atomically; an unwritable cache only costs a recomputation next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replace_atomically(path) as handle:
            np.savez(handle, **{k: np.asarray(v, np.float64) for k, v in means.items()})
    except (OSError, InputError):
        return
