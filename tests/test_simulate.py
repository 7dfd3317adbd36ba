import math
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import reference as ref
import scipy.special
import scipy.stats
from conftest import random_weights
from jax.extend.random import threefry_2x32

import fluxjax as fj
from fluxjax.experiments._common import (
    TRIPLETS,
    StudyConfig,
    flux_indicator,
    record_core,
)
from fluxjax.network import (
    draw_randomness,
    firing_threshold,
    gaussian_from_words,
    logistic_from_words,
    random_words,
    stream_key,
    threefry2x32,
    update,
)


simulate_module = sys.modules["fluxjax.simulate"]


def small_net(seed=0, n=4, noise=0.0, temperature=1.0, dtype=None):
    W, b = random_weights(np.random.default_rng(seed), n)
    return fj.BinaryNetwork(W, b, temperature, noise, dtype=dtype)


# --- The documented draws, re-implemented in numpy ----------------------------------


def numpy_threefry(key, x0, x1):
    """Threefry-2x32-20 (Salmon et al. 2011) in plain numpy uint32 arithmetic."""
    rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
    k = [np.uint32(key[0]), np.uint32(key[1])]
    k.append(k[0] ^ k[1] ^ np.uint32(0x1BD11BDA))
    x0, x1 = np.broadcast_arrays(np.asarray(x0, np.uint32), np.asarray(x1, np.uint32))
    with np.errstate(over="ignore"):
        x0, x1 = x0 + k[0], x1 + k[1]
        for i in range(5):
            for r in rotations[i % 2]:
                x0 = x0 + x1
                x1 = (x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))
                x1 = x1 ^ x0
            x0 = x0 + k[(i + 1) % 3]
            x1 = x1 + k[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def numpy_draws(stream, counters, gaussian_bits=32):
    """The documented uniforms U = (w0 + 1/2) 2^-32 and normals sqrt(2) erfinv(v) of
    the counters (step, index): v = (2m + 1) 2^-p from the top p bits of w1."""
    w0, w1 = numpy_threefry(stream, *counters)
    uniforms = (w0.astype(np.float64) + 0.5) * 2.0**-32
    top = (w1 >> np.uint32(32 - gaussian_bits)).astype(np.float64)
    v = (top - 2.0 ** (gaussian_bits - 1) + 0.5) * 2.0 ** (1 - gaussian_bits)
    return math.sqrt(2.0) * scipy.special.erfinv(v), uniforms


@pytest.mark.float64
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_matches_numpy_loop_given_the_documented_draws(getkey, dtype):
    """A plain numpy loop fed the documented draws (the Threefry counters (t, i) under
    the stream key of each replica's run key, re-implemented in numpy) gives the same
    trajectory bit for bit, after a burn-in and for a second replica (key schedule in
    fluxjax/simulate.py, draws in fluxjax/network.py)."""
    net = small_net(1, n=5, noise=0.7, temperature=1.5, dtype=dtype)
    key, steps, burn_in = getkey(), 300, 37
    x0 = np.array([1, 0, 0, 1, 1], bool)
    states = fj.simulate(net, key, steps, batch=2, x0=x0, burn_in=burn_in)
    W, b = np.asarray(net.weights, float), np.asarray(net.biases, float)
    counters = (np.arange(burn_in + steps)[:, None], np.arange(5)[None, :])
    for k in range(2):
        _, run_key = jr.split(jr.fold_in(key, k))
        stream = np.asarray(jr.bits(run_key, (2,), jnp.uint32))
        bits = 24 if dtype == jnp.float32 else 32
        normals, uniforms = numpy_draws(stream, counters, bits)
        expected = ref.simulate_reference(W, b, 1.5, 0.7, x0, normals, uniforms)
        np.testing.assert_array_equal(states[k], expected[burn_in:])


def test_draw_randomness_is_what_simulate_uses(getkey):
    """The public per-step draws reproduce simulate (replica 0, run key, step t)."""
    net = small_net(7, n=4, noise=0.3)
    key = getkey()
    states = fj.simulate(net, key, 50, x0=np.zeros(4, bool))
    _, run_key = jr.split(jr.fold_in(key, 0))
    x = jnp.zeros(4, bool)
    for t in range(50):
        x = update(net, x, *draw_randomness(run_key, t, (4,), net))
        np.testing.assert_array_equal(x, states[t])


def test_step_numbers_the_rows_of_a_batch(getkey):
    """BinaryNetwork.step on states (rows r, neurons i) uses counters (0, r n + i)."""
    net = small_net(2, n=3, noise=0.4)
    key = getkey()
    x = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]], bool)
    stepped = np.asarray(net.step(key, x))
    stream = np.asarray(stream_key(key))
    normals, uniforms = numpy_draws(stream, (0, np.arange(12).reshape(4, 3)))
    W, b = np.asarray(net.weights), np.asarray(net.biases)
    for r in range(4):
        expected = ref.simulate_reference(
            W, b, 1.0, 0.4, x[r], normals[r : r + 1], uniforms[r : r + 1]
        )
        np.testing.assert_array_equal(stepped[r], expected[0])


