"""Mixed precision: a bfloat16/float16 network, float32 Grams and losses, close to float32."""

import numpy as np
import pytest
import tensorflow as tf

from style_transfer import Settings, network, transfer
from style_transfer.api import load_network
from style_transfer.errors import InputError
from style_transfer.evaluator import Evaluator
from style_transfer.losses import gram_matrix
from style_transfer.objective import Objective

LOW = "float16" if tf.config.list_physical_devices("GPU") else "bfloat16"


def test_precision_is_float32_or_mixed():
    assert Settings().resolve().precision == "float32"
    assert Settings(precision="mixed").resolve().precision == "mixed"
    with pytest.raises(InputError, match="float32 or mixed"):
        Settings(precision="float16").resolve()


@pytest.fixture(scope="module")
def pair(tubingen, starry_night):
    """(float32, mixed) Evaluators for the paper preset at 64x48, and a start point."""
    from style_transfer import images

    content = images.resize_long_side(images.load_image(tubingen), 64)
    style = images.resize_to(images.load_image(starry_night), *content.shape[:2])
    evaluators = []
    for precision in ("float32", "mixed"):
        resolved = Settings(size=64, precision=precision).resolve()
        extractor, _ = load_network(resolved)
        objective = Objective(
            extractor, resolved, network.preprocess(content), [network.preprocess(style)]
        )
        evaluators.append(Evaluator(objective, content.shape))
    start = network.preprocess(np.random.default_rng(0).uniform(0, 255, content.shape))
    return evaluators, start


def test_network_runs_low_precision_but_returns_float32(pair):
    (_, mixed), start = pair
    extractor = mixed.objective.extractor
    convs = [layer for layer in extractor.layers if layer.name.endswith(("conv1", "conv2"))]
    assert convs and all(layer.compute_dtype == LOW for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in convs)  # weights stay float32
    features = extractor(tf.constant(start[None], tf.float32))
    assert {f.dtype for f in features.values()} == {tf.float32}
    assert gram_matrix(features["block1_conv1"]).dtype == tf.float32
    for targets in mixed.objective.style_targets:
        assert {gram.dtype for gram in targets.values()} == {tf.float32}
    assert mixed.objective.content_target.dtype == tf.float32


def test_losses_and_gradient_are_float32_then_float64_for_scipy(pair):
    (_, mixed), start = pair
    terms, grad = mixed.compute(tf.constant(start[None], tf.float32))
    assert terms.dtype == tf.float32 and grad.dtype == tf.float32
    terms64, grad64 = mixed.evaluate(start)
    assert terms64.dtype == np.float64 and grad64.dtype == np.float64


def test_mixed_is_close_to_float32_on_a_tiny_case(pair):
    (full, mixed), start = pair
    terms_full, grad_full = full.evaluate(start)
    terms_mixed, grad_mixed = mixed.evaluate(start)
    # bfloat16 keeps 8 bits of mantissa (~0.4%): the sums stay within a few percent.
    np.testing.assert_allclose(terms_mixed[:3], terms_full[:3], rtol=0.05)
    cosine = grad_full @ grad_mixed / np.linalg.norm(grad_full) / np.linalg.norm(grad_mixed)
    assert cosine > 0.99


def test_mixed_transfer_reaches_a_similar_objective(tubingen, starry_night):
    runs = {
        precision: transfer(
            tubingen, starry_night, size=48, iterations=10, precision=precision, progress=False
        )
        for precision in ("float32", "mixed")
    }
    assert runs["mixed"].manifest["settings"]["precision"] == "mixed"
    start, full, mixed = (
        runs["float32"].history["total"][0],
        runs["float32"].history["total"][-1],
        runs["mixed"].history["total"][-1],
    )
    assert mixed < start / 5  # it optimises
    assert mixed == pytest.approx(full, rel=0.25)
