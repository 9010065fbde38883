"""The Evaluator's gradient against finite differences, and one computation per x."""

import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from style_transfer import network
from style_transfer.api import load_network
from style_transfer.evaluator import Evaluator, NonFiniteLossError
from style_transfer.objective import Objective
from style_transfer.settings import Settings

SHAPE = (32, 24, 3)


@pytest.fixture(scope="module")
def evaluator():
    settings = Settings().resolve()  # the paper: average pooling, conv1_1..conv5_1, conv4_2
    extractor, _ = load_network(settings)
    rng = np.random.default_rng(0)
    content, style = (network.preprocess(rng.uniform(0, 255, SHAPE)) for _ in range(2))
    return Evaluator(Objective(extractor, settings, content, [style]), SHAPE)


def test_gradient_matches_central_differences(evaluator):
    rng = np.random.default_rng(3)
    x = network.preprocess(rng.uniform(0, 255, SHAPE)).astype(np.float64).ravel()
    loss, grad = evaluator(x)
    for _ in range(3):
        direction = rng.normal(size=x.size)
        direction /= np.linalg.norm(direction)
        step = 1.0  # pixels are 0..255, so a unit step is small but far above float32 noise
        numeric = (evaluator.loss(x + step * direction) - evaluator.loss(x - step * direction)) / (
            2 * step
        )
        analytic = grad @ direction
        assert numeric == pytest.approx(analytic, rel=2e-2), (numeric, analytic, loss)


def test_single_pixel_partial_derivatives(evaluator):
    rng = np.random.default_rng(4)
    x = network.preprocess(rng.uniform(0, 255, SHAPE)).astype(np.float64).ravel()
    grad = evaluator.grads(x)
    for index in np.argsort(-np.abs(grad))[:3]:  # the strongest pixels: well above noise
        bump = np.zeros_like(x)
        bump[index] = 0.5
        numeric = (evaluator.loss(x + bump) - evaluator.loss(x - bump)) / 1.0
        assert numeric == pytest.approx(grad[index], rel=5e-2)


def test_loss_then_grads_computes_once(evaluator):
    rng = np.random.default_rng(5)
    x = rng.normal(size=int(np.prod(SHAPE)))
    before = evaluator.evaluations
    loss = evaluator.loss(x)
    grad = evaluator.grads(x)
    assert evaluator.evaluations == before + 1
    assert evaluator(x)[0] == loss and np.array_equal(evaluator(x)[1], grad)
    evaluator.loss(x + 1.0)
    assert evaluator.evaluations == before + 2


def test_serves_scipy_minimize_and_fmin_l_bfgs_b(evaluator):
    rng = np.random.default_rng(6)
    x0 = network.preprocess(rng.uniform(0, 255, SHAPE)).astype(np.float64).ravel()
    start = evaluator.loss(x0)
    result = scipy.optimize.minimize(
        evaluator, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5}
    )
    assert result.fun < start
    _, f, _ = scipy.optimize.fmin_l_bfgs_b(evaluator.loss, x0, fprime=evaluator.grads, maxiter=5)
    assert f < start
    assert evaluator.best_loss <= min(result.fun, f)


def test_non_finite_loss_raises(evaluator):
    x = np.full(int(np.prod(SHAPE)), np.nan)
    with pytest.raises(NonFiniteLossError):
        evaluator(x)


def test_cache_tells_points_apart_that_differ_in_one_element(evaluator):
    """The lookup's early rejection must not take a point for another one it resembles."""
    rng = np.random.default_rng(8)
    x = network.preprocess(rng.uniform(0, 255, SHAPE)).astype(np.float64).ravel()
    loss = evaluator.loss(x)
    for index in (0, 1, x.size // 2 + 1, x.size - 1):  # on and off the probed elements
        nudged = x.copy()
        nudged[index] += 64.0
        before = evaluator.evaluations
        assert evaluator.loss(nudged) != loss
        assert evaluator.evaluations == before + 1
    assert evaluator.loss(x.copy()) == loss  # an equal copy is a cache hit


def test_minimize_follows_plain_scipy_step_for_step(evaluator):
    """The Evaluator's caching and conversions change nothing: L-BFGS-B over it visits the
    same points, bit for bit, as over a plain uncached float64 -> float32 -> float64 function."""
    from style_transfer.optimize import minimize

    rng = np.random.default_rng(9)
    x0 = network.preprocess(rng.uniform(0, 255, SHAPE)).astype(np.float64).ravel()
    bounds = network.pixel_bounds(SHAPE)

    def plain(x):
        image = tf.constant(np.array(x, np.float32).reshape(1, *SHAPE))
        terms, grad = evaluator.compute(image)
        return float(terms.numpy()[0]), grad.numpy().astype(np.float64).ravel()

    seen = []
    scipy.optimize.minimize(
        plain, x0, jac=True, method="L-BFGS-B", bounds=scipy.optimize.Bounds(*bounds),
        callback=lambda xk: seen.append(plain(xk)[0]),
        options={"maxiter": 6, "maxfun": 62, "maxcor": 20, "ftol": 0, "gtol": 0, "maxls": 40},
    )  # fmt: skip
    fresh = Evaluator(evaluator.objective, SHAPE)
    outcome = minimize(fresh, x0, 6, bounds=bounds, lbfgs_history=20)
    assert [float(terms[0]) for terms in outcome.history[1:]] == seen
    assert outcome.x is fresh.best_x and fresh.best_terms[0] == fresh.best_loss
