"""examples/quickstart.ipynb runs top to bottom in a fresh kernel, as a user would run it, and shows what it claims."""

import os
import time
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="needs nbclient, nbformat and ipykernel (pip install 'groklab[dev]')")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
SRC = Path(__file__).resolve().parents[1] / "src"


def test_quickstart_notebook_trains_groks_and_reports_within_a_minute(tmp_path, monkeypatch):
    monkeypatch.setenv("GROKLAB_STORE", str(tmp_path / "store" / "runs.sqlite"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit the notebook without outputs"
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - started < 60

    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])]
    text = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream" and out["name"] == "stdout")
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 3  # grokking curves, irrep spectra, a report figure
    assert "TwoLayerNet(" in text and "test accuracy 1.000; grokked at epoch" in text
    assert "irreps no active node holds at the end: none" in text
    assert (tmp_path / "quickstart-output" / "report" / "index.html").is_file()
