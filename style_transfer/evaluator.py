"""Loss and gradient from one network pass, in the form scipy's optimisers want.

One ``tf.function`` call computes every loss term and the gradient together. The
Evaluator serves both ``scipy.optimize.minimize(evaluator, x, jac=True)`` and the
classic Keras-example pattern ``fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads)``:
``loss(x)`` computes and caches, ``grads(x)`` for the same ``x`` reuses the cache.

``Evaluator.compute`` is that one call, public so that tools can wrap it without reaching
into private state: ``evaluator.compute = timed(evaluator.compute)`` (the benchmark times
it, tests/fault_injection.py poisons it). A wrapper takes and returns what it does: a
(1, H, W, 3) float32 image in, the (terms, gradient) tensors out. Points still in the small
cache are answered without calling it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .objective import Objective

Compute = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class NonFiniteLossError(ArithmeticError):
    """The loss or its gradient became NaN or infinite."""


class Evaluator:
    """Counts evaluations, caches the last few, and remembers the best image seen."""

    def __init__(self, objective: Objective, shape: tuple[int, int, int]) -> None:
        self.objective = objective
        self.shape = tuple(shape)
        self.evaluations = 0
        self.best_x: np.ndarray | None = None
        self.best_loss = np.inf
        self._recent: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=4)
        spec = tf.TensorSpec((1, *self.shape), tf.float32)
        self.compute: Compute = tf.function(self._terms_and_gradient, input_signature=[spec])

    def _terms_and_gradient(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = self.objective.terms(image)
            total = terms[0]  # sliced inside the tape, so the slice is recorded too
        return terms, tape.gradient(total, image)

    def _lookup(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        for seen_x, terms, grad in reversed(self._recent):
            if np.array_equal(seen_x, x):
                return terms, grad
        return None

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All loss terms (float64, named by ``objective.term_names``) and the flat gradient."""
        x = np.asarray(x, dtype=np.float64).ravel()
        cached = self._lookup(x)
        if cached is not None:
            return cached
        image = tf.constant(x.reshape(1, *self.shape), dtype=tf.float32)
        terms, grad = self.compute(image)
        terms = terms.numpy().astype(np.float64)
        grad = grad.numpy().astype(np.float64).ravel()
        self.evaluations += 1
        if not (np.isfinite(terms[0]) and np.isfinite(grad).all()):
            raise NonFiniteLossError(f"the loss became {terms[0]} at evaluation {self.evaluations}")
        self._recent.append((x.copy(), terms, grad))
        if terms[0] < self.best_loss:
            self.best_loss = float(terms[0])
            self.best_x = x.copy()
        return terms, grad

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, gradient) for ``scipy.optimize.minimize(..., jac=True)``."""
        terms, grad = self.evaluate(x)
        return float(terms[0]), grad

    def loss(self, x: np.ndarray) -> float:
        return self(x)[0]

    def grads(self, x: np.ndarray) -> np.ndarray:
        return self(x)[1]
