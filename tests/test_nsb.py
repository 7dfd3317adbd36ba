"""NSB entropy and flux: against an independent quadrature, against ndd, on known
entropies and on simulated networks.

Frozen ndd values (``NDD_VALUES``): ndd 1.10.6 (a Fortran NSB implementation,
https://github.com/simomarsili/ndd) with numpy 1.26.4 and scipy 1.17.1 on Python
3.11.7, built in a throwaway virtual environment (it needs numpy < 2 and gfortran):

    apt-get install -y gfortran
    python3 -m venv /tmp/nddenv && . /tmp/nddenv/bin/activate
    pip install "numpy<2" "setuptools<60" wheel scipy
    pip install --no-build-isolation ndd==1.10.6
    python - tests/test_nsb.py <<'EOF'
    import ast, sys, ndd
    tree = ast.parse(open(sys.argv[1]).read())
    cases = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and node.targets[0].id == "NDD_CASES")
    for k, profile in cases:
        counts = [n for n, bins in profile.items() for _ in range(bins)]
        print(f"    {ndd.entropy(counts, k=k, return_std=True)},")
    EOF

ndd integrates over ln(alpha) only within +-4 posterior SDs of an approximate mode
(``reference.ndd_window``); fluxjax integrates over the whole posterior. On ndd's
window the independent reference (tests/reference.py) reproduces every ndd value to
1e-8 nats; on the whole posterior it agrees with fluxjax to 1e-9, and fluxjax differs
from ndd by what ndd's truncation leaves out (up to 2.4e-3 nats in these cases).
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import random_weights

import fluxjax as fj


NDD_CASES = [  # (alphabet size K, {count: number of bins with that count})
    (100, {1: 3, 2: 5, 3: 2, 4: 3, 5: 2, 11: 1, 12: 3}),  # ndd's documented example
    (16, {1: 5, 2: 4, 3: 1, 4: 1}),  # 20 draws, uniform over 16
    (16, {2: 2, 3: 3, 4: 1, 5: 1, 6: 1, 7: 1, 9: 1, 10: 1, 11: 1, 24: 1, 25: 2, 61: 1}),
    (256, {1: 72, 2: 12, 4: 1}),  # 100 draws, uniform over 256
    (
        256,
        {1: 64, 2: 16, 3: 8, 4: 7, 5: 1, 6: 2, 7: 1, 8: 1, 9: 1, 11: 1, 16: 2, 22: 1},
    ),
    (1000, {1: 39, 2: 4, 3: 1}),  # 50 draws from Dirichlet(0.3) weights
    (4096, {1: 316, 2: 48, 3: 19, 4: 8, 5: 9, 6: 3, 7: 2, 8: 2, 9: 3, 10: 2, 11: 3}),
    (1048576, {1: 322, 2: 17, 3: 4, 4: 6, 5: 2, 6: 1, 7: 2, 9: 2, 10: 1, 12: 1}),
]
NDD_VALUES = [  # ndd.entropy(counts, k=K, return_std=True): (H, posterior SD), nats
    (2.8060922529931225, 0.11945501149743358),
    (2.5876949172487143, 0.1355590629633028),
    (2.3003601933233284, 0.0654787083524875),
    (5.457620521295513, 0.07131365290898764),
    (4.560178888796567, 0.08458064455769104),
    (5.650509834902879, 0.3688955102988837),
    (6.586003598579529, 0.06775505542452474),
    (7.128792759354996, 0.11260159835526551),
]


def counts_of(profile):
    return np.repeat(list(profile), list(profile.values()))


def random_cases():
    """Count vectors beyond ndd's cases: 2^40 bins, and zipf samples."""
    rng = np.random.default_rng(5)
    cases = [(2**40, counts_of({1: 275, 2: 6, 3: 2, 7: 1}))]
    for K, N in [(32, 40), (512, 2000)]:
        p = 1 / np.arange(1, K + 1)
        cases.append((K, np.bincount(rng.choice(K, N, p=p / p.sum()), minlength=K)))
    return cases


