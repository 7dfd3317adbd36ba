import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import reference as ref
from conftest import random_weights
from sklearn.metrics import mutual_info_score

import fluxjax as fj


def net5(seed=21, noise=0.5):
    W, b = random_weights(np.random.default_rng(seed), 5)
    return fj.BinaryNetwork(W, b, 1.0, noise)


@pytest.fixture(scope="module")
def trajectory():
    return np.asarray(fj.simulate(net5(), jr.key(7), 5000, batch=3))


@pytest.mark.float64
def test_plugin_matches_reference_and_sklearn(trajectory):
    got = np.asarray(fj.plugin_flux(trajectory))
    for r in range(3):
        assert abs(got[r] - ref.plugin_flux(trajectory[r])) < 1e-12
        codes = ref.state_codes(trajectory[r])
        sk = mutual_info_score(codes[:-1], codes[1:]) / np.log(2)
        assert abs(got[r] - sk) < 1e-12


def test_codes_and_states_give_the_same_estimates(trajectory):
    codes = ref.state_codes(trajectory.reshape(-1, 5)).reshape(3, -1).astype(np.uint32)
    for correction in [None, "miller-madow", "extrapolate"]:
        np.testing.assert_allclose(
            fj.plugin_flux(codes, correction),
            fj.plugin_flux(trajectory, correction),
            atol=1e-5,  # the same counts in tables of other sizes: float32 sum order
        )
    np.testing.assert_allclose(
        fj.plugin_entropy(codes), fj.plugin_entropy(trajectory), atol=1e-12
    )


@pytest.mark.float64
def test_table_and_sorting_count_the_same(trajectory):
    """Concrete codes are counted in a table; codes traced inside jit (range unknown)
    and codes of 13 bits and more by sorting: the same estimates."""
    import jax

    codes = ref.state_codes(trajectory.reshape(-1, 5)).reshape(3, -1).astype(np.uint32)
    wide = codes | np.uint32(1 << 13)  # 14-bit codes: sorted, same information
    for correction in [None, "miller-madow", "extrapolate"]:
        table = fj.plugin_flux(codes, correction)
        sorted_ = jax.jit(fj.plugin_flux, static_argnums=1)(codes, correction)
        np.testing.assert_allclose(sorted_, table, atol=1e-12)
        np.testing.assert_allclose(fj.plugin_flux(wide, correction), table, atol=1e-12)
    np.testing.assert_allclose(
        jax.jit(fj.plugin_entropy)(codes), fj.plugin_entropy(codes), atol=1e-12
    )


