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

**From samples, differentiably** (:func:`gaussian_flux`, any n). The moments (3) are
Rao-Blackwellised through the known conditional, as those of
:func:`fluxjax.moment_flux` (:mod:`fluxjax.info.moments`, Eq. 3): with x' ~ pi,
E[x'_i x'_j | x] = p_i(x) p_j(x) for i != j and E[x_{t+1} | x_t] = p(x_t), so from
stationary samples x_t

    m = <p(x_t)>,   C0 = <(p - m)(p - m)^T> off the diagonal, m_i (1 - m_i) on it,  (5)
    C1 = <(x_t - <x>)(p(x_t) - m)^T>,

and the value is I_G (2) of (5), jackknifed over the chains (or blocks) like
``moment_flux`` to remove the log-determinants' O(n^2 / T) bias. (5) is the
sample version of (3) term by term. The gradient is that of a smooth function
Phi(m, C0, C1) of stationary moments: with (a, G, H) = dPhi/d(m, C0, C1) at (5) (G
symmetric with a zero diagonal, which (5) fixes to m (1 - m)), the influence function

    F(x) = a . p(x) + (p - m)^T G (p - m) + (x - <x>)^T H (p - m)                    (6)

gives dI_G = E_pi[dF/dp . dp] + sum_x dpi(x) F(x): a pathwise term (the slope a +
2 G (p - m) + H^T (x - <x>) times dp, at fixed samples) and the windowed score
function of F with the innovation control variate and each neuron credited with the
parts of F it can reach (:func:`fluxjax.info._score.streamed_surrogate`, the
machinery and local credit of ``moment_flux``). The transitions are streamed: memory
does not grow with ``steps``.

References:
    T. Tanaka, T. Kaneko, T. Aoyagi, "Recurrent infomax generates cell assemblies,
    neuronal avalanches, and simple cell-like selectivity", Neural Computation
    21(4), 1038-1067 (2009), Eq. (2) and the authors' sample code (RI_sample).
    T. Hayakawa, T. Kaneko, T. Aoyagi, "A biologically plausible learning rule for
    the Infomax on recurrent neural networks", Front. Comput. Neurosci. 8:143 (2014).
