"""Flux at large n from stationary moments: a differentiable estimate and a bracket.

Because the neurons update independently given the state, H(X' | X) = sum_i
H(X'_i | X), and the flux splits exactly into single-neuron terms and the total
correlation of the stationary state (X' ~ pi as well):

    I = U1 - TC,   U1 = sum_i [h(m_i) - E_pi h(p_i(X))],   m_i = E_pi p_i(X),     (1)
    TC = sum_i h(m_i) - H(X'),

with h the binary entropy and p_i = ``net.firing_prob``. U1 is an upper bound at any
n. TC is replaced by its Gaussian value

    TC_G = -1/2 log det R,   R = D^-1/2 C D^-1/2,   D = diag(C),                   (2)

with C the equal-time covariance of the stationary state. Both are Rao-Blackwellised
through the known conditional: E[x'_i | x] = p_i(x) and, for i != j, E[x'_i x'_j |
x] = p_i(x) p_j(x), so from stationary samples x_t

    m = <p(x_t)>,   C = <(p - m)(p - m)^T> + diag(<p (1 - p)>)                     (3)

(so C_ii = m_i (1 - m_i) exactly, and C is positive definite for any sample). The
estimate is V = U1 - TC_G of the sample moments (3), with the log-determinant from a
Cholesky factor.

**Bias.** log det of an n x n sample correlation matrix is biased by O(n^2 / T_eff):
for T independent Gaussian samples, -1/2 log det R^ overestimates TC by n (n - 1) /
(4 T) nats, and a correlated chain (or the Rao-Blackwellised moments, which are less
noisy than the states) has another constant. The bias is removed by a delete-one
jackknife over G contiguous groups of samples (the independent chains, or blocks of
one chain): V_J = G V - (G - 1) mean_k V_(-k), which cancels every O(1/T) term
whatever the autocorrelation, provided each group is long against the mixing time.
Its spread gives the standard error. What remains is O(n^3 / T^2): the estimate is
validated for T_eff >> n (``steps`` >= 100 n; a warning below, an error below 10 n).

**Gradient.** V = Phi(M) is a smooth function of stationary moments M = E_pi g(x;
theta) with g = (p, 1 - p, h(p), (p - m)(p - m)^T). Hence

    dV = E_pi[dPhi/dM . dg]  +  sum_x dpi(x) f(x),
    f(x) = a . p + abar . (1 - p) + b . h(p) + (p - m)^T G (p - m),               (4)

with (a, abar, b, G) = dPhi/dM at the sample moments (f is the influence function;
its covariance part is (1/2)[(x - m)^T C^-1 (x - m) - sum_i (x_i - m_i)^2 / C_ii] in
terms of x). The first (pathwise) term is the derivative of <f(x_t)> at fixed samples
and fixed coefficients; the second (stationary) term is the windowed score function
of the chain with f evaluated at every step, the innovation control variate and a
mean baseline (:func:`fluxjax.info._score.streamed_surrogate`, shared by every
sampled estimator).
The jackknife correction's own derivative (a nearly constant O(n^2 / T) term) is not
included.

**Local credit.** p_j(x) depends on x_l only where W_lj != 0, so the innovation
e_{s,i} of neuron i can move f(x_{s+k}), k <= K, only through the set R_i of neurons
that a walk of at most K steps along W's nonzero entries reaches from i (i included).
f is split into per-neuron parts and a rest,

    f = sum_j phi_j + rest,   phi_j = a_j p_j + abar_j (1 - p_j) + b_j h(p_j)
                                      + (p_j - m_j) [G~ (p - m)]_j,               (5)

with G~ the entries G_jl between neurons j, l that lie in exactly the same sets R_i,
and the score of neuron i is credited with sum_{j in R_i} phi_j + rest (and the
innovation control of the parts it keeps). What it leaves out depends only on
neurons that i cannot reach within the window, so its correlation with e_{s,i} is
zero: the expectation is unchanged and the variance falls from ~ n K / T to
~ |R_i| K / T, which lets the window grow to K = 16 without the variance that a
global credit has at n = 1000. On a dense network
R_i is every neuron, G~ = G and the credit is the global one. R is structure read
from the support of the weights (K n x n products once per call, counted in float32
whatever the network's dtype), exact for any W; it costs one more n x n product per
sample in the score (in its backward pass) and one in the parts.

**Streaming.** The transitions are never stored. B chains (the ``num_chains``) run
side by side and are read block by block, c rows of every chain at a time
(:func:`fluxjax.simulate.fold_transitions`); each pass regenerates them from the key.
A value and its jackknife SE take one pass (the per-group sums (3)); a gradient takes
one more (the score and the pathwise term, each block differentiated once the next K
rows are known: :func:`._score.streamed_surrogate`), and below
:data:`._chains.CONTROL_NEURONS` neurons another before it (the innovation regression
of the control variate, which at larger n adds as much noise as it removes; the
score's baseline, the mean of each part (5), then comes from the moments (3)). The
peak memory, in numbers of the network's
dtype, is about

    value + SE:        (G + s + 4) n^2 + 2 B c n
    value + gradient:  (G + s + 11) n^2 + 11 B c n

for G = max(B, 10) groups (their Gram sums) and s chains whose Gram matrices are
computed at once (s n^2 <= max(n^2, 2^24)), whatever the number of transitions
(:func:`moment_bytes`; c is chosen so that B c n is about 2^21). Measured costs and
accuracy are in benchmarks/README.md, "Flux at large n".

**Bracket.** U1 is an upper bound, and I(X; X'_B) <= I for any subset B of neurons.
:func:`flux_bounds` computes I(X; X'_B) for a subset of at most 12 neurons from the
exact mixture q_B(b) = <P(x'_B = b | x_t)> over all 2^|B| codes. A distribution-free
lower bound on I from samples is O(log T) (McAllester & Stratos 2020), and this one
is O(|B|) bits: at large n it is weak (a few bits against hundreds).

References:
    D. McAllester, K. Stratos, "Formal limitations on the measurement of mutual
    information", AISTATS 2020.
    P. W. Glynn, "Likelihood ratio gradient estimation for stochastic systems",
    Commun. ACM 33(10), 75-84 (1990).
    B. Efron, C. Stein, "The jackknife estimate of variance", Ann. Stat. 9(3),
    586-596 (1981).
"""

