"""``--optimizer lbfgs-tf``: a projected L-BFGS whose state stays in TensorFlow tensors.

Why (issue 17 item 5): scipy's L-BFGS-B takes the image and gradient to the host in float64
every evaluation and runs its direction computation (``setulb``) single-threaded there, about
0.1 s per iteration at 512 px: on a GPU evaluating in ~20 ms that would dominate. Here x, the
gradient, the ``m`` correction pairs and the direction are float32 tensors on the device;
per iteration only scalars (the loss terms, two dot products) come to the host, plus x itself
when an ``on_iteration`` callback wants it (progress, snapshots).

How it differs from scipy's L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995), which it does not copy:

* the box: L-BFGS-B finds a generalised Cauchy point along the projected-gradient path, then
  minimises its model over the variables free there. Here the free variables are decided at
  x (held: at a bound with the gradient pointing out), the model's Newton step on them
  (``_direction``, the same compact matrix as L-BFGS-B) is projected onto the box, and the
  line search runs along the segment to that point. Same first step (``P(x - g)`` in a
  box, else length 1) and scaling (theta = y.y / s.y).
* the line search: L-BFGS-B's Moré-Thuente search enforces the strong Wolfe conditions; here
  backtracking from step 1 to sufficient decrease (Armijo) by safeguarded quadratic
  interpolation. A pair whose curvature s.y is not positive is not stored; a direction that
  is no descent (rare) restarts the memory.
* float32 throughout, the network's own precision; scipy works in float64.

It reaches scipy's objective after the same iterations, not the same points
(tests/test_lbfgs_tf.py: within 0.01% at 32 px and 0.5% at 48 px after 100 iterations, with
as many evaluations; within 0.3% on a box-constrained quadratic). On the idle 2-core CPU
VM it reached the float32 objective within 1% 22%, 20% and 3% sooner than scipy at 256
(float32), 512 and 1024 px (bfloat16 evaluations): 12-23% less per iteration, but at 1024
px 10% more iterations (results/BENCHMARKS.md 5.6, 5.7). After 500 iterations on Figure 2's
public panels at 512 px it ends within 0.13% of scipy on two and 0.9% and 1.7% above on
the other two (5.9). (A first measurement at 256 px on
a loaded machine had found it no faster; ``_direction`` takes 30 ms with 20 pairs.)
It has not run on a GPU (the one lent had no TensorFlow); the same objective in JAX on an
H200 (BENCHMARKS 6) put scipy's L-BFGS-B at 98% of each 512-px iteration (199 ms around a
3-ms evaluation) and an L-BFGS kept on the GPU at 4.7 ms per iteration, and showed that the
box matters: unbounded and clipped afterwards, the objective ended 2.8× scipy's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .evaluator import Evaluator

ARMIJO = 1e-4  # sufficient decrease (L-BFGS-B's dcsrch: 1e-3, with a curvature condition)
LINE_SEARCH_STEPS = 20  # trials per iteration before giving up, as a failed dcsrch does
SHRINK = (0.1, 0.5)  # each backtrack multiplies the step by a factor in this range

Record = Callable[[np.ndarray | None, np.ndarray], None]  # (x or None, loss terms)


def _box(bounds: tuple[np.ndarray, np.ndarray] | None, n: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The bounds in float32, rounded inward so every float32 point in them is in the box."""
    if bounds is None:
        return tf.fill([n], -np.inf), tf.fill([n], np.inf)
    low, high = (np.asarray(b, np.float64).ravel() for b in bounds)
    low32, high32 = low.astype(np.float32), high.astype(np.float32)
    low32 = np.where(low32 < low, np.nextafter(low32, np.float32(np.inf)), low32)
    high32 = np.where(high32 > high, np.nextafter(high32, np.float32(-np.inf)), high32)
    return tf.constant(low32), tf.constant(high32)


