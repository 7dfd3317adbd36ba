"""Each surrogate keeps the statistics it claims to keep and breaks the ones it claims
to break, measured on the generated series with numpy against the recorded signal.

Tolerances are Z = 5 standard errors of the statistic at the sample size used (a
two-sided 5-sigma event has probability 6e-7 per entry; the keys are fixed, so the
tests are deterministic, and the bound is not tuned to them). Standard errors:

- iid Gaussian output (gaussian_lag0, independent_gaussian), T rows:
  mean_i: sqrt(C_ii / T); C_ij (lag 0): sqrt((C_ii C_jj + C_ij^2) / T);
  lag-1 covariance (true value 0): sqrt(C_ii C_jj / T); SD_i: sd_i / sqrt(2 T);
  skewness: sqrt(6 / T).
- autocorrelated Gaussian output (gaussian_ar1): Bartlett's formula,
  Var(c_ab(k)) = (1/T) sum_h [g_aa(h) g_bb(h) + g_ab(h + k) g_ba(h - k)] with
  g(h) = E[z_t z_{t+h}^T] = C0 (A^T)^h (Brockwell & Davis 1991, section 11.2), and
  Var(mean) = diag((I - A)^-1 Q (I - A)^-T) / T (the long-run covariance).
- a random permutation of T fixed values (shuffle_time): lag-1 autocorrelation
  about N(-1/T, 1/T) (Wald & Wolfowitz 1943).
- circular shifts (circular_shift): the cross-correlation after shifting is the
  circular cross-correlation r(k) of the input at the uniform lag difference k, whose
  mean over k is exactly 0 and whose variance over k is computed from the input by FFT.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import scipy.stats

from fluxjax.surrogates import (
    SignalStats,
    circular_shift,
    gaussian_ar1,
    gaussian_lag0,
    independent_gaussian,
    scale_fluctuations,
    shuffle_time,
    signal_stats,
)


Z = 5.0
EPS32 = float(np.finfo(np.float32).eps)
KEYED = [
    circular_shift,
    shuffle_time,
    gaussian_lag0,
    gaussian_ar1,
    independent_gaussian,
]


# ---------------------------------------------------------------------------
# numpy references and inputs
# ---------------------------------------------------------------------------


def np_stats(x):
    """mean, C0 = np.cov(bias=True) and C1[i, j] = (1/T) sum_t d_t,i d_{t+1},j."""
    x = np.asarray(x, np.float64)
    d = x - x.mean(0)
    return x.mean(0), np.cov(x, rowvar=False, bias=True), d[:-1].T @ d[1:] / len(x)


def lag_cov(x, lag):
    """Cov(x_i(t), x_j(t + lag)) with numpy's 1/(T - 1) normalisation at lag 0."""
    x = np.asarray(x, np.float64)
    if lag == 0:
        return np.cov(x, rowvar=False)
    d = x - x.mean(0)
    return d[:-lag].T @ d[lag:] / (len(x) - lag)


def ar1_filter(noise, phi, burn_in=0):
    """x_t = phi x_{t-1} + noise_t per column (scipy.signal.lfilter), burn-in dropped."""
    return scipy.signal.lfilter([1.0], [1.0, -phi], noise, axis=0)[burn_in:]


def skewness(x):
    return scipy.stats.skew(np.asarray(x, np.float64), axis=0)


class Ar1Errors:
    """Sampling errors of the statistics of a stationary Gaussian VAR(1)
    z_{t+1} = A z_t + e_t, e ~ N(0, Q), with Cov(z_t) = C0 (Bartlett's formula)."""

    def __init__(self, A, C0):
        self.A, self.C0 = A, C0
        self.Q = C0 - A @ C0 @ A.T

    def gamma(self, h):
        """g(h) = E[z_t z_{t+h}^T]."""
        if h >= 0:
            return self.C0 @ np.linalg.matrix_power(self.A.T, h)
        return np.linalg.matrix_power(self.A, -h) @ self.C0

    def bartlett_se(self, lag, T, H=300):
        """Standard errors of the entries of the lag-``lag`` sample covariance."""
        g = {h: self.gamma(h) for h in range(-H - lag, H + lag + 1)}
        var = sum(
            np.outer(np.diag(g[h]), np.diag(g[h])) + g[h + lag] * g[h - lag].T
            for h in range(-H, H + 1)
        )
        return np.sqrt(var / T)

    def mean_se(self, T):
        inverse = np.linalg.inv(np.eye(len(self.A)) - self.A)
        return np.sqrt(np.diag(inverse @ self.Q @ inverse.T) / T)