import functools
import math
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_int, is_concrete
from .._codes import code_probabilities
from .._information import binary_entropy, entr, mutual_information
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
from .results import Estimate


MAX_BOUND_NEURONS = 12
"""Largest subset B whose 2^|B| codes :func:`flux_bounds` enumerates."""

MAX_RELATIVE_STDERR = 0.05
""":func:`moment_flux_stderr` warns when its standard error exceeds this fraction of
the estimate, or of 1 bit if the estimate is smaller. Measured at T = 100 n: 0.2 ...
1.1 % on E/I networks (n = 500, J <= 4, dense) and 3 ... 6 % on n = 100, J = 4,
dense ones, whose mixing is slow enough to warn about."""

_LN2 = math.log(2.0)


class FluxBounds(NamedTuple):
    """A bracket lower <= I <= upper on the flux, and the estimate inside, in bits.

    Attributes:
        lower: I(X_t; X'_B) for the subset ``neurons`` B (a lower bound on I).
        upper: U1 = sum_i I(X_t; X'_i) (an upper bound on I).
        lower_stderr: batch-means standard error of ``lower``.
        upper_stderr: batch-means standard error of ``upper``.
        neurons: the subset B, as a tuple of indices.
        estimate: the jackknifed estimate U1 - TC_G of the same samples (the value
            of :func:`moment_flux_stderr` with the same key and options).
        estimate_stderr: its jackknife standard error.
        tree_upper: U1 - sum of I(X'_i; X'_j) over a maximum spanning tree of the
            pairwise informations (an upper bound on I, at most ``upper``).
        tree_upper_stderr: its batch-means standard error (the tree held fixed).
        pairwise_excess: sum_{i<j} [I_G(X'_i; X'_j) - I(X'_i; X'_j)], how much the
            Gaussian total correlation over-counts the pairwise information of the
            binary states (a diagnostic of the estimate: the estimate is biased low
            by about this much where it is large).
    """

    lower: Float[Array, ""]
    upper: Float[Array, ""]
    lower_stderr: Float[Array, ""]
    upper_stderr: Float[Array, ""]
    neurons: tuple[int, ...]
    estimate: Float[Array, ""]
    estimate_stderr: Float[Array, ""]
    tree_upper: float
    tree_upper_stderr: float
    pairwise_excess: float  # host floats: computed in numpy from the moments


def _entropy_of(m: Array, mbar: Array) -> Array:
    """The entropy h of a mean firing probability m (mbar = 1 - m, computed separately)."""
    return entr(m) + entr(mbar)


# ---------------------------------------------------------------------------
# Moments and the functional Phi
# ---------------------------------------------------------------------------


class _Sums(NamedTuple):
    """Sums over a group of rows: count, sum p, sum (1 - p), sum h(p), sum (p-c)(p-c)^T."""

    count: Array
    fire: Array
    silent: Array
    entropy: Array
    gram: Array


