"""The score-function combinator shared by the sampled, differentiable estimators.

Every sampled estimator (:mod:`.mixture`, :mod:`.subset`, :mod:`.correlation`,
:mod:`.moments`) folds over the transitions of stationary chains (:class:`Stream`,
regenerated from the key block by block, so memory does not grow with their number),
computes a value from its own sums, and differentiates it by one recipe: its pathwise
term plus the windowed score function (likelihood ratio; Glynn 1990) with the
innovation control variate, which estimates how the stationary distribution moves with
the parameters:

    sum_x dpi(x) F(x) ~ (1/(T-K)) sum_{s<T-K} [W_s d log P(x_{s+1} | x_s) + B . dp(x_s)],

W_s = sum_{k=1..K} (F~_{s+k} - eta), F~_t = F_t - sum_{k=0..K} beta_k . e_{t-k} the
influence F_t less its part linear in recent innovations e = x_{t+1} - p(x_t) (beta_k:
marginal regressions, :func:`regression`), B = sum_{k>=1} beta_k (equation (4) of
:mod:`fluxjax.info.mixture`). With d log P = sum_i d log P_i, neuron i's factor may be
credited with only the parts of F~ that its innovations can move (a :class:`Credit`;
equation (5) of :mod:`fluxjax.info.moments`): the same expectation, a smaller variance.

An estimator supplies a static object with ``influence(coefficients, net, block)``
(its :class:`Influence` on a block) and ``pathwise(...)``;
:func:`streamed_surrogate` gives the zero whose derivative is the gradient estimate,
computed only where a derivative is taken, in a pass for the regression (unless the
caller has it) and one for the score.
"""

from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array

from .._checks import check_int, check_key
from ..network import BinaryNetwork, log_probs_given_input
from ..simulate import fold_transitions


_CHUNK_ELEMENTS = 2**20  # floats per chunk-sized temporary (4 MiB in float32)


def _shift(v: Array, k: int) -> Array:
    """The vector v[t + k] (k > 0, zeros past the end) or v[t - |k|] (k < 0)."""
    if k == 0:
        return v
    pad = jnp.zeros((abs(k),) + v.shape[1:], v.dtype)
    return jnp.concatenate([v[k:], pad] if k > 0 else [pad, v[:k]])


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


def _probability_width(net: BinaryNetwork) -> int:
    """Floats per state of the log-probabilities: n, times the noise nodes if noisy."""
    n = net.num_neurons
    return n if net.noise is None else n * net.noise_nodes


# ---------------------------------------------------------------------------
# The streamed score function: transitions regenerated block by block
# ---------------------------------------------------------------------------


