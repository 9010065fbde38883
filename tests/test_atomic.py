"""replace_atomically: the target changes in one step or not at all, nothing is left over,
and a failed write is one InputError worded in one place."""

from __future__ import annotations

import os

import pytest

from style_transfer import atomic
from style_transfer.atomic import WRITE_FIX, replace_atomically
from style_transfer.errors import InputError


def test_writes_bytes_and_text_readable_by_all(tmp_path):
    with replace_atomically(tmp_path / "a.bin") as handle:
        handle.write(b"\x00\x01")
    with replace_atomically(tmp_path / "b.txt", text=True) as handle:
        handle.write("héllo\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text() == "héllo\n"
    assert os.stat(tmp_path / "a.bin").st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]


def test_keeps_the_requested_mode(tmp_path):
    with replace_atomically(tmp_path / "x", mode=0o600) as handle:
        handle.write(b"x")
    assert os.stat(tmp_path / "x").st_mode & 0o777 == 0o600


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt), replace_atomically(path, text=True) as handle:
        handle.write("half of the new")
        raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(InputError) as error, replace_atomically(path, name="output") as handle:
        handle.write(b"new")
    assert str(error.value) == (
        f"cannot write output {str(path)!r}: No space left on device; {WRITE_FIX}"
    )
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_an_oserror_in_the_block_is_the_same_one_line_error(tmp_path):
    path = tmp_path / "figure.pdf"
    with pytest.raises(InputError) as error, replace_atomically(path, name="figure"):
        raise OSError(5, "Input/output\nerror")
    assert str(error.value) == f"cannot write figure {str(path)!r}: Input/output error; {WRITE_FIX}"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_before_the_rename_keeps_the_old_file(tmp_path):
    """A verification at the end of the block (weights.py checks an md5 there)."""
    path = tmp_path / "weights.h5"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="md5"), replace_atomically(path) as handle:
        handle.write(b"tampered")
        raise ValueError("md5 differs")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.h5"]


def test_a_missing_folder_is_refused_before_writing(tmp_path):
    missing = r"cannot write file .*No such file"
    with pytest.raises(InputError, match=missing), replace_atomically(tmp_path / "no" / "x"):
        raise AssertionError("the block must not run")