def _add_block(net, sums: _Sums, block, centre, group) -> _Sums:
    """``sums`` plus the Rao-Blackwellised moments (3) of a block, chain b into group[b].

    The chains' Gram matrices are computed a few at a time (2^24 numbers, or one
    n x n matrix, at once: :func:`._chains.gram_chains`) and added in place.
    """
    log_fire, log_silent = log_probs_given_input(net, block.x, block.recurrent)
    p = jnp.exp(log_fire)
    d = p - centre
    B, c, _ = d.shape
    gram = add_outer(sums.gram, d, d, group)
    return _Sums(
        sums.count.at[group].add(jnp.full(B, c, p.dtype)),
        sums.fire.at[group].add(jnp.sum(p, 1)),
        sums.silent.at[group].add(jnp.sum(jnp.exp(log_silent), 1)),
        sums.entropy.at[group].add(jnp.sum(binary_entropy(log_fire, log_silent), 1)),
        gram,
    )


def _moment_sums(net, key, stream: Stream) -> tuple[_Sums, Array]:
    """The per-group sums (leading axis G) of the moments (3), and their centre.

    One pass over the transitions, block by block; the Gram sums are centred on the
    first block's mean next state (close to m: the shift is removed exactly by
    :func:`_moments`).
    """
    n = net.num_neurons
    dtype = net.weights.dtype

    def first(block):
        centre = jnp.mean(block.x_next.astype(dtype), axis=(0, 1))
        G = stream.groups
        zeros = _Sums(
            *(
                jnp.zeros(shape, dtype)
                for shape in [(G,), (G, n), (G, n), (G, n), (G, n, n)]
            )
        )
        return centre, zeros

    def step(carry, block):
        centre, sums = carry
        return centre, _add_block(
            net, sums, block, centre, stream.group_of(block.index)
        )

    centre, sums = fold(net, key, stream, step, first)
    return sums, centre


class _Moments(NamedTuple):
    fire: Array  # m
    silent: Array  # 1 - m
    entropy: Array  # E h(p)
    covariance: Array  # E (p - m)(p - m)^T


def _moments(sums: _Sums, centre: Array) -> _Moments:
    m = sums.fire / sums.count
    shift = m - centre
    covariance = sums.gram / sums.count - shift[:, None] * shift[None, :]
    return _Moments(m, sums.silent / sums.count, sums.entropy / sums.count, covariance)


def _phi_parts(moments: _Moments) -> tuple[Array, Array]:
    """(U1, TC_G) in nats from the moments (1)-(3)."""
    m, mbar, entropy, covariance = moments
    u1 = jnp.sum(_entropy_of(m, mbar) - entropy)
    variance = m * mbar
    tc = -0.5 * log_det_correlation(covariance, variance)
    return u1, tc


def _phi(moments: _Moments) -> Array:
    u1, tc = _phi_parts(moments)
    return u1 - tc


def _value(centre: Array, sums: _Sums) -> Array:
    """Phi (nats) of the moments of summed groups."""
    return _phi(_moments(sums, centre))


# ---------------------------------------------------------------------------
# The estimate and its surrogate
# ---------------------------------------------------------------------------


class _Coefficients(NamedTuple):
    """dPhi/dM at the sample moments (4): f(x) = a.p + abar.(1 - p) + b.h(p) + d^T G d."""

    fire: Array  # a
    silent: Array  # abar
    entropy: Array  # b
    quadratic: Array  # G, symmetric
    local: Array  # G~: G where j, l share every credit set
    alike: Array  # one atom: G~ = G (dense networks)
    mean: Array  # m


class _MomentInfluence:
    """The influence function (4) in parts (5), for :func:`._score.streamed_surrogate`."""

    @staticmethod
    def influence(k: _Coefficients, net, block) -> Influence:
        log_fire, log_silent = log_probs_given_input(net, block.x, block.recurrent)
        p, silent = jnp.exp(log_fire), jnp.exp(log_silent)
        h = binary_entropy(log_fire, log_silent)
        d = p - k.mean
        Gd = d @ k.quadratic
        local = d * jax.lax.cond(k.alike, lambda: Gd, lambda: d @ k.local)
        phi = p * k.fire + silent * k.silent + h * k.entropy + local
        rest = jnp.sum(Gd * d - local, axis=-1, keepdims=True)
        e = block.x_next.astype(p.dtype) - p
        # the pathwise slope: d f / dp = a + 2 G (p - m), linear in p at fixed slope
        return Influence(jnp.concatenate([phi, rest], -1), e, k.fire + 2.0 * Gd)

    @staticmethod
    def pathwise(k: _Coefficients, net, block, p, log_fire, log_silent, slope):
        h = binary_entropy(log_fire, log_silent)
        return jnp.sum(p * slope, -1) + jnp.exp(log_silent) @ k.silent + h @ k.entropy


