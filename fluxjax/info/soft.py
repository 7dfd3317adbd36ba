"""Differentiable estimates of information flux from a simulation (any n).

The flux I = I(X_t; X_{t+1}) of the stationary chain pi is written through the model's
known transition probabilities P(x' | x) = prod_i p_i(x)^{x'_i} (1 - p_i(x))^{1 - x'_i}
(p_i = ``net.firing_prob``, noise integrated out):

    I = sum_x pi(x) F(x),    F(x) = KL(P(. | x) || q),    q = pi P.             (1)

**Value.** From one stationary trajectory x_0, ..., x_T (after ``burn_in``),

    I ~ (1/T) sum_t F_t,    F_t = -sum_i h2(p_i(x_t)) - log q^(x_{t+1}) + c_t,    (2)

with the conditional entropy analytic at the sampled states and the output
distribution a mixture q^(x') = (1/S) sum_s P(x' | y_s) over S states y_s of an
*independent* chain, sampled every ``window`` steps (the trajectory's own x_t would
inflate q). Two corrections, both measured in tests/test_soft.py:

- c_t = sum_i e_{t,i} D_i(x_{t+1}), e_t = x_{t+1} - p(x_t) the innovations and
  D_i = log q^(x' with x'_i = 1) - log q^(x' with x'_i = 0). D_i does not depend on
  x'_i, which given x_t is independent of the other bits, so E[c_t | x_t] = 0: a
  control variate with known mean, exact for the additive part of log q. It cuts the
  value's SD about threefold (0.006-0.008 -> 0.002-0.003 bit at T = 10^5, n = 8) and
  makes F_t = 0 exactly for independent neurons.                                (5)
- The mixture's Jensen bias: E[log q^] ~ log q - Var(q^) / (2 q^2) (delta method),
  with Var(q^) / q^2 estimated per point by sum_s w_s^2 - 1/S, w = softmax_s
  log P(x'|y_s). It removes the measured bias (+0.002..+0.016 bit at S = 250..1000,
  n = 8..10) down to < 0.001 bit.                                               (6)

**Gradient.** Differentiating (1), the terms through q cancel exactly
(sum_x pi(x) P(x'|x) / q(x') = 1), leaving

    dI = sum_x pi(x) dKL(P(. | x) || q)|_q fixed  +  sum_x dpi(x) F(x).           (3)

- *Pathwise term*: dKL|_q = sum_i dp_i(x) [l_i(x) - D_i], l_i = logit p_i, with D_i
  as in (5) at the sampled x_{t+1} (unbiased, by the same independence); all n flips
  of a batch of points cost two matrix products of the size of the mixture.
- *Stationary term* (20-30 % of the gradient norm, and it turns its direction): a
  windowed score function (likelihood ratio; Glynn 1990) with baseline eta = mean F~,

      sum_x dpi(x) F(x) ~ (1/(T-K)) sum_{s<T-K} [W_s d log P(x_{s+1} | x_s)
                                                  + B . dp(x_s)],               (4)

  W_s = sum_{k=1..K} (F~_{s+k} - eta), K = ``window``, d log P(x'|x) = sum_i e_i dl_i.
  F~_t = F_t - sum_{k=0..K} beta_k . e_{t-k} removes the part of F_t that is linear in
  recent innovations (beta_k: marginal regressions); innovations other than e_s have
  zero correlation with the score at s, and the one at s is added back exactly by
  B . dp with B = sum_{k>=1} beta_k (E[e_s e_s^T | x_s] = diag p(1-p)). This control
  variate lowers the gradient's variance by about 40 % at n = 8..10.

**Subsets** (``neurons=``, the core of a larger network): the subset's own transition
probability P(x'_S | x_S) averages over the hidden rest, so the 2^k x 2^k joint
J[c, c'] = (1/T) sum_t [code(x_{t,S}) = c] P_S(c' | x_t) is accumulated exactly in c'
(a Rao-Blackwellised plug-in; k <= 12), I_S = sum J log(J / (J_row J_col)), and (3)
holds with F(x) = sum_c' P_S(c' | x) G(x_S, c'), G = log(J / (J_row J_col)).

**Bias and variance** (measured; tests/test_soft.py checks them): the window
truncates the stationary term at K steps, a bias that falls like the chain's mixing
factor to the K-th power (K = 8: cosine with the exact gradient 0.98-1.0 at n = 6..10
and T = 10^5; slowly mixing or bistable nets need a larger window); once S << 2^H(X)
(large n) the mixture value overestimates H(X_{t+1}) and the flux by far (it is then
log S plus a cross-entropy; an upper bound, not an estimate), and the gradient, which
uses q^ in place of q in (3), is that of this bound: directions are verified only
where exact references exist (n <= 12). The subset table's plug-in bias is
O(4^k / T). The score term's variance grows like n K / T: at n = 200 two independent
gradient estimates from T = 2 10^4 (10^5) have cosine 0.6 (0.89), and at n = 1000
from T = 10^4 about 0.1. Only first derivatives are estimated.

References:
    P. W. Glynn, "Likelihood ratio gradient estimation for stochastic systems",
    Commun. ACM 33(10), 75-84 (1990) (the score function of a Markov chain).
    C. Metzner, M. E. Yamakou, D. Voelkl, A. Schilling, P. Krauss, "Quantifying and
    maximizing the information flux in recurrent neural networks", Neural Computation
    36(3), 351-384 (2024) (the correlation proxy).
"""

