import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import random_weights
from jax.test_util import check_grads

import fluxjax as fj
from fluxjax.network import log_probs_given_input


@pytest.mark.float64
@pytest.mark.parametrize("noise", [0.0, 0.5, 2.0, 5.0])
def test_firing_prob_matches_adaptive_quadrature(noise):
    rng = np.random.default_rng(1)
    W, b = random_weights(rng, 6, scale=3.0)
    temperature = rng.uniform(0.5, 2.0, 6)
    net = fj.BinaryNetwork(W, b, temperature, noise)
    states = ref.all_states(6)
    expected = ref.firing_prob(W, b, temperature, noise, states)
    np.testing.assert_allclose(net.firing_prob(states), expected, rtol=0, atol=1e-12)
    silent = ref.silence_prob(W, b, temperature, noise, states)
    np.testing.assert_allclose(net.silent_prob(states), silent, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("noise", "tolerance"), [(10.0, 1e-12), (15.0, 1e-8)])
def test_firing_prob_accuracy_at_large_noise(noise, tolerance):
    """Documented accuracy of the trapezoidal rule: 1e-12 at sigma = 10, 1e-8 at 15."""
    m = np.linspace(-40, 40, 81)
    net = fj.BinaryNetwork(np.zeros((81, 81)), m, noise=noise)
    expected = ref.expected_sigmoid(m, noise)
    np.testing.assert_allclose(net.firing_prob(np.zeros(81)), expected, atol=tolerance)


@pytest.mark.float64
@pytest.mark.parametrize(
    ("nodes", "limit"),
    list(zip(fj.NOISE_NODE_COUNTS[:-1], fj.NOISE_NODE_LIMITS[:-1], strict=True)),
)
def test_fewer_noise_nodes_agree_with_the_most_at_their_limit(nodes, limit):
    """At the largest sigma it serves, a node count is the constructor's choice, its
    probabilities equal adaptive quadrature to 1e-15 and its log-probabilities equal
    the 257-node rule's to 3e-12, for means m in [-40, 20]; a slightly larger sigma
    takes the next count."""
    m = np.linspace(-40.0, 20.0, 121)
    zeros = np.zeros((121, 121))
    net = fj.BinaryNetwork(zeros, m, noise=limit)
    most = fj.BinaryNetwork(zeros, m, noise=limit, noise_nodes=fj.NUM_NOISE_NODES)
    assert net.noise_nodes == nodes
    assert fj.BinaryNetwork(zeros, m, noise=limit * 1.01).noise_nodes > nodes
    x = np.zeros(121)
    expected = ref.expected_sigmoid(m, limit)
    np.testing.assert_allclose(net.firing_prob(x), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.silent_prob(x), 1 - expected, rtol=0, atol=1e-15)
    for got, exact in zip(net.log_probs(x), most.log_probs(x), strict=True):
        np.testing.assert_allclose(got, exact, rtol=0, atol=3e-12)


def test_noise_nodes_bad_input_and_a_noise_raised_past_them():
    """A node count that is not a rule's, or too few for the noise, is refused; a
    noise raised with eqx.tree_at past the network's count is refused by the
    functions that would integrate it, with the way out in the message."""
    W, b = random_weights(np.random.default_rng(9), 4)
    for bad in (50, 0, 17):
        with pytest.raises(ValueError, match="noise_nodes must be one of"):
            fj.BinaryNetwork(W, b, noise=0.5, noise_nodes=bad)
    with pytest.raises(ValueError, match=r"noise_nodes must be one of \[129, 257\]"):
        fj.BinaryNetwork(W, b, noise=2.0, noise_nodes=65)
    assert fj.BinaryNetwork(W, b).noise_nodes is None
    net = fj.BinaryNetwork(W, b, noise=0.5)
    louder = eqx.tree_at(lambda n: n.noise, net, jnp.asarray(3.0))
    for call in (
        lambda: fj.exact_flux(louder),
        lambda: fj.soft_flux(louder, jax.random.key(0), 1000),
    ):
        with pytest.raises(ValueError, match="33-node noise integral.*anew"):
            call()