def _estimate(net, key, stream: Stream, window: int):
    """(value, stderr, surrogate) in nats."""
    dtype = net.weights.dtype
    fixed = jax.lax.stop_gradient(net)
    sums, centre = _moment_sums(fixed, key, stream)
    value, stderr = jackknife(sums, functools.partial(_value, centre))
    moments = _moments(summed(sums), centre)
    coefficients, credit = _coefficients(moments, fixed.weights, window, dtype)
    parts = _mean_parts(coefficients, moments)
    fitted = score_control(parts, window, net.num_neurons)
    surrogate = streamed_surrogate(
        net, key, stream, window, _MomentInfluence, coefficients, credit, fitted
    )
    return value, stderr, surrogate


def _coefficients(
    moments: _Moments, weights: Array, window: int, dtype
) -> tuple[_Coefficients, Credit]:
    """The influence function's coefficients dPhi/dM (4) and the local credit (5)."""
    a, abar, b, G = jax.grad(_phi)(moments)
    G = 0.5 * (G + G.T)
    credit, atoms = local_credit(weights, window, dtype)
    alike = jnp.all(atoms)
    return _Coefficients(
        a, abar, b, G, jnp.where(atoms, G, 0.0), alike, moments.fire
    ), credit


def _mean_parts(k: _Coefficients, moments: _Moments) -> Array:
    """The mean of each part (5) of f over the samples, from their moments (3).

    <phi_j> = a_j m_j + abar_j <1 - p_j> + b_j <h_j> + sum_l G~_jl C_jl and <rest> =
    sum_jl (G - G~)_jl C_jl, with C = <(p - m)(p - m)^T> the moments' covariance.
    """
    local = jnp.sum(k.local * moments.covariance, axis=1)
    phi = k.fire * moments.fire + k.silent * moments.silent
    phi = phi + k.entropy * moments.entropy + local
    rest = jnp.sum(k.quadratic * moments.covariance) - jnp.sum(local)
    return jnp.concatenate([phi, rest[None]])


@eqx.filter_jit
def _moment_flux(net, key, stream, window):
    value, _, surrogate = _estimate(net, key, stream, window)
    return (jax.lax.stop_gradient(value) + surrogate) / _LN2


def moment_bytes(n: int, num_chains: int, itemsize: int, *, gradient: bool) -> int:
    """The peak memory of a moment estimate, in bytes: the formula of the module docstring.

    Nothing grows with the number of transitions (they are streamed): a value and its
    SE hold the G = max(num_chains, 10) groups' Gram sums, a batch of s chains' Gram
    matrices (s n^2 <= max(n^2, 2^24)) and about four more n x n matrices (the
    log-determinants' factors), plus about 2 numbers per neuron and row of a block of
    B c rows; a gradient adds the influence's G and G~, the credit sets, the weights'
    gradient and the blocks in flight. Fitted to XLA's compiled buffer sizes at
    n = 1000, 4000 and 10^4 (benchmarks/README.md, "Flux at large n").
    """
    squares = max(num_chains, MIN_GROUPS) + gram_chains(num_chains, n)
    rows = num_chains * block_target(num_chains, n)
    if gradient:
        return itemsize * ((squares + 11) * n * n + 11 * n * rows)
    return itemsize * ((squares + 4) * n * n + 2 * n * rows)


def _value_sampling(caller, net, key, steps, num_chains, burn_in) -> Stream:
    """The checked stream of a value and its SE (no score window, no gradient)."""
    memory = functools.partial(moment_bytes, gradient=False)
    return check_sampling(
        net, key, steps, num_chains, burn_in, 0, caller=caller, memory=memory
    )


def moment_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    num_chains: int = 20,
    window: int = MOMENT_WINDOW,
) -> Float[Array, ""]:
    """A differentiable estimate of the flux at large n, in bits: U1 - TC_G.

    The value is (1)-(3) of the module docstring, V = sum_i [h(m_i) - <h(p_i)>] +
    1/2 log det R, from Rao-Blackwellised stationary moments of ``num_chains``
    independent chains, jackknifed over chains (or blocks) to remove the log-det's
    O(n^2 / T) bias. Its gradient (``jax.grad`` / ``eqx.filter_grad`` in weights,
    biases, temperature and noise) is the pathwise term plus the windowed score
    function of the influence function (4). The transitions are streamed, so memory
    does not depend on ``steps``: (G + 9) n^2 numbers for G = max(num_chains, 10)
    groups, plus the blocks in flight (module docstring, "Streaming"; no 2^n
    object).

    The Gaussian total correlation is an approximation: measured at exact moments of
    random blocks of 6-10 neurons it is within +0.4 ... +1 % on average (worst block
    +5 %); exact for independent neurons and for networks whose stationary state is a
    product (permutation networks).

    Args:
        net: the network (any n; float32 suffices up to n = 1000, see the README).
        key: PRNG key of the chains.
        steps: the total number of transitions T over all chains (>= 10 n; below
            100 n a warning: the jackknife needs T_eff >> n).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains; each runs steps // num_chains transitions.
            The jackknife uses the chains as groups (each split into blocks if fewer
            than 10 chains).
        window: K, past transitions credited by the score function (>= the mixing
            time; 0 drops the stationary term, which biases the gradient). Each
            neuron is credited with the parts of f it can reach in K steps (5).

    Returns:
        The estimate in bits, a scalar of the network's dtype.

    Raises:
        ValueError: steps < max(10 n, 10 num_chains (window + 1)), or a negative
            option.
        TypeError: ``net`` is not a BinaryNetwork, ``key`` not a PRNG key, or an
            option not an integer.

    Warns:
        UserWarning: steps < 100 n, outside the validated regime.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(4)[::-1], -jnp.ones(4))
        >>> value, grads = eqx.filter_value_and_grad(moment_flux)(
        ...     net, jax.random.key(0), 2000, burn_in=100, num_chains=10
        ... )
        >>> value.shape, grads.biases.shape
        ((), (4,))
    """
    stream = check_sampling(
        net,
        key,
        steps,
        num_chains,
        burn_in,
        window,
        caller="moment_flux",
        memory=functools.partial(moment_bytes, gradient=True),
    )
    return _moment_flux(net, key, stream, window)


