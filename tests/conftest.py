"""Shared fixtures: weights and images found as the project finds them (../shared first here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_WEIGHTS = SHARED / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Point the project at the local copies unless the caller already chose others.
if SHARED_WEIGHTS.is_file():
    os.environ.setdefault("STYLE_TRANSFER_WEIGHTS", str(SHARED_WEIGHTS))
if (SHARED / "images").is_dir():
    os.environ.setdefault("STYLE_TRANSFER_IMAGES", str(SHARED / "images"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def weights_file() -> Path:
    """The VGG19 weights wherever the project's resolver finds them, as a user's run would.

    $STYLE_TRANSFER_WEIGHTS (here: ../shared/weights), else the Keras cache, else a download.
    Fails with the resolver's one-line reason rather than skipping: a skip would hide tests.
    """
    from style_transfer.errors import StyleTransferError
    from style_transfer.weights import resolve_weights

    try:
        return resolve_weights()
    except StyleTransferError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """A folder holding the paper's public images, found as the project finds them.

    $STYLE_TRANSFER_IMAGES (here: ../shared/images), else the Keras cache, where each missing
    image is downloaded once from its public URL (SHA-256 checked).
    """
    from style_transfer import data
    from style_transfer.errors import StyleTransferError

    try:
        paths = [data.image_path(name) for name, image in data.IMAGES.items() if image.url]
    except StyleTransferError as error:
        pytest.fail(str(error))
    return paths[0].parent


@pytest.fixture(scope="session")
def picasso(images_dir: Path) -> Path:
    """Picasso's Femme nue assise: not public domain, so never downloaded; skip without it."""
    from style_transfer import data
    from style_transfer.errors import StyleTransferError

    try:
        return data.image_path("seated_nude", images_dir)
    except StyleTransferError:
        pytest.skip(f"needs Picasso's seated-nude.jpg (not public domain) in {images_dir}")


@pytest.fixture(scope="session")
def tubingen(images_dir: Path) -> Path:
    return images_dir / "tubingen.jpg"


@pytest.fixture(scope="session")
def starry_night(images_dir: Path) -> Path:
    return images_dir / "starry_night.jpg"


@pytest.fixture(scope="session", autouse=True)
def _float32_auto():
    """``--precision auto`` runs float32 in tests (session-wide, so module fixtures too): they
    check the objective against float32 references. Yields the real ``precision.resolve``."""
    from style_transfer import precision

    real = precision.resolve

    def pinned(requested: str, size: int | None = None) -> precision.Precision:
        if requested == "auto":
            return precision.Precision("auto", "float32", "tests: auto pinned to float32")
        return real(requested, size)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "resolve", pinned)
        yield real


@pytest.fixture
def machine_precision(_float32_auto, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``auto`` for this machine (bfloat16 where the CPU has it), as a user's run does."""
    from style_transfer import precision

    monkeypatch.setattr(precision, "resolve", _float32_auto)