@pytest.mark.float64
def test_stacked_networks_take_the_most_noise_nodes():
    """A stack of a sigma = 0.5 (33 nodes), a noiseless and a sigma = 3 (257 nodes)
    network integrates with 257 nodes; each row equals its network alone to 1e-15."""
    W, b = random_weights(np.random.default_rng(10), 5)
    nets = [fj.BinaryNetwork(W, b, noise=s) for s in (0.5, 0.0, 3.0)]
    assert [n.noise_nodes for n in nets] == [33, None, 257]
    stacked, axes = fj.stack_networks(nets)
    assert stacked.noise_nodes == 257
    x = ref.all_states(5)
    batched = eqx.filter_vmap(lambda n: n.firing_prob(x), in_axes=(axes,))(stacked)
    for row, net in zip(batched, nets, strict=True):
        np.testing.assert_allclose(row, net.firing_prob(x), rtol=0, atol=1e-15)


@pytest.mark.float64
def test_per_neuron_noise_and_temperature():
    rng = np.random.default_rng(2)
    W, b = random_weights(rng, 4)
    temperature, noise = np.array([1.0, 2.0, 0.5, 5.0]), np.array([0.0, 1.0, 0.3, 4.0])
    net = fj.BinaryNetwork(W, b, temperature, noise)
    x = np.array([1, 0, 1, 1])
    expected = ref.firing_prob(W, b, temperature, noise, x[None])[0]
    np.testing.assert_allclose(net.firing_prob(x), expected, atol=1e-12)


def test_step_matches_firing_probability(getkey):
    """Bernoulli frequencies of one step match firing_prob within 5 binomial SDs."""
    rng = np.random.default_rng(3)
    W, b = random_weights(rng, 5)
    net = fj.BinaryNetwork(W, b, noise=1.5)
    x = jnp.array([1, 0, 1, 0, 1], bool)
    draws = 200_000
    fired = np.asarray(net.step(getkey(), jnp.broadcast_to(x, (draws, 5)))).mean(0)
    p = net.firing_prob(x)
    np.testing.assert_array_less(np.abs(fired - p), 5 * np.sqrt(p * (1 - p) / draws))


@pytest.mark.float64
def test_firing_prob_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    W, b = random_weights(rng, 3)
    net = fj.BinaryNetwork(W, b, 1.3, 0.8)
    x = jnp.array([1.0, 0.0, 1.0])
    check_grads(lambda n: n.firing_prob(x), (net,), order=1, modes=("rev",), eps=1e-6)


@pytest.mark.float64
@pytest.mark.parametrize("noise", [None, 0.8])
def test_log_probs_from_a_stored_input_match_log_probs(noise):
    """log_probs_given_input(net, x, x @ W) is net.log_probs(x): the same value, and
    the same derivative in every field, reverse and forward mode (against autodiff
    through the plain product, and central differences)."""
    rng = np.random.default_rng(5)
    W, b = random_weights(rng, 4)
    net = fj.BinaryNetwork(W, b, 1.3, noise)
    x = jnp.asarray(rng.random((6, 4)) < 0.5)
    recurrent = x.astype(W.dtype) @ net.weights
    stored = lambda n: log_probs_given_input(n, x, recurrent)
    for got, want in zip(stored(net), net.log_probs(x), strict=True):
        np.testing.assert_array_equal(got, want)
    weight = jnp.asarray(rng.normal(size=(2, 6, 4)))
    functional = lambda f: lambda n: sum(jnp.sum(w * v) for w, v in zip(weight, f(n)))
    got = jax.grad(functional(stored))(net)
    want = jax.grad(functional(lambda n: n.log_probs(x)))(net)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-12), got, want)
    direction = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), net)
    tangent = jax.jvp(functional(stored), (net,), (direction,))[1]
    np.testing.assert_allclose(
        tangent,
        sum(jnp.vdot(g, d) for g, d in zip(*map(jax.tree.leaves, (got, direction)))),
        rtol=1e-12,
    )
    # second derivatives of the stored version: Hessian-vector products (the rule's
    # primal passes through the rule again)
    hvp = lambda f: jax.jvp(jax.grad(functional(f)), (net,), (direction,))[1]
    jax.tree.map(
        lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13),
        hvp(stored),
        hvp(lambda n: n.log_probs(x)),
    )
    # against central differences (first and second order), the input recomputed
    # from the perturbed weights (its own tangent is dropped; the rule gives x @ dW)
    fresh = lambda n: log_probs_given_input(n, x, x.astype(W.dtype) @ n.weights)
    check_grads(functional(fresh), (net,), order=2, modes=("fwd", "rev"), eps=1e-5)
    with pytest.raises(ValueError, match="recurrent must have the shape"):
        log_probs_given_input(net, x, recurrent[:, :3])


