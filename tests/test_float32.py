"""The library's default precision, float32: dtypes are preserved, and the errors
against the float64 numpy reference stay within bounds derived from the arithmetic.

The float64 comparisons elsewhere in the suite are marked ``float64``; these tests run
in JAX's default configuration, as users do.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import random_weights

import fluxjax as fj


EPS32 = float(np.finfo(np.float32).eps)


@pytest.mark.slow  # compile-bound (ten functions): 30 s
def test_default_dtype_is_float32_and_is_preserved(getkey):
    """Every public computation of a float32 network returns float32 (no hidden x64)."""
    assert not jax.config.jax_enable_x64
    W, b = random_weights(np.random.default_rng(0), 5)
    net = fj.BinaryNetwork(W, b, 1.5, 0.4)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(net))
    key = getkey()
    states = fj.simulate(net, key, 500)
    outputs = {
        "firing_prob": net.firing_prob(states[0]),
        "log_probs": net.log_probs(states[0])[0],
        "exact_flux": fj.exact_flux(net),
        "exact_entropy": fj.exact_entropy(net),
        "stationary_distribution": fj.stationary_distribution(net),
        "soft_flux": fj.soft_flux(
            net, key, 200, burn_in=10, estimator=fj.Mixture(num_components=20)
        ),
        "correlation_proxy": fj.correlation_proxy(net, key, 200, burn_in=10),
        "plugin_flux": fj.plugin_flux(states),
        "plugin_flux_stderr": fj.plugin_flux_stderr(states).stderr,
        "plugin_triplet_flux": fj.plugin_triplet_flux(states, [(0, 1), (2, 3)]).intra,
    }
    grads = eqx.filter_grad(fj.exact_flux)(net)
    outputs.update({f"grad.{k}": v for k, v in vars(grads).items() if eqx.is_array(v)})
    for name, value in outputs.items():
        assert value.dtype == jnp.float32, name


@pytest.mark.slow
@pytest.mark.float64
def test_float64_networks_stay_float64(getkey):
    W, b = random_weights(np.random.default_rng(1), 4)
    net = fj.BinaryNetwork(W, b, 1.0, 0.3, dtype=jnp.float64)
    key = getkey()
    for value in (
        fj.exact_flux(net),
        fj.soft_flux(
            net, key, 200, burn_in=10, estimator=fj.Mixture(num_components=20)
        ),
        eqx.filter_grad(fj.exact_flux)(net).biases,
    ):
        assert value.dtype == jnp.float64


@pytest.mark.parametrize("n", [4, 6, 8, 10])
def test_float32_exact_flux_is_good_to_1e4_bit(n):
    """The documented float32 precision of the exact measures (exact.py): the
    stationary distribution from a float32 solve of a 2^n system carries errors of
    about kappa * eps relative to max(pi), and the flux (entropies of 2^n terms of
    magnitude <= 1 bit) inherits them: the bound is 1e-4 bit up to n = 10."""
    W, b = random_weights(np.random.default_rng(10 + n), n, scale=2.0)
    net = fj.BinaryNetwork(W, b, 1.0, 0.5)
    exact = ref.flux(W, b, 1.0, 0.5)
    assert abs(float(fj.exact_flux(net)) - exact) < 1e-4
    assert abs(float(fj.exact_entropy(net)) - ref.entropy(W, b, 1.0, 0.5)) < 1e-4


def test_float32_plugin_flux_equals_the_reference_to_rounding(getkey):
    """Counts are integers (exact); each entropy is ln T - sum c ln c / T, whose float32
    rounding is a few ulp of ln T ~ 10 nats; three of them, so 8 ulp of ln T (in bits,
    1.4e-5 at T = 2 10^4) bound the flux's error."""
    T = 20_000
    W, b = random_weights(np.random.default_rng(2), 6)
    states = np.asarray(fj.simulate(fj.BinaryNetwork(W, b), getkey(), T))
    bound = 8 * math.log(T) * EPS32 / math.log(2)
    for correction, expected in (
        (None, ref.plugin_flux(states)),
        ("miller-madow", ref.miller_madow_flux(states)),
    ):
        value = float(fj.plugin_flux(states, correction))
        assert abs(value - expected) < bound, correction


def test_float32_soft_flux_matches_float64_within_its_sampling_error(getkey):
    """Same key, same draws: the float32 and float64 estimates of one trajectory differ
    by rounding only (the states can differ where a threshold is within an ulp, rare),
    far inside the estimator's own SD (0.002-0.006 bit at T = 10^4, n = 6)."""
    W, b = random_weights(np.random.default_rng(3), 6)
    key = getkey()
    single = fj.soft_flux(fj.BinaryNetwork(W, b, 1.0, 0.5), key, 10_000)
    with jax.enable_x64(True):
        double = fj.soft_flux(
            fj.BinaryNetwork(W, b, 1.0, 0.5, dtype=jnp.float64), key, 10_000
        )
    assert abs(float(single) - float(double)) < 1e-3
