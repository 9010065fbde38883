"""``optimize.minimize`` on a convex quadratic whose minimum is known: how each run stops.

The evaluator here is a numpy stand-in with the Evaluator's contract as ``minimize`` uses it
(``evaluate`` -> (terms, gradient), ``__call__`` -> (loss, gradient), ``best_x``,
``evaluations``, ``NonFiniteLossError`` for a non-finite loss), so these tests need neither
the network nor the weights, and faults can be injected at a chosen evaluation.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from style_transfer import optimize
from style_transfer.errors import InputError
from style_transfer.evaluator import NonFiniteLossError

CURVATURE = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # f = 0.5 * sum(a * (x - c)^2)
CENTRE = np.array([3.0, -2.0, 0.5, 1.0, -4.0, 2.5])  # the unconstrained minimum, f = 0
X0 = np.zeros(6)
OPTIMIZERS = ["lbfgs", "adam", "lbfgs-tf"]
ADAM_RATE = 0.1  # Adam's default (10, for 0..255 pixels) is far too large for this problem


class Quadratic:
    """f(x) = 0.5 * sum(a * (x - c)^2); optionally interrupted or NaN at one evaluation."""

    def __init__(self, *, interrupt_at: int | None = None, nan_at: int | None = None) -> None:
        self.interrupt_at, self.nan_at = interrupt_at, nan_at
        self.evaluations = 0
        self.best_x: np.ndarray | None = None
        self.best_loss = np.inf
        self.seen: list[np.ndarray] = []  # every point evaluated, in order

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float64).ravel()
        if self.seen and np.array_equal(self.seen[-1], x):  # the Evaluator's cache
            return self._value(x)
        if self.evaluations + 1 == self.interrupt_at:  # Ctrl-C mid-computation: not counted
            raise KeyboardInterrupt
        self.evaluations += 1
        self.seen.append(x.copy())
        terms, grad = self._value(x)
        if self.evaluations == self.nan_at:
            terms = terms * np.nan
        if not np.isfinite(terms[0]):
            raise NonFiniteLossError(f"the loss became {terms[0]} at evaluation {self.evaluations}")
        if terms[0] < self.best_loss:
            self.best_loss, self.best_x = float(terms[0]), x.copy()
        return terms, grad

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        terms, grad = self.evaluate(x)
        return float(terms[0]), grad

    shape = CENTRE.shape

    def evaluate_tensor(self, x: tf.Tensor) -> tuple[np.ndarray, tf.Tensor]:
        """As the Evaluator's (lbfgs-tf): counted, faults as above, not kept as best_x."""
        best = self.best_x, self.best_loss
        terms, grad = self.evaluate(x.numpy())
        self.best_x, self.best_loss = best
        return terms, tf.constant(grad, tf.float32)

    def consider(self, x: np.ndarray, terms: np.ndarray) -> None:
        if terms[0] < self.best_loss:
            self.best_loss, self.best_x = float(terms[0]), np.asarray(x, np.float64)

    @staticmethod
    def _value(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.array([0.5 * np.sum(CURVATURE * (x - CENTRE) ** 2)]), CURVATURE * (x - CENTRE)


def loss(x: np.ndarray) -> float:
    return float(Quadratic._value(np.asarray(x, np.float64))[0][0])


def status(outcome: optimize.Outcome) -> str:
    """The status as the manifest writes it (a string, or an enum's value)."""
    return getattr(outcome.status, "value", outcome.status)


def run(optimizer: str, iterations: int, evaluator: Quadratic | None = None, **kwargs):
    evaluator = evaluator or Quadratic()
    if optimizer == "adam":
        kwargs.setdefault("learning_rate", ADAM_RATE)
    outcome = optimize.minimize(evaluator, X0, iterations, optimizer=optimizer, **kwargs)
    return outcome, evaluator


def assert_history_matches(outcome: optimize.Outcome, evaluator: Quadratic) -> None:
    """One entry per iteration plus x0's, and the outcome counts the evaluator's evaluations."""
    assert len(outcome.history) == outcome.iterations + 1
    assert outcome.history[0][0] == pytest.approx(loss(X0))
    assert outcome.evaluations == evaluator.evaluations


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_completed_runs_the_requested_iterations_downhill(optimizer):
    outcome, evaluator = run(optimizer, 3)
    assert status(outcome) == "completed" and outcome.iterations == 3
    assert_history_matches(outcome, evaluator)
    totals = [terms[0] for terms in outcome.history]
    assert totals[-1] < totals[0]
    assert loss(outcome.x) == pytest.approx(evaluator.best_loss) and loss(outcome.x) <= min(totals)


@pytest.mark.parametrize(
    ("optimizer", "iterations", "tolerance"),
    [("lbfgs", 50, 1e-6), ("adam", 400, 2e-2), ("lbfgs-tf", 50, 1e-5)],
)
def test_completed_reaches_the_analytic_minimum(optimizer, iterations, tolerance):
    outcome, evaluator = run(optimizer, iterations)
    assert status(outcome) == "completed"
    assert 6 <= outcome.iterations <= iterations  # L-BFGS may stop early once exact
    if optimizer == "adam":
        assert outcome.iterations == iterations  # Adam always takes every step
    assert_history_matches(outcome, evaluator)
    np.testing.assert_allclose(outcome.x, CENTRE, atol=tolerance)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_bounds_are_respected_and_the_minimum_is_the_clipped_centre(optimizer):
    lower, upper = np.full(6, -1.0), np.full(6, 2.0)  # four of the six centres lie outside
    visited: list[np.ndarray] = []
    outcome, _ = run(
        optimizer,
        400 if optimizer == "adam" else 50,
        bounds=(lower, upper),
        on_iteration=lambda i, x, terms: visited.append(np.array(x, np.float64)),
    )
    assert status(outcome) == "completed"
    assert len(visited) == outcome.iterations
    tiny = 1e-6 if optimizer == "adam" else 0.0  # Adam clips in float32, lbfgs-tf rounds inward
    for x in [*visited, outcome.x]:
        assert np.all(x >= lower - tiny) and np.all(x <= upper + tiny), x
    np.testing.assert_allclose(outcome.x, np.clip(CENTRE, lower, upper), atol=2e-2)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_interrupted_keeps_the_best_x_so_far(optimizer):
    outcome, evaluator = run(optimizer, 100, Quadratic(interrupt_at=6))
    assert status(outcome) == "interrupted"
    assert "interrupted" in outcome.stop_reason
    assert 1 <= outcome.iterations < 100
    assert_history_matches(outcome, evaluator)
    assert evaluator.evaluations == 5  # the sixth never finished
    assert not np.array_equal(outcome.x, X0)
    np.testing.assert_array_equal(outcome.x, evaluator.best_x)
    assert loss(outcome.x) == min(loss(x) for x in evaluator.seen) < loss(X0)


def test_interrupted_during_the_callback_counts_only_finished_iterations():
    def stop_at_third(iteration, x, terms):
        if iteration == 3:
            raise KeyboardInterrupt

    outcome, evaluator = run("lbfgs", 100, on_iteration=stop_at_third)
    assert status(outcome) == "interrupted" and outcome.iterations == 3
    assert "after 3 iterations" in outcome.stop_reason
    np.testing.assert_array_equal(outcome.x, evaluator.best_x)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_diverged_keeps_the_best_finite_x(optimizer):
    outcome, evaluator = run(optimizer, 100, Quadratic(nan_at=6))
    assert status(outcome) == "diverged"
    assert "nan" in outcome.stop_reason and "evaluation 6" in outcome.stop_reason
    assert 1 <= outcome.iterations < 100
    assert_history_matches(outcome, evaluator)
    assert all(np.isfinite(terms).all() for terms in outcome.history)
    np.testing.assert_array_equal(outcome.x, evaluator.best_x)
    finite = evaluator.seen[:-1]  # the sixth point is the one whose loss was NaN
    assert loss(outcome.x) == min(loss(x) for x in finite) < loss(X0)


def test_nothing_better_than_x0_returns_x0():
    """A NaN at the first step after x0: x0 is the best finite point, and it comes back."""
    outcome, _ = run("adam", 10, Quadratic(nan_at=2))
    assert status(outcome) == "diverged" and outcome.iterations == 0
    np.testing.assert_array_equal(outcome.x, X0)


def test_unknown_optimizer_is_refused_in_one_line():
    evaluator = Quadratic()
    with pytest.raises(InputError, match="sgd") as raised:
        optimize.minimize(evaluator, X0, 3, optimizer="sgd")
    assert "\n" not in str(raised.value)
    assert evaluator.evaluations == 0  # refused before any work


class FlatAndRounded(Quadratic):
    """The quadratic times 1e-9, its loss rounded to bfloat16's 8 significant bits: the
    normalised network under bfloat16 (loss ~5, gradient ~1e-5 per pixel) in miniature."""

    @staticmethod
    def _value(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        terms, grad = Quadratic._value(x)
        bits = np.float32(terms[0] * 1e-9).view(np.uint32) & np.uint32(0xFFFF0000)
        return np.array([float(bits.view(np.float32))]), grad * 1e-9


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-tf"])
def test_a_flat_rounded_loss_still_gets_going(optimizer):
    """Unscaled, the first step P(x - g) moves x by ~1e-8, a decrease the rounding hides:
    scipy stopped after one iteration with nothing gained. The loss scale gives it a first
    step of MIN_FIRST_STEP (clipped to the box) and the run goes on to the minimum."""
    box = (np.full(6, -10.0), np.full(6, 10.0))
    assert optimize.loss_scale(Quadratic._value(X0)[1] * 1e-9) > 1e9
    outcome, _ = run(optimizer, 30, FlatAndRounded(), bounds=box)
    assert outcome.iterations >= 6
    np.testing.assert_allclose(outcome.x, CENTRE, atol=0.05)


def test_the_loss_scale_leaves_steep_losses_alone():
    assert optimize.loss_scale(np.full(10, 2 * optimize.MIN_FIRST_STEP)) == 1.0
    assert optimize.loss_scale(np.full(10, optimize.MIN_FIRST_STEP / 4)) == pytest.approx(4.0)
    assert optimize.loss_scale(np.zeros(10)) == 1.0  # nothing to scale: a stationary start


class Valley(Quadratic):
    """An ill-conditioned quadratic in 100 dimensions (curvatures 1 to 1e4): scipy's L-BFGS-B
    runs all of a 40-iteration budget on it without stopping by itself."""

    CURVATURES = np.geomspace(1.0, 1e4, 100)
    CENTRES = np.random.default_rng(0).normal(size=100) * 10

    def __init__(self, quantum: float = 0.0) -> None:
        super().__init__()
        self.quantum = quantum  # > 0: the loss rounded to this, a floor L-BFGS cannot pass

    def _value(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = 0.5 * np.sum(self.CURVATURES * (x - self.CENTRES) ** 2)
        if self.quantum:
            total = np.round(total / self.quantum) * self.quantum
        return np.array([total]), self.CURVATURES * (x - self.CENTRES)


def test_lbfgs_stalled_early_restarts_from_the_best_x_with_the_iterations_left(monkeypatch):
    """scipy's run ending early (here: made to report a CONVERGENCE stop after 10 of 40
    iterations, as bfloat16's rounding makes it do) is not the end: a fresh L-BFGS-B starts
    from the best point so far and spends the rest of the budget."""
    real, calls = optimize.scipy.optimize.minimize, []

    def stalls_first(fun, x0, **kwargs):
        calls.append((np.array(x0), kwargs["options"]["maxiter"], evaluator.best_x.copy()))
        if len(calls) > 1:
            return real(fun, x0, **kwargs)
        result = real(fun, x0, **{**kwargs, "options": {**kwargs["options"], "maxiter": 10}})
        result.status, result.message = 0, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"
        return result

    evaluator = Valley()
    monkeypatch.setattr(optimize.scipy.optimize, "minimize", stalls_first)
    outcome = optimize.minimize(evaluator, np.zeros(100), 40)
    assert len(calls) == 2
    (first_x0, first_budget, _), (second_x0, second_budget, best_then) = calls
    assert first_budget == 40 and second_budget == 30 and not first_x0.any()
    np.testing.assert_array_equal(second_x0, best_then)  # restarted from the best x so far
    assert status(outcome) == "completed" and outcome.iterations == 40
    assert len(outcome.history) == 41 and outcome.evaluations == evaluator.evaluations
    stalled_loss = outcome.history[10][0]
    assert outcome.history[-1][0] < 0.5 * stalled_loss  # the restart made real progress
    assert outcome.stop_reason == (
        "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH at iteration 10; restarted from "
        "the best image: STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT at iteration 40"
    )


def test_lbfgs_stalled_at_a_floor_stops_after_a_restart_that_gains_nothing():
    """A loss rounded to 10 has a floor scipy really stalls at (checked first, unpatched):
    one fresh start that lowers nothing ends the run instead of looping."""
    options = {"maxiter": 200, "maxcor": 10, "ftol": 0.0, "gtol": 0.0, "maxls": 40}
    alone = optimize.scipy.optimize.minimize(
        Valley(quantum=10.0), np.zeros(100), jac=True, method="L-BFGS-B", options=options
    )
    assert alone.status == 0 and alone.nit < 200  # the stall this test is about happens
    evaluator = Valley(quantum=10.0)
    outcome = optimize.minimize(evaluator, np.zeros(100), 200)
    assert status(outcome) == "completed" and alone.nit <= outcome.iterations < 200
    assert outcome.stop_reason.count("restarted from the best image") == 1
    assert evaluator.best_loss == pytest.approx(alone.fun)
    np.testing.assert_array_equal(outcome.x, evaluator.best_x)


def blas_thread_counts() -> set[int]:
    from threadpoolctl import threadpool_info

    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_lbfgs_runs_blas_on_one_thread_and_gives_the_threads_back():
    """scipy's L-BFGS-B is level-1 BLAS over its history, slower on OpenBLAS's threads
    (BENCHMARKS 5.10): the run sees one BLAS thread, the caller its own setting after."""
    from threadpoolctl import threadpool_limits

    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_thread_counts() == {2}  # a setting the run must change, and restore
        outcome = optimize.minimize(
            Quadratic(), X0, 5, on_iteration=lambda *_: seen.append(blas_thread_counts())
        )
        assert blas_thread_counts() == {2}
    assert outcome.iterations == 5 and seen == [{1}] * 5
