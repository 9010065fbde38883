"""Colour preservation, after Gatys, Bethge, Hertzmann & Shechtman (2016),
"Preserving Color in Neural Artistic Style Transfer" (arXiv:1606.05897).

Two ways to keep the photo's colours:

- ``"histogram"``: before the transfer, an affine map ``x -> A (x - mu_s) + mu_c`` of the
  style image's RGB pixels gives them the content's mean ``mu_c`` and covariance ``C_c``.
  Every ``A`` with ``A C_s A^T = C_c`` does that; three are offered, as in the authors'
  ``match_color`` (NeuralImageSynthesis): ``"pca"`` (their default) ``A = C_c^½ C_s^-½``
  with symmetric square roots from the eigendecomposition (the Image Analogies form);
  ``"cholesky"`` ``A = L_c L_s^-1`` with ``C = L L^T``; ``"symmetric"`` the unique symmetric
  positive definite ``A = C_s^-½ (C_s^½ C_c C_s^½)^½ C_s^-½`` (the optimal-transport map).
  As in the authors' code, statistics are taken on 0..1 values with ``eps·I`` added to
  both covariances, and the mapped pixels are then clipped to the valid range: clipping
  pulls back the few pixels the map sends out of gamut, so after it the mean and
  covariance match only approximately (before it, exactly up to ``eps``).
- ``"luminance"``: the transfer runs on grey images of the luminance Y (YIQ, via
  ``tf.image.rgb_to_yiq``: Y = .299 R + .587 G + .114 B), the style's Y optionally
  matched to the content's mean and standard deviation; the output is the result's Y
  with the content's I and Q, clipped to 0..255.

Images are float RGB arrays (H, W, 3) in 0..255, as everywhere in the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .errors import InputError
from .settings import COLOUR_MODES, HISTOGRAM_METHOD, HISTOGRAM_METHODS

EPS = 1e-5  # added to both covariances (0..1 units), as in the authors' code


# ---------------------------------------------------------------- histogram matching


def _mean_and_covariance(rgb: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(rgb, np.float64).reshape(-1, 3) / 255.0
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    return mean, centred.T @ centred / len(pixels) + eps * np.eye(3)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def colour_transform(
    style: np.ndarray, content: np.ndarray, method: str = HISTOGRAM_METHOD, *, eps: float = EPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, mu_s, mu_c)`` (0..1 units) with ``A C_s A^T = C_c`` for the chosen ``method``."""
    if method not in HISTOGRAM_METHODS:
        raise InputError(
            f"unknown histogram method {method!r}; use one of {', '.join(HISTOGRAM_METHODS)}"
        )
    mu_s, cov_s = _mean_and_covariance(style, eps)
    mu_c, cov_c = _mean_and_covariance(content, eps)
    try:
        if method == "cholesky":
            matrix = np.linalg.cholesky(cov_c) @ np.linalg.inv(np.linalg.cholesky(cov_s))
        elif method == "pca":
            matrix = _sqrtm(cov_c) @ np.linalg.inv(_sqrtm(cov_s))
        else:
            root_s = _sqrtm(cov_s)
            inverse_root_s = np.linalg.inv(root_s)
            matrix = inverse_root_s @ _sqrtm(root_s @ cov_c @ root_s) @ inverse_root_s
    except np.linalg.LinAlgError:
        raise InputError(
            "cannot match colours: the style image's colours are degenerate (one flat colour); "
            "use another style image or --preserve-colour luminance"
        ) from None
    return matrix, mu_s, mu_c


def match_histogram(
    style: np.ndarray,
    content: np.ndarray,
    method: str = HISTOGRAM_METHOD,
    *,
    eps: float = EPS,
    clip: bool = True,
) -> np.ndarray:
    """The style image with the content's colour mean and covariance (float32, 0..255).

    With ``clip=False`` the exact affine image of the style is returned, unclipped.
    """
    matrix, mu_s, mu_c = colour_transform(style, content, method, eps=eps)
    pixels = np.asarray(style, np.float64).reshape(-1, 3) / 255.0
    mapped = ((pixels - mu_s) @ matrix.T + mu_c).reshape(np.shape(style)) * 255.0
    if clip:
        mapped = np.clip(mapped, 0.0, 255.0)
    return mapped.astype(np.float32)


# ---------------------------------------------------------------- luminance-only transfer


def to_yiq(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) -> YIQ with ``tf.image.rgb_to_yiq`` (linear, so 0..255 stays 0..255 in Y)."""
    return tf.image.rgb_to_yiq(tf.constant(np.asarray(rgb, np.float32))).numpy()


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Y of an RGB image, (H, W), same units."""
    return to_yiq(rgb)[..., 0]


def grey(y: np.ndarray) -> np.ndarray:
    """A 3-channel grey image R = G = B = Y (its own Y is Y, its I and Q are 0), clipped."""
    return np.repeat(np.clip(y, 0.0, 255.0)[..., None], 3, axis=2).astype(np.float32)


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """``(Y_s − μ_s) σ_c / σ_s + μ_c``: the style luminance with the content's mean and std."""
    style_y = np.asarray(style_y, np.float64)
    content_y = np.asarray(content_y, np.float64)
    spread = style_y.std()
    scale = content_y.std() / spread if spread > 0 else 1.0
    return ((style_y - style_y.mean()) * scale + content_y.mean()).astype(np.float32)


def luminance_inputs(
    content: np.ndarray, styles: Sequence[np.ndarray], *, match: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Grey content and grey styles to optimise on (styles' Y matched to the content's if asked)."""
    content_y = luminance(content)
    style_ys = [luminance(style) for style in styles]
    if match:
        style_ys = [match_luminance(y, content_y) for y in style_ys]
    return grey(content_y), [grey(y) for y in style_ys]


def recombine(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's chroma (I, Q): RGB float32, NOT clipped.

    This is ``yiq_to_rgb(Y_result, I_content, Q_content)``, written as
    ``content + (Y_result − Y_content)·g`` with ``g`` the RGB direction that
    ``tf.image.rgb_to_yiq`` maps to Y = 1, I = Q = 0 (≈ (1, 1, 1)). TensorFlow's two
    hard-coded kernels are inverse only to ~1e-4, which would leave I and Q off by up to
    ~0.01; this form keeps them equal to the content's (as ``rgb_to_yiq`` measures them)
    to float precision. Clipping to 0..255 (done by ``finish``) changes them only where
    the combination leaves the RGB gamut.
    """
    kernel = to_yiq(np.eye(3)).astype(np.float64)  # rgb_to_yiq(rgb) = rgb @ kernel
    grey_direction = np.linalg.inv(kernel)[0]
    shift = (luminance(result) - luminance(content)).astype(np.float64)
    combined = np.asarray(content, np.float64) + shift[..., None] * grey_direction
    return combined.astype(np.float32)


# ---------------------------------------------------------------- the run's two hooks


def prepare(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    mode: str | None,
    *,
    method: str = HISTOGRAM_METHOD,
    match: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and styles the optimisation should see under colour mode ``mode``."""
    if mode is None:
        return content, list(styles)
    if mode == "histogram":
        return content, [match_histogram(style, content, method) for style in styles]
    if mode == "luminance":
        return luminance_inputs(content, styles, match=match)
    raise InputError(f"unknown colour mode {mode!r}; use {' or '.join(COLOUR_MODES)}")


def finish(result: np.ndarray, content: np.ndarray, mode: str | None) -> np.ndarray:
    """The image to output: for ``"luminance"`` the result's Y on the content's colours."""
    if mode == "luminance":
        return np.clip(recombine(result, content), 0.0, 255.0)
    return result