import math
import warnings
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Shaped

from .._checks import check_choice, check_int, check_key, check_neurons
from .._codes import all_states, group_codes
from ..network import BinaryNetwork, check_network
from ..simulate import simulate
from ._score import (
    _binary_entropy,
    _chunk_size,
    _global_credit,
    _inputs_and_log_probs,
    _map_chunks,
    _probability_width,
    _sum_chunks,
    _surrogate,
)
from .moments import MOMENT_WINDOW, moment_flux


MAX_SUBSET_NEURONS = 12
"""Largest subset whose 2^|S| x 2^|S| joint table :func:`soft_flux` accumulates."""

_LN2 = math.log(2.0)
# ---------------------------------------------------------------------------
# The whole network: mixture of S components
# ---------------------------------------------------------------------------


def _mixture(net: BinaryNetwork, components: Array):
    """Per-component logits l_s and log-normalisers c_s: log P(x'|y_s) = x'.l_s + c_s."""
    log_fire, log_silent = net.log_probs(components)
    return log_fire - log_silent, jnp.sum(log_silent, axis=-1)


def _log_mixture(x_next: Array, logits: Array, offsets: Array) -> Array:
    """A[m, s] = log P(x'_m | y_s), ``(M, S)``."""
    return x_next.astype(logits.dtype) @ logits.T + offsets


def _flip_differences(A: Array, x_next: Array, logits: Array) -> Array:
    """D[m, i] = log q(x'_m with x'_i = 1) - log q(x'_m with x'_i = 0).

    With w = softmax_s A (the posterior over components) and R^{+-}_i = sum_s w_s
    exp(+-l_{s,i}) = q(flip_i x') / q(x') for x'_i = 0 / 1, D_i = log R^+ or -log R^-.
    The exponentials are stabilised per column; a ratio below the smallest normal
    number is clamped there (its weight dp_i is then negligible too).
    """
    w = jax.nn.softmax(A, axis=-1)
    tiny = jnp.finfo(A.dtype).tiny
    up_max = jnp.max(logits, axis=0)
    down_max = jnp.max(-logits, axis=0)
    log_up = jnp.log(jnp.maximum(w @ jnp.exp(logits - up_max), tiny)) + up_max
    log_down = jnp.log(jnp.maximum(w @ jnp.exp(-logits - down_max), tiny)) + down_max
    return jnp.where(x_next, -log_down, log_up)


