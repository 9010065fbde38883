"""scipy's own time per L-BFGS iteration (bench --experiment lbfgs-overhead) at a tiny size."""

import argparse

import numpy as np
import pytest
import scipy.optimize

from style_transfer.network import pixel_bounds
from style_transfer.optimize import lbfgs_options
from style_transfer.tools.bench import add_arguments, iterations_or_default
from style_transfer.tools.lbfgs_overhead import (
    BUDGET_SHARE,
    blas_threads,
    lbfgs_overhead,
    quadratic_problem,
    scipy_iteration,
)


@pytest.mark.parametrize("bounded", [True, False])
def test_history_fills_untimed_then_the_timed_iterations(bounded):
    record = scipy_iteration((12, 16, 3), history=3, bounded=bounded, iterations=4)
    expected = {"history": 3, "bounded": bounded, "variables": 12 * 16 * 3, "blas_threads": 1}
    assert record == {**record, **expected}
    assert record["iterations"] == 3 + 4  # the quadratic never converges in 7 iterations
    assert 0 < record["outside_objective_s_per_iteration"] < 1


def test_default_threads_are_the_librarys_own():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        record = scipy_iteration(
            (12, 16, 3), history=3, bounded=True, iterations=2, one_thread=False
        )
    assert record["blas_threads"] == 2


def test_the_box_binds_on_the_quadratic_as_on_saturated_pixels():
    """Run to its end with our options, the quadratic's optimum is its centre clipped to the
    pixel box (separable and convex), and about a sixth of it lies on a bound."""
    shape = (6, 8, 3)
    lower, upper = pixel_bounds(shape)
    centre, curvature, start = quadratic_problem(shape)
    assert np.all((lower <= start) & (start <= upper)) and np.all(curvature > 0)
    result = scipy.optimize.minimize(
        lambda x: (0.5 * np.sum(curvature * (x - centre) ** 2), curvature * (x - centre)),
        start, jac=True, method="L-BFGS-B", bounds=scipy.optimize.Bounds(lower, upper),
        options=lbfgs_options(200, 10),
    )  # fmt: skip
    np.testing.assert_allclose(result.x, np.clip(centre, lower, upper), atol=1e-3)
    on_bound = np.mean((centre < lower) | (centre > upper))
    assert 0.08 < on_bound < 0.3


@pytest.mark.slow
def test_experiment_sets_scipy_against_5pct_of_an_evaluation():
    (record,) = lbfgs_overhead([32], iterations=2, histories=(2,))
    assert record["size"] == 32 and record["evaluation_s"] > 0
    budget = BUDGET_SHARE / (1 - BUDGET_SHARE) * record["evaluation_s"]
    assert record["budget_s_per_iteration"] == pytest.approx(budget)
    measured = [(r["history"], r["bounded"], r["blas_threads"] == 1) for r in record["runs"]]
    assert measured == [(2, True, True), (2, True, blas_threads() == 1), (2, False, True),
                        (2, False, blas_threads() == 1)]  # fmt: skip
    for run in record["runs"]:
        outside = run["outside_objective_s_per_iteration"]
        assert run["share_of_iteration"] == pytest.approx(
            outside / (outside + record["evaluation_s"])
        )


def test_its_default_iterations_are_20():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert iterations_or_default(parser.parse_args(["--experiment", "lbfgs-overhead"])) == 20
