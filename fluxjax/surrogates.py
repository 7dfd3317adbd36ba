"""Surrogates of a recorded input signal: each keeps some statistics and breaks the rest.

A signal is a real time series U of shape ``(T, n)``: ``U[t, i]`` is the input into
neuron i at step t. To find which property of an input matters, drive a network with
surrogates that keep one property and destroy the others, and compare.

One design throughout: every random surrogate is a pure function
``surrogate(key, signal) -> (T, n)`` of a JAX key and the recorded signal, so the
surrogates are interchangeable in an experiment (loop over them, or ``jax.vmap`` over
keys: the statistics of the recorded signal do not depend on the key, so under
``vmap`` they are computed once). The parametric surrogates compute the statistics
they keep with :func:`signal_stats` (public, so that an experiment can report what was
kept); the resampling surrogates need the values themselves. The output has the
signal's length and dtype (an integer signal becomes JAX's default float), and the
statistics are computed in that dtype.

What each surrogate keeps (and what it breaks):

- :func:`circular_shift`: each neuron's values and circular autocorrelation, exactly
  (breaks the dependence between neurons).
- :func:`shuffle_time`: the rows, hence the joint lag-0 distribution, exactly (breaks
  the temporal structure).
- :func:`gaussian_lag0`: the mean and the lag-0 covariance C0, in distribution (breaks
  the temporal structure and non-Gaussianity).
- :func:`gaussian_ar1`: the mean, C0 and the lag-1 covariance C1, in distribution
  (breaks longer memory and non-Gaussianity).
- :func:`independent_gaussian`: each neuron's mean and standard deviation, in
  distribution (breaks every correlation).
- :func:`scale_fluctuations` (deterministic, no key): the mean, with the deviations from
  it multiplied by a scale.

Statistics (:class:`SignalStats`) are the Yule-Walker estimates, normalised by T:

    mean = (1/T) sum_t U_t,       d_t = U_t - mean,
    C0 = (1/T) sum_{t=0}^{T-1} d_t d_t^T,      C1 = (1/T) sum_{t=0}^{T-2} d_t d_{t+1}^T,

so ``C0 = np.cov(U, rowvar=False, bias=True)`` and ``C1[i, j]`` estimates
Cov(U_i(t), U_j(t+1)). With this normalisation the 2n x 2n matrix
[[C0, C1], [C1^T, C0]] is (1/T) times the Gram matrix of the zero-padded series
([0, d_0, ..., d_{T-1}] beside [d_0, ..., d_{T-1}, 0]), hence positive semidefinite:
every recorded signal gives statistics that a stationary Gaussian AR(1) can have
(Brockwell & Davis 1991, section 8.1). The mean is computed as U_0 + mean(U - U_0),
so a neuron with a constant input has d = 0 exactly, and its surrogates are exactly
that constant. Because the generators take the signal, not statistics, no caller can
hand them statistics that no process has: this is why :func:`gaussian_ar1` clips the
(rounding-level) negative eigenvalues of its noise covariance instead of raising.

References:
    J. Theiler, S. Eubank, A. Longtin, B. Galdrikian, J. D. Farmer, "Testing for
    nonlinearity in time series: the method of surrogate data", Physica D 58, 77
    (1992) (shuffled and Gaussian surrogates).
    P. J. Brockwell, R. A. Davis, "Time Series: Theory and Methods", 2nd ed.,
    Springer (1991), sections 8.1 (Yule-Walker estimates) and 11.2 (Bartlett's
    formula for the sampling error of cross-covariances).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Real

from ._checks import as_float_array, check_finite, check_key, is_concrete
from ._linalg import eigh


__all__ = [
    "SignalStats",
    "circular_shift",
    "gaussian_ar1",
    "gaussian_lag0",
    "independent_gaussian",
    "scale_fluctuations",
    "shuffle_time",
    "signal_stats",
]

# Any rank here, so that a wrong rank reaches the ValueError of `_as_signal` (not the
# runtime type checker); the (T, n) shape is checked there and stated by the returns.
_Signal = Real[ArrayLike, "..."]
_HIGHEST = jax.lax.Precision.HIGHEST  # full float32 products on GPUs too (no TF32)
_MIN_STEPS = 2  # C1 needs one pair of successive steps


class SignalStats(NamedTuple):
    """The mean and the lag-0 and lag-1 covariances of a signal (see the module docstring).

    Attributes:
        mean: ``(n,)``, mean_t U_t.
        cov0: ``(n, n)``, C0 = (1/T) sum_t d_t d_t^T (symmetric).
        cov1: ``(n, n)``, C1 = (1/T) sum_{t<T-1} d_t d_{t+1}^T; ``cov1[i, j]``
            estimates Cov(U_i(t), U_j(t+1)).
    """

    mean: Float[Array, " n"]
    cov0: Float[Array, "n n"]
    cov1: Float[Array, "n n"]


def _as_signal(signal) -> Array:
    """The signal as a floating ``(T, n)`` array with T >= 2 and finite values."""
    signal = as_float_array(signal, "signal")
    if signal.ndim != 2:
        raise ValueError(
            f"signal must have shape (T, n) (time steps, neurons), got {signal.shape}"
        )
    if signal.shape[0] < _MIN_STEPS or signal.shape[1] < 1:
        raise ValueError(
            f"signal must hold T >= {_MIN_STEPS} time steps of n >= 1 neurons, got "
            f"shape {signal.shape}"
        )
    check_finite(signal, "signal")
    return signal


def _stats(signal: Array) -> SignalStats:
    T = signal.shape[0]
    shift = signal[0]  # U_0 + mean(U - U_0): a constant column gives d = 0 exactly
    shifted = signal - shift[None, :]
    offset = jnp.mean(shifted, axis=0)
    d = shifted - offset[None, :]
    cov0 = jnp.matmul(d.T, d, precision=_HIGHEST) / T
    cov1 = jnp.matmul(d[:-1].T, d[1:], precision=_HIGHEST) / T
    return SignalStats(shift + offset, (cov0 + cov0.T) / 2, cov1)


def _eigh_psd(cov: Array) -> tuple[Array, Array]:
    """Eigenvalues (clipped at 0: rounding of a PSD matrix) and eigenvectors."""
    eigenvalues, vectors = eigh(cov)
    return jnp.maximum(eigenvalues, 0), vectors


def _factor(eigenvalues: Array, vectors: Array, active: Array) -> Array:
    """L with L L^T = the PSD matrix; rows of inactive (zero-variance) neurons are 0.

    Zeroing those rows keeps a constant neuron exactly constant (eigenvectors can mix
    rounding into a zero row of the matrix).
    """
    factor = vectors * jnp.sqrt(eigenvalues)[None, :]
    return jnp.where(active[:, None], factor, 0)


def _normal(key: PRNGKeyArray, shape: tuple[int, ...], factor: Array) -> Array:
    """Rows of N(0, factor factor^T) samples, shape ``shape``."""
    noise = jr.normal(key, shape, factor.dtype)
    return jnp.matmul(noise, factor.T, precision=_HIGHEST)


@jax.jit
def _signal_stats(signal):
    return _stats(signal)


@jax.jit
def _circular_shift(key, signal):
    T, n = signal.shape
    lags = jr.randint(key, (n,), 0, T)
    rows = (jnp.arange(T)[:, None] - lags[None, :]) % T  # out[t, i] = U[t - l_i, i]
    return jnp.take_along_axis(signal, rows, axis=0)


@jax.jit
def _shuffle_time(key, signal):
    return signal[jr.permutation(key, signal.shape[0])]


@jax.jit
def _gaussian_lag0(key, signal):
    stats = _stats(signal)
    active = jnp.diag(stats.cov0) > 0
    factor = _factor(*_eigh_psd(stats.cov0), active)
    return stats.mean[None, :] + _normal(key, signal.shape, factor)


@jax.jit
def _independent_gaussian(key, signal):
    stats = _stats(signal)
    sd = jnp.sqrt(jnp.diag(stats.cov0))
    return stats.mean[None, :] + sd[None, :] * jr.normal(key, signal.shape, sd.dtype)


@jax.jit
def _gaussian_ar1(key, signal):
    T, n = signal.shape
    mean, C0, C1 = _stats(signal)
    active = jnp.diag(C0) > 0
    eigenvalues, vectors = _eigh_psd(C0)
    # Pseudo-inverse of C0: eigenvalues <= n eps lambda_max count as 0 (numpy's rank
    # cutoff), with a guarded division.
    cutoff = n * jnp.finfo(C0.dtype).eps * jnp.max(eigenvalues)
    keep = eigenvalues > cutoff
    inverse = jnp.where(keep, 1 / jnp.where(keep, eigenvalues, 1), 0)
    C0_pinv = jnp.matmul(vectors * inverse[None, :], vectors.T, precision=_HIGHEST)
    A = jnp.matmul(C1.T, C0_pinv, precision=_HIGHEST)  # A = C1^T C0^+
    # Cov(e) = C0 - A C0 A^T = C0 - C1^T C0^+ C1 (PSD up to rounding).
    noise_cov = C0 - jnp.matmul(A, C1, precision=_HIGHEST)
    noise_factor = _factor(*_eigh_psd((noise_cov + noise_cov.T) / 2), active)
    start_key, noise_key = jr.split(key)
    z0 = _normal(start_key, (n,), _factor(eigenvalues, vectors, active))  # N(0, C0)
    e = _normal(noise_key, (T - 1, n), noise_factor)

    def step(z, e_t):
        z = jnp.matmul(A, z, precision=_HIGHEST) + e_t  # z_{t+1} = A z_t + e_t
        return z, z

    _, z = jax.lax.scan(step, z0, e)
    return mean[None, :] + jnp.concatenate([z0[None, :], z])


def signal_stats(signal: _Signal) -> SignalStats:
    """The mean, lag-0 and lag-1 covariances of a signal, in its dtype.

    mean = (1/T) sum_t U_t, C0 = (1/T) sum_t d_t d_t^T and
    C1 = (1/T) sum_{t=0}^{T-2} d_t d_{t+1}^T with d_t = U_t - mean (the Yule-Walker
    estimates; see the module docstring for why 1/T).

    Args:
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        ``SignalStats(mean, cov0, cov1)``.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
        >>> stats = signal_stats(signal)
        >>> stats.mean, stats.cov0[0, 0], stats.cov1[0, 0]
        (Array([2., 1.], dtype=float32), Array(2.6666667, dtype=float32), Array(0., dtype=float32))
    """
    return _signal_stats(_as_signal(signal))


def circular_shift(key: PRNGKeyArray, signal: _Signal) -> Float[Array, "T n"]:
    """Each neuron's series shifted circularly by its own uniform random lag.

    out[t, i] = U[(t - l_i) mod T, i] with independent l_i ~ Uniform{0, ..., T - 1}
    (``np.roll(U[:, i], l_i)``). Keeps each neuron's values (its marginal) and its
    circular autocorrelation exactly; breaks the dependence between neurons: averaged
    over the lags, every cross-covariance is exactly 0 (the circular cross-covariance of
    centred series sums to 0 over all lags).

    Args:
        key: a JAX PRNG key.
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        The surrogate, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``key`` is not a key, or ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.arange(8.0).reshape(4, 2)
        >>> out = circular_shift(jax.random.key(0), signal)
        >>> out.shape, bool(jnp.all(jnp.sort(out, 0) == signal))
        ((4, 2), True)
    """
    check_key(key)
    return _circular_shift(key, _as_signal(signal))


def shuffle_time(key: PRNGKeyArray, signal: _Signal) -> Float[Array, "T n"]:
    """The rows in a random order, one permutation shared by all neurons.

    out[t] = U[pi(t)] for a uniform random permutation pi of {0, ..., T - 1}. Keeps the
    multiset of rows, hence the joint lag-0 distribution (mean and C0 exactly, up to
    the order of summation); breaks all temporal structure (the lag-1 autocorrelation
    of the result is about N(0, 1/T)).

    Args:
        key: a JAX PRNG key.
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        The surrogate, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``key`` is not a key, or ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.arange(8.0).reshape(4, 2)
        >>> out = shuffle_time(jax.random.key(0), signal)
        >>> bool(jnp.all(out[:, 1] - out[:, 0] == 1))  # rows move together
        True
    """
    check_key(key)
    return _shuffle_time(key, _as_signal(signal))


def gaussian_lag0(key: PRNGKeyArray, signal: _Signal) -> Float[Array, "T n"]:
    """Independent Gaussian vectors with the recorded mean and lag-0 covariance.

    out[t] = mean + L xi_t with xi_t ~ N(0, I) iid and L L^T = C0 (from the
    eigendecomposition of C0, which may be singular: e.g. a neuron with a constant
    input, which stays exactly constant). Keeps mean and C0 in distribution; breaks
    the temporal structure and any non-Gaussianity.

    Args:
        key: a JAX PRNG key.
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        The surrogate, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``key`` is not a key, or ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.stack([jnp.arange(100.0), jnp.ones(100)], axis=1)
        >>> out = gaussian_lag0(jax.random.key(0), signal)
        >>> out.shape, bool(jnp.all(out[:, 1] == 1))  # the constant neuron stays
        ((100, 2), True)
    """
    check_key(key)
    return _gaussian_lag0(key, _as_signal(signal))


def gaussian_ar1(key: PRNGKeyArray, signal: _Signal) -> Float[Array, "T n"]:
    """A stationary Gaussian vector AR(1) with the recorded mean, C0 and C1.

    out[t] = mean + z_t, with

        z_0 ~ N(0, C0),   z_{t+1} = A z_t + e_t,   e_t ~ N(0, Sigma) iid,
        A = C1^T C0^+,    Sigma = C0 - A C0 A^T = C0 - C1^T C0^+ C1,

    run with ``lax.scan``. Then Cov(z_t, z_{t+1}) = C0 A^T = C1 and, by induction,
    Cov(z_t) = C0 at every t (stationary from the first step; Yule-Walker,
    Brockwell & Davis 1991, section 8.1). Keeps mean, C0 and C1 in distribution; the
    autocovariance at lag k is C0 (A^T)^k, so longer memory and non-Gaussianity are
    not kept.

    Numerics: C0^+ is the pseudo-inverse from the eigendecomposition of C0, with
    eigenvalues <= n eps lambda_max counted as 0 (a neuron with a constant input, or
    neurons with collinear inputs; a constant neuron stays exactly constant). Sigma is
    positive semidefinite in exact arithmetic for every recorded signal (see the module
    docstring), also with the truncated pseudo-inverse, so no statistics are impossible
    here; its negative eigenvalues are rounding error and are clipped to 0. The same
    argument bounds the eigenvalues of A by 1 in modulus.

    Args:
        key: a JAX PRNG key (split into one key for z_0 and one for the e_t).
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        The surrogate, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``key`` is not a key, or ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.cumsum(jax.random.normal(jax.random.key(0), (500, 2)), 0)
        >>> out = gaussian_ar1(jax.random.key(1), signal)
        >>> out.shape, out.dtype
        ((500, 2), dtype('float32'))
    """
    check_key(key)
    return _gaussian_ar1(key, _as_signal(signal))


def independent_gaussian(key: PRNGKeyArray, signal: _Signal) -> Float[Array, "T n"]:
    """Independent Gaussian values per neuron and step with the recorded means and SDs.

    out[t, i] = mean_i + sqrt(C0_ii) xi_{t,i} with xi ~ N(0, 1) iid. Keeps each
    neuron's mean and variance in distribution; breaks every correlation, across
    neurons and in time, and any non-Gaussianity.

    Args:
        key: a JAX PRNG key.
        signal: ``(T, n)`` real values, T >= 2, all finite.

    Returns:
        The surrogate, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite.
        TypeError: ``key`` is not a key, or ``signal`` is not real-valued.

    Examples:
        >>> signal = jnp.stack([jnp.arange(100.0), jnp.ones(100)], axis=1)
        >>> out = independent_gaussian(jax.random.key(0), signal)
        >>> out.shape, bool(jnp.all(out[:, 1] == 1))
        ((100, 2), True)
    """
    check_key(key)
    return _independent_gaussian(key, _as_signal(signal))


@jax.jit
def _scale_fluctuations(signal, scale):
    mean = _stats(signal).mean[None, :]
    deviation = signal - mean
    # Exact at both ends, as C++ std::lerp: scale 0 gives the mean, scale 1 the signal.
    return jnp.where(
        scale < 0.5, mean + scale * deviation, signal - (1 - scale) * deviation
    )


def scale_fluctuations(
    signal: _Signal, scale: Real[ArrayLike, ""]
) -> Float[Array, "T n"]:
    """The signal's fluctuations around each neuron's mean, multiplied by ``scale``.

    out[t, i] = mean_i + scale (U[t, i] - mean_i), with the mean of
    :func:`signal_stats`. Computed as ``mean + scale d`` for scale < 1/2 and as
    ``U - (1 - scale) d`` otherwise, so that scale 0 gives the means and scale 1 the
    signal exactly. Deterministic (no key). ``scale`` may be traced, e.g.
    ``jax.vmap(lambda s: scale_fluctuations(signal, s))(jnp.linspace(0, 2, 21))``.

    Args:
        signal: ``(T, n)`` real values, T >= 2, all finite.
        scale: a real scalar >= 0 (a sweep typically runs over 0..2).

    Returns:
        The scaled signal, ``(T, n)``, in the signal's dtype.

    Raises:
        ValueError: ``signal`` is not 2-D, has T < 2 or n = 0, or is not finite;
            ``scale`` is negative or not finite.
        TypeError: ``signal`` is not real-valued, or ``scale`` is not a real scalar.

    Examples:
        >>> signal = jnp.array([[0.0, 1.0], [2.0, 3.0]])
        >>> scale_fluctuations(signal, 2.0)
        Array([[-1.,  0.],
               [ 3.,  4.]], dtype=float32)
    """
    signal = _as_signal(signal)
    scale = as_float_array(scale, "scale", signal.dtype)
    if scale.ndim != 0:
        raise TypeError(f"scale must be a real scalar, got shape {scale.shape}")
    if is_concrete(scale) and not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and >= 0, got {float(scale)}")
    return _scale_fluctuations(signal, scale)
