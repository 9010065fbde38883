"""The two presets: the paper as written and the authors' code (their notebook).

A preset fixes how the losses are normalised and gives the defaults a ``Settings`` field
takes when left ``None``; ``Settings.resolve()`` (settings.py) fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_STYLE_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
RATIO_REFERENCE = 512  # px: the longer side at which the paper preset's alpha/beta hold


@dataclass(frozen=True)
class Preset:
    """How the losses are normalised and which defaults a preset uses.

    ``gram_by_positions``: divide the Gram matrix by the number of positions M (H*W).
    ``loss_form``: ``"paper"`` = content ½Σ(F−P)², style Σ(G−A)²/(4N²M²);
    ``"mse"`` = both as means of squared differences (the authors' notebook).
    ``layer_weight``: ``"uniform"`` = w_l = 1/L; ``"inverse_filters_squared"`` = 1e3/N_l².
    ``style_size``: ``"content"`` = style image resized to the content's exact size;
    ``"keep_aspect"`` = resized to the content's longer side, aspect kept.
    ``ratio_reference``: the longer side (px) at which alpha/beta hold (see
    ``content_weight_scale``); None for mean losses, whose balance does not depend on size.
    """

    name: str
    description: str
    gram_by_positions: bool
    loss_form: str
    layer_weight: str
    content_weight: float
    style_weight: float
    pooling: str
    init: str
    style_size: str
    content_layer: str = "block4_conv2"
    style_layers: tuple[str, ...] = PAPER_STYLE_LAYERS
    ratio_reference: int | None = None


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        name="paper",
        description="Gatys et al. 2015/2016 as written: sum losses with the 1/2 and "
        "1/(4N^2M^2) factors, w_l = 1/5, average pooling, white-noise start, alpha/beta = 1e-3",
        gram_by_positions=False,
        loss_form="paper",
        layer_weight="uniform",
        content_weight=1e-3,
        style_weight=1.0,
        pooling="avg",
        init="noise",
        style_size="content",
        ratio_reference=RATIO_REFERENCE,
    ),
    "gatys-code": Preset(
        name="gatys-code",
        description="the authors' PytorchNeuralStyleTransfer notebook: Gram/(H*W), mean "
        "squared errors, style weights 1e3/N_l^2, content weight 1, max pooling, content start",
        gram_by_positions=True,
        loss_form="mse",
        layer_weight="inverse_filters_squared",
        content_weight=1.0,
        style_weight=1.0,
        pooling="max",
        init="content",
        style_size="keep_aspect",
    ),
}


def content_weight_scale(size: int, reference: int | None) -> float:
    """The factor on alpha that gives a run at longer side ``size`` the balance of ``reference``.

    Derivation (the paper's sum losses, aspect ratio fixed): a layer's positions M grow as
    size², its per-position features do not (they are local). L_content = ½Σ(F−P)² sums
    N·M terms, so it grows as size². G = ΣF Fᵀ sums M products, so G ∝ size², and
    E_l = Σ(G−A)²/(4N²M²) ∝ size⁴/size⁴ does not change. So α·L_content / β·L_style ∝
    α·size², and the balance at ``reference`` is kept by α(size) = α·(reference/size)².
    ``None``: no rescaling (the weights as given at every size; the code before this
    setting existed). The mean losses of ``gatys-code`` do not grow with size at all.
    """
    return 1.0 if reference is None else (reference / size) ** 2
