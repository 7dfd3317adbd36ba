"""The many-chain stage of the Gram estimators (:mod:`.moments`, :mod:`.gaussian`).

Both estimate a smooth function of stationary moments (means and n x n Gram sums)
from B independent chains, jackknifed over G >= 10 contiguous groups of transitions,
and credit each neuron's score with the parts of the influence function it can reach
within the score window. This module is their one home for what they share: the
layout of the groups and blocks (:func:`layout`), the checks of the sampling options
and of memory (:func:`check_sampling`), the batched Gram accumulator
(:func:`add_outer`), the delete-one jackknife (:func:`jackknife`) and the local credit
sets (:func:`local_credit`).
"""

import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._checks import available_bytes, check_int, check_key
from ..network import check_network
from ._score import Credit, Regression, Stream, _probability_width


MIN_GROUPS = 10
"""The jackknife's G: fewer chains than this are cut into segments."""

MOMENT_WINDOW = 16
"""The score window K of the Gram estimators. With the local credit (:func:`local_credit`),
K = 8 truncates the stationary term of a permutation cycle (cosine 0.971 at n = 1000)
and K = 16 does not (0.994); K = 48 is noisier on joined blocks (0.923 against 0.977)."""

MIN_SAMPLES_PER_NEURON = 10
"""``steps`` below this many times n raise: the log-det's bias is then O(n / 10)."""

VALIDATED_SAMPLES_PER_NEURON = 100
"""``steps`` below this many times n warn: outside the measured regime."""

CONTROL_NEURONS = 500
"""From this many neurons on, the score goes without the innovation control variate
(:func:`._score.regression`), and a gradient takes two passes over the transitions
instead of three. The control's coefficients are (K + 1) n regressions, whose noise
adds about (K + 1) n / T of Var F to the score, while the part of the influence
function linear in recent innovations shrinks as n grows. Measured at T = 100 n
(benchmarks/README.md, "The innovation control at large n"): on block networks the
control cuts the bias gradient's variance by 30-45 % at n = 200-300 and by nothing at
n = 500 and 1000; on dense E/I networks by nothing from n = 200 on."""

_BLOCK_ELEMENTS = 2**21  # floats per block-sized temporary, all chains (8 MiB)
_GRAM_ELEMENTS = 2**24  # floats of the chains' Gram matrices in flight (64 MiB)


