"""The full objective L = α·L_content + β·Σ_l w_l·E_l + γ·TV for one content and style.

The content features and the style Grams are computed once, when the objective is
built; every evaluation then runs the image through the network exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from . import masks
from .losses import content_loss, gram_matrix, style_layer_loss, total_variation_loss
from .settings import ResolvedSettings


class LossTerms:
    """One evaluation's terms, read by name: ``terms["content"]``, ``terms.total``.

    A view of the vector ``Objective.terms`` returns (no copy) with the objective's shared
    name -> position table, so building one per iteration costs next to nothing.
    """

    __slots__ = ("_index", "style_layers", "values")

    def __init__(
        self, values: np.ndarray, index: Mapping[str, int], style_layers: Sequence[str]
    ) -> None:
        self.values = values
        self._index = index
        self.style_layers = style_layers

    def __getitem__(self, name: str) -> float:
        return float(self.values[self._index[name]])

    @property
    def total(self) -> float:
        return self["total"]

    def style_losses(self) -> dict[str, float]:
        """E_l (unweighted) of every style layer."""
        return {layer: self[layer] for layer in self.style_layers}

    def as_dict(self) -> dict[str, float]:
        """Every term by name, in ``Objective.term_names`` order."""
        return {name: self[name] for name in self._index}


class Objective:
    """Maps a preprocessed ``(1, H, W, 3)`` BGR image to its loss terms.

    ``terms(image)`` returns one float32 vector, named by ``term_names``:
    total, content (unweighted), style (Σ w_l E_l, unweighted by β), tv (unweighted),
    then E_l for every style layer (unweighted).

    Several styles: E_l = Σ_i b_i E_l(G_i, A_i) with blend weights b_i. With Σ b_i = 1
    this differs from matching the blended target Σ_i b_i A_i only by a constant, so both
    have the same gradient. Without masks every G_i is the image's Gram; with
    ``content_masks`` (one per style) G_i is the guided Gram of region i (masks.py), and
    A_i is taken under ``style_masks[i]`` when given (else from the whole style image).
    The targets come from ``target_extractor`` (default: ``extractor``); solve.py passes the
    float32 network there when ``extractor`` runs in bfloat16.
    """

    def __init__(
        self,
        extractor: keras.Model,
        settings: ResolvedSettings,
        content_bgr: np.ndarray,
        style_bgrs: Sequence[np.ndarray],
        style_blend: Sequence[float] | None = None,
        content_masks: Sequence[np.ndarray] | None = None,
        style_masks: Sequence[np.ndarray | None] | None = None,
        target_extractor: keras.Model | None = None,
    ) -> None:
        self.extractor = extractor
        self.target_extractor = target_extractor or extractor  # the targets' network
        self.settings = settings
        self.style_layers = list(settings.style_layers)
        self.term_names = ["total", "content", "style", "tv", *self.style_layers]
        self.term_index = {name: i for i, name in enumerate(self.term_names)}
        blend = [1.0] * len(style_bgrs) if style_blend is None else [float(b) for b in style_blend]
        self.style_blend = blend

        content_features = self._features(content_bgr)
        self.content_target = content_features[settings.content_layer]
        shapes = {layer: tuple(content_features[layer].shape[1:3]) for layer in self.style_layers}
        # Spatial control (masks.py): style i is matched inside region i only.
        self.guides = None
        if content_masks is not None:
            self.guides = [
                masks.layer_guides(mask, shapes, name=f"mask {i + 1}")
                for i, mask in enumerate(content_masks)
            ]
        self.style_targets = []
        for i, style_bgr in enumerate(style_bgrs):
            features = self._features(style_bgr)
            style_mask = style_masks[i] if style_masks is not None else None
            targets = {}
            for layer in self.style_layers:
                layer_features = features[layer]
                style_shape = tuple(layer_features.shape[1:3])
                if style_mask is not None:
                    guide = masks.layer_guide(style_mask, *style_shape, name=f"style mask {i + 1}")
                    layer_features = masks.guide_features(layer_features, guide)
                gram = gram_matrix(layer_features, by_positions=settings.gram_by_positions)
                if not settings.gram_by_positions and style_shape != shapes[layer]:
                    # Paper form: G sums over positions, so a style image of another size
                    # (--style-scale) is brought to the generated image's M.
                    gram *= float(np.prod(shapes[layer]) / np.prod(style_shape))
                targets[layer] = gram
            self.style_targets.append(targets)

    def named(self, values: np.ndarray) -> LossTerms:
        """A terms vector (from ``terms`` or the Evaluator) read by name."""
        return LossTerms(values, self.term_index, self.style_layers)

    def history(self, vectors: Sequence[np.ndarray]) -> dict[str, list[float]]:
        """Terms vectors, one per iteration, as ``{name: [value per iteration]}``."""
        return {name: [float(v[i]) for v in vectors] for name, i in self.term_index.items()}

    def _features(self, image_bgr: np.ndarray) -> dict[str, tf.Tensor]:
        batch = tf.constant(np.asarray(image_bgr, np.float32)[None])
        return self.target_extractor(batch, training=False)

    def terms(self, image: tf.Tensor) -> tf.Tensor:
        s = self.settings
        features = self.extractor(image, training=False)
        content = content_loss(features[s.content_layer], self.content_target, form=s.loss_form)
        layer_losses = []
        for layer in self.style_layers:
            layer_features = features[layer]
            positions = tf.shape(layer_features)[1] * tf.shape(layer_features)[2]
            if self.guides is None:
                grams = [gram_matrix(layer_features, by_positions=s.gram_by_positions)]
                grams *= len(self.style_targets)
            else:
                grams = [
                    gram_matrix(
                        masks.guide_features(layer_features, guide[layer]),
                        by_positions=s.gram_by_positions,
                    )
                    for guide in self.guides
                ]
            layer_losses.append(
                tf.add_n(
                    [
                        weight * style_layer_loss(gram, target[layer], positions, form=s.loss_form)
                        for weight, gram, target in zip(self.style_blend, grams, self.style_targets)
                    ]
                )
            )
        style = tf.add_n(
            [s.style_layers[layer] * e for layer, e in zip(self.style_layers, layer_losses)]
        )
        tv = total_variation_loss(image)
        total = s.content_weight * content + s.style_weight * style + s.tv_weight * tv
        named = {"total": total, "content": content, "style": style, "tv": tv}
        named.update(zip(self.style_layers, layer_losses))
        return tf.stack([named[name] for name in self.term_names])