def test_threefry_is_jax_threefry(getkey):
    key = np.asarray(jr.bits(getkey(), (2,), jnp.uint32))
    x0 = np.asarray(jr.bits(getkey(), (1000,), jnp.uint32))
    x1 = np.asarray(jr.bits(getkey(), (1000,), jnp.uint32))
    expected = np.asarray(threefry_2x32(jnp.asarray(key), jnp.concatenate([x0, x1])))
    np.testing.assert_array_equal(
        np.concatenate(threefry2x32(key[0], key[1], x0, x1)), expected
    )
    np.testing.assert_array_equal(np.concatenate(numpy_threefry(key, x0, x1)), expected)


def test_random_words_of_several_steps_are_the_single_steps(getkey):
    stream = stream_key(getkey())
    w0, w1 = random_words(stream, 7, (4, 3), num_steps=5)
    for t in range(5):
        one = random_words(stream, 7 + t, (4, 3))
        np.testing.assert_array_equal(w0[t], one[0])
        np.testing.assert_array_equal(w1[t], one[1])


@pytest.mark.float64
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_bernoulli_draws_keep_the_full_32_bit_resolution(dtype):
    """L(w) = logit((w + 1/2) 2^-32) is odd under w -> 2^32 - 1 - w, non-decreasing
    and accurate; so P(fire) = P(L < u) resolves 2^-32: P(L < -21) = 3 / 2^32, close to
    sigmoid(-21) = 7.6e-10 (a float32 uniform gives 0 or 1.2e-7 there)."""
    rng = np.random.default_rng(0)
    low = np.arange(16, dtype=np.uint32)
    middle = np.sort(rng.integers(16, 2**31, 50_000)).astype(np.uint32)
    words = np.concatenate([low, middle, ~middle[::-1], ~low[::-1]])
    L = np.asarray(logistic_from_words(words, dtype), np.float64)
    np.testing.assert_array_equal(L, -L[::-1])
    assert np.all(np.diff(L) >= 0)
    exact = scipy.special.logit((words.astype(np.float64) + 0.5) * 2.0**-32)
    tolerance = 1e-13 if dtype == jnp.float64 else 3e-7
    np.testing.assert_allclose(L, exact, rtol=tolerance, atol=tolerance)
    assert np.sum(L < -21.0) == 3 and np.sum(L > 21.0) == 3


@pytest.mark.float64
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_gaussian_draws(dtype):
    """xi(w) is odd under w -> ~w, equals sqrt(2) erfinv(v) (Giles' float32 polynomial
    to 3e-7 relative) and is N(0, 1) (Kolmogorov-Smirnov on 200 000 words)."""
    rng = np.random.default_rng(1)
    words = rng.integers(0, 2**32, 200_000).astype(np.uint32)
    xi = np.asarray(gaussian_from_words(words, dtype), np.float64)
    mirrored = np.asarray(gaussian_from_words(~words, dtype), np.float64)
    np.testing.assert_array_equal(xi, -mirrored)
    bits = 24 if dtype == jnp.float32 else 32
    top = (words >> np.uint32(32 - bits)).astype(np.float64)
    v = (top - 2.0 ** (bits - 1) + 0.5) * 2.0 ** (1 - bits)
    exact = math.sqrt(2.0) * scipy.special.erfinv(v)
    np.testing.assert_allclose(xi, exact, rtol=3e-7 if bits == 24 else 1e-12)
    assert scipy.stats.kstest(xi, "norm").pvalue > 1e-3
    ends = np.asarray(gaussian_from_words(np.array([0, 2**32 - 1], np.uint32), dtype))
    assert ends[0] == -ends[1] and ends[1] == pytest.approx(
        5.42 if bits == 24 else 6.34, abs=0.01
    )


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


