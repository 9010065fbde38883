"""Reliability, round two (issue 15): no input ever overwritten, no finished run thrown away,
records that describe exactly what was written, no traceback, SIGTERM like Ctrl-C.

One parametrised matrix per class; ``test_report_counts`` prints how many cases each has.
Helpers and the small inputs come from test_reliability.py.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import test_reliability as base
from PIL import Image
from test_reliability import (
    TINY,
    TINY_KWARGS,
    assert_one_error_line,
    encoded,
    folder_state,
    gradient,
    run_in_process,
    stray_files,
)
from timeouts import timeout_for

import style_transfer
from style_transfer import (
    cli,
    errors,
    images,
    manifest,
    memory,
    normalise,
    outputs,
    plots,
    quiet,
)  # fmt: skip
from style_transfer.errors import InputError
from style_transfer.settings import Settings

NAME_MAX = os.pathconf("/tmp", "PC_NAME_MAX")
small_inputs, work = base.small_inputs, base.work  # the fixtures: 64x48 content and style


def _png(folder: Path, name: str) -> None:
    (folder / name).write_bytes(encoded(gradient(48, 64), "PNG"))


# ------------------------------------------------- 1. pre-flight: everything a run writes

# name -> (args after "transfer" with {dir}, fragment, setup)
PREFLIGHT = {
    "init is the first snapshot": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/o.png", "--save-every", "1",
         "--init", "{dir}/o.iter00001.png"],
        "overwrite the input", lambda f: _png(f, "o.iter00001.png"),
    ),
    "content is the manifest": (
        ["{dir}/o.png.json", "{dir}/style.png", "-o", "{dir}/o.png"],
        "overwrite the input", lambda f: _png(f, "o.png.json"),
    ),
    "style is the last snapshot": (
        ["{dir}/content.png", "{dir}/o.iter00002.png", "-o", "{dir}/o.png", "--save-every", "2"],
        "overwrite the input", lambda f: _png(f, "o.iter00002.png"),
    ),
    "mask is the loss plot": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/o.png",
         "--masks", "{dir}/o.loss.png"],
        "overwrite the input", lambda f: _png(f, "o.loss.png"),
    ),
    "a snapshot name is a symlink to the content": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/o.png", "--save-every", "1"],
        "overwrite the input",
        lambda f: (f / "o.iter00002.png").symlink_to(f / "content.png"),
    ),
    "content reached through a symlinked folder is the manifest": (
        ["{dir}/link/o.png.json", "{dir}/style.png", "-o", "{dir}/o.png"],
        "overwrite the input",
        lambda f: (_png(f, "o.png.json"), (f / "link").symlink_to(f)),
    ),
    "output name too long for its temporary file": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/" + "a" * (NAME_MAX - 9) + ".png"],
        "shorter output name", None,
    ),
    "manifest name too long": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/" + "b" * (NAME_MAX - 19) + ".png"],
        "manifest", None,
    ),
    "snapshot name too long (only with --save-every)": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/" + "c" * (NAME_MAX - 26) + ".png",
         "--save-every", "1"],
        "snapshot", None,
    ),
    "output is a symlink loop": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/loop.png"],
        "symlink loop", lambda f: (f / "loop.png").symlink_to(f / "loop.png"),
    ),
    "output folder is a file": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/content.png/o.png"],
        "is a file, not a folder", None,
    ),
    "output under an unknown user's home": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "~no_such_user_15/o.png"],
        "does not exist", None,
    ),
    "content under an unknown user's home": (
        ["~no_such_user_15/c.png", "{dir}/style.png", "-o", "{dir}/o.png"], "does not exist", None,
    ),
    "output format that resizes (.icns)": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/o.icns"], "'.icns'", None,
    ),
    "output format that squares (.ico)": (
        ["{dir}/content.png", "{dir}/style.png", "-o", "{dir}/o.ico"], "'.ico'", None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PREFLIGHT))
def test_preflight_refuses_before_any_work(name, work, capsys):
    args, fragment, setup = PREFLIGHT[name]
    if setup is not None:
        setup(work)
    before = folder_state(work)
    code = run_in_process(["transfer", *(a.format(dir=work) for a in args), *TINY])
    assert_one_error_line(capsys.readouterr().err, code, errors.EXIT_BAD_INPUT, fragment)
    assert folder_state(work) == before and stray_files(work) == []


def test_preflight_refuses_a_name_the_filesystem_cannot_encode(work):
    with pytest.raises(InputError, match="cannot be encoded"):
        outputs.check(str(work / "o\ud800.png"), [work / "content.png"])


def test_a_longest_name_that_fits_is_accepted(work):
    fits = "d" * (NAME_MAX - outputs.TEMP_AFFIXES - len(".iter00003") - 4) + ".png"
    plan = outputs.check(work / fits, [], save_every=1, iterations=3)
    assert plan.snapshot_iterations == range(1, 4)


@pytest.mark.parametrize(
    "name", [b"o\xff\xfe.png", b"dollar $x$ and $.png", b"new\nline.png"], ids=repr
)
def test_odd_but_valid_output_names_run_and_save_everything(name, work, capsys):
    output = os.fsencode(work) + b"/" + name
    code = run_in_process(["transfer", work / "content.png", work / "style.png", "-o",
                           os.fsdecode(output), *TINY])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.count("\n") == 1  # the path is quoted: a newline cannot split the line
    stem = os.fsdecode(name)[:-4]
    record = json.loads((work / f"{stem}.png.json").read_text(errors="surrogateescape"))
    assert record["output"]["loss_plot"] == str(work / f"{stem}.loss.png")
    assert (work / f"{stem}.loss.png").is_file() and stray_files(work) == []


# -------------------------------------- 2. secondary outputs fail without costing the image


def _fail_on(monkeypatch, module, attribute, marker):
    real = getattr(module, attribute)

    def failing(*args, **kwargs):
        if any(marker in os.fsdecode(a) for a in args if isinstance(a, (str, os.PathLike))):
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attribute, failing)


SECONDARY = {
    "loss plot": ("loss plot", lambda mp: _fail_on(mp, plots, "save_figure", ".loss.")),
    "manifest": ("manifest", lambda mp: _fail_on(mp, manifest, "replace_atomically", ".json")),
    "snapshot": ("snapshot", lambda mp: _fail_on(mp, images, "replace_atomically", ".iter00002")),
    "stdout closed": ("could not print to stdout", None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SECONDARY))
def test_a_failing_secondary_output_keeps_the_image(name, work, monkeypatch, capsys):
    fragment, breaks = SECONDARY[name]
    if breaks is not None:
        breaks(monkeypatch)
    output = work / "o.png"
    args = ["transfer", work / "content.png", work / "style.png", "-o", output, *TINY[:2],
            "--iterations", "3", "--save-every", "1"]  # fmt: skip
    if name == "stdout closed":
        closed = io.StringIO()
        closed.close()
        monkeypatch.setattr(sys, "stdout", closed)
    else:
        args.append("--quiet")
    code = run_in_process(args)
    err = capsys.readouterr().err
    assert code == errors.EXIT_PARTIAL == 6, err
    assert "Traceback" not in err
    warned = err.splitlines()
    assert warned and all(line.startswith("warning: ") for line in warned), err
    assert any(fragment in line for line in warned), err
    assert Image.open(output).size == (32, 24)  # the image is never lost
    assert stray_files(work) == []
    if name != "manifest":
        record = json.loads((work / "o.png.json").read_text())
        assert record["output"]["sha256"] == images.image_digest(output)
        written = record["output"]["snapshots"]
        assert all(Path(p).is_file() for p in written)
        assert record["output"]["loss_plot"] is None if name == "loss plot" else True
        if name == "snapshot":  # the first snapshot was written, none after the failure
            assert written == [str(work / "o.iter00001.png")]
            assert not (work / "o.iter00003.png").exists()


@pytest.mark.slow
@pytest.mark.subprocess
def test_broken_pipe_keeps_the_image(work):
    """``transfer ... | head -c 1`` with coarse-to-fine's scale lines and the progress."""
    read, write = os.pipe()
    os.close(read)  # every write to stdout now fails with EPIPE
    output = work / "o.png"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "style_transfer", "transfer", work / "content.png",
             work / "style.png", "-o", output, "--size", "64", "--iterations", "2",
             "--scales", "2"],
            stdout=write, stderr=subprocess.PIPE, text=True,
            timeout=timeout_for(iterations=3, size=64),
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == errors.EXIT_PARTIAL, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert all(line.startswith("warning: ") for line in done.stderr.splitlines()), done.stderr
    assert Image.open(output).size == (64, 48)
    assert json.loads((work / "o.png.json").read_text())["optimizer"]["status"] == "completed"


