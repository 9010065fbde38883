"""Tests for style_transfer.images: every image is generated in tmp_path (no network)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from style_transfer import images, outputs
from style_transfer.errors import InputError

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def noise(height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def write(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def file_bytes(path: Path) -> bytes | None:
    """The file's bytes (read with open(), which one test leaves unpatched), or None."""
    if not path.is_file() or not os.access(path, os.R_OK):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def assert_bad(call, path: Path | str, name: str | None = None) -> str:
    """``call()`` raises a one-line InputError naming ``path``'s file; its bytes stay the same."""
    path = Path(path)
    before = file_bytes(path)
    with pytest.raises(InputError) as excinfo:
        call()
    message = str(excinfo.value)
    assert "\n" not in message and "\r" not in message
    assert (name or path.name) in message
    assert file_bytes(path) == before
    return message


def assert_rgb(array: np.ndarray, shape: tuple[int, int]) -> None:
    assert array.shape == (*shape, 3)
    assert array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 255.0


# ------------------------------------------------------------------ bad files


def test_missing_file(tmp_path):
    path = tmp_path / "missing.jpg"
    message = assert_bad(lambda: images.load_image(path, name="content image"), path)
    assert "content image" in message and "does not exist" in message


def test_directory(tmp_path):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    assert "folder" in assert_bad(lambda: images.load_image(folder), folder)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty" in assert_bad(lambda: images.load_image(path, name="style image"), path)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image at all\nsecond line\n")
    assert "not an image" in assert_bad(lambda: images.load_image(path), path)