def _full_flux(net, x, x_next, components, window, size, T):
    """Value and surrogate (nats) for the whole network (rows from T on: padding)."""
    num_components = components.shape[0]
    fixed = jax.lax.stop_gradient(net)
    logits, offsets = _mixture(fixed, components)

    def values(x, x_next, valid):  # F_t of (2) with (5), (6); e_t; the pathwise gain
        recurrent, log_fire, log_silent = _inputs_and_log_probs(fixed, x)
        p = jnp.exp(log_fire)
        entropy = jnp.sum(_binary_entropy(log_fire, log_silent), axis=-1)
        A = _log_mixture(x_next, logits, offsets)
        log_q = logsumexp(A, axis=-1) - math.log(num_components)
        # delta method: E log q^ = log q - Var(q^) / (2 q^2), Var(q^) / q^2 estimated
        # by (S sum_s w_s^2 - 1) / S with w = softmax_s A (6)
        w = jax.nn.softmax(A, axis=-1)
        log_q = log_q + (jnp.sum(w**2, axis=-1) - 1.0 / num_components) / 2
        D = _flip_differences(A, x_next, logits)
        e = jnp.where(valid[:, None], x_next.astype(p.dtype) - p, 0.0)
        F = jnp.where(valid, -entropy - log_q + jnp.sum(e * D, axis=-1), 0.0)
        return F, e, log_fire - log_silent - D, recurrent

    valid = jnp.arange(x.shape[0]) < T
    F, e, gain, recurrent = _map_chunks(values, (x, x_next, valid), size)

    def pathwise(x, x_next, p, log_fire, log_silent, weight, gain):
        return jnp.sum(weight * jnp.sum(p * gain, axis=-1))

    credit = _global_credit(F, e, window, T, size)
    surrogate = _surrogate(
        net, x, x_next, recurrent, credit, window, size, T, pathwise, gain
    )
    return jnp.sum(F) / T, surrogate


# ---------------------------------------------------------------------------
# A subset: the 2^k x 2^k joint table
# ---------------------------------------------------------------------------


def _subset_flux(net, x, x_next, neurons, window, size, T):
    """Value and surrogate (nats) for the subset ``neurons`` (k <= 12)."""
    k = len(neurons)
    index = np.asarray(neurons)  # a constant: the surrogate closes over no int tracer
    dtype = net.weights.dtype
    fixed = jax.lax.stop_gradient(net)
    codes_bits = all_states(k, dtype)

    def future(log_fire, log_silent):  # P_S(c' | x) for every c', (C, 2^k)
        log_fire, log_silent = log_fire[:, index], log_silent[:, index]
        return jnp.exp(
            (log_fire - log_silent) @ codes_bits.T
            + jnp.sum(log_silent, axis=-1)[:, None]
        )

    def code(x):
        return group_codes(x, [neurons])[:, 0]

    def joint(x, weight):
        P = future(*fixed.log_probs(x)) * weight[:, None]
        return jax.ops.segment_sum(P, code(x), 2**k)

    valid = jnp.arange(x.shape[0]) < T
    J = _sum_chunks(joint, (x, jnp.where(valid, 1.0 / T, 0.0).astype(dtype)), size)
    row, col = jnp.sum(J, axis=1), jnp.sum(J, axis=0)
    positive = J > 0
    ratio = jnp.where(positive, J, 1.0) / (
        jnp.where(row > 0, row, 1.0)[:, None] * jnp.where(col > 0, col, 1.0)
    )
    G = jnp.where(positive, jnp.log(ratio), 0.0)
    value = jnp.sum(J * G)

    def values(x, x_next, valid):  # F(x_t) = sum_c' P_S(c'|x_t) G(code_t, c'); e_t
        recurrent, log_fire, log_silent = _inputs_and_log_probs(fixed, x)
        e = x_next.astype(dtype) - jnp.exp(log_fire)
        F = jnp.sum(future(log_fire, log_silent) * G[code(x)], axis=-1)
        return (
            jnp.where(valid, F, 0.0),
            jnp.where(valid[:, None], e, 0.0),
            recurrent,
        )

    F, e, recurrent = _map_chunks(values, (x, x_next, valid), size)

    def pathwise(x, x_next, p, log_fire, log_silent, weight):
        P = future(log_fire, log_silent)
        return jnp.sum(weight * jnp.sum(P * G[code(x)], axis=-1))

    credit = _global_credit(F, e, window, T, size)
    surrogate = _surrogate(net, x, x_next, recurrent, credit, window, size, T, pathwise)
    return value, surrogate


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def _check_common(key, steps, window, burn_in, chunk_size):
    """The sampling options shared by soft_flux and correlation_proxy, checked."""
    check_key(key)
    window = check_int(window, "window", minimum=0)
    steps = check_int(steps, "steps", minimum=window + 2)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    return steps, window, burn_in, chunk_size


