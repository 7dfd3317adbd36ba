"""fluxjax.info.gaussian: Recurrent Infomax's I_G against the Gaussian AR(1) closed form
and the numpy reference, its gradients against central differences, and how far it
and U1 - TC_G lie from the exact flux.
"""

import math
from types import SimpleNamespace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import central_difference, random_weights
from scipy.linalg import solve_discrete_lyapunov
from test_moments import dense_net

import fluxjax as fj
from fluxjax.info import _chains, _score, gaussian
from fluxjax.surrogates import signal_stats


def ar1(seed: int, n: int, radius: float = 0.9):
    """A stationary Gaussian AR(1) x' = A x + e, e ~ N(0, Sigma): (A, Sigma, C0, C1).

    C0 solves C0 = A C0 A^T + Sigma (scipy's discrete Lyapunov solver) and
    C1 = Cov(x_t, x_{t+1}) = C0 A^T.
    """
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    A *= radius / np.abs(np.linalg.eigvals(A)).max()  # spectral radius < 1: stationary
    B = rng.normal(size=(n, n))
    Sigma = B @ B.T / n + 0.1 * np.eye(n)
    C0 = solve_discrete_lyapunov(A, Sigma)
    return A, Sigma, C0, C0 @ A.T


def ar1_information(C0, Sigma) -> float:
    """The mutual information of x_t and x_{t+1} of the AR(1), in nats (closed form)."""
    return 0.5 * (np.linalg.slogdet(C0)[1] - np.linalg.slogdet(Sigma)[1])


@pytest.mark.float64
@pytest.mark.parametrize(("seed", "n"), [(0, 1), (1, 2), (2, 3), (3, 6)])
def test_gaussian_information_is_the_ar1_mutual_information(seed, n):
    A, Sigma, C0, C1 = ar1(seed, n)
    assert np.allclose(C0, A @ C0 @ A.T + Sigma)  # the Lyapunov solution
    expected = ar1_information(C0, Sigma)
    nats = float(fj.gaussian_information(C0, C1, base=math.e))
    assert abs(nats - expected) < 1e-10 * max(1.0, expected)
    bits = float(fj.gaussian_information(C0, C1))
    assert abs(bits - expected / math.log(2)) < 1e-10 * max(1.0, expected)
    # C1 and its transpose give the same value for a stationary process
    assert abs(float(fj.gaussian_information(C0, C1.T, base=math.e)) - nats) < 1e-10
    # the reference's Schur form agrees
    assert abs(ref.gaussian_lagged_information(C0, C1) - expected) < 1e-10


@pytest.mark.float64
def test_gaussian_information_is_scale_free_and_ignores_constant_units():
    _, _, C0, C1 = ar1(4, 3)
    value = fj.gaussian_information(C0, C1)
    D = np.diag([0.01, 3.0, 700.0])  # units in other units
    assert abs(fj.gaussian_information(D @ C0 @ D, D @ C1 @ D) - value) < 1e-10
    # a constant fourth unit (zero variance) carries nothing and adds no NaN
    pad = lambda M: np.pad(M, ((0, 1), (0, 1)))
    assert abs(fj.gaussian_information(pad(C0), pad(C1)) - value) < 1e-12
    grads = jax.grad(fj.gaussian_information, argnums=(0, 1))(pad(C0), pad(C1))
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert float(fj.gaussian_information(np.zeros((2, 2)), np.zeros((2, 2)))) == 0.0


@pytest.mark.float64
def test_gaussian_information_gradient_matches_finite_differences():
    _, _, C0, C1 = ar1(5, 3)
    got = jax.grad(fj.gaussian_information, argnums=(0, 1))(C0, C1, base=math.e)
    expected = (
        central_difference(lambda c: ref.gaussian_lagged_information(c, C1), C0),
        central_difference(lambda c: ref.gaussian_lagged_information(C0, c), C1),
    )
    for g, e in zip(got, expected, strict=True):
        assert np.linalg.norm(e) > 1e-2  # not trivially zero
        assert np.linalg.norm(np.asarray(g) - e) < 1e-7 * np.linalg.norm(e)


