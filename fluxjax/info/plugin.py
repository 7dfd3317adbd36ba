"""Estimators of information flux from sampled trajectories, in bits.

A trajectory is either bool states ``(..., T, n)`` (any n: each state is packed into
32-bit words) or integer state codes ``(..., T)`` (as returned by
``simulate(..., record=fj.Codes())``). Leading axes are independent trajectories and give
one estimate each. Distinct states are counted by sorting, never with a 2^n table, so
the cost is O(T log T) whatever n is; when the states are known to have at most
``_counts.TABLE_BITS`` bits (bool states with n <= 12, or concrete codes below 2^12) and the
table is not much longer than the sample (2^bits <= ``_counts.TABLE_LOAD`` T symbols; pairs
2^(2 bits)) they are counted in a table instead (a scatter-add, faster; same counts).
Trajectories, shuffle surrogates and jackknife blocks are evaluated one after another
(``lax.map``), so memory holds one table (or one sorted copy) at a time whatever the
batch.

The plug-in mutual information of T - 1 successive pairs is biased upwards by about
(m_xy - m_x - m_y + 1) / (2 (T - 1) ln 2) bits (m: the number of occupied bins;
Miller 1955, Panzeri & Treves 1996). The corrections trade this bias for variance.
"""

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Integer, PRNGKeyArray, Shaped

from .._checks import (
    check_choice,
    check_groups,
    check_int,
    check_key,
    is_concrete,
)
from .._codes import group_codes, pair_counts
from .._information import mutual_information
from ._counts import _as_words, _check_length, _joint_rows, _row_counts, _symbol_bits
from .results import Estimate, TripletFlux


CORRECTIONS = (None, "miller-madow", "shuffle", "extrapolate")
_LN2 = math.log(2.0)


def _entropy_and_support(words: Array, bits: int | None = None) -> tuple[Array, Array]:
    """Plug-in entropy (nats) of the rows of ``words`` (T, w), and their support.

    H = ln T - (1/T) sum_s c_s ln c_s over the counts c_s of the distinct rows
    (:func:`_row_counts`). The support is the number of distinct rows.
    """
    T = words.shape[0]
    counts = _row_counts(words, bits).astype(jnp.result_type(float))  # JAX's default
    entropy = math.log(T) - jnp.sum(jax.scipy.special.xlogy(counts, counts)) / T
    return entropy, jnp.sum(counts > 0)


def _pair_information(
    past: Array, future: Array, miller_madow: bool, bits: int | None = None
) -> tuple[Array, Array]:
    """Plug-in I(past; future) in bits from aligned rows, and the distinct pasts.

    Optionally Miller–Madow corrected. The second output is the number of distinct
    rows of ``past`` (the states x_t), which :func:`_warn_if_undersampled` judges.
    """
    h_past, m_past = _entropy_and_support(past, bits)
    h_future, m_future = _entropy_and_support(future, bits)
    joint_bits = None if bits is None else 2 * bits
    h_joint, m_joint = _entropy_and_support(_joint_rows(past, future, bits), joint_bits)
    mi = h_past + h_future - h_joint
    if miller_madow:  # each entropy gets + (m - 1) / (2 T)
        mi = mi + (m_past + m_future - m_joint - 1) / (2 * past.shape[0])
    return mi / _LN2, m_past


