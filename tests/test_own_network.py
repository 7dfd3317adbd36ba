"""A new user's own network: every trap met on a 300-neuron sparse E/I connectivity
gives a clear message or a correct result (scalar biases, sparse weights, NaN set
with eqx.tree_at, exact methods far too large, objectives with the wrong signature,
no objective at all)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
import scipy.sparse
from conftest import random_weights

import fluxjax as fj


def sparse_ei(n, seed=0):
    """10 % connection probability, 80 % excitatory, inhibition 4x as strong."""
    rng = np.random.default_rng(seed)
    W = (rng.random((n, n)) < 0.1) * rng.gamma(2.0, 0.5, (n, n))
    W[int(0.8 * n) :] *= -4.0
    np.fill_diagonal(W, 0.0)
    return W


def test_scalar_biases_are_shared_by_every_neuron():
    W = sparse_ei(20)
    net = fj.BinaryNetwork(W, -0.5)
    np.testing.assert_array_equal(net.biases, np.full(20, -0.5, np.float32))
    with pytest.raises(ValueError, match=r"biases must have shape \(20,\)"):
        fj.BinaryNetwork(W, np.zeros(3))


@pytest.mark.float64
def test_sparse_weights_are_converted():
    W, b = random_weights(np.random.default_rng(1), 6)
    for sparse in (scipy.sparse.csr_matrix(W), scipy.sparse.coo_array(W)):
        net = fj.BinaryNetwork(sparse, b, dtype=jnp.float64)
        np.testing.assert_array_equal(net.weights, W)
        assert abs(fj.exact_flux(net) - ref.flux(W, b)) < 1e-10


def test_huge_sparse_weights_are_refused_before_allocating():
    huge = scipy.sparse.csr_matrix((100_000, 100_000))
    with pytest.raises(ValueError, match="dense, which would take 37.3 GiB"):
        fj.BinaryNetwork(huge, 0.0)


@pytest.mark.parametrize("field", ["weights", "biases", "temperature", "noise"])
def test_non_finite_fields_set_with_tree_at_are_refused(field, getkey):
    net = fj.BinaryNetwork(sparse_ei(8), 0.0, 1.0, 0.5)
    value = getattr(net, field)
    broken = eqx.tree_at(
        lambda n: getattr(n, field), net, jnp.full_like(value, jnp.nan)
    )
    for call in (
        lambda: fj.simulate(broken, getkey(), 10),
        lambda: fj.exact_flux(broken),
        lambda: fj.flux(broken, getkey()),
        lambda: fj.soft_flux(broken, getkey(), 100),
        lambda: fj.optimize_biases(broken, getkey(), steps=1),
    ):
        with pytest.raises(ValueError, match=f"net.{field} must be finite"):
            call()


@pytest.mark.parametrize(
    "n, max_neurons", [(20, 20), (30, 30), (5000, 6000), (5000, None)]
)
def test_exact_methods_far_too_large_name_the_size_and_the_alternative(n, max_neurons):
    """Whatever max_neurons says: a ValueError with the memory and fj.flux, never an
    OverflowError or an attempted allocation of terabytes."""
    net = fj.BinaryNetwork(np.ones((n, n)) - np.eye(n), 0.0)
    options = {} if max_neurons is None else {"max_neurons": max_neurons}
    for exact in (fj.exact_flux, fj.exact_entropy, fj.stationary_distribution):
        with pytest.raises(ValueError, match=r"GiB.*fluxjax\.flux\(net, key\)"):
            exact(net, **options)


def test_wrong_objectives_get_a_type_error_before_tracing(getkey):
    net = fj.BinaryNetwork(sparse_ei(6), 0.0)
    for estimator in (fj.exact_flux, fj.soft_flux, fj.correlation_proxy):
        with pytest.raises(TypeError, match="takes other arguments. Pass"):
            fj.optimize_biases(net, getkey(), estimator)
        with pytest.raises(TypeError, match="takes other arguments. Pass"):
            fj.hill_climb(net, getkey(), estimator)
    with pytest.raises(TypeError, match="cannot be called so"):
        fj.optimize_biases(net, getkey(), lambda net: fj.exact_flux(net))
    # (under the suite's jaxtyping hook the annotation refuses it first)
    with pytest.raises(TypeError, match="objective"):
        fj.optimize_biases(net, getkey(), "exact")


def test_the_default_objective_is_the_validated_flux(getkey):
    """Exact up to 12 neurons per component; soft_flux from 100 n transitions above."""
    small = fj.BinaryNetwork(sparse_ei(6), 0.0)
    assert fj.FluxObjective.for_network(small).steps is None
    large = fj.BinaryNetwork(sparse_ei(300), 0.0)
    assert fj.FluxObjective.for_network(large) == fj.FluxObjective(30_000)
    key = getkey()
    _, history = fj.optimize_biases(small, key, steps=20)
    exact = lambda n, k: fj.exact_flux(n)
    _, explicit = fj.optimize_biases(small, key, exact, steps=20)
    # the same objective (another compiled program: float32 round-off)
    np.testing.assert_allclose(history.objective, explicit.objective, rtol=1e-4)
    assert history.objective[-1] > history.objective[0]


def test_the_default_objective_of_a_large_block_network_is_exact(getkey):
    """30 neurons in 6-neuron blocks: exact (its components given to exact_flux,
    whose weights are traced inside the optimiser's step); the first step's value is
    the numpy enumeration's sum over blocks."""
    rng = np.random.default_rng(3)
    W = np.zeros((30, 30))
    blocks = []
    for start in range(0, 30, 6):
        w, _ = random_weights(rng, 6, 2.0)
        W[start : start + 6, start : start + 6] = w
        blocks.append(w)
    net = fj.BinaryNetwork(W, 0.0)
    objective = fj.FluxObjective.for_network(net)
    assert objective.steps is None and len(objective.components) == 5
    out, history = fj.optimize_biases(net, getkey(), steps=3)
    expected = sum(ref.flux(w, np.zeros(6)) for w in blocks)
    np.testing.assert_allclose(history.objective[0], expected, rtol=1e-5)
    assert history.objective[-1] > history.objective[0]
    with pytest.raises(TypeError, match="takes other arguments"):
        fj.optimize_biases(net, getkey(), fj.flux)
