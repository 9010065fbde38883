"""Each loss term against a plain numpy formula and a hand-computed case."""

import numpy as np
import pytest
import tensorflow as tf

from style_transfer.losses import content_loss, gram_matrix, style_layer_loss, total_variation_loss

rng = np.random.default_rng(0)


def numpy_gram(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)  # (M, N)
    return np.einsum("kn,km->nm", flat, flat)


def test_gram_hand_computed():
    # Two positions (rows), two filters (columns): G = F^T F.
    features = tf.constant([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    np.testing.assert_allclose(gram_matrix(features).numpy(), [[10.0, 14.0], [14.0, 20.0]])
    np.testing.assert_allclose(
        gram_matrix(features, by_positions=True).numpy(), [[5.0, 7.0], [7.0, 10.0]]
    )


def test_gram_matches_numpy():
    features = rng.random((1, 7, 5, 6), dtype=np.float32)
    np.testing.assert_allclose(
        gram_matrix(tf.constant(features)).numpy(), numpy_gram(features), rtol=1e-5
    )
    np.testing.assert_allclose(
        gram_matrix(tf.constant(features), by_positions=True).numpy(),
        numpy_gram(features) / 35,
        rtol=1e-5,
    )


def test_gram_gradient_matches_the_closed_form_and_finite_differences():
    """The one-product gradient (losses._self_product) against d/dF sum(W * F^T F) =
    F (W + W^T) in numpy, for a W that is not symmetric, and against central differences."""
    features = rng.normal(size=(1, 4, 3, 5))
    weights = rng.normal(size=(5, 5))  # not symmetric: both halves of the formula count
    x = tf.constant(features, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(weights * gram_matrix(x, by_positions=True))
    got = tape.gradient(loss, x).numpy()
    flat = features.reshape(-1, 5)
    expected = (flat @ (weights + weights.T) / 12).reshape(features.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12)

    def value(f: np.ndarray) -> float:
        return float(np.sum(weights * numpy_gram(f) / 12))

    step, index = 1e-6, (0, 2, 1, 3)
    up, down = features.copy(), features.copy()
    up[index] += step
    down[index] -= step
    assert got[index] == pytest.approx((value(up) - value(down)) / (2 * step), rel=1e-6)


def test_content_loss_matches_numpy():
    f = rng.normal(size=(1, 4, 3, 8)).astype(np.float32)
    p = rng.normal(size=(1, 4, 3, 8)).astype(np.float32)
    expected_sum = 0.5 * np.sum((f.astype(np.float64) - p) ** 2)
    expected_mean = np.mean((f.astype(np.float64) - p) ** 2)
    assert content_loss(tf.constant(f), tf.constant(p)).numpy() == pytest.approx(
        expected_sum, rel=1e-5
    )
    assert content_loss(tf.constant(f), tf.constant(p), form="mse").numpy() == pytest.approx(
        expected_mean, rel=1e-5
    )


def test_style_layer_loss_hand_computed():
    # G = [[10, 14], [14, 20]] against A = 0, N = 2 filters, M = 2 positions:
    # E = (100 + 196 + 196 + 400) / (4 * 2^2 * 2^2) = 892 / 64.
    gram = tf.constant([[10.0, 14.0], [14.0, 20.0]])
    assert style_layer_loss(gram, tf.zeros((2, 2)), 2).numpy() == pytest.approx(892 / 64)
    assert style_layer_loss(gram, tf.zeros((2, 2)), 2, form="mse").numpy() == pytest.approx(892 / 4)


def test_style_layer_loss_matches_numpy():
    x = rng.random((1, 6, 4, 5), dtype=np.float32) * 50
    s = rng.random((1, 6, 4, 5), dtype=np.float32) * 50
    g, a = numpy_gram(x), numpy_gram(s)
    n, m = 5, 24
    expected = np.sum((g - a) ** 2) / (4 * n**2 * m**2)
    got = style_layer_loss(gram_matrix(tf.constant(x)), gram_matrix(tf.constant(s)), m).numpy()
    assert got == pytest.approx(expected, rel=1e-4)


def test_total_variation_matches_numpy():
    image = rng.random((1, 5, 7, 3), dtype=np.float32) * 255
    x = image.astype(np.float64)
    expected = np.abs(np.diff(x, axis=1)).sum() + np.abs(np.diff(x, axis=2)).sum()
    assert total_variation_loss(tf.constant(image)).numpy() == pytest.approx(expected, rel=1e-5)