@pytest.mark.float64
def test_ndd_documented_example():
    """ndd's example (K = 100): 2.8060922529931225 +- 0.11945501149743358 nats; the
    whole posterior adds 4.7e-6 nats to the value, 2.2e-5 to the SD."""
    counts = [4, 12, 4, 5, 3, 1, 5, 1, 2, 2, 2, 2, 11, 3, 4, 12, 12, 1, 2]
    value, sd = fj.nsb_entropy(np.array(counts), 100, base=math.e)
    assert abs(value - 2.8060922529931225) < 5e-6
    assert abs(sd - 0.11945501149743358) < 2.5e-5


@pytest.mark.slow
@pytest.mark.float64
def test_differs_from_ndd_by_its_truncation_only():
    """On ndd's window the reference reproduces ndd to 1e-8 nats, and fluxjax - ndd
    equals the reference's (whole posterior - ndd's window) to 1e-8: the posterior,
    its moments and ndd agree; only ndd's truncation differs (up to 3.3e-3 nats)."""
    for (K, profile), expected in zip(NDD_CASES, NDD_VALUES, strict=True):
        counts = counts_of(profile)
        window = ref.nsb_entropy(counts, K, ref.ndd_window(counts, K))
        np.testing.assert_allclose(window, expected, rtol=0, atol=1e-8, err_msg=str(K))
        gap = np.subtract(ref.nsb_entropy(counts, K), window)
        got = np.asarray(fj.nsb_entropy(counts, K, base=math.e))
        np.testing.assert_allclose(got - expected, gap, atol=1e-8, err_msg=str(K))


@pytest.mark.float64
def test_matches_the_reference_quadrature():
    """fluxjax (Gauss–Legendre panels about the mode, Stirling series for large a)
    against the reference (adaptive quadrature, direct formulas): 1e-9 nats."""
    cases = [(K, counts_of(p)) for K, p in NDD_CASES[:4]] + random_cases()
    for K, counts in cases:
        value, sd = fj.nsb_entropy(counts, K, base=math.e)
        expected = ref.nsb_entropy(counts, K)
        np.testing.assert_allclose((value, sd), expected, atol=1e-9, err_msg=str(K))


@pytest.mark.slow
@pytest.mark.float64
def test_matches_the_reference_quadrature_for_a_narrow_posterior():
    """10^5 zipf draws over 2^20 bins: the posterior of ln a is ~0.01 wide and the
    best point of the unit grid lies on the far side of the mode (a case that once
    lost the integral's left half)."""
    rng = np.random.default_rng(6)
    p = 1 / np.arange(1, 2**16 + 1)
    counts = np.bincount(rng.choice(2**16, 100_000, p=p / p.sum()))
    value, sd = fj.nsb_entropy(counts, 2**20, base=math.e)
    expected = ref.nsb_entropy(counts, 2**20)
    np.testing.assert_allclose((value, sd), expected, atol=1e-9)


@pytest.mark.float64
def test_batch_bits_and_unobserved_bins():
    """Leading axes are independent samples; zeros in counts are unobserved bins (the
    same as leaving them out); base 2 divides by ln 2; K = 1 gives 0."""
    counts = np.array([[3, 0, 1, 0, 2], [1, 1, 1, 1, 6]])
    nats = fj.nsb_entropy(counts, 64, base=math.e)
    bits = fj.nsb_entropy(counts, 64)
    assert nats.value.shape == (2,)
    np.testing.assert_allclose(bits.value, nats.value / math.log(2), rtol=1e-12)
    np.testing.assert_allclose(bits.stderr, nats.stderr / math.log(2), rtol=1e-12)
    alone = fj.nsb_entropy([3, 1, 2], 64, base=math.e)
    np.testing.assert_allclose(alone, [nats.value[0], nats.stderr[0]], rtol=1e-12)
    assert fj.nsb_entropy([5], 1).value == 0.0


