"""Calibrate the paper's alpha/beta against the authors' method: one factor k per network.

The paper's printed alpha/beta do not give its look with its formulas on our networks
(results/README.md); the authors' own implementation is the ground truth we have. A
*reference* image of theirs for Tübingen x The Starry Night is scored under the paper
objective on the network being calibrated, and so is our Figure 2 panel C (paper preset,
noise seed 0) at a trial k, both at the panel's size.

The reference (``REFERENCES``) is by default our ``gatys-code`` render at the panel's own
size (the authors' notebook's objective and start, ``reference_render``), which reproduces
their output (results/parity: the same picture, content loss within 0.5%) and is lossless.
Their output itself (``compare.authors_output``) is only a screenshot: matplotlib resampled
the 682 x 512 result to 557 x 418, and resampling alone raises an image's style loss 1.55-3.3x
(our gatys-code render put through the same geometry, results/README "Calibration") while
its content loss moves < 3.2%, so its style loss, and the balance taken from it, overstate
how stylised their picture is. ``--reference authors`` still calibrates against it.

Criteria (``CRITERIA``): k is the factor on all of the paper's alpha/beta at which panel C
has, within ``TOLERANCE``, ``content``: the reference's content loss (issue 13's criterion);
``balance``: content and style losses that are the same multiple of the reference's,
(L_content / theirs) / (L_style / theirs) = 1. Panel C starts from ``start``: white noise
(the paper's) or the photo (the authors' code's). From noise the content criterion gives the
wrong picture (the town dissolves into the painting, results/README "Calibration"): under
the paper objective the reference lies above the trade-off curve (the same curve for both
starts), higher in *both* losses than noise-start images of its look, so only its balance
carries over to a noise start. From the photo the content criterion gives
the reference's look, with a style loss far below the reference's under this objective.

The search (``search``) works on f(log k) = log(measure), the content ratio or the balance,
which falls as k rises (more content weight: less content loss, more style loss): from one
point it steps with a prior slope, from two on one side by their secant, and once the root
is bracketed by the secant kept inside the bracket (bisection when it stalls), at most
``MAX_STEPS`` renders. Every step is one render, saved with its manifest in the calibration
folder and reused when the command runs again. ``check_sizes`` then renders panel C at other
sizes with the calibrated k and start beside the ``gatys-code`` reference at that size and
tabulates the same measure against it (target ``CHECK_RANGE``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import data, plots
from ..atomic import write_text
from ..errors import InputError, ResourceError
from ..manifest import write_json_atomic
from ..outputs import make_folder
from ..settings import Settings
from .compare import AUTHORS_HR_RENDER, AUTHORS_PANEL, AUTHORS_RENDER, authors_output
from .figures import (
    CALIBRATION,
    DEFAULT_RATIOS,
    figure_spec,
    panel_settings,
    ratio_scale_value,
    start_suffix,
)
from .reproduce import render_panel, reusable

TOLERANCE = 0.05  # |balance - 1| at which k counts as found
MAX_STEPS = 8  # renders per calibration, at most
# d log balance / d log k for the first step: measured at 512 px, 500 iterations,
# -1.17 on the original network (k = 1 and 0.0141), -0.79 on the normalised (3e-5, 3e-7).
PRIOR_SLOPE = -1.0
MAX_LOG_STEP = math.log(100.0)  # k moves at most 100x per step outside a bracket
CHECK_RANGE = (0.85, 1.15)  # panel C's measure against gatys-code's at the same size
CONTENT, BALANCE = "content", "balance"
CRITERIA = {  # what k matches, as recorded with it
    CONTENT: "content: panel C's content loss / the reference's = 1",
    BALANCE: "balance: (content loss / reference's) / (style loss / reference's) = 1",
}
STARTS = ("noise", "content")  # panel C's start: white noise (the paper's) or the photo
GATYS_CODE, AUTHORS = "gatys-code", "authors"
REFERENCES = (GATYS_CODE, AUTHORS)  # what k is calibrated against (module docstring)
DEFAULT_REFERENCE = GATYS_CODE


@dataclass(frozen=True)
class Step:
    """One render of the search: its k, its losses and the reference's (the targets)."""

    k: float
    content_loss: float
    style_loss: float
    content_target: float
    style_target: float
    image: str | None = None
    reused: bool = False
    criterion: str = BALANCE

    @property
    def content_ratio(self) -> float:
        return self.content_loss / self.content_target

    @property
    def style_ratio(self) -> float:
        return self.style_loss / self.style_target

    @property
    def balance(self) -> float:
        """content ratio / style ratio: > 1 too stylised (raise k), < 1 too photographic."""
        return self.content_ratio / self.style_ratio

    @property
    def measure(self) -> float:
        """What the criterion sets to 1: the content ratio or the balance."""
        return self.content_ratio if self.criterion == CONTENT else self.balance

    @property
    def error(self) -> float:
        return math.log(self.measure)

    def as_dict(self) -> dict:
        ratios = ("content_ratio", "style_ratio", "balance", "measure")
        return {**dataclasses.asdict(self), **{name: getattr(self, name) for name in ratios}}


