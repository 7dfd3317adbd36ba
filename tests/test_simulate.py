import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import reference as ref
from conftest import random_weights

import fluxjax as fj
from fluxjax.network import draw_randomness


def small_net(seed=0, n=4, noise=0.0, temperature=1.0):
    W, b = random_weights(np.random.default_rng(seed), n)
    return fj.BinaryNetwork(W, b, temperature, noise)


def test_matches_numpy_loop_given_the_same_draws(getkey):
    """A plain numpy loop fed the same pre-drawn normals and uniforms gives the same
    trajectory, bit for bit (key schedule documented in fluxjax/simulate.py)."""
    net = small_net(1, n=5, noise=0.7, temperature=1.5)
    key, steps = getkey(), 200
    x0 = np.array([1, 0, 0, 1, 1], bool)
    states = fj.simulate(net, key, steps, x0=x0)
    _, run_key = jr.split(jr.fold_in(key, 0))
    draws = [draw_randomness(jr.fold_in(run_key, t), (5,), net) for t in range(steps)]
    normals = np.stack([np.asarray(d[0]) for d in draws])
    uniforms = np.stack([np.asarray(d[1]) for d in draws])
    expected = ref.simulate_reference(
        np.asarray(net.weights), np.asarray(net.biases), 1.5, 0.7, x0, normals, uniforms
    )
    np.testing.assert_array_equal(states, expected)


def test_same_key_same_trajectory_and_jit_invariance(getkey):
    net, key = small_net(), getkey()
    a = fj.simulate(net, key, 300, batch=3)
    b = fj.simulate(net, key, 300, batch=3)
    c = jax.jit(lambda n, k: fj.simulate(n, k, 300, batch=3))(net, key)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, fj.simulate(net, getkey(), 300, batch=3))


def test_replica_does_not_depend_on_batch_size(getkey):
    net, key = small_net(2), getkey()
    one = fj.simulate(net, key, 100, batch=1)
    many = fj.simulate(net, key, 100, batch=64)
    unbatched = fj.simulate(net, key, 100)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(unbatched, many[0])
    assert len({np.asarray(r).tobytes() for r in many}) == 64


def test_burn_in_is_the_tail_of_a_longer_run(getkey):
    net, key = small_net(3), getkey()
    full = fj.simulate(net, key, 150, batch=2)
    tail = fj.simulate(net, key, 100, batch=2, burn_in=50)
    np.testing.assert_array_equal(full[:, 50:], tail)


def test_codes_match_states(getkey):
    net, key = small_net(4, n=6), getkey()
    states = fj.simulate(net, key, 500, batch=2)
    codes = fj.simulate(net, key, 500, batch=2, record="codes")
    np.testing.assert_array_equal(
        codes, ref.state_codes(states.reshape(-1, 6)).reshape(2, 500)
    )
    subset = fj.simulate(net, key, 500, batch=2, record="codes", neurons=[5, 0])
    expected = np.asarray(states[..., 5], int) + 2 * np.asarray(states[..., 0], int)
    np.testing.assert_array_equal(subset, expected)
    columns = fj.simulate(net, key, 500, batch=2, neurons=[5, 0])
    np.testing.assert_array_equal(columns, states[..., [5, 0]])


def test_noiseless_networks_skip_the_gaussian_draws_bit_identically(getkey):
    """With noise == 0 no normals are drawn; traced noise (under vmap) draws them and
    multiplies them by zero: the trajectories are identical."""
    net, key = small_net(8, n=5), getkey()
    direct = fj.simulate(net, key, 300)
    traced = eqx.filter_vmap(lambda n: fj.simulate(n, key, 300))(
        jax.tree.map(lambda x: x[None], net)
    )[0]
    np.testing.assert_array_equal(direct, traced)


def test_initial_state(getkey):
    net = fj.BinaryNetwork(np.zeros((3, 3)), np.full(3, -40.0))  # always silent
    x0 = np.array([[1, 1, 0], [0, 1, 1]], bool)
    assert not fj.simulate(net, getkey(), 5, batch=2, x0=x0).any()


def test_statistics_converge_to_the_stationary_distribution(getkey):
    """State and transition frequencies of a long run match pi and pi P (N = 4).

    Samples are correlated, so the tolerance is 6 binomial SDs of 32 independent
    replicas' pooled counts, inflated by an integrated autocorrelation time of 5."""
    net = small_net(5, n=4, noise=0.5)
    W, b = np.asarray(net.weights), np.asarray(net.biases)
    P = ref.transition_matrix(W, b, 1.0, 0.5)
    pi = ref.stationary(P)
    codes = np.asarray(
        fj.simulate(net, getkey(), 20_000, batch=32, burn_in=100, record="codes")
    )
    n = codes.size
    freq = np.bincount(codes.ravel(), minlength=16) / n
    np.testing.assert_array_less(np.abs(freq - pi), 6 * np.sqrt(5 * pi * (1 - pi) / n))
    pairs = (codes[:, :-1] * 16 + codes[:, 1:]).ravel()
    joint = np.bincount(pairs, minlength=256) / pairs.size
    expected = (pi[:, None] * P).ravel()
    tol = 6 * np.sqrt(5 * expected * (1 - expected) / pairs.size) + 1e-6
    np.testing.assert_array_less(np.abs(joint - expected), tol)
    # Firing rates and the lag-0 pair correlations, from the states directly.
    states = np.asarray(fj.simulate(net, getkey(), 20_000, batch=8, burn_in=100))
    X = ref.all_states(4)
    np.testing.assert_allclose(states.mean((0, 1)), pi @ X, atol=0.01)
    pair = np.einsum("btj,btk->jk", states.astype(float), states.astype(float)) / (
        8 * 20_000
    )
    np.testing.assert_allclose(pair, X.T @ (pi[:, None] * X), atol=0.01)