@pytest.mark.float64
@pytest.mark.parametrize(
    ("shape", "K", "N", "fraction"),
    [
        ("uniform", 256, 100, 0.15),
        ("uniform", 256, 300, 0.15),
        ("zipf", 1024, 100, 0.5),
        ("zipf", 1024, 300, 0.5),
    ],
)
def test_bias_on_known_entropies_at_small_samples(shape, K, N, fraction):
    """Mean over 50 samples of N draws: NSB's bias is at most ``fraction`` of the
    plug-in's (uniform over 256 bins: H = 8 bits, NSB -0.16 / -0.05 against -1.71 /
    -0.70; 1 / r over 1024 bins, H = 7.51 bits: NSB underestimates heavy tails, -0.67
    / -0.27 against -2.02 / -1.21); for the uniform distribution, where the prior
    fits, the true H lies within 2 posterior SDs in >= 90 % of the samples."""
    rng = np.random.default_rng(K + N)
    p = np.full(K, 1 / K) if shape == "uniform" else 1 / np.arange(1, K + 1)
    p = p / p.sum()
    entropy = -np.sum(p * np.log2(p))
    counts = np.stack(
        [np.bincount(rng.choice(K, N, p=p), minlength=K) for _ in range(50)]
    )
    value, sd = map(np.asarray, fj.nsb_entropy(counts, K))
    plugin = np.array(
        [ref.plugin_entropy_of_codes(np.repeat(np.arange(K), c)) for c in counts]
    )
    nsb_bias, plugin_bias = value.mean() - entropy, plugin.mean() - entropy
    assert plugin_bias < -0.5
    assert abs(nsb_bias) < fraction * abs(plugin_bias), (nsb_bias, plugin_bias)
    if shape == "uniform":
        assert np.mean(np.abs(value - entropy) < 2 * sd) >= 0.9


def flux_from_entropies(codes, K):
    """H(x_t) + H(x_{t+1}) - H(x_t, x_{t+1}) of the NSB entropies of numpy counts."""
    past, future = codes[:-1], codes[1:]
    joint = past.astype(np.int64) * K + future
    h = [
        float(fj.nsb_entropy(np.unique(c, return_counts=True)[1], k).value)
        for c, k in ((past, K), (future, K), (joint, K * K))
    ]
    return h[0] + h[1] - h[2]


@pytest.mark.float64
def test_flux_is_the_sum_of_the_entropies(getkey):
    """Bool states (table and sorting paths), integer codes and a batch give the
    NSB entropies of the counts tallied by numpy."""
    W, b = random_weights(np.random.default_rng(31), 6)
    net = fj.BinaryNetwork(W, b, 1.0, 0.5)
    states = np.asarray(fj.simulate(net, getkey(), 3000, batch=2))
    codes = ref.state_codes(states.reshape(-1, 6)).reshape(2, -1)
    expected = [flux_from_entropies(c, 64) for c in codes]
    np.testing.assert_allclose(fj.nsb_flux(states), expected, atol=1e-9)
    np.testing.assert_allclose(
        fj.nsb_flux(codes.astype(np.uint32), num_states=64), expected, atol=1e-9
    )
    short = states[0, :300]  # 2^12 pair symbols > 16 x 299 pairs: sorted, not a table
    assert abs(fj.nsb_flux(short) - flux_from_entropies(codes[0, :300], 64)) < 1e-9
    wide = np.repeat(states[0], 7, axis=1)  # 42 neurons, two 32-bit words
    w_codes = codes[0]
    expected_wide = flux_from_entropies(w_codes, 2**42)
    assert abs(fj.nsb_flux(wide) - expected_wide) < 1e-9


