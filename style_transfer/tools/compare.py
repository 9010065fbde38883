"""Published results and ours, scored under one objective: the Figure 2 comparison table.

``compare`` scores our Figure 2 panels (calibrated and printed alpha/beta),
jcjohnson/neural-style's Figure 2 and, for panel C, the authors' own output (their
notebook's render, ``authors_output``) with ``api.score``, and writes ``comparison.md``
and ``comparison.json``. The stylisation ratio of a C image is its content loss over the
authors' output's: 1 = as stylised as the authors' own result, < 1 = more photographic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import data, images
from ..atomic import write_text
from ..errors import InputError, ResourceError
from ..manifest import manifest_path, write_json_atomic
from ..outputs import make_folder
from ..settings import RATIO_REFERENCE, Settings
from .figures import (
    CALIBRATED,
    DEFAULT_NETWORK,
    DEFAULT_RATIO_SCALE,
    DEFAULT_RATIOS,
    PRINTED,
    figure_spec,
    folder_name,
    ratio_scale_value,
)
from .tracked import DEFAULT_OUT, check_writable

# Panel -> jcjohnson/neural-style's published result (data.REFERENCE_OUTPUTS).
JCJOHNSON = {
    "B": "jcjohnson_shipwreck",
    "C": "jcjohnson_starry_night",
    "D": "jcjohnson_the_scream",
    "E": "jcjohnson_seated_nude",
    "F": "jcjohnson_composition_vii",
}


def references(images_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{panel: path}`` of the published results, found or fetched through the image
    registry (``IMAGES/reference_outputs/`` offline); the Picasso's only if supplied."""
    found = {}
    for key, name in JCJOHNSON.items():
        try:
            found[key] = data.reference_path(name, images_dir)
        except ResourceError:
            if data.REFERENCE_OUTPUTS[name].shareable:
                raise
    return found


# The authors' own output for panel C (Tübingen x The Starry Night, leongatys/
# PytorchNeuralStyleTransfer, 682 x 512, 500 iterations) is a screenshot of the notebook's
# matplotlib figure: the picture lies inside the axes frame (rows 10 and 429, columns 33
# and 591 are the frame's lines), resampled by matplotlib to 557 x 418 px. The notebook's
# high-resolution render (1067 x 800: the 512 result upsampled, 200 more iterations) is
# shown the same way, its frame one row lower.
AUTHORS_RENDER = "gatys_pytorch_notebook_tubingen_starry_512_render.png"
AUTHORS_HR_RENDER = "gatys_pytorch_notebook_tubingen_starry_800hr_render.png"
AUTHORS_BOXES = {  # left, top, right, bottom (exclusive), in screenshot px
    AUTHORS_RENDER: (34, 11, 591, 429),
    AUTHORS_HR_RENDER: (34, 12, 591, 430),
}
AUTHORS_PANEL = "C"


def authors_output(
    images_dir: str | os.PathLike | None = None,
    size: int | None = None,
    render: str = AUTHORS_RENDER,
):
    """The authors' output for panel C as float RGB, cropped out of the screenshot; with
    ``size``, resized to the shape of the content photo at that longer side (a panel's).
    ``render``: one of ``AUTHORS_BOXES`` (the 512 render, or the high-resolution one)."""
    folder = data.images_folder(images_dir)
    path = None if folder is None else folder / data.REFERENCE_FOLDER / render
    if path is None or not path.is_file():
        raise ResourceError(
            f"the authors' output not found: put {render} (shared/images/"
            "reference_outputs, from leongatys/PytorchNeuralStyleTransfer's notebook) in "
            f"IMAGES/{data.REFERENCE_FOLDER}/ and pass --images IMAGES (or set ${data.ENV_VAR})"
        )
    screenshot = images.load_image(path, name="the authors' render")
    left, top, right, bottom = AUTHORS_BOXES[render]
    if screenshot.shape[0] < bottom or screenshot.shape[1] < right:
        raise InputError(f"{path} is not the notebook's 602-px-wide screenshot; replace it")
    picture = screenshot[top:bottom, left:right]
    if size is None:
        return picture
    height, width = panel_shape(size, images_dir)
    return images.resize_to(picture, height, width)


def panel_shape(size: int, images_dir: str | os.PathLike | None = None) -> tuple[int, int]:
    """(height, width) of a panel at longer side ``size`` (the content photo's aspect)."""
    content = images.load_image(data.image_path("tubingen", images_dir), name="content image")
    return images.resize_long_side(content, size).shape[:2]


