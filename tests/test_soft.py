"""soft_flux and correlation_proxy against exact enumeration (values and gradients).

References: ``exact_flux`` and its ``jax.grad`` (verified against a numpy reference in
test_exact.py); the correlation proxy computed from the exact stationary chain; closed
forms (independent neurons carry no flux and no lag-1 correlation).

Tolerances. The soft value's error is the sampling error of a mean over T correlated
terms (its SD is estimated here from independent keys) plus the mixture's residual
Jensen bias, which the delta-method correction leaves at O(1/S^2) (measured +0.0003 bit
at S = 1000, n = 8..10). Gradient directions are compared by their cosine with the
exact gradient; the thresholds sit below the measured values (0.98-1.0 at these sample
sizes, see the report) by several times their spread across keys.

Compilation dominates the fast tests, so most checks share one compiled, vmapped
function (:func:`replicates`) over a stack of same-sized networks and keys.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from conftest import random_weights

import fluxjax as fj
from fluxjax.info.subset import MAX_SUBSET_NEURONS


N = 5
STEPS = 10_000
COMPONENTS = 250
NUM_KEYS = 4


def random_net(seed, n, *, temperature=1.0, noise=0.0):
    W, b = random_weights(np.random.default_rng(seed), n)
    return fj.BinaryNetwork(W, b, temperature, noise)


# exact references, compiled once per network size
exact_value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(fj.exact_flux))


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


NOISELESS = {
    "random_a": random_net(1, N),
    "random_b": random_net(2, N, temperature=1.4),
    "independent": fj.BinaryNetwork(
        np.zeros((N, N)), np.array([0.3, -1.0, 2.0, 0.0, -0.5])
    ),
}
# with noise the log-probabilities integrate over 257 nodes: a smaller, shorter case
NOISY = random_net(3, 4, temperature=np.array([1.0, 1.3, 0.8, 1.1]), noise=0.7)
NOISY_STEPS = 5000
NETS = {**NOISELESS, "noisy": NOISY}
FIELDS = ("weights", "biases", "temperature")


def estimates(net, key, steps):
    """(value, gradient) of soft_flux and of the correlation proxy for one key."""
    soft_key, proxy_key = jr.split(key)
    soft = eqx.filter_value_and_grad(
        lambda net: fj.soft_flux(
            net, soft_key, steps, estimator=fj.Mixture(num_components=COMPONENTS)
        )
    )(net)
    proxy = eqx.filter_value_and_grad(
        lambda net: fj.correlation_proxy(net, proxy_key, steps)
    )(net)
    return soft, proxy


@pytest.fixture(scope="module")
def replicates():
    """name -> ((values, grads), (proxy values, proxy grads)) over NUM_KEYS keys.

    One compiled function serves all noiseless nets: it takes (weights, biases,
    temperature) as arguments and holds the zero noise concrete, so the estimators take
    their noiseless path (no quadrature, no Gaussian draws).
    """
    template = fj.BinaryNetwork(np.zeros((N, N)), np.zeros(N))

    def noiseless(params, key):
        soft_key, proxy_key = jr.split(key)

        def with_params(params):  # only these are traced: the noise stays concrete
            fields = lambda n: [getattr(n, f) for f in FIELDS]
            return eqx.tree_at(fields, template, params)

        soft = jax.value_and_grad(
            lambda p: fj.soft_flux(
                with_params(p),
                soft_key,
                STEPS,
                estimator=fj.Mixture(num_components=COMPONENTS),
            )
        )(params)
        proxy = jax.value_and_grad(
            lambda p: fj.correlation_proxy(with_params(p), proxy_key, STEPS)
        )(params)
        return soft, proxy

    noiseless = eqx.filter_jit(noiseless)
    noisy = eqx.filter_jit(lambda key: estimates(NOISY, key, NOISY_STEPS))

    def pick(pair):  # values (keys,) and gradients as a BinaryNetwork of (keys, ...)
        fields = lambda n: [getattr(n, f) for f in FIELDS]
        return pair[0], eqx.tree_at(fields, template, pair[1])

    out = {}
    for i, (name, net) in enumerate(NOISELESS.items()):
        params = [getattr(net, f) for f in FIELDS]
        runs = [noiseless(params, key) for key in jr.split(jr.key(i), NUM_KEYS)]
        soft, proxy = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
        out[name] = (pick(soft), pick(proxy))
    runs = [noisy(key) for key in jr.split(jr.key(99), NUM_KEYS)]
    out["noisy"] = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
    return out


def check_value(values, expected, floor=2e-3):
    """|mean - expected| < 4 standard errors (from the spread over keys) + floor."""
    values = np.asarray(values)
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - expected) < 4 * se + floor, (values, expected)


def check_gradient(samples, expected, relative_bias=0.05):
    """The mean of the per-key gradients deviates from the exact one by at most 4 times
    its noise (the RMS norm sqrt(sum_i var_i / keys), from the spread over keys) plus
    a relative bias (the score window's truncation: < 2 % measured at n <= 10)."""
    samples, expected = np.asarray(samples), np.asarray(expected)
    keys = samples.shape[0]
    noise = math.sqrt(np.sum(samples.var(axis=0, ddof=1)) / keys)
    error = np.linalg.norm(samples.mean(0) - expected)
    bound = 4 * noise + relative_bias * np.linalg.norm(expected)
    assert error < bound, (error, noise, np.linalg.norm(expected))
    assert np.linalg.norm(samples.mean(0)) > 1e-3  # not trivially zero


# ---------------------------------------------------------------------------
# Values and gradients against exact enumeration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["random_a", "random_b", "noisy"])
def test_value_and_gradients_match_exact(name, replicates):
    """T = 1e4 per key: the value and the gradient in every field agree with the exact
    ones within their sampling noise (with noise and per-neuron temperature the
    log-probabilities go through the quadrature)."""
    net = NETS[name]
    (values, grads), _ = replicates[name]
    value, exact = exact_value_and_grad(net)
    check_value(values, float(value))
    fields = ("biases", "weights", "temperature")
    for field in fields + (("noise",) if name == "noisy" else ()):
        check_gradient(getattr(grads, field), getattr(exact, field))


def test_independent_neurons_have_zero_flux_and_gradient(replicates):
    """Without weights P(x'|x) does not depend on x, so q^ = P and the flip control
    variate makes every F_t vanish: value and gradient are zero to rounding (a few
    dozen ulp of the O(1)-nat terms: 64 eps; measured 19 eps in float32)."""
    (values, grads), _ = replicates["independent"]
    eps = np.finfo(np.asarray(values).dtype).eps
    assert np.max(np.abs(values)) < 64 * eps
    assert np.max(np.abs(grads.biases)) < 64 * eps
    assert np.max(np.abs(grads.weights)) < 64 * eps


@pytest.mark.parametrize("neurons", [[0, 2, 3]])
def test_subset_matches_exact(neurons, getkey):
    """The flux of a subset (a core inside a larger net) and its bias gradient. The
    plug-in joint table overestimates by at most about (2^k - 1)^2 / (2 T ln 2)."""
    net = NETS["random_a"]

    run = eqx.filter_jit(
        lambda key: eqx.filter_value_and_grad(
            lambda net: fj.soft_flux(net, key, STEPS, neurons=neurons)
        )(net)
    )
    runs = [run(key) for key in jr.split(getkey(), NUM_KEYS)]
    values, grads = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
    bias = (2 ** len(neurons) - 1) ** 2 / (2 * STEPS * math.log(2))
    value, exact_grad = exact_value_and_grad(net, tuple(neurons))
    check_value(values, float(value), floor=bias)
    check_gradient(grads.biases, exact_grad.biases)


# ---------------------------------------------------------------------------
# The correlation proxy
# ---------------------------------------------------------------------------


def exact_proxy(net):
    """RMS_ij corr(x_i(t), x_j(t+1)) from the exact stationary chain (differentiable)."""
    states = fj.info.all_states(net.num_neurons, net.weights.dtype)
    pi = fj.stationary_distribution(net)
    mean = pi @ states  # E x_i(t) = E x_i(t+1) (stationarity)
    cross = (pi[:, None] * states).T @ net.firing_prob(states)
    covariance = cross - mean[:, None] * mean[None, :]
    variance = mean * (1 - mean)
    rho = covariance / jnp.sqrt(variance[:, None] * variance[None, :])
    return jnp.sqrt(jnp.mean(rho**2))


@pytest.mark.parametrize("name", ["random_a", "noisy"])
def test_correlation_proxy_matches_exact(name, replicates):
    _, (values, grads) = replicates[name]
    check_value(values, float(eqx.filter_jit(exact_proxy)(NETS[name])))
    exact_grad = eqx.filter_jit(jax.grad(exact_proxy))(NETS[name]).biases
    check_gradient(grads.biases, exact_grad)


def test_correlation_proxy_of_independent_neurons_is_zero(replicates):
    """The Rao-Blackwellised moments make the covariance exactly 0 when W = 0: the
    rounding of E[x p] - E[x] E[p] (a few ulp) over a variance of about 1/4 leaves
    tens of ulp (measured 33 eps in float32); the bound is 256 eps."""
    _, (values, grads) = replicates["independent"]
    assert np.max(np.abs(values)) < 256 * np.finfo(np.asarray(values).dtype).eps
    assert np.all(np.isfinite(grads.biases))


# ---------------------------------------------------------------------------
# API: dtypes, jit, keys, chunks, errors
# ---------------------------------------------------------------------------


def test_float32_keys_and_the_full_subset(getkey):
    """float32 in, float32 out; the same key gives the same result, another key a
    different one; neurons = all of them is the whole network."""
    W, b = random_weights(np.random.default_rng(8), 4)
    net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
    estimator = fj.Mixture(num_components=100)

    def run(key, **options):
        return eqx.filter_value_and_grad(
            lambda net: fj.soft_flux(net, key, 2000, estimator=estimator, **options)
        )(net)

    key = getkey()
    value, grads = run(key)
    assert value.dtype == jnp.float32 and grads.biases.dtype == jnp.float32
    assert np.isfinite(value) and np.all(np.isfinite(grads.biases))
    assert run(key)[0] == value
    assert run(key, neurons=[0, 1, 2, 3])[0] == value
    assert run(getkey())[0] != value


@pytest.mark.float64
@pytest.mark.parametrize(
    "estimator, gradient",
    [
        (functools.partial(fj.info.mixture_flux, num_components=50), True),
        (functools.partial(fj.info.subset_flux, neurons=[0, 2]), False),
        (fj.correlation_proxy, False),
    ],
    ids=["mixture", "subset", "proxy"],
)
def test_block_size_does_not_change_the_estimate(estimator, gradient, getkey):
    """The chain is folded block by block; blocks of 40 rows (the last one running
    past T = 999, masked) give the value (and gradient: the score pass, shared by
    every estimator) of one block of all rows."""
    net = random_net(10, 4, noise=0.3)
    key = getkey()

    def run(chunk_size):
        fn = lambda net: estimator(net, key, 999, chunk_size=chunk_size, burn_in=20)
        return eqx.filter_value_and_grad(fn)(net) if gradient else (fn(net), None)

    (value, grads), (blocked, blocked_grads) = run(999), run(40)
    assert abs(blocked - value) < 1e-12
    for field in ("weights", "biases", "temperature", "noise") if gradient else ():
        np.testing.assert_allclose(
            getattr(blocked_grads, field), getattr(grads, field), rtol=1e-8, atol=1e-13
        )


def test_bad_arguments(getkey):
    net = random_net(11, 4)
    key = getkey()
    with pytest.raises(TypeError, match="net"):
        fj.soft_flux(np.zeros((3, 3)), key, 100)
    with pytest.raises(TypeError, match="key"):
        fj.soft_flux(net, 0, 100)
    with pytest.raises(ValueError, match="steps"):
        fj.soft_flux(net, key, 5, estimator=fj.Mixture(window=8))
    with pytest.raises(ValueError, match="window"):
        fj.soft_flux(net, key, 100, estimator=fj.Mixture(window=-1))
    with pytest.raises(ValueError, match="num_components"):
        fj.soft_flux(net, key, 100, estimator=fj.Mixture(num_components=0))
    with pytest.raises(ValueError, match="neurons"):
        fj.soft_flux(net, key, 100, neurons=[4])
    with pytest.raises(ValueError, match="burn_in"):
        fj.soft_flux(net, key, 100, burn_in=-1)
    with pytest.raises(ValueError, match="chunk_size"):
        fj.soft_flux(net, key, 100, estimator=fj.Mixture(chunk_size=0))
    big = fj.BinaryNetwork(np.zeros((14, 14)), np.zeros(14))
    with pytest.raises(ValueError, match=f"k <= {MAX_SUBSET_NEURONS}"):
        fj.soft_flux(big, key, 100, neurons=list(range(13)))
    with pytest.raises(ValueError, match="steps"):
        fj.correlation_proxy(net, key, 3)
    with pytest.raises(TypeError, match="net"):
        fj.correlation_proxy(None, key, 100)


# ---------------------------------------------------------------------------
# Large networks: no 2^n object
# ---------------------------------------------------------------------------


def large_net(n, seed=0):
    """Random weights N(0, 9/n) (O(1) input fluctuations), N(0, 1) biases."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 3.0 / math.sqrt(n), (n, n))
    np.fill_diagonal(W, 0.0)
    return fj.BinaryNetwork(W, rng.normal(0.0, 1.0, n))


def test_n200_runs_in_linear_memory(getkey):
    """N = 200, the mixture (outside its validated regime: it warns): finite value
    and gradient; XLA's temporary memory for the gradient is linear in
    n * (steps + components) (a 2^200 object could not be allocated)."""
    n, steps, components = 200, 2000, 200
    net = large_net(n)
    key = getkey()
    with pytest.warns(UserWarning, match="upper bound"):
        compiled = (
            jax.jit(
                jax.value_and_grad(
                    lambda b: fj.soft_flux(
                        eqx.tree_at(lambda n: n.biases, net, b),
                        key,
                        steps,
                        estimator=fj.Mixture(num_components=components),
                    )
                )
            )
            .lower(net.biases)
            .compile()
        )
    value, grads = compiled(net.biases)
    assert np.isfinite(value) and value > 0
    assert np.all(np.isfinite(grads)) and np.linalg.norm(grads) > 0
    memory = compiled.memory_analysis()
    if memory is not None:  # 64 float64 per neuron and sample is generous
        assert memory.temp_size_in_bytes < 8 * 64 * n * (steps + components)


# ---------------------------------------------------------------------------
# The claims at full size (slow)
# ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("n", [6, 8, 10])
def test_claim_value_within_002_bit_and_cosine_095_at_1e5_samples(n, getkey):
    """10^5 samples, 3 random nets per size: |soft - exact| < 0.02 bit for each net
    (measured SD 0.002-0.003 bit, bias < 0.001), and the bias gradient's cosine with
    the exact one >= 0.95 on average (measured 0.98-1.0 per net)."""
    cosines = []
    for seed in range(3):
        net = random_net(100 * n + seed, n)
        value, grads = eqx.filter_value_and_grad(
            lambda net: fj.soft_flux(net, getkey(), 100_000)
        )(net)
        exact, exact_grads = exact_value_and_grad(net)
        assert abs(float(value) - float(exact)) < 0.02
        cosines.append(cosine(grads.biases, exact_grads.biases))
    assert np.mean(cosines) >= 0.95, cosines
    assert min(cosines) >= 0.9, cosines


@pytest.mark.slow
def test_claim_stationary_term_is_needed(getkey):
    """window=0 (pathwise term only) has a visibly worse direction than window=8."""
    net = random_net(803, 8)
    exact = exact_value_and_grad(net)[1].biases
    key = getkey()
    cosines = {}
    for window in (0, 8):
        grads = eqx.filter_grad(
            lambda net, window=window: fj.soft_flux(
                net, key, 100_000, estimator=fj.Mixture(window=window)
            )
        )(net)
        cosines[window] = cosine(grads.biases, exact)
    assert cosines[8] > 0.98 and cosines[0] < cosines[8] - 0.03, cosines


@pytest.mark.slow
def test_n1000_runs(getkey):
    """The mixture (with its warning) and the proxy still run at n = 1000."""
    net = large_net(1000, seed=1)
    with pytest.warns(UserWarning, match="upper bound"):
        value, grads = eqx.filter_value_and_grad(
            lambda net: fj.soft_flux(
                net, getkey(), 5000, estimator=fj.Mixture(num_components=500)
            )
        )(net)
    assert np.isfinite(value) and np.all(np.isfinite(grads.biases))
    proxy, proxy_grads = eqx.filter_value_and_grad(
        lambda net: fj.correlation_proxy(net, getkey(), 5000)
    )(net)
    assert 0 < proxy < 1 and np.all(np.isfinite(proxy_grads.biases))


def test_method_is_chosen_by_size_and_checked(getkey):
    """n <= 12: the mixture; n > 12: the moments estimator (the same number as
    moment_flux with the same key); the mixture above 12 warns; a subset is the
    subset table; other combinations are errors."""
    key = getkey()
    small = random_net(30, 6)
    assert fj.soft_flux(small, key, 2000) == fj.soft_flux(
        small, key, 2000, estimator=fj.Mixture()
    )
    rng = np.random.default_rng(31)
    n = 20
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n))
    large = fj.BinaryNetwork(W, -W.sum(0) / 2)
    steps = 200 * n
    assert fj.soft_flux(large, key, steps) == fj.info.moment_flux(large, key, steps)
    with pytest.warns(UserWarning, match="upper bound"):
        fj.soft_flux(large, key, steps, estimator=fj.Mixture(num_components=50))
    with pytest.raises(ValueError, match="subset"):
        fj.soft_flux(large, key, steps, neurons=[0, 1], estimator=fj.Moments())
    with pytest.raises(ValueError, match="subset"):
        fj.soft_flux(large, key, steps, estimator=fj.Subset())
    with pytest.raises(TypeError, match="estimator"):
        fj.soft_flux(large, key, steps, estimator="mixture")
