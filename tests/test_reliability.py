"""Reliability: every bad input a user can produce, through the CLI and the Python API, and
the runtime faults a long run meets (Ctrl-C, a non-finite loss, a crash mid-write, two runs
sharing a folder).

A bad input must end in ONE stderr line starting with ``error:`` (the API: one
``StyleTransferError`` line), the documented exit code (2 bad input, 3 resource), no
traceback, every input byte-for-byte unchanged and nothing new in the output folder (no
output, no stray temporary file). Good-but-odd images must run end to end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from timeouts import timeout_for

import style_transfer
from style_transfer import cli, errors, manifest, network
from style_transfer.errors import InputError, StyleTransferError
from style_transfer.evaluator import Evaluator
from style_transfer.weights import CONV_LAYERS, WEIGHTS_MD5, resolve_weights

TINY = ("--size", "32", "--iterations", "2", "--quiet")
TINY_KWARGS = {"size": 32, "iterations": 2, "progress": False}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ------------------------------------------------------------------------------ helpers


def run_module(*args: str, timeout: float | None = None, **popen) -> subprocess.CompletedProcess:
    """``python -m style_transfer ARGS`` in a fresh interpreter, exactly as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "style_transfer", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout or timeout_for(iterations=2),
        **popen,
    )


def run_in_process(args: list[str]) -> int:
    """``cli.main`` in this process (fast); argparse's own errors arrive as SystemExit."""
    try:
        return cli.main([str(a) for a in args])
    except SystemExit as stop:
        return stop.code