def _flux(
    past: Array, future: Array, correction, key, num_shuffles: int, bits
) -> tuple[Array, Array]:
    """Flux from aligned ``(pairs, w)`` rows with a bias correction, and the support.

    The support is the number of distinct states x_t of the data. Surrogates and
    parts are evaluated one at a time.
    """
    mi, support = _pair_information(past, future, correction == "miller-madow", bits)
    if correction == "shuffle":
        # The permuted copies (num_shuffles x pairs words) side by side (batched
        # sorts are faster), then the surrogates counted one at a time.
        permute = jax.vmap(jr.permutation, in_axes=(0, None))
        shuffled = permute(jr.split(key, num_shuffles), future)
        surrogates = jax.lax.map(
            lambda f: _pair_information(past, f, False, bits)[0], shuffled
        )
        return mi - jnp.mean(surrogates), support
    if (
        correction == "extrapolate"
    ):  # quadratic in 1/T through T, T/2, T/4 (Strong 1998)
        pairs = past.shape[0] - past.shape[0] % 4

        def mean_over_parts(parts):
            p = past[:pairs].reshape(parts, pairs // parts, -1)
            f = future[:pairs].reshape(parts, pairs // parts, -1)
            return jnp.mean(
                jax.lax.map(lambda pf: _pair_information(*pf, False, bits)[0], (p, f))
            )

        value = (
            8 * mean_over_parts(1) - 6 * mean_over_parts(2) + mean_over_parts(4)
        ) / 3
        return value, support
    return mi, support


MAX_DISTINCT_FRACTION = 0.5
"""The plug-in estimators warn when more than this fraction of the sampled states are
distinct (:func:`_warn_if_undersampled`)."""


def _warn_if_undersampled(caller: str, support, samples: int) -> None:
    """Warns when the sample cannot support a plug-in estimate.

    ``support`` holds the number of distinct states x_t among the ``samples`` states of
    each trajectory. The plug-in flux is at most the plug-in H(x_t) <= log2(support)
    <= log2 T; once most sampled states are new (support > ``MAX_DISTINCT_FRACTION``
    T) each has been seen about once, its successor is determined by the sample
    (plug-in H(x_{t+1} | x_t) ~ 0) and the estimate is close to that cap: it measures
    T, not the network. Inside a caller's ``jit`` the check runs when the compiled
    program computes ``support`` (``jax.debug.callback``).
    """
    if is_concrete(support):
        _warn_undersampled(caller, samples, support, stacklevel=4)
    else:
        jax.debug.callback(
            functools.partial(_warn_undersampled, caller, samples), support
        )


_INSTEAD = {
    "plugin_entropy": "fj.exact_entropy(net) when the network is known (n <= 14); "
    "fj.nsb_entropy for moderately undersampled data",
    "plugin_flux": "fj.flux(net, key) or fj.flux_bounds(net, key, steps) when the "
    "network is known; fj.nsb_flux for moderately undersampled data",
}


def _warn_undersampled(caller: str, samples: int, support, stacklevel: int = 2):
    most = int(np.max(support, initial=0))
    if most <= MAX_DISTINCT_FRACTION * samples:
        return
    instead = _INSTEAD["plugin_entropy" if "entropy" in caller else "plugin_flux"]
    warnings.warn(
        f"{caller}: {most} of the T = {samples} sampled states are distinct (more "
        f"than {MAX_DISTINCT_FRACTION:g} T); a plug-in estimate is then capped near "
        f"log2 T = {math.log2(samples):.2f} bit and reflects the sample size, not the "
        f"network. Use {instead}",
        UserWarning,
        stacklevel=stacklevel,
    )


def _prepare(states, correction, key, num_shuffles):
    """Validates the common arguments.

    Returns packed words, their symbol bits (:func:`_symbol_bits`), a key and
    num_shuffles.
    """
    check_choice(correction, "correction", CORRECTIONS)
    states = jnp.asarray(states)
    words = _as_words(states)
    _check_length(words, 8)
    bits = _symbol_bits(states, words)
    if correction != "shuffle":
        return words, bits, jr.key(0), 1  # the key is unused
    if key is None:
        raise ValueError("correction='shuffle' needs key=jax.random.key(...)")
    check_key(key)
    return words, bits, key, check_int(num_shuffles, "num_shuffles", minimum=1)


@functools.partial(
    jax.jit, static_argnames=("bits", "correction", "num_shuffles", "num_blocks")
)
def _flux_and_jackknife(words, bits, correction, key, num_shuffles, num_blocks):
    """Flux of each trajectory of ``(..., T, w)`` words, replicates and support.

    The support is the number of distinct states x_t of each trajectory. With
    ``num_blocks`` > 0 the second output holds the delete-one-block estimates, shape
    ``(num_blocks, ...)``. Trajectories and blocks are evaluated one at a time
    (``lax.map``): the memory of the counts does not grow with the batch.
    """

    def single(words):
        past, future = words[:-1], words[1:]
        value, support = _flux(past, future, correction, key, num_shuffles, bits)
        if not num_blocks:
            return value, jnp.zeros(0, value.dtype), support
        size = past.shape[0] // num_blocks
        kept = jnp.arange((num_blocks - 1) * size)

        def leave_out(b):
            rows = jnp.where(kept >= b * size, kept + size, kept)  # without block b
            kept_past, kept_future = past[rows], future[rows]
            return _flux(kept_past, kept_future, correction, key, num_shuffles, bits)[0]

        return value, jax.lax.map(leave_out, jnp.arange(num_blocks)), support

    flat = words.reshape(-1, *words.shape[-2:])
    values, leave_out, support = jax.lax.map(single, flat)
    batch = words.shape[:-2]
    return (
        values.reshape(batch),
        leave_out.T.reshape(-1, *batch),
        support.reshape(batch),
    )


def plugin_flux(
    states: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
    correction: str | None = None,
    *,
    key: PRNGKeyArray | None = None,
    num_shuffles: int = 8,
) -> Float[Array, "*batch"]:
    """Plug-in information flux I(x_t; x_{t+1}) from a trajectory, in bits.

    I = H(x_t) + H(x_{t+1}) - H(x_t, x_{t+1}) over the T - 1 successive pairs, with
    empirical frequencies. Corrections (see the module docstring for the bias):

    - ``None``: plain plug-in (biased upwards at small T).
    - ``"miller-madow"``: each entropy + (m - 1) / (2 (T - 1)) nats, m occupied bins.
    - ``"shuffle"``: minus the mean flux of ``num_shuffles`` surrogates whose x_{t+1}
      are permuted in time (needs ``key``).
    - ``"extrapolate"``: I_inf = (8 I_T - 6 I_{T/2} + I_{T/4}) / 3, the quadratic fit in
      1/T through the means over 1, 2 and 4 contiguous parts (Strong et al. 1998).

    Args:
        states: bool ``(..., T, n)`` or integer codes ``(..., T)``; T >= 8.
        correction: one of None, "miller-madow", "shuffle", "extrapolate".
        key: PRNG key, required by ``"shuffle"``.
        num_shuffles: number of surrogates for ``"shuffle"``.

    Returns:
        One value per trajectory, shape ``(...)``.

    Warns:
        UserWarning: when more than half of the sampled states x_t of a trajectory are
            distinct: the estimate is then near its cap log2 T and reflects the
            sample size (see :func:`fluxjax.nsb_flux` and the table of estimators
            there).

    Examples:
        >>> x = jnp.tile(jnp.array([[True], [False]]), (50, 1))  # a clock: 1 bit
        >>> round(float(plugin_flux(x)), 3)
        1.0
    """
    words, bits, key, num_shuffles = _prepare(states, correction, key, num_shuffles)
    value, _, support = _flux_and_jackknife(
        words, bits, correction, key, num_shuffles, 0
    )
    _warn_if_undersampled("plugin_flux", support, words.shape[-2] - 1)
    return value


def plugin_flux_stderr(
    states: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
    correction: str | None = None,
    *,
    num_blocks: int = 20,
    key: PRNGKeyArray | None = None,
    num_shuffles: int = 8,
) -> Estimate:
    """:func:`plugin_flux` and its delete-one-block jackknife standard error, in bits.

    The T - 1 pairs are cut into ``num_blocks`` contiguous blocks (successive samples
    are correlated, so blocks must be much longer than the correlation time). With
    theta_b the estimate without block b, SE = sqrt((B - 1) / B sum_b (theta_b -
    mean_b theta_b)^2) (Efron & Stein 1981; Künsch 1989 for blocks).

    The SE covers sampling variability only, not the estimator's bias, which
    dominates once the joint state space is undersampled (N = 10 at T = 10^6: bias
    +144 millibit, SD 0.5; see benchmarks/README.md).

    Returns:
        ``Estimate(value, stderr)``, each of shape ``(...)``.

    Warns:
        UserWarning: as :func:`plugin_flux`, when most sampled states are distinct.

    Examples:
        >>> net = random_network(6, key=jax.random.key(0), weight_scale=3.0)
        >>> flux, stderr = plugin_flux_stderr(simulate(net, jax.random.key(1), 2000))
        >>> flux.shape, bool(stderr > 0)
        ((), True)
    """
    num_blocks = check_int(num_blocks, "num_blocks", minimum=2)
    words, bits, key, num_shuffles = _prepare(states, correction, key, num_shuffles)
    _check_length(words, 8 * num_blocks)
    value, leave_out, support = _flux_and_jackknife(
        words, bits, correction, key, num_shuffles, num_blocks
    )
    _warn_if_undersampled("plugin_flux_stderr", support, words.shape[-2] - 1)
    spread = jnp.sum((leave_out - leave_out.mean(0)) ** 2, axis=0)
    return Estimate(value, jnp.sqrt((num_blocks - 1) / num_blocks * spread))


@functools.partial(jax.jit, static_argnames="bits")
def _entropies(words, bits):
    flat = words.reshape(-1, *words.shape[-2:])
    entropy, support = jax.lax.map(lambda w: _entropy_and_support(w, bits), flat)
    return entropy.reshape(words.shape[:-2]), support.reshape(words.shape[:-2])


def plugin_entropy(
    states: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
) -> Float[Array, "*batch"]:
    """Plug-in state entropy H(x) = -sum_s f_s log2 f_s over the T samples, in bits.

    Warns:
        UserWarning: when more than half of the T states are distinct (the estimate is
            then near its cap log2 T; :func:`fluxjax.nsb_entropy` is less biased).

    Examples:
        >>> x = jnp.tile(jnp.array([[True], [False]]), (50, 1))  # half on: 1 bit
        >>> round(float(plugin_entropy(x)), 3)
        1.0
    """
    states = jnp.asarray(states)
    words = _as_words(states)
    _check_length(words, 1)
    entropy, support = _entropies(words, _symbol_bits(states, words))
    _warn_if_undersampled("plugin_entropy", support, words.shape[-2])
    return entropy / _LN2


_CHUNK = 1 << 16  # rows per scatter-add of the pair counts (bounds the index array)


@jax.jit
def _triplet_counts(codes):
    """Pair counts ``(K, K, 8, 8)``: [k, l, a, b] = #{t: c_k(t) = a, c_l(t+1) = b}."""
    past, future = codes[:-1], codes[1:]
    pairs, K = past.shape
    pad = -pairs % _CHUNK
    valid = jnp.arange(pairs + pad) < pairs
    past = jnp.pad(past, ((0, pad), (0, 0))).reshape(-1, _CHUNK, K)
    future = jnp.pad(future, ((0, pad), (0, 0))).reshape(-1, _CHUNK, K)

    def accumulate(counts, chunk):
        return counts + pair_counts(*chunk, 8), None

    chunks = (past, future, valid.reshape(-1, _CHUNK))
    counts, _ = jax.lax.scan(accumulate, jnp.zeros((K, K, 8, 8), jnp.int32), chunks)
    return counts


def plugin_triplet_flux_from_counts(
    counts: Shaped[ArrayLike, "*batch K K S S"],
) -> TripletFlux:
    """The triplet indicator (intra, inter) in bits from transition counts of groups.

    ``counts[..., k, l, a, b]`` is the number of steps t with c_k(t) = a and
    c_l(t + 1) = b, as streamed by ``simulate(..., record=fj.PairCounts(...))``.
    I_kl = H(a) + H(b) - H(a, b) of the frequencies; intra is the mean of I_kk,
    inter the mean of I_kl over k != l (the estimator of :func:`plugin_triplet_flux`).

    Args:
        counts: non-negative counts ``(..., K, K, S, S)``, K >= 2.

    Returns:
        ``TripletFlux(intra, inter)``, each of shape ``(...)``.

    Examples:
        >>> net = random_network(6, key=jax.random.key(0), weight_scale=3.0)
        >>> triplets = [(0, 1, 2), (3, 4, 5)]
        >>> key = jax.random.key(1)
        >>> counts = simulate(net, key, 1000, record=fj.PairCounts(triplets))
        >>> intra, inter = plugin_triplet_flux_from_counts(counts)
        >>> counts.shape, intra.shape, inter.shape
        ((2, 2, 8, 8), (), ())
    """
    counts = jnp.asarray(counts)
    if counts.ndim < 4 or counts.shape[-4] != counts.shape[-3] or counts.shape[-4] < 2:
        raise ValueError(
            f"counts must have shape (..., K, K, S, S) with K >= 2, got {counts.shape}"
        )
    joint = counts.astype(jnp.result_type(float))
    joint = joint / joint.sum((-2, -1), keepdims=True)
    mi = mutual_information(joint) / _LN2
    K = mi.shape[-1]
    diagonal = jnp.trace(mi, axis1=-2, axis2=-1)
    return TripletFlux(diagonal / K, (mi.sum((-2, -1)) - diagonal) / (K * (K - 1)))


def plugin_triplet_flux(states: Bool[ArrayLike, "*batch T n"], triplets) -> TripletFlux:
    """The paper's triplet flux indicator from a trajectory: (intra, inter) in bits.

    Triplet codes c_k(t) = s_a + 2 s_b + 4 s_c for each triplet (a, b, c);
    intra = mean_k I(c_k(t); c_k(t+1)), inter = mean over ordered pairs k != l of
    I(c_k(t); c_l(t+1)), all plug-in (Metzner et al. 2026, Methods; the paper reports
    them in 10^-3 bits and uses the triplets (0, 1, 2), (3, 4, 5), (6, 7, 8) of the core).
    Groups of one or two neurons are allowed (codes < 8).

    Args:
        states: bool ``(..., T, n)``.
        triplets: a sequence of K >= 2 disjoint groups of at most 3 neuron indices.

    Returns:
        ``TripletFlux(intra, inter)``, each of shape ``(...)``.

    Examples:
        >>> x = jnp.tile(jnp.array([[True] * 6, [False] * 6]), (50, 1))  # a clock
        >>> intra, inter = plugin_triplet_flux(x, [(0, 1, 2), (3, 4, 5)])
        >>> round(float(intra), 3), round(float(inter), 3)
        (1.0, 1.0)
    """
    states = jnp.asarray(states)
    if not jnp.issubdtype(states.dtype, jnp.bool_) or states.ndim < 2:
        raise TypeError("states must be a bool array of shape (..., T, n)")
    _check_length(states, 2)
    groups = check_groups(triplets, states.shape[-1], "triplets")
    if len(groups) < 2 or any(len(g) > 3 for g in groups):
        raise ValueError("triplets must be at least two groups of at most 3 neurons")
    if len({i for g in groups for i in g}) != sum(map(len, groups)):
        raise ValueError("triplets must be disjoint")
    codes = group_codes(states, groups)
    flat = codes.reshape(-1, *codes.shape[-2:])
    counts = jax.vmap(_triplet_counts)(flat)
    return plugin_triplet_flux_from_counts(
        counts.reshape(*codes.shape[:-2], *counts.shape[1:])
    )


@jax.jit
def _transfer_entropies(target, source):
    def single(y, x):
        future, past, driver = y[1:], y[:-1], x[:-1]

        def h(*parts):
            return _entropy_and_support(jnp.concatenate(parts, 1))[0]

        return h(future, past) + h(driver, past) - h(future, driver, past) - h(past)

    flat_y = target.reshape(-1, *target.shape[-2:])
    flat_x = source.reshape(-1, *source.shape[-2:])
    return jax.vmap(single)(flat_y, flat_x).reshape(target.shape[:-2]) / _LN2


def plugin_transfer_entropy(
    target: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
    source: Bool[ArrayLike, "*batch T m"] | Integer[ArrayLike, "*batch T"],
) -> Float[Array, "*batch"]:
    """Plug-in transfer entropy TE = I(y_{t+1}; x_t | y_t) from ``source`` x into ``target`` y.

    TE = H(y_{t+1}, y_t) + H(x_t, y_t) - H(y_{t+1}, x_t, y_t) - H(y_t) over the T - 1
    steps, in bits (Schreiber 2000, history length 1). Biased upwards by roughly
    (|y|^2 |x| - |y|^2 - |x||y| + |y|) / (2 (T - 1) ln 2) bits for |.| occupied bins:
    coarse-grain the source (e.g. quantiles of an input) before estimating.

    Args:
        target: bool states ``(..., T, n)`` or integer codes ``(..., T)``.
        source: the same for the source, aligned in time with ``target``.

    Examples:
        >>> x = np.random.default_rng(0).random((1000, 1)) < 0.5
        >>> y = np.roll(x, 1, axis=0)  # y copies x one step later
        >>> te = plugin_transfer_entropy(y, x), plugin_transfer_entropy(x, y)
        >>> [round(float(v), 2) for v in te]
        [0.99, 0.0]
    """
    y, x = _as_words(target), _as_words(source)
    _check_length(y, 8)
    if y.shape[:-1] != x.shape[:-1]:
        raise ValueError(
            "target and source must have the same leading and time axes, got "
            f"{y.shape[:-1]} and {x.shape[:-1]}"
        )
    return _transfer_entropies(y, x)
