"""The common approach, for comparison: the current keras-io ``neural_style_transfer.py`` step.

Re-implemented faithfully, names included: the full ``keras.applications.VGG19`` (max
pooling) run on the batch [content, style, combination] every step, its losses,
``GradientTape`` in a ``tf.function``, one SGD step applied eagerly. Only the benchmark
uses it; it is not how this package optimises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def build_step(
    content: np.ndarray, style: np.ndarray, weights: str | None = None
) -> Callable[[], float]:
    """One step of keras-io's ``neural_style_transfer.py`` (F. Chollet), as it does it, on
    RGB 0..255 ``content`` and ``style`` of one shape; each call returns the step's loss.

    Full VGG19 (``include_top=False``, max pooling) on the batch [content, style,
    combination]; content loss Σ(C−B)² on block5_conv2, style loss Σ(S−C)²/(4·3²·size²) on
    block1..5_conv1 (the example's normalisation: ``channels = 3``, ``size = rows·cols``), its
    total variation Σ(a+b)^1.25, its weights; gradient by ``GradientTape`` in a
    ``tf.function``; one SGD step with its decaying learning rate 100, applied eagerly.
    """
    import keras
    import tensorflow as tf

    from ..network import preprocess
    from ..weights import resolve_weights

    rows, cols = content.shape[:2]
    base_image = tf.constant(preprocess(content)[None])
    style_reference_image = tf.constant(preprocess(style)[None])
    total_variation_weight, style_weight, content_weight = 1e-6, 1e-6, 2.5e-8

    def gram_matrix(x):
        x = tf.transpose(x, (2, 0, 1))
        features = tf.reshape(x, (tf.shape(x)[0], -1))
        return tf.matmul(features, tf.transpose(features))

    def style_loss(style, combination):
        s, c = gram_matrix(style), gram_matrix(combination)
        channels, pixels = 3, rows * cols
        return tf.reduce_sum(tf.square(s - c)) / (4.0 * (channels**2) * (pixels**2))

    def content_loss(base, combination):
        return tf.reduce_sum(tf.square(combination - base))

    def total_variation_loss(x):
        a = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, 1:, : cols - 1, :])
        b = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, : rows - 1, 1:, :])
        return tf.reduce_sum(tf.pow(a + b, 1.25))

    model = keras.applications.VGG19(weights=str(resolve_weights(weights)), include_top=False)
    outputs_dict = {layer.name: layer.output for layer in model.layers}
    feature_extractor = keras.Model(inputs=model.inputs, outputs=outputs_dict)
    style_layer_names = [f"block{i}_conv1" for i in range(1, 6)]
    content_layer_name = "block5_conv2"

    def compute_loss(combination_image, base_image, style_reference_image):
        input_tensor = tf.concat([base_image, style_reference_image, combination_image], axis=0)
        features = feature_extractor(input_tensor)
        loss = tf.zeros(shape=())
        layer_features = features[content_layer_name]
        loss = loss + content_weight * content_loss(layer_features[0], layer_features[2])
        for layer_name in style_layer_names:
            layer_features = features[layer_name]
            sl = style_loss(layer_features[1], layer_features[2])
            loss += (style_weight / len(style_layer_names)) * sl
        return loss + total_variation_weight * total_variation_loss(combination_image)

    @tf.function
    def compute_loss_and_grads(combination_image, base_image, style_reference_image):
        with tf.GradientTape() as tape:
            loss = compute_loss(combination_image, base_image, style_reference_image)
        return loss, tape.gradient(loss, combination_image)

    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=100.0, decay_steps=100, decay_rate=0.96
        )
    )
    combination_image = tf.Variable(base_image)

    def step() -> float:
        loss, grads = compute_loss_and_grads(combination_image, base_image, style_reference_image)
        optimizer.apply_gradients([(grads, combination_image)])
        return float(loss)

    return step
