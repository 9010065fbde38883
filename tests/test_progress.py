"""Progress: plain lines off a terminal, one rewritten line on it, a steady-state ETA,
weighted terms that add up to the total, and never an error that stops the run."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from style_transfer import progress
from style_transfer.progress import PLAIN, TERMINAL, Progress, SteadyRate

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but a newline
TERMS = {"total": 5.002e6, "content": 5.0e9, "style": 2.0e3, "tv": 1.0e4}
WEIGHTS = (1e-3, 1.0, 0.0)  # α·content = 5e6, β·style = 2e3


class Clock:
    """A clock the test moves: the first iteration takes 10 s (warm-up), the rest 1 s."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(shown: Progress, clock: Clock, iterations: int) -> None:
    for iteration in range(1, iterations + 1):
        clock.now += 10.0 if iteration == 1 else 1.0
        shown.update(iteration, TERMS)
    shown.finish()


def test_off_a_terminal_it_writes_plain_periodic_lines_without_control_characters():
    stream, clock = io.StringIO(), Clock()
    shown = Progress(100, WEIGHTS, stream=stream, clock=clock)
    assert shown.form == PLAIN
    run(shown, clock, 100)
    text = stream.getvalue()
    assert not CONTROL.search(text), repr(text[:200])
    lines = text.splitlines()
    assert 10 <= len(lines) <= 12, lines  # 1, 10, 20, ..., 100: not one per iteration
    assert lines[0].startswith("iteration 1/100: ") and lines[-1].startswith("iteration 100/100")


def test_a_slow_run_still_logs_a_line_every_interval():
    stream, clock = io.StringIO(), Clock()
    shown = Progress(1000, WEIGHTS, stream=stream, clock=clock)
    for iteration in range(1, 6):
        clock.now += progress.PLAIN_INTERVAL_S + 1
        shown.update(iteration, TERMS)
    assert len(stream.getvalue().splitlines()) == 5


def test_on_a_terminal_it_rewrites_one_line_and_ends_it():
    stream, clock = Terminal(), Clock()
    shown = Progress(5, WEIGHTS, stream=stream, clock=clock)
    assert shown.form == TERMINAL
    run(shown, clock, 5)
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "\x1b" not in text and "\b" not in text


def test_the_line_shows_the_weighted_terms_that_add_up_to_the_total():
    shown = Progress(10, WEIGHTS, stream=io.StringIO())
    line = shown.text(3, TERMS)
    assert "α·content 5e+06 + β·style 2000" in line, line
    assert "TV" not in line  # γ = 0: no TV term
    with_tv = Progress(10, (1e-3, 1.0, 2.0), stream=io.StringIO()).text(3, TERMS)
    assert "γ·TV 2e+04" in with_tv


def test_an_ascii_only_stream_gets_ascii_names():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    line = Progress(10, WEIGHTS, stream=stream).text(1, TERMS)
    assert "alpha*content" in line and line.isascii()


def test_the_eta_leaves_out_the_first_iteration():
    clock = Clock()
    rate = SteadyRate(clock)
    clock.now = 10.0  # the first iteration: 10 s of warm-up
    assert rate.update(1) is None and rate.eta(1, 100) is None
    for iteration in (2, 3, 4):
        clock.now += 1.0
        rate.update(iteration)
    assert rate.seconds_per_iteration == pytest.approx(1.0)
    assert rate.eta(4, 100) == pytest.approx(96.0)  # not (10 + 3) / 4 per iteration


def test_the_eta_is_shown_from_the_second_iteration_on():
    stream, clock = io.StringIO(), Clock()
    shown = Progress(3, WEIGHTS, stream=stream, clock=clock)
    run(shown, clock, 3)
    first, *rest = stream.getvalue().splitlines()
    assert "ETA" not in first
    assert rest[-1].endswith("1 s/iteration, ETA 0s"), rest


@pytest.mark.parametrize("seconds,text", [(42.4, "42s"), (187, "3:07"), (3723, "1:02:03")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


class Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("form", [PLAIN, TERMINAL])
def test_a_broken_or_closed_output_only_silences_it(form):
    clock = Clock()
    run(Progress(3, WEIGHTS, stream=Broken(), form=form, clock=clock), clock, 3)
    closed = io.StringIO()
    closed.close()
    shown = Progress(3, WEIGHTS, stream=closed, clock=clock)
    assert shown.form == PLAIN  # isatty on a closed stream raises: treated as plain
    run(shown, clock, 3)


def test_a_notebook_preview_is_a_small_jpeg():
    pytest.importorskip("IPython")
    shown = progress._jpeg(np.full((600, 800, 3), 128.0))
    assert shown.format == "jpeg" and len(shown.data) < 20_000


def test_a_run_logs_weighted_terms_that_sum_to_its_total(weights_file, tubingen, starry_night):
    """End to end, off a terminal: the plain lines' parts add up to the optimiser's total."""
    import contextlib

    import style_transfer as st

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        st.transfer(tubingen, starry_night, size=32, iterations=3, weights=weights_file)
    text = out.getvalue()
    assert not CONTROL.search(text), repr(text)
    lines = [line for line in text.splitlines() if line.startswith("iteration ")]
    assert len(lines) == 3, text
    for line in lines:
        total, content, style = (
            float(v)
            for v in re.search(r"loss (\S+) = α·content (\S+) \+ β·style ([^,\s]+)", line).groups()
        )
        assert content + style == pytest.approx(total, rel=2e-3), line


def test_a_heading_comes_before_the_first_iteration_and_a_broken_stream_only_silences_it():
    stream, clock = io.StringIO(), Clock()
    run(Progress(3, WEIGHTS, heading="512 x 384 px, 3 iterations", stream=stream, clock=clock),
        clock, 3)  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert lines[0] == "512 x 384 px, 3 iterations"
    assert lines[1].startswith("iteration 1/3: ")

    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    assert Progress(3, WEIGHTS, heading="x", stream=Broken()).silenced


@pytest.mark.parametrize(
    ("overrides", "optimiser"),
    [
        ({}, "scipy's L-BFGS-B (history 10)"),
        ({"optimizer": "lbfgs-tf", "lbfgs_history": 5}, "L-BFGS in TensorFlow (history 5)"),
        ({"optimizer": "adam", "learning_rate": 2.5}, "Adam (learning rate 2.5)"),
    ],
)
def test_the_heading_names_size_iterations_precision_and_optimiser(overrides, optimiser):
    from style_transfer import Settings
    from style_transfer.solve import heading

    settings = Settings(size=64, iterations=7, precision="float32", **overrides).resolve()
    expected = f"64 x 48 px, 7 iterations, float32 (requested), {optimiser}"
    assert heading(settings, (48, 64)) == expected
