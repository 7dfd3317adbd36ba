"""The machinery shared by the sampled, differentiable estimators (soft.py, moments.py).

Chunked passes over a trajectory (memory bounded whatever its length), and the
windowed score function (likelihood ratio; Glynn 1990) with the innovation control
variate, which estimates how the stationary distribution moves with the parameters:

    sum_x dpi(x) F(x) ~ (1/(T-K)) sum_{s<T-K} [W_s d log P(x_{s+1} | x_s) + B . dp(x_s)],

W_s = sum_{k=1..K} (F~_{s+k} - eta) (equation (4) of :mod:`fluxjax.info.soft`). With
d log P = sum_i d log P_i, neuron i's factor may be credited with only the parts of F~
that its innovations can move (a :class:`_Credit`; equation (5) of
:mod:`fluxjax.info.moments`): the same expectation, a smaller variance.

Two forms. In memory (:func:`_surrogate`, used by soft.py): the surrogate is S -
stop_gradient(S) (:func:`_derivative_only`), a zero whose derivative is the gradient
estimate, computed only where a derivative is taken, from log-probabilities of stored
recurrent inputs x @ W. Streamed (:func:`streamed_surrogate`, used by moments.py): the
transitions are regenerated from the key block by block (:class:`Stream`), the
regression and the score each take a pass, and the gradient is accumulated per block,
so memory does not grow with the number of transitions; an estimator supplies its
:class:`Influence` per block and its pathwise term. soft.py's estimators are still to be
moved to the streamed form, which will leave one.
"""

from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array

from ..network import BinaryNetwork, log_probs_given_input, recurrent_input
from ..simulate import fold_transitions


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


# ---------------------------------------------------------------------------
# The streamed score function: transitions regenerated block by block
# ---------------------------------------------------------------------------