def _round(k: float) -> float:
    return float(f"{k:.4g}")  # clean file names; far finer than the tolerance


def next_k(steps: Sequence[Step], start: float = 1.0, slope: float = PRIOR_SLOPE) -> float:
    """The k to render next, from the steps so far (see the module docstring)."""
    if not steps:
        return _round(start)
    ordered = sorted(steps, key=lambda s: s.k)
    xs = [math.log(s.k) for s in ordered]
    fs = [s.error for s in ordered]
    for i in range(len(ordered) - 1):
        if fs[i] > 0 > fs[i + 1]:  # bracketed: the secant, kept 10% inside the bracket
            lo, hi, flo, fhi = xs[i], xs[i + 1], fs[i], fs[i + 1]
            x = lo - flo * (hi - lo) / (fhi - flo)
            width = hi - lo
            x = min(max(x, lo + 0.1 * width), hi - 0.1 * width)
            last = steps[-1]  # the same end moved twice in a row: bisect
            if len(steps) >= 2 and (steps[-2].error > 0) == (last.error > 0):
                x = 0.5 * (lo + hi)
            return _round(math.exp(x))
    if min(fs) < 0 < max(fs):  # both signs, but no rise-to-fall pair in k order
        raise InputError(
            f"the {ordered[0].criterion} measure does not fall as k rises in these renders "
            f"({', '.join(f'k={s.k:g}: {s.measure:.3f}' for s in ordered)}); the search "
            "needs a monotone response: render more iterations, or give --k-start"
        )
    # One side only: step from the point nearest the target, with the secant of the two
    # nearest points when it has the right sign, else the prior slope.
    nearest = sorted(range(len(ordered)), key=lambda i: abs(fs[i]))
    i = nearest[0]
    used = slope
    if len(ordered) >= 2:
        j = nearest[1]
        secant = (fs[i] - fs[j]) / (xs[i] - xs[j])
        if secant < 0 and math.isfinite(secant):
            used = secant
    step = -fs[i] / used
    step = math.copysign(min(abs(step), MAX_LOG_STEP), step)
    beyond = xs[-1] if fs[i] > 0 else xs[0]  # go past every point on this side
    x = max(xs[i] + step, beyond + 0.05) if fs[i] > 0 else min(xs[i] + step, beyond - 0.05)
    return _round(math.exp(x))


def search(
    measure: Callable[[float], Step],
    known: Sequence[Step] = (),
    *,
    start: float = 1.0,
    tolerance: float = TOLERANCE,
    max_steps: int = MAX_STEPS,
    report: Callable[[str], None] = print,
) -> tuple[list[Step], bool]:
    """Steps until one's measure (content ratio or balance) is within ``tolerance`` of 1.

    ``measure(k)`` renders (or reuses) one panel; ``known``: steps already made (reused,
    not counted against ``max_steps``). Returns every step in order and whether it converged.
    """
    if max_steps < 1:
        raise InputError(f"max steps must be at least 1, got {max_steps}")
    steps = list(known)
    rendered = 0
    while True:
        if any(abs(s.measure - 1.0) <= tolerance for s in steps):
            return steps, True
        if rendered >= max_steps:
            return steps, False
        k = next_k(steps, start)
        if any(math.isclose(k, s.k, rel_tol=1e-9) for s in steps):
            return steps, False  # the bracket has shrunk below the rounding of k
        step = measure(k)
        rendered += not step.reused
        steps.append(step)
        report(
            f"[calibrate] step {len(steps)}: k = {step.k:g}: content loss {step.content_loss:.4g}"
            f" = {step.content_ratio:.3f} x theirs, style loss {step.style_loss:.4g} = "
            f"{step.style_ratio:.3f} x theirs, balance {step.balance:.3f}"
            + (" (reused)" if step.reused else "")
        )


