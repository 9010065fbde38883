"""Both presets' full objective on a tiny case, against an independent numpy version."""

import numpy as np
import pytest
import tensorflow as tf

from style_transfer.objective import Objective
from style_transfer.settings import PAPER_STYLE_LAYERS, Settings

LAYERS = ("block4_conv2", *PAPER_STYLE_LAYERS)


def fake_extractor(batch, training=False):
    """Stands in for VGG19: layer k sees the image scaled by k+1 (still N=3 filters)."""
    return {layer: batch * float(k + 1) for k, layer in enumerate(LAYERS)}


def numpy_objective(x, content, style, preset):
    """The preset's formulas written out in float64 numpy."""

    def feats(img, layer):
        return img.astype(np.float64) * (LAYERS.index(layer) + 1)

    def gram(f):
        flat = f.reshape(-1, f.shape[-1])
        g = flat.T @ flat
        return g / flat.shape[0] if preset == "gatys-code" else g

    n, m = 3, x.shape[0] * x.shape[1]
    diff = feats(x, "block4_conv2") - feats(content, "block4_conv2")
    c = 0.5 * np.sum(diff**2) if preset == "paper" else np.mean(diff**2)
    e = {}
    for layer in PAPER_STYLE_LAYERS:
        d = gram(feats(x, layer)) - gram(feats(style, layer))
        e[layer] = np.sum(d**2) / (4 * n**2 * m**2) if preset == "paper" else np.mean(d**2)
    if preset == "paper":
        w = dict.fromkeys(PAPER_STYLE_LAYERS, 0.2)
        alpha, beta = 1e-3, 1.0
    else:
        n_l = {"block1_conv1": 64, "block2_conv1": 128, "block3_conv1": 256}
        w = {layer: 1e3 / n_l.get(layer, 512) ** 2 for layer in PAPER_STYLE_LAYERS}
        alpha, beta = 1.0, 1.0
    s = sum(w[layer] * e[layer] for layer in PAPER_STYLE_LAYERS)
    return alpha * c + beta * s, c, s, e


@pytest.mark.parametrize("preset", ["paper", "gatys-code"])
def test_preset_objective_matches_numpy(preset):
    rng = np.random.default_rng(1)
    x, content, style = (rng.normal(size=(3, 4, 3)).astype(np.float32) for _ in range(3))
    objective = Objective(fake_extractor, Settings(preset=preset).resolve(), content, [style])
    terms = objective.terms(tf.constant(x[None])).numpy()
    total, c, s, e = numpy_objective(x, content, style, preset)
    named = objective.named(terms)  # read by name, never by position
    assert named["content"] == pytest.approx(c, rel=1e-5)
    assert named["style"] == pytest.approx(s, rel=1e-5)
    assert named.style_losses() == pytest.approx(e, rel=1e-5)
    assert list(named.style_losses()) == list(PAPER_STYLE_LAYERS)
    assert named.total == named["total"] == pytest.approx(total, rel=1e-5)
    assert list(named.as_dict()) == objective.term_names == ["total", "content", "style", "tv", *e]
    history = objective.history([terms, 2 * terms])
    assert history["content"] == pytest.approx([c, 2 * c], rel=1e-5)
    assert list(history) == objective.term_names


def test_paper_preset_hand_computed():
    # One content/style layer, one position, one filter: F = x, P = c, G = x^2, A = s^2.
    settings = Settings(content_layer="conv1_1", style_layers=["conv1_1"], ratio=0.5).resolve()

    def extractor(batch, training=False):
        return {"block1_conv1": batch[..., :1]}

    objective = Objective(extractor, settings, np.full((1, 1, 3), 1.0), [np.full((1, 1, 3), 2.0)])
    total, content, style, _, e1 = objective.terms(tf.fill((1, 1, 1, 3), 3.0)).numpy()
    assert content == pytest.approx(0.5 * (3 - 1) ** 2)  # ½ (x − c)² = 2
    assert e1 == pytest.approx((9 - 4) ** 2 / 4)  # (x² − s²)² / (4·1²·1²) = 6.25
    assert style == pytest.approx(6.25)  # w = 1/1
    assert total == pytest.approx(0.5 * 2 + 1.0 * 6.25)


def test_tv_weight_adds_total_variation():
    settings = Settings(tv_weight=2.0).resolve()
    image = np.zeros((2, 2, 3), np.float32)
    objective = Objective(fake_extractor, settings, image, [image])
    x = image.copy()
    x[0, 0, 0] = 5.0  # differs from its right and lower neighbours by 5
    terms = dict(zip(objective.term_names, objective.terms(tf.constant(x[None])).numpy()))
    assert terms["tv"] == pytest.approx(10.0)
    assert terms["total"] == pytest.approx(
        settings.content_weight * terms["content"] + terms["style"] + 2.0 * 10.0, rel=1e-6
    )
