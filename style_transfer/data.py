"""The paper's images: where each comes from, its rights, and where to find it locally.

``image_path(name)`` looks, in order, in ``images_dir`` (``--images DIR``), in
``$STYLE_TRANSFER_IMAGES``, and in the Keras cache (``$KERAS_HOME/style_transfer_images``),
where ``keras.utils.get_file`` downloads a missing image from its public URL and checks
its SHA-256. The URLs pin the exact files the paper's authors and jcjohnson/neural-style
use (see ``shared/images/SOURCES.md``). The Picasso is not public domain: it has no URL
here, so it is used only when the user supplies it.

``reference_path(name)`` finds the published results ``compare`` scores
(``REFERENCE_OUTPUTS``) the same way, inside ``reference_outputs/``. ``input_path`` lets
the command line name a paper image (``transfer tubingen starry_night``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, ResourceError
from .paths import expand_user
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
    folder: str = ""  # a subfolder of the images folder and of the cache ("" = none)

    @property
    def relative(self) -> str:
        """Where it lies inside the images folder (and the cache): ``folder/filename``."""
        return f"{self.folder}/{self.filename}" if self.folder else self.filename


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


REFERENCE_FOLDER = "reference_outputs"
_JCJ_OUTPUTS = f"{_JCJ}/examples/outputs"


def _jcjohnson(painting: str, short: str, sha256: str) -> PaperImage:
    """jcjohnson/neural-style's published Figure 2 panel for ``painting`` (512 x 384 PNG)."""
    shareable = painting != "seated_nude"
    return PaperImage(
        f"jcjohnson_{painting}",
        f"jcjohnson_tubingen_{short}.png",
        f"jcjohnson/neural-style's Tübingen in the style of {IMAGES[painting].title}",
        f"{_JCJ_OUTPUTS}/tubingen_{short}.png" if shareable else None,
        sha256,
        f"made from {IMAGES['tubingen'].rights} and {IMAGES[painting].rights}"
        if shareable
        else f"derived from the Picasso: {IMAGES[painting].rights}",
        shareable,
        REFERENCE_FOLDER,
    )


# Published results to compare against (``compare``): jcjohnson/neural-style's Figure 2,
# the pinned files of examples/outputs/ (shared/images/SOURCES.md). Offline they are
# looked for in IMAGES/reference_outputs/, as the paper's images are in IMAGES/.
REFERENCE_OUTPUTS: dict[str, PaperImage] = {
    image.name: image
    for image in (
        _jcjohnson(
            "shipwreck",
            "shipwreck",
            "42492d2b792c48856c81bc9c5ea5998d4d143ca9811c7c1c630d0fc4ebbd6272",
        ),
        _jcjohnson(
            "starry_night",
            "starry",
            "f9ae6dfbd9e9465a6cb5d5ec4100f387c5471edf5ae4c914ca928975c4eaf1c7",
        ),
        _jcjohnson(
            "the_scream",
            "scream",
            "2898330845cac931d0e183cfaf30714c2ab40049f609c143eeddd0f9b5f845f3",
        ),
        _jcjohnson(
            "seated_nude",
            "seated_nude",
            "594f491349907d6e355574609c0fa8d3d85a4dadaf503f6b75372b839866a4e7",
        ),
        _jcjohnson(
            "composition_vii",
            "composition_vii",
            "853357958c040763e22b72f8ffb7a6c8a6e4a13d640b8c8949b323ec790526c3",
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
    folder = expand_user(chosen)
    source = "--images" if images_dir is not None and str(images_dir) else f"${ENV_VAR}"
    if not folder.is_dir():
        raise InputError(
            f"image folder {str(folder)!r} (from {source}) is not a folder; point {source} "
            "at a folder holding the paper's images, or drop it to download them"
        )
    return folder


def image_path(
    name: str, images_dir: str | os.PathLike | None = None, *, download: bool = True
) -> Path:
    """The local path of the paper image ``name``; see the module docstring for the order.

    Raises ``ResourceError`` saying where to put the file if it cannot be found or fetched.
    """
    return find(paper_image(name), images_dir, download=download)


def reference_path(
    name: str, images_dir: str | os.PathLike | None = None, *, download: bool = True
) -> Path:
    """The local path of the published result ``name`` (``REFERENCE_OUTPUTS``), found as
    the paper's images are, inside ``reference_outputs/``."""
    if name not in REFERENCE_OUTPUTS:
        known = ", ".join(REFERENCE_OUTPUTS)
        raise InputError(f"unknown published result {name!r}; use one of {known}")
    return find(REFERENCE_OUTPUTS[name], images_dir, download=download)


def find(
    image: PaperImage, images_dir: str | os.PathLike | None = None, *, download: bool = True
) -> Path:
    """The local path of a registry entry: in the images folder, else the cache, else fetched."""
    folder = images_folder(images_dir)
    if folder is not None:
        path = folder / image.relative
        if path.is_file():
            return path.resolve()
        raise ResourceError(_missing(image, f"{path} does not exist", folder))
    subdir = f"{CACHE_SUBDIR}/{image.folder}" if image.folder else CACHE_SUBDIR
    cached = keras_cache_dir(subdir) / image.filename
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
            cache_subdir=subdir,
            file_hash=image.sha256,
            hash_algorithm="sha256",
            cache_dir=str(keras_cache_dir(CACHE_SUBDIR).parent),
        )
    except Exception as error:  # network down, 404, hash mismatch: one line, then the fix
        cached.unlink(missing_ok=True)  # get_file leaves a file whose hash is wrong
        reason = " ".join(str(error).split()) or type(error).__name__  # whole, on one line
        raise ResourceError(_missing(image, f"download failed ({reason})", None)) from None
    return Path(found).resolve()


def input_path(argument: str, images_dir: str | os.PathLike | None = None) -> str:
    """A command-line image argument: the file it names, else the paper image of that name.

    ``tubingen`` or ``starry_night`` (any name of ``IMAGES``, no folder, no suffix) stands
    for that image, found or fetched as ``image_path`` does, only when no file of that name
    exists: a name never shadows a real path.
    """
    if expand_user(argument).exists() or Path(argument).name != argument:
        return argument
    key = argument.strip().lower().replace("-", "_")
    if Path(argument).suffix or key not in IMAGES:
        return argument
    return str(image_path(key, images_dir))


def available(
    names: list[str] | None = None, images_dir: str | os.PathLike | None = None
) -> dict[str, Path]:
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
        f"{image.title} not found: {reason}; {origin} and save it as {where / image.relative}, "
        f"or pass --images DIR (or set ${ENV_VAR}) to a folder holding {image.relative}"
    )