class Var1(Ar1Errors):
    """A 3-dimensional Gaussian VAR(1) z_{t+1} = A z_t + e_t, e ~ N(0, Q), plus a mean.

    A = S D S^-1 with real eigenvalues D = (0.9, 0.5, -0.3), simulated per eigen-
    component with lfilter (independent of the library); C0 solves the discrete
    Lyapunov equation C0 = A C0 A^T + Q and C1 = C0 A^T.
    """

    mean = np.array([1.0, -2.0, 0.5])
    S = np.array([[1.0, 0.3, 0.0], [0.2, 1.0, 0.4], [0.0, -0.3, 1.0]])
    D = np.array([0.9, 0.5, -0.3])
    L = np.array([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [-0.3, 0.2, 0.6]])

    def __init__(self, T, seed):
        A = self.S @ np.diag(self.D) @ np.linalg.inv(self.S)
        super().__init__(A, scipy.linalg.solve_discrete_lyapunov(A, self.L @ self.L.T))
        self.C1 = self.C0 @ self.A.T
        burn_in = 2000  # 0.9^2000: the start is forgotten
        e = np.random.default_rng(seed).normal(size=(T + burn_in, 3)) @ self.L.T
        w = e @ np.linalg.inv(self.S).T  # S^-1 e_t per row
        y = np.stack([ar1_filter(w[:, k], d) for k, d in enumerate(self.D)], 1)
        self.signal = (y[burn_in:] @ self.S.T + self.mean).astype(np.float32)


@pytest.fixture(scope="module")
def var1():
    return Var1(200_000, seed=0)


def skewed_signal(T=50_000, seed=2):
    """A non-Gaussian (filtered exponential), autocorrelated, cross-correlated signal."""
    rng = np.random.default_rng(seed)
    w = ar1_filter(rng.exponential(size=(T + 200, 4)), 0.7, burn_in=200)
    mix = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.6, 1.0, 0.0, 0.0],
            [0.0, -0.5, 1.0, 0.0],
            [0.3, 0.3, 0.3, 1.0],
        ]
    )
    return (w @ mix.T + np.array([0.5, -1.0, 2.0, 0.0])).astype(np.float32)


# ---------------------------------------------------------------------------
# signal_stats
# ---------------------------------------------------------------------------


@pytest.mark.float64
def test_signal_stats_match_numpy_and_are_possible():
    x = skewed_signal(T=3000).astype(np.float64)
    stats = signal_stats(x)
    assert isinstance(stats, SignalStats)
    assert all(v.dtype == jnp.float64 for v in stats)
    for got, want in zip(stats, np_stats(x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # [[C0, C1], [C1^T, C0]] is a Gram matrix: positive semidefinite.
    block = np.block([[stats.cov0, stats.cov1], [stats.cov1.T, stats.cov0]])
    assert np.linalg.eigvalsh(block).min() > -1e-12 * np.abs(block).max()


def test_signal_stats_keep_a_constant_neuron_exact():
    x = np.stack([skewed_signal(T=1000)[:, 0], np.full(1000, 0.3, np.float32)], 1)
    stats = signal_stats(x)
    assert stats.mean.dtype == jnp.float32
    assert stats.mean[1] == np.float32(0.3)
    assert np.all(np.asarray(stats.cov0)[1] == 0) and np.all(stats.cov1[:, 1] == 0)


# ---------------------------------------------------------------------------
# circular_shift
# ---------------------------------------------------------------------------


def correlated_ar1(T, phi, rho, seed):
    """Two AR(1) series (coefficient phi), lag-0 correlation about rho, log-normal."""
    e = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], T)
    return np.exp(0.5 * ar1_filter(e, phi)).astype(np.float32)


def test_circular_shift_keeps_marginals_and_autocorrelation_exactly(getkey):
    x = correlated_ar1(10_000, 0.5, 0.8, seed=1)
    out = np.asarray(circular_shift(getkey(), x))
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(np.sort(out, 0), np.sort(x, 0))
    T = len(x)
    lags = []
    for i in range(x.shape[1]):  # each column is np.roll of the input's, by some lag
        (position,) = np.flatnonzero(x[:, i] == out[0, i])
        lags.append(-position % T)
        np.testing.assert_array_equal(out[:, i], np.roll(x[:, i], lags[-1]))
    assert lags[0] != lags[1]
    for i in range(x.shape[1]):
        d_in = x[:, i].astype(np.float64) - x[:, i].mean(dtype=np.float64)
        d_out = out[:, i].astype(np.float64) - out[:, i].mean(dtype=np.float64)
        for k in range(1, 6):
            want = np.mean(d_in * np.roll(d_in, -k))
            got = np.mean(d_out * np.roll(d_out, -k))
            np.testing.assert_allclose(got, want, rtol=1e-10)


