"""Every notebook in notebooks/ runs top to bottom, headless, at a tiny size.

The kernel is ipykernel's built-in ``python3`` kernel, which runs this very
interpreter: nothing needs ``jupyter kernelspec install`` on a fresh machine.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from timeouts import timeout_for

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
MAX_NOTEBOOK_BYTES = 300_000  # an executed notebook, outputs included
TENSORFLOW_LOG = re.compile(r"absl::InitializeLog|cuInit|oneDNN custom operations|cuda_")
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
TINY = {
    "STYLE_TRANSFER_NOTEBOOK_SIZE": "32",  # conv5_1 needs >= 16 px on each side
    "STYLE_TRANSFER_NOTEBOOK_ITERATIONS": "2",
}


def test_the_notebooks_are_there_and_committed_without_outputs():
    names = [path.name for path in NOTEBOOKS]
    assert {
        "01_quickstart.ipynb",
        "02_figure3_tradeoff.ipynb",
        "03_inside_the_network.ipynb",
    } <= set(names)
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: outputs"


def cells(path: Path) -> list[tuple[str, str, str]]:
    """(id, type, source) of each cell: what make_notebooks.py decides; outputs are not its."""
    notebook = nbformat.read(path, as_version=4)
    return [(cell.get("id", ""), cell.cell_type, cell.source) for cell in notebook.cells]


def test_make_notebooks_regenerates_the_committed_notebooks(tmp_path, monkeypatch):
    """The committed .ipynb files are what the generator writes: neither side edited alone."""
    spec = importlib.util.spec_from_file_location("make_notebooks", FOLDER / "make_notebooks.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    monkeypatch.setattr(generator, "HERE", tmp_path)  # into a temp folder, never over the repo
    generator.main()
    written = sorted(tmp_path.glob("*.ipynb"))
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for fresh in written:
        committed = FOLDER / fresh.name
        assert cells(fresh) == cells(committed), f"{fresh.name}: run notebooks/make_notebooks.py"
        fresh_meta = nbformat.read(fresh, as_version=4).metadata
        assert fresh_meta == nbformat.read(committed, as_version=4).metadata, fresh.name


def test_python3_kernel_runs_this_interpreter():
    """ipykernel's native spec: jupyter_client maps its ``python`` to sys.executable."""
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert command[0] == sys.executable
    assert command[1:3] == ["-m", "ipykernel_launcher"]


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch):
    for name, value in TINY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STYLE_TRANSFER_NOTEBOOK_OUTPUT", str(tmp_path))  # never into the repo
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=int(timeout_for(extra_s=120)),  # per cell
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    shown = [o for o in outputs if {"image/png", "image/jpeg"} & set(o.get("data", {}))]
    assert shown, f"{path.name} displayed no figure"
    assert any(tmp_path.iterdir()), f"{path.name} wrote nothing to its output folder"
    saved = tmp_path / path.name
    nbformat.write(notebook, saved)
    assert saved.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name}: {saved.stat().st_size} B"
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert not TENSORFLOW_LOG.search(text), f"{path.name} shows TensorFlow's log lines"
    assert not re.search(r"np\.(float|int)\d+\(", text), f"{path.name} prints numpy reprs"
    assert "\r" not in text and "\x1b" not in text, f"{path.name}: terminal control characters"


@pytest.mark.slow
@pytest.mark.subprocess
def test_progress_in_a_notebook_is_one_bar_and_one_preview(tubingen, starry_night):
    """However many iterations, the transfer cell keeps one updated bar and one preview."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import style_transfer as st\n"
            f"st.transfer({str(tubingen)!r}, {str(starry_night)!r}, size=32, iterations=25)\n"
            "None"
        )
    ]
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=int(timeout_for(iterations=25))
    )
    client.execute()
    outputs = notebook.cells[0].outputs
    kinds = sorted(
        next(iter(set(o.get("data", {})) - {"text/plain"}), o.output_type) for o in outputs
    )
    assert kinds == ["image/jpeg", "text/html"], outputs
    bar = next(o for o in outputs if "text/html" in o.data).data["text/html"]
    assert 'value="25" max="25"' in bar and "α·content" in bar and "ETA" in bar
    assert "32 x 24 px, 25 iterations" in bar  # the heading, above the bar