@pytest.mark.float64
def test_wide_states_are_packed_into_several_words(getkey):
    """n = 70 needs three 32-bit words; the estimate equals the reference's."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2, (400, 5)).astype(bool)
    wide = np.repeat(base, 14, axis=1)  # 70 neurons, 5 independent blocks
    assert abs(fj.plugin_flux(wide) - ref.plugin_flux(base)) < 1e-12
    assert abs(fj.plugin_entropy(wide) - ref.plugin_entropy(base)) < 1e-12


@pytest.mark.float64
def test_miller_madow_and_entropy_match_reference(trajectory):
    np.testing.assert_allclose(
        fj.plugin_flux(trajectory, "miller-madow"),
        [ref.miller_madow_flux(t) for t in trajectory],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        fj.plugin_entropy(trajectory),
        [ref.plugin_entropy(t) for t in trajectory],
        atol=1e-12,
    )


@pytest.mark.float64
def test_closed_forms():
    rng = np.random.default_rng(0)
    clock = np.tile(np.array([[True], [False]]), (500, 1))
    # A deterministic invertible map carries all of H(x_t) over the T - 1 pairs.
    assert abs(fj.plugin_flux(clock) - ref.plugin_entropy(clock[:-1])) < 1e-12
    counter = ref.all_states(3).astype(bool)[np.arange(4000) % 8]  # a cycle of 8 states
    assert abs(fj.plugin_flux(counter) - ref.plugin_entropy(counter[:-1])) < 1e-12
    assert abs(fj.plugin_flux(counter) - 3.0) < 1e-3
    independent = rng.integers(0, 2, (200_000, 2)).astype(bool)
    assert abs(fj.plugin_flux(independent)) < 1e-3


def test_flux_within_0p01_bit_of_exact_at_1e6_samples(getkey):
    net = net5(22)
    states = fj.simulate(net, getkey(), 1_000_000, burn_in=100)
    exact = fj.exact_flux(net)
    for correction in [None, "miller-madow"]:
        assert abs(fj.plugin_flux(states, correction) - exact) < 0.01


def test_each_correction_reduces_the_bias_at_small_T(getkey):
    """At T = 2000 on an N = 5 net (32 states, 1024 joint bins), the mean over 16
    replicas of every corrected estimate has at most 3/4 of the plug-in's bias
    (Miller–Madow gains least: it cannot see the unobserved bins)."""
    net = net5(23)
    exact = float(fj.exact_flux(net))
    states = fj.simulate(net, getkey(), 2000, batch=16, burn_in=200)
    plain = float(jnp.mean(fj.plugin_flux(states))) - exact
    assert plain > 0.01  # the plug-in is biased upwards
    for correction in ["miller-madow", "shuffle", "extrapolate"]:
        estimate = fj.plugin_flux(states, correction, key=getkey())
        bias = float(jnp.mean(estimate)) - exact
        assert abs(bias) < 0.75 * plain, correction


def test_stderr_matches_spread_across_replicas(getkey):
    """The jackknife SE of one run agrees (within a factor 1.6) with the SD of the
    estimates of 32 independent runs."""
    net = net5(24)
    states = fj.simulate(net, getkey(), 20_000, batch=32, burn_in=200)
    values, stderr = fj.plugin_flux_stderr(states, num_blocks=20)
    np.testing.assert_allclose(values, fj.plugin_flux(states), atol=1e-12)
    ratio = float(jnp.mean(stderr)) / float(jnp.std(values, ddof=1))
    assert 1 / 1.6 < ratio < 1.6


def assert_matches_reference_triplets(trajectory, intra, inter):
    """The indicator of triplets (0, 1, 2), (3, 4) against the reference's, which
    takes triplets of three: neuron 5 is added, always silent."""
    for r in range(3):
        expected = ref.plugin_triplet_flux(
            np.concatenate([trajectory[r], np.zeros((5000, 1), bool)], 1),
            [(0, 1, 2), (3, 4, 5)],
        )
        assert abs(intra[r] - expected[0]) < 1e-12
        assert abs(inter[r] - expected[1]) < 1e-12


@pytest.mark.float64
def test_triplet_flux_matches_reference(trajectory):
    triplets = [(0, 1, 2), (3, 4)]
    intra, inter = fj.plugin_triplet_flux(trajectory, triplets)
    assert_matches_reference_triplets(trajectory, intra, inter)


@pytest.mark.float64
def test_triplet_flux_from_counts_matches_reference(trajectory):
    """Counts tallied by numpy from a trajectory give the reference's indicator."""
    triplets = [(0, 1, 2), (3, 4)]
    codes = [
        trajectory[..., list(t)].astype(int) @ (1 << np.arange(len(t)))
        for t in triplets
    ]
    counts = np.zeros((3, 2, 2, 8, 8), np.int64)
    for k in range(2):
        for l in range(2):
            for r in range(3):
                np.add.at(counts[r, k, l], (codes[k][r, :-1], codes[l][r, 1:]), 1)
    intra, inter = fj.plugin_triplet_flux_from_counts(counts)
    assert_matches_reference_triplets(trajectory, intra, inter)
    with pytest.raises(ValueError, match="counts must have shape"):
        fj.plugin_triplet_flux_from_counts(counts[:, :1, :1])