class Stream(NamedTuple):
    """The layout of the stationary chains an estimator folds over, block by block.

    Attributes:
        chains: B independent chains.
        length: L transitions per chain (a multiple of ``block``).
        block: transitions per chain in one block (>= the score window K).
        segments: groups per chain (the jackknife's G = chains * segments groups of
            L / segments contiguous transitions; ``block`` divides them).
        burn_in: updates discarded at the start of every chain.
    """

    chains: int
    length: int
    block: int
    segments: int
    burn_in: int

    @property
    def groups(self) -> int:
        return self.chains * self.segments

    @property
    def steps(self) -> int:
        """T = B L, the transitions used."""
        return self.chains * self.length

    def group_of(self, index: Array) -> Array:
        """``(B,)`` the group of each chain's rows in block ``index``."""
        per_segment = self.length // self.segments // self.block
        segment = (index // per_segment).astype(jnp.int32)
        return jnp.arange(self.chains, dtype=jnp.int32) * self.segments + segment


def fold(net, key, stream: Stream, fn, first):
    """:func:`fluxjax.simulate.fold_transitions` over the chains of ``stream``."""
    return fold_transitions(
        net, key, stream.chains, stream.length, stream.block, stream.burn_in, fn, first
    )


class Influence(NamedTuple):
    """What an estimator's influence function gives the score for one block.

    Attributes:
        parts: ``(B, c, J)`` parts F_{t,j} of the influence F_t = sum_j F_{t,j}.
        innovations: ``(B, c, n)`` e_t = x_{t+1} - p(x_t).
        payload: per-row constants the pathwise term needs (any pytree, or None).
    """

    parts: Array
    innovations: Array
    payload: object


class Credit(eqx.Module):
    """Which parts of F the score credits to which neuron's transitions (5).

    Attributes:
        reach: ``(n, J)`` 0/1: part j is credited to neuron i iff ``reach[i, j]``.
        local: the parts are one per neuron and a rest (J = n + 1), and the
            innovation control of neuron i's past moves into part i; otherwise there
            is one part (J = 1), the whole F, and every control moves into it.
    """

    reach: Array
    local: bool = eqx.field(static=True)

    def controls(self, control: Array) -> Array:
        """``(..., n)`` per-neuron controls as ``(..., J)`` per-part ones."""
        if self.local:
            return jnp.concatenate([control, jnp.zeros_like(control[..., :1])], -1)
        return jnp.sum(control, axis=-1, keepdims=True)


class _Regression(NamedTuple):
    """Pass-2 sums of the innovation regression (rows t of every chain)."""

    cross: Array  # (K + 1, n): sum_t (F_t - c) e_{t-k}
    innovation: Array  # (K + 1, n): sum_t e_{t-k}
    square: Array  # (K + 1, n): sum_t e_{t-k}^2
    parts: Array  # (J,): sum_t F_{t,j}
    history: Array  # (B, K, n): the last K innovations of every chain
    centre: Array  # c: the first block's mean F


def _lag_matrix(v: Array, window: int) -> Array:
    """``(B, K + 1, K + c)`` M with M[b, k, K - k + t] = v[b, t].

    So (M[b] @ [history; e][b])_k = sum_t v_t e_{t-k}.
    """
    c = v.shape[1]
    k = jnp.arange(window + 1)[:, None]
    s = jnp.arange(window + c)[None, :]
    t = s - window + k
    inside = (t >= 0) & (t < c)
    return jnp.where(inside, v[:, jnp.clip(t, 0, c - 1)], 0.0)


def _lagged(history: Array, e: Array, window: int) -> list[Array]:
    """[e_{t-k} for k = 0..K], each ``(B, c, n)``, of the block's rows (history first)."""
    extended = jnp.concatenate([history, e], axis=1)
    c = e.shape[1]
    return [extended[:, window - k : window - k + c] for k in range(window + 1)]


def _history(history: Array, e: Array, window: int) -> Array:
    """The last K innovations of every chain after this block."""
    return jnp.concatenate([history, e], axis=1)[:, e.shape[1] :] if window else history


def _regression(net, key, stream, window, influence) -> tuple[Array, Array, Array]:
    """(beta, mean e_{t-k}, mean F_{t,j}): beta_{k,i} the regression of F_t on e_{t-k,i}.

    beta_{k,i} = sum_t (F_t - mean F) e_{t-k,i} / sum_t e_{t-k,i}^2 (k = 0..K, within
    each chain; e before a chain's start is 0; the marginal regression, which is the
    joint one as the innovations of one step are conditionally independent). The
    means give eta, the mean of the controlled parts (:func:`streamed_surrogate`). F
    is centred on the first block's mean before it is summed, and the sums over rows
    run block by block in a fixed order (one contraction over all rows would be split
    by XLA's thread pool and by a device mesh, which changes its bits).
    """

    def first(b):
        out = influence(b)
        F = jnp.sum(out.parts, -1)
        n, J = out.innovations.shape[-1], out.parts.shape[-1]
        zeros = jnp.zeros((window + 1, n), F.dtype)
        history = jnp.zeros((stream.chains, window, n), F.dtype)
        return _Regression(
            zeros, zeros, zeros, jnp.zeros(J, F.dtype), history, jnp.mean(F)
        )

    def step(r: _Regression, b):
        out = influence(b)
        F = jnp.sum(out.parts, -1) - r.centre
        extended = jnp.concatenate([r.history, out.innovations], axis=1)
        # row k of lags @ extended[b] is sum_t v_t e_{t-k}: one product for every lag
        lags = jnp.concatenate(
            [_lag_matrix(F, window), _lag_matrix(jnp.ones_like(F), window)], 1
        )
        cross, innovation = jnp.split(jnp.einsum("bks,bsi->ki", lags, extended), 2)
        square = jnp.einsum("bks,bsi->ki", lags[:, window + 1 :], extended**2)
        return _Regression(
            r.cross + cross,
            r.innovation + innovation,
            r.square + square,
            r.parts + jnp.sum(out.parts, axis=(0, 1)),
            extended[:, -window:] if window else r.history,
            r.centre,
        )

    r = fold(net, key, stream, step, first)
    T = stream.steps
    mean_F = jnp.sum(r.parts) / T - r.centre  # the mean of F - c
    covariance = r.cross - mean_F * r.innovation
    safe = jnp.where(r.square > 0, r.square, 1.0)
    beta = jnp.where(r.square > 0, covariance / safe, 0.0)
    return beta, r.innovation / T, r.parts / T


def streamed_surrogate(
    net, key, stream: Stream, window: int, estimator, coefficients, credit: Credit
):
    """S - stop_gradient(S): zero, with the estimator's gradient as its derivative (4).

    S = (1 / (B (L - K))) sum_{chains} sum_{s < L - K} [sum_i sum_j reach_ij W_{s,j}
    log P(x_{s+1,i} | x_s) + p(x_s) . B] + (1 / (B L)) sum_t pathwise_t, with W_{s,j} =
    sum_{k=1..K} (F~_{s+k,j} - eta_j) the window sums of the controlled parts
    F~_{t,j} = F_{t,j} - [sum_{k=0..K} e_{t-k} * beta_k]_j (per part: :class:`Credit`) and B =
    sum_{k>=1} beta_k (:func:`_regression`).

    Nothing is evaluated unless a derivative is taken; then the derivative is
    accumulated block by block over regenerated transitions (a pass for the
    regression, one for the gradient), so memory is that of a few blocks and the
    parameters, whatever the length, and only the fields that carry a tangent are
    differentiated. ``estimator`` is a static object with two methods:
    ``influence(coefficients, net, block)`` gives the block's :class:`Influence` (at
    stop-gradient parameters) and ``pathwise(coefficients, net, block, p, log_fire,
    log_silent, payload)`` the ``(B, c)`` pathwise surrogate of each row;
    ``coefficients`` is a pytree of arrays (held constant).
    """
    arrays, static = eqx.partition(net, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(arrays)
    fn = partial(
        _stream_gradient, treedef, static, stream, window, estimator, len(leaves)
    )
    constants = jax.lax.stop_gradient((coefficients, credit))
    return _gradient_only(fn, *leaves, key, constants)


def _stream_gradient(treedef, static, stream, window, estimator, count, live, *args):
    """The gradient of S in the live leaves (a tuple, in their order)."""
    leaves, (key, (coefficients, credit)) = args[:count], args[count:]
    net = eqx.combine(jax.tree.unflatten(treedef, leaves), static)
    fixed = jax.lax.stop_gradient(net)
    influence = partial(estimator.influence, coefficients, fixed)
    beta, mean_lagged, mean_parts = _regression(fixed, key, stream, window, influence)
    return _accumulate_gradient(
        net,
        live,
        key,
        stream,
        window,
        estimator,
        coefficients,
        credit,
        beta,
        mean_lagged,
        mean_parts,
    )


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _gradient_only(gradient, *args):
    """The zero whose derivative is sum_i <gradient(live)(*args)_i, d args_i>.

    ``gradient(live, *args)`` gives the gradient in the arguments ``live`` (those
    that carry a tangent, a tuple of indices) and is evaluated only where a derivative
    is taken.
    """
    return jnp.zeros((), _result_dtype(args))


def _result_dtype(args):
    floats = [a.dtype for a in jax.tree.leaves(args) if eqx.is_inexact_array(a)]
    return floats[0] if floats else jnp.float32


def _gradient_only_jvp(gradient, primals, tangents):
    live = tuple(
        i
        for i, (p, d) in enumerate(zip(primals, tangents, strict=True))
        if eqx.is_inexact_array(p) and not isinstance(d, SymbolicZero)
    )
    tangent = jnp.zeros((), _result_dtype(primals))
    if live:
        g = gradient(live, *primals)
        for i, gi in zip(live, g, strict=True):
            tangent = tangent + jnp.vdot(gi, tangents[i]).astype(tangent.dtype)
    return _gradient_only(gradient, *primals), tangent


_gradient_only.defjvp(_gradient_only_jvp, symbolic_zeros=True)


class _Pending(NamedTuple):
    """Pass 3's carry: the previous block, waiting for the next K rows of parts."""

    block: object  # the TransitionBlock
    payload: object
    controlled: Array  # (B, c, J): F~ - eta of its rows
    history: Array  # (B, K, n): the innovations before the current block
    gradient: tuple  # the sum so far, one array per live leaf
    valid: Array  # 0 before the first block has been read


def _accumulate_gradient(
    net,
    live,
    key,
    stream,
    window,
    estimator,
    coefficients,
    credit,
    beta,
    mean_lagged,
    mean_parts,
):
    """Pass 3 of :func:`streamed_surrogate`: the derivative of S, block by block.

    Block j's score needs the parts of rows up to K past its end, so it is
    differentiated when block j + 1 has been read (the last one with zeros past the
    end, where the weight is zero). Only the leaves ``live`` are differentiated.
    """
    arrays, static = eqx.partition(net, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(arrays)
    fixed = jax.lax.stop_gradient(net)
    reach = credit.reach
    everyone = jnp.all(reach == 1)
    bonus = jnp.sum(beta[1:], axis=0)
    eta = mean_parts - credit.controls(jnp.sum(beta * mean_lagged, axis=0))
    B, L, c = stream.chains, stream.length, stream.block
    dtype = beta.dtype
    score_scale = 1.0 / (B * (L - window)) if window else 0.0

    def controlled(history, out: Influence):
        lagged = _lagged(history, out.innovations, window)
        control = sum(
            (e * beta[k] for k, e in enumerate(lagged)), jnp.zeros_like(lagged[0])
        )
        return out.parts - credit.controls(control) - eta

    def surrogate(values, block, payload, W, valid):
        substituted = list(leaves)
        for i, v in zip(live, values, strict=True):
            substituted[i] = v
        network = eqx.combine(jax.tree.unflatten(treedef, substituted), static)
        x, x_next, recurrent, index = block
        log_fire, log_silent = log_probs_given_input(network, x, recurrent)
        log_factor = jnp.where(x_next, log_fire, log_silent)
        p = jnp.exp(log_fire)
        per_neuron = jax.lax.cond(
            everyone,
            lambda: jnp.broadcast_to(jnp.sum(W, -1, keepdims=True), log_factor.shape),
            lambda: W @ reach.T,
        )
        row = index * c + jnp.arange(c)
        weight = jnp.where(row < L - window, score_scale, 0.0).astype(dtype)
        credited = jnp.sum(per_neuron * log_factor + p * bonus, axis=-1)
        path = estimator.pathwise(
            coefficients, network, block, p, log_fire, log_silent, payload
        )
        return valid * (jnp.sum(weight * credited) + jnp.sum(path) / (B * L))

    def differentiate(pending: _Pending, ahead: Array):
        """Adds the gradient of the pending block, given the parts of the next K rows."""
        rows = jnp.concatenate([pending.controlled, ahead], axis=1).swapaxes(0, 1)
        W = _running_sums(rows, window)[1 : c + 1].swapaxes(0, 1)
        if not window:  # no score
            W = jnp.zeros_like(pending.controlled)
        g = jax.grad(surrogate)(
            tuple(leaves[i] for i in live),
            pending.block,
            pending.payload,
            W,
            pending.valid,
        )
        return tuple(map(jnp.add, pending.gradient, g))

    def first(b):
        out = estimator.influence(coefficients, fixed, b)
        n, J = out.innovations.shape[-1], out.parts.shape[-1]
        zeros = lambda a: jnp.zeros_like(a)
        return _Pending(
            jax.tree.map(zeros, b),
            jax.tree.map(zeros, out.payload),
            jnp.zeros((B, c, J), dtype),
            jnp.zeros((B, window, n), dtype),
            tuple(jnp.zeros_like(leaves[i]) for i in live),
            jnp.zeros((), dtype),
        )

    def step(pending: _Pending, b):
        out = estimator.influence(coefficients, fixed, b)
        current = controlled(pending.history, out)
        gradient = differentiate(pending, current[:, :window])
        return _Pending(
            b,
            out.payload,
            current,
            _history(pending.history, out.innovations, window),
            gradient,
            jnp.ones((), dtype),
        )

    last = fold(fixed, key, stream, step, first)
    J = last.controlled.shape[-1]
    return differentiate(last, jnp.zeros((B, window, J), dtype))