CASES = [
    (2, 1.0, 0.0),
    (3, 1.0, 0.0),
    (4, 0.7, 0.0),
    (5, 1.0, 0.8),
    (6, 2.5, 1.5),
    (7, 1.0, 0.0),
]


@pytest.mark.float64
@pytest.mark.parametrize(("n", "temperature", "noise"), CASES)
def test_exact_gaussian_and_moment_flux_match_the_reference(n, temperature, noise):
    W, b = random_weights(np.random.default_rng(100 + n), n, scale=2.0)
    net = fj.BinaryNetwork(W, b, temperature, noise)
    args = (W, b, temperature, noise)
    assert abs(fj.exact_gaussian_flux(net) - ref.gaussian_flux(*args)) < 1e-10
    assert abs(fj.exact_moment_flux(net) - ref.moment_flux(*args)) < 1e-10


@pytest.mark.float64
@pytest.mark.parametrize("noise", [0.0, 0.9])
def test_exact_gaussian_flux_gradients_match_finite_differences(noise):
    W, b = random_weights(np.random.default_rng(7), 4, scale=2.0)
    T = np.array([1.3, 0.8, 1.0, 1.1])
    net = fj.BinaryNetwork(W, b, T, noise)
    for function, reference in (
        (fj.exact_gaussian_flux, ref.gaussian_flux),
        (fj.exact_moment_flux, ref.moment_flux),
    ):
        grads = jax.grad(function)(net)
        checks = {
            "biases": central_difference(lambda v, f=reference: f(W, v, T, noise), b),
            "weights": central_difference(lambda v, f=reference: f(v, b, T, noise), W),
        }
        for field, expected in checks.items():
            got = np.asarray(getattr(grads, field))
            assert np.linalg.norm(expected) > 1e-3, field  # not trivially zero
            error = np.linalg.norm(got - expected)
            assert error < 1e-6 * np.linalg.norm(expected), (function.__name__, field)


@pytest.mark.float64
def test_gaussian_flux_over_estimates_the_flux_more_than_moments_err():
    """The issue's measured claim, qualitatively: on random networks (n = 4 ... 8,
    weights N(0, s^2), s = 1 ... 3) I_G over-estimates the exact flux on most networks
    and lies much farther from it than U1 - TC_G. The ratios are printed."""
    gaussian, moments = [], []
    rng = np.random.default_rng(29)
    for n in (4, 6, 8):
        for scale in (1.0, 2.0, 3.0):
            W, b = random_weights(rng, n, scale=scale)
            net = fj.BinaryNetwork(W, b)
            flux = float(fj.exact_flux(net))
            gaussian.append(float(fj.exact_gaussian_flux(net)) / flux - 1)
            moments.append(float(fj.exact_moment_flux(net)) / flux - 1)
    gaussian, moments = np.array(gaussian), np.array(moments)
    print(
        f"I_G / flux - 1: {np.round(gaussian, 3)}\n"
        f"(U1 - TC_G) / flux - 1: {np.round(moments, 3)}"
    )
    assert np.mean(gaussian > 0) >= 0.75  # mostly an over-estimate
    assert np.median(gaussian) > 0
    assert np.mean(np.abs(gaussian)) > 3 * np.mean(np.abs(moments))


def test_sampled_moments_give_the_exact_gaussian_flux(getkey):
    """I_G of the sample moments of simulated states (``signal_stats``) converges to
    the exact one: the mean over 8 independent chains lies within 4 standard errors
    (their spread) plus the plug-in log-det bias, at most n^2 / T nats."""
    W, b = random_weights(np.random.default_rng(3), 4, scale=2.0)
    net = fj.BinaryNetwork(W, b)
    chains, steps = 8, 20_000
    states = fj.simulate(net, getkey(), steps, batch=chains, burn_in=100)
    values = np.array(
        [
            float(fj.gaussian_information(*signal_stats(x.astype(jnp.float32))[1:]))
            for x in states
        ]
    )
    stderr = values.std(ddof=1) / math.sqrt(chains)
    bias = net.num_neurons**2 / steps / math.log(2)
    assert abs(values.mean() - float(fj.exact_gaussian_flux(net))) < 4 * stderr + bias