# ---------------------------------------------------- 3. input hashes taken when read


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _change_during_run(monkeypatch, change):
    from style_transfer import solve

    real = solve.run

    def run(*args, **kwargs):
        record = real(*args, **kwargs)
        change()
        return record

    monkeypatch.setattr(solve, "run", run)


HASHED = {
    "content replaced": ("content", lambda f: (f / "content.png").write_bytes(b"new bytes")),
    "content moved away": ("content", lambda f: (f / "content.png").rename(f / "moved.png")),
    "style deleted": ("style", lambda f: (f / "style.png").unlink()),
    "mask replaced": ("mask", lambda f: (f / "mask.png").write_bytes(b"other")),
    "init replaced": ("init", lambda f: (f / "init.png").write_bytes(b"other")),
}


@pytest.mark.parametrize("name", sorted(HASHED))
def test_a_changed_input_does_not_change_the_record_nor_cost_the_image(name, work, monkeypatch):
    which, change = HASHED[name]
    _png(work, "mask.png")
    _png(work, "init.png")
    original = {n: (work / f"{n}.png").read_bytes() for n in ("content", "style", "mask", "init")}
    _change_during_run(monkeypatch, lambda: change(work))
    extra = {"masks": [work / "mask.png"]} if which == "mask" else {}
    if which == "init":
        extra["init"] = str(work / "init.png")
    result = style_transfer.transfer(
        work / "content.png", work / "style.png", output=work / "o.png", **TINY_KWARGS, **extra
    )
    record = json.loads((work / "o.png.json").read_text())
    recorded = {
        "content": record["inputs"]["content"],
        "style": record["inputs"]["style"],
        "init": record["start"],
        "mask": (record["inputs"].get("styles") or [{}])[0].get("mask"),
    }[which]
    assert recorded["sha256"] == _sha(original[which])
    assert recorded["path"] == str(work / f"{which}.png")
    assert result.saved_to == work / "o.png" and (work / "o.png").is_file()