def soft_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    method: str | None = None,
    burn_in: int = 1000,
    window: int | None = None,
    num_components: int = 1000,
    num_chains: int = 20,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """A differentiable estimate of the flux I(X_t; X_{t+1}) from a simulation, in bits.

    Three estimators, each used where it is validated; ``method=None`` picks it:

    - ``"subset"`` (whenever ``neurons`` names a proper subset of at most 12): the
      Rao-Blackwellised 2^k x 2^k joint table of the subset (below);
    - ``"mixture"`` (the whole network, n <= 12): the mixture estimate below, whose
      value and gradient are verified against exact enumeration up to n = 12;
    - ``"moments"`` (the whole network, n > 12):
      :func:`fluxjax.info.moments.moment_flux`, U1 - TC_G from stationary moments,
      validated against exact references at n = 1000 (benchmarks/README.md).

    Asked for the mixture above n = 12, it warns: once S << 2^H(X) its value is
    log S plus a cross-entropy, an upper bound rather than an estimate.

    The value is (2) of the module docstring with the corrections (5)-(6):
    I ~ (1/T) sum_t F_t, F_t = -sum_i h2(p_i(x_t)) - log q^(x_{t+1}) + (flip control
    variate), q^ a mixture over ``num_components`` states of an independent chain;
    for a subset, the Rao-Blackwellised joint table. Its gradient (``jax.grad`` /
    ``eqx.filter_grad``, with respect to weights, biases, temperature and noise) is the
    pathwise term plus the windowed score function (3)-(4). Memory and time are linear
    in n * steps (plus the n x n weights and the S x n mixture): no 2^n object is
    formed. Only first derivatives are estimated.

    Args:
        net: the network (any n).
        key: PRNG key, split into a trajectory key and a mixture key.
        steps: the number of transitions T evaluated (> ``window`` + 1). The value's
            SD falls like 1/sqrt(T): 0.002-0.006 bit at T = 10^5 for n = 8..10.
        neurons: a subset S of at most 12 neurons whose flux I(x_S(t); x_S(t+1)) is
            estimated; default all neurons.
        method: None (choose by size, above), "subset", "mixture" or "moments".
        burn_in: updates discarded before the trajectory and before the mixture chain.
        window: K, the number of past transitions the score function credits; it must
            cover the chain's mixing time. 0 drops the stationary term (biased: the
            cosine with the exact gradient falls to 0.5-0.9). Default 8, and for
            ``"moments"`` that method's own default (16).
        num_components: S, the mixture size (whole network only). After the
            correction (6) the value's bias is below 0.001 bit at S = 1000 and n <= 10;
            once S << 2^H(X) (large n) the value is only an upper bound (see the
            module docstring).
        num_chains: independent chains of the moments estimator (``steps`` is
            their total).
        chunk_size: time steps per chunk (default: about 2^20 floats per temporary).

    Returns:
        The estimate in bits, a scalar of the network's dtype.

    Raises:
        ValueError: steps <= window + 1, a subset larger than 12 neurons, bad indices
            or a negative option.
        TypeError: ``net`` is not a BinaryNetwork or ``key`` is not a PRNG key.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(3), -jnp.ones(3))
        >>> key = jax.random.key(0)
        >>> flux, grads = eqx.filter_value_and_grad(soft_flux)(net, key, 1000)
        >>> flux.shape, grads.biases.shape
        ((), (3,))
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    n = net.num_neurons
    subset = None if sorted(neurons) == list(range(n)) else neurons
    method = _method(method, subset, n)
    if window is None:
        window = MOMENT_WINDOW if method == "moments" else SOFT_WINDOW
    steps, window, burn_in, chunk_size = _check_common(
        key, steps, window, burn_in, chunk_size
    )
    num_components = check_int(num_components, "num_components", minimum=1)
    if method == "moments":
        return moment_flux(
            net, key, steps, burn_in=burn_in, num_chains=num_chains, window=window
        )
    if subset is not None and len(subset) > MAX_SUBSET_NEURONS:
        raise ValueError(
            f"soft_flux of a subset accumulates a 2^k x 2^k table and needs k <= "
            f"{MAX_SUBSET_NEURONS} neurons, got k = {len(subset)}; use neurons=None "
            "for the whole network"
        )
    width = max(
        num_components if subset is None else 2 ** len(subset), _probability_width(net)
    )
    size = _chunk_size(chunk_size, steps, width)
    return _soft_flux(net, key, steps, subset, burn_in, window, num_components, size)


METHODS = ("subset", "mixture", "moments")
SOFT_WINDOW = 8
"""The score window K of the subset and mixture estimators."""
MAX_MIXTURE_NEURONS = 12
"""Largest network whose mixture estimate is verified against exact enumeration."""


def _method(method, subset, n: int) -> str:
    """The estimator for ``method`` (None: by size), checked against the subset."""
    if method is not None:
        check_choice(method, "method", METHODS)
    if subset is not None:
        if method not in (None, "subset"):
            raise ValueError(
                f"method={method!r} estimates the whole network's flux; a subset "
                "(neurons=...) uses method='subset'"
            )
        return "subset"
    if method == "subset":
        raise ValueError("method='subset' needs neurons= naming a proper subset")
    if method is None:
        return "mixture" if n <= MAX_MIXTURE_NEURONS else "moments"
    if method == "mixture" and n > MAX_MIXTURE_NEURONS:
        warnings.warn(
            f"soft_flux(method='mixture') is validated for n <= {MAX_MIXTURE_NEURONS}; "
            f"at n = {n} the mixture of num_components states is far smaller than "
            "2^H(X), so the value is log S plus a cross-entropy (an upper bound, not "
            "an estimate) and the gradient is that of the bound. Use method=None "
            "(the moments estimator).",
            stacklevel=3,
        )
    return method


def _trajectory(net, key, steps, burn_in, size):
    """States x_t and x_{t+1}, t < steps, zero-padded to a multiple of ``size`` rows."""
    states = simulate(net, key, steps + 1, burn_in=burn_in)
    states = jnp.pad(states, ((0, -steps % size), (0, 0)))
    return states[:-1], states[1:]


@eqx.filter_jit
def _soft_flux(net, key, steps, subset, burn_in, window, S, size):
    trajectory_key, mixture_key = jr.split(key)
    x, x_next = _trajectory(net, trajectory_key, steps, burn_in, size)
    if subset is None:
        stride = max(window, 1)
        chain = simulate(net, mixture_key, S * stride, burn_in=burn_in)
        components = chain[stride - 1 :: stride]
        value, surrogate = _full_flux(net, x, x_next, components, window, size, steps)
    else:
        value, surrogate = _subset_flux(net, x, x_next, subset, window, size, steps)
    return (jax.lax.stop_gradient(value) + surrogate) / _LN2


def correlation_proxy(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    burn_in: int = 1000,
    window: int = SOFT_WINDOW,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """RMS of the lag-1 Pearson correlations, a cheap differentiable flux surrogate.

    C = sqrt((1/k^2) sum_{i,j in S} rho_ij^2), rho_ij = corr(x_i(t), x_j(t+1)), over
    all ordered pairs of the subset S (diagonal included); Metzner et al. (2024) found
    the flux to be approximately a monotonic function of C for moderately strong
    weights. The moments are Rao-Blackwellised, E[x_i(t) x_j(t+1)] = E[x_i(t)
    p_j(x_t)] and E[x_j(t+1)] = E[p_j(x_t)], so the pathwise derivative exists; the
    stationary distribution's part is the windowed score function (4) applied to the
    linearisation F_t = dC/d(moments) . (moments of sample t). A neuron that never
    changes has rho = 0.

    Args:
        net: the network (any n; memory n^2 + n * steps).
        key: PRNG key for the trajectory.
        steps: the number of transitions T (> ``window`` + 1).
        neurons: the subset S; default all neurons.
        burn_in: updates discarded first.
        window: K of the score function (0: pathwise only, biased).
        chunk_size: time steps per chunk.

    Returns:
        C in [0, 1], a scalar of the network's dtype.

    Raises:
        ValueError, TypeError: as :func:`soft_flux`.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(3), -jnp.ones(3))
        >>> c = correlation_proxy(net, jax.random.key(0), 500, burn_in=10)
        >>> c.shape, bool(0 <= c <= 1)
        ((), True)
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    steps, window, burn_in, chunk_size = _check_common(
        key, steps, window, burn_in, chunk_size
    )
    size = _chunk_size(chunk_size, steps, _probability_width(net))
    return _correlation_proxy(net, key, steps, neurons, burn_in, window, size)


