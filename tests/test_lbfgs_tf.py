"""``--optimizer lbfgs-tf`` (lbfgs_tf.py) against scipy's L-BFGS-B on the same problems.

The bar (issue 17 item 5): after the same iterations, the same objective within 1%, on the
real objective at 32 and 48 px and on a box-constrained quadratic; plus its direction
against a dense reference and the pixel box held exactly. Ctrl-C and non-finite losses are
in tests/test_optimize.py with the other optimisers.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from style_transfer import inputs, lbfgs_tf, network, solve
from style_transfer.data import image_path
from style_transfer.evaluator import Evaluator, NonFiniteLossError
from style_transfer.optimize import minimize
from style_transfer.settings import Settings


class BoxQuadratic:
    """f = 0.5 x.A.x - q.x on [-1, 1]^n, A with eigenvalues 1..condition; its minimum x* is
    built first (a third of it at each bound, with multipliers of the right sign), so
    f(x*) is known. The Evaluator's interface as lbfgs_tf uses it."""

    def __init__(self, n: int = 200, condition: float = 1e3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
        self.a = (basis * np.logspace(0, np.log10(condition), n)) @ basis.T
        side = rng.integers(0, 3, n)  # 0: free, 1: at the lower bound, 2: at the upper
        solution = np.where(side == 1, -1.0, np.where(side == 2, 1.0, rng.uniform(-1, 1, n)))
        outward = np.where(side == 1, 1.0, np.where(side == 2, -1.0, 0.0))  # gradient at x*
        self.q = self.a @ solution - outward * rng.uniform(0.1, 10, n)
        self.minimum = self.loss(solution)
        self.bounds = (-np.ones(n), np.ones(n))
        self.shape, self.evaluations = (n,), 0
        self.best_x, self.best_loss = None, np.inf

    def loss(self, x: np.ndarray) -> float:
        return float(0.5 * x @ self.a @ x - self.q @ x)

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.evaluations += 1
        x = np.asarray(x, np.float64)
        return np.array([self.loss(x)]), self.a @ x - self.q

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        terms, grad = self.evaluate(x)
        return float(terms[0]), grad

    def evaluate_tensor(self, x: tf.Tensor) -> tuple[np.ndarray, tf.Tensor]:
        terms, grad = self.evaluate(x.numpy())
        return terms, tf.constant(grad, tf.float32)

    def consider(self, x: np.ndarray, terms: np.ndarray) -> None:
        if terms[0] < self.best_loss:
            self.best_x, self.best_loss = x, terms[0]


def scipy_lbfgsb(problem: BoxQuadratic, iterations: int, history: int) -> float:
    result = scipy.optimize.minimize(
        problem, np.zeros(problem.shape), jac=True, method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(*problem.bounds),
        options={"maxiter": iterations, "maxcor": history, "ftol": 0.0, "gtol": 0.0},
    )  # fmt: skip
    return float(result.fun)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("condition", "iterations"), [(1e3, 10), (1e4, 30)])
def test_box_quadratic_reaches_scipys_objective(seed, condition, iterations):
    """The objective within 1% of scipy's, and, free of where f's zero lies, the gap to the
    minimum at most 1.25x scipy's (measured here 0.89-1.06x; over conditions 1e2-1e4, 10 or
    30 iterations and 8 seeds 0.70-1.65x, the widest where both are within 1e-6 of the
    minimum; a two-loop recursion on the free variables, tried first, fell up to 65x behind).
    """
    problem = BoxQuadratic(condition=condition, seed=seed)
    expected = scipy_lbfgsb(problem, iterations, history=10)
    outcome = minimize(
        problem, np.zeros(problem.shape), iterations, optimizer="lbfgs-tf",
        bounds=problem.bounds, lbfgs_history=10,
    )  # fmt: skip
    assert outcome.iterations == iterations
    reached = problem.loss(outcome.x)
    assert abs(reached - expected) <= 0.01 * abs(expected), (reached, expected)
    gap, expected_gap = reached - problem.minimum, expected - problem.minimum
    assert gap <= 1.25 * expected_gap, (gap, expected_gap)