def test_triplet_flux_converges_to_exact(getkey):
    W, b = random_weights(np.random.default_rng(25), 7)
    net = fj.BinaryNetwork(W, b, 1.0, 0.5)
    triplets = [(0, 1, 2), (3, 4, 5), (6,)]
    states = fj.simulate(net, getkey(), 500_000, burn_in=100)
    for got, exact in zip(
        fj.plugin_triplet_flux(states, triplets), fj.exact_triplet_flux(net, triplets)
    ):
        assert abs(got - exact) < 5e-3


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: fj.plugin_flux(s, "jackknife"), ValueError, "correction"),
        (lambda s: fj.plugin_flux(s, "shuffle"), ValueError, "key"),
        (lambda s: fj.plugin_flux(s[:5]), ValueError, "at least 8"),
        (lambda s: fj.plugin_flux(s.astype(float)), TypeError, "states"),
        (
            lambda s: fj.plugin_flux_stderr(s[:100], num_blocks=20),
            ValueError,
            "at least 160",
        ),
        (lambda s: fj.plugin_triplet_flux(s, [(0, 1, 2)]), ValueError, "two groups"),
        (lambda s: fj.plugin_triplet_flux(s, [(0, 1), (1, 2)]), ValueError, "disjoint"),
        (lambda s: fj.plugin_triplet_flux(s, [(0, 1), (2, 9)]), ValueError, "triplets"),
    ],
)
def test_validation(trajectory, call, error, match):
    with pytest.raises(error, match=match):
        call(trajectory[0])


@pytest.mark.float64
def test_transfer_entropy_matches_reference_entropies_and_exact(getkey):
    """Plug-in TE from the rest of a 5-neuron net into neurons [0, 1]: the identity
    H(y',y) + H(x,y) - H(y',x,y) - H(y) computed with the reference's plug-in
    entropies, and convergence to exact TE at 10^6 samples."""
    W, b = random_weights(np.random.default_rng(26), 5)
    net = fj.BinaryNetwork(W, b, 1.0, 0.3)
    states = np.asarray(fj.simulate(net, getkey(), 1_000_000, burn_in=100))
    y, x = states[:, :2], states[:, 2:]
    te = fj.plugin_transfer_entropy(y, x)
    yc, xc = ref.state_codes(y), ref.state_codes(x)
    y1, x0, y0 = yc[1:], xc[:-1], yc[:-1]  # codes < 4, < 8, < 4: combine into one int
    h = ref.plugin_entropy_of_codes
    expected = h(y1 + 4 * y0) + h(x0 + 8 * y0) - h(y1 + 4 * x0 + 32 * y0) - h(y0)
    assert abs(te - expected) < 1e-10
    assert abs(te - fj.exact_transfer_entropy(net, [0, 1])) < 0.005
    codes = fj.plugin_transfer_entropy(yc.astype(np.uint32), xc.astype(np.uint32))
    assert abs(codes - te) < 1e-12


def test_integer_codes_of_different_ranges_share_one_compilation():
    """Codes below 2^6 of any range count in one 6-bit table (one compilation), and
    the estimate equals the sorting path's (codes above 2^12) after a shift."""
    from fluxjax.info import plugin

    rng = np.random.default_rng(3)
    before = plugin._flux_and_jackknife._cache_size()
    values = []
    for high in (3, 17, 40, 63):
        codes = rng.integers(0, high + 1, 4000)
        values.append(float(fj.plugin_flux(codes)))
        sorted_path = float(fj.plugin_flux(codes + (1 << 13)))
        assert abs(values[-1] - sorted_path) < 1e-5, (high, values[-1], sorted_path)
    # one table compilation, one sorting compilation
    assert plugin._flux_and_jackknife._cache_size() - before <= 2


def reference_shuffle_flux(states, key, num_shuffles=8):
    """The shuffle correction with the reference's plug-in MI and the permutations that
    ``jax.random.permutation`` draws from the same keys."""
    codes = ref.state_codes(states)
    past, future = codes[:-1], codes[1:]
    surrogates = [
        ref.plugin_mi(past, future[np.asarray(jr.permutation(k, past.size))])
        for k in jr.split(key, num_shuffles)
    ]
    return ref.plugin_mi(past, future) - np.mean(surrogates)