@pytest.mark.parametrize("image_format, suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_file(tmp_path, image_format, suffix):
    data = encoded(Image.fromarray(noise(64, 64)), image_format)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    message = assert_bad(lambda: images.load_image(path), path)
    assert "truncated" in message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_unreadable_file(tmp_path):
    path = write(tmp_path / "secret.png", Image.fromarray(noise()))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop reads")
        assert "permission" in assert_bad(lambda: images.load_image(path), path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    path = write(tmp_path / "secret.png", Image.fromarray(noise()))

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert "permission" in assert_bad(lambda: images.load_image(path), path)


@pytest.mark.parametrize("side", [12, 30])  # 144 px: Pillow warns; 900 px: Pillow refuses
def test_decompression_bomb(tmp_path, monkeypatch, side):
    path = write(tmp_path / "bomb.png", Image.new("RGB", (side, side)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    message = assert_bad(lambda: images.load_image(path), path)
    assert "smaller image" in message
    assert Image.MAX_IMAGE_PIXELS == 100  # untouched by the loader


def test_not_an_image_source():
    with pytest.raises(InputError, match="numpy array"):
        images.load_image(42, name="content image")


# ------------------------------------------------------------------ good files


def test_rgb_jpeg_and_png(tmp_path):
    pixels = noise()
    png = images.load_image(write(tmp_path / "a.png", Image.fromarray(pixels)))
    assert_rgb(png, (32, 48))
    np.testing.assert_array_equal(png, pixels)
    jpeg = images.load_image(write(tmp_path / "a.jpg", Image.new("RGB", (8, 4), (10, 200, 30))))
    assert_rgb(jpeg, (4, 8))
    np.testing.assert_allclose(jpeg[2, 4], (10, 200, 30), atol=3)


def test_grayscale_l(tmp_path):
    out = images.load_image(write(tmp_path / "l.png", Image.new("L", (5, 3), 100)))
    assert_rgb(out, (3, 5))
    assert np.all(out == 100)


def test_bilevel(tmp_path):
    image = Image.new("1", (4, 2), 0)
    image.putpixel((1, 0), 1)
    out = images.load_image(write(tmp_path / "bits.png", image))
    assert_rgb(out, (2, 4))
    np.testing.assert_array_equal(out[0, 1], (255, 255, 255))
    np.testing.assert_array_equal(out[0, 0], (0, 0, 0))


def test_rgba_over_white(tmp_path):
    image = Image.new("RGBA", (3, 1), (0, 0, 255, 255))
    image.putpixel((0, 0), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((1, 0), (255, 0, 0, 128))  # half transparent red
    out = images.load_image(write(tmp_path / "alpha.png", image))
    assert_rgb(out, (1, 3))
    np.testing.assert_array_equal(out[0, 0], (255, 255, 255))
    np.testing.assert_allclose(out[0, 1], (255, 127.5, 127.5), atol=1)
    np.testing.assert_array_equal(out[0, 2], BLUE)


def test_la_over_white(tmp_path):
    image = Image.new("LA", (2, 1), (0, 255))
    image.putpixel((1, 0), (0, 0))
    out = images.load_image(write(tmp_path / "la.png", image))
    np.testing.assert_array_equal(out[0], [(0, 0, 0), (255, 255, 255)])


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (2, 1), 0)
    image.putpalette([*RED, *BLUE])
    image.putpixel((1, 0), 1)
    plain = images.load_image(write(tmp_path / "p.png", image))
    np.testing.assert_array_equal(plain[0], [RED, BLUE])
    see_through = images.load_image(write(tmp_path / "pt.png", image, transparency=0))
    np.testing.assert_array_equal(see_through[0], [(255, 255, 255), BLUE])


def test_sixteen_bit_png_scaled_not_clipped(tmp_path):
    values = np.array([[0, 32768, 65535, 257]], dtype=np.uint16)
    path = write(tmp_path / "deep.png", Image.fromarray(values))
    assert Image.open(path).mode.startswith("I;16")
    out = images.load_image(path)
    assert_rgb(out, (1, 4))
    np.testing.assert_allclose(out[0, :, 0], [0, 127.5, 255, 1], atol=0.01)
    assert np.all(out[..., 0] == out[..., 2])


def test_thirty_two_bit_tiff(tmp_path):
    values = np.array([[0, 2**30, 2**31 - 1]], dtype=np.int32)  # Pillow writes signed 32-bit
    out = images.load_image(write(tmp_path / "deep.tif", Image.fromarray(values)))
    np.testing.assert_allclose(out[0, :, 1], [0, 127.5, 255], atol=0.01)


def test_float_tiff(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    out = images.load_image(write(tmp_path / "float.tif", Image.fromarray(values)))
    np.testing.assert_allclose(out[0, :, 0], [0, 127.5, 255], atol=0.01)


def test_cmyk_jpeg(tmp_path):
    path = write(tmp_path / "print.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), quality=100)
    assert Image.open(path).mode == "CMYK"
    out = images.load_image(path)
    assert_rgb(out, (8, 8))
    np.testing.assert_allclose(out[4, 4], RED, atol=4)


def test_ycbcr_pil_image():
    out = images.load_image(Image.new("RGB", (3, 2), (0, 128, 255)).convert("YCbCr"))
    assert_rgb(out, (2, 3))
    np.testing.assert_allclose(out[1, 1], (0, 128, 255), atol=3)


def test_exif_orientation_applied(tmp_path):
    image = Image.new("RGB", (40, 20), BLUE)  # 40 wide, 20 tall
    image.paste(RED, (0, 0, 20, 20))  # the left half is red
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = write(tmp_path / "phone.jpg", image, exif=exif, quality=95)
    out = images.load_image(path)
    assert_rgb(out, (40, 20))  # upright: 20 wide, 40 tall; the left half is now on top
    np.testing.assert_allclose(out[10, 10], RED, atol=8)
    np.testing.assert_allclose(out[30, 10], BLUE, atol=8)


@pytest.mark.parametrize("image_format, suffix", [("GIF", ".gif"), ("PNG", ".png")])
def test_animation_uses_first_frame_and_warns(tmp_path, image_format, suffix):
    frames = [Image.new("RGB", (6, 4), RED), Image.new("RGB", (6, 4), BLUE)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, format=image_format, save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="2 frames") as record:
        out = images.load_image(path, name="style image")
    assert "\n" not in str(record[0].message) and path.name in str(record[0].message)
    assert_rgb(out, (4, 6))
    np.testing.assert_allclose(out[2, 3], RED, atol=2)


def test_still_image_does_not_warn(tmp_path):
    path = write(tmp_path / "still.gif", Image.new("RGB", (6, 4), RED))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images.load_image(path)


def test_pil_image_input_with_alpha():
    out = images.load_image(Image.new("RGBA", (2, 2), (0, 0, 0, 0)))
    assert_rgb(out, (2, 2))
    assert np.all(out == 255)


def test_path_like_str_and_pathlib_agree(tmp_path):
    path = write(tmp_path / "a.png", Image.fromarray(noise()))
    np.testing.assert_array_equal(images.load_image(str(path)), images.load_image(path))


# ------------------------------------------------------------------ numpy inputs


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.array([[0, 128, 255]], dtype=np.uint8), [0, 128, 255]),
        (np.array([[0, 32768, 65535]], dtype=np.uint16), [0, 127.5, 255]),
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), [0, 127.5, 255]),
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float64), [0, 127.5, 255]),
        (np.array([[0.0, 100.0, 255.0]], dtype=np.float32), [0, 100, 255]),
        (np.array([[0, 7, 255]], dtype=np.int64), [0, 7, 255]),
        (np.array([[False, True, True]]), [0, 255, 255]),
    ],
    ids=["uint8", "uint16", "float32-unit", "float64-unit", "float32-255", "int64", "bool"],
)
def test_numpy_dtypes(array, expected):
    for shaped in (array, array[:, :, None], np.repeat(array[:, :, None], 3, axis=2)):
        out = images.load_image(shaped)
        assert_rgb(out, (1, 3))
        for channel in range(3):
            np.testing.assert_allclose(out[0, :, channel], expected, atol=0.01)