def test_circular_shift_breaks_cross_correlation(getkey):
    T, K = 10_000, 200
    x = correlated_ar1(T, 0.5, 0.8, seed=3)
    assert np.corrcoef(x.T)[0, 1] > 0.7
    # Reference: r(k) = corr(x_1(t), x_2(t + k)) for every circular lag k, by FFT.
    d = x.astype(np.float64) - x.mean(0, dtype=np.float64)
    f = np.fft.rfft(d, axis=0)
    r = np.fft.irfft(np.conj(f[:, 0]) * f[:, 1], n=T) / np.sqrt(np.prod((d**2).sum(0)))
    assert abs(r.mean()) < 1e-12  # the mean over lags is exactly 0
    sd_r = np.sqrt(np.mean(r**2))
    assert sd_r < 0.05
    keys = jr.split(getkey(), K)
    out = np.asarray(jax.vmap(circular_shift, in_axes=(0, None))(keys, x))
    corr = np.array([np.corrcoef(o.T)[0, 1] for o in out])
    assert abs(corr.mean()) < Z * sd_r / np.sqrt(K)


# ---------------------------------------------------------------------------
# shuffle_time
# ---------------------------------------------------------------------------


def test_shuffle_time_keeps_rows_and_breaks_time(getkey):
    T, K = 10_000, 20
    e = np.random.default_rng(4).normal(size=(T + 200, 3)) @ Var1.L.T
    x = ar1_filter(e, 0.9, burn_in=200).astype(np.float32)
    out = np.asarray(shuffle_time(getkey(), x))
    assert out.dtype == np.float32 and out.shape == x.shape

    def sorted_rows(a):
        return a[np.lexsort(a.T[::-1])]

    np.testing.assert_array_equal(sorted_rows(out), sorted_rows(x))  # same multiset
    np.testing.assert_allclose(lag_cov(out, 0), lag_cov(x, 0), rtol=1e-10)
    r1_in = np.diag(lag_cov(x, 1)) / np.diag(lag_cov(x, 0))
    assert np.all(r1_in > 0.85)
    keys = jr.split(getkey(), K)
    outs = np.asarray(jax.vmap(shuffle_time, in_axes=(0, None))(keys, x))
    r1 = np.array([np.diag(lag_cov(o, 1)) / np.diag(lag_cov(o, 0)) for o in outs])
    assert np.all(np.abs(r1 + 1 / T) < Z / np.sqrt(T))
    assert np.all(np.abs(r1.mean(0) + 1 / T) < Z / np.sqrt(T * K))


# ---------------------------------------------------------------------------
# gaussian_lag0 and independent_gaussian
# ---------------------------------------------------------------------------


def iid_errors(x):
    """SEs of mean, lag-0 and lag-1 covariances for T iid rows with covariance C."""
    T = len(x)
    _, C, _ = np_stats(x)
    v = np.diag(C)
    return (
        np.sqrt(v / T),
        np.sqrt((np.outer(v, v) + C**2) / T),
        np.sqrt(np.outer(v, v) / T),
    )


def test_gaussian_lag0_keeps_mean_and_covariance(getkey):
    x = skewed_signal()
    T = len(x)
    mean, C0, _ = np_stats(x)
    out = np.asarray(gaussian_lag0(getkey(), x))
    assert out.dtype == np.float32 and out.shape == x.shape
    se_mean, se_cov, se_lag1 = iid_errors(x)
    assert np.all(np.abs(out.mean(0) - mean) < Z * se_mean)
    assert np.all(np.abs(lag_cov(out, 0) - C0) < Z * se_cov)
    assert np.abs(C0[0, 1]) > 20 * se_cov[0, 1]  # there was a correlation to keep
    # What it breaks: the input's memory and skew.
    assert np.all(np.abs(lag_cov(out, 1)) < Z * se_lag1)
    assert np.all(np.diag(lag_cov(x, 1)) > 0.5 * np.diag(C0))
    assert np.all(np.abs(skewness(out)) < Z * np.sqrt(6 / T))
    assert skewness(x)[0] > 0.5


