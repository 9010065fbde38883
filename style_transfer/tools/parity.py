"""Parity with the authors' implementation: our ``gatys-code`` preset beside their output.

``parity`` renders Tübingen x The Starry Night with the ``gatys-code`` preset at the
notebook's settings (shorter side 512 px, start from the content, max pooling, 500
iterations), crops the authors' output out of their notebook's screenshot
(``compare.authors_output``), and scores both at 512 px (longer side) under both presets:
``parity.md``/``parity.json`` (the table) and ``parity.jpg`` (side by side).

Their output is a screenshot: matplotlib showed the 682 x 512 result at 557 x 418. To see
what that alone does to the losses, ours is also scored after the same resampling
(``as_screenshot``, by each of PIL's common filters, ``SCREENSHOT_FILTERS``), then handled
exactly as their crop is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import data, images, plots
from ..atomic import write_text
from ..manifest import write_json_atomic
from ..outputs import make_folder
from ..settings import RATIO_REFERENCE, Settings
from .compare import authors_output, panel_shape
from .reproduce import render_panel, reusable

NOTEBOOK_SHORT_SIDE = 512  # the notebook's transforms.Scale(512): the shorter side
SCORED_AT = RATIO_REFERENCE  # both images are scored at this longer side (512 x 384)
STYLE = "starry_night"
SCREENSHOT_FILTERS = ("nearest", "box", "bilinear", "bicubic")  # PIL's, for as_screenshot


def as_screenshot(picture: np.ndarray, shape: tuple[int, int], method: str) -> np.ndarray:
    """``picture`` (0..255) resampled to ``shape`` (height, width) by PIL's ``method``, as
    uint8 pixels: what showing it in a notebook's axes and taking a screenshot did."""
    from PIL import Image

    pixels = Image.fromarray(np.clip(np.rint(picture), 0, 255).astype(np.uint8))
    resized = pixels.resize((shape[1], shape[0]), Image.Resampling[method.upper()])
    return np.asarray(resized, dtype=np.float32)


def notebook_size(images_dir: str | os.PathLike | None = None) -> int:
    """The longer side when the shorter is 512, truncated as torchvision's Scale does (682)."""
    height, width = images.load_image(data.image_path("tubingen", images_dir)).shape[:2]
    return int(NOTEBOOK_SHORT_SIDE * max(height, width) / min(height, width))


def parity(
    out: str | os.PathLike,
    base: Settings,
    *,
    images_dir: str | os.PathLike | None = None,
    size: int | None = None,
    report: Callable[[str], None] = print,
) -> dict:
    """Render (or reuse) ours, score both images under both presets; write the table and
    the figure into ``out/parity``. ``base``: weights, precision, iterations, network (the
    paper preset's network; the gatys-code run uses the original weights, as the notebook).
    ``size``: our render's longer side (default: the notebook's, ``notebook_size``)."""
    from ..api import score

    folder = Path(out) / "parity"
    make_folder(folder)
    content = data.image_path("tubingen", images_dir)
    style = data.image_path(STYLE, images_dir)
    size = notebook_size(images_dir) if size is None else size
    ours_settings = Settings(
        preset="gatys-code", size=size, iterations=base.iterations, weights=base.weights,
        precision=base.precision, lbfgs_history=base.lbfgs_history,
    )  # fmt: skip
    ours = folder / f"gatys_code_tubingen_{STYLE}.png"
    if reusable(ours, ours_settings, content, style):
        report(f"[parity] reusing {ours}")
    else:
        render_panel("parity gatys-code", ours, ours_settings, content, style, report)
    authors = folder / "authors_notebook_tubingen_starry_night.png"
    images.save_image(authors_output(images_dir), authors)  # the crop, as it is (lossless)

    height, width = panel_shape(SCORED_AT, images_dir)
    presets = {
        "paper": Settings(network=base.network, weights=base.weights, calibration=base.calibration),
        "gatys-code": Settings(preset="gatys-code", weights=base.weights),
    }
    screenshot = authors_output(images_dir).shape[:2]
    pictures = [("ours (gatys-code preset)", ours, images.load_image(ours))]
    pictures += [
        (f"ours, resampled to {screenshot[1]} × {screenshot[0]} by {method} (as a screenshot)",
         ours, as_screenshot(images.load_image(ours), screenshot, method))
        for method in SCREENSHOT_FILTERS
    ]  # fmt: skip
    pictures.append(("the authors' notebook", authors, images.load_image(authors)))
    rows = []
    for name, path, pixels in pictures:
        picture = images.resize_to(pixels, height, width)
        for preset, settings in presets.items():
            scored = score(picture, content, style, settings)
            rows.append({
                "image": name, "file": str(path), "scored_as": preset,
                "network": "original" if preset == "gatys-code" else base.network,
                "size": scored["size"], "content_loss": scored["content_loss"],
                "style_loss": scored["style_loss"], "total_loss": scored["total_loss"],
            })  # fmt: skip
    for row in rows:
        theirs = next(
            r for r in rows if r["file"] == str(authors) and r["scored_as"] == row["scored_as"]
        )
        if row["image"].startswith("ours"):
            row["content_vs_authors"] = row["content_loss"] / theirs["content_loss"]
            row["style_vs_authors"] = row["style_loss"] / theirs["style_loss"]
    record = {"ours": str(ours), "authors": str(authors), "ours_size": size, "rows": rows}
    write_json_atomic(folder / "parity.json", record)
    table = parity_table(rows)
    write_text(folder / "parity.md", table)
    plots.side_by_side(
        [ours, authors],
        [f"ours: gatys-code preset ({ours.stem})", "the authors' notebook"],
        folder / "parity.jpg",
        image_height=plots.CLOSE_LOOK_HEIGHT,
    )
    report(table)
    return record


def parity_table(rows: list[dict]) -> str:
    lines = [
        f"| image | scored as (at {SCORED_AT} px) | content loss | style loss | total "
        "| content ÷ authors' | style ÷ authors' |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        vs = [r.get("content_vs_authors"), r.get("style_vs_authors")]
        shown = ["—" if v is None else f"{v:.3f}" for v in vs]
        lines.append(
            f"| {r['image']} | {r['scored_as']} ({r['network']}) | {r['content_loss']:.4g} "
            f"| {r['style_loss']:.4g} | {r['total_loss']:.4g} | {shown[0]} | {shown[1]} |"
        )
    return "\n".join(lines) + "\n"
