"""The image registry: local folders, the Keras-cache download path (offline), and its errors."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from style_transfer import data
from style_transfer.errors import InputError, ResourceError


@pytest.fixture
def no_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No --images, no $STYLE_TRANSFER_IMAGES, and an empty Keras home of our own."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "keras" / data.CACHE_SUBDIR


def served_from(monkeypatch: pytest.MonkeyPatch, name: str, source: Path) -> data.PaperImage:
    """Point the registry entry ``name`` at ``source`` as a file:// URL (no network)."""
    entry = dataclasses.replace(data.IMAGES[name], url=source.as_uri())
    monkeypatch.setitem(data.IMAGES, name, entry)
    return entry


def test_registry_matches_the_shared_files(images_dir: Path) -> None:
    """Every registry hash is the SHA-256 of the file of that name (SOURCES.md)."""
    for image in data.IMAGES.values():
        if image.url:  # the public ones; the Picasso below
            digest = hashlib.sha256((images_dir / image.filename).read_bytes()).hexdigest()
            assert digest == image.sha256, image.name


def test_registry_matches_the_picasso(picasso: Path) -> None:
    assert hashlib.sha256(picasso.read_bytes()).hexdigest() == data.IMAGES["seated_nude"].sha256


def test_rights_are_recorded() -> None:
    assert data.IMAGES["seated_nude"].url is None  # never downloaded: not public domain
    assert not data.IMAGES["seated_nude"].shareable
    assert "CC BY 3.0" in data.IMAGES["tubingen"].rights
    assert all(data.IMAGES[n].shareable for n in data.IMAGES if n != "seated_nude")


def test_explicit_folder_then_environment(
    images_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(images_dir / "shipwreck.jpg", mine / "shipwreck.jpg")
    monkeypatch.setenv(data.ENV_VAR, str(images_dir))
    assert data.image_path("shipwreck", mine) == (mine / "shipwreck.jpg").resolve()
    assert data.image_path("shipwreck") == (images_dir / "shipwreck.jpg").resolve()
    assert data.image_path("The-Scream") == (images_dir / "the_scream.jpg").resolve()


def test_missing_image_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ResourceError) as error:
        data.image_path("starry_night", tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "starry_night.jpg") in message
    assert data.IMAGES["starry_night"].url in message


def test_picasso_is_never_downloaded(no_folder: Path) -> None:
    with pytest.raises(ResourceError, match="supply your own copy"):
        data.image_path("seated_nude")


def test_unknown_name_and_bad_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown paper image"):
        data.image_path("mona_lisa", tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        data.image_path("tubingen", tmp_path / "absent")


def test_download_into_the_keras_cache_offline(
    images_dir: Path, no_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keras.utils.get_file fetches (here from a file:// URL), checks the hash and caches."""
    source = images_dir / "shipwreck.jpg"
    entry = served_from(monkeypatch, "shipwreck", source)
    found = data.image_path("shipwreck")
    assert found == (no_folder / "shipwreck.jpg").resolve()
    assert found.read_bytes() == source.read_bytes()
    monkeypatch.setitem(data.IMAGES, "shipwreck", dataclasses.replace(entry, url="file:///gone"))
    assert data.image_path("shipwreck") == found  # cached: the URL is not used again
    assert data.available(["shipwreck", "seated_nude"]) == {"shipwreck": found}


def test_failed_or_corrupt_download_is_one_clear_line(
    images_dir: Path, no_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served_from(monkeypatch, "the_scream", images_dir / "shipwreck.jpg")  # the wrong file
    with pytest.raises(ResourceError) as error:
        data.image_path("the_scream")
    assert "download failed" in str(error.value) and "\n" not in str(error.value)
    reason = str(error.value).split("download failed (", 1)[1]
    assert "hash" in reason.lower() and ")" in reason  # the whole reason, never cut mid-word
    assert not (no_folder / "the_scream.jpg").exists()  # a file with the wrong hash is not kept
    with pytest.raises(ResourceError, match="downloads are disabled"):
        data.image_path("the_scream", download=False)


def test_a_corrupt_cached_copy_is_fetched_again(
    images_dir: Path, no_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = images_dir / "composition_vii.jpg"
    served_from(monkeypatch, "composition_vii", source)
    no_folder.mkdir(parents=True)
    (no_folder / "composition_vii.jpg").write_bytes(b"half a file")
    assert data.image_path("composition_vii").read_bytes() == source.read_bytes()


# --- published results (compare) ---------------------------------------------------------


def test_reference_outputs_match_the_offline_files(images_dir: Path) -> None:
    """Each published result's registry SHA-256 is that of IMAGES/reference_outputs/<file>."""
    for entry in data.REFERENCE_OUTPUTS.values():
        path = images_dir / "reference_outputs" / entry.filename
        if not entry.shareable and not path.is_file():
            continue  # derived from the Picasso: never downloaded, maybe not supplied
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, entry.name
        assert data.reference_path(entry.name) == path.resolve()


def test_reference_outputs_pin_public_urls_except_the_picasso() -> None:
    for entry in data.REFERENCE_OUTPUTS.values():
        assert entry.folder == "reference_outputs"
        if entry.name == "jcjohnson_seated_nude":
            assert entry.url is None and not entry.shareable
        else:
            assert entry.url.startswith(
                "https://raw.githubusercontent.com/jcjohnson/neural-style/07c4b82"
            ) and entry.url.endswith(entry.filename.replace("jcjohnson_", ""))


def test_a_reference_output_is_fetched_into_its_own_cache_folder(
    images_dir: Path, no_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = images_dir / "reference_outputs" / "jcjohnson_tubingen_starry.png"
    entry = dataclasses.replace(
        data.REFERENCE_OUTPUTS["jcjohnson_starry_night"], url=source.as_uri()
    )
    monkeypatch.setitem(data.REFERENCE_OUTPUTS, "jcjohnson_starry_night", entry)
    found = data.reference_path("jcjohnson_starry_night")
    assert found == (no_folder / "reference_outputs" / source.name).resolve()
    assert found.read_bytes() == source.read_bytes()
    with pytest.raises(ResourceError, match=r"reference_outputs/jcjohnson_tubingen_scream\.png"):
        data.reference_path("jcjohnson_the_scream", download=False)
    with pytest.raises(InputError, match="unknown published result"):
        data.reference_path("nope")


# --- naming a paper image on the command line ------------------------------------------------


def test_a_paper_image_name_stands_for_the_image(images_dir: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data.input_path("tubingen") == str(images_dir.resolve() / "tubingen.jpg")
    assert data.input_path("Starry-Night") == str(images_dir.resolve() / "starry_night.jpg")


def test_a_name_never_shadows_a_real_file(images_dir: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tubingen").write_bytes(b"my own file")
    assert data.input_path("tubingen") == "tubingen"
    for other in ("tubingen.jpg", "photos/tubingen", "my_photo.png", "shipwrek"):
        assert data.input_path(other) == other  # not a bare registry name: left as a path