def dense_direction(x, g, low, high, s, y):
    """-(B_FF)^-1 g_F with B built by the BFGS recursion from theta I (numpy, float64)."""
    theta = (y[-1] @ y[-1]) / (s[-1] @ y[-1])
    b = theta * np.eye(x.size)
    for si, yi in zip(s, y):
        bs = b @ si
        b = b - np.outer(bs, bs) / (si @ bs) + np.outer(yi, yi) / (yi @ si)
    free = ~(((x <= low) & (g > 0)) | ((x >= high) & (g < 0)))
    d = np.zeros_like(x)
    d[free] = -np.linalg.solve(b[np.ix_(free, free)], g[free])
    return d


def test_direction_is_the_reduced_newton_step_of_the_lbfgs_model():
    rng = np.random.default_rng(7)
    n, pairs = 12, 4
    a = rng.normal(size=(n, n))
    a = a @ a.T + np.eye(n)  # the pairs of a convex quadratic: s.y > 0
    s = rng.normal(size=(pairs, n))
    y = s @ a
    low, high = -np.ones(n), np.ones(n)
    x = rng.uniform(-1, 1, n)
    x[:3], x[3:5] = -1.0, 1.0  # some at the bounds
    g = rng.normal(size=n)
    g[0], g[3] = 1.0, -1.0  # these two point out of the box: held
    f32 = [tf.constant(v, tf.float32) for v in (x, g, low, high, s, y)]
    theta = tf.constant((y[-1] @ y[-1]) / (s[-1] @ y[-1]), tf.float32)
    d, slope = lbfgs_tf._direction(*f32, theta)
    expected = dense_direction(x, g, low, high, s, y)
    assert d.numpy()[0] == 0 and d.numpy()[3] == 0
    np.testing.assert_allclose(d.numpy(), expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())
    assert float(slope) == pytest.approx(g @ expected, rel=1e-3)


@pytest.fixture(scope="module")
def problems():
    """The real objective (paper preset, Tübingen x Starry Night, noise start) at 32 and 48 px."""
    built = {}
    for size in (32, 48):
        settings = Settings(size=size, precision="float32").resolve()
        sources = inputs.load(image_path("tubingen"), image_path("starry_night"), settings)
        prepared = inputs.prepare(sources, settings)
        objective = solve.build_objective(solve.load_network(settings)[0], settings, prepared)
        x0 = network.preprocess(solve.initial_image(settings, prepared)[0])
        built[size] = objective, (*prepared.shape, 3), x0
    return built


@pytest.mark.parametrize(("size", "iterations"), [(32, 100), (48, 100)])
def test_real_objective_reaches_scipys_within_one_percent(problems, size, iterations):
    """Measured here: 0.99993x scipy's at 32 px, 0.9949x at 48 px (100 iterations)."""
    objective, shape, x0 = problems[size]
    bounds = network.pixel_bounds(shape)
    reached = {}
    for optimizer in ("lbfgs", "lbfgs-tf"):
        evaluator = Evaluator(objective, shape)
        outcome = minimize(
            evaluator, x0, iterations, optimizer=optimizer, bounds=bounds, lbfgs_history=20
        )
        assert outcome.iterations == iterations and outcome.status == "completed"
        assert outcome.evaluations <= 1.2 * iterations  # step 1 is nearly always taken
        assert np.all(outcome.x >= bounds[0]) and np.all(outcome.x <= bounds[1])  # exactly
        reached[optimizer] = evaluator.evaluate(outcome.x)[0][0]
    assert reached["lbfgs-tf"] == pytest.approx(reached["lbfgs"], rel=0.01), reached


def test_evaluator_on_the_device_counts_checks_and_keeps_best(problems):
    objective, shape, x0 = problems[32]
    evaluator = Evaluator(objective, shape)
    terms, grad = evaluator.evaluate_tensor(tf.constant(x0.ravel(), tf.float32))
    assert evaluator.evaluations == 1 and evaluator.best_x is None  # not kept until offered
    expected = evaluator.evaluate(x0)
    np.testing.assert_array_equal(terms, expected[0])
    np.testing.assert_array_equal(grad.numpy(), expected[1].astype(np.float32))
    evaluator.consider(x0 + 1.0, terms * 2)  # higher: not kept
    np.testing.assert_array_equal(evaluator.best_x, x0.ravel())
    with pytest.raises(NonFiniteLossError, match="evaluation 3"):
        evaluator.evaluate_tensor(tf.fill([x0.size], np.nan))