@tf.function(reduce_retracing=True)  # the pairs grow from 0 to m rows
def _direction(x, g, low, high, s, y, theta):
    """(d, g.d): x + d is the box's point nearest x - (B_FF)^-1 g_F, the Newton step of the
    L-BFGS model on the free variables F.

    B = theta I - W M W^T is the compact L-BFGS matrix of the pairs ``s``, ``y`` (rows, oldest
    first; Byrd, Nocedal & Schnabel 1994, eq. 3.5), W = [Y, theta S]; its block on F is
    inverted by the Woodbury identity, so only 2m x 2m matrices are solved (as subsm in
    L-BFGS-B). A variable at a bound whose gradient points out of the box is held (not in F).
    """
    held = ((x <= low) & (g > 0)) | ((x >= high) & (g < 0))
    free = tf.cast(~held, g.dtype)
    gf = g * free
    w = tf.concat([y, theta * s], 0)  # W^T: 2k x n
    wf = w * free
    sy = tf.matmul(s, y, transpose_b=True)
    lower = tf.linalg.band_part(sy, -1, 0) - tf.linalg.band_part(sy, 0, 0)  # s_i.y_j, i > j
    middle = tf.concat(  # M^-1
        [
            tf.concat([-tf.linalg.diag(tf.linalg.diag_part(sy)), tf.transpose(lower)], 1),
            tf.concat([lower, theta * tf.matmul(s, s, transpose_b=True)], 1),
        ],
        0,
    )
    inner = tf.cast(middle - tf.matmul(wf, wf, transpose_b=True) / theta, tf.float64)
    wg = tf.cast(tf.linalg.matvec(wf, gf), tf.float64)
    p = tf.cast(tf.linalg.solve(inner, wg[:, None])[:, 0], g.dtype)
    d = -(gf / theta + tf.linalg.matvec(wf, p, transpose_a=True) / theta**2)
    d = tf.clip_by_value(x + d, low, high) - x  # to the box: a segment inside it
    return d, tf.tensordot(g, d, 1)


@tf.function
def _curvature(s_new, y_new):
    return tf.tensordot(s_new, y_new, 1), tf.tensordot(y_new, y_new, 1)


def lbfgs_tf(
    evaluator: Evaluator,
    x0: np.ndarray,
    iterations: int,
    bounds: tuple[np.ndarray, np.ndarray] | None,
    history_size: int,
    record: Record,
    *,
    host_x: bool = True,
    theta: float = 1.0,
) -> str:
    """Run up to ``iterations`` iterations, calling ``record(x, terms)`` after each; the stop
    reason. ``host_x``: pass x as numpy to ``record`` (else None: nothing of size n leaves the
    device). ``theta``: the first B0 = theta I (1/optimize.loss_scale, as scipy's on the scaled
    loss). On any exit the best point evaluated is offered to ``evaluator.consider``."""
    n = x0.size
    low, high = _box(bounds, n)
    boxed = bounds is not None and all(np.isfinite(b).all() for b in bounds)  # as scipy's
    s = y = tf.zeros([0, n])  # the correction pairs, one per row, oldest first
    theta0 = theta  # B0 = theta I, scaled as L-BFGS-B: y.y / s.y of the newest pair
    terms, g = evaluator.evaluate(x0)  # minimize evaluated x0 already: a cache hit
    x, g = tf.constant(x0, tf.float32), tf.constant(g, tf.float32)
    best, best_terms = x, terms
    try:
        for iteration in range(iterations):
            d, slope = _direction(x, g, low, high, s, y, tf.constant(theta, tf.float32))
            if not float(slope) < 0 and len(s):  # the model lost its way: start it afresh
                s = y = tf.zeros([0, n])
                theta = theta0
                d, slope = _direction(x, g, low, high, s, y, tf.constant(theta, tf.float32))
            slope = float(slope)
            if not slope < 0:
                return f"stopped after {iteration} iterations: the projected gradient is zero"
            step = 1.0 / float(tf.norm(d)) if iteration == 0 and not boxed else 1.0
            for _ in range(LINE_SEARCH_STEPS):
                trial = tf.clip_by_value(x + step * d, low, high)  # clipped: rounding only
                change = step * slope  # g.(trial - x), to first order along the segment
                new_terms, new_g = evaluator.evaluate_tensor(trial)
                if new_terms[0] < best_terms[0]:
                    best, best_terms = trial, new_terms
                if new_terms[0] <= terms[0] + ARMIJO * change:
                    break
                excess = new_terms[0] - terms[0] - change  # above the linear model: > 0
                shrink = -change / (2 * excess)  # the minimum of the interpolating parabola
                step *= min(max(shrink, SHRINK[0]), SHRINK[1])
            else:
                return f"stopped after {iteration} iterations: the line search found no decrease"
            s_new, y_new = trial - x, new_g - g
            sy, yy = (float(v) for v in _curvature(s_new, y_new))
            if sy > np.finfo(np.float32).eps * -change:
                s = tf.concat([s, [s_new]], 0)[-history_size:]
                y = tf.concat([y, [y_new]], 0)[-history_size:]
                theta = yy / sy
            x, g, terms = trial, new_g, new_terms
            record(x.numpy().astype(np.float64) if host_x else None, terms)
    finally:
        evaluator.consider(best.numpy().astype(np.float64), best_terms)
    return f"completed {iterations} iterations (projected L-BFGS in TensorFlow)"