def best(steps: Sequence[Step]) -> Step:
    return min(steps, key=lambda s: abs(s.error))


# ------------------------------------------------------------------- the real procedure


def calibration_folder(
    out: str | os.PathLike, network: str, size: int, iterations: int, start: str = "noise"
) -> Path:
    """``NETWORK-SIZEpx-ITERATIONSit``, with ``-content-start`` for renders from the photo."""
    return Path(out) / "calibrate" / f"{network}-{size}px-{iterations}it{start_suffix(start)}"


def recorded_procedure(base: Settings, criterion: str | None) -> tuple[Settings, str]:
    """``base`` and ``criterion`` with what is unset taken from the network's recorded
    calibration (``figures.CALIBRATION``): the start (``base.init``) and the criterion."""
    recorded = CALIBRATION[base.resolve().network]
    start = base.init or recorded.start
    if start not in STARTS:
        raise InputError(f"unknown start {start!r} for panel C; use {' or '.join(STARTS)}")
    criterion = criterion or recorded.criterion
    if criterion not in CRITERIA:
        raise InputError(f"unknown criterion {criterion!r}; use {' or '.join(CRITERIA)}")
    return dataclasses.replace(base, init=start), criterion


def _panel(ratios: str = DEFAULT_RATIOS):
    return next(p for p in figure_spec("fig2", ratios).panels if p.key == AUTHORS_PANEL)


def objective_settings(base: Settings) -> Settings:
    """The paper objective the losses are scored under: the base's network and weights."""
    return Settings(
        network=base.network, weights=base.weights, calibration=base.calibration,
        ratio_reference=base.ratio_reference,
    )  # fmt: skip


