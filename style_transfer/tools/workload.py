"""What the benchmark runs: 4:3 synthetic images, our Evaluator on them, and the floor.

Timing does not depend on what the pixels show, so no image file is needed. The floor is
VGG19 forward to the deepest layer the objective needs plus the gradient with respect to
the input, in one ``tf.function``: no Gram, no loss, no copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_SIZES = (256, 512, 1024)
ASPECT = 0.75  # height / width of the benchmark images (the paper's Tübingen photo is 4:3)


def image_shape(size: int) -> tuple[int, int]:
    """(height, width) of a 4:3 landscape image whose longer side is ``size``."""
    return max(16, round(size * ASPECT)), size


def synthetic_images(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A content and a style image (RGB 0..255 float32) of the benchmark shape."""
    height, width = image_shape(size)
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    content = np.clip(smooth + rng.normal(0, 30, (height, width, 3)), 0, 255).astype(np.float32)
    style = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    return content, style


def build_ours(size: int, precision: str = "float32", weights: str | None = None):
    """(Evaluator, x0, extractor, deepest layer) for the paper preset at ``size``."""
    from ..api import load_network
    from ..evaluator import Evaluator
    from ..network import deepest, preprocess
    from ..objective import Objective
    from ..settings import Settings

    resolved = Settings(size=size, iterations=1, precision=precision, weights=weights).resolve()
    content, style = synthetic_images(size)
    extractor, _ = load_network(resolved)
    objective = Objective(extractor, resolved, preprocess(content), [preprocess(style)])
    evaluator = Evaluator(objective, content.shape)
    x0 = preprocess(np.random.default_rng(1).uniform(0, 255, content.shape)).astype(np.float64)
    return evaluator, x0.ravel(), extractor, deepest(resolved.layers)


def build_floor(extractor, deepest: str, shape: tuple[int, int, int]) -> Callable[[], object]:
    """The floor: forward to the deepest needed layer + d(sum of it)/d(input), one tf.function."""
    import tensorflow as tf

    image = tf.constant(np.zeros((1, *shape), np.float32))

    @tf.function(input_signature=[tf.TensorSpec((1, *shape), tf.float32)])
    def forward_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(extractor(x, training=False)[deepest])
        return tape.gradient(total, x)

    return lambda: forward_and_gradient(image).numpy()