def test_independent_gaussian_keeps_means_and_sds(getkey):
    x = skewed_signal()
    T = len(x)
    mean, C0, _ = np_stats(x)
    sd = np.sqrt(np.diag(C0))
    out = np.asarray(independent_gaussian(getkey(), x))
    assert out.dtype == np.float32 and out.shape == x.shape
    se_mean, _, se_lag1 = iid_errors(x)
    assert np.all(np.abs(out.mean(0) - mean) < Z * se_mean)
    assert np.all(np.abs(out.std(0, ddof=1) - sd) < Z * sd / np.sqrt(2 * T))
    off = ~np.eye(4, dtype=bool)
    assert np.all(np.abs(lag_cov(out, 0)[off]) < Z * se_lag1[off])
    assert np.all(np.abs(lag_cov(out, 1)) < Z * se_lag1)
    assert np.abs(C0[0, 1]) > 20 * se_lag1[0, 1]


# ---------------------------------------------------------------------------
# gaussian_ar1
# ---------------------------------------------------------------------------


def test_gaussian_ar1_keeps_mean_c0_c1(var1, getkey):
    x = var1.signal
    T = len(x)
    se = {lag: var1.bartlett_se(lag, T) for lag in (0, 1)}
    se_mean = var1.mean_se(T)
    recorded = np_stats(x)
    closed = (var1.mean, var1.C0, var1.C1)
    # The input has the closed-form statistics (a check of the reference itself).
    for got, want, s in zip(recorded, closed, (se_mean, se[0], se[1])):
        assert np.all(np.abs(got - want) < Z * s)
    out = np.asarray(gaussian_ar1(getkey(), x))
    assert out.dtype == np.float32 and out.shape == x.shape
    generated = (out.mean(0), lag_cov(out, 0), lag_cov(out, 1))
    for got, rec, want, s in zip(generated, recorded, closed, (se_mean, se[0], se[1])):
        # The output's true statistics are the recorded ones: one sampling error
        # against them, two (independent) against the closed form.
        assert np.all(np.abs(got - rec) < Z * s)
        assert np.all(np.abs(got - want) < Z * np.sqrt(2) * s)
    assert np.all(np.abs(var1.C1) > 10 * se[1])  # each entry is far from 0


def test_gaussian_ar1_is_stationary_from_the_first_row(var1, getkey):
    K = 4000
    x = var1.signal[:64]
    mean, C0, C1 = np_stats(x)
    keys = jr.split(getkey(), K)
    out = np.asarray(jax.vmap(gaussian_ar1, in_axes=(0, None))(keys, x), np.float64)
    v = np.diag(C0)
    for t in (0, 1, 63):  # across keys, every row is N(mean, C0)
        rows = out[:, t]
        assert np.all(np.abs(rows.mean(0) - mean) < Z * np.sqrt(v / K))
        cov = np.cov(rows, rowvar=False)
        assert np.all(np.abs(cov - C0) < Z * np.sqrt((np.outer(v, v) + C0**2) / K))
    d0, d1 = out[:, 0] - out[:, 0].mean(0), out[:, 1] - out[:, 1].mean(0)
    cross = d0.T @ d1 / (K - 1)  # Cov(row 0, row 1) = C1
    assert np.all(np.abs(cross - C1) < Z * np.sqrt((np.outer(v, v) + C1**2) / K))


def test_gaussian_ar1_handles_singular_statistics(var1, getkey):
    """A constant neuron and a collinear pair (C0 singular), a delayed copy (Cov(e)
    singular): finite output, the constant exact, the linear relations kept."""
    T = 20_000
    z = var1.signal[: T + 1]
    constant = np.full(T, 0.3, np.float32)
    x = np.stack([z[1:, 0], constant, z[1:, 1], 2 * z[1:, 0], z[:-1, 0]], 1)
    out = np.asarray(gaussian_ar1(getkey(), x))
    assert np.all(np.isfinite(out))
    assert np.all(out[:, 1] == np.float32(0.3))
    # Collinear: C0 v = 0 for v = (-2, 0, 0, 1, 0)/sqrt(5); the output stays in the
    # range of C0 up to the pseudo-inverse cutoff n eps lambda_max in variance.
    _, C0, _ = np_stats(x)
    cutoff = x.shape[1] * EPS32 * np.linalg.eigvalsh(C0).max()
    residual = out[:, 3] - 2 * out[:, 0]
    assert np.std(residual) < Z * np.sqrt(5 * cutoff)
    # Delayed copy x_4(t + 1) = x_0(t): the fitted noise of neuron 4 is about 0.
    assert np.corrcoef(out[1:, 4], out[:-1, 0])[0, 1] > 0.999
    se = var1.bartlett_se(0, T)[[0, 1]][:, [0, 1]]
    kept = [0, 2]
    assert np.all(np.abs(lag_cov(out[:, kept], 0) - C0[np.ix_(kept, kept)]) < Z * se)


# ---------------------------------------------------------------------------
# scale_fluctuations
# ---------------------------------------------------------------------------