@pytest.mark.parametrize(("elements", "max_steps"), [(1, 1), (21, 7)])
def test_results_do_not_depend_on_the_chunking(
    getkey, monkeypatch, elements, max_steps
):
    """Chunks of 1, 2 or 7 updates (101 and 11 are prime: the last chunk runs past the
    end) and the default: the same trajectories, codes and counts."""
    net, key = small_net(9, n=3, noise=0.5), getkey()
    groups = [[0, 1], [2]]
    assert simulate_module._phase_chunk(101, 7) == 7  # no divisor: masked
    assert simulate_module._phase_chunk(1000, 512) == 500

    def run():
        return (
            fj.simulate(net, key, 101, batch=3, burn_in=11),
            fj.simulate(net, key, 101, batch=3, burn_in=11, record=fj.Codes()),
            fj.simulate(net, key, 101, burn_in=11, record=fj.PairCounts(groups)),
        )

    default = run()
    monkeypatch.setattr(simulate_module, "CHUNK_ELEMENTS", elements)
    monkeypatch.setattr(simulate_module, "MAX_CHUNK_STEPS", max_steps)
    for a, b in zip(default, run()):
        np.testing.assert_array_equal(a, b)


def test_codes_match_states(getkey):
    net, key = small_net(4, n=6), getkey()
    states = fj.simulate(net, key, 500, batch=2)
    codes = fj.simulate(net, key, 500, batch=2, record=fj.Codes())
    np.testing.assert_array_equal(
        codes, ref.state_codes(states.reshape(-1, 6)).reshape(2, 500)
    )
    subset = fj.simulate(net, key, 500, batch=2, record=fj.Codes([5, 0]))
    expected = np.asarray(states[..., 5], int) + 2 * np.asarray(states[..., 0], int)
    np.testing.assert_array_equal(subset, expected)
    columns = fj.simulate(net, key, 500, batch=2, record=fj.States([5, 0]))
    np.testing.assert_array_equal(columns, states[..., [5, 0]])


def numpy_pair_counts(states, groups):
    """counts[k, l, a, b] = #{t: c_k(x_t) = a, c_l(x_{t+1}) = b}, plain numpy."""
    S = 2 ** max(map(len, groups))
    codes = np.stack(
        [sum(states[:, i].astype(int) << k for k, i in enumerate(g)) for g in groups],
        axis=-1,
    )
    counts = np.zeros((len(groups), len(groups), S, S), int)
    for k in range(len(groups)):
        for l in range(len(groups)):
            np.add.at(counts[k, l], (codes[:-1, k], codes[1:, l]), 1)
    return counts


def test_pair_counts_match_the_recorded_states(getkey):
    """Streamed counts equal counts of the stored trajectory (groups of 3, 1 and 2
    neurons, 1000 steps after a burn-in), per replica and per ensemble member."""
    net, key = small_net(5, n=6, noise=0.5), getkey()
    groups = [[0, 1, 2], [5], [4, 3]]
    states = np.asarray(fj.simulate(net, key, 1000, batch=3, burn_in=33))
    counts = fj.simulate(
        net, key, 1000, batch=3, burn_in=33, record=fj.PairCounts(groups)
    )
    assert counts.shape == (3, 3, 3, 8, 8) and counts.dtype == jnp.int32
    for k in range(3):
        np.testing.assert_array_equal(counts[k], numpy_pair_counts(states[k], groups))
    nets = [net, small_net(6, n=6)]
    together = fj.simulate_ensemble(
        nets, key, 500, burn_in=2, record=fj.PairCounts(groups)
    )
    for k, member in enumerate(nets):
        alone = np.asarray(fj.simulate(member, jr.fold_in(key, k), 500, burn_in=2))
        np.testing.assert_array_equal(together[k], numpy_pair_counts(alone, groups))


