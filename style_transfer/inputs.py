"""Input preparation shared by ``transfer`` and ``score``: load, check, resize, masks, colour.

Two steps. ``load`` reads the content and style images as given, refuses ones too small to
use and describes them for the manifest; ``prepare`` brings them to one run's size, loads
the masks at that size and applies colour preservation, giving what the objective sees.
Coarse-to-fine loads once and prepares once per scale; ``score`` prepares at the scored
image's own size, so it measures the objective ``transfer`` minimises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import colour, images, network
from .errors import InputError
from .images import ImageSource
from .masks import load_masks
from .memory import check_memory, shape_at_size
from .settings import INITS, ResolvedSettings

MaskSources = Sequence[ImageSource] | None
StyleMaskSources = Sequence[ImageSource | None] | None


@dataclass(frozen=True)
class Sources:
    """The inputs as given: their sources, full-size RGB arrays and the mask sources."""

    content_source: ImageSource
    style_sources: list[ImageSource]
    content: np.ndarray
    styles: list[np.ndarray]
    blend: list[float]  # each style's normalised blend weight
    masks: MaskSources
    style_masks: StyleMaskSources
    seconds: float  # time spent loading
    digests: dict[str, str | None] = field(default_factory=dict)  # SHA-256 of the bytes
    # decoded, taken as each file was read: "content", "style i", "mask i", "style mask i"
    loaded_masks: MaskSources = None  # the masks as read (arrays), what prepare resizes
    loaded_style_masks: StyleMaskSources = None


@dataclass(frozen=True)
class Prepared:
    """One run's inputs at its size: as given (for the output's colours) and as optimised."""

    content: np.ndarray  # RGB float at the run's size, the content's own colours
    styles: list[np.ndarray]  # RGB float at each style's size
    objective_content: np.ndarray  # what the objective sees (colour.prepare)
    objective_styles: list[np.ndarray]
    blend: list[float]
    content_masks: list[np.ndarray] | None  # one region per style, at the content's size
    style_masks: list[np.ndarray | None] | None  # at each style's size; None: whole image
    description: dict  # the manifest's "inputs": paths, digests, original sizes, blend, masks
    seconds: float  # time spent loading and preparing

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the run."""
        return self.content.shape[:2]


