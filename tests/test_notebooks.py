"""The notebooks in notebooks/ run from top to bottom (quick sizes) and are stored
clean.

Each notebook is executed with nbclient in a fresh kernel with
FLUXJAX_NOTEBOOK_QUICK=1, which the notebooks read to choose small sizes; an
exception in any cell fails the test. Together they take about 4 minutes on two
cores (mostly JAX compilation), hence ``slow``.

The kernels inherit the suite's single-threaded Eigen (``XLA_FLAGS``, set in
conftest.py). Notebook 03 vmaps the exact flux over two bias vectors; before its
stationary solves went through fluxjax._linalg, that cell deadlocked in jaxlib's
batched LAPACK kernels in CI (see tests/test_linalg.py). A kernel that hangs prints
every thread's Python stack to the captured stderr (``faulthandler``) before the
cell's timeout fails the test.
"""

import os
from pathlib import Path

import pytest
from conftest import SINGLE_THREADED_EIGEN


NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; quick mode needs well under a minute per notebook
HANG_REPORT = f"""import faulthandler, sys
faulthandler.dump_traceback_later({CELL_TIMEOUT - 60}, repeat=True, file=sys.__stderr__)
"""


def test_there_are_notebooks():
    assert [path.name for path in NOTEBOOKS][:4] == [
        "01_quickstart.ipynb",
        "02_embedding_and_recurrence_resonance.ipynb",
        "03_optimizing_biases.ipynb",
        "04_scaling_up.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has stored outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("FLUXJAX_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # silence jupyter_core's notice
    assert SINGLE_THREADED_EIGEN in os.environ["XLA_FLAGS"]  # the kernel inherits it
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(HANG_REPORT))
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