def test_vmap_over_stacked_networks(getkey):
    nets = [small_net(seed, n=3) for seed in range(4)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *nets)
    key = getkey()
    together = eqx.filter_vmap(lambda net: fj.simulate(net, key, 50))(stacked)
    for k, net in enumerate(nets):
        np.testing.assert_array_equal(together[k], fj.simulate(net, key, 50))


def test_long_runs_fit_as_codes(getkey):
    """10^6 steps of a 20-neuron network as uint32 codes: 4 MB instead of 20 MB."""
    W, b = random_weights(np.random.default_rng(6), 20, scale=0.3)
    codes = fj.simulate(fj.BinaryNetwork(W, b), getkey(), 1_000_000, record="codes")
    assert codes.dtype == jnp.uint32 and codes.nbytes == 4_000_000
    assert len(np.unique(np.asarray(codes[:1000]))) > 900  # nearly independent bits


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(steps=0), ValueError, "steps"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(steps=10, batch=0), ValueError, "batch"),
        (dict(steps=10, burn_in=-1), ValueError, "burn_in"),
        (dict(steps=10, x0=np.zeros(5)), ValueError, "x0"),
        (dict(steps=10, record="everything"), ValueError, "record"),
        (dict(steps=10, record="codes", neurons=[0, 9]), ValueError, "neurons"),
        (dict(steps=10, neurons=[0, 0]), ValueError, "neurons"),
    ],
)
def test_validation(kwargs, error, match, getkey):
    with pytest.raises(error, match=match):
        fj.simulate(small_net(), getkey(), **kwargs)


def test_key_validation():
    with pytest.raises(TypeError, match="key"):
        fj.simulate(small_net(), 0, 10)
    with pytest.raises(TypeError, match="key"):
        fj.simulate(small_net(), jr.split(jr.key(0), 3), 10)
    with pytest.raises(TypeError, match="net"):
        fj.simulate(np.zeros((2, 2)), jr.key(0), 10)


def test_codes_limited_to_32_neurons(getkey):
    net = fj.BinaryNetwork(np.zeros((40, 40)), np.zeros(40))
    with pytest.raises(ValueError, match="32"):
        fj.simulate(net, getkey(), 10, record="codes")
    assert fj.simulate(net, getkey(), 10, record="codes", neurons=range(32)).shape == (
        10,
    )


def test_ensemble_equals_separate_runs(getkey):
    nets = [small_net(seed, n=4, noise=0.3 * seed) for seed in range(3)]
    key = getkey()
    together = fj.simulate_ensemble(nets, key, 80, burn_in=5, neurons=[2, 0])
    for k, net in enumerate(nets):
        alone = fj.simulate(net, jr.fold_in(key, k), 80, burn_in=5, neurons=[2, 0])
        np.testing.assert_array_equal(together[k], alone)
    codes = fj.simulate_ensemble(nets, key, 80, burn_in=5, record="codes")
    np.testing.assert_array_equal(
        codes[1],
        fj.state_codes(fj.simulate(nets[1], jr.fold_in(key, 1), 80, burn_in=5)),
    )


def test_stack_networks_keeps_shared_fields_unbatched():
    a, b = small_net(0), small_net(1)
    stacked, axes = fj.stack_networks([a, b])
    assert stacked.weights.shape == (2, 4, 4) and axes.weights == 0
    assert stacked.noise.shape == () and axes.noise is None
    with pytest.raises(ValueError, match="same size"):
        fj.stack_networks([a, small_net(0, n=3)])
    with pytest.raises(TypeError, match="nets"):
        fj.stack_networks([])


def test_stack_networks_broadcasts_scalar_beside_vector_fields():
    a = small_net(0, noise=0.5)
    b = fj.BinaryNetwork(a.weights, a.biases, 1.0, np.array([0.1, 0.2, 0.3, 0.4]))
    stacked, axes = fj.stack_networks([a, b])
    np.testing.assert_array_equal(stacked.noise, [[0.5] * 4, [0.1, 0.2, 0.3, 0.4]])
    assert axes.noise == 0 and axes.weights is None
