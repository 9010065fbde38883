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
    """Counts evaluations, caches the last few, and remembers the best image seen.

    Per evaluation it does as little as it can besides the network pass (issue 17): one
    float64 -> float32 conversion in, one float32 -> float64 out, one copy of ``x`` (shared
    by the cache and ``best_x``), and cache lookups that reject a different point after a
    few elements instead of comparing whole arrays.
    """

    def __init__(self, objective: Objective, shape: tuple[int, int, int]) -> None:
        self.objective = objective
        self.shape = tuple(shape)
        self.evaluations = 0
        self.best_x: np.ndarray | None = None  # never written to: it may be a cached point
        self.best_terms: np.ndarray | None = None  # the terms at best_x
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
            if _same(seen_x, x):
                return terms, grad
        return None

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All loss terms (float64, named by ``objective.term_names``) and the flat gradient.

        Cached points return the very arrays computed for them: treat them as read-only.
        """
        x = np.asarray(x, dtype=np.float64).ravel()
        cached = self._lookup(x)
        if cached is not None:
            return cached
        image = tf.constant(x.astype(np.float32).reshape(1, *self.shape))
        terms, grad = self.compute(image)
        terms = terms.numpy().astype(np.float64)
        grad = grad.numpy().astype(np.float64).ravel()
        self.evaluations += 1
        if not (np.isfinite(terms[0]) and np.isfinite(grad).all()):
            raise NonFiniteLossError(f"the loss became {terms[0]} at evaluation {self.evaluations}")
        kept = x.copy()  # scipy changes its x in place: keep our own
        self._recent.append((kept, terms, grad))
        if terms[0] < self.best_loss:
            self.best_loss = float(terms[0])
            self.best_x, self.best_terms = kept, terms
        return terms, grad

    def evaluate_tensor(self, x: tf.Tensor) -> tuple[np.ndarray, tf.Tensor]:
        """``evaluate`` for a flat float32 tensor that stays where it is (lbfgs_tf.py): the
        terms come to the host, the flat gradient stays a tensor; counted and checked for a
        non-finite loss, but neither cached nor kept as ``best_x`` (see ``consider``)."""
        terms, grad = self.compute(tf.reshape(x, (1, *self.shape)))
        terms, grad = terms.numpy().astype(np.float64), tf.reshape(grad, [-1])
        self.evaluations += 1
        if not (np.isfinite(terms[0]) and bool(tf.reduce_all(tf.math.is_finite(grad)))):
            raise NonFiniteLossError(f"the loss became {terms[0]} at evaluation {self.evaluations}")
        return terms, grad

    def consider(self, x: np.ndarray, terms: np.ndarray) -> None:
        """A point evaluated by ``evaluate_tensor``: it becomes ``best_x`` if its loss is lower."""
        if terms[0] < self.best_loss:
            self.best_loss = float(terms[0])
            self.best_x, self.best_terms = np.asarray(x, np.float64).ravel(), terms

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, gradient) for ``scipy.optimize.minimize(..., jac=True)``."""
        terms, grad = self.evaluate(x)
        return float(terms[0]), grad

    def loss(self, x: np.ndarray) -> float:
        return self(x)[0]

    def grads(self, x: np.ndarray) -> np.ndarray:
        return self(x)[1]


_PROBES = 8  # elements compared before the whole arrays


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal`` for two flat float64 arrays, but a different point (almost every
    element differs between optimiser steps) is rejected after a few strided elements."""
    if a is b:
        return True
    if a.shape != b.shape:
        return False
    step = max(1, a.size // _PROBES)
    return bool(np.array_equal(a[::step], b[::step]) and np.array_equal(a, b))
