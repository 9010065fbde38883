"""Progress of one optimisation, shaped for where it is shown.

- a terminal: one line rewritten in place (``\\r``), ended when the run ends;
- anything else (a log file, a pipe, CI): a plain line now and then, no control characters;
- Jupyter: an HTML progress bar and a preview of the image, both updated in place through
  display handles, so the saved notebook holds one of each, not one output per iteration.

Every form shows a heading when given (what the run resolved to: size, precision,
optimiser; solve.py), first (a notebook: above its bar), then the weighted terms that
add up to the total the optimiser minimises (α·content + β·style + γ·TV; γ·TV only
when γ ≠ 0), and an ETA from the steady-state time per iteration: the first iteration,
which includes L-BFGS's first line search and any warm-up, is left out. Progress never
stops a run: when its output fails (a closed stdout, a broken pipe) it falls silent.
"""

from __future__ import annotations

import html
import io
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

import numpy as np

TERMINAL, PLAIN, NOTEBOOK = "terminal", "plain", "notebook"
PLAIN_LINES = 10  # a plain log gets about this many lines per run, plus the first and last
PLAIN_INTERVAL_S = 30.0  # ... and one at least this often on slow runs
PREVIEWS = 10  # a notebook's preview is redrawn about this many times per run
PREVIEW_SIDE = 256  # px, longer side of the notebook preview

Preview = Callable[[np.ndarray], np.ndarray]  # the optimiser's x -> uint8 RGB image


def where(stream: TextIO | None = None) -> str:
    """Which form fits ``stream`` (default stdout): ``notebook``, ``terminal`` or ``plain``."""
    stream = sys.stdout if stream is None else stream
    if stream is sys.stdout and _in_notebook():
        return NOTEBOOK
    try:
        return TERMINAL if stream.isatty() else PLAIN
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return PLAIN


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython), where HTML can be displayed."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ipython = shell.get_ipython()
    except Exception:
        return False
    return ipython is not None and hasattr(ipython, "kernel")


class SteadyRate:
    """Seconds per iteration, measured from the end of the first iteration on."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._first: tuple[int, float] | None = None  # (iteration, time) of the first seen
        self.seconds_per_iteration: float | None = None

    def update(self, iteration: int) -> float | None:
        """Record that ``iteration`` just ended; the steady rate so far, or None (too early)."""
        now = self._clock()
        if self._first is None:
            self._first = (iteration, now)
        elif iteration > self._first[0]:
            self.seconds_per_iteration = (now - self._first[1]) / (iteration - self._first[0])
        return self.seconds_per_iteration

    def eta(self, iteration: int, total: int) -> float | None:
        """Seconds left after ``iteration`` of ``total``, or None until two have ended."""
        rate = self.seconds_per_iteration
        return None if rate is None else rate * max(total - iteration, 0)


def weighted_terms(
    terms: Mapping[str, float], content_weight: float, style_weight: float, tv_weight: float
) -> dict[str, float]:
    """The parts of the total: ``{"content": α·content, "style": β·style[, "tv": γ·TV]}``."""
    parts = {"content": content_weight * terms["content"], "style": style_weight * terms["style"]}
    if tv_weight:
        parts["tv"] = tv_weight * terms["tv"]
    return parts


def duration(seconds: float) -> str:
    """``42s``, ``3:07`` or ``1:02:03``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_GREEK = {"content": "α·content", "style": "β·style", "tv": "γ·TV"}
_ASCII = {"content": "alpha*content", "style": "beta*style", "tv": "gamma*TV"}