def moment_flux_stderr(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    num_chains: int = 20,
) -> Estimate:
    """:func:`moment_flux`'s value and its jackknife standard error, in bits.

    The same samples and jackknifed value V_J = G V - (G - 1) mean_k V_(-k) as
    :func:`moment_flux` with the same key (to float rounding), and SE = sqrt((G - 1)
    / G sum_k (V_(-k) - mean_k V_(-k))^2) over the G >= 10 groups (chains or
    blocks). Not differentiable; it costs what ``moment_flux``'s value alone costs
    (neither evaluates the score-function surrogate of the gradient without a
    derivative).

    The SE is sampling noise only. The value is also checked against the
    estimator's regime: the jackknife removes the log-det's O(n^2 / T_eff) bias only
    while every group is long against the mixing time (a slowly mixing network shows
    itself by a large SE), and the Gaussian total correlation fails for assemblies of
    near-copies (two 15-neuron assemblies with weights 2 give -215 bit, where
    the flux is >= 0).

    Args:
        net: the network (any n).
        key: PRNG key of the chains.
        steps: the total number of transitions T over all chains (>= 10 n).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains, as in :func:`moment_flux`.

    Returns:
        ``Estimate(value, stderr)``, scalars in bits.

    Raises:
        ValueError: steps < max(10 n, 10 num_chains), or a negative option.
        TypeError: ``net`` is not a BinaryNetwork or ``key`` not a PRNG key.

    Warns:
        UserWarning: outside the validated regime: steps < 100 n; a non-finite
            estimate (R singular: neurons that copy each other); a negative one (the
            Gaussian TC of strongly correlated assemblies exceeds U1); or SE >
            ``MAX_RELATIVE_STDERR`` x max(|value|, 1 bit) (chains mixing too slowly).
            Inside a caller's ``jit`` the warning comes when the program runs.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(4)[::-1], -jnp.ones(4))
        >>> value, stderr = moment_flux_stderr(
        ...     net, jax.random.key(0), 2000, burn_in=100, num_chains=10
        ... )
        >>> bool(stderr < 0.1 * value)
        True
    """
    stream = _value_sampling("moment_flux_stderr", net, key, steps, num_chains, burn_in)
    value, stderr = _moment_estimate(net, key, stream)
    _warn_outside_regime("moment_flux_stderr", value, stderr)
    return Estimate(value, stderr)


def _warn_outside_regime(caller: str, value, stderr) -> None:
    """Warns with :func:`_regime_problem`'s reason, if the estimate has one.

    Inside a caller's ``jit`` (or ``vmap``) the estimate is a tracer: the check then
    runs, and warns, when the compiled program computes it (``jax.debug.callback``).
    """
    if is_concrete(value) and is_concrete(stderr):
        _warn_if_outside(caller, value, stderr, stacklevel=4)
    else:
        jax.debug.callback(functools.partial(_warn_if_outside, caller), value, stderr)


def _warn_if_outside(caller: str, value, stderr, stacklevel: int = 2) -> None:
    for v, s in zip(np.ravel(value), np.ravel(stderr), strict=True):
        problem = _regime_problem(float(v), float(s))
        if problem is not None:
            warnings.warn(
                f"{caller}: {problem}; the estimate {float(v):.4g} ± "
                f"{float(s):.2g} bit is outside the validated regime",
                stacklevel=stacklevel,
            )


