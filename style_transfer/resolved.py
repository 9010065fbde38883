"""``ResolvedSettings``: every setting of a run filled in and checked.

``Settings.resolve()`` (settings.py) makes one; the objective, the optimiser and the
manifest read it, so it says exactly what produced an image.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .presets import content_weight_scale

if TYPE_CHECKING:
    from .precision import Precision


@dataclass(frozen=True)
class ResolvedSettings:
    """Settings with every value filled in and checked; what the manifest records.

    ``content_weight`` and ``style_weight`` are the alpha and beta the objective uses at
    this size (alpha = the one given times ``content_weight_scale(size, ratio_reference)``);
    ``ratio`` is alpha/beta as given, ``effective_ratio`` as used.
    """

    preset: str
    size: int
    iterations: int
    content_weight: float
    style_weight: float
    tv_weight: float
    pooling: str
    init: str
    seed: int
    optimizer: str
    content_layer: str
    style_layers: dict[str, float]
    gram_by_positions: bool
    loss_form: str
    style_size: str
    learning_rate: float
    lbfgs_history: int
    save_every: int
    weights: str | None
    network: str
    calibration: str | None
    preserve_colour: str | None
    histogram_method: str
    match_luminance: bool
    style_blend_weights: tuple[float, ...] | None  # normalised to sum 1; None = equal
    style_scale: float
    scales: int  # coarse-to-fine scales (multiscale.py); 1 = single scale
    precision: str  # the request; what it resolved to is the manifest's "precision"
    ratio_reference: int | None  # None: alpha as given (a manifest from before it existed)

    @property
    def resolved_precision(self) -> Precision:
        """What ``precision`` (the request) runs as on this machine at this size."""
        from .precision import resolve

        return resolve(self.precision, self.size)

    @property
    def ratio(self) -> float:
        """alpha/beta as given, i.e. at ``ratio_reference``; infinite when beta is 0."""
        return self.effective_ratio / content_weight_scale(self.size, self.ratio_reference)

    @property
    def effective_ratio(self) -> float:
        """alpha/beta as the objective uses it at this size; infinite when beta is 0."""
        return self.content_weight / self.style_weight if self.style_weight else math.inf

    def at_size(self, size: int) -> ResolvedSettings:
        """These settings for a run at longer side ``size`` (alpha rescaled to keep the balance)."""
        scale = content_weight_scale(size, self.ratio_reference) / content_weight_scale(
            self.size, self.ratio_reference
        )
        return dataclasses.replace(self, size=size, content_weight=self.content_weight * scale)

    @property
    def layers(self) -> list[str]:
        return [self.content_layer, *self.style_layers]

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["ratio"] = self.ratio if self.style_weight else None
        return data
