"""No TensorFlow log lines in any command's output or a notebook unless asked (quiet.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from timeouts import timeout_for

from style_transfer.quiet import VERBOSE_VAR

START_TF = "import style_transfer as st; st.transfer"  # the API's first use starts TensorFlow


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=timeout_for(), env={**environment, **env},
    )  # fmt: skip


@pytest.mark.subprocess
def test_the_api_starts_tensorflow_without_its_log_lines():
    quiet = python(START_TF)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    verbose = python(START_TF, **{VERBOSE_VAR: "1"})
    assert verbose.returncode == 0, verbose.stderr
    if not verbose.stderr:
        pytest.skip("this TensorFlow build logs nothing at start-up: nothing was hidden")


@pytest.mark.subprocess
def test_the_weights_command_is_quiet_and_takes_verbose():
    for flags in ([], ["--verbose"]):
        process = subprocess.run(
            [sys.executable, "-m", "style_transfer", "weights", "--no-download", *flags],
            capture_output=True, text=True, timeout=timeout_for(),
        )  # fmt: skip
        assert process.returncode == 0, process.stderr
        assert process.stderr == "", process.stderr


def _fake_tensorflow(monkeypatch, folder, source: str) -> None:
    """Make ``import tensorflow`` load ``source`` from ``folder``; monkeypatch undoes it."""
    (folder / "tensorflow").mkdir()
    (folder / "tensorflow" / "__init__.py").write_text(source)
    pytest.importorskip("tensorflow")  # the real one, so that monkeypatch puts it back
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "tensorflow")
    monkeypatch.delenv(VERBOSE_VAR, raising=False)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))


def test_a_failed_import_shows_what_tensorflow_said(monkeypatch, capfd, tmp_path):
    """The hidden lines come back when the import fails: they are the diagnosis."""
    from style_transfer import quiet

    # a "tensorflow" that logs to fd 2, then fails
    source = (
        "import os\nos.write(2, b'libcudart.so: cannot open shared object file\\n')\n"
        "raise ImportError('tensorflow is broken')\n"
    )
    _fake_tensorflow(monkeypatch, tmp_path, source)
    with pytest.raises(ImportError, match="broken"):
        quiet.import_tensorflow()
    assert "libcudart.so" in capfd.readouterr().err


def test_a_working_import_hides_what_tensorflow_said(monkeypatch, capfd, tmp_path):
    from style_transfer import quiet

    source = (
        "import os, types\nos.write(2, b'failed call to cuInit\\n')\n"
        "config = types.SimpleNamespace(list_physical_devices=lambda: [])\n"
    )
    _fake_tensorflow(monkeypatch, tmp_path, source)
    module = quiet.import_tensorflow()
    assert module.__file__.startswith(str(tmp_path))
    assert capfd.readouterr().err == ""