@pytest.mark.float64
def test_streamed_indicator_equals_the_indicator_of_stored_states(getkey):
    """flux_indicator (streamed counts) == plugin_triplet_flux of record_core's states and the
    numpy reference on them, for the same keys (12 neurons, core = neurons 2..11)."""
    nets = [small_net(seed, n=12, noise=0.5) for seed in range(3)]
    config = StudyConfig(num_seeds=3, steps=3_000, burn_in=50)
    core = tuple(range(2, 12))
    key = getkey()
    intra, inter = flux_indicator(nets, key, config, core)
    states = record_core(nets, key, config, core)
    expected = fj.plugin_triplet_flux(states, TRIPLETS)
    np.testing.assert_allclose(intra, expected[0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(inter, expected[1], rtol=1e-10, atol=1e-14)
    numpy_intra, numpy_inter = ref.plugin_triplet_flux(np.asarray(states[1]), TRIPLETS)
    np.testing.assert_allclose([intra[1], inter[1]], [numpy_intra, numpy_inter])


def test_streaming_memory_does_not_grow_with_steps():
    """A 10^7-step run of the paper's 125-neuron network with streamed triplet counts
    compiles to well under 10 MB of buffers (the states would take 1.25 GB); checked
    from XLA's memory analysis, without running it."""
    net, _ = fj.l5_microcircuit(42)
    plan = simulate_module._plan(net, 10**7, 10**4, fj.PairCounts(TRIPLETS), 1, None)
    compiled = simulate_module._simulate_one.lower(net, jr.key(0), None, None, plan)
    memory = compiled.compile().compiled.memory_analysis()
    used = memory.temp_size_in_bytes + memory.output_size_in_bytes
    assert used < 10_000_000


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


def test_float32_networks_stay_float32(getkey):
    net = small_net(3, n=4, noise=0.5, dtype=jnp.float32)
    xi, words = draw_randomness(getkey(), 0, (4,), net)
    assert xi.dtype == jnp.float32 and words.dtype == jnp.uint32
    theta = firing_threshold(net, xi, words)
    assert theta.dtype == jnp.float32
    assert fj.simulate(net, getkey(), 10).dtype == jnp.bool_


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_statistics_converge_to_the_stationary_distribution(getkey, noise):
    """State and transition frequencies of a long run match pi and pi P (N = 4).

    Samples are correlated, so the tolerance is 6 binomial SDs of 32 independent
    replicas' pooled counts, inflated by an integrated autocorrelation time of 5."""
    net = small_net(5, n=4, noise=noise)
    W, b = np.asarray(net.weights), np.asarray(net.biases)
    P = ref.transition_matrix(W, b, 1.0, noise)
    pi = ref.stationary(P)
    codes = np.asarray(
        fj.simulate(net, getkey(), 20_000, batch=32, burn_in=100, record=fj.Codes())
    )
    n = codes.size
    freq = np.bincount(codes.ravel(), minlength=16) / n
    np.testing.assert_array_less(np.abs(freq - pi), 6 * np.sqrt(5 * pi * (1 - pi) / n))
    pairs = (codes[:, :-1] * 16 + codes[:, 1:]).ravel()
    joint = np.bincount(pairs, minlength=256) / pairs.size
    expected = (pi[:, None] * P).ravel()
    tol = 6 * np.sqrt(5 * expected * (1 - expected) / pairs.size) + 1e-6
    np.testing.assert_array_less(np.abs(joint - expected), tol)
    # The streamed transition counts of the whole state give the same joint.
    counts = fj.simulate(
        net, getkey(), 20_000, batch=32, burn_in=100, record=fj.PairCounts([range(4)]),
    )  # fmt: skip
    joint = np.asarray(counts).sum(0)[0, 0].ravel() / (32 * 19_999)
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
    codes = fj.simulate(fj.BinaryNetwork(W, b), getkey(), 1_000_000, record=fj.Codes())
    assert codes.dtype == jnp.uint32 and codes.nbytes == 4_000_000
    assert len(np.unique(np.asarray(codes[:1000]))) > 900  # nearly independent bits


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(steps=0), ValueError, "steps"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(steps=10, batch=0), ValueError, "batch"),
        (dict(steps=10, burn_in=-1), ValueError, "burn_in"),
        (dict(steps=2**32), ValueError, "burn_in \\+ steps"),
        (dict(steps=10, x0=np.zeros(5)), ValueError, "x0"),
        (dict(steps=10, record="everything"), TypeError, "record"),
        (dict(steps=10, record=fj.Codes([0, 9])), ValueError, "neurons"),
        (dict(steps=10, record=fj.States([0, 0])), ValueError, "neurons"),
        (dict(steps=10, record="pair_counts"), TypeError, "PairCounts"),
        (dict(steps=10, record=fj.States), TypeError, "record"),
        (dict(steps=10, record=fj.PairCounts([[0, 7]])), ValueError, "groups"),
        (dict(steps=10, record=fj.PairCounts([])), ValueError, "groups"),
        (dict(steps=10, batch=2, devices=[]), ValueError, "devices"),
    ],
)
def test_validation(kwargs, error, match, getkey):
    with pytest.raises(error, match=match):
        fj.simulate(small_net(), getkey(), **kwargs)


def test_a_string_is_no_list_of_groups(getkey):
    with pytest.raises(TypeError, match="groups"):
        fj.simulate(small_net(), getkey(), 10, record=fj.PairCounts("01"))