"""

import functools
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Real

from .._checks import as_float_array, check_finite, is_concrete
from .._codes import all_states
from .._information import entr
from .._linalg import log_det_correlation
from ..network import BinaryNetwork, log_probs_given_input
from ._chains import (
    MIN_GROUPS,
    MOMENT_WINDOW,
    add_outer,
    block_target,
    check_sampling,
    gram_chains,
    jackknife,
    local_credit,
    score_control,
    summed,
)
from ._score import (
    Credit,
    Influence,
    Stream,
    fold,
    streamed_surrogate,
)
from .exact import (
    MAX_EXACT_NEURONS,
    _check_size,
    _future_given_state,
    _solve_stationary,
)
from .results import Estimate


_LN2 = math.log(2.0)


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
    u1 = jnp.sum(entr(m) + entr(mbar) - pi @ (entr(fire) + entr(silent)))
    tc = -0.5 * log_det_correlation(covariance, jnp.diagonal(covariance))
    return (u1 - tc) / math.log(2.0)


# ---------------------------------------------------------------------------
# I_G from samples: the moments (5), the jackknife, the influence function (6)
# ---------------------------------------------------------------------------


class _LaggedSums(NamedTuple):
    """Sums over a group of rows, each centred on c: the moments (5) before dividing."""

    count: Array  # (G,)
    fire: Array  # (G, n): sum p
    state: Array  # (G, n): sum x
    gram: Array  # (G, n, n): sum (p - c)(p - c)^T
    cross: Array  # (G, n, n): sum (x - c)(p - c)^T


def _lagged_sums(net: BinaryNetwork, key, stream: Stream) -> tuple[_LaggedSums, Array]:
    """The per-group sums (leading axis G) of the moments (5), and their centre c.

    One pass over the transitions, block by block; c is the first block's mean next
    state (close to m; :func:`_lagged_moments` removes the shift exactly).
    """
    n, dtype = net.num_neurons, net.weights.dtype
    G = stream.groups

    def first(block):
        shapes = [(G,), (G, n), (G, n), (G, n, n), (G, n, n)]
        zeros = _LaggedSums(*(jnp.zeros(shape, dtype) for shape in shapes))
        return jnp.mean(block.x_next.astype(dtype), axis=(0, 1)), zeros

    def step(carry, block):
        centre, sums = carry
        p = jnp.exp(log_probs_given_input(net, block.x, block.recurrent)[0])
        x = block.x.astype(dtype)
        group = stream.group_of(block.index)
        rows = jnp.full(group.shape, p.shape[1], dtype)
        return centre, _LaggedSums(
            sums.count.at[group].add(rows),
            sums.fire.at[group].add(jnp.sum(p, 1)),
            sums.state.at[group].add(jnp.sum(x, 1)),
            add_outer(sums.gram, p - centre, p - centre, group),
            add_outer(sums.cross, x - centre, p - centre, group),
        )

    centre, sums = fold(net, key, stream, step, first)
    return sums, centre


class _LaggedMoments(NamedTuple):
    fire: Array  # m = <p>
    state: Array  # <x>
    covariance: Array  # <(p - m)(p - m)^T> (its diagonal is replaced by m (1 - m))
    lagged: Array  # C1 = <(x - <x>)(p - m)^T>


def _lagged_moments(sums: _LaggedSums, centre: Array) -> _LaggedMoments:
    """The moments (5) of summed groups (their sums centred on ``centre``)."""
    m, state = sums.fire / sums.count, sums.state / sums.count
    shift, state_shift = m - centre, state - centre
    return _LaggedMoments(
        m,
        state,
        sums.gram / sums.count - shift[:, None] * shift[None, :],
        sums.cross / sums.count - state_shift[:, None] * shift[None, :],
    )


def _phi(fire: Array, covariance: Array, lagged: Array) -> Array:
    """I_G (2) in nats of the moments (5): C0 with the binary variances m (1 - m)."""
    eye = jnp.eye(fire.shape[0], dtype=bool)
    return _information(jnp.where(eye, fire * (1 - fire), covariance), lagged)


def _value(centre: Array, sums: _LaggedSums) -> Array:
    moments = _lagged_moments(sums, centre)
    return _phi(moments.fire, moments.covariance, moments.lagged)


class _Coefficients(NamedTuple):
    """dPhi/d(m, C0, C1) at the sample moments: F(x) of (6) and its local parts."""

    fire: Array  # a
    quadratic: Array  # G, symmetric, zero diagonal
    lagged: Array  # H
    local_quadratic: Array  # G~: G where j, l share every credit set
    local_lagged: Array  # H~: H likewise
    alike: Array  # one atom: G~ = G, H~ = H (dense networks)
    mean: Array  # m
    state_mean: Array  # <x>


class _GaussianInfluence:
    """The influence function (6) in parts, for :func:`._score.streamed_surrogate`.

    Part j = a_j p_j + d_j [G~ d]_j + dx_j [H~ d]_j (d = p - m, dx = x - <x>), whose
    pairs j, l lie in the same credit sets (the local credit of
    :mod:`fluxjax.info.moments`, Eq. 5), and a rest with every other pair.
    """

    @staticmethod
    def influence(k: _Coefficients, net, block) -> Influence:
        p = jnp.exp(log_probs_given_input(net, block.x, block.recurrent)[0])
        d, dx = p - k.mean, block.x.astype(p.dtype) - k.state_mean
        Gd, Hd = d @ k.quadratic, d @ k.lagged.T  # [G d]_j, [H d]_j
        local = jax.lax.cond(
            k.alike,
            lambda: d * Gd + dx * Hd,
            lambda: d * (d @ k.local_quadratic) + dx * (d @ k.local_lagged.T),
        )
        rest = jnp.sum(d * Gd + dx * Hd - local, axis=-1, keepdims=True)
        parts = jnp.concatenate([p * k.fire + local, rest], -1)
        e = block.x_next.astype(p.dtype) - p
        # the pathwise slope dF/dp = a + 2 G d + H^T dx, linear in p at fixed slope
        return Influence(parts, e, k.fire + 2.0 * Gd + dx @ k.lagged)

    @staticmethod
    def pathwise(k: _Coefficients, net, block, p, log_fire, log_silent, slope):
        return jnp.sum(p * slope, -1)


@eqx.filter_jit
def _gaussian_estimate(net, key, stream: Stream):
    """(V_J, SE) in bits, and the summed moments (5)."""
    sums, centre = _lagged_sums(net, key, stream)
    value, stderr = jackknife(sums, functools.partial(_value, centre))
    total = summed(sums)
    return value / _LN2, stderr / _LN2, _lagged_moments(total, centre)


@eqx.filter_jit
def _gaussian_flux(net, key, stream: Stream, window: int):
    fixed = jax.lax.stop_gradient(net)
    value, _, moments = _gaussian_estimate(fixed, key, stream)
    coefficients, credit = _coefficients(moments, fixed.weights, window, value.dtype)
    parts = _mean_parts(coefficients, moments)
    fitted = score_control(parts, window, net.num_neurons)
    surrogate = streamed_surrogate(
        net, key, stream, window, _GaussianInfluence, coefficients, credit, fitted
    )
    return jax.lax.stop_gradient(value) + surrogate / _LN2


def _coefficients(
    moments: _LaggedMoments, weights: Array, window: int, dtype
) -> tuple[_Coefficients, Credit]:
    """The influence function's coefficients dPhi/d(m, C0, C1) (6) and the local credit."""
    a, G, H = jax.grad(_phi, argnums=(0, 1, 2))(
        moments.fire, moments.covariance, moments.lagged
    )
    G = 0.5 * (G + G.T)
    credit, atoms = local_credit(weights, window, dtype)
    local_G, local_H = jnp.where(atoms, G, 0.0), jnp.where(atoms, H, 0.0)
    alike = jnp.all(atoms)
    return _Coefficients(
        a, G, H, local_G, local_H, alike, moments.fire, moments.state
    ), credit