def test_exact_gaussian_flux_float32_keeps_its_dtype_and_precision():
    """In float32 the stationary pi carries ~1e-6 relative errors (exact.py), so the
    moments and I_G are good to about 1e-4 bit, as exact_flux."""
    W, b = random_weights(np.random.default_rng(9), 6, scale=2.0)
    net = fj.BinaryNetwork(W, b)
    for function, reference in (
        (fj.exact_gaussian_flux, ref.gaussian_flux),
        (fj.exact_moment_flux, ref.moment_flux),
    ):
        value = function(net)
        assert value.dtype == jnp.float32
        assert abs(float(value) - reference(W, b)) < 1e-4
    assert jax.grad(fj.exact_gaussian_flux)(net).biases.dtype == jnp.float32


def test_bad_input_is_rejected_by_name():
    with pytest.raises(TypeError, match="net"):
        fj.exact_gaussian_flux(np.eye(3))
    big = fj.BinaryNetwork(np.zeros((15, 15)), np.zeros(15))
    with pytest.raises(ValueError, match="max_neurons"):
        fj.exact_gaussian_flux(big)
    with pytest.raises(ValueError, match="max_neurons"):
        fj.exact_moment_flux(big, max_neurons=4)
    with pytest.raises(ValueError, match="covariance"):
        fj.gaussian_information(np.eye(3), np.eye(2))
    with pytest.raises((ValueError, TypeError), match="covariance"):
        fj.gaussian_information(np.ones(3), np.ones(3))  # jaxtyping's TypeError
    with pytest.raises(ValueError, match="positive definite"):
        fj.gaussian_information(np.eye(2), 2 * np.eye(2))  # |lag-1 correlation| > 1
    with pytest.raises(ValueError, match="variances"):
        fj.gaussian_information(-np.eye(2), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="base"):
        fj.gaussian_information(np.eye(2), np.zeros((2, 2)), base=1)
    with pytest.raises(TypeError, match="lagged_covariance"):
        fj.gaussian_information(np.eye(2), "x")


# ---------------------------------------------------------------------------
# gaussian_flux: I_G from samples, against exact_gaussian_flux
# ---------------------------------------------------------------------------

SAMPLED_STEPS = 20_000
SAMPLED_CHAINS = 10
sampled_value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(fj.gaussian_flux))
exact_gaussian_value_and_grad = eqx.filter_jit(
    eqx.filter_value_and_grad(fj.exact_gaussian_flux)
)


def in_float64(net: fj.BinaryNetwork):
    """exact_gaussian_flux and its gradient (fields as float64 numpy) of ``net``."""
    with jax.enable_x64(True):
        wide = fj.BinaryNetwork(
            *(np.asarray(a, np.float64) for a in (net.weights, net.biases)),
            np.asarray(net.temperature, np.float64),
            None if net.noise is None else np.asarray(net.noise, np.float64),
            dtype=jnp.float64,
        )
        value, grad = exact_gaussian_value_and_grad(wide)
        return float(value), SimpleNamespace(
            weights=np.asarray(grad.weights), biases=np.asarray(grad.biases)
        )


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def sampled_runs(net, keys, **kwargs):
    """(values (keys,), gradients) of gaussian_flux (float32) over independent keys."""
    out = [
        sampled_value_and_grad(
            net, jax.random.key(k), SAMPLED_STEPS, num_chains=SAMPLED_CHAINS, **kwargs
        )
        for k in range(keys)
    ]
    return np.array([float(v) for v, _ in out]), [g for _, g in out]


