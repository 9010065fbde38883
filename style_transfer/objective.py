"""The full objective L = α·L_content + β·Σ_l w_l·E_l + γ·TV for one content and style.

The content features and the style Grams are computed once, when the objective is
built; every evaluation then runs the image through the network exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from .losses import content_loss, gram_matrix, style_layer_loss, total_variation_loss
from .settings import ResolvedSettings


class Objective:
    """Maps a preprocessed ``(1, H, W, 3)`` BGR image to its loss terms.

    ``terms(image)`` returns one float32 vector, named by ``term_names``:
    total, content (unweighted), style (Σ w_l E_l, unweighted by β), tv (unweighted),
    then E_l for every style layer (unweighted).
    """

    def __init__(
        self,
        extractor: keras.Model,
        settings: ResolvedSettings,
        content_bgr: np.ndarray,
        style_bgrs: Sequence[np.ndarray],
        style_blend: Sequence[float] | None = None,
    ) -> None:
        self.extractor = extractor
        self.settings = settings
        self.style_layers = list(settings.style_layers)
        self.term_names = ["total", "content", "style", "tv", *self.style_layers]
        blend = [1.0] * len(style_bgrs) if style_blend is None else [float(b) for b in style_blend]
        self.style_blend = blend

        self.content_target = self._features(content_bgr)[settings.content_layer]
        self.style_targets = []
        for style_bgr in style_bgrs:
            features = self._features(style_bgr)
            self.style_targets.append(
                {
                    layer: gram_matrix(features[layer], by_positions=settings.gram_by_positions)
                    for layer in self.style_layers
                }
            )

    def _features(self, image_bgr: np.ndarray) -> dict[str, tf.Tensor]:
        batch = tf.constant(np.asarray(image_bgr, np.float32)[None])
        return self.extractor(batch, training=False)

    def terms(self, image: tf.Tensor) -> tf.Tensor:
        s = self.settings
        features = self.extractor(image, training=False)
        content = content_loss(features[s.content_layer], self.content_target, form=s.loss_form)
        layer_losses = []
        for layer in self.style_layers:
            layer_features = features[layer]
            positions = tf.shape(layer_features)[1] * tf.shape(layer_features)[2]
            gram = gram_matrix(layer_features, by_positions=s.gram_by_positions)
            layer_losses.append(
                tf.add_n(
                    [
                        weight * style_layer_loss(gram, target[layer], positions, form=s.loss_form)
                        for weight, target in zip(self.style_blend, self.style_targets)
                    ]
                )
            )
        style = tf.add_n(
            [s.style_layers[layer] * e for layer, e in zip(self.style_layers, layer_losses)]
        )
        tv = total_variation_loss(image)
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        return tf.stack([total, content, style, tv, *layer_losses])
