"""The paper's images: where each comes from, its rights, and where to find it locally.

``image_path(name)`` looks, in order, in ``images_dir`` (``--images DIR``), in
``$STYLE_TRANSFER_IMAGES``, and in the Keras cache (``$KERAS_HOME/style_transfer_images``),
where ``keras.utils.get_file`` downloads a missing image from its public URL and checks
its SHA-256. The URLs pin the exact files the paper's authors and jcjohnson/neural-style
use (see ``shared/images/SOURCES.md``). The Picasso is not public domain: it has no URL
here, so it is used only when the user supplies it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, ResourceError
from .weights import keras_cache_dir

ENV_VAR = "STYLE_TRANSFER_IMAGES"
CACHE_SUBDIR = "style_transfer_images"

_JCJ = "https://raw.githubusercontent.com/jcjohnson/neural-style/07c4b8299f8fbdafec0c514fc820ff1d7ff62e46"
_JCJ_FAST = (
    "https://raw.githubusercontent.com/jcjohnson/fast-neural-style/"
    "813c83441953ead2adb3f65f4cc2d5599d735fa7"
)
_GATYS = (
    "https://raw.githubusercontent.com/leongatys/PytorchNeuralStyleTransfer/"
    "be6c8e2b35568669a5a0ac10b66c912207ad355d"
)


@dataclass(frozen=True)
class PaperImage:
    """One image of the paper: its file name, where to fetch it, and its rights."""

    name: str
    filename: str
    title: str
    url: str | None  # None: never downloaded (not public domain); the user supplies it
    sha256: str
    rights: str
    shareable: bool  # may images derived from it be published (with ``rights`` credited)?


IMAGES: dict[str, PaperImage] = {
    image.name: image
    for image in (
        PaperImage(
            "tubingen",
            "tubingen.jpg",
            "Neckarfront, Tübingen (photo)",
            f"{_JCJ}/examples/inputs/tubingen.jpg",
            "e67d1869f01fd805385c681a80d9ebcf0f70ea4a5fe6127f0606bb1c7f4bf506",
            "Photo: Andreas Praefcke, CC BY 3.0",
            True,
        ),
        PaperImage(
            "shipwreck",
            "shipwreck.jpg",
            "J. M. W. Turner, The Shipwreck of the Minotaur",
            f"{_JCJ}/examples/inputs/shipwreck.jpg",
            "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213",
            "public domain",
            True,
        ),
        PaperImage(
            "starry_night",
            "starry_night.jpg",
            "Vincent van Gogh, The Starry Night",
            f"{_GATYS}/Images/vangogh_starry_night.jpg",
            "228bebf0dd424ea4f740d8d88a67f2960424c166e638086c1ec529260d2e3832",
            "public domain",
            True,
        ),
        PaperImage(
            "the_scream",
            "the_scream.jpg",
            "Edvard Munch, The Scream",
            f"{_JCJ}/examples/inputs/the_scream.jpg",
            "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee",
            "public domain",
            True,
        ),
        PaperImage(
            "seated_nude",
            "seated-nude.jpg",
            "Pablo Picasso, Femme nue assise",
            None,
            "f398757cfb5346842c3bc309ca65d03381b38b1f5f8d7c60abe68a804a405cf1",
            "NOT public domain (Succession Picasso, protected until 2043): supply it yourself",
            False,
        ),
        PaperImage(
            "composition_vii",
            "composition_vii.jpg",
            "Wassily Kandinsky, Composition VII",
            f"{_JCJ_FAST}/images/styles/composition_vii.jpg",
            "8f992ed4aecd6dd56972d7bc8166761de7c94e670ee6effa8fd05f3daeb33409",
            "public domain",
            True,
        ),
    )
}


def paper_image(name: str) -> PaperImage:
    """The registry entry for ``name`` (e.g. ``"starry_night"``), or InputError."""
    key = name.strip().lower().replace("-", "_")
    if key not in IMAGES:
        raise InputError(f"unknown paper image {name!r}; use one of {', '.join(IMAGES)}")
    return IMAGES[key]


def images_folder(images_dir: str | os.PathLike | None = None) -> Path | None:
    """The local folder to use: ``images_dir``, else ``$STYLE_TRANSFER_IMAGES``, else None."""
    chosen = images_dir if images_dir is not None and str(images_dir) else os.environ.get(ENV_VAR)
    if not chosen:
        return None
    folder = Path(chosen).expanduser()
    source = "--images" if images_dir is not None and str(images_dir) else f"${ENV_VAR}"
    if not folder.is_dir():
        raise InputError(f"image folder {str(folder)!r} (from {source}) is not a folder; fix it")
    return folder


def image_path(
    name: str, images_dir: str | os.PathLike | None = None, *, download: bool = True
) -> Path:
    """The local path of the paper image ``name``; see the module docstring for the order.

    Raises ``ResourceError`` saying where to put the file if it cannot be found or fetched.
    """
    image = paper_image(name)
    folder = images_folder(images_dir)
    if folder is not None:
        path = folder / image.filename
        if path.is_file():
            return path.resolve()
        raise ResourceError(_missing(image, f"{path} does not exist", folder))
    cached = keras_cache_dir(CACHE_SUBDIR) / image.filename
    if cached.is_file() and (image.url is None or _sha256(cached) == image.sha256):
        return cached.resolve()
    if image.url is None:
        raise ResourceError(_missing(image, "it is not downloaded (not public domain)", None))
    if not download:
        raise ResourceError(_missing(image, "downloads are disabled", None))
    from .quiet import import_tensorflow

    import_tensorflow()  # Keras starts TensorFlow: without its native log lines
    import keras  # slow to import; only needed to download

    try:
        cached.parent.mkdir(parents=True, exist_ok=True)  # else get_file falls back to /tmp
        found = keras.utils.get_file(
            image.filename,
            image.url,
            cache_subdir=CACHE_SUBDIR,
            file_hash=image.sha256,
            hash_algorithm="sha256",
            cache_dir=str(keras_cache_dir(CACHE_SUBDIR).parent),
        )
    except Exception as error:  # network down, 404, hash mismatch: one line, then the fix
        cached.unlink(missing_ok=True)  # get_file leaves a file whose hash is wrong
        reason = " ".join(str(error).split()) or type(error).__name__  # whole, on one line
        raise ResourceError(_missing(image, f"download failed ({reason})", None)) from None
    return Path(found).resolve()


def available(names: list[str] | None = None, images_dir: str | os.PathLike | None = None):
    """``{name: path}`` for the images of ``names`` (default: all) that can be had; no errors."""
    found = {}
    for name in names or list(IMAGES):
        try:
            found[name] = image_path(name, images_dir)
        except ResourceError:
            continue
    return found


def _sha256(path: Path) -> str:
    from .images import image_digest

    return image_digest(path)


def _missing(image: PaperImage, reason: str, folder: Path | None) -> str:
    where = folder if folder is not None else keras_cache_dir(CACHE_SUBDIR)
    origin = f"download it from {image.url}" if image.url else "supply your own copy"
    return (
        f"{image.title} not found: {reason}; {origin} and save it as {where / image.filename}, "
        f"or pass --images DIR (or set ${ENV_VAR}) to a folder holding {image.filename}"
    )