def test_numpy_rgba_over_white_and_no_aliasing():
    array = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 127.5]]], dtype=np.float32)
    out = images.load_image(array)
    np.testing.assert_allclose(out[0], [(255, 255, 255), RED, (127.5, 127.5, 127.5)], atol=0.01)
    rgb = noise(2, 2).astype(np.float32)
    loaded = images.load_image(rgb)
    loaded[:] = 0
    assert rgb.max() > 0  # the caller's array is not modified through the result


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.array([[0.5, np.nan]]), "NaN"),
        (np.array([[0.5, np.inf]]), "NaN"),
        (np.zeros((2, 2, 3, 1)), "shape"),
        (np.zeros((2, 2, 2)), "shape"),
        (np.zeros(5), "shape"),
        (np.zeros((0, 4, 3)), "empty"),
        (np.array([[-1.0, 10.0]]), "0..255"),
        (np.array([[0.0, 300.0]]), "0..255"),
        (np.array([[0, 1000]], dtype=np.int32), "0..255"),
        (np.zeros((2, 2), dtype=complex), "dtype"),
    ],
)
def test_bad_numpy_inputs(array, problem):
    with pytest.raises(InputError, match=problem) as excinfo:
        images.load_image(array, name="style image")
    assert "\n" not in str(excinfo.value) and "style image" in str(excinfo.value)


# ------------------------------------------------------------------ resizing


@pytest.mark.parametrize(
    "shape, size, expected",
    [((50, 100), 20, (10, 20)), ((100, 50), 20, (20, 10)), ((30, 30), 7, (7, 7)),
     ((3, 100), 10, (1, 10)), ((51, 100), 10, (5, 10)), ((20, 30), 60, (40, 60))],
)  # fmt: skip
def test_resize_long_side_keeps_aspect(shape, size, expected):
    out = images.resize_long_side(np.full((*shape, 3), 77.0, dtype=np.float32), size)
    assert out.shape == (*expected, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 77.0, atol=0.01)  # bicubic keeps a constant image


def test_resize_clips_overshoot_and_accepts_uint8():
    checker = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.repeat(checker[:, :, None], 3, axis=2)
    for out in (images.resize_to(image, 21, 13), images.resize_long_side(image, 3)):
        assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 255.0
    assert images.resize_to(image, 21, 13).shape == (21, 13, 3)


def test_resize_same_size_is_a_copy():
    image = noise(4, 5).astype(np.float32)
    out = images.resize_to(image, 4, 5)
    np.testing.assert_array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_resize_bad_size(size):
    with pytest.raises(InputError, match="size"):
        images.resize_long_side(np.zeros((4, 4, 3), dtype=np.float32), size)


# ------------------------------------------------------------------ saving


