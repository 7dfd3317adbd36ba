"""Gaussian approximations of the flux: Recurrent Infomax's I_G and U1 - TC_G, exactly.

Recurrent Infomax (Tanaka, Kaneko & Aoyagi 2009) maximised the information between
successive states of a network of stochastic binary neurons in a Gaussian
approximation: the mutual information of Gaussian vectors with the same equal-time
and lagged covariances,

    C0 = E[(x_t - m)(x_t - m)^T],   C1 = E[(x_t - m)(x_{t+1} - m)^T],               (1)

    I_G = 1/2 log det C0 - 1/2 log det(C0 - C1^T C0^-1 C1)                           (2)
        = log det C0 - 1/2 log det J,   J = [[C0, C1], [C1^T, C0]],

where C0 - C1^T C0^-1 C1 is the covariance of x_{t+1} given x_t of the Gaussian and
det J = det C0 det(C0 - C1^T C0^-1 C1) (Schur complement). J is the covariance of
(x_t, x_{t+1}); swapping its blocks shows that (2) is the same with C1 C0^-1 C1^T
(the issue's form) in place of C1^T C0^-1 C1, so the orientation of C1 does not
change I_G of a stationary process. (2) does not change when a unit is rescaled, so
it is computed from correlations (R = D^-1/2 C D^-1/2, D = diag C0), where a unit of
zero variance is independent of the rest and carries nothing
(:func:`fluxjax._linalg.log_det_correlation`). For a Gaussian AR(1) process
x_{t+1} = A x_t + e, e ~ N(0, Sigma), C0 = A C0 A^T + Sigma, C1 = C0 A^T and (2) is
its mutual information 1/2 log det C0 - 1/2 log det Sigma exactly.

For a network (n <= 14, by enumeration) the moments are exact: with the stationary
distribution pi (:mod:`fluxjax.info.exact`) and E[x_{t+1} | x_t = x] = p(x), the
firing probabilities,

    m = E_pi x,   C0 = E_pi (x - m)(x - m)^T,   C1 = E_pi (x - m)(p(x) - m)^T.        (3)

With the same C0, the large-n estimator :func:`fluxjax.moment_flux` approximates the
flux I = U1 - TC by (:mod:`fluxjax.info.moments`, Eqs. 1-2)

    U1 - TC_G,   U1 = sum_i [h(m_i) - E_pi h(p_i(x))],   TC_G = -1/2 log det R0,     (4)

whose exact value (3)-(4) is the limit of that estimator at infinitely many samples.

I_G is not the flux of binary neurons. On the nine random networks of
``tests/test_gaussian.py`` (n = 4, 6, 8; weights N(0, s^2), s = 1, 2, 3; it prints
the ratios) I_G / flux - 1 lies between -1.2 % and +503 % (median +10 %), U1 - TC_G
within -0.8 ... +0.9 %. It is scale-free, so it does not see the entropy a neuron loses as its rate
goes to 0 or 1: a neuron that fires rarely but reliably after its input keeps its
lagged correlation (and its share of I_G) while its share of the flux vanishes. This
is why Recurrent Infomax holds every rate at a target with a homeostatic threshold
rule (:data:`fluxjax.optimize.INFOMAX_TARGET_RATE`).

References:
    T. Tanaka, T. Kaneko, T. Aoyagi, "Recurrent infomax generates cell assemblies,
    neuronal avalanches, and simple cell-like selectivity", Neural Computation
    21(4), 1038-1067 (2009), Eq. (2) and the authors' sample code (RI_sample).
    T. Hayakawa, T. Kaneko, T. Aoyagi, "A biologically plausible learning rule for
    the Infomax on recurrent neural networks", Front. Comput. Neurosci. 8:143 (2014).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from .._checks import as_float_array, check_finite, is_concrete
from .._codes import all_states
from .._linalg import log_det_correlation
from ..network import BinaryNetwork
from .exact import (
    MAX_EXACT_NEURONS,
    _check_size,
    _entr,
    _future_given_state,
    _solve_stationary,
)


@jax.jit
def _information(covariance: Array, lagged: Array) -> Array:
    """I_G of Eq. (2) in nats: log det R0 - 1/2 log det R_J."""
    covariance = (covariance + covariance.T) / 2
    variance = jnp.diagonal(covariance)
    joint = jnp.block([[covariance, lagged], [lagged.T, covariance]])
    both = jnp.concatenate([variance, variance])
    return log_det_correlation(covariance, variance) - 0.5 * log_det_correlation(
        joint, both
    )


def gaussian_information(
    covariance: Real[ArrayLike, "_n _n"],
    lagged_covariance: Real[ArrayLike, "_n _n"],
    *,
    base: float | int = 2.0,
) -> Float[Array, ""]:
    """The Gaussian lagged information I_G of Recurrent Infomax (Eq. 2), in bits.

    I_G = 1/2 log det C0 - 1/2 log det(C0 - C1^T C0^-1 C1) with C0 =
    ``covariance`` = Cov(x_t, x_t) and C1 = ``lagged_covariance`` = Cov(x_t, x_{t+1})
    = E[(x_t - m)(x_{t+1} - m)^T]: the mutual information of successive states of a
    stationary Gaussian process with these moments (C1 or its transpose give the
    same value). A pure, differentiable function of the moments (Cholesky
    log-determinants of the correlation matrices); a unit of zero variance carries
    no information. From a recording, ``fluxjax.surrogates.signal_stats(states)``
    gives (mean, C0, C1).

    Args:
        covariance: ``(n, n)`` the equal-time covariance C0 (symmetric).
        lagged_covariance: ``(n, n)`` the lag-1 covariance C1, rows x_t, columns
            x_{t+1}.
        base: the logarithm's base (2: bits; e: nats).

    Returns:
        I_G >= 0, in units of log ``base``.

    Raises:
        ValueError: shapes that do not match, values that are not finite, negative
            variances, or (with concrete values) moments whose joint covariance
            [[C0, C1], [C1^T, C0]] is not positive definite (no process has them).
            Inside ``jit`` or ``grad`` such moments give NaN.
        TypeError: arguments that are not real arrays.

    Examples:
        >>> a = 0.8  # x' = a x + e, Var(e) = 1 - a^2: unit variance, lag-1 cov a
        >>> value = gaussian_information(jnp.eye(1), a * jnp.eye(1), base=math.e)
        >>> round(float(value), 6), round(-0.5 * math.log(1 - a**2), 6)
        (0.510826, 0.510826)
    """
    covariance = as_float_array(covariance, "covariance")
    lagged = as_float_array(lagged_covariance, "lagged_covariance", covariance.dtype)
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(
            f"covariance must be a square (n, n) matrix with n >= 1, got shape "
            f"{covariance.shape}"
        )
    if covariance.shape[0] < 1:
        raise ValueError("covariance must hold at least one unit, got shape (0, 0)")
    if lagged.shape != covariance.shape:
        raise ValueError(
            f"lagged_covariance must have the shape of covariance "
            f"{covariance.shape}, got {lagged.shape}"
        )
    number = isinstance(base, (int, float)) and not isinstance(base, bool)
    if not (number and math.isfinite(base) and base > 0 and base != 1):
        raise ValueError(f"base must be a finite number > 0 other than 1, got {base!r}")
    check_finite(covariance, "covariance")
    check_finite(lagged, "lagged_covariance")
    if is_concrete(covariance) and np.any(np.diagonal(np.asarray(covariance)) < 0):
        raise ValueError("covariance must have a diagonal (the variances) >= 0")
    value = _information(covariance, lagged) / math.log(base)
    if is_concrete(value) and not np.isfinite(float(value)):
        raise ValueError(
            "covariance and lagged_covariance must be the moments of a process: the "
            "joint covariance [[C0, C1], [C1^T, C0]] of (x_t, x_{t+1}) is not "
            "positive definite (C0 must be symmetric positive semi-definite and C1 "
            "small enough that C0 - C1^T C0^-1 C1 is positive definite)"
        )
    return value


def _stationary_moments(net: BinaryNetwork):
    """pi, the centred states x - m, p(x) and 1 - p(x) over all 2^n states (Eq. 3)."""
    n = net.num_neurons
    pi = _solve_stationary(_future_given_state(net, tuple(range(n))))
    states = all_states(n, pi.dtype)
    centred = states - pi @ states
    return pi, centred, net.firing_prob(states), net.silent_prob(states)


def exact_gaussian_flux(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, ""]:
    """Recurrent Infomax's I_G (Eq. 2) of the exact stationary moments (Eq. 3), in bits.

    C0 = Cov_pi(x) and C1 = E_pi[(x - m)(p(x) - m)^T] with the stationary
    distribution pi by enumeration, so the only approximation is the Gaussian one:
    compare :func:`fluxjax.exact_flux` (the flux itself, which I_G over-estimates).
    Differentiable in every field of the network. Enumerates the whole network:
    n <= ``max_neurons``.

    Args:
        net: the network.
        max_neurons: the largest network to enumerate (memory grows as 4^n).

    Raises:
        ValueError: a network over ``max_neurons`` neurons, or too large for memory.

    Examples:
        >>> weights = jnp.array([[0.0, 3.0], [3.0, 0.0]])  # 0 <-> 1
        >>> net = BinaryNetwork(weights, jnp.array([-1.5, -1.5]))
        >>> flux, gaussian = exact_flux(net), exact_gaussian_flux(net)
        >>> bool(gaussian > flux > 0)  # I_G over-estimates the flux here
        True
    """
    _check_size(net, max_neurons, "exact_gaussian_flux")
    return _exact_gaussian_flux(net)


@eqx.filter_jit
def _exact_gaussian_flux(net: BinaryNetwork) -> Array:
    pi, centred, fire, _ = _stationary_moments(net)
    weighted = centred * pi[:, None]
    covariance = weighted.T @ centred
    lagged = weighted.T @ (fire - pi @ fire)
    return _information(covariance, lagged) / math.log(2.0)


def exact_moment_flux(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, ""]:
    """U1 - TC_G (Eq. 4) of the exact stationary moments, in bits.

    The value that :func:`fluxjax.moment_flux` estimates from samples, at infinitely
    many of them: U1 = sum_i [h(m_i) - E_pi h(p_i(x))] (exact) minus the Gaussian
    total correlation -1/2 log det R0 of the stationary state (its correlation
    matrix from pi by enumeration). Its difference from :func:`fluxjax.exact_flux` is
    the large-n estimator's systematic error alone. Differentiable in every field.
    Enumerates the whole network: n <= ``max_neurons``.

    Args:
        net: the network.
        max_neurons: the largest network to enumerate (memory grows as 4^n).

    Raises:
        ValueError: a network over ``max_neurons`` neurons, or too large for memory.

    Examples:
        >>> net = random_network(6, key=jax.random.key(0), weight_scale=2.0)
        >>> bool(abs(exact_moment_flux(net) - exact_flux(net)) < 0.05 * exact_flux(net))
        True
    """
    _check_size(net, max_neurons, "exact_moment_flux")
    return _exact_moment_flux(net)


@eqx.filter_jit
def _exact_moment_flux(net: BinaryNetwork) -> Array:
    pi, centred, fire, silent = _stationary_moments(net)
    covariance = (centred * pi[:, None]).T @ centred
    m, mbar = pi @ fire, pi @ silent  # E_pi x' = E_pi x at stationarity
    u1 = jnp.sum(_entr(m) + _entr(mbar) - pi @ (_entr(fire) + _entr(silent)))
    tc = -0.5 * log_det_correlation(covariance, jnp.diagonal(covariance))
    return (u1 - tc) / math.log(2.0)
