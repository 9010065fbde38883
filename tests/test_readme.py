"""README.md's Quick start and Tests blocks: what they say is what runs (and CI runs it)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from timeouts import timeout_for

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def block_under(heading_word: str) -> list[str]:
    """The lines of the bash block directly under the first heading containing the word."""
    lines = README.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("#") and heading_word in line.split()
    )
    rest = [line for line in lines[start + 1 :]]
    first = next(i for i, line in enumerate(rest) if line.strip())
    assert rest[first] == "```bash", f"no bash block directly under {lines[start]!r}"
    end = rest.index("```", first + 1)
    return [line for line in rest[first + 1 : end] if line.strip()]


def test_quick_start_comes_first_with_two_commands():
    headings = [line for line in README.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Quick start", headings[:3]
    install, first_image = block_under("start")
    assert install in ("pip install -e .", "pip install ."), install  # the package itself
    assert first_image.startswith("python -m style_transfer transfer ")


def test_the_tests_block_installs_and_runs_the_tests():
    install, *commands = block_under("Tests")
    assert install == 'pip install -e ".[dev]"', install  # the package and the test tools
    assert commands == ["python -m pytest -q"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_runs_the_readme_test_command():
    printed = subprocess.run(
        ["bash", str(REPO / ".ci" / "run"), "--print-test-command"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert printed == block_under("Tests")[-1]
    assert 'eval "$test_command"' in (REPO / ".ci" / "run").read_text()


def test_timings_are_measured_not_guessed():
    """No unmeasured 'about a minute': each timing is a measurement or the lead's marker."""
    assert not re.search(r"about a minute|a few minutes", README)


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_quick_start_image_is_made_and_its_files_are_ignored_by_git(tmp_path):
    """The README's command as written, only smaller, in a fresh folder; then what it wrote
    in the repository folder would be git-ignored."""
    command = shlex.split(block_under("start")[1])
    for flag, tiny in (("--size", "32"), ("--iterations", "2")):
        command[command.index(flag) + 1] = tiny
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True,
        timeout=timeout_for(iterations=2), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["first.loss.png", "first.png", "first.png.json"], written
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: .gitignore not checked")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *written], cwd=REPO, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert sorted(ignored.stdout.split()) == written
