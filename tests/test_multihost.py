"""The README's multi-host recipe, run for real on one machine: 2 and 4 processes
under jax.distributed (coordinator 127.0.0.1, gloo collectives) give every network's
counts equal to a one-process run, bit for bit, for both splits."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest


pytestmark = pytest.mark.slow

_PATH = Path(__file__).parents[1] / "examples" / "multihost_sweep.py"
_spec = importlib.util.spec_from_file_location("multihost_sweep", _PATH)
sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sweep.launch(1, "slices", tmp_path_factory.mktemp("one") / "counts.npy")


@pytest.mark.parametrize("processes", [2, 4])
@pytest.mark.parametrize("split", ["slices", "global"])
def test_processes_give_the_one_process_counts(reference, tmp_path, processes, split):
    counts = sweep.launch(processes, split, tmp_path / "counts.npy")
    assert counts.dtype == reference.dtype and counts.shape == reference.shape
    np.testing.assert_array_equal(counts, reference)
    # every network's counts add up to its steps (3 x 3 triplet pairs each)
    assert np.all(counts.sum(axis=(-2, -1)) == sweep.STEPS - 1)
