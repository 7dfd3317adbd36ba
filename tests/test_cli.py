"""The ``fluxjax`` command end to end: a weights file in every format and orientation
gives the Python API's value; every bad argument or file gives one line on stderr
and exit status 2; ``optimize`` writes its biases, JSON and figure."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
import scipy.io
import scipy.sparse
from conftest import random_weights

import fluxjax as fj
from fluxjax.cli import main


def write(tmp_path, matrix, suffix):
    path = tmp_path / f"w{suffix}"
    if suffix == ".npy":
        np.save(path, matrix)
    elif suffix == ".npz":
        np.savez(path, weights=matrix)
    elif suffix == ".csv":
        np.savetxt(path, matrix, delimiter=",")
    elif suffix == ".txt":
        np.savetxt(path, matrix)
    else:
        scipy.io.mmwrite(path, scipy.sparse.coo_matrix(matrix))
    return str(path)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("suffix", fj.io.WEIGHT_FORMATS)
@pytest.mark.parametrize("orientation", ["pre-post", "post-pre"])
def test_flux_of_a_weights_file_equals_the_python_api(
    tmp_path, capsys, suffix, orientation
):
    W, _ = random_weights(np.random.default_rng(0), 6, 2.0)
    stored = W if orientation == "pre-post" else W.T
    path = write(tmp_path, stored, suffix)
    argv = [path, "--orientation", orientation, "--noise", "0.5", "--json"]
    status, out, err = run(capsys, "flux", *argv)
    assert status == 0, err
    got = json.loads(out)
    expected = fj.flux(fj.BinaryNetwork(W, 0.0, noise=0.5), jax.random.key(0))
    assert got["method"] == "exact"
    np.testing.assert_allclose(got["value"], expected.value, rtol=1e-6)


def test_sampled_flux_with_biases_file_and_options(tmp_path, capsys):
    """A 16-neuron network (sampled): the same key and options as the API give the
    same estimate; the text output names the method, the bracket and the SE."""
    rng = np.random.default_rng(1)
    W, b = random_weights(rng, 16)
    np.save(tmp_path / "b.npy", b)
    path = write(tmp_path, W, ".npy")
    options = ["--temperature", "1.5", "--steps", "1000", "--seed", "3"]
    argv = ["flux", path, "--orientation", "pre-post", "--biases"]
    status, out, err = run(capsys, *argv, str(tmp_path / "b.npy"), *options)
    assert status == 0, err
    with pytest.warns(UserWarning):  # 1000 < 100 n: outside the validated regime
        expected = fj.flux(fj.BinaryNetwork(W, b, 1.5), jax.random.key(3), steps=1000)
    assert f"{expected.value:.6g} ± {expected.stderr:.2g} bit" in out
    assert "large-n estimator" in out and "bracket" in out
    assert "warning" in out and err == ""  # the regime warning, in the result


def test_half_firing_biases_by_name(tmp_path, capsys):
    W, _ = random_weights(np.random.default_rng(2), 5)
    path = write(tmp_path, W, ".csv")
    argv = ["flux", path, "--orientation", "pre-post", "--biases", "half-firing"]
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    expected = fj.exact_flux(fj.BinaryNetwork(W, -W.sum(0) / 2))
    np.testing.assert_allclose(json.loads(out)["value"], expected, rtol=1e-6)


def bad_inputs(tmp_path):
    good = write(tmp_path, np.eye(3), ".npy")
    np.save(tmp_path / "rect.npy", np.zeros((2, 3)))
    np.save(tmp_path / "nan.npy", np.full((3, 3), np.nan))
    (tmp_path / "text.csv").write_text("1,2\nx,y\n")
    (tmp_path / "w.json").write_text("[]")
    np.save(tmp_path / "b2.npy", np.zeros(2))
    (tmp_path / "empty.csv").write_text("")
    header = "%%MatrixMarket matrix coordinate real general\n"
    (tmp_path / "huge.mtx").write_text(header + "2000000000 2000000000 1\n1 1 1.0\n")
    pre = ["--orientation", "pre-post"]
    return {
        "no orientation": ["flux", good],
        "no weights": ["flux"],
        "weights and demo": ["flux", good, *pre, "--demo"],
        "missing file": ["flux", str(tmp_path / "none.npy"), *pre],
        "unknown format": ["flux", str(tmp_path / "w.json"), *pre],
        "not square": ["flux", str(tmp_path / "rect.npy"), *pre],
        "not numbers": ["flux", str(tmp_path / "text.csv"), *pre],
        "NaN weights": ["flux", str(tmp_path / "nan.npy"), *pre],
        "biases length": ["flux", good, *pre, "--biases", str(tmp_path / "b2.npy")],
        "biases name": ["flux", good, *pre, "--biases", "half"],
        "steps 0": ["flux", good, *pre, "--steps", "0"],
        "steps text": ["flux", good, *pre, "--steps", "many"],
        "negative noise": ["flux", good, *pre, "--noise", "-1"],
        "zero temperature": ["flux", good, *pre, "--temperature", "0"],
        "negative seed": ["flux", good, *pre, "--seed", "-2"],
        "bad orientation": ["flux", good, "--orientation", "rows"],
        "demo too large": ["flux", "--demo", "--neurons", "300"],
        "no command": [],
        "seed too large": ["flux", good, *pre, "--seed", str(2**32)],
        "negative temperature": ["flux", good, *pre, "--temperature", "-1"],
        "empty file": ["flux", str(tmp_path / "empty.csv"), *pre],
        "huge mtx header": ["flux", str(tmp_path / "huge.mtx"), *pre],
        "optimize without orientation": ["optimize", good],
    }


def test_every_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    for case, argv in bad_inputs(tmp_path).items():
        try:
            status = main(argv)
        except SystemExit as exit:  # argparse's own errors
            status = exit.code
        out, err = capsys.readouterr()
        assert status == 2, case
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0], (case, err)
        assert "Traceback" not in err, case


def test_optimize_writes_biases_json_and_figure(tmp_path, capsys):
    W, b = random_weights(np.random.default_rng(4), 5, 2.5)
    path = write(tmp_path, W, ".npy")
    out_dir = tmp_path / "out"
    argv = ["optimize", path, "--orientation", "pre-post", "--out", str(out_dir)]
    status, out, err = run(
        capsys, *argv, "--ascent-steps", "30", "--rule-steps", "2000"
    )
    assert status == 0, err
    ascended = np.load(out_dir / "biases_gradient.npy")
    comparison = json.loads((out_dir / "comparison.json").read_text())
    results = {
        k: fj.from_json(fj.FluxResult, v) for k, v in comparison["results"].items()
    }
    assert set(results) == {"start", "gradient ascent", "50 % rule"}
    rule = np.load(out_dir / "biases_rule.npy")
    settings = [("start", 0.0), ("50 % rule", rule), ("gradient ascent", ascended)]
    for label, biases in settings:
        exact = float(fj.exact_flux(fj.BinaryNetwork(W, biases)))
        assert results[label].value == pytest.approx(exact, rel=1e-6), label
    # gradient ascent starts from the rule's biases and climbs the exact flux
    assert results["gradient ascent"].value >= results["50 % rule"].value
    assert (out_dir / "comparison.png").stat().st_size > 10_000


def test_python_dash_m_and_help():
    done = subprocess.run(
        [sys.executable, "-m", "fluxjax", "flux", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    for text in ("--orientation", "pre-post", "default: 0", "internal convention"):
        assert text in done.stdout


def test_demo_prints_exact_and_plugin_estimates(capsys):
    status, out, err = run(capsys, "flux", "--demo", "--steps", "20000")
    assert status == 0, err
    assert "exact (2^n-state enumeration)" in out and "plug-in, T = 20,000" in out
