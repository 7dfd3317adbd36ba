"""fluxjax.io: networks saved and loaded bit for bit, weight files in every format and
orientation read as numpy reads them, results through JSON and back."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io
import scipy.sparse
from conftest import random_weights

import fluxjax as fj


def same_network(a, b):
    for field in ("weights", "biases", "temperature", "noise"):
        x, y = getattr(a, field), getattr(b, field)
        if x is None or y is None:
            assert x is None and y is None, field
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, field
        assert np.array_equal(np.asarray(x), np.asarray(y)), field
    assert a.noise_nodes == b.noise_nodes


@pytest.mark.parametrize(
    "temperature, noise",
    [(1.0, None), (np.linspace(0.5, 2.0, 6), 0.3), (2.0, np.linspace(0.0, 1.6, 6))],
)
def test_save_load_round_trip_bit_for_bit(tmp_path, temperature, noise):
    W, b = random_weights(np.random.default_rng(0), 6)
    net = fj.BinaryNetwork(W, b, temperature, noise)
    fj.save(tmp_path / "net", net)  # the suffix is added
    same_network(fj.load(tmp_path / "net.npz"), net)
    with np.load(tmp_path / "net.npz") as archive:
        header = json.loads(str(archive["header"]))
    assert header["fluxjax_version"] == fj.__version__


@pytest.mark.float64
def test_float64_networks_keep_their_dtype(tmp_path):
    W, b = random_weights(np.random.default_rng(1), 4)
    net = fj.BinaryNetwork(W, b, noise=0.5, dtype=jnp.float64)
    fj.save(tmp_path / "net.npz", net)
    back = fj.load(tmp_path / "net.npz")
    same_network(back, net)
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="float64"):
            fj.load(tmp_path / "net.npz")


def test_load_refuses_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.eye(2))
    np.save(tmp_path / "array.npy", np.eye(2))
    np.savez(tmp_path / "headed.npz", header=np.array('{"format": "x"}'))
    for name in ("other.npz", "array.npy", "headed.npz"):
        with pytest.raises(ValueError, match="not a saved fluxjax network"):
            fj.load(tmp_path / name)


def test_tree_deserialise_pitfall_is_avoided(tmp_path):
    """eqx.tree_deserialise_leaves into a noiseless template drops a saved noise
    (the pitfall fj.load avoids): the noise comes back from fj.load only."""
    W, b = random_weights(np.random.default_rng(2), 4)
    noisy = fj.BinaryNetwork(W, b, noise=0.7)
    eqx.tree_serialise_leaves(tmp_path / "leaves.eqx", noisy)
    template = fj.BinaryNetwork(W, b)
    assert eqx.tree_deserialise_leaves(tmp_path / "leaves.eqx", template).noise is None
    fj.save(tmp_path / "net.npz", noisy)
    same_network(fj.load(tmp_path / "net.npz"), noisy)


def write_all_formats(tmp_path, matrix):
    np.save(tmp_path / "w.npy", matrix)
    np.savez(tmp_path / "w.npz", weights=matrix)
    np.savetxt(tmp_path / "w.csv", matrix, delimiter=",")
    np.savetxt(tmp_path / "w.txt", matrix)
    scipy.io.mmwrite(tmp_path / "w.mtx", scipy.sparse.coo_matrix(matrix))
    return [tmp_path / f"w{s}" for s in fj.io.WEIGHT_FORMATS]


@pytest.mark.parametrize("orientation", list(fj.Orientation))
def test_read_weights_every_format_and_orientation(tmp_path, orientation):
    rng = np.random.default_rng(3)
    W = (rng.random((7, 7)) < 0.4) * rng.normal(0, 1, (7, 7))
    stored = W if orientation is fj.Orientation.PRE_POST else W.T
    for path in write_all_formats(tmp_path, stored):
        got = fj.read_weights(path, orientation)
        dense = got.toarray() if scipy.sparse.issparse(got) else got
        np.testing.assert_array_equal(dense, W, err_msg=str(path))


def test_read_weights_errors(tmp_path):
    (tmp_path / "w.json").write_text("[]")
    with pytest.raises(ValueError, match="unknown weight format"):
        fj.read_weights(tmp_path / "w.json", fj.Orientation.PRE_POST)
    np.save(tmp_path / "rect.npy", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="square"):
        fj.read_weights(tmp_path / "rect.npy", fj.Orientation.PRE_POST)
    (tmp_path / "bad.csv").write_text("1,2\na,b\n")
    with pytest.raises(ValueError, match="not a readable .csv matrix"):
        fj.read_weights(tmp_path / "bad.csv", fj.Orientation.PRE_POST)
    with pytest.raises(TypeError, match="orientation"):
        fj.read_weights(tmp_path / "rect.npy", "pre-post")
    with pytest.raises(OSError):
        fj.read_weights(tmp_path / "missing.npy", fj.Orientation.PRE_POST)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        fj.read_weights(tmp_path / "empty.csv", fj.Orientation.PRE_POST)
    header = "%%MatrixMarket matrix coordinate real general\n"
    (tmp_path / "huge.mtx").write_text(header + "2000000000 2000000000 1\n1 1 1.0\n")
    with pytest.raises(ValueError, match="GiB dense"):  # from the header alone
        fj.read_weights(tmp_path / "huge.mtx", fj.Orientation.PRE_POST)


def test_results_through_json(getkey):
    net = fj.random_network(3, key=getkey(), weight_scale=3.0)
    _, history = fj.optimize_biases(net, getkey(), steps=5)
    estimate = fj.Estimate(jnp.float32(1.25), jnp.float32(0.5))
    for value in (history, estimate):
        back = fj.from_json(type(value), json.loads(json.dumps(fj.to_json(value))))
        for got, want in zip(back, value, strict=True):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="lacks"):
        fj.from_json(fj.Estimate, {"value": 1.0})