def test_save_round_trip_png(tmp_path):
    image = noise().astype(np.float32)
    image[0, :4, 0] = (-5.0, 1.4, 1.6, 300.0)
    path = images.save_image(image, tmp_path / "out.png")
    assert path == tmp_path / "out.png"
    back = np.asarray(Image.open(path))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back[0, :4, 0], (0, 1, 2, 255))
    np.testing.assert_array_equal(back[1:], image[1:].astype(np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    assert os.stat(path).st_mode & 0o444 == 0o444  # readable by all, unlike a raw temp file


def test_save_format_from_extension(tmp_path):
    for name, image_format in [("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.bmp", "BMP")]:
        path = images.save_image(noise(8, 8), tmp_path / name)
        assert Image.open(path).format == image_format


def test_save_bad_extension(tmp_path):
    path = tmp_path / "out.xyz"
    assert ".png" in assert_bad(lambda: images.save_image(noise(4, 4), path), path)
    assert not path.exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    images.save_image(noise(seed=1), path)
    before = path.read_bytes()

    def half_write(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", half_write)
    with pytest.raises(RuntimeError, match="disk on fire"):
        images.save_image(noise(seed=2), path)
    assert path.read_bytes() == before  # the old output is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left
    with pytest.raises(RuntimeError):
        images.save_image(noise(seed=2), tmp_path / "new.png")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # nothing under the new name


def test_save_into_missing_folder(tmp_path):
    path = tmp_path / "nope" / "out.png"
    assert_bad(lambda: images.save_image(noise(4, 4), path), path)


# ------------------------------------------------------------------ output paths


def test_check_output_path_ok(tmp_path):
    path = outputs.check_output_path(tmp_path / "out.png", [tmp_path / "in.png", np.zeros(1)])
    assert path == (tmp_path / "out.png").resolve()
    assert list(tmp_path.iterdir()) == []  # the write test left nothing behind


@pytest.mark.parametrize("name", ["out.xyz", "out", "out.h5"])
def test_check_output_path_bad_extension(tmp_path, name):
    path = tmp_path / name
    message = assert_bad(lambda: outputs.check_output_path(path), path)
    assert ".png" in message and ".jpg" in message


def test_check_output_path_missing_folder(tmp_path):
    path = tmp_path / "missing" / "out.png"
    message = assert_bad(lambda: outputs.check_output_path(path), path)
    assert "does not exist" in message and "create it first" in message


def test_check_output_path_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        try:
            tempfile.NamedTemporaryFile(dir=folder).close()
            pytest.skip("running as root: a read-only folder is still writable")
        except PermissionError:
            pass
        path = folder / "out.png"
        assert "not writable" in assert_bad(lambda: outputs.check_output_path(path), path)
    finally:
        folder.chmod(0o755)


def test_check_output_path_unwritable_folder_simulated(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    path = tmp_path / "out.png"
    assert "not writable" in assert_bad(lambda: outputs.check_output_path(path), path)


def test_check_output_path_is_a_directory(tmp_path):
    folder = tmp_path / "result.png"
    folder.mkdir()
    assert "folder" in assert_bad(lambda: outputs.check_output_path(folder), folder)


def test_check_output_path_equal_to_input(tmp_path, monkeypatch):
    source = write(tmp_path / "photo.png", Image.fromarray(noise()))
    message = assert_bad(lambda: outputs.check_output_path(source, [source]), source)
    assert "overwrite the input" in message
    monkeypatch.chdir(tmp_path)  # the same file by another spelling
    assert_bad(lambda: outputs.check_output_path("./sub/../photo.png", [str(source)]), source)
    (tmp_path / "sub").mkdir()
    assert_bad(lambda: outputs.check_output_path("sub/../photo.png", ["photo.png"]), source)


def test_check_output_path_symlink_to_input(tmp_path):
    source = write(tmp_path / "photo.png", Image.fromarray(noise()))
    link = tmp_path / "link.png"
    link.symlink_to(source)
    assert_bad(lambda: outputs.check_output_path(link, [source]), link)


def test_check_output_path_input_not_yet_existing(tmp_path):
    path = tmp_path / "same.png"
    assert_bad(lambda: outputs.check_output_path(path, [tmp_path / "." / "same.png"]), path)


# ------------------------------------------------------------------ digests


def test_image_digest(tmp_path):
    path = write(tmp_path / "a.png", Image.fromarray(noise()))
    assert images.image_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    missing = tmp_path / "gone.png"
    assert_bad(lambda: images.image_digest(missing), missing)