def check_sampled(values, grads, exact, exact_grad, *, min_cosine, norm_error):
    """The key-mean value within 4 of its SEs (spread over keys; the jackknife removes
    the log-dets' O(n^2 / T) bias); the key-mean gradient's cosine with the exact one
    and its norm ratio, per field (the weights' where ``exact_grad.known``)."""
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - exact) < 4 * se, (values, exact, se)
    known = getattr(exact_grad, "known", True)
    for field in ("biases", "weights"):
        mean = np.mean([np.asarray(getattr(g, field)) for g in grads], axis=0)
        want = getattr(exact_grad, field)
        if field == "weights":
            mean, want = mean[known], want[known]
        ratio = np.linalg.norm(mean) / np.linalg.norm(want)
        assert cosine(mean, want) > min_cosine, (field, cosine(mean, want))
        assert abs(ratio - 1) < norm_error, (field, ratio)


@pytest.mark.parametrize("control", [True, False])
def test_gaussian_flux_matches_the_exact_value_and_gradient(control, monkeypatch):
    """A dense n = 8 network (W ~ N(0, 2.5^2)), float32, 4 keys of T = 2 x 10^4,
    against exact_gaussian_flux and its jax.grad in float64.

    Measured over 8 keys: the value's SD 0.019 bit; per key the bias gradient's cosine
    0.96 ... 0.99 and norm ratio 0.83 ... 1.20 (weights 0.97 ... 0.99, 0.92 ... 1.15);
    the mean of the first 4 keys: cosine 0.993 (weights 0.994), norm ratio 0.97
    (1.01). Averaging 4 keys halves the noise: cosine > 0.95 and a norm within 15 %
    (about 3 SDs of the 4-key mean's norm) leave room for the noise alone. Without
    the score term (window 0) the bias cosine is -0.63 (float64): the stationary
    term is most of the gradient here."""
    net = dense_net(0, 8)
    if not control:  # as from CONTROL_NEURONS on: two passes, the compiled rebuilt
        monkeypatch.setattr(_chains, "CONTROL_NEURONS", 0)
        jax.clear_caches()
    values, grads = sampled_runs(net, 4)
    jax.clear_caches()
    check_sampled(values, grads, *in_float64(net), min_cosine=0.95, norm_error=0.15)


@pytest.mark.float64
@pytest.mark.parametrize("dense", [True, False])
def test_mean_parts_from_the_moments_are_the_regression_pass_parts(dense):
    """Without the control, the score's baseline (the mean of each part of F (6))
    comes from the moments (5): it equals the regression pass's mean parts over the
    same transitions (one atom on a dense network; local credit sets on blocks)."""
    net = dense_net(0, 8) if dense else block_network(1, 24, sizes=(6, 8))[0]
    key, window = jax.random.key(3), gaussian.MOMENT_WINDOW
    stream = _chains.layout(4000, 10, 50, net.num_neurons, window)
    sums, centre = gaussian._lagged_sums(net, key, stream)
    total = gaussian._lagged_moments(
        jax.tree.map(lambda a: jnp.sum(a, 0), sums), centre
    )
    k, _ = gaussian._coefficients(total, net.weights, window, jnp.float64)
    assert bool(k.alike) == dense
    passed = _score.regression(net, key, stream, window, gaussian._GaussianInfluence, k)
    np.testing.assert_allclose(
        gaussian._mean_parts(k, total), passed.parts, rtol=1e-10, atol=1e-13
    )