def _inputs(images_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Panel C's content and style files."""
    return data.image_path("tubingen", images_dir), data.image_path(_panel().style, images_dir)


def target(base: Settings, images_dir: str | os.PathLike | None = None) -> dict:
    """The authors' output at the panel's size, scored under the paper objective."""
    from ..api import score

    picture = authors_output(images_dir, base.size)
    return score(picture, *_inputs(images_dir), objective_settings(base))


def reference_render(
    out: str | os.PathLike,
    base: Settings,
    size: int,
    images_dir: str | os.PathLike | None = None,
    report: Callable[[str], None] = print,
) -> Path:
    """Our ``gatys-code`` render of Tübingen x The Starry Night at ``size`` (rendered once,
    then reused): the authors' method, lossless, at the size being measured."""
    resolved = base.resolve()
    content, style = _inputs(images_dir)
    code = Settings(preset="gatys-code", size=size, iterations=resolved.iterations,
                    weights=base.weights, precision=base.precision,
                    lbfgs_history=base.lbfgs_history)  # fmt: skip
    path = Path(out) / "calibrate" / f"gatys-code-{size}px-{resolved.iterations}it"
    path = path / f"tubingen_{_panel().style}.png"
    if not reusable(path, code, content, style):
        make_folder(path.parent)
        render_panel(f"gatys-code reference {size} px", path, code, content, style, report)
    return path


def reference_losses(
    out: str | os.PathLike,
    base: Settings,
    reference: str,
    images_dir: str | os.PathLike | None = None,
    report: Callable[[str], None] = print,
) -> tuple[dict, Path | None]:
    """The reference scored under the paper objective at ``base``'s size, and its render
    (None for the authors' screenshot, which is cropped anew each time)."""
    from ..api import score

    if reference == AUTHORS:
        return target(base, images_dir), None
    path = reference_render(out, base, base.resolve().size, images_dir, report)
    return score(path, *_inputs(images_dir), objective_settings(base)), path


class PanelC:
    """Renders (or reuses) panel C at a given k and scores the saved PNG; ``goal``: the
    (content, style) losses it is measured against by ``criterion``."""

    def __init__(
        self,
        base: Settings,
        folder: Path,
        goal: tuple[float, float],
        images_dir: str | os.PathLike | None = None,
        *,
        criterion: str = BALANCE,
        report: Callable[[str], None] = print,
    ) -> None:
        self.base, self.folder, self.goal, self.report = base, folder, goal, report
        self.criterion = criterion
        self.panel = _panel()
        self.content, self.style = _inputs(images_dir)

    def path(self, k: float) -> Path:
        return self.folder / f"{self.panel.key}_{self.panel.style}_k{k:g}.png"

    def _step(self, path: Path, k: float, reused: bool) -> Step:
        from ..api import score

        scored = score(path, self.content, self.style, objective_settings(self.base))
        losses = scored["content_loss"], scored["style_loss"]
        return Step(k, *losses, *self.goal, str(path), reused, self.criterion)

    def __call__(self, k: float) -> Step:
        path = self.path(k)
        settings = panel_settings(self.panel, self.base, k)
        if reusable(path, settings, self.content, self.style):
            return self._step(path, k, True)
        make_folder(self.folder)
        where = f"calibrate {self.panel.key} k={k:g}"
        render_panel(where, path, settings, self.content, self.style, self.report)
        return self._step(path, k, False)

    def known(self) -> list[Step]:
        """Steps already rendered in the folder with these settings (any k)."""
        found = []
        for record in sorted(self.folder.glob("*.png.json")):
            path = record.with_name(record.name[: -len(".json")])
            try:
                recorded = json.loads(record.read_text())
                ratio = float(recorded["settings"]["ratio"])
                settings = dataclasses.replace(
                    panel_settings(self.panel, self.base, 1.0), ratio=ratio
                )
                if not reusable(path, settings, self.content, self.style):
                    continue
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found.append(self._step(path, ratio / self.panel.ratio, True))
        return found


def calibrate(
    out: str | os.PathLike,
    base: Settings,
    *,
    images_dir: str | os.PathLike | None = None,
    reference: str = DEFAULT_REFERENCE,
    criterion: str | None = None,
    k_start: float | None = None,
    tolerance: float = TOLERANCE,
    max_steps: int = MAX_STEPS,
    report: Callable[[str], None] = print,
    goal: tuple[float, float] | None = None,
) -> dict:
    """Find k for ``base``'s network, size, iterations and start (``base.init``) against
    ``reference`` by ``criterion``; write ``calibration-REFERENCE.json`` and ``.md`` in the
    calibration folder; return the record.

    Unset, the criterion and the start are those the network's k was recorded with
    (``figures.CALIBRATION``), so the command reruns the recorded procedure. ``k_start``:
    the first k (default: the network's recorded k); ``goal``: target (content, style)
    losses instead of the reference's (tests). ``calibration-REFERENCE.jpg``: the authors'
    output and the reference beside every render, k falling from left to right.
    """
    if reference not in REFERENCES:
        raise InputError(f"unknown reference {reference!r}; use {' or '.join(REFERENCES)}")
    base, criterion = recorded_procedure(base, criterion)
    resolved = base.resolve()
    start = base.init
    folder = calibration_folder(out, resolved.network, resolved.size, resolved.iterations, start)
    make_folder(folder)
    reference_image = None
    measured_reference = goal is None
    if measured_reference:
        scored, reference_image = reference_losses(out, base, reference, images_dir, report)
        goal = scored["content_loss"], scored["style_loss"]
    report(
        f"[calibrate] target: the {criterion} of the {reference} reference at {resolved.size} "
        f"px, {resolved.network} network: content loss {goal[0]:.4g}, style loss "
        f"{goal[1]:.4g}; panel C from {start}"
    )
    measure = PanelC(base, folder, goal, images_dir, criterion=criterion, report=report)
    known = measure.known()
    first = CALIBRATION[resolved.network].k if k_start is None else k_start
    steps, converged = search(
        measure, known, start=first, tolerance=tolerance, max_steps=max_steps, report=report
    )
    found = best(steps)
    command = "python -m style_transfer reproduce calibrate " + (
        f"--network {resolved.network} --size {resolved.size} --iterations "
        f"{resolved.iterations} --reference {reference} --criterion {criterion} --start {start}"
    )
    provenance = (
        f"{command} ({datetime.date.today().isoformat()}, precision {resolved.precision}): "
        f"panel C from {start} at k = {found.k:g} has {found.content_ratio:.3f} x the content "
        f"loss and {found.style_ratio:.3f} x the style loss of the {reference} reference at "
        f"{resolved.size} px (balance {found.balance:.3f})"
        f"{'' if converged else ' (NOT within the tolerance)'}"
    )
    record = {
        "network": resolved.network,
        "size": resolved.size,
        "iterations": resolved.iterations,
        "precision": resolved.precision,
        "tolerance": tolerance,
        "reference": reference,
        "reference_image": None if reference_image is None else str(reference_image),
        "criterion": CRITERIA[criterion],
        "start": start,
        "target": {"content_loss": goal[0], "style_loss": goal[1]},
        "steps": [s.as_dict() for s in steps],
        "converged": converged,
        "k": found.k,
        "provenance": provenance,
    }
    name = f"calibration-{reference}"
    write_json_atomic(folder / f"{name}.json", record)
    table = steps_table(steps)
    write_text(folder / f"{name}.md", table)
    pictures = []
    if measured_reference:  # not a goal given by a test
        pictures.append(("the authors' output", authors_output(images_dir, resolved.size)))
    if reference_image is not None:
        pictures.append((f"reference: gatys-code at {resolved.size} px", reference_image))
    pictures += [
        (
            f"k = {s.k:g}: content {s.content_ratio:.2f}x, style {s.style_ratio:.2g}x ref.",
            Path(s.image),
        )
        for s in sorted(steps, key=lambda s: -s.k)
        if s.image
    ]
    titles, shown = zip(*pictures)
    plots.side_by_side(
        list(shown), list(titles), folder / f"{name}.jpg", image_height=plots.CLOSE_LOOK_HEIGHT
    )
    report(table)
    if converged:
        report(
            f"[calibrate] k = {found.k:g} for the {resolved.network} network. Record it in "
            "style_transfer/tools/figures.py, CALIBRATION:\n"
            f'    "{resolved.network}": RatioCalibration({found.k:g}, "{provenance}", '
            f'"{start}", "{criterion}"),'
        )
    else:
        report(
            f"[calibrate] not converged in {max_steps} renders; best k = {found.k:g} "
            f"({criterion} {found.measure:.3f}). Run the same command again to continue "
            "(the renders are reused), or raise --max-steps"
        )
    return record


def steps_table(steps: Sequence[Step]) -> str:
    lines = [
        "| step | k | content loss | style loss | content ÷ reference | style ÷ reference "
        "| balance | image |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, s in enumerate(steps, 1):
        name = Path(s.image).name if s.image else "—"
        lines.append(
            f"| {i} | {s.k:g} | {s.content_loss:.4g} | {s.style_loss:.4g} "
            f"| {s.content_ratio:.3f} | {s.style_ratio:.3g} | {s.balance:.3f} "
            f"| {name}{' (reused)' if s.reused else ''} |"
        )
    return "\n".join(lines) + "\n"


def check_sizes(
    out: str | os.PathLike,
    base: Settings,
    sizes: Sequence[int],
    *,
    images_dir: str | os.PathLike | None = None,
    ratio_scale: str | float = "calibrated",
    criterion: str | None = None,
    report: Callable[[str], None] = print,
) -> list[dict]:
    """Panel C with k (``ratio_scale``) and its start (``base.init``, default the
    calibration's) beside ``gatys-code`` at each size, both scored under the paper
    objective on ``base``'s network: panel C's measure against gatys-code's output at that
    size by ``criterion`` (default the calibration's), as ``calibrate`` measures it;
    ``check-sizes-NETWORK[-content-start].md/.json/.jpg``."""
    from ..api import score

    base, criterion = recorded_procedure(base, criterion)
    resolved = base.resolve()
    k = ratio_scale_value(ratio_scale, resolved.network)
    content, style = _inputs(images_dir)
    rows = []
    for size in sizes:
        at_size = dataclasses.replace(base, size=size)
        folder = calibration_folder(out, resolved.network, size, resolved.iterations, base.init)
        ours = PanelC(at_size, folder, (1.0, 1.0), images_dir, report=report)(k)
        code_path = reference_render(out, base, size, images_dir, report)
        reference = score(code_path, content, style, objective_settings(base))
        ratio = ours.content_loss / reference["content_loss"]
        balance = ratio / (ours.style_loss / reference["style_loss"])
        measure = ratio if criterion == CONTENT else balance
        rows.append({
            "size": size, "k": k, "network": resolved.network, "start": base.init,
            "criterion": criterion,
            "panel_c": {"content_loss": ours.content_loss, "style_loss": ours.style_loss,
                        "image": ours.image},
            "gatys_code": {"content_loss": reference["content_loss"],
                           "style_loss": reference["style_loss"], "image": str(code_path)},
            "content_ratio": ratio,
            "style_ratio": ours.style_loss / reference["style_loss"],
            "balance": balance,
            "measure": measure,
            "within": CHECK_RANGE[0] <= measure <= CHECK_RANGE[1],
        })  # fmt: skip
    root = Path(out) / "calibrate"
    make_folder(root)
    name = f"check-sizes-{resolved.network}{start_suffix(base.init)}"
    write_json_atomic(root / f"{name}.json", {"rows": rows})
    table = sizes_table(rows)
    write_text(root / f"{name}.md", table)
    report(table)
    sizes_figure(rows, root / f"{name}.jpg", images_dir)
    return rows


def sizes_figure(
    rows: Sequence[dict], path: Path, images_dir: str | os.PathLike | None = None
) -> Path:
    """The renders of ``check_sizes``, ``gatys-code`` beside panel C one size per row, all
    shown at one size (as a screenshot shows them); above them the authors' notebook
    renders at 682 x 512 and 1067 x 800 (coarse-to-fine) when they are found."""
    pictures, titles = [], []
    try:
        for render, label in ((AUTHORS_RENDER, "682 x 512"), (AUTHORS_HR_RENDER, "1067 x 800")):
            pictures.append(authors_output(images_dir, render=render))
            titles.append(f"the authors' notebook, {label}")
    except ResourceError:
        pictures, titles = [], []  # the size check itself does not need them
    for row in rows:
        pictures += [row["gatys_code"]["image"], row["panel_c"]["image"]]
        titles += [
            f"gatys-code, {row['size']} px",
            f"panel C, {row['size']} px, {row['network']} network, k = {row['k']:g}"
            + ("" if row["start"] == "noise" else f", from {row['start']}"),
        ]
    plots.side_by_side(pictures, titles, path, columns=2, image_height=plots.CLOSE_LOOK_HEIGHT)
    return path


def sizes_table(rows: Sequence[dict]) -> str:
    """One row per size; the criterion's column (content ratio or balance) marked ok/OUT."""
    low, high = CHECK_RANGE
    criterion = rows[0]["criterion"] if rows else BALANCE
    target = f" (target {low}–{high})"
    content_head = "content ratio" + (target if criterion == CONTENT else "")
    balance_head = "balance" + (target if criterion == BALANCE else "")
    lines = [
        f"| size | k | start | C content | gatys-code content | {content_head} | C style "
        f"| gatys-code style | style ratio | {balance_head} |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        c, g = r["panel_c"], r["gatys_code"]
        mark = " ok" if r["within"] else " OUT"
        content_mark, balance_mark = (mark, "") if criterion == CONTENT else ("", mark)
        lines.append(
            f"| {r['size']} | {r['k']:g} | {r['start']} | {c['content_loss']:.4g} "
            f"| {g['content_loss']:.4g} | {r['content_ratio']:.3f}{content_mark} "
            f"| {c['style_loss']:.4g} | {g['style_loss']:.4g} | {r['style_ratio']:.3f} "
            f"| {r['balance']:.3f}{balance_mark} |"
        )
    return "\n".join(lines) + "\n"