PAIRWISE_EXCESS_LIMIT = 0.05
"""The estimate is outside its validated regime where the Gaussian total correlation
over-counts the pairwise information of the binary states
(:attr:`FluxBounds.pairwise_excess`) by more than this fraction of the estimate (or of
1 bit). Measured on random block networks against exact values (benchmarks/README.md,
"The front door's systematic error"): at most 2.7 % where the estimate is within 1.3 %
of the flux, 5.6 % and more where it is 4-47 % low (strongly inhibitory E/I blocks);
between, e.g. 4 % on a signed block network whose estimate is right, it is a poor
judge, and :func:`fluxjax.flux` widens its interval by the excess without warning."""


def pairwise_problem(excess: float, value: float) -> str | None:
    """Why strongly correlated neurons make the estimate untrustworthy, or None."""
    scale = max(abs(value), 1.0)
    if not excess > PAIRWISE_EXCESS_LIMIT * scale:
        return None
    return (
        f"the Gaussian total correlation over-counts the pairwise information of the "
        f"binary states by {excess:.3g} bit ({excess / scale:.0%} of the estimate): "
        "strongly correlated neurons, where U1 - TC_G is biased low (by 4-47 % on "
        "strongly inhibitory E/I networks), by up to this excess"
    )


def _regime_problem(value: float, stderr: float) -> str | None:
    """Why an estimate V_J +- SE cannot be trusted, or None."""
    if not (math.isfinite(value) and math.isfinite(stderr)):
        return (
            "it is not finite: the sample correlation matrix R is singular to working "
            "precision (neurons that copy each other)"
        )
    if value < -4 * stderr:
        return (
            "it is negative: the Gaussian total correlation exceeds U1, as it does "
            "for strongly correlated assemblies (binary copies have a finite TC, "
            "Gaussian ones an unbounded one)"
        )
    if stderr > MAX_RELATIVE_STDERR * max(abs(value), 1.0):
        return (
            f"its standard error exceeds {MAX_RELATIVE_STDERR:g} of its value (or "
            f"{MAX_RELATIVE_STDERR:g} bit): the "
            "chains mix too slowly for the jackknife"
        )
    return None


@eqx.filter_jit
def _moment_estimate(net, key, stream: Stream):
    sums, centre = _moment_sums(net, key, stream)
    value, stderr = jackknife(sums, functools.partial(_value, centre))
    return value / _LN2, stderr / _LN2


# ---------------------------------------------------------------------------
# The bracket
# ---------------------------------------------------------------------------


def _greedy_subset(moments: _Moments, k: int) -> tuple[int, ...]:
    """B greedily maximising sum_{i in B} I(X; X'_i) - TC_G(X'_B) (numpy, k <= 12)."""
    m, mbar, entropy, covariance = (np.asarray(v, np.float64) for v in moments)
    single = _np_entropy(m, mbar) - entropy
    variance = m * mbar
    scale = 1.0 / np.sqrt(np.where(variance > 0, variance, 1.0))
    R = covariance * scale[:, None] * scale[None, :]
    np.fill_diagonal(R, 1.0)
    chosen: list[int] = []
    candidates = np.argsort(-single)[: max(4 * k, 64)]
    for _ in range(min(k, len(m))):
        best, best_score = None, -np.inf
        for j in candidates:
            if j in chosen:
                continue
            subset = [*chosen, int(j)]
            sign, logdet = np.linalg.slogdet(R[np.ix_(subset, subset)])
            score = single[subset].sum() + 0.5 * logdet if sign > 0 else -np.inf
            if best is None or score > best_score:  # R singular: any neuron will do
                best, best_score = int(j), score
        chosen.append(best)
    return tuple(chosen)


def _np_entropy(m, mbar):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(
            np.where(m > 0, m * np.log(np.where(m > 0, m, 1)), 0)
            + np.where(mbar > 0, mbar * np.log(np.where(mbar > 0, mbar, 1)), 0)
        )


@eqx.filter_jit
def _bound_moments(net, key, stream: Stream):
    """The per-group sums, their centre and the jackknifed estimate (bits)."""
    sums, centre = _moment_sums(net, key, stream)
    value, stderr = jackknife(sums, functools.partial(_value, centre))
    return sums, centre, value / _LN2, stderr / _LN2


def _per_group(sums: _Sums) -> _Sums:
    """Per-group means in the layout of _Sums (fire, silent, entropy divided)."""
    count = sums.count[:, None]
    return sums._replace(
        fire=sums.fire / count, silent=sums.silent / count, entropy=sums.entropy / count
    )