def compare(
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    images_dir: str | os.PathLike | None = None,
    network: str = DEFAULT_NETWORK,
    ratios: str = DEFAULT_RATIOS,
    ratio_scale: str | float = DEFAULT_RATIO_SCALE,
    weights: str | None = None,
    calibration: str | None = None,
    report: Callable[[str], None] = print,
    into_tracked: bool = False,
) -> list[dict]:
    """Score, per Figure 2 panel: ours with the calibrated alpha/beta (``out/fig2``), ours
    with the printed ones (``out/fig2-printed``), jcjohnson/neural-style's and, for C, the
    authors' output (resized to 512 px): content loss, style loss, stylisation ratio.

    Every image is scored at its own size by ``api.score`` (paper preset, ``network``,
    average pooling); the losses are unweighted, so alpha/beta does not enter them.
    ``ratio_scale``: another factor's folder (``out/fig2-kK``) is compared too.
    Writes ``out/comparison.md`` and ``out/comparison.json``; returns the rows.
    """
    from ..api import score

    check_writable(out, into_tracked)
    ratio_scale_value(ratio_scale, network)  # a bad factor or network fails first
    published = references(images_dir)
    content = data.image_path("tubingen", images_dir)
    spec = figure_spec("fig2", ratios)
    variants = [(CALIBRATED, "ours (calibrated α/β)"), (PRINTED, "ours (printed α/β)")]
    if ratio_scale not in (CALIBRATED, PRINTED):
        variants.append((ratio_scale, f"ours (α/β × {float(ratio_scale):g})"))
    objective = Settings(network=network, weights=weights, calibration=calibration)
    rows = []
    for panel in spec.panels:
        try:
            style = data.image_path(panel.style, images_dir)
        except ResourceError:
            continue
        candidates = [
            (label, Path(out) / folder_name("fig2", choice) / panel.filename)
            for choice, label in variants
        ]
        if panel.key in published:
            candidates.append(("jcjohnson/neural-style (published)", published[panel.key]))
        if panel.key == AUTHORS_PANEL:
            try:
                candidates.append(
                    ("the authors' notebook", authors_output(images_dir, RATIO_REFERENCE))
                )
            except ResourceError as error:
                report(f"[compare] {panel.key}: no authors' output ({error})")
        for source, image in candidates:
            if isinstance(image, Path) and not image.is_file():
                continue
            report(f"[compare] {panel.key} {panel.style}: scoring {source}")
            scored = score(image, content, style, objective, ratio=panel.ratio)
            rows.append(_row(panel, source, image, scored, network))
    if not rows:
        raise ResourceError(
            "nothing to compare: no published result or Figure 2 panel found; "
            "run 'python -m style_transfer reproduce fig2' first"
        )
    authors = [r for r in rows if r["source"] == "the authors' notebook"]
    for row in rows:
        same = authors and row["panel"] == AUTHORS_PANEL
        row["stylisation"] = row["content_loss"] / authors[0]["content_loss"] if same else None
    root = Path(out)
    make_folder(root)
    write_json_atomic(root / "comparison.json", {"rows": rows})
    table = comparison_table(rows)
    write_text(root / "comparison.md", table)
    report(table)
    return rows


def _row(panel, source: str, image: Path | np.ndarray, scored: dict, network: str) -> dict:
    """One table row; ours also with its run's alpha/beta, iterations, time and final losses."""
    row = {
        "panel": panel.key,
        "style": panel.style,
        "source": source,
        "image": image.name if isinstance(image, Path) else AUTHORS_RENDER,
        "size": scored["size"],
        "ratio": None,
        "network": network,
        "content_loss": scored["content_loss"],
        "style_loss": scored["style_loss"],
        "iterations": None,
        "wall_time_s": None,
        "manifest_loss": None,
    }
    record = manifest_path(image) if isinstance(image, Path) else None
    if source.startswith("ours") and record is not None and record.is_file():
        manifest = json.loads(record.read_text())
        row["ratio"] = manifest["settings"]["ratio"]
        row["iterations"] = manifest["optimizer"]["iterations"]
        row["wall_time_s"] = manifest["wall_time_s"]
        # as optimised, on the run's own network; in float32 where the run ended lower
        final = manifest.get("final_loss_float32") or manifest["final_loss"]
        row["manifest_loss"] = {"content": final["content"], "style": final["style"]}
    return row


def comparison_table(rows: Sequence[Mapping]) -> str:
    """The rows as a Markdown table (losses unweighted, paper objective)."""
    lines = [
        "| panel | source | α/β | content loss | style loss | stylisation (content ÷ "
        "authors') | iterations | wall time (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def shown(value: object, form: str) -> str:
        return "—" if value is None else format(value, form)

    for row in rows:
        lines.append(
            f"| {row['panel']} {row['style']} | {row['source']} | {shown(row['ratio'], '.3g')} "
            f"| {row['content_loss']:.4g} | {row['style_loss']:.4g} "
            f"| {shown(row['stylisation'], '.2f')} | {shown(row['iterations'], '')} "
            f"| {shown(row['wall_time_s'], '')} |"
        )
    return "\n".join(lines) + "\n"