def test_float32_is_preserved():
    net = fj.BinaryNetwork(
        np.ones((3, 3), np.float32), np.zeros(3, np.float32), 2.0, 0.5
    )
    assert {leaf.dtype for leaf in jax.tree.leaves(net)} == {np.dtype(np.float32)}
    assert net.firing_prob(jnp.ones(3)).dtype == jnp.float32
    assert fj.exact_flux(net).dtype == jnp.float32


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(weights=np.ones((2, 3)), biases=np.zeros(2)), ValueError, "square"),
        (dict(weights=np.ones(3), biases=np.zeros(3)), ValueError, "square"),
        (dict(weights=np.ones((2, 2)), biases=np.zeros(3)), ValueError, "biases"),
        (
            dict(weights=np.full((2, 2), np.nan), biases=np.zeros(2)),
            ValueError,
            "finite",
        ),
        (dict(weights=np.ones((2, 2)), biases=[0.0, np.inf]), ValueError, "finite"),
        (
            dict(weights=np.ones((2, 2)), biases=np.zeros(2), temperature=0.0),
            ValueError,
            "> 0",
        ),
        (
            dict(weights=np.ones((2, 2)), biases=np.zeros(2), temperature=[1.0, -1.0]),
            ValueError,
            "> 0",
        ),
        (
            dict(weights=np.ones((2, 2)), biases=np.zeros(2), noise=-0.1),
            ValueError,
            ">= 0",
        ),
        (
            dict(weights=np.ones((2, 2)), biases=np.zeros(2), noise=np.ones(3)),
            ValueError,
            "noise",
        ),
        (
            dict(weights=np.ones((2, 2)), biases=np.zeros(2), noise=np.nan),
            ValueError,
            "finite",
        ),
        (dict(weights=np.ones((2, 2), bool), biases=np.zeros(2)), TypeError, "weights"),
        (dict(weights="abc", biases=np.zeros(2)), TypeError, "weights"),
        (
            dict(weights=np.zeros((0, 0)), biases=np.zeros(0)),
            ValueError,
            "at least one",
        ),
    ],
)
def test_constructor_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        fj.BinaryNetwork(**kwargs)


def test_tree_at_and_jit_keep_working():
    net = fj.BinaryNetwork(np.zeros((2, 2)), np.zeros(2))
    net2 = eqx.tree_at(lambda n: n.biases, net, jnp.array([1.0, -1.0]))
    expected = 1 / (1 + np.exp(-np.array([1.0, -1.0])))
    np.testing.assert_allclose(
        eqx.filter_jit(lambda n: n.firing_prob(jnp.zeros(2)))(net2), expected
    )


@pytest.mark.float64
def test_zero_noise_is_structure_and_the_integral_agrees_at_zero():
    """A zero noise is stored as None (noiseless: sigmoid(m), inside a caller's jit
    too); the quadrature on an explicit zero sigma gives the same values; both equal
    the reference to 1e-15."""
    W, b = random_weights(np.random.default_rng(8), 5)
    net = fj.BinaryNetwork(W, b, 2.0, 0.0)
    assert net.noise is None and fj.BinaryNetwork(W, b, 2.0, [0.0] * 5).noise is None
    assert jax.tree.leaves(net) == [net.weights, net.biases, net.temperature]
    x = ref.all_states(5)
    direct = jax.jit(lambda n: n.firing_prob(x))(net)
    zero = eqx.tree_at(lambda n: n.noise, net, 0.0, is_leaf=lambda v: v is None)
    integrated = jax.jit(lambda n: n.firing_prob(x))(zero)
    expected = ref.firing_prob(W, b, 2.0, 0.0, x)
    np.testing.assert_allclose(direct, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(integrated, expected, rtol=0, atol=1e-15)
    log_fire, log_silent = jax.jit(lambda n: n.log_probs(x))(zero)
    np.testing.assert_allclose(np.exp(log_fire), expected, rtol=1e-13)
    np.testing.assert_allclose(np.exp(log_silent), 1 - expected, rtol=1e-13)