@eqx.filter_jit
def _subset_information(net, key, stream: Stream, index):
    """I(X; X'_B) in nats from the exact 2^|B| mixture, of all samples and per group.

    A second pass over the transitions (regenerated from the key). B is ``index``, an
    array, so that every subset of one size shares a compilation.
    """
    k = index.shape[0]
    dtype = net.weights.dtype

    def first(block):
        G = stream.groups
        return jnp.zeros((G, 2**k), dtype), jnp.zeros(G, dtype)

    def step(sums, block):
        log_fire, log_silent = log_probs_given_input(net, block.x, block.recurrent)
        log_fire, log_silent = log_fire[..., index], log_silent[..., index]
        P = code_probabilities(log_fire, log_silent)
        conditional = jnp.sum(binary_entropy(log_fire, log_silent), axis=(1, 2))
        group = stream.group_of(block.index)
        q, h = sums
        return q.at[group].add(jnp.sum(P, 1)), h.at[group].add(conditional)

    q, conditional = fold(net, key, stream, step, first)
    rows = stream.steps // stream.groups

    def information(q, conditional, count):
        return jnp.sum(entr(q / count)) - conditional / count

    total = information(jnp.sum(q, 0), jnp.sum(conditional), stream.steps)
    per_group = jax.vmap(lambda a, b: information(a, b, rows))(q, conditional)
    return total, per_group


def flux_bounds(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    num_chains: int = 20,
    subset_size: int | None = None,
    neurons: Sequence[int | np.integer] | None = None,
) -> FluxBounds:
    """A bracket I(X; X'_B) <= I <= U1 on the flux from a simulation, in bits.

    ``upper`` is U1 = sum_i [h(m_i) - <h(p_i(x_t))>] (true upper bound: TC >= 0).
    ``lower`` is I(X; X'_B) = H(q_B) - <sum_{i in B} h(p_i)> for a subset B of at
    most 12 neurons, with q_B(b) = <P(x'_B = b | x_t)> the exact mixture over all
    2^|B| codes (data processing: I(X; X'_B) <= I(X; X') = I). B is chosen greedily
    from the same samples, maximising sum_{i in B} I(X; X'_i) - TC_G(X'_B). Both
    standard errors are batch means over the G >= 10 groups (chains or blocks).

    The lower bound is O(|B|) bits and is weak at large n (hundreds of bits of flux
    against at most 12); any distribution-free lower bound from T samples is
    O(log T) (McAllester & Stratos 2020), so nothing sampled closes the gap; the
    estimate lies in between, and is returned too: the jackknifed U1 - TC_G of the
    same samples, as :func:`moment_flux_stderr` gives it for the same key (the
    subset's mixture takes a second pass over the regenerated transitions). The
    plug-in H(q_B) is biased low by O(2^|B| / T), which
    keeps ``lower`` a bound on average. Not differentiable.

    Args:
        net: the network (any n).
        key: PRNG key of the chains.
        steps: the total number of transitions (>= 10 n).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains (as in :func:`moment_flux`).
        subset_size: |B|, 1 ... min(12, n); default min(12, n).
        neurons: B itself (at most 12 distinct indices); default the greedy choice.

    Returns:
        A :class:`FluxBounds` (lower, upper, lower_stderr, upper_stderr, neurons,
        estimate, estimate_stderr).

    Raises:
        ValueError: bad ``steps``, ``subset_size`` or ``neurons``.
        TypeError: ``net`` not a BinaryNetwork or ``key`` not a PRNG key.

    Warns:
        UserWarning: the estimate is outside its validated regime, as in
            :func:`moment_flux_stderr`, or its pairwise excess exceeds
            :data:`PAIRWISE_EXCESS_LIMIT` (the bracket itself holds at any ``steps``).

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(4)[::-1], -jnp.ones(4))
        >>> b = flux_bounds(net, jax.random.key(0), 2000, burn_in=100, num_chains=10)
        >>> bool(b.lower <= b.upper), len(b.neurons)
        (True, 4)
    """
    stream = _value_sampling("flux_bounds", net, key, steps, num_chains, burn_in)
    n = net.num_neurons
    if neurons is None:
        if subset_size is None:
            subset_size = min(MAX_BOUND_NEURONS, n)
        subset_size = check_int(subset_size, "subset_size", minimum=1)
        if subset_size > min(MAX_BOUND_NEURONS, n):
            raise ValueError(
                f"subset_size must be in 1 ... {min(MAX_BOUND_NEURONS, n)}, got "
                f"{subset_size}"
            )
    else:
        neurons = _check_subset(neurons, n)
    sums, centre, estimate, estimate_stderr = _bound_moments(net, key, stream)
    _warn_outside_regime("flux_bounds", estimate, estimate_stderr)
    total = summed(sums)
    moments = _moments(total, centre)
    if neurons is None:
        neurons = _greedy_subset(moments, subset_size)
    lower, lower_groups = _subset_information(net, key, stream, jnp.asarray(neurons))
    means = _per_group(sums)
    upper_groups = jax.vmap(
        lambda s: jnp.sum(_entropy_of(s.fire, s.silent) - s.entropy)
    )(means)
    m = total.fire / total.count
    upper = jnp.sum(
        _entropy_of(m, total.silent / total.count) - total.entropy / total.count
    )

    def stderr(per_group):
        return jnp.std(per_group, ddof=1) / math.sqrt(stream.groups)

    tree, tree_groups, excess = _pairwise_bound(moments, sums, centre)
    problem = pairwise_problem(excess / _LN2, float(estimate))
    if problem is not None:
        warnings.warn(f"flux_bounds: {problem}", stacklevel=2)
    tree_upper = float(upper) - tree
    tree_upper_groups = np.asarray(upper_groups, np.float64) - tree_groups
    return FluxBounds(
        lower / _LN2,
        upper / _LN2,
        stderr(lower_groups) / _LN2,
        stderr(upper_groups) / _LN2,
        tuple(int(i) for i in neurons),
        estimate,
        estimate_stderr,
        tree_upper / _LN2,
        float(np.std(tree_upper_groups, ddof=1) / math.sqrt(stream.groups)) / _LN2,
        excess / _LN2,
    )