def _correlation(moments):
    """C = RMS_ij corr(x_i(t), x_j(t+1)) from (E x(t), E p(x_t), E x(t) p(x_t)^T)."""
    mean_now, mean_next, cross = moments
    covariance = cross - mean_now[:, None] * mean_next[None, :]
    variance = (mean_now * (1 - mean_now))[:, None] * (mean_next * (1 - mean_next))
    positive = variance > 0
    rho = jnp.where(
        positive, covariance / jnp.sqrt(jnp.where(positive, variance, 1.0)), 0.0
    )
    square = jnp.mean(rho**2)
    return jnp.where(square > 0, jnp.sqrt(jnp.where(square > 0, square, 1.0)), 0.0)


@eqx.filter_jit
def _correlation_proxy(net, key, steps, neurons, burn_in, window, size):
    x, x_next = _trajectory(net, key, steps, burn_in, size)
    T = steps
    dtype = net.weights.dtype
    index = np.asarray(neurons)  # a constant: the surrogate closes over no int tracer
    fixed = jax.lax.stop_gradient(net)

    def moments(x, weight):
        p = jnp.exp(fixed.log_probs(x)[0])[:, index]
        now = x[:, index].astype(dtype)
        return weight @ now, weight @ p, (weight[:, None] * now).T @ p

    valid = jnp.arange(x.shape[0]) < T
    weights = jnp.where(valid, 1.0 / T, 0.0).astype(dtype)
    sample_moments = _sum_chunks(moments, (x, weights), size)
    value = _correlation(sample_moments)
    slope_now, slope_next, slope_cross = jax.grad(_correlation)(sample_moments)

    def values(x, x_next, valid):  # F_t = dC/dm . m_t, and the innovations
        recurrent, log_fire, _ = _inputs_and_log_probs(fixed, x)
        p_all = jnp.exp(log_fire)
        p = p_all[:, index]
        now = x[:, index].astype(dtype)
        F = now @ slope_now + p @ slope_next + jnp.sum((now @ slope_cross) * p, -1)
        e = x_next.astype(dtype) - p_all
        return (
            jnp.where(valid, F, 0.0),
            jnp.where(valid[:, None], e, 0.0),
            recurrent,
        )

    F, e, recurrent = _map_chunks(values, (x, x_next, valid), size)

    def pathwise(x, x_next, p, log_fire, log_silent, weight):
        now = x[:, index].astype(dtype)
        p = p[:, index]
        return jnp.sum(weight * (p @ slope_next + jnp.sum((now @ slope_cross) * p, -1)))

    credit = _global_credit(F, e, window, T, size)
    surrogate = _surrogate(net, x, x_next, recurrent, credit, window, size, T, pathwise)
    return value + surrogate