def _mean_parts(k: _Coefficients, moments: _LaggedMoments) -> Array:
    """The mean of each part of F (6) over the samples, from their moments (5).

    <part_j> = a_j m_j + sum_l G~_jl C_jl + sum_l H~_jl L_jl and <rest> = sum_jl
    [(G - G~) C + (H - H~) L]_jl, with C = <(p - m)(p - m)^T> and L = C1 =
    <(x - <x>)(p - m)^T>.
    """
    local = jnp.sum(
        k.local_quadratic * moments.covariance + k.local_lagged * moments.lagged, 1
    )
    whole = jnp.sum(k.quadratic * moments.covariance + k.lagged * moments.lagged)
    rest = whole - jnp.sum(local)
    return jnp.concatenate([k.fire * moments.fire + local, rest[None]])


def _gaussian_bytes(n: int, num_chains: int, itemsize: int, *, gradient: bool) -> int:
    """The peak memory of :func:`gaussian_flux`, in bytes.

    That of :func:`fluxjax.moment_flux` (:func:`fluxjax.info.moments.moment_bytes`:
    (G + s + 4) n^2 + 2 B c n numbers for a value, (G + s + 11) n^2 + 11 B c n with a
    gradient) plus the G = max(num_chains, 10) groups' lagged sums C1, their batch of
    s chains in flight, and (for a gradient) H and H~: n x n matrices, nothing that
    grows with the number of transitions.
    """
    squares = max(num_chains, MIN_GROUPS) + gram_chains(num_chains, n)
    rows = num_chains * block_target(num_chains, n)
    if gradient:
        return itemsize * ((2 * squares + 14) * n * n + 11 * n * rows)
    return itemsize * ((2 * squares + 5) * n * n + 2 * n * rows)


def _sampling(caller, net, key, steps, num_chains, burn_in, window, *, gradient):
    """The options, checked as :func:`fluxjax.moment_flux` checks them, as a stream."""
    memory = functools.partial(_gaussian_bytes, gradient=gradient)
    return check_sampling(
        net, key, steps, num_chains, burn_in, window, caller=caller, memory=memory
    )