def _pair_information(m_i, m_j, covariance_ij):
    """I(X'_i; X'_j) in nats of binary units, elementwise (numpy, float64).

    The units have rates m_i, m_j and covariance C_ij. The pairwise marginals are Rao-Blackwellised like (3): for i != j,
    E[x'_i x'_j] = <p_i p_j> = C_ij + m_i m_j.
    """
    m_i, m_j, covariance_ij = np.broadcast_arrays(m_i, m_j, covariance_ij)
    joint = covariance_ij + m_i * m_j
    table = np.stack(
        [
            np.stack([joint, m_i - joint], -1),  # x'_i = 1: x'_j = 1, 0
            np.stack([m_j - joint, 1.0 - m_i - m_j + joint], -1),  # x'_i = 0
        ],
        -2,
    )
    with jax.enable_x64(True):
        information = mutual_information(jnp.asarray(np.clip(table, 0.0, 1.0)))
    return np.maximum(np.asarray(information), 0.0)  # round-off of independent pairs


def _pairwise_bound(
    moments: _Moments, sums: _Sums, centre
) -> tuple[float, np.ndarray, float]:
    """The tree term of :class:`FluxBounds` and the Gaussian pairwise excess (nats).

    For any spanning tree, the tree distribution with the stationary state's pairwise
    marginals has entropy sum_i h(m_i) - sum_edges I(X'_i; X'_j) >= H(X'), so
    TC >= sum_edges I and I <= U1 - sum_edges I; the maximum spanning tree gives the
    tightest. Returns its sum over all samples, its sum per group (the same edges),
    and the excess sum_{i<j} [I_G - I] of the Gaussian pairwise informations
    I_G = -1/2 log(1 - rho_ij^2) over the binary ones. ``moments`` are those of all
    samples, ``sums`` the groups'.
    """
    from scipy.sparse.csgraph import minimum_spanning_tree

    m = np.asarray(moments.fire, np.float64)
    covariance = np.asarray(moments.covariance, np.float64)
    information = _pair_information(m[:, None], m[None, :], covariance)
    np.fill_diagonal(information, 0.0)
    variance = m * (1.0 - m)
    scale = 1.0 / np.sqrt(np.where(variance > 0, variance, np.inf))
    rho = covariance * scale[:, None] * scale[None, :]
    upper = np.triu_indices(len(m), 1)
    gaussian = -0.5 * np.log1p(-np.clip(rho[upper] ** 2, 0.0, 1.0 - 1e-15))
    excess = float(np.sum(gaussian - information[upper]))
    tree = minimum_spanning_tree(-np.triu(information)).tocoo()
    rows, columns = jnp.asarray(tree.row), jnp.asarray(tree.col)

    def on_edges(group: _Sums):
        moments = _moments(group, centre)
        return (
            moments.fire[rows],
            moments.fire[columns],
            moments.covariance[rows, columns],
        )

    per_group = jax.lax.map(on_edges, sums)
    per_group = _pair_information(*(np.asarray(a, np.float64) for a in per_group))
    return float(-tree.data.sum()), per_group.sum(axis=1), excess


def _check_subset(neurons, n) -> tuple[int, ...]:
    try:
        values = [int(i) for i in neurons]
    except TypeError:
        raise TypeError(
            f"neurons must be a sequence of indices, got {neurons!r}"
        ) from None
    if not 1 <= len(values) <= MAX_BOUND_NEURONS or len(set(values)) != len(values):
        raise ValueError(
            f"neurons must be 1 ... {MAX_BOUND_NEURONS} distinct indices, got {values}"
        )
    if min(values) < 0 or max(values) >= n:
        raise ValueError(f"neurons must be indices in 0 ... {n - 1}, got {values}")
    return tuple(values)