def block_target(num_chains: int, width: int) -> int:
    """Rows per chain of a block of about 2^21 floats per temporary (16 ... 4096)."""
    return max(16, min(4096, _BLOCK_ELEMENTS // (num_chains * max(width, 1))))


def layout(
    steps: int, num_chains: int, burn_in: int, width: int, window: int
) -> Stream:
    """The chains, G >= 10 groups and the block of ``steps`` transitions.

    L = steps // num_chains per chain; fewer than 10 chains are cut into segments.
    A block holds about 2^21 floats per temporary (all chains), at least the score
    window and 16 rows per chain, and divides a segment; if none does near that
    size, the segment is cut to a multiple of it (dropping fewer than a block).
    """
    length = steps // num_chains
    segments = max(1, -(-MIN_GROUPS // num_chains))
    rows = length // segments
    target = max(window, block_target(num_chains, width))
    block = rows
    if rows > target:
        divisors = [d for d in range(target, target // 2, -1) if rows % d == 0]
        block = divisors[0] if divisors else target
        rows -= rows % block
    return Stream(num_chains, rows * segments, block, segments, burn_in)


def gram_chains(chains: int, n: int) -> int:
    """Chains whose Gram matrices are computed at once (at least one).

    A divisor of ``chains`` whose n x n matrices hold at most 2^24 numbers.
    """
    most = max(1, min(chains, _GRAM_ELEMENTS // (n * n)))
    return max(d for d in range(1, most + 1) if chains % d == 0)


def add_outer(total: Array, left: Array, right: Array, group: Array) -> Array:
    """``total[group[b]] += left[b]^T right[b]`` for every chain b, a few at a time.

    As many chains at once as :func:`gram_chains` allows (their n x n products hold
    at most 2^24 numbers), in a loop that is not unrolled: one batch in flight.
    """
    chains, _, n = left.shape
    step = gram_chains(chains, n)

    def add(k, total):
        a, b, into = (
            jax.lax.dynamic_slice_in_dim(v, k * step, step)
            for v in (left, right, group)
        )
        return total.at[into].add(jnp.einsum("bti,btj->bij", a, b))

    return jax.lax.fori_loop(0, chains // step, add, total)


def summed(sums):
    """The sum over the G groups (the leading axis) of every leaf of ``sums``.

    Added one group at a time: XLA:CPU's reduction over a leading axis of (G, n, n)
    held another G n^2 numbers outside its reported buffers (0.64 GB at n = 4000,
    G = 10, measured as the process's peak; benchmarks/README.md, "At n = 4000 and
    10^4").
    """

    def total(a):
        return jax.lax.fori_loop(1, a.shape[0], lambda k, t: t + a[k], a[0])

    return jax.tree.map(total, sums)


def jackknife(sums, value: Callable) -> tuple[Array, Array]:
    """(V_J, SE): the delete-one jackknife of ``value(summed groups)`` over the G groups.

    ``sums`` is a pytree of per-group sums (leading axis G);
    V_J = G V - (G - 1) mean_k V_(-k), SE = sqrt((G - 1) / G sum_k (V_(-k) - mean)^2)
    (Efron & Stein 1981).
    """
    total = summed(sums)
    groups = jax.tree.leaves(sums)[0].shape[0]
    leave_out = jax.lax.map(
        lambda one: value(jax.tree.map(jnp.subtract, total, one)), sums
    )
    mean = jnp.mean(leave_out)
    stderr = jnp.sqrt((groups - 1) / groups * jnp.sum((leave_out - mean) ** 2))
    return groups * value(total) - (groups - 1) * mean, stderr


def reach(weights: Array, window: int) -> Array:
    """``(n, n)`` 0/1: R_ij = 1 iff j = i or j is reached from i in 1..K steps of W's support.

    p_j(x) depends on x_l only where W_lj != 0, so the innovation of neuron i at step
    s can move f(x_{s+k}) (k <= K) only through the neurons R_i. The support is
    structure read from the (possibly traced) weights. R is the support of (I + S)^K,
    by squaring (O(log K) n x n products), counted in float32 (exact: every count is
    at most n) whatever the network's dtype.
    """
    n = weights.shape[0]
    eye = jnp.eye(n, dtype=jnp.float32)
    support = (jax.lax.stop_gradient(weights) != 0).astype(jnp.float32)
    step = jnp.minimum(eye + support, 1.0)
    reached = eye
    while window:
        if window & 1:
            reached = jnp.minimum(reached @ step, 1.0)
        window >>= 1
        if window:
            step = jnp.minimum(step @ step, 1.0)
    return reached


def atoms(reached: Array) -> Array:
    """``(n, n)`` bool: j and l lie in exactly the same credit sets (columns of R equal)."""
    size = jnp.sum(reached, axis=0)
    overlap = reached.T @ reached
    return (overlap == size[:, None]) & (overlap == size[None, :])


def local_credit(weights: Array, window: int, dtype) -> tuple[Credit, Array]:
    """The local credit of neuron i: the parts of its K-step reach R_i, and the rest.

    (Equation (5) of :mod:`fluxjax.info.moments`.) Returns the
    :class:`._score.Credit` and the ``(n, n)`` atoms (pairs j, l in exactly the same
    sets R_i).
    """
    reached = reach(weights, window)
    to_all = jnp.ones((reached.shape[0], 1), dtype)
    credit = Credit(jnp.concatenate([reached.astype(dtype), to_all], 1), local=True)
    return credit, atoms(reached)


def score_control(parts: Array, window: int, n: int) -> Regression | None:
    """The control the score is given (:func:`._score.streamed_surrogate`'s ``fitted``).

    Below ``CONTROL_NEURONS`` None: the innovation regression, fitted in a pass of its
    own. From there on no control, and the baseline is ``parts``, the mean of each
    part of the influence function (computed from the moments, not a pass).
    """
    if n < CONTROL_NEURONS:
        return None
    return Regression.without_control(parts, window, n)


def check_sampling(
    net,
    key,
    steps,
    num_chains,
    burn_in,
    window,
    *,
    caller: str,
    memory: Callable[[int, int, int], int],
) -> Stream:
    """The options, checked, as the stream of transitions to fold over.

    ``memory(n, num_chains, itemsize)`` is the estimator's peak memory in bytes,
    refused before anything is allocated if the device has less; ``caller`` names
    the estimator in the regime warning.
    """
    check_network(net)
    check_key(key)
    n = net.num_neurons
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    window = check_int(window, "window", minimum=0)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    minimum = max(MIN_SAMPLES_PER_NEURON * n, num_chains * 10 * (window + 1))
    steps = check_int(steps, "steps", minimum=minimum)
    needed = memory(n, num_chains, jnp.dtype(net.weights.dtype).itemsize)
    if needed > available_bytes():
        raise ValueError(
            f"{caller}: an n = {n} network with num_chains = {num_chains} would need "
            f"about {needed / 2**30:.1f} GiB (n x n sums per chain), more than this "
            f"device's {available_bytes() / 2**30:.1f} GiB; use fewer chains (at "
            f"least {MIN_GROUPS} groups are kept: chains are cut into blocks)"
        )
    warn_regime(steps, n, caller)
    return layout(steps, num_chains, burn_in, _probability_width(net), window)


def warn_regime(steps: int, n: int, caller: str) -> None:
    """Warns below ``VALIDATED_SAMPLES_PER_NEURON`` n transitions."""
    if steps < VALIDATED_SAMPLES_PER_NEURON * n:
        warnings.warn(
            f"{caller}: steps = {steps} < {VALIDATED_SAMPLES_PER_NEURON} n = "
            f"{VALIDATED_SAMPLES_PER_NEURON * n}; the log-det bias correction needs "
            "an effective sample size T_eff >> n, so the value may be biased",
            stacklevel=4,
        )