@pytest.mark.float64
def test_shuffle_matches_reference_in_table_and_sorting_paths(trajectory, getkey):
    """n = 5 at T = 5000 is counted in tables, n = 12 at T = 600 (a 2^24-entry pair
    table for 599 pairs) by sorting: both equal the reference, as do the plain and
    Miller–Madow estimates of the sorted 12-neuron states."""
    key = getkey()
    got = fj.plugin_flux(trajectory, "shuffle", key=key)
    for r in range(3):
        assert abs(got[r] - reference_shuffle_flux(trajectory[r], key)) < 1e-12
    W, b = random_weights(np.random.default_rng(27), 12)
    wide = np.asarray(fj.simulate(fj.BinaryNetwork(W, b, 1.0, 0.5), getkey(), 600))
    with pytest.warns(UserWarning, match="log2 T"):  # most of the 599 states are new
        value = fj.plugin_flux(wide, "shuffle", key=key)
        plain = fj.plugin_flux(wide)
        madow = fj.plugin_flux(wide, "miller-madow")
    assert abs(value - reference_shuffle_flux(wide, key)) < 1e-12
    assert abs(plain - ref.plugin_flux(wide)) < 1e-12
    assert abs(madow - ref.miller_madow_flux(wide)) < 1e-12


@pytest.mark.parametrize(
    ("bits", "T", "correction", "num_blocks"),
    [
        (12, 500, "shuffle", 0),  # the case: sorted (no 2^24 table)
        (8, 20_000, "shuffle", 0),  # 2^16-entry pair tables
        (10, 4000, "shuffle", 20),  # jackknife blocks with shuffles
    ],
)
def test_memory_does_not_grow_with_the_batch(bits, T, correction, num_blocks):
    """XLA's temporary buffers of the compiled estimator for 8 trajectories are those
    of 1 plus at most a copy of the input: trajectories, surrogates and jackknife
    blocks are counted one after another (the code before held a 2^24-entry table per
    trajectory and surrogate: 8 GB at bits = 12, batch 8)."""
    from fluxjax.info import _counts, plugin

    def temporary_bytes(batch):
        words = jnp.zeros((batch, T, 1), jnp.uint32)
        compiled = plugin._flux_and_jackknife.lower(
            words, bits, correction, jr.key(0), 8, num_blocks
        ).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    one, eight = temporary_bytes(1), temporary_bytes(8)
    assert eight <= one + 8 * T * 4 + (1 << 20), (one, eight)
    table_bytes = 8 * min(1 << 2 * bits, _counts.TABLE_LOAD * T)
    assert one < 4 * table_bytes + 64 * T * 4 + (1 << 20), one


def test_undersampled_estimates_warn_with_the_cap():
    """300 independent random bits, 2 10^4 states (all distinct): every plug-in
    estimator warns, naming the cap log2 T and what to use instead, also inside a
    caller's jit; the estimate is the cap (14.29 bit)."""
    import jax

    x = np.random.default_rng(0).random((20_000, 300)) < 0.5
    cap = "log2 T = 14.29 bit"
    with pytest.warns(UserWarning, match=cap) as caught:
        value = fj.plugin_flux(x)
    assert "fj.flux(net, key)" in str(caught[0].message)
    assert abs(value - np.log2(19_999)) < 1e-3
    with pytest.warns(UserWarning, match=cap):
        fj.plugin_flux_stderr(x, "miller-madow")
    with pytest.warns(UserWarning, match=cap) as caught:
        fj.plugin_entropy(x)
    assert "nsb_entropy" in str(caught[0].message)
    with pytest.warns(UserWarning, match=cap):
        jax.block_until_ready(jax.jit(fj.plugin_flux)(x))
    with pytest.warns(UserWarning, match="log2 T = 8.97 bit"):  # codes; a batch
        fj.plugin_flux(np.arange(2 * 501).reshape(2, 501) % 400)


def test_well_sampled_estimates_do_not_warn(trajectory):
    """5 neurons (at most 32 states) at T = 5000, and the study's sizes: a 10-neuron
    core has at most 1024 states, far below T / 2 at T >= 10^5."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fj.plugin_flux(trajectory)
        fj.plugin_flux_stderr(trajectory)
        fj.plugin_entropy(trajectory)
        fj.plugin_flux(trajectory, "extrapolate")
        codes = np.random.default_rng(1).integers(0, 1024, 100_000)
        fj.plugin_flux(codes)  # 10 random bits, 10^5 steps: 1024 distinct states
