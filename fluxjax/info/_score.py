"""The machinery shared by the sampled, differentiable estimators (soft.py, moments.py).

Chunked passes over a trajectory (memory bounded whatever its length), and the
windowed score function (likelihood ratio; Glynn 1990) with the innovation control
variate, which estimates how the stationary distribution moves with the parameters:

    sum_x dpi(x) F(x) ~ (1/(T-K)) sum_{s<T-K} [W_s d log P(x_{s+1} | x_s) + B . dp(x_s)],

W_s = sum_{k=1..K} (F~_{s+k} - eta) (equation (4) of :mod:`fluxjax.info.soft`). With
d log P = sum_i d log P_i, neuron i's factor may be credited with only the parts of F~
that its innovations can move (a :class:`_Credit`; equation (5) of
:mod:`fluxjax.info.moments`): the same expectation, a smaller variance.

The surrogate is returned as S - stop_gradient(S) (:func:`_derivative_only`): a zero
whose derivative is the gradient estimate, computed only where a derivative is taken,
from log-probabilities of stored recurrent inputs x @ W (no n x n product in its
forward pass or in its rematerialisation).
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array

from ..network import BinaryNetwork, log_probs_given_input, recurrent_input


_CHUNK_ELEMENTS = 2**20  # floats per chunk-sized temporary (4 MiB in float32)


def _binary_entropy(log_fire: Array, log_silent: Array) -> Array:
    """h(p) = -p log p - (1 - p) log(1 - p) in nats, from the two log-probabilities."""
    return -(jnp.exp(log_fire) * log_fire + jnp.exp(log_silent) * log_silent)


def _chunks(array: Array, size: int) -> Array:
    """``(T, ...)`` -> ``(T / size, size, ...)`` (T is a multiple of size: a reshape)."""
    return array.reshape(-1, size, *array.shape[1:])


def _map_chunks(fn, xs: tuple, size: int):
    """Stacks ``fn(*chunk)`` (a pytree, one row per time step) over chunks."""
    _, out = jax.lax.scan(
        lambda _, c: (None, fn(*c)), None, tuple(_chunks(a, size) for a in xs)
    )
    return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)


def _sum_chunks(fn, xs: tuple, size: int):
    """The sum over chunks of ``fn(*chunk)`` (a pytree), rematerialised in the backward."""
    body = jax.checkpoint(lambda c: fn(*c))
    first = jax.eval_shape(body, tuple(_chunks(a, size)[0] for a in xs))
    init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), first)

    def step(total, chunk):
        return jax.tree.map(jnp.add, total, body(chunk)), None

    total, _ = jax.lax.scan(step, init, tuple(_chunks(a, size) for a in xs))
    return total


def _shift(v: Array, k: int) -> Array:
    """The vector v[t + k] (k > 0, zeros past the end) or v[t - |k|] (k < 0)."""
    if k == 0:
        return v
    pad = jnp.zeros((abs(k),) + v.shape[1:], v.dtype)
    return jnp.concatenate([v[k:], pad] if k > 0 else [pad, v[:k]])


def _centred(v: Array, T: int) -> Array:
    """v_t - (1/T) sum_{t<T} v_t for t < T, zero past T (the rows of padding)."""
    valid = (jnp.arange(v.shape[0]) < T).reshape((-1,) + (1,) * (v.ndim - 1))
    return jnp.where(valid, v - jnp.sum(v, axis=0) / T, 0.0)


def _running_sums(v: Array, length: int) -> Array:
    """sum_{k=0..L-1} v_{t+k} (zeros past the end), by doubling: O(log L) shifted adds."""
    total, block, offset, size = jnp.zeros_like(v), v, 0, 1
    while length:
        if length & 1:
            total = total + _shift(block, offset)
            offset += size
        length >>= 1
        if length:
            block = block + _shift(block, size)
            size *= 2
    return total


def _window_sums(v: Array, window: int, T: int) -> Array:
    """W_s = sum_{k=1..K} (v_{s+k} - eta) for s < T - K, else 0; v is zero past T."""
    W = _shift(_running_sums(_centred(v, T), window), 1)
    valid = (jnp.arange(v.shape[0]) < T - window).reshape((-1,) + (1,) * (v.ndim - 1))
    return jnp.where(valid, W, 0.0)


class _Credit(NamedTuple):
    """What the score function credits each neuron's transitions with (4).

    Attributes:
        parts: ``(T, J)`` parts F~_t of the innovation-controlled F~ = sum_j F~_{t,j},
            zero past T.
        reach: ``(n, J)`` 0/1: part j is credited to neuron i's transitions iff
            ``reach[i, j]``; a part may be left out of neuron i's credit only if it
            does not depend on that neuron's innovations within the window.
        bonus: ``(n,)`` B = sum_{k=1..K} beta_k, the innovation control's own mean.
    """

    parts: Array
    reach: Array
    bonus: Array


def _innovation_betas(F: Array, e: Array, window: int, T: int, size: int) -> Array:
    """beta_{k,i} = sum_t (F_t - mean F) e_{t-k,i} / sum_t e_{t-k,i}^2, ``(K + 1, n)``.

    The marginal regression of F_t on the innovation of neuron i k = 0..K steps
    earlier (the innovations of one step are conditionally independent, so it is
    also the joint one). F and e are zero past T; only length-T vectors are shifted,
    the ``(T, n)`` e never. The sums over t run chunk by chunk in a fixed order (one
    contraction over all T rows is split by XLA's CPU thread pool and by a device
    mesh, which changes its bits).
    """
    centred = _centred(F, T)
    ahead = jnp.stack([_shift(centred, k) for k in range(window + 1)], axis=1)
    covariance, variance = _sum_chunks(
        lambda ahead, e: (ahead.T @ e, jnp.sum(e**2, axis=0)), (ahead, e), size
    )
    safe = jnp.where(variance > 0, variance, 1.0)
    return jnp.where(variance > 0, covariance / safe, 0.0)


def _global_credit(F: Array, e: Array, window: int, T: int, size: int) -> _Credit:
    """Every neuron credited with the whole F~_t = F_t - sum_{k=0..K} beta_k . e_{t-k}."""
    betas = _innovation_betas(F, e, window, T, size)
    Z = e @ betas.T  # Z[u, k] = beta_k . e_u
    L = sum((_shift(Z[:, k], -k) for k in range(window + 1)), jnp.zeros_like(F))
    valid = jnp.arange(F.shape[0]) < T
    parts = jnp.where(valid, F - L, 0.0)[:, None]
    reach = jnp.ones((e.shape[1], 1), F.dtype)
    return _Credit(parts, reach, jnp.sum(betas[1:], axis=0))


def _inputs_and_log_probs(net: BinaryNetwork, x: Array) -> tuple[Array, Array, Array]:
    """The recurrent input x @ W and (log p, log(1 - p)) of states ``x``.

    The input is kept for :func:`_surrogate`, which differentiates the
    log-probabilities without recomputing it.
    """
    recurrent = recurrent_input(net, x)
    return recurrent, *log_probs_given_input(net, x, recurrent)


def _surrogate(
    net, x, x_next, recurrent, credit, window, size, T, pathwise, payload=None
):
    """S - stop_gradient(S), S the pathwise surrogate plus the windowed score (4).

    Its value is zero and its derivative is the estimator's gradient; S itself is
    evaluated only where a derivative is taken (:func:`_derivative_only`), so a
    value-only call skips it and everything it reads (the credit included). S is a
    sum over chunks. The score credits neuron i's factor log P(x_{s+1,i} | x_s) with
    sum_j reach[i, j] S_{s,j}, S the window sums of the ``credit`` parts.
    ``recurrent`` is x @ W of
    every row (:func:`_inputs_and_log_probs`), so no chunk recomputes it.
    ``pathwise(x, x_next, p, log_fire, log_silent, weight[, payload])`` is one chunk's
    pathwise surrogate; ``payload`` is an optional per-row array of constants it needs
    (computed once in the value pass instead of recomputed). Rows from T on are
    padding (zero weight). ``pathwise`` may close over traced floating arrays only
    (:func:`jax.closure_convert` hoists those; an integer tracer left in the closure
    fails to lower): an index is a numpy constant.
    """
    parts, reach, bonus = jax.lax.stop_gradient(credit)
    dtype = parts.dtype
    everyone = jnp.all(reach == 1)  # every part credited to every neuron
    W = _window_sums(parts, window, T)
    s = jnp.arange(parts.shape[0])
    if window > 0:
        score_weight = jnp.where(s < T - window, 1.0 / (T - window), 0.0)
    else:
        score_weight = jnp.zeros(parts.shape[0])
    score_weight = score_weight.astype(dtype)
    path_weight = jnp.where(s < T, 1.0 / T, 0.0).astype(dtype)
    extra = () if payload is None else (payload,)

    def chunk(
        net, everyone, x, x_next, recurrent, W, score_weight, path_weight, *extra
    ):
        log_fire, log_silent = log_probs_given_input(net, x, recurrent)
        log_factor = jnp.where(x_next, log_fire, log_silent)
        p = jnp.exp(log_fire)
        per_neuron = jax.lax.cond(
            everyone,
            lambda: jnp.broadcast_to(jnp.sum(W, -1, keepdims=True), log_factor.shape),
            lambda: W @ reach.T,
        )
        credited = per_neuron * log_factor + p * bonus
        score = jnp.sum(score_weight * jnp.sum(credited, axis=-1))
        return score + pathwise(x, x_next, p, log_fire, log_silent, path_weight, *extra)

    xs = (x, x_next, recurrent, W, score_weight, path_weight, *extra)

    def total(net, xs, everyone):
        return _sum_chunks(partial(chunk, net, everyone), xs, size)

    # the arguments: closure_convert hoists the float constants only
    fn, constants = jax.closure_convert(total, net, xs, everyone)
    return _derivative_only(fn, net, xs, everyone, *constants)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _derivative_only(fn, *args):
    """The zero fn(*args) - stop_gradient(fn(*args)), with fn's derivative.

    fn is not evaluated unless a derivative is taken; the derivative is its jvp in
    the arguments that carry a tangent only, so an undifferentiated field (the
    weights, when only the biases are trained) costs nothing (a zero tangent of the
    weights would cost an n x n product per sample). fn may close over no tracer:
    :func:`jax.closure_convert` hoists the floating ones, and the caller passes the
    others (bool, int) as arguments.
    """
    return jnp.zeros((), jax.eval_shape(fn, *args).dtype)


def _derivative_only_jvp(fn, primals, tangents):
    leaves, treedef = jax.tree.flatten(primals)
    dleaves = treedef.flatten_up_to(tangents)
    live = [i for i, d in enumerate(dleaves) if not isinstance(d, SymbolicZero)]

    def of_live(*values):
        substituted = list(leaves)
        for i, v in zip(live, values, strict=True):
            substituted[i] = v
        return fn(*jax.tree.unflatten(treedef, substituted))

    _, tangent = jax.jvp(of_live, [leaves[i] for i in live], [dleaves[i] for i in live])
    # the zero goes through the rule again: an outer derivative of the value is dfn too
    return _derivative_only(fn, *primals), tangent


_derivative_only.defjvp(_derivative_only_jvp, symbolic_zeros=True)


def _probability_width(net: BinaryNetwork) -> int:
    """Floats per state of the log-probabilities: n, times the noise nodes if noisy."""
    n = net.num_neurons
    return n if net.noise is None else n * net.noise_nodes


def _chunk_size(chunk_size, steps, width):
    if chunk_size is None:
        chunk_size = max(8, min(4096, _CHUNK_ELEMENTS // max(width, 1)))
    return min(chunk_size, steps)