class Progress:
    """Shows one run's progress; ``update`` after each iteration, ``finish`` at the end.

    ``weights``: (α, β, γ) of the objective; ``heading``: a line shown before the first
    iteration; ``preview``: turns the optimiser's ``x`` into an image for the notebook
    preview; ``form``: force one of ``where``'s answers.
    """

    def __init__(
        self,
        total: int,
        weights: tuple[float, float, float],
        *,
        heading: str = "",
        stream: TextIO | None = None,
        form: str | None = None,
        preview: Preview | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = max(int(total), 1)
        self.weights = weights
        self.stream = sys.stdout if stream is None else stream
        self.form = form or where(self.stream)
        self.preview = preview
        self.rate = SteadyRate(clock)
        self._clock = clock
        self._last_line = clock()
        self._silent = False
        self._open_line = False  # a terminal line waiting for its newline
        self._width = 0
        self._bar = self._image = None  # notebook display handles
        encoding = getattr(self.stream, "encoding", None) or "utf-8"  # StringIO: None
        try:
            "".join(_GREEK.values()).encode(encoding)
            self._names = _GREEK
        except (LookupError, UnicodeEncodeError):
            self._names = _ASCII
        self.heading = heading
        if heading and self.form != NOTEBOOK:  # a notebook shows it above its bar
            try:
                self._write(heading + "\n")
            except Exception:  # as in update: the run goes on, silently
                self._silent = True

    @property
    def silenced(self) -> bool:
        """Whether the output failed (a closed stdout, a broken pipe) and progress stopped."""
        return self._silent

    def text(self, iteration: int, terms: Mapping[str, float]) -> str:
        """One line: iteration, total = its weighted parts, time per iteration, ETA."""
        parts = weighted_terms(terms, *self.weights)
        shown = " + ".join(f"{self._names[k]} {v:.4g}" for k, v in parts.items())
        line = f"iteration {iteration}/{self.total}: loss {terms['total']:.4g} = {shown}"
        rate = self.rate.seconds_per_iteration
        if rate is not None:
            eta = self.rate.eta(iteration, self.total)
            line += f", {rate:.3g} s/iteration, ETA {duration(eta)}"
        return line

    def update(
        self, iteration: int, terms: Mapping[str, float], x: np.ndarray | None = None
    ) -> None:
        """Record that ``iteration`` ended with these loss terms at ``x``; show it if due."""
        self.rate.update(iteration)
        if self._silent:
            return
        try:
            if self.form == NOTEBOOK:
                self._notebook(iteration, terms, x)
            elif self.form == TERMINAL:
                self._rewrite(self.text(iteration, terms))
            elif self._line_due(iteration):
                self._write(self.text(iteration, terms) + "\n")
        except Exception:  # a closed or broken output: the run goes on, silently
            self._silent = True

    def finish(self, message: str = "") -> None:
        """End the run's progress, with an optional last line (why it stopped early)."""
        if self._silent:
            return
        try:
            if self.form == NOTEBOOK:
                if message:
                    print(message, file=self.stream)
                return
            end = "\n" if self._open_line else ""
            self._write(end + (f"{message}\n" if message else ""))
            self._open_line = False
        except Exception:
            self._silent = True

    # ------------------------------------------------------------------ the three forms

    def _line_due(self, iteration: int) -> bool:
        every = max(self.total // PLAIN_LINES, 1)
        now = self._clock()
        due = iteration in (1, self.total) or iteration % every == 0
        if due or now - self._last_line >= PLAIN_INTERVAL_S:
            self._last_line = now
            return True
        return False

    def _rewrite(self, line: str) -> None:
        padding = " " * max(self._width - len(line), 0)  # clear a longer previous line
        self._width = len(line)
        self._write("\r" + line + padding)
        self._open_line = True

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()

    def _notebook(self, iteration: int, terms: Mapping[str, float], x: np.ndarray | None):
        from IPython.display import HTML, display

        above = f"<code>{html.escape(self.heading)}</code><br>" if self.heading else ""
        bar = HTML(
            f'{above}<progress value="{iteration}" max="{self.total}" style="width:40ex">'
            f"</progress> <code>{html.escape(self.text(iteration, terms))}</code>"
        )
        if self._bar is None:
            self._bar = display(bar, display_id=True)
        else:
            self._bar.update(bar)
        every = max(self.total // PREVIEWS, 1)
        if self.preview is None or x is None:
            return
        if iteration % every and iteration != self.total:
            return
        image = _jpeg(self.preview(x))
        if self._image is None:
            self._image = display(image, display_id=True)
        else:
            self._image.update(image)


def _jpeg(image: np.ndarray):
    """A small JPEG of ``image`` for the notebook (a PNG would make the notebook heavy)."""
    from IPython.display import Image as Shown
    from PIL import Image

    picture = Image.fromarray(np.clip(np.round(image), 0, 255).astype(np.uint8))
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return Shown(data=buffer.getvalue(), format="jpeg")
