"""Run L-BFGS (scipy's, restarted from the best image if it stalls early) or Adam over an
Evaluator.

Both stop cleanly on Ctrl-C or a non-finite loss and hand back the best image
seen so far, with the reason they stopped.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from .errors import InputError, Terminated
from .evaluator import Evaluator, NonFiniteLossError
from .settings import LBFGS_HISTORY, LEARNING_RATE, OPTIMIZERS

# L-BFGS-B's first step (in a box) is P(x - g): as many grey levels as the gradient is large.
# On the normalised network that is ~1e-5 (its loss is ~5), a decrease bfloat16's rounding
# hides, and the run stopped after one iteration. A loss too flat for this is multiplied by a
# constant so that the first step moves the pixels this far (RMS); a constant factor changes
# nothing else in L-BFGS (its curvature scale adapts), and steeper losses are left as they are.
MIN_FIRST_STEP = 100.0  # grey levels, RMS; about the white-noise start's spread (74)

LBFGS_BLAS_THREADS = 1  # scipy's L-BFGS-B runs its BLAS on this many threads (one_blas_thread)

# Called after every iteration with (iteration, x, loss terms).
IterationCallback = Callable[[int, np.ndarray, np.ndarray], None]


class Status(enum.StrEnum):
    """How a run ended; a ``str``, so manifests store and compare it as plain text."""

    COMPLETED = "completed"  # ran its iterations (or the optimiser's own stop)
    INTERRUPTED = "interrupted"  # Ctrl-C: the best image so far
    DIVERGED = "diverged"  # the loss became non-finite: the best finite image


@dataclass
class Outcome:
    """What an optimisation run produced and why it stopped."""

    x: np.ndarray
    status: Status
    stop_reason: str
    iterations: int
    evaluations: int
    history: list[np.ndarray] = field(default_factory=list)  # loss terms at x0, x1, ...


def minimize(
    evaluator: Evaluator,
    x0: np.ndarray,
    iterations: int,
    *,
    optimizer: str = OPTIMIZERS[0],
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    lbfgs_history: int = LBFGS_HISTORY,
    learning_rate: float = LEARNING_RATE,
    on_iteration: IterationCallback | None = None,
) -> Outcome:
    """Minimise the evaluator's loss from ``x0`` for ``iterations`` iterations.

    ``optimizer`` is ``"lbfgs"`` (scipy's L-BFGS-B), ``"lbfgs-tf"`` (a projected L-BFGS with
    its state on the device: lbfgs_tf.py) or ``"adam"``; any other name is refused first.
    """
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {optimizer!r}; use {', '.join(OPTIMIZERS)}")
    x0 = np.asarray(x0, np.float64).ravel()
    terms0, grad0 = evaluator.evaluate(x0)
    history = [terms0]
    done = 0
    scale = loss_scale(grad0)

    def record(x: np.ndarray | None, terms: np.ndarray | None = None) -> None:
        nonlocal done
        if terms is None:  # cached for L-BFGS; Adam's new point is computed here
            terms = evaluator.evaluate(x)[0]
        done += 1  # only once its loss is known: Ctrl-C or NaN above leaves it uncounted
        history.append(terms)
        if on_iteration is not None:
            on_iteration(done, x, terms)

    status, reason = Status.COMPLETED, ""
    try:
        if optimizer == "lbfgs":
            reason = _lbfgs(evaluator, x0, iterations, bounds, lbfgs_history, record, scale)
        elif optimizer == "lbfgs-tf":
            from .lbfgs_tf import lbfgs_tf

            host_x = on_iteration is not None  # else x stays on the device between iterations
            reason = lbfgs_tf(
                evaluator,
                x0,
                iterations,
                bounds,
                lbfgs_history,
                record,
                host_x=host_x,
                theta=1.0 / scale,
            )
        else:
            reason = _adam(evaluator, x0, iterations, bounds, learning_rate, record)
    except KeyboardInterrupt as stop:
        status, reason = Status.INTERRUPTED, f"{interrupted_by(stop)} after {done} iterations"
    except NonFiniteLossError as error:
        status, reason = Status.DIVERGED, f"stopped: {error}; kept the best finite image"
    best = evaluator.best_x if evaluator.best_x is not None else x0
    return Outcome(best, status, reason, done, evaluator.evaluations, history)


def interrupted_by(stop: KeyboardInterrupt) -> str:
    """ "interrupted by the user" (Ctrl-C) or "terminated by SIGTERM" (errors.Terminated)."""
    return "terminated by SIGTERM" if isinstance(stop, Terminated) else "interrupted by the user"


def loss_scale(grad0: np.ndarray) -> float:
    """The factor on the loss that gives L-BFGS a first step of at least MIN_FIRST_STEP."""
    rms = float(np.sqrt(np.mean(np.square(grad0))))
    return MIN_FIRST_STEP / rms if 0 < rms < MIN_FIRST_STEP else 1.0


def _lbfgs(evaluator, x0, iterations, bounds, history_size, record, scale) -> str:
    """L-BFGS-B on ``scale`` x the loss for ``iterations`` iterations, tolerances at zero.

    With the tolerances at zero scipy stops early only when a line search ends without a
    decrease. In bfloat16 that is the rounding of the loss, not a minimum (Figure 2 C at
    256 px stopped at 328 of 500 iterations, 0.87% above float32: BENCHMARKS 5.4), so a
    fresh L-BFGS-B continues from the best image with the iterations left, as long as the
    previous run lowered the best loss.
    """
    done, messages = 0, []

    def scaled(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = evaluator(x)
        return loss * scale, grad * scale

    def count(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        nonlocal done
        record(intermediate_result.x)
        done += 1

    x = x0
    while True:
        best_before = evaluator.best_loss
        left = iterations - done
        with one_blas_thread():
            result = scipy.optimize.minimize(
                evaluator if scale == 1.0 else scaled,
                x,
                jac=True,
                method="L-BFGS-B",
                bounds=None if bounds is None else scipy.optimize.Bounds(*bounds),
                callback=count,
                options=lbfgs_options(left, history_size),
            )
        messages.append(f"{result.message} at iteration {done}")
        stalled = result.status != 1  # 1: the iteration or evaluation budget ran out
        if not stalled or done >= iterations or not evaluator.best_loss < best_before:
            break
        x = evaluator.best_x
    if len(messages) == 1:
        return str(result.message)
    return "; restarted from the best image: ".join(messages)


def one_blas_thread() -> threadpool_limits:
    """A context in which BLAS (scipy's OpenBLAS) runs on one thread, as L-BFGS-B should.

    L-BFGS-B's per-iteration work is level-1 BLAS (ddot, daxpy, dcopy) over its float64
    history. On OpenBLAS's default of one thread per core it was slower (84 against 63 ms
    per iteration at 512 px on 2 cores), and OpenBLAS's idle threads then kept taking CPU
    from TensorFlow's evaluation: on one BLAS thread a real iteration is 20% shorter at
    256 px and 6% at 512 px (BENCHMARKS 5.10). scipy's maintainers advise the same (scipy
    issues 22438, 23191). TensorFlow does not use OpenBLAS: its evaluations keep their threads.
    """
    return threadpool_limits(limits=LBFGS_BLAS_THREADS, user_api="blas")


def lbfgs_options(iterations: int, history_size: int) -> dict:
    """scipy's L-BFGS-B options for a run of ``iterations``: tolerances at zero, so that it
    stops on its budget (or a line search without a decrease), not on a guess at convergence."""
    return {
        "maxiter": iterations,
        "maxfun": 2 * iterations + 50,
        "maxcor": history_size,
        "ftol": 0.0,
        "gtol": 0.0,
        "maxls": 40,
    }


def _adam(evaluator, x0, iterations, bounds, learning_rate, record) -> str:
    variable = tf.Variable(x0.astype(np.float32))
    adam = keras.optimizers.Adam(learning_rate=learning_rate)
    for _ in range(iterations):
        grad = evaluator(variable.numpy())[1]
        adam.apply_gradients([(tf.constant(grad, tf.float32), variable)])
        if bounds is not None:
            variable.assign(tf.clip_by_value(variable, *(b.astype(np.float32) for b in bounds)))
        record(variable.numpy())
    return f"completed {iterations} Adam steps"