def test_scale_fluctuations_closed_form():
    x = skewed_signal(T=2000)
    mean = np.asarray(signal_stats(x).mean)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-5)
    zero = np.asarray(scale_fluctuations(x, 0.0))
    assert np.all(zero == mean[None, :])  # exactly the means
    np.testing.assert_array_equal(scale_fluctuations(x, 1), x)  # exactly the signal
    bound = 4 * EPS32 * (np.abs(x) + np.abs(mean)).max()  # a few float32 roundings
    for scale in (0.25, 0.5, 2.0):
        out = np.asarray(scale_fluctuations(x, scale))
        assert out.dtype == np.float32
        want = mean + scale * (x.astype(np.float64) - mean)
        np.testing.assert_allclose(out, want, rtol=0, atol=(1 + scale) * bound)
    deviations = np.asarray(scale_fluctuations(x, 2.0)) - mean
    np.testing.assert_allclose(deviations, 2 * (x - mean), rtol=0, atol=3 * bound)


def test_scale_fluctuations_sweep_under_vmap():
    x = skewed_signal(T=500)
    scales = jnp.linspace(0.0, 2.0, 5)
    swept = jax.vmap(lambda s: scale_fluctuations(x, s))(scales)
    for s, out in zip(scales, swept):
        np.testing.assert_array_equal(out, scale_fluctuations(x, s))


# ---------------------------------------------------------------------------
# Invariances, dtypes and errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("surrogate", KEYED, ids=lambda f: f.__name__)
def test_same_key_same_surrogate_different_keys_differ(surrogate, getkey):
    x = skewed_signal(T=300)
    key = getkey()
    first = surrogate(key, x)
    np.testing.assert_array_equal(first, surrogate(key, x))
    assert not np.array_equal(first, surrogate(getkey(), x))
    jitted = jax.jit(surrogate)(key, x)  # traced signal: the checks are skipped
    np.testing.assert_allclose(jitted, first, rtol=1e-6, atol=1e-6)


@pytest.mark.float64
@pytest.mark.parametrize("surrogate", KEYED, ids=lambda f: f.__name__)
def test_float64_stays_float64(surrogate, getkey):
    x = skewed_signal(T=300).astype(np.float64)
    assert surrogate(getkey(), x).dtype == jnp.float64
    assert scale_fluctuations(x, 0.5).dtype == jnp.float64


def test_integer_signal_becomes_default_float(getkey):
    x = np.arange(20).reshape(10, 2)
    for surrogate in KEYED:
        assert surrogate(getkey(), x).dtype == jnp.float32


def _callables():
    return [
        *KEYED,
        lambda key, signal: signal_stats(signal),
        lambda key, signal: scale_fluctuations(signal, 1.0),
    ]


@pytest.mark.parametrize("surrogate", _callables())
@pytest.mark.parametrize(
    ("signal", "error", "match"),
    [
        (np.zeros(10, np.float32), ValueError, r"signal must have shape \(T, n\)"),
        (np.zeros((2, 10, 3), np.float32), ValueError, r"signal must have shape"),
        (np.zeros((1, 3), np.float32), ValueError, r"signal must hold T >= 2"),
        (np.zeros((10, 0), np.float32), ValueError, r"signal must hold T >= 2"),
        (np.array([[0.0, np.nan], [1.0, 2.0]], np.float32), ValueError, "finite"),
        (np.array([[0.0, np.inf], [1.0, 2.0]], np.float32), ValueError, "finite"),
        (np.zeros((10, 2), bool), TypeError, "signal"),
    ],
    ids=["1-D", "3-D", "T=1", "n=0", "nan", "inf", "bool"],
)
def test_bad_signal_raises(surrogate, signal, error, match):
    with pytest.raises(error, match=match):
        surrogate(jr.key(0), signal)


@pytest.mark.parametrize("surrogate", KEYED, ids=lambda f: f.__name__)
def test_bad_key_raises(surrogate):
    with pytest.raises(TypeError, match="key"):
        surrogate(0, np.zeros((10, 2), np.float32))


@pytest.mark.parametrize(
    ("scale", "error", "match"),
    [
        (-0.5, ValueError, "scale must be finite and >= 0"),
        (float("nan"), ValueError, "scale must be finite and >= 0"),
        (float("inf"), ValueError, "scale must be finite and >= 0"),
        (np.ones(2), TypeError, "scale"),
        (True, TypeError, "scale"),
    ],
)
def test_bad_scale_raises(scale, error, match):
    with pytest.raises(error, match=match):
        scale_fluctuations(np.zeros((10, 2), np.float32), scale)
