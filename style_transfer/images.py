"""Reading, resizing and writing images, with one-line errors for every bad input.

Images inside the package are float32 numpy arrays, RGB, shape (H, W, 3), values 0..255.
Transparent pixels are composited over white. Resizing is always Pillow's bicubic filter
on float32 data (antialiased when shrinking), so no precision is lost to uint8 on the way.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from . import quiet
from .atomic import replace_atomically
from .errors import InputError

ImageSource = str | os.PathLike | Image.Image | np.ndarray

# Shown when an output extension is refused; only those Pillow can write here are listed.
COMMON_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Extra options per format when saving: JPEG and WebP default to quality 75, too lossy here.
SAVE_OPTIONS: dict[str, dict[str, object]] = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}
WHITE = (255, 255, 255, 255)
_HINT = "pass a JPEG or PNG image"


def _one_line(text: object) -> str:
    """``text`` with all whitespace runs (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def _describe_error(error: BaseException) -> str:
    """An exception in one line: its message, with its type when that says more."""
    text = _one_line(error)
    if isinstance(error, (OSError, SyntaxError, ValueError, EOFError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------------------- loading


def load_image(source: ImageSource, *, name: str = "image") -> np.ndarray:
    """An image as float32 RGB (H, W, 3) in 0..255 from a path, a PIL image or an array.

    ``name`` (e.g. ``"content image"``) is used in error messages. Paths are decoded
    fully (truncated files are refused), EXIF rotation is applied, transparency is
    composited over white, and only the first frame of an animation is used (with a
    warning).
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name)
    if isinstance(source, Image.Image):
        return _loaded_to_rgb(source, f"cannot read {name}")
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(os.fsdecode(source)), name)[0]
    raise InputError(
        f"cannot read {name}: got a {type(source).__name__}; "
        "pass a file path, a PIL image or a numpy array"
    )


def load_with_digest(source: ImageSource, *, name: str = "image") -> tuple[np.ndarray, str | None]:
    """``load_image`` and, for a path, the SHA-256 of the very bytes decoded (else None).

    The digest is taken as the file is read, so a manifest records what was used even if
    the file is replaced or moved later, and a pipe (``<(cat c.png)``), readable once,
    gets its real digest.
    """
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(os.fsdecode(source)), name)
    return load_image(source, name=name), None


def check_file(path: str | os.PathLike, name: str = "image") -> None:
    """Refuse a path that is missing or a folder, before anything slower (a download of
    another input, the network) starts; ``_load_path`` checks the rest when it reads."""
    path = Path(os.fsdecode(path))
    where = f"cannot read {name} {str(path)!r}"
    if not path.exists():
        raise InputError(f"{where}: the file does not exist; check the path")
    if path.is_dir():
        raise InputError(f"{where}: it is a folder; pass an image file inside it")


def _load_path(path: Path, name: str) -> tuple[np.ndarray, str]:
    where = f"cannot read {name} {str(path)!r}"
    check_file(path, name)
    try:
        data = path.read_bytes()  # read once: Pillow never holds the file open
    except PermissionError:
        raise InputError(
            f"{where}: permission denied; make the file readable (chmod +r) or copy it"
        ) from None
    except OSError as error:
        raise InputError(f"{where}: {_one_line(error.strerror or error)}; {_HINT}") from None
    if not data:
        raise InputError(f"{where}: the file is empty; {_HINT}")
    try:
        with warnings.catch_warnings(), quiet.native_stderr_dropped():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            try:
                frames = getattr(image, "n_frames", 1)
            except Exception:  # a damaged later frame (a TIFF's 2nd page): use the first
                frames = None
            image.seek(0)
            image.load()  # decode everything now, so a truncated file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{where}: it is too large for Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels); pass a smaller image"
        ) from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{where}: not an image Pillow can read; {_HINT}") from None
    except MemoryError:
        raise InputError(
            f"{where}: not enough memory to decode it; pass a smaller image or free memory"
        ) from None
    except Exception as error:  # Pillow's decoders raise OSError, SyntaxError,
        # ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError, ... on bad data
        raise InputError(
            f"{where}: the file is truncated or corrupt ({_describe_error(error)}); "
            "pass an intact image (re-download or re-export it)"
        ) from None
    if frames is None or (frames > 1 and image.format != "MPO"):  # MPO: a camera JPEG + views
        counted = (
            "several frames, the later ones unreadable" if frames is None else f"{frames} frames"
        )
        warnings.warn(
            f"{name} {str(path)!r} has {counted}; using the first frame only",
            stacklevel=3,
        )
    return _loaded_to_rgb(image, where), hashlib.sha256(data).hexdigest()


def _loaded_to_rgb(image: Image.Image, where: str) -> np.ndarray:
    """Upright RGB float32 0..255 from a PIL image, alpha composited over white."""
    try:
        image.load()
        bits = _bit_depth(image)  # before exif_transpose, whose copy drops the TIFF tags
        image = ImageOps.exif_transpose(image)
        if image.mode == "I" or image.mode.startswith("I;16"):
            return _gray_to_rgb(_scale_integers(np.asarray(image), bits))
        if image.mode == "F":
            return _gray_to_rgb(_float_to_255(np.asarray(image), where))
        if image.has_transparency_data:
            background = Image.new("RGBA", image.size, WHITE)
            image = Image.alpha_composite(background, image.convert("RGBA"))
        return np.asarray(image.convert("RGB"), dtype=np.float32).copy()
    except InputError:
        raise
    except MemoryError:
        raise InputError(
            f"{where}: not enough memory to convert it; pass a smaller image or free memory"
        ) from None
    except Exception as error:  # bad EXIF or mode data fails in many ways
        raise InputError(
            f"{where}: Pillow cannot decode or convert it (mode {image.mode}: "
            f"{_describe_error(error)}); save it as an 8-bit RGB PNG or JPEG and pass that"
        ) from None


def _bit_depth(image: Image.Image) -> int:
    """Bits per sample of an integer image: 16 for I;16*; for I the file's own or the data's."""
    if image.mode.startswith("I;16"):
        return 16
    if image.mode != "I":
        return 8
    tags = getattr(image, "tag_v2", {})
    if 258 in tags:  # TIFF BitsPerSample; SampleFormat 2 = signed, one bit less of range
        bits = int(np.max(tags[258]))
        return bits - 1 if tags.get(339) in (2, (2,)) else bits
    largest = int(np.max(np.asarray(image))) if image.size[0] * image.size[1] else 0
    return next(bits for bits in (8, 16, 31) if largest < 2**bits)


def _scale_integers(values: np.ndarray, bits: int) -> np.ndarray:
    """Integer samples of ``bits`` bits scaled to 0..255 (negative values become 0)."""
    scaled = values.astype(np.float64) * (255.0 / (2**bits - 1))
    return np.clip(scaled, 0.0, 255.0).astype(np.float32)


def _float_to_255(values: np.ndarray, where: str) -> np.ndarray:
    """Floats in 0..1 (when the maximum is <= 1) or 0..255, as float32 0..255."""
    if not np.all(np.isfinite(values)):
        raise InputError(f"{where}: it contains NaN or infinite values; pass finite values")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 255.0:
        raise InputError(
            f"{where}: float values span {low:g}..{high:g}; pass values in 0..1 or 0..255"
        )
    return (values.astype(np.float32) * (255.0 if high <= 1.0 else 1.0)).astype(np.float32)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2).astype(np.float32)


def _array_to_rgb(array: np.ndarray, name: str) -> np.ndarray:
    """A numpy image (H, W[, 1|3|4]) as float32 RGB 0..255; RGBA is composited over white."""
    where = f"cannot read {name} (a numpy array of shape {array.shape} and dtype {array.dtype})"
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(f"{where}: wrong shape; pass an HxW, HxWx1, HxWx3 or HxWx4 array")
    if array.size == 0:
        raise InputError(f"{where}: the array is empty; pass an image at least 1x1 px")
    if array.dtype == np.uint8:
        values = array.astype(np.float32)
    elif array.dtype == np.uint16:
        values = _scale_integers(array, 16)
    elif array.dtype == np.bool_:
        values = array.astype(np.float32) * 255.0
    elif np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InputError(
                f"{where}: integer values span {low}..{high}; pass uint8 0..255 or uint16"
            )
        values = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        values = _float_to_255(array, where)
    else:
        raise InputError(f"{where}: unsupported dtype; pass uint8, uint16 or float values")
    if values.shape[2] == 1:
        return _gray_to_rgb(values[:, :, 0])
    if values.shape[2] == 4:
        alpha = values[:, :, 3:] / 255.0
        values = values[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(values, dtype=np.float32)


# ---------------------------------------------------------------------------- resizing


def resize_long_side(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized so its longer side is ``size`` px, aspect ratio kept."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"image size {size!r} is not a positive whole number; pass e.g. 512")
    height, width = np.shape(image)[:2]
    if height >= width:
        return resize_to(image, size, max(1, round(width * size / height)))
    return resize_to(image, max(1, round(height * size / width)), size)


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (H, W, 3) resized to exactly ``height`` x ``width``: bicubic, float32 0..255."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if height < 1 or width < 1:
        raise InputError(f"cannot resize to {width}x{height} px; pass sizes of at least 1 px")
    if image.shape[:2] == (height, width):
        return image.copy()
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[:, :, c])).resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 255.0).astype(np.float32)


# ---------------------------------------------------------------------------- writing


@functools.cache
def _can_write_rgb(image_format: str) -> bool:
    """Whether Pillow here writes an RGB image in ``image_format`` as it is (tried in memory).

    The probe is an odd-sized, non-square image, read back: a format that resizes (ICNS
    stores 1024x1024 and smaller icons, ICO squares) or cannot be read back is refused, so
    the manifest's size is always the file's.
    """
    if image_format not in Image.SAVE:
        return False
    probe = (301, 203)  # odd, not square, over 256 px (ICO caps its icons at 256)
    buffer = io.BytesIO()
    try:
        Image.new("RGB", probe, (10, 200, 30)).save(
            buffer, format=image_format, **SAVE_OPTIONS.get(image_format, {})
        )
        buffer.seek(0)
        with Image.open(buffer) as written:
            return written.size == probe
    except Exception:  # plugins fail in many ways; any failure means "cannot"
        return False


def check_format(path: str | os.PathLike) -> str:
    """The Pillow format for ``path``'s extension, or InputError listing usable ones."""
    path = Path(os.fsdecode(path))
    extension = path.suffix.lower()
    image_format = Image.registered_extensions().get(extension)
    if image_format is None or not _can_write_rgb(image_format):
        usable = " ".join(
            e for e in COMMON_EXTENSIONS if _can_write_rgb(Image.registered_extensions()[e])
        )
        problem = f"extension {extension!r} is not" if extension else "no extension is"
        raise InputError(
            f"cannot write output {str(path)!r}: {problem} an image format Pillow can write "
            "at the image's own size; "
            f"use one of {usable}"
        )
    return image_format


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``image`` (clipped to 0..255, rounded to uint8) atomically; format from extension.

    The pixels go to a temporary file in the same folder, which then replaces ``path``
    in one step: a crash never leaves a half-written image, nor destroys an old one.
    """
    path = Path(os.fsdecode(path))
    image_format = check_format(path)
    values = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot save an image containing NaN or infinite values")
    pixels = Image.fromarray(np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8))
    mode = path.stat().st_mode & 0o777 if path.is_file() else 0o644
    with replace_atomically(path, mode=mode, name="output") as handle:
        pixels.save(handle, format=image_format, **SAVE_OPTIONS.get(image_format, {}))
    return path


def image_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex (for manifests)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise InputError(
            f"cannot read {os.fsdecode(path)!r} to hash it: {_one_line(error.strerror or error)}; "
            "check the path and its permissions"
        ) from None
    return digest.hexdigest()