def as_styles(style: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    """One style source, or a list/tuple of them, as a non-empty list."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise InputError("no style image given; pass at least one style image")
    return styles


def input_paths(
    content: ImageSource,
    styles: Sequence[ImageSource],
    masks: MaskSources,
    style_masks: StyleMaskSources,
    init: str,
) -> list[str | os.PathLike]:
    """Every input given as a path (the files an output must never overwrite)."""
    sources = [content, *styles, *(masks or []), *(style_masks or [])]
    paths = [s for s in sources if isinstance(s, (str, os.PathLike)) and s != "all"]
    if isinstance(init, str) and init not in INITS:
        paths.append(init)
    return paths


def blend_weights(settings: ResolvedSettings, count: int) -> list[float]:
    """The normalised blend weight of each style image (equal unless given)."""
    if settings.style_blend_weights is None:
        return [1.0 / count] * count
    if len(settings.style_blend_weights) != count:
        raise InputError(
            f"got {len(settings.style_blend_weights)} style weight(s) for {count} style "
            "image(s); give one weight per style image"
        )
    return list(settings.style_blend_weights)


def check_big_enough(
    image: np.ndarray, settings: ResolvedSettings, name: str, *, original: bool = False
) -> None:
    """Refuse an image the deepest layer's poolings would shrink to nothing.

    ``original``: the file as given, which is refused too (a 1x1 px image is not a photo
    to upscale); otherwise the image at the run's size.
    """
    deepest = network.deepest(settings.layers)
    needed = 2 ** network.poolings_before(deepest)
    height, width = image.shape[:2]
    if min(height, width) < needed:
        where, fix = (
            ("", "pass a larger image")
            if original
            else (" at this size", "use a larger --size or a larger image")
        )
        raise InputError(
            f"the {name} is {width}x{height} px{where}, too small for "
            f"{network.paper_layer_name(deepest)} (needs at least {needed} px on each side); {fix}"
        )


def size_style(
    style: np.ndarray, height: int, width: int, settings: ResolvedSettings
) -> np.ndarray:
    """The preset's style size, times ``style_scale`` (>1: larger style features)."""
    return images.resize_to(style, *style_shape(style.shape[:2], height, width, settings))


def style_shape(
    shape: tuple[int, int], height: int, width: int, settings: ResolvedSettings
) -> tuple[int, int]:
    """(height, width) ``size_style`` gives a style of ``shape``, computed without resizing."""
    scale = settings.style_scale
    if settings.style_size == "content":
        return max(1, round(height * scale)), max(1, round(width * scale))
    return shape_at_size(shape, max(1, round(max(height, width) * scale)))


def describe(source: ImageSource, array: np.ndarray, digest: str | None = None) -> dict:
    """An input for the manifest: its original size and its path and SHA-256, or its type.

    ``digest``: the SHA-256 taken when the file was read (``images.load_with_digest``).
    """
    height, width = array.shape[:2]
    return {"original_size": [width, height], **_describe_source(source, digest)}


def _describe_source(source: ImageSource, digest: str | None) -> dict:
    if isinstance(source, (str, os.PathLike)):
        return {"path": _recorded_path(source), "sha256": digest}
    return {"path": None, "type": type(source).__name__}


def _recorded_path(source: str | os.PathLike) -> str:
    """A path for the manifest: resolved if it is a file; as given (absolute) if a pipe."""
    path = Path(os.fsdecode(source))
    return str(path.resolve() if path.is_file() else Path(os.path.abspath(path)))


def _describe_mask(source: ImageSource | None, digest: str | None) -> dict | None:
    if source is None or (isinstance(source, str) and source == "all"):
        return None
    return _describe_source(source, digest)


def _describe_styles(sources: Sources) -> dict:
    """``{"styles": [...]}`` with each style's blend weight and masks; empty for one plain style."""
    masks, style_masks = sources.masks, sources.style_masks
    if len(sources.style_sources) == 1 and masks is None:
        return {}
    records = []
    for i, (source, array) in enumerate(zip(sources.style_sources, sources.styles)):
        digest = sources.digests.get(f"style {i + 1}")
        record = {**describe(source, array, digest), "blend_weight": sources.blend[i]}
        if masks is not None:
            record["mask"] = _describe_mask(list(masks)[i], sources.digests.get(f"mask {i + 1}"))
            record["style_mask"] = (
                _describe_mask(list(style_masks)[i], sources.digests.get(f"style mask {i + 1}"))
                if style_masks
                else None
            )
        records.append(record)
    return {"styles": records}


def _read_masks(
    masks: Sequence[ImageSource | None] | None, name: str, digests: dict[str, str | None]
) -> list | None:
    """Each mask file read once (arrays; "all"/None kept), its digest noted in ``digests``."""
    if masks is None or isinstance(masks, (str, os.PathLike, np.ndarray)):
        masks = None if masks is None else [masks]
    if masks is None:
        return None
    loaded = []
    for i, mask in enumerate(masks):
        if mask is None or (isinstance(mask, str) and mask == "all"):
            loaded.append(mask)
            continue
        array, digests[f"{name} {i + 1}"] = images.load_with_digest(mask, name=f"{name} {i + 1}")
        loaded.append(array)
    return loaded


def load(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: ResolvedSettings,
    masks: MaskSources = None,
    style_masks: StyleMaskSources = None,
) -> Sources:
    """Read the content and style images as given and refuse any too small to use."""
    started = time.perf_counter()
    styles = as_styles(style)
    digests: dict[str, str | None] = {}
    content_full, digests["content"] = images.load_with_digest(content, name="content image")
    style_fulls = []
    for i, source in enumerate(styles):
        full, digests[f"style {i + 1}"] = images.load_with_digest(source, name="style image")
        style_fulls.append(full)
    for name, full in (("content image", content_full), *(("style image", s) for s in style_fulls)):
        check_big_enough(full, settings, name, original=True)
    blend = blend_weights(settings, len(styles))
    loaded_masks = _read_masks(masks, "mask", digests)
    loaded_style_masks = _read_masks(style_masks, "style mask", digests)
    seconds = time.perf_counter() - started
    return Sources(
        content, styles, content_full, style_fulls, blend, masks, style_masks, seconds,
        digests, loaded_masks, loaded_style_masks,
    )  # fmt: skip


def describe_inputs(sources: Sources) -> dict:
    """The manifest's ``inputs``: the content, the first style and, if several or masked,
    every style with its blend weight and masks."""
    return {
        "content": describe(sources.content_source, sources.content, sources.digests["content"]),
        "style": describe(sources.style_sources[0], sources.styles[0], sources.digests["style 1"]),
        **_describe_styles(sources),
    }


def prepare(
    sources: Sources, settings: ResolvedSettings, shape: tuple[int, int] | None = None
) -> Prepared:
    """The inputs at one run's size, with masks and colour preservation applied.

    ``shape``: (height, width) to bring the content to (``score``: the scored image's);
    by default its longer side becomes ``settings.size``, refused first if the run would
    not fit in memory.
    """
    started = time.perf_counter()
    if shape is None:  # refuse before any large array
        check_memory(sources.content.shape[:2], len(sources.styles), settings)
        content = images.resize_long_side(sources.content, settings.size)
    else:
        content = images.resize_to(sources.content, *shape)
    height, width = content.shape[:2]
    styles = [size_style(s, height, width, settings) for s in sources.styles]
    check_big_enough(content, settings, "content image")
    for style in styles:
        check_big_enough(style, settings, "style image")
    content_masks, style_masks = load_masks(
        sources.loaded_masks,
        sources.loaded_style_masks,
        (height, width),
        [s.shape[:2] for s in styles],
    )
    # Colour preservation (colour.py) changes what is optimised, not the inputs' record.
    objective_content, objective_styles = colour.prepare(
        content,
        styles,
        settings.preserve_colour,
        method=settings.histogram_method,
        match=settings.match_luminance,
    )
    description = describe_inputs(sources)  # after the masks: a missing one is named as such
    seconds = sources.seconds + time.perf_counter() - started
    return Prepared(
        content, styles, objective_content, objective_styles, sources.blend,
        content_masks, style_masks, description, seconds,
    )  # fmt: skip
