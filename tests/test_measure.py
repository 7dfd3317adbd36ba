"""fj.flux, the front door: the method it picks, its value against independent
references (numpy enumeration, exact block sums), its bracket, systematic error and
warnings, and its refusals."""

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import random_weights

import fluxjax as fj
from fluxjax.measure import EXACT_NEURONS, MOMENT_SYSTEMATIC


EPS32 = float(np.finfo(np.float32).eps)


def shuffled_blocks(rng, sizes, scale=2.5):
    """A block-diagonal network with the neurons shuffled, and its blocks' (W, b)."""
    n = sum(sizes)
    W, b = np.zeros((n, n)), np.zeros(n)
    order = rng.permutation(n)
    blocks, start = [], 0
    for size in sizes:
        w, bias = random_weights(rng, size, scale)
        index = order[start : start + size]
        W[np.ix_(index, index)] = w
        b[index] = bias
        blocks.append((w, bias))
        start += size
    return W, b, blocks


@pytest.mark.float64
def test_small_network_is_exact_and_equals_numpy_enumeration():
    W, b = random_weights(np.random.default_rng(0), 7)
    net = fj.BinaryNetwork(W, b, 1.2, 0.4, dtype=jnp.float64)
    result = fj.flux(net, jax.random.key(0))
    expected = ref.flux(W, b, 1.2, 0.4)
    assert result.method is fj.FluxMethod.EXACT
    assert abs(result.value - expected) < 1e-10
    assert result.stderr == 0.0 and result.samples == 0
    assert result.lower == result.upper == result.value
    low, high = result.systematic  # the float64 round-off bound
    assert high == -low and 0 < high < 1e-12 and result.warnings == ()


def test_large_disconnected_network_is_exact_blockwise():
    """n = 60 in shuffled blocks of <= 8 neurons: exact, the sum of the blocks'
    numpy enumerations (float32 round-off bound: RESOLUTION_ULPS eps |F|)."""
    rng = np.random.default_rng(1)
    W, b, blocks = shuffled_blocks(rng, [8, 8, 6, 7, 8, 5, 8, 4, 6])
    result = fj.flux(fj.BinaryNetwork(W, b), jax.random.key(0))
    expected = sum(ref.flux(w, bias) for w, bias in blocks)
    assert result.method is fj.FluxMethod.EXACT
    low, high = result.systematic
    assert low <= result.value - expected <= high
    assert high == pytest.approx(256 * EPS32 * expected)


def test_sampled_estimate_brackets_the_exact_flux():
    """Forced onto the large-n estimator, a dense 10-neuron network: the bracket holds
    the exact flux, and so does the interval (systematic error + 2 SE) up to the
    sampling error (3 SE: a 0.3 % chance of a false failure per key)."""
    W, b = random_weights(np.random.default_rng(2), 10, 2.0)
    net = fj.BinaryNetwork(W, b)
    exact = ref.flux(W, b)
    with warnings.catch_warnings():  # at n = 10 the lower bound can be the tighter
        warnings.simplefilter("ignore")
        result = fj.flux(net, jax.random.key(3), method=fj.FluxMethod.MOMENTS)
    assert result.method is fj.FluxMethod.MOMENTS and result.samples == 100_000
    assert result.lower <= exact <= result.upper  # bounds widened by 2 SE each
    low, high = result.interval
    assert low - result.stderr <= exact <= high + result.stderr
    relative = (result.value - exact) / exact
    lo, hi = MOMENT_SYSTEMATIC
    assert lo - 3 * result.stderr / exact <= relative <= hi + 3 * result.stderr / exact
    assert result.systematic[0] <= lo * result.value  # widened by the pairwise excess


def test_method_by_size_and_structure():
    """Dense n > EXACT_NEURONS: sampled; a 1000-neuron cycle: exact (closed form)."""
    W, b = random_weights(np.random.default_rng(4), EXACT_NEURONS + 1)
    dense = fj.flux(fj.BinaryNetwork(W, b), jax.random.key(0), steps=2000)
    assert dense.method is fj.FluxMethod.MOMENTS and dense.samples == 2000
    ring = fj.BinaryNetwork(4.0 * np.roll(np.eye(1000), 1, axis=1), -2.0)
    assert fj.flux(ring, jax.random.key(0)).method is fj.FluxMethod.EXACT


def test_regime_warnings_are_issued_and_kept():
    W, b = random_weights(np.random.default_rng(5), 20)
    with pytest.warns(UserWarning, match="100 n") as caught:
        result = fj.flux(fj.BinaryNetwork(W, b), jax.random.key(0), steps=1000)
    assert result.warnings and result.warnings[0] in {str(w.message) for w in caught}
    assert "warning" in str(result)


def test_summary_and_json_round_trip():
    W, b = random_weights(np.random.default_rng(6), 5)
    result = fj.flux(fj.BinaryNetwork(W, b), jax.random.key(0))
    text = str(result)
    assert f"{result.value:.6g} bit" in text and "exact" in text
    back = fj.from_json(fj.FluxResult, json.loads(json.dumps(fj.to_json(result))))
    assert back == result


def test_refusals_name_the_argument():
    net = fj.BinaryNetwork(np.zeros((3, 3)), 0.0)
    with pytest.raises(TypeError, match="method"):
        fj.flux(net, jax.random.key(0), method="exact")
    with pytest.raises(TypeError, match="key"):
        fj.flux(net, 0)
    with pytest.raises(TypeError, match="BinaryNetwork"):
        fj.flux(np.zeros((3, 3)), jax.random.key(0))
    W, b = random_weights(np.random.default_rng(7), 20)
    with pytest.raises(ValueError, match="steps must be an integer >= 200"):
        fj.flux(fj.BinaryNetwork(W, b), jax.random.key(0), steps=100)


def test_interval_is_never_inverted():
    """An estimate outside its own bracket: the interval is the bracket."""
    result = fj.FluxResult(
        value=3.0,
        stderr=0.001,
        lower=3.2,
        upper=3.8,
        systematic=(-0.03, 0.04),
        method=fj.FluxMethod.MOMENTS,
        num_neurons=12,
        samples=100_000,
    )
    assert result.interval == (3.2, 3.8)