def gaussian_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    num_chains: int = 20,
    window: int = MOMENT_WINDOW,
) -> Float[Array, ""]:
    """Recurrent Infomax's I_G from a simulation, differentiably, at any n (bits).

    I_G = 1/2 log det C0 - 1/2 log det(C0 - C1^T C0^-1 C1) (Eq. 2 of the module
    docstring) of the Rao-Blackwellised stationary moments (5) of ``num_chains``
    independent chains: m = <p(x_t)>, C0 = <(p - m)(p - m)^T> with diagonal
    m (1 - m), C1 = <(x_t - <x>)(p(x_t) - m)^T>, jackknifed over the chains (or
    blocks) like :func:`fluxjax.moment_flux`. Its gradient (``jax.grad`` /
    ``eqx.filter_grad`` in weights, biases, temperature and noise) is the pathwise
    term plus the windowed score function of the influence function (6), with
    ``moment_flux``'s local credit; the transitions are streamed, so memory does not
    depend on ``steps``. At infinitely many samples it is
    :func:`exact_gaussian_flux` (n <= 14), which over-estimates the flux.

    Args:
        net: the network (any n).
        key: PRNG key of the chains.
        steps: the total number of transitions T over all chains (>= 10 n; below
            100 n a warning: the jackknife needs T_eff >> n).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains; each runs steps // num_chains transitions
            (cut into blocks for the jackknife if fewer than 10).
        window: K, past transitions credited by the score function (>= the mixing
            time; 0 drops the stationary term, which biases the gradient).

    Returns:
        The estimate in bits, a scalar of the network's dtype.

    Raises:
        ValueError: steps < max(10 n, 10 num_chains (window + 1)), or a negative
            option.
        TypeError: ``net`` is not a BinaryNetwork, ``key`` not a PRNG key, or an
            option not an integer.

    Warns:
        UserWarning: steps < 100 n, outside the validated regime.

    References:
        Tanaka, Kaneko & Aoyagi (2009), Eq. (2): I_G; Glynn (1990): the score
        function; Efron & Stein (1981): the jackknife.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(4)[::-1], -jnp.ones(4))
        >>> value, grads = eqx.filter_value_and_grad(gaussian_flux)(
        ...     net, jax.random.key(0), 2000, burn_in=100, num_chains=10
        ... )
        >>> value.shape, grads.biases.shape
        ((), (4,))
    """
    stream = _sampling(
        "gaussian_flux", net, key, steps, num_chains, burn_in, window, gradient=True
    )
    return _gaussian_flux(net, key, stream, window)


def gaussian_flux_stderr(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    num_chains: int = 20,
) -> Estimate:
    """:func:`gaussian_flux`'s value and its jackknife standard error, in bits.

    The same samples and jackknifed value V_J = G V - (G - 1) mean_k V_(-k) as
    ``gaussian_flux`` with the same key, and SE = sqrt((G - 1) / G sum_k (V_(-k) -
    mean_k V_(-k))^2) over the G >= 10 groups (chains or blocks); sampling noise
    only. Not differentiable; one pass over the transitions.

    Args:
        net: the network (any n).
        key: PRNG key of the chains.
        steps: the total number of transitions T over all chains (>= 10 n).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains, as in :func:`gaussian_flux`.

    Returns:
        ``Estimate(value, stderr)``, scalars in bits.

    Raises:
        ValueError: steps < max(10 n, 10 num_chains), or a negative option.
        TypeError: ``net`` is not a BinaryNetwork or ``key`` not a PRNG key.

    Warns:
        UserWarning: steps < 100 n, outside the validated regime.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(4)[::-1], -jnp.ones(4))
        >>> value, stderr = gaussian_flux_stderr(
        ...     net, jax.random.key(0), 2000, burn_in=100, num_chains=10
        ... )
        >>> bool(stderr < 0.1 * value)
        True
    """
    stream = _sampling(
        "gaussian_flux_stderr", net, key, steps, num_chains, burn_in, 0, gradient=False
    )
    value, stderr, _ = _gaussian_estimate(net, key, stream)
    return Estimate(value, stderr)