def test_a_pipe_gets_the_digest_of_the_bytes_it_gave(work):
    fifo = work / "pipe"
    os.mkfifo(fifo)
    data = (work / "content.png").read_bytes()

    def feed():
        with open(fifo, "wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    result = style_transfer.transfer(fifo, work / "style.png", **TINY_KWARGS)
    writer.join(timeout=10)
    described = result.manifest["inputs"]["content"]
    assert described["sha256"] == _sha(data) != _sha(b"")
    assert described["path"] == str(fifo)


# ------------------------------------------------------------------------ 4. strict JSON

NON_FINITE = {
    "inf": float("inf"),
    "-inf": float("-inf"),
    "nan": float("nan"),
    "numpy inf": np.float32("inf"),
    "nested nan": {"a": [1.0, {"b": float("nan")}]},
}


@pytest.mark.parametrize("name", sorted(NON_FINITE))
def test_strict_json_turns_non_finite_values_into_null_and_says_where(name):
    cleaned = manifest.strict_json({"value": NON_FINITE[name], "ok": np.float32(2.5)})
    text = json.dumps(cleaned, allow_nan=False)
    loaded = json.loads(text)
    assert loaded["ok"] == 2.5 and loaded["non_finite"]
    assert all(re.fullmatch(r"value(\.a\[1\]\.b)?", where) for where in loaded["non_finite"])


def test_manifests_are_strict_json_even_with_a_non_finite_loss(tmp_path):
    path = manifest.write_json_atomic(tmp_path / "m.json", {"final_loss": {"total": math.inf}})
    text = path.read_text()
    assert "Infinity" not in text and json.loads(text)["non_finite"] == ["final_loss.total"]


def test_score_json_is_strict_json(work, capsys):
    code = run_in_process(["score", work / "content.png", "--content", work / "content.png",
                           "--style", work / "style.png", "--style-weight", "1e308",
                           "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["total_loss"] is None and "total_loss" in report["non_finite"]


def test_every_json_dump_in_the_package_is_strict():
    package = Path(style_transfer.__file__).parent
    loose = []
    for path in package.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"json\.dumps?\(", line) and "allow_nan=False" not in line:
                loose.append(f"{path.relative_to(package)}:{number}: {line.strip()}")
    assert loose == []


# ------------------------------------------ 5. records that describe exactly what was used

RECORDS = {
    "blend weights overflow": (["--style-weights", "1e308", "1e308"], "more than a float"),
    "blend weights overflow (three)": (["--style-weights", "1e308", "1e308", "1"], "more than"),
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_records_refuse_what_they_could_not_describe(name, work, capsys):
    flags, fragment = RECORDS[name]
    styles = [work / "style.png"] * (len(flags) - 1)
    code = run_in_process(["transfer", work / "content.png", *styles, "-o", work / "o.png",
                           *TINY, *flags])  # fmt: skip
    assert_one_error_line(capsys.readouterr().err, code, 2, fragment)


@pytest.mark.parametrize("side", [4, 8, 15])
def test_calibration_images_too_small_for_conv5_are_refused(side, tmp_path, weights_file):
    folder = tmp_path / "calibration"
    folder.mkdir()
    (folder / "tiny.png").write_bytes(encoded(gradient(side, 64), "PNG"))
    with pytest.raises(InputError, match="too small to measure conv5") as raised:
        normalise.normalised_weights(weights_file, calibration=folder)
    assert "\n" not in str(raised.value) and "tiny.png" in str(raised.value)


@pytest.mark.parametrize("bad", ["nan", "zero"])
def test_means_that_cannot_normalise_are_refused(bad):
    means = {layer: np.ones(n, np.float64) for layer, n in normalise.network.FILTERS.items()}
    means["block5_conv1"][:] = np.nan if bad == "nan" else 0.0
    with pytest.raises(InputError, match="non-finite" if bad == "nan" else "no filter"):
        normalise.check_means(means)


# ------------------------------------------------------------------------- 6. memory checks

MEMORY = {
    "history": (Settings(size=512, lbfgs_history=5000), "--lbfgs-history"),
    "style scale": (Settings(size=512, style_scale=8.0), "--style-scale"),
    "size": (Settings(size=4096), "--size"),
}


@pytest.mark.parametrize("name", sorted(MEMORY))
def test_memory_refusals_name_the_real_cause(name):
    settings, flag = MEMORY[name]
    with pytest.raises(InputError) as raised:
        memory.check_memory((768, 1024), 1, settings.resolve(), available=3 * memory.GIB)
    message = str(raised.value)
    assert "\n" not in message and flag in message
    if flag != "--size":
        assert "--size" not in message
        fits = float(message.split(flag + " ")[1].split()[0])
        field = "lbfgs_history" if flag == "--lbfgs-history" else "style_scale"
        smaller = Settings(size=512, **{field: type(getattr(settings, field))(fits)}).resolve()
        memory.check_memory((768, 1024), 1, smaller, available=3 * memory.GIB)  # now fits


def test_score_refuses_an_image_too_large_for_memory(work, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: memory.GIB // 2)
    code = run_in_process(["score", work / "content.png", "--content", work / "content.png",
                           "--style", work / "style.png"])  # fmt: skip
    assert_one_error_line(capsys.readouterr().err, code, 2, "scoring the 64x48 px image")


def test_a_decoder_out_of_memory_is_one_line(work, monkeypatch):
    def no_memory(self, *args):
        raise MemoryError

    monkeypatch.setattr(Image.Image, "load", no_memory)
    with pytest.raises(InputError, match="not enough memory") as raised:
        images.load_image(work / "content.png")
    assert "\n" not in str(raised.value)


# ------------------------------------------------- 7. one-line errors for every decoder failure

DECODER_ERRORS = {
    "struct.error": struct.error("unpack requires a buffer of 4 bytes"),
    "zlib.error": zlib.error("Error -3 while decompressing data"),
    "SyntaxError": SyntaxError("not a TIFF file"),
    "EOFError": EOFError(),
    "IndexError": IndexError("list index out of range"),
    "KeyError": KeyError(1536),
    "TypeError": TypeError("Missing dimensions"),
    "ZeroDivisionError": ZeroDivisionError("division by zero"),
    "OSError subclass": IsADirectoryError(21, "Is a directory"),
    "DecompressionBombError": Image.DecompressionBombError("too big"),
}


@pytest.mark.parametrize("name", sorted(DECODER_ERRORS))
def test_every_decoder_exception_is_one_line(name, work, monkeypatch):
    def broken(*args, **kwargs):
        raise DECODER_ERRORS[name]

    monkeypatch.setattr(Image, "open", broken)
    with pytest.raises(InputError) as raised:
        images.load_image(work / "content.png", name="content image")
    message = str(raised.value)
    assert "\n" not in message and "content.png" in message and "; " in message


def _two_page_tiff(damage: bool) -> bytes:
    data = bytearray(
        encoded(gradient(24, 32), "TIFF", save_all=True, append_images=[gradient(24, 32)])
    )
    if damage:  # the second IFD's offset (the 4 bytes after the first IFD) points past the end
        first = struct.unpack("<I", data[4:8])[0]
        entries = struct.unpack("<H", data[first : first + 2])[0]
        at = first + 2 + 12 * entries
        data[at : at + 4] = struct.pack("<I", len(data) + 1000)
    return bytes(data)


def test_a_damaged_second_tiff_page_uses_the_first(tmp_path):
    path = tmp_path / "two.tif"
    path.write_bytes(_two_page_tiff(damage=True))
    with pytest.warns(UserWarning, match="first frame"):
        rgb = images.load_image(path)
    assert rgb.shape == (24, 32, 3)


def test_libtiff_writes_nothing_beside_the_error(tmp_path, capfd):
    data = bytearray(encoded(gradient(64, 64), "TIFF", compression="tiff_adobe_deflate"))
    data[-400:-300] = bytes(100)  # damage the compressed strip
    path = tmp_path / "bad.tif"
    path.write_bytes(bytes(data))
    try:
        images.load_image(path)
    except InputError as error:
        assert "\n" not in str(error)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def _mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    mutants = []
    for _ in range(count):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            at, kind = rng.randrange(len(mutant)), rng.random()
            if kind < 0.5:
                mutant[at] = rng.randrange(256)
            elif kind < 0.7:
                del mutant[at : at + rng.randint(1, 16)]
            elif kind < 0.85:
                mutant[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            else:
                del mutant[at:]
            mutant = mutant or bytearray(b"x")
        mutants.append(bytes(mutant))
    return mutants


def test_fuzzed_images_load_or_fail_in_one_line(tmp_path):
    """Mutated PNG/JPEG/TIFF/WebP/GIF/BMP bytes (fixed seed): each loads or gives the one-line
    InputError, never another exception, in bounded time."""
    picture = gradient(24, 32)
    seeds = {
        ".png": encoded(picture, "PNG"),
        ".jpg": encoded(picture, "JPEG"),
        ".tif": encoded(picture, "TIFF", save_all=True, append_images=[picture]),
        ".tiff": encoded(picture, "TIFF", compression="tiff_adobe_deflate"),
        ".webp": encoded(picture, "WEBP"),
        ".gif": encoded(picture, "GIF", save_all=True, append_images=[picture.rotate(90)]),
        ".bmp": encoded(picture, "BMP"),
    }
    rng = random.Random(15)
    started = time.perf_counter()
    outcomes = {"loaded": 0, "refused": 0}
    for suffix, data in seeds.items():
        for index, mutant in enumerate(_mutations(data, rng, 60)):
            path = tmp_path / f"m{index}{suffix}"
            path.write_bytes(mutant)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    images.load_image(path)
                outcomes["loaded"] += 1
            except InputError as error:
                assert "\n" not in str(error) and "; " in str(error)
                outcomes["refused"] += 1
    assert time.perf_counter() - started < 20
    assert outcomes["loaded"] and outcomes["refused"]
    print(f"\nfuzz: {outcomes}")


# ---------------------------------------------------- 8. no traceback: start-up, tools, paths


def _raise(exception):
    def raising(*args, **kwargs):
        raise exception

    return raising


STARTUP = {
    "Ctrl-C while TensorFlow loads": (quiet, "import_tensorflow", KeyboardInterrupt(), 130),
    "SIGTERM while TensorFlow loads": (quiet, "import_tensorflow", errors.Terminated(), 143),
    "Ctrl-C while parsing": (cli, "build_parser", KeyboardInterrupt(), 130),
}


@pytest.mark.parametrize("name", sorted(STARTUP))
def test_interrupted_start_up_is_one_line(name, work, monkeypatch, capsys):
    module, attribute, exception, code = STARTUP[name]
    monkeypatch.setattr(module, attribute, _raise(exception))
    exit_code = run_in_process(["transfer", work / "content.png", work / "style.png", "-o",
                                work / "o.png", *TINY])  # fmt: skip
    err = capsys.readouterr().err
    assert exit_code == code and err.count("\n") == 1 and "before a result was saved" in err


def test_sigterm_during_start_up_is_handled(work, monkeypatch, capsys):
    monkeypatch.setattr(quiet, "import_tensorflow", lambda: os.kill(os.getpid(), signal.SIGTERM))
    code = run_in_process(["transfer", work / "content.png", work / "style.png", "-o",
                           work / "o.png", *TINY])  # fmt: skip
    assert code == errors.EXIT_TERMINATED == 143
    assert capsys.readouterr().err.startswith("terminated before a result was saved")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


def test_ctrl_c_while_the_command_module_imports_is_one_line(monkeypatch, capsys):
    """The installed ``style-transfer`` script and ``python -m`` both start in __main__.main,
    which turns a Ctrl-C during the (seconds-long) imports into one line and exit 130."""
    import tomllib

    import style_transfer.__main__ as entry

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["style-transfer"] == "style_transfer.__main__:main"

    class InterruptImport:
        def find_spec(self, name, path=None, target=None):
            if name == "style_transfer.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "style_transfer.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [InterruptImport(), *sys.meta_path])
    assert entry.main() == errors.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted while starting; nothing was written\n"


TOOLS = {
    "reproduce --out under a file": ["reproduce", "fig2", "--out", "{dir}/content.png/results"],
    "compare --out under a file": ["compare", "--out", "{dir}/content.png/results"],
    "bench --json under a file": ["bench", "--json", "{dir}/content.png/bench.json"],
    "weights under an unknown user": ["weights", "--weights", "~no_such_user_15/w.h5"],
    "weights path with a newline": ["weights", "--weights", "{dir}/no\nsuch.h5"],
}


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_tools_and_paths_fail_in_one_line(name, work, capsys):
    before = folder_state(work)
    code = run_in_process([a.format(dir=work) for a in TOOLS[name]])
    err = capsys.readouterr().err
    fragment = "is a file, not a folder" if "under a file" in name else "does not exist"
    assert_one_error_line(err, code, errors.EXIT_BAD_INPUT, fragment)
    assert folder_state(work) == before


# ------------------------------------------------- 9. messages and termination mid-run


def test_coarse_to_fine_interrupted_names_the_saved_file(work, monkeypatch, capsys):
    from style_transfer import optimize

    real, calls = optimize._lbfgs, []

    def interrupt_second_scale(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(optimize, "_lbfgs", interrupt_second_scale)
    output = work / "o.png"
    code = run_in_process(["transfer", work / "content.png", work / "style.png", "-o", output,
                           *TINY, "--size", "64", "--scales", "2"])  # fmt: skip
    assert code == errors.EXIT_INTERRUPTED
    said = f"interrupted: saved the best image so far to {str(output)!r}\n"
    assert capsys.readouterr().err == said
    assert json.loads((work / "o.png.json").read_text())["optimizer"]["status"] == "interrupted"


def test_report_counts():
    """How many new cases each class has (for the issue's report)."""
    counts = {
        "pre-flight": len(PREFLIGHT) + 2 + 3,
        "secondary outputs": len(SECONDARY) + 1,
        "hashes when read": len(HASHED) + 1,
        "strict JSON": len(NON_FINITE) + 3,
        "truthful records": len(RECORDS) + 3 + 2,
        "memory": len(MEMORY) + 2,
        "decoder errors": len(DECODER_ERRORS) + 2 + 1,
        "start-up, tools, paths": len(STARTUP) + 2 + len(TOOLS),
        "messages, SIGTERM mid-run": 1 + 1,
    }
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    assert sum(counts.values()) >= 70