def test_flux_is_less_biased_than_the_plugin_at_small_T(getkey):
    """A 6-neuron net at T = 1000 (4096 pair bins, 16 replicas): NSB's bias is half
    of Miller–Madow's or less (0.10 against 0.29 bit), and within 0.01 bit at
    T = 10^5."""
    W, b = random_weights(np.random.default_rng(32), 6)
    net = fj.BinaryNetwork(W, b, 1.0, 0.5)
    exact = float(fj.exact_flux(net))
    states = fj.simulate(net, getkey(), 1000, batch=16, burn_in=200)
    nsb_bias = float(jnp.mean(fj.nsb_flux(states))) - exact
    madow_bias = float(jnp.mean(fj.plugin_flux(states, "miller-madow"))) - exact
    assert abs(nsb_bias) < abs(madow_bias) / 2, (nsb_bias, madow_bias)
    long = fj.simulate(net, getkey(), 100_000, burn_in=200)
    assert abs(fj.nsb_flux(long) - exact) < 0.01


@pytest.mark.slow
def test_stderr_matches_spread_across_replicas(getkey):
    """The jackknife SE of one run agrees (within a factor 1.6) with the SD of the
    NSB estimates of 16 independent runs; its value is nsb_flux's."""
    W, b = random_weights(np.random.default_rng(33), 5)
    net = fj.BinaryNetwork(W, b, 1.0, 0.5)
    states = fj.simulate(net, getkey(), 4000, batch=16, burn_in=200)
    value, stderr = fj.nsb_flux_stderr(states, num_blocks=10)
    np.testing.assert_allclose(value, fj.nsb_flux(states), atol=1e-6)
    ratio = float(jnp.mean(stderr)) / float(jnp.std(value, ddof=1))
    assert 1 / 1.6 < ratio < 1.6, ratio


def test_few_coincidences_warn_and_enough_do_not():
    x = np.random.default_rng(0).random((400, 300)) < 0.5  # every pair new
    with pytest.warns(UserWarning, match="0 coincidences"):
        fj.nsb_flux(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fj.nsb_flux(x[:, :3])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fj.nsb_entropy([1.5, 2.0], 4), TypeError, "counts"),
        (lambda: fj.nsb_entropy([1, -1], 4), ValueError, "counts"),
        (lambda: fj.nsb_entropy([[1, 2], [0, 0]], 4), ValueError, "counts"),
        (lambda: fj.nsb_entropy(np.zeros((2, 0), int), 4), ValueError, "counts"),
        (lambda: fj.nsb_entropy([1, 2, 3], 2), ValueError, "alphabet_size"),
        (lambda: fj.nsb_entropy([1, 2], 4.0), TypeError, "alphabet_size"),
        (lambda: fj.nsb_entropy([1, 2], 2**901), ValueError, "alphabet_size"),
        (lambda: fj.nsb_entropy([1, 2], 4, base=1.0), ValueError, "base"),
        (lambda: fj.nsb_flux(np.arange(100) % 3), ValueError, "num_states"),
        (
            lambda: fj.nsb_flux(np.arange(100) % 3, num_states=2),
            ValueError,
            "num_states",
        ),
        (lambda: fj.nsb_flux(np.zeros((5, 2), bool)), ValueError, "at least 8"),
        (lambda: fj.nsb_flux(np.zeros((50, 2))), TypeError, "states"),
        (
            lambda: fj.nsb_flux_stderr(np.zeros((100, 2), bool), num_blocks=1),
            ValueError,
            "num_blocks",
        ),
        (
            lambda: jax.jit(fj.nsb_flux)(np.zeros((50, 2), bool)),
            TypeError,
            "outside jit",
        ),
    ],
)
def test_validation(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_results_are_in_jax_default_float(getkey):
    """Computed in float64 on the host, returned in JAX's default float (float32
    here), as the plug-in estimators do."""
    assert not jax.config.jax_enable_x64
    states = fj.simulate(fj.random_network(4, key=getkey()), getkey(), 500)
    for value in (
        fj.nsb_flux(states),
        *fj.nsb_flux_stderr(states, num_blocks=5),
        *fj.nsb_entropy(np.array([3, 1, 2]), 8),
    ):
        assert value.dtype == jnp.float32
