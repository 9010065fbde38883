"""The memory estimate: hand-counted feature bytes, growth with size, a one-line refusal."""

import numpy as np
import pytest

from style_transfer import Settings, cli, images, transfer
from style_transfer.errors import InputError
from style_transfer.memory import (
    GIB,
    check_memory,
    estimate_bytes,
    feature_bytes,
    largest_fitting_size,
    shape_at_size,
)


def test_feature_bytes_counted_by_hand():
    # block1: two 32x32x64 float32 maps.
    assert feature_bytes(32, 32, "block1_conv2") == 2 * 32 * 32 * 64 * 4
    # + the 16x16x64 pooling output and block2_conv1's 16x16x128 map.
    assert feature_bytes(32, 32, "block2_conv1") == 4 * (
        2 * 32 * 32 * 64 + 16 * 16 * 64 + 16 * 16 * 128
    )


def test_estimate_grows_with_size_layers_and_history():
    sizes = [(96, 128), (192, 256), (384, 512), (768, 1024), (1536, 2048)]
    estimates = [estimate_bytes(shape) for shape in sizes]
    assert estimates == sorted(estimates) and len(set(estimates)) == len(estimates)
    # Four times the pixels: the size-dependent part grows about four times.
    base = estimate_bytes((1, 1))
    assert (estimates[4] - base) / (estimates[3] - base) == pytest.approx(4, rel=0.01)
    assert estimate_bytes((384, 512), "block4_conv2") < estimate_bytes((384, 512), "block5_conv1")
    assert estimate_bytes((384, 512), lbfgs_history=100) > estimate_bytes((384, 512))


def test_absurd_size_is_refused_in_one_line_with_a_size_that_fits():
    settings = Settings(size=8192).resolve()
    with pytest.raises(InputError) as error:
        check_memory((300, 400), 1, settings, available=24 * GIB)  # a 400x300 photo at 8192 px
    message = str(error.value)
    assert "\n" not in message
    assert "8192x6144 px run needs about" in message and "24.0 GiB is available" in message
    fits = int(message.split("--size ")[1].split()[0])
    assert 256 <= fits < 8192
    assert (
        estimate_bytes((round(fits * 0.75), fits), style_shapes=[(round(fits * 0.75), fits)])
        <= 0.9 * 24 * GIB
    )


def test_a_small_run_passes_and_returns_its_estimate():
    settings = Settings(size=256).resolve()
    need = check_memory((1200, 1600), 2, settings, available=24 * GIB)
    assert need == estimate_bytes((192, 256), style_shapes=[(192, 256)] * 2)


def test_shape_at_size_matches_the_resize():
    for shape in [(1200, 1600), (1600, 1200), (333, 1000), (50, 50)]:
        resized = images.resize_long_side(np.zeros((*shape, 3), np.float32), 97)
        assert shape_at_size(shape, 97) == resized.shape[:2]


def test_largest_fitting_size_is_the_boundary():
    budget = 2 * GIB
    fits = largest_fitting_size((768, 1024), budget, "block5_conv1")
    assert 256 < fits < 1024

    def need(side):
        shape = (round(768 * side / 1024), side)
        return estimate_bytes(shape, style_shapes=[shape])

    assert need(fits) <= budget < need(fits + 1)


def test_transfer_refuses_before_any_work(tubingen, starry_night, tmp_path):
    """Refused from the files' shapes alone: nothing resized, no network built."""
    output = tmp_path / "huge.png"
    with pytest.raises(InputError, match="GiB of memory"):
        transfer(tubingen, starry_night, size=8192, iterations=1, output=output, progress=False)
    assert not output.exists()


def test_cli_prints_the_refusal_as_one_line(tubingen, starry_night, tmp_path, capsys):
    code = cli.main([
        "transfer", str(tubingen), str(starry_night), "-o", str(tmp_path / "x.png"),
        "--size", "8192", "--scales", "3", "--quiet",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: a 8192x") and "--size" in err
