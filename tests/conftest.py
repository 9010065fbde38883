"""Shared fixtures. Weights and images come from ../shared when it is there (no internet)."""

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
def images_dir() -> Path:
    """The paper's images: $STYLE_TRANSFER_IMAGES (CI and tests here: ../shared/images)."""
    folder = os.environ.get("STYLE_TRANSFER_IMAGES")
    if not folder or not Path(folder, "tubingen.jpg").is_file():
        pytest.fail("set STYLE_TRANSFER_IMAGES to a folder with tubingen.jpg and starry_night.jpg")
    return Path(folder)


@pytest.fixture(scope="session")
def tubingen(images_dir: Path) -> Path:
    return images_dir / "tubingen.jpg"


@pytest.fixture(scope="session")
def starry_night(images_dir: Path) -> Path:
    return images_dir / "starry_night.jpg"