def folder_state(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``, unreadable ones included."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            mode = path.stat().st_mode
            path.chmod(mode | 0o400)  # so a deliberately unreadable input can be hashed
            with open(path, "rb") as handle:  # not Path.read_bytes, which one case patches
                state[str(path.relative_to(folder))] = hashlib.sha256(handle.read()).hexdigest()
            path.chmod(mode)
    return state


def assert_one_error_line(
    stderr: str, code: int, expected: int, fragment: str, warned: bool = False
) -> str:
    """Exit ``expected``, and stderr is one ``error:`` line (after one ``warning:`` if warned)."""
    assert code == expected, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    if warned:
        assert lines[0].startswith("warning: "), stderr
        lines, stderr = lines[1:], stderr.split("\n", 1)[1]
    assert len(lines) == 1 and stderr.endswith("\n"), stderr
    assert lines[0].startswith("error: "), stderr
    assert names_a_fix(lines[0]), lines[0]
    assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


def names_a_fix(message: str) -> bool:
    """'problem; fix', or a setting's 'X must be Y, got Z' (which says what to give)."""
    return "; " in message or (" must be " in message and ", got " in message)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` but holds no pixels (a cheap huge image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is edited to claim ``width`` x ``height``."""
    data = bytearray(encoded(gradient(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gradient(height: int, width: int) -> Image.Image:
    """A synthetic RGB image (no third-party pixels)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256])
    return Image.fromarray(rgb.transpose(1, 2, 0).astype(np.uint8))


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def small_inputs(tubingen: Path, starry_night: Path, tmp_path_factory) -> dict[str, bytes]:
    """The paper's content and style at 64x48 as PNG bytes, copied into each test's folder."""
    # Derived from tubingen.jpg (Photo: Andreas Praefcke, CC BY 3.0); never committed.
    return {
        name: encoded(Image.open(path).convert("RGB").resize((64, 48)), "PNG")
        for name, path in (("content.png", tubingen), ("style.png", starry_night))
    }


@pytest.fixture
def work(tmp_path: Path, small_inputs: dict[str, bytes]) -> Path:
    for name, data in small_inputs.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


# ----------------------------------------------------------------- the bad-input matrix


@dataclass
class Case:
    """One bad input: what to run, and the exit code and message fragment expected."""

    code: int
    fragment: str
    content: str = "{dir}/content.png"
    style: str = "{dir}/style.png"
    output: str = "{dir}/o.png"
    flags: tuple[str, ...] = ()
    kwargs: dict | None = field(default_factory=dict)  # the API's overrides; None: CLI only
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], object] | None = None  # makes the bad files in the folder
    unreadable: str | None = None  # a file to make unreadable (simulated when root)
    read_only: bool = False  # the output folder is read-only
    cli_fragment: str | None = None  # when the CLI's message differs (argparse)
    warned: bool = False  # a one-line warning precedes the error (unofficial weights)


def write(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], object]:
    return lambda folder: (folder / name).write_bytes(data() if callable(data) else data)


def truncated(image_format: str) -> bytes:
    data = encoded(gradient(64, 96), image_format)
    return data[: len(data) // 2]


def other_network(folder: Path) -> None:
    with h5py.File(folder / "resnet.h5", "w") as file:
        file["conv1/conv1_W_1:0"] = np.zeros((7, 7, 3, 64), np.float32)
        file["conv1/conv1_b_1:0"] = np.zeros(64, np.float32)


def truncated_weights(folder: Path) -> None:
    with open(resolve_weights(), "rb") as handle:  # the file conftest's weights_file finds
        (folder / "cut.h5").write_bytes(handle.read(1 << 20))


def weights_with_nan(folder: Path) -> None:
    """A file with VGG19's layout but NaN weights: accepted (official: false), then refused."""
    with h5py.File(folder / "nan.h5", "w") as file:
        for layer, (cin, cout) in CONV_LAYERS.items():
            file[f"{layer}/{layer}_W_1:0"] = np.full((3, 3, cin, cout), np.nan, np.float32)
            file[f"{layer}/{layer}_b_1:0"] = np.zeros(cout, np.float32)


def symlink(name: str, target: str) -> Callable[[Path], object]:
    return lambda folder: (folder / name).symlink_to(folder / target)


CASES: dict[str, Case] = {
    # --- paths
    "content missing": Case(2, "does not exist", content="{dir}/nope.jpg"),
    "style missing": Case(2, "does not exist", style="{dir}/nope.png"),
    "content is a folder": Case(2, "folder", content="{dir}"),
    "style is a folder": Case(2, "folder", style="{dir}"),
    "content unreadable": Case(2, "permission denied", unreadable="content.png"),
    "output folder missing": Case(2, "does not exist", output="{dir}/no/such/o.png"),
    "output folder read-only": Case(2, "not writable", read_only=True),
    "output is a folder": Case(2, "folder", output="{dir}", setup=None),
    "output equals content": Case(2, "overwrite the input", output="{dir}/content.png"),
    "output equals style, other spelling": Case(
        2,
        "overwrite the input",
        output="{dir}/./sub/../style.png",
        setup=lambda f: (f / "sub").mkdir(),
    ),
    "output is a symlink to content": Case(
        2, "overwrite the input", output="{dir}/link.png", setup=symlink("link.png", "content.png")
    ),
    "output equals init image": Case(
        2,
        "overwrite the input",
        output="{dir}/start.png",
        flags=("--init", "{dir}/start.png"),
        kwargs={"init": "{dir}/start.png"},
        setup=write("start.png", lambda: encoded(gradient(8, 8), "PNG")),
    ),
    "loss plot would overwrite content": Case(
        2,
        "overwrite the input",
        content="{dir}/o.loss.png",
        setup=lambda f: (f / "o.loss.png").write_bytes((f / "content.png").read_bytes()),
    ),
    "output extension unknown": Case(2, "extension '.xyz'", output="{dir}/o.xyz"),
    "output extension not an image": Case(2, "extension '.h5'", output="{dir}/o.h5"),
    "output without extension": Case(2, "no extension", output="{dir}/o"),
    # --- images
    "content zero bytes": Case(
        2, "empty", content="{dir}/empty.jpg", setup=write("empty.jpg", b"")
    ),
    "style zero bytes": Case(2, "empty", style="{dir}/empty.png", setup=write("empty.png", b"")),
    "truncated JPEG": Case(
        2, "truncated", content="{dir}/cut.jpg", setup=write("cut.jpg", lambda: truncated("JPEG"))
    ),
    "truncated PNG": Case(
        2, "truncated", style="{dir}/cut.png", setup=write("cut.png", lambda: truncated("PNG"))
    ),
    "text file named .jpg": Case(
        2, "not an image", content="{dir}/notes.jpg", setup=write("notes.jpg", b"hello\n" * 50)
    ),
    "1x1 image": Case(
        2,
        "too small",
        content="{dir}/dot.png",
        setup=write("dot.png", lambda: encoded(gradient(1, 1), "PNG")),
    ),
    "strip too thin for five poolings": Case(
        2,
        "too small",
        content="{dir}/strip.png",
        flags=("--size", "64"),
        kwargs={"size": 64},
        setup=write("strip.png", lambda: encoded(gradient(4, 400), "PNG")),
    ),
    "style too thin (keep-aspect preset)": Case(
        2,
        "style image",
        style="{dir}/strip.png",
        flags=("--preset", "gatys-code"),
        kwargs={"preset": "gatys-code"},
        setup=write("strip.png", lambda: encoded(gradient(4, 400), "PNG")),
    ),
    "PNG claiming 100000x100000": Case(
        2,
        "too large",
        content="{dir}/huge.png",
        setup=write("huge.png", png_header(100_000, 100_000)),
    ),
    "JPEG claiming 65000x65000": Case(
        2,
        "too large",
        style="{dir}/huge.jpg",
        setup=write("huge.jpg", lambda: jpeg_claiming(65_000, 65_000)),
    ),
    "init image corrupt": Case(
        2,
        "not an image",
        flags=("--init", "{dir}/bad.png"),
        kwargs={"init": "{dir}/bad.png"},
        setup=write("bad.png", b"not a png"),
    ),
    "init neither keyword nor file": Case(
        2, "neither", flags=("--init", "zeros"), kwargs={"init": "zeros"}
    ),
    "mask missing": Case(
        2,
        "does not exist",
        flags=("--masks", "{dir}/nomask.png"),
        kwargs={"masks": ["{dir}/nomask.png"]},
    ),
    # --- settings
    "unknown style layer": Case(
        2, "conv9_1", flags=("--style-layers", "conv9_1"), kwargs={"style_layers": ["conv9_1"]}
    ),
    "unknown content layer": Case(
        2, "pool3", flags=("--content-layer", "pool3"), kwargs={"content_layer": "pool3"}
    ),
    "style layer listed twice": Case(
        2,
        "twice",
        flags=("--style-layers", "conv1_1,block1_conv1"),
        kwargs={"style_layers": ["conv1_1", "block1_conv1"]},
    ),
    "negative style weight": Case(
        2, "style weight", flags=("--style-weight", "-1"), kwargs={"style_weight": -1.0}
    ),
    "negative content weight": Case(
        2, "content weight", flags=("--content-weight", "-0.5"), kwargs={"content_weight": -0.5}
    ),
    "NaN content weight": Case(
        2,
        "content weight",
        flags=("--content-weight", "nan"),
        kwargs={"content_weight": float("nan")},
    ),
    "infinite tv weight": Case(
        2, "tv weight", flags=("--tv-weight", "inf"), kwargs={"tv_weight": float("inf")}
    ),
    "zero ratio": Case(2, "ratio", flags=("--ratio", "0"), kwargs={"ratio": 0.0}),
    "NaN ratio": Case(2, "ratio", flags=("--ratio", "nan"), kwargs={"ratio": float("nan")}),
    "both weights zero": Case(
        2,
        "both 0",
        flags=("--content-weight", "0", "--style-weight", "0"),
        kwargs={"content_weight": 0.0, "style_weight": 0.0},
    ),
    "weights overflow float32": Case(
        2, "before any iteration", flags=("--style-weight", "1e31"), kwargs={"style_weight": 1e31}
    ),
    "zero iterations": Case(2, "iterations", flags=("--iterations", "0"), kwargs={"iterations": 0}),
    "negative iterations": Case(
        2, "iterations", flags=("--iterations", "-3"), kwargs={"iterations": -3}
    ),
    "zero size": Case(2, "size", flags=("--size", "0"), kwargs={"size": 0}),
    "negative size": Case(2, "size", flags=("--size", "-5"), kwargs={"size": -5}),
    "size beyond the maximum": Case(2, "size", flags=("--size", "999999"), kwargs={"size": 999999}),
    "size too small for conv5_1": Case(
        2, "too small for conv5_1", flags=("--size", "16"), kwargs={"size": 16}
    ),
    "size not a number": Case(2, "invalid int value", flags=("--size", "big"), kwargs=None),
    "fractional size": Case(2, "size", flags=("--size", "2.5"), kwargs={"size": 2.5}),
    "zero scales": Case(2, "scales", flags=("--scales", "0"), kwargs={"scales": 0}),
    "more scales than the size allows": Case(
        2, "fewer --scales", flags=("--scales", "4"), kwargs={"scales": 4}
    ),
    "unknown preset": Case(
        2, "unknown preset", flags=("--preset", "fast"), kwargs={"preset": "fast"}
    ),
    "unknown optimizer": Case(2, "sgd", flags=("--optimizer", "sgd"), kwargs={"optimizer": "sgd"}),
    "unknown pooling": Case(2, "min", flags=("--pooling", "min"), kwargs={"pooling": "min"}),
    "zero learning rate": Case(
        2,
        "learning rate",
        flags=("--optimizer", "adam", "--learning-rate", "0"),
        kwargs={"optimizer": "adam", "learning_rate": 0.0},
    ),
    "zero L-BFGS history": Case(
        2, "lbfgs_history", flags=("--lbfgs-history", "0"), kwargs={"lbfgs_history": 0}
    ),
    "negative save-every": Case(
        2, "save_every", flags=("--save-every", "-1"), kwargs={"save_every": -1}
    ),
    "negative seed": Case(2, "seed", flags=("--seed", "-1"), kwargs={"seed": -1}),
    "ratio and content weight together": Case(
        2,
        "not both",
        flags=("--ratio", "1e-3", "--content-weight", "1"),
        kwargs={"ratio": 1e-3, "content_weight": 1.0},
    ),
    "two blend weights for one style": Case(
        2,
        "one weight per style",
        flags=("--style-weights", "1", "2"),
        kwargs={"style_blend_weights": [1.0, 2.0]},
    ),
    "unknown setting or flag": Case(
        2,
        "unknown setting",
        flags=("--colour", "x"),
        kwargs={"colour": "x"},
        cli_fragment="unrecognized arguments",
    ),
    "missing required -o": Case(2, "required", output="", kwargs=None),
    # --- weights
    "weights file missing": Case(
        2,
        "does not exist",
        flags=("--weights", "{dir}/none.h5"),
        kwargs={"weights": "{dir}/none.h5"},
    ),
    "weights path is a folder": Case(
        2, "directory", flags=("--weights", "{dir}"), kwargs={"weights": "{dir}"}
    ),
    "weights from the environment missing": Case(
        2, "does not exist", env={"STYLE_TRANSFER_WEIGHTS": "{dir}/gone.h5"}
    ),
    "weights truncated": Case(
        3,
        "not a readable HDF5",
        flags=("--weights", "{dir}/cut.h5"),
        kwargs={"weights": "{dir}/cut.h5"},
        setup=truncated_weights,
    ),
    "weights a text file": Case(
        3,
        "not a readable HDF5",
        flags=("--weights", "{dir}/w.h5"),
        kwargs={"weights": "{dir}/w.h5"},
        setup=write("w.h5", b"this is not HDF5\n"),
    ),
    "weights of another network": Case(
        3,
        "not the VGG19",
        flags=("--weights", "{dir}/resnet.h5"),
        kwargs={"weights": "{dir}/resnet.h5"},
        setup=other_network,
    ),
    "weights holding NaN": Case(
        2,
        "official weights",
        flags=("--weights", "{dir}/nan.h5"),
        kwargs={"weights": "{dir}/nan.h5"},
        setup=weights_with_nan,
        warned=True,
    ),
}


def _prepare(case: Case, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make the case's files, environment and unreadable file; the values for ``{dir}``."""
    if case.setup is not None:
        case.setup(folder)
    values = {"dir": str(folder)}
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.format(**values))
    if case.unreadable:
        target = folder / case.unreadable
        target.chmod(0)
        if os.access(target, os.R_OK):  # root reads anything: simulate the refusal instead
            real = Path.read_bytes

            def refuse(path: Path) -> bytes:
                if path == target:
                    raise PermissionError(13, "Permission denied", str(path))
                return real(path)

            monkeypatch.setattr(Path, "read_bytes", refuse)
    return values


def _output(case: Case, values: dict[str, str], read_only_folder: Path) -> str:
    if case.read_only:
        return str(read_only_folder / "o.png")
    return case.output.format(**values)


@pytest.fixture
def read_only_folder(tmp_path_factory) -> Path:
    """A folder this process cannot create files in: chmod 555, or /sys when running as root."""
    folder = tmp_path_factory.mktemp("locked")
    folder.chmod(0o555)
    try:
        (folder / ".probe").touch()
    except PermissionError:
        yield folder
    else:  # root ignores permissions; sysfs refuses new files even to root
        (folder / ".probe").unlink()
        yield Path("/sys")
    folder.chmod(0o755)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_bad_input(name, work, monkeypatch, capsys, read_only_folder):
    case = CASES[name]
    values = _prepare(case, work, monkeypatch)
    before = folder_state(work)
    output = _output(case, values, read_only_folder)
    args = ["transfer", case.content.format(**values), case.style.format(**values)]
    args += ["-o", output] if output else []
    flags = [flag.format(**values) for flag in case.flags]
    code = run_in_process([*args, *TINY, *flags])
    fragment = case.cli_fragment or case.fragment
    assert_one_error_line(capsys.readouterr().err, code, case.code, fragment, case.warned)
    assert folder_state(work) == before  # inputs unchanged, no output, no temporary file


API_CASES = sorted(name for name, case in CASES.items() if case.kwargs is not None)


@pytest.mark.parametrize("name", API_CASES)
def test_api_bad_input(name, work, monkeypatch, read_only_folder):
    case = CASES[name]
    values = _prepare(case, work, monkeypatch)
    before = folder_state(work)

    def fill(value):
        if isinstance(value, str):
            return value.format(**values)
        return [fill(v) for v in value] if isinstance(value, list) else value

    kwargs = {**TINY_KWARGS, **{key: fill(v) for key, v in case.kwargs.items()}}
    content, style = case.content.format(**values), case.style.format(**values)
    output = _output(case, values, read_only_folder)
    with pytest.raises(StyleTransferError) as raised, warnings.catch_warnings():
        warnings.simplefilter("ignore" if case.warned else "error")  # no unexpected warning
        style_transfer.transfer(content, style, output=output, **kwargs)
    message = str(raised.value)
    assert raised.value.exit_code == case.code
    assert "\n" not in message and names_a_fix(message), message
    assert case.fragment.lower() in message.lower(), message
    assert folder_state(work) == before


# A few cases again through a real `python -m style_transfer` process: the real exit code, and
# nothing on stderr but the one line (TensorFlow's native start-up lines are hidden).
SUBPROCESS_CASES = [
    "content missing",
    "PNG claiming 100000x100000",
    "size not a number",
    "weights of another network",
]


@pytest.mark.subprocess
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_process_bad_input(name, work, monkeypatch, read_only_folder):
    case = CASES[name]
    values = _prepare(case, work, monkeypatch)
    before = folder_state(work)
    args = [case.content.format(**values), case.style.format(**values)]
    flags = [flag.format(**values) for flag in case.flags]
    done = run_module(
        "transfer", *args, "-o", _output(case, values, read_only_folder), *TINY, *flags
    )
    fragment = case.cli_fragment or case.fragment
    assert_one_error_line(done.stderr, done.returncode, case.code, fragment, case.warned)
    assert done.stdout == ""
    assert folder_state(work) == before


# The other commands take images and weights too: the same one-line errors there.
SCORE = ("score", "{dir}/content.png", "--content", "{dir}/content.png", "--style")
OTHER_COMMANDS: dict[str, tuple[int, str, tuple[str, ...], Callable | None]] = {
    "score: image missing": (
        2,
        "does not exist",
        (*SCORE[:1], "{dir}/no.png", *SCORE[2:], "{dir}/style.png"),
        None,
    ),
    "score: style truncated": (
        2,
        "truncated",
        (*SCORE, "{dir}/cut.png"),
        write("cut.png", lambda: truncated("PNG")),
    ),
    "score: image 1x1": (
        2,
        "too small",
        ("score", "{dir}/dot.png", *SCORE[2:], "{dir}/style.png"),
        write("dot.png", lambda: encoded(gradient(1, 1), "PNG")),
    ),
    "score: unknown preset": (
        2,
        "unknown preset",
        (*SCORE, "{dir}/style.png", "--preset", "fast"),
        None,
    ),
    "score: weights of another network": (
        3,
        "not the VGG19",
        (*SCORE, "{dir}/style.png", "--weights", "{dir}/resnet.h5"),
        other_network,
    ),
    "weights: not HDF5": (
        3,
        "not a readable HDF5",
        ("weights", "--weights", "{dir}/w.h5"),
        write("w.h5", b"text\n"),
    ),
    "weights: missing file": (2, "does not exist", ("weights", "--weights", "{dir}/none.h5"), None),
    "no command": (2, "required", (), None),
    "unknown command": (2, "invalid choice", ("paint",), None),
}


@pytest.mark.parametrize("name", sorted(OTHER_COMMANDS))
def test_other_commands_bad_input(name, work, capsys):
    code, fragment, args, setup = OTHER_COMMANDS[name]
    if setup is not None:
        setup(work)
    before = folder_state(work)
    exit_code = run_in_process([arg.format(dir=work) for arg in args])
    assert_one_error_line(capsys.readouterr().err, exit_code, code, fragment)
    assert folder_state(work) == before


def test_matrix_covers_every_kind_of_bad_input():
    """The count for the report, and a guard against the matrix quietly shrinking."""
    counts = (len(CASES), len(API_CASES), len(SUBPROCESS_CASES), len(OTHER_COMMANDS))
    print(
        "\n{} bad inputs through the CLI, {} through the API, {} through a real process, "
        "{} in other commands".format(*counts)
    )
    assert len(CASES) >= 60
    assert {c.code for c in CASES.values()} == {errors.EXIT_BAD_INPUT, errors.EXIT_RESOURCE}


# ------------------------------------------------------- good-but-odd images run end to end


def odd_image(kind: str) -> tuple[bytes, str]:
    """A 60x40 (W x H) image of an unusual kind, and its file suffix."""
    rgb = gradient(40, 60)
    if kind == "grayscale":
        return encoded(rgb.convert("L"), "PNG"), ".png"
    if kind == "rgba":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.fromarray(np.tile(np.arange(60, dtype=np.uint8) * 4, (40, 1))))
        return encoded(rgba, "PNG"), ".png"
    if kind == "palette":
        return encoded(
            rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0
        ), ".png"
    if kind == "16-bit":
        values = (np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16)
        return encoded(Image.fromarray(values), "PNG"), ".png"
    if kind == "cmyk":
        return encoded(rgb.convert("CMYK"), "JPEG"), ".jpg"
    if kind == "exif-rotated":  # stored 60x40, shown 40x60: Orientation 6 = rotate 90 degrees
        exif = Image.Exif()
        exif[0x0112] = 6
        return encoded(rgb, "JPEG", exif=exif), ".jpg"
    if kind == "animated-gif":
        frames = [
            rgb,
            rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            rgb.convert("L").convert("RGB"),
        ]
        return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]), ".gif"
    raise ValueError(kind)


ODD_KINDS = ["grayscale", "rgba", "palette", "16-bit", "cmyk", "exif-rotated", "animated-gif"]


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_odd_image_runs_end_to_end(kind, work, capsys):
    data, suffix = odd_image(kind)
    odd = work / f"odd{suffix}"
    odd.write_bytes(data)
    before = folder_state(work)
    output = work / "out.png"
    code = run_in_process(["transfer", odd, work / "style.png", "-o", output, *TINY])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    upright = (21, 32) if kind == "exif-rotated" else (32, 21)  # (W, H) at --size 32
    assert Image.open(output).size == upright
    record = json.loads(output.with_name("out.png.json").read_text())
    upright_original = [40, 60] if kind == "exif-rotated" else [60, 40]
    assert record["inputs"]["content"]["original_size"] == upright_original
    assert record["output"]["size"] == list(upright)
    if kind == "animated-gif":
        assert captured.err.count("\n") == 1, captured.err
        assert captured.err.startswith("warning: ") and "first frame" in captured.err
    else:
        assert captured.err == ""
    after = folder_state(work)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {"out.png", "out.png.json", "out.loss.png"}


# ---------------------------------------------- weights that are VGG19 but not the official file


@pytest.fixture(scope="module")
def altered_weights(weights_file: Path, tmp_path_factory) -> Path:
    """The official file with one bias changed by 1e-3: valid layout, different md5."""
    copy = tmp_path_factory.mktemp("weights") / "altered.h5"
    copy.write_bytes(weights_file.read_bytes())
    copy.chmod(0o644)
    with h5py.File(copy, "r+") as file:
        bias = file["block1_conv1/block1_conv1_b_1:0"]
        bias[0] = bias[0] + np.float32(1e-3)
    return copy


def test_unofficial_weights_run_with_a_warning_and_are_recorded(work, altered_weights, capsys):
    output = work / "out.png"
    args = ["transfer", work / "content.png", work / "style.png", "-o", output, *TINY]
    code = run_in_process([*args, "--weights", altered_weights])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("warning: "), err
    assert "official" in err and str(altered_weights) in err
    record = json.loads(output.with_name("out.png.json").read_text())["weights"]
    assert record["official"] is False
    assert record["md5"] != WEIGHTS_MD5 and record["path"] == str(altered_weights)


def test_unofficial_weights_warn_in_the_api(work, altered_weights):
    with pytest.warns(UserWarning, match="not the official"):
        result = style_transfer.transfer(
            work / "content.png", work / "style.png", weights=altered_weights, **TINY_KWARGS
        )
    assert result.manifest["weights"]["official"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the official file: no warning
        official = style_transfer.transfer(work / "content.png", work / "style.png", **TINY_KWARGS)
    assert official.manifest["weights"]["official"] is True


# ------------------------------------------------------------------------- runtime faults

REPO = Path(__file__).resolve().parents[1]


def stray_files(folder: Path) -> list[str]:
    """Temporary files left behind (every atomic write starts as a hidden ``.NAME.*``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize(
    "stop, code, said",
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_mid_run_saves_the_best_image_and_manifest(work, stop, code, said):
    """Ctrl-C, and SIGTERM (timeout, docker stop, Slurm, Kubernetes) the same way."""
    output = work / "o.png"
    process = subprocess.Popen(
        [sys.executable, "-m", "style_transfer", "transfer", work / "content.png",
         work / "style.png", "-o", output, "--size", "64", "--iterations", "100000",
         "--save-every", "3", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout_for(iterations=3, size=64)
    while not (work / "o.iter00003.png").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=timeout_for(iterations=1, size=64))  # + the save
    assert process.returncode == code, stderr
    assert stderr == f"{said}: saved the best image so far to {str(output)!r}\n"
    record = json.loads(output.with_name("o.png.json").read_text())
    assert record["optimizer"]["status"] == "interrupted"
    assert record["optimizer"]["stop_reason"].startswith(
        "terminated by SIGTERM" if stop == signal.SIGTERM else "interrupted by the user"
    )
    done = record["optimizer"]["iterations"]
    assert done >= 3 and len(record["loss_history"]["total"]) == done + 1
    assert record["output"]["path"] == str(output)
    assert Image.open(output).size == (64, 48)
    assert (work / "o.loss.png").is_file()
    assert stray_files(work) == []


def test_non_finite_loss_keeps_the_best_finite_image(work, monkeypatch):
    from fault_injection import poisoned_init

    seen: list[Evaluator] = []
    monkeypatch.setattr(Evaluator, "__init__", poisoned_init(6, Evaluator.__init__, seen))
    output = work / "o.png"
    result = style_transfer.transfer(
        work / "content.png", work / "style.png", output=output, **{**TINY_KWARGS, "iterations": 50}
    )
    assert result.status == "diverged" and "nan" in result.stop_reason
    evaluator = seen[0]
    best = network.deprocess(evaluator.best_x.reshape(24, 32, 3))
    assert np.array_equal(result.image, np.round(best).astype(np.uint8))
    totals = result.history["total"]
    assert np.all(np.isfinite(totals)) and evaluator.best_loss <= min(totals)
    assert len(totals) == result.manifest["optimizer"]["iterations"] + 1 < 50
    assert np.array_equal(np.asarray(Image.open(output)), result.image)
    record = json.loads(output.with_name("o.png.json").read_text())
    assert record["optimizer"]["status"] == "diverged"
    assert "nan" in record["optimizer"]["stop_reason"]
    assert record["final_loss"]["total"] == pytest.approx(evaluator.best_loss)
    assert stray_files(work) == []


@pytest.mark.slow
@pytest.mark.subprocess
def test_non_finite_loss_in_a_real_process_exits_4(work):
    """The command line, diverging at evaluation 6 (tests/fault_injection.py, not the product)."""
    output = work / "o.png"
    done = subprocess.run(
        [sys.executable, REPO / "tests" / "fault_injection.py", "6", "transfer",
         work / "content.png", work / "style.png", "-o", output, *TINY[:2],
         "--iterations", "50", "--quiet"],
        capture_output=True, text=True, timeout=timeout_for(iterations=6),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == errors.EXIT_DIVERGED == 4, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "the loss became nan at evaluation 6" in done.stderr and str(output) in done.stderr
    record = json.loads(output.with_name("o.png.json").read_text())
    assert record["optimizer"]["status"] == "diverged"
    assert Image.open(output).size == (32, 24)
    assert stray_files(work) == []


@pytest.fixture(scope="module")
def small_result(small_inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("result")
    for name, data in small_inputs.items():
        (folder / name).write_bytes(data)
    return style_transfer.transfer(folder / "content.png", folder / "style.png", **TINY_KWARGS)


def crash_while_writing(monkeypatch, exception: BaseException, *, target: str) -> None:
    """Writing ``target`` ("image" or "manifest") puts half its bytes down, then raises."""
    if target == "image":
        real_save = Image.Image.save

        def save(self, fp, *args, **kwargs):
            if ".loss." in str(getattr(fp, "name", fp)):  # the loss plot goes through Pillow too
                return real_save(self, fp, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(self, buffer, *args, **kwargs)
            fp.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            raise exception

        monkeypatch.setattr(Image.Image, "save", save)
    else:

        class HalfJson:
            @staticmethod
            def dump(data, handle, **kwargs):
                text = json.dumps(data, **kwargs)
                handle.write(text[: len(text) // 2])
                raise exception

        monkeypatch.setattr(manifest, "json", HalfJson)


@pytest.mark.parametrize("target", ["image", "manifest"])
@pytest.mark.parametrize(
    "exception",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_crash_mid_write_leaves_the_previous_file_intact(
    small_result, tmp_path, monkeypatch, target, exception
):
    """The image: the error propagates. The manifest (a secondary file, written after the
    image): a warning and ``Result.problems``, the new image kept. Never a half file."""
    output = tmp_path / "out.png"
    small_result.save(output)  # a good earlier result under the final names
    before = folder_state(tmp_path)
    crash_while_writing(monkeypatch, exception, target=target)
    if target == "image":
        expected = InputError if isinstance(exception, OSError) else KeyboardInterrupt
        with pytest.raises(expected) as raised:
            small_result.save(output)
        if expected is InputError:
            assert "\n" not in str(raised.value) and "No space left" in str(raised.value)
    else:
        result = dataclasses.replace(small_result, problems=[])
        with pytest.warns(UserWarning, match="could not write the manifest"):
            assert result.save(output) == output
        assert len(result.problems) == 1 and "\n" not in result.problems[0]
    after = folder_state(tmp_path)
    written = "out.png.json" if target == "manifest" else "out.png"
    assert after[written] == before[written]  # never a half file under the final name
    assert set(after) == set(before) and stray_files(tmp_path) == []
    json.loads((tmp_path / "out.png.json").read_text())
    Image.open(output).load()


def test_ctrl_c_while_the_cli_saves(work, monkeypatch, capsys):
    output = work / "o.png"
    args = ["transfer", work / "content.png", work / "style.png", "-o", output, *TINY]
    assert run_in_process(args) == 0
    capsys.readouterr()
    before = folder_state(work)
    crash_while_writing(monkeypatch, KeyboardInterrupt(), target="image")
    assert run_in_process(args) == errors.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("interrupted") and "unchanged" in err
    after = folder_state(work)
    assert after["o.png"] == before["o.png"] and after["o.png.json"] == before["o.png.json"]
    assert stray_files(work) == []


def test_result_save_never_overwrites_an_input(small_result, tmp_path):
    content = Path(small_result.manifest["inputs"]["content"]["path"])
    before = content.read_bytes()
    with pytest.raises(InputError, match="overwrite the input"):
        small_result.save(content)
    assert content.read_bytes() == before


@pytest.mark.slow
@pytest.mark.subprocess
def test_two_runs_into_one_folder_keep_their_own_manifests(work):
    runs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "style_transfer",
                "transfer",
                work / "content.png",
                work / "style.png",
                "-o",
                work / f"{name}.png",
                *TINY,
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, seed in (("a", 1), ("b", 2))
    }
    for process in runs.values():
        _, stderr = process.communicate(timeout=timeout_for(processes=2, iterations=2))
        assert process.returncode == 0, stderr
    for name, seed in (("a", 1), ("b", 2)):
        record = json.loads((work / f"{name}.png.json").read_text())
        assert record["output"]["path"] == str(work / f"{name}.png")
        assert record["output"]["loss_plot"] == str(work / f"{name}.loss.png")
        assert record["settings"]["seed"] == seed == record["start"]["seed"]
        assert Image.open(work / f"{name}.png").size == (32, 24)
    first, second = (np.asarray(Image.open(work / f"{n}.png")) for n in "ab")
    assert not np.array_equal(first, second)  # each image is its own run's
    assert stray_files(work) == []