def test_key_validation():
    with pytest.raises(TypeError, match="key"):
        fj.simulate(small_net(), 0, 10)
    with pytest.raises(TypeError, match="key"):
        fj.simulate(small_net(), jr.split(jr.key(0), 3), 10)
    with pytest.raises(TypeError, match="net"):
        fj.simulate(np.zeros((2, 2)), jr.key(0), 10)
    with pytest.raises(TypeError, match="one per network"):
        fj.simulate_ensemble([small_net(), small_net(1)], jr.split(jr.key(0), 3), 10)


def test_codes_limited_to_32_neurons(getkey):
    net = fj.BinaryNetwork(np.zeros((40, 40)), np.zeros(40))
    with pytest.raises(ValueError, match="32"):
        fj.simulate(net, getkey(), 10, record=fj.Codes())
    assert fj.simulate(net, getkey(), 10, record=fj.Codes(range(32))).shape == (10,)


def test_ensemble_equals_separate_runs(getkey):
    nets = [small_net(seed, n=4, noise=0.3 * seed) for seed in range(3)]
    key = getkey()
    together = fj.simulate_ensemble(nets, key, 80, burn_in=5, record=fj.States([2, 0]))
    for k, net in enumerate(nets):
        alone = fj.simulate(
            net, jr.fold_in(key, k), 80, burn_in=5, record=fj.States([2, 0])
        )
        np.testing.assert_array_equal(together[k], alone)
    codes = fj.simulate_ensemble(nets, key, 80, burn_in=5, record=fj.Codes())
    np.testing.assert_array_equal(
        codes[1],
        fj.state_codes(fj.simulate(nets[1], jr.fold_in(key, 1), 80, burn_in=5)),
    )
    keys = jr.split(key, 3)  # one key per network
    explicit = fj.simulate_ensemble(nets, keys, 80, burn_in=5)
    np.testing.assert_array_equal(
        explicit[2], fj.simulate(nets[2], keys[2], 80, burn_in=5)
    )


def test_ensembles_run_in_groups_with_the_same_results(getkey, monkeypatch):
    """Networks with different weights run in calls of CPU_NETWORKS_PER_DEVICE (here
    3: groups of 3, 3, 1 of seven networks, one noisy): the same records as one call,
    and network k still equals its separate run."""
    nets = [small_net(seed, n=4, noise=0.3 * (seed == 5)) for seed in range(7)]
    key = getkey()
    groups = [[0, 1], [2, 3]]

    def run():
        return (
            fj.simulate_ensemble(nets, key, 60, burn_in=4),
            fj.simulate_ensemble(nets, key, 60, record=fj.PairCounts(groups)),
        )

    one_call = run()
    monkeypatch.setattr(simulate_module, "CPU_NETWORKS_PER_DEVICE", 3)
    grouped = run()
    for a, b in zip(one_call, grouped, strict=True):
        np.testing.assert_array_equal(a, b)
    alone = fj.simulate(nets[6], jr.fold_in(key, 6), 60, burn_in=4)
    np.testing.assert_array_equal(grouped[0][6], alone)


def test_stack_networks_keeps_shared_fields_unbatched():
    a, b = small_net(0), small_net(1)
    stacked, axes = fj.stack_networks([a, b])
    assert stacked.weights.shape == (2, 4, 4) and axes.weights == 0
    assert stacked.noise is None and axes.noise is None  # noiseless: structure
    with pytest.raises(ValueError, match="same size"):
        fj.stack_networks([a, small_net(0, n=3)])
    with pytest.raises(TypeError, match="nets"):
        fj.stack_networks([])


def test_ensemble_of_noiseless_and_noisy_networks_equals_separate_runs(getkey):
    quiet, loud = small_net(0), small_net(0, noise=0.7)
    assert quiet.noise is None and loud.noise is not None
    key = getkey()
    together = fj.simulate_ensemble([quiet, loud], key, 50, burn_in=3)
    for k, net in enumerate([quiet, loud]):
        alone = fj.simulate(net, jr.fold_in(key, k), 50, burn_in=3)
        np.testing.assert_array_equal(together[k], alone)


@pytest.mark.float64
def test_stack_networks_broadcasts_scalar_beside_vector_fields():
    a = small_net(0, noise=0.5)
    b = fj.BinaryNetwork(a.weights, a.biases, 1.0, np.array([0.1, 0.2, 0.3, 0.4]))
    stacked, axes = fj.stack_networks([a, b])
    np.testing.assert_array_equal(stacked.noise, [[0.5] * 4, [0.1, 0.2, 0.3, 0.4]])
    assert axes.noise == 0 and axes.weights is None
