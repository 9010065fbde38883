"""The loss terms of Gatys et al., as plain TensorFlow functions of feature maps.

Features are ``(1, H, W, N)`` tensors: N filters, M = H*W positions.
"""

from __future__ import annotations

import tensorflow as tf


def gram_matrix(features: tf.Tensor, *, by_positions: bool = False) -> tf.Tensor:
    """G_ij = Σ_k F_ik F_jk over positions k (N×N); divided by M when ``by_positions``."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))  # (M, N)
    gram = _self_product(flat)
    if by_positions:
        gram /= tf.cast(tf.shape(flat)[0], gram.dtype)
    return gram


@tf.custom_gradient
def _self_product(flat: tf.Tensor) -> tuple[tf.Tensor, object]:
    """FᵀF with its gradient as one M×N×N product, F(U + Uᵀ), where TensorFlow's own
    gradient of ``matmul(F, F)`` makes two (one per operand) and adds them: the five Grams
    at 512 px take 81 ms per evaluation instead of 123 (results/BENCHMARKS.md 5.3)."""

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        return tf.matmul(flat, upstream + tf.transpose(upstream))

    return tf.matmul(flat, flat, transpose_a=True), gradient


def content_loss(features: tf.Tensor, target: tf.Tensor, *, form: str = "paper") -> tf.Tensor:
    """Paper: ½ Σ (F − P)²; ``"mse"``: mean (F − P)²."""
    squared = tf.square(features - target)
    return 0.5 * tf.reduce_sum(squared) if form == "paper" else tf.reduce_mean(squared)


def style_layer_loss(
    gram: tf.Tensor, target_gram: tf.Tensor, positions: tf.Tensor | int, *, form: str = "paper"
) -> tf.Tensor:
    """E_l. Paper: Σ (G − A)² / (4 N² M²); ``"mse"``: mean (G − A)².

    The paper's factor is applied before squaring, (G − A)/(2NM), so the float32
    sum stays far from overflow even for Grams of large images.
    """
    difference = gram - target_gram
    if form != "paper":
        return tf.reduce_mean(tf.square(difference))
    filters = tf.cast(tf.shape(gram)[0], gram.dtype)
    scale = 2.0 * filters * tf.cast(positions, gram.dtype)
    return tf.reduce_sum(tf.square(difference / scale))


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Σ |x[i+1,j] − x[i,j]| + |x[i,j+1] − x[i,j]| (``tf.image.total_variation``)."""
    return tf.reduce_sum(tf.image.total_variation(image))