def block_network(seed: int, n: int, sizes=(6, 10)):
    """A shuffled disconnected network, its exact I_G and gradient (float64).

    The blocks are independent, so C0 and C1 are block-diagonal and I_G (and its
    gradient in the biases and the weights within blocks) is the sum of the blocks'
    exact_gaussian_flux. A weight between blocks would correlate them: its
    derivative is not the blocks' (``known`` marks the weights within blocks).
    """
    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) + sizes[1] < n:
        lengths.append(int(rng.integers(sizes[0], sizes[1] + 1)))
    lengths.append(n - sum(lengths))
    order = rng.permutation(n)
    W, b, dW, db = (np.zeros(s) for s in [(n, n), n, (n, n), n])
    known = np.zeros((n, n), bool)
    value, start = 0.0, 0
    for k in lengths:
        block = dense_net(int(rng.integers(2**31)), k, rng.uniform(2.0, 3.0))
        v, g = in_float64(block)
        index = order[start : start + k]
        W[np.ix_(index, index)], b[index] = block.weights, block.biases
        dW[np.ix_(index, index)], db[index] = g.weights, g.biases
        known[np.ix_(index, index)] = True
        value, start = value + v, start + k
    exact_grad = SimpleNamespace(weights=dW, biases=db, known=known)
    return fj.BinaryNetwork(W, b), value, exact_grad


@pytest.mark.slow
def test_gaussian_flux_on_a_disconnected_network_is_the_sum_of_its_blocks():
    """n = 60 in shuffled blocks of 6 ... 10 (float32, 4 keys): the local credit
    (credit sets that are the blocks) and the jackknife at G = 10 groups.

    Measured over 8 keys: the value's SD 0.060 bit (of 24.8); per key the bias
    cosine 0.96 ... 0.98, norm ratio 1.00 ... 1.09 (weights within blocks 0.95 ...
    0.97, 1.02 ... 1.11); the mean of 4 keys: 0.993, 1.02 (weights 0.990, 1.03)."""
    net, exact, exact_grad = block_network(1, 60)
    values, grads = sampled_runs(net, 4)
    check_sampled(values, grads, exact, exact_grad, min_cosine=0.95, norm_error=0.15)


@pytest.mark.slow
def test_gaussian_flux_stderr_is_the_spread_over_keys():
    """The jackknife SE of one run against the SD of 8 runs' values (float32; a noisy
    network with a per-neuron temperature). Measured: mean SE 0.033 bit against an SD
    of 0.031, the values at -2.9 ... +0.7 of their SEs from the exact I_G. Every value lies within
    4 of its own SEs of the exact I_G, and the mean SE within a factor 2 of the SD
    (the SD of 8 values is itself uncertain by about 27 %)."""
    net = dense_net(3, 6, temperature=1.3, noise=0.4)
    exact, _ = in_float64(net)
    estimates = [
        fj.gaussian_flux_stderr(
            net, jax.random.key(k), SAMPLED_STEPS, num_chains=SAMPLED_CHAINS
        )
        for k in range(8)
    ]
    values = np.array([float(e.value) for e in estimates])
    stderrs = np.array([float(e.stderr) for e in estimates])
    assert np.all(np.abs(values - exact) < 4 * stderrs), (values, exact, stderrs)
    assert 0.5 < stderrs.mean() / values.std(ddof=1) < 2.0
    # the value is gaussian_flux's with the same key (to float32 rounding)
    value, _ = sampled_value_and_grad(
        net, jax.random.key(0), SAMPLED_STEPS, num_chains=SAMPLED_CHAINS
    )
    assert abs(float(value) - values[0]) < 1e-5 * abs(values[0])


def test_gaussian_flux_rejects_bad_input_by_name():
    net = dense_net(0, 8)
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="BinaryNetwork"):
        fj.gaussian_flux("net", key, SAMPLED_STEPS)
    with pytest.raises(TypeError, match="key"):
        fj.gaussian_flux(net, 0, SAMPLED_STEPS)
    with pytest.raises(ValueError, match="steps"):
        fj.gaussian_flux(net, key, 50)
    with pytest.raises(ValueError, match="num_chains"):
        fj.gaussian_flux(net, key, SAMPLED_STEPS, num_chains=0)
    with pytest.raises(ValueError, match="window"):
        fj.gaussian_flux(net, key, SAMPLED_STEPS, window=-1)
    with pytest.raises(TypeError, match="burn_in"):
        fj.gaussian_flux_stderr(net, key, SAMPLED_STEPS, burn_in=1.5)