class Stream(NamedTuple):
    """The layout of the stationary chains an estimator folds over, block by block.

    Attributes:
        chains: B independent chains.
        length: L transitions per chain. Where ``block`` does not divide it, the last
            block runs past L and :meth:`valid` marks its rows beyond.
        block: transitions per chain in one block (>= the score window K, <= L).
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

    @property
    def blocks(self) -> int:
        """The number of blocks, ceil(L / block)."""
        return -(-self.length // self.block)

    def valid(self, index: Array) -> Array:
        """``(block,)`` whether each row of block ``index`` is one of the L transitions."""
        return (
            index * self.block + jnp.arange(self.block, dtype=index.dtype) < self.length
        )

    def group_of(self, index: Array) -> Array:
        """``(B,)`` the group of each chain's rows in block ``index``."""
        per_segment = self.length // self.segments // self.block
        segment = (index // per_segment).astype(jnp.int32)
        return jnp.arange(self.chains, dtype=jnp.int32) * self.segments + segment


SCORE_WINDOW = 8
"""The default score window K of the one-chain estimators (mixture, subset, correlation)."""


def one_chain(key, steps, *, burn_in, window, chunk_size, width: int) -> Stream:
    """The sampling options of a one-chain estimator, checked, as its stream.

    One chain of ``steps`` transitions (> ``window`` + 1) in blocks of ``chunk_size``
    rows (None: about 2^20 floats per temporary of ``width`` floats a row, 8 to 4096
    rows), at least the score window.
    """
    check_key(key)
    window = check_int(window, "window", minimum=0)
    steps = check_int(steps, "steps", minimum=window + 2)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    if chunk_size is None:
        chunk_size = max(8, min(4096, _CHUNK_ELEMENTS // max(width, 1)))
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    return Stream(1, steps, min(max(chunk_size, window), steps), 1, burn_in)


def fold(net, key, stream: Stream, fn, first):
    """:func:`fluxjax.simulate.fold_transitions` over the chains of ``stream``."""
    length = stream.blocks * stream.block
    return fold_transitions(
        net, key, stream.chains, length, stream.block, stream.burn_in, fn, first
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

    @classmethod
    def whole(cls, n: int, dtype) -> "Credit":
        """Every neuron credited with the whole F (one part)."""
        return cls(jnp.ones((n, 1), dtype), local=False)

    def controls(self, control: Array) -> Array:
        """``(..., n)`` per-neuron controls as ``(..., J)`` per-part ones."""
        if self.local:
            return jnp.concatenate([control, jnp.zeros_like(control[..., :1])], -1)
        return jnp.sum(control, axis=-1, keepdims=True)


class _Sums(NamedTuple):
    """The regression pass's sums (rows t of every chain)."""

    cross: Array  # (K + 1, n): sum_t (F_t - c) e_{t-k}
    innovation: Array  # (K + 1, n): sum_t e_{t-k}
    square: Array  # (K + 1, n): sum_t e_{t-k}^2
    parts: Array  # (J,): sum_t F_{t,j}
    history: Array  # (B, K, n): the last K innovations of every chain
    centre: Array  # c: the first block's mean F


class Regression(NamedTuple):
    """The innovation regression of F on e (:func:`regression`).

    Attributes:
        beta: ``(K + 1, n)`` beta_{k,i}, the regression of F_t on e_{t-k,i}.
        lagged: ``(K + 1, n)`` the mean of e_{t-k} over the rows t.
        parts: ``(J,)`` the mean of each part F_{t,j}: their sum is the value.
    """

    beta: Array
    lagged: Array
    parts: Array

    @classmethod
    def without_control(cls, parts: Array, window: int, n: int) -> "Regression":
        """No innovation control (beta = 0); the baseline eta is the mean ``parts``."""
        zeros = jnp.zeros((window + 1, n), parts.dtype)
        return cls(zeros, zeros, parts)


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


def _influence(estimator, coefficients, net, stream: Stream, block) -> Influence:
    """The estimator's :class:`Influence` on ``block``, rows past the stream's end zeroed."""
    out = estimator.influence(coefficients, net, block)
    valid = stream.valid(block.index)[:, None]
    return out._replace(
        parts=jnp.where(valid, out.parts, 0.0),
        innovations=jnp.where(valid, out.innovations, 0.0),
    )


def regression(net, key, stream: Stream, window: int, estimator, coefficients):
    """The :class:`Regression` of the parts of F_t on e_{t-k}, in one pass.

    beta_{k,i} = sum_t (F_t - mean F) e_{t-k,i} / sum_t e_{t-k,i}^2 (k = 0..K, within
    each chain; e before a chain's start is 0; the marginal regression, which is the
    joint one as the innovations of one step are conditionally independent). F is
    centred on the first block's mean before it is summed, and the sums over rows run
    block by block in a fixed order (one contraction over all rows would be split by
    XLA's thread pool and by a device mesh, which changes its bits). ``net`` is held
    constant.
    """
    fixed = jax.lax.stop_gradient(net)

    influence = partial(_influence, estimator, coefficients, fixed, stream)

    def first(b):
        out = influence(b)
        F = jnp.sum(out.parts, -1)
        n, J = out.innovations.shape[-1], out.parts.shape[-1]
        zeros = jnp.zeros((window + 1, n), F.dtype)
        history = jnp.zeros((stream.chains, window, n), F.dtype)
        return _Sums(zeros, zeros, zeros, jnp.zeros(J, F.dtype), history, jnp.mean(F))

    def step(r: _Sums, b):
        out = influence(b)
        valid = jnp.broadcast_to(stream.valid(b.index), out.parts.shape[:2])
        F = jnp.where(valid, jnp.sum(out.parts, -1) - r.centre, 0.0)
        extended = jnp.concatenate([r.history, out.innovations], axis=1)
        # row k of lags @ extended[b] is sum_t v_t e_{t-k}: one product for every lag
        lags = jnp.concatenate(
            [_lag_matrix(F, window), _lag_matrix(valid.astype(F.dtype), window)], 1
        )
        cross, innovation = jnp.split(jnp.einsum("bks,bsi->ki", lags, extended), 2)
        square = jnp.einsum("bks,bsi->ki", lags[:, window + 1 :], extended**2)
        return _Sums(
            r.cross + cross,
            r.innovation + innovation,
            r.square + square,
            r.parts + jnp.sum(out.parts, axis=(0, 1)),
            extended[:, -window:] if window else r.history,
            r.centre,
        )

    r = fold(fixed, key, stream, step, first)
    T = stream.steps
    mean_F = jnp.sum(r.parts) / T - r.centre  # the mean of F - c
    covariance = r.cross - mean_F * r.innovation
    safe = jnp.where(r.square > 0, r.square, 1.0)
    beta = jnp.where(r.square > 0, covariance / safe, 0.0)
    return Regression(beta, r.innovation / T, r.parts / T)


def streamed_surrogate(
    net,
    key,
    stream: Stream,
    window: int,
    estimator,
    coefficients,
    credit: Credit,
    fitted: Regression | None = None,
):
    """S - stop_gradient(S): zero, with the estimator's gradient as its derivative (4).

    S = (1 / (B (L - K))) sum_{chains} sum_{s < L - K} [sum_i sum_j reach_ij W_{s,j}
    log P(x_{s+1,i} | x_s) + p(x_s) . B] + (1 / (B L)) sum_t pathwise_t, with W_{s,j} =
    sum_{k=1..K} (F~_{s+k,j} - eta_j) the window sums of the controlled parts
    F~_{t,j} = F_{t,j} - [sum_{k=0..K} e_{t-k} * beta_k]_j (per part: :class:`Credit`)
    and B = sum_{k>=1} beta_k (:func:`regression`).

    Nothing is evaluated unless a derivative is taken; then the derivative is
    accumulated block by block over regenerated transitions (a pass for the
    regression, unless ``fitted`` gives it, and one for the gradient), so memory is
    that of a few blocks and the parameters, whatever the length, and only the fields
    that carry a tangent are differentiated. ``estimator`` is a static object with two
    methods: ``influence(coefficients, net, block)`` gives the block's
    :class:`Influence` (at stop-gradient parameters) and ``pathwise(coefficients,
    net, block, p, log_fire, log_silent, payload)`` the ``(B, c)`` pathwise surrogate
    of each row; ``coefficients`` is a pytree of arrays (held constant).
    """
    arrays, static = eqx.partition(net, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(arrays)
    fn = partial(
        _stream_gradient, treedef, static, stream, window, estimator, len(leaves)
    )
    constants = jax.lax.stop_gradient((coefficients, credit, fitted))
    return _gradient_only(fn, *leaves, key, constants)


def _stream_gradient(treedef, static, stream, window, estimator, count, live, *args):
    """The gradient of S in the live leaves (a tuple, in their order)."""
    leaves, (key, (coefficients, credit, fitted)) = args[:count], args[count:]
    net = eqx.combine(jax.tree.unflatten(treedef, leaves), static)
    if fitted is None:
        fitted = regression(net, key, stream, window, estimator, coefficients)
    return _accumulate_gradient(
        _Parameters(treedef, static, leaves, live),
        key,
        stream,
        window,
        estimator,
        coefficients,
        credit,
        fitted,
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


class _Parameters(NamedTuple):
    """The network as the leaves of its floating arrays, ``live`` those differentiated."""

    treedef: object
    static: object
    leaves: list
    live: tuple

    def network(self, values=None) -> BinaryNetwork:
        """The network, with ``values`` (one per live leaf) substituted if given."""
        leaves = list(self.leaves)
        for i, v in zip(self.live, values or (), strict=False):
            leaves[i] = v
        return eqx.combine(jax.tree.unflatten(self.treedef, leaves), self.static)


class _Pending(NamedTuple):
    """Pass 3's carry: the previous block, waiting for the next K rows of parts."""

    block: object  # the TransitionBlock
    payload: object
    controlled: Array  # (B, c, J): F~ - eta of its rows
    history: Array  # (B, K, n): the innovations before the current block
    gradient: tuple  # the sum so far, one array per live leaf
    valid: Array  # 0 before the first block has been read


def _accumulate_gradient(
    parameters: _Parameters,
    key,
    stream: Stream,
    window: int,
    estimator,
    coefficients,
    credit: Credit,
    fitted: Regression,
):
    """The score pass of :func:`streamed_surrogate`: the derivative of S, block by block.

    Block j's score needs the parts of rows up to K past its end, so it is
    differentiated when block j + 1 has been read (the last one with zeros past the
    end, where the weight is zero). Only the leaves ``parameters.live`` are
    differentiated.
    """
    fixed = jax.lax.stop_gradient(parameters.network())
    live = tuple(parameters.leaves[i] for i in parameters.live)
    reach = credit.reach
    everyone = jnp.all(reach == 1)
    beta = fitted.beta
    bonus = jnp.sum(beta[1:], axis=0)
    eta = fitted.parts - credit.controls(jnp.sum(beta * fitted.lagged, axis=0))
    B, L, c = stream.chains, stream.length, stream.block
    dtype = beta.dtype
    score_scale = 1.0 / (B * (L - window)) if window else 0.0

    influence = partial(_influence, estimator, coefficients, fixed, stream)

    def controlled(history, out: Influence):
        lagged = _lagged(history, out.innovations, window)
        control = sum(
            (e * beta[k] for k, e in enumerate(lagged)), jnp.zeros_like(lagged[0])
        )
        return out.parts - credit.controls(control) - eta

    def surrogate(values, block, payload, W, valid):
        network = parameters.network(values)
        x, x_next, recurrent, index = block
        log_fire, log_silent = log_probs_given_input(network, x, recurrent)
        log_factor = jnp.where(x_next, log_fire, log_silent)
        p = jnp.exp(log_fire)
        per_neuron = jax.lax.cond(
            everyone,
            lambda: jnp.broadcast_to(jnp.sum(W, -1, keepdims=True), log_factor.shape),
            lambda: W @ reach.T,
        )
        row = index * c + jnp.arange(c, dtype=index.dtype)
        weight = jnp.where(row < L - window, score_scale, 0.0).astype(dtype)
        credited = jnp.sum(per_neuron * log_factor + p * bonus, axis=-1)
        path = estimator.pathwise(
            coefficients, network, block, p, log_fire, log_silent, payload
        )
        path = jnp.where(stream.valid(index), path, 0.0)
        return valid * (jnp.sum(weight * credited) + jnp.sum(path) / (B * L))

    def differentiate(pending: _Pending, ahead: Array):
        """Adds the gradient of the pending block, given the parts of the next K rows."""
        rows = jnp.concatenate([pending.controlled, ahead], axis=1).swapaxes(0, 1)
        W = _running_sums(rows, window)[1 : c + 1].swapaxes(0, 1)
        if not window:  # no score
            W = jnp.zeros_like(pending.controlled)
        g = jax.grad(surrogate)(live, pending.block, pending.payload, W, pending.valid)
        return tuple(map(jnp.add, pending.gradient, g))

    def first(b):
        out = influence(b)
        n, J = out.innovations.shape[-1], out.parts.shape[-1]
        zeros = lambda a: jnp.zeros_like(a)
        return _Pending(
            jax.tree.map(zeros, b),
            jax.tree.map(zeros, out.payload),
            jnp.zeros((B, c, J), dtype),
            jnp.zeros((B, window, n), dtype),
            tuple(jnp.zeros_like(v) for v in live),
            jnp.zeros((), dtype),
        )

    def step(pending: _Pending, b):
        out = influence(b)
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
