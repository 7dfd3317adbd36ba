"""The correlation proxy: the RMS lag-1 correlation, a cheap differentiable flux surrogate.

Metzner et al. (2024) found the flux to be approximately a monotonic function of

    C = sqrt((1/k^2) sum_{i,j in S} rho_ij^2),   rho_ij = corr(x_i(t), x_j(t+1)),    (1)

over all ordered pairs of a subset S (diagonal included), for moderately strong
weights. The moments are Rao-Blackwellised, E[x_i(t) x_j(t+1)] = E[x_i(t) p_j(x_t)]
and E[x_j(t+1)] = E[p_j(x_t)], so the pathwise derivative exists; the stationary
distribution's part is the windowed score function of :mod:`fluxjax.info._score`
applied to the linearisation F_t = dC/d(moments) . (moments of sample t). A neuron
that never changes has rho = 0.

References:
    C. Metzner, M. E. Yamakou, D. Voelkl, A. Schilling, P. Krauss, "Quantifying and
    maximizing the information flux in recurrent neural networks", Neural Computation
    36(3), 351-384 (2024).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Shaped

from .._checks import check_neurons
from ..network import BinaryNetwork, check_network, log_probs_given_input
from ._score import (
    SCORE_WINDOW,
    Credit,
    Influence,
    Stream,
    _probability_width,
    fold,
    one_chain,
    streamed_surrogate,
)


class _Moments(NamedTuple):
    """(E x(t), E p(x_t), E x(t) p(x_t)^T) over the subset, or their slopes dC/d."""

    now: Array  # (k,)
    next: Array  # (k,)
    cross: Array  # (k, k)


def _correlation(m: _Moments) -> Array:
    """C of (1) from the moments."""
    covariance = m.cross - m.now[:, None] * m.next[None, :]
    variance = (m.now * (1 - m.now))[:, None] * (m.next * (1 - m.next))
    positive = variance > 0
    rho = jnp.where(
        positive, covariance / jnp.sqrt(jnp.where(positive, variance, 1.0)), 0.0
    )
    square = jnp.mean(rho**2)
    return jnp.where(square > 0, jnp.sqrt(jnp.where(square > 0, square, 1.0)), 0.0)


@dataclass(frozen=True)
class _ProxyInfluence:
    """F_t = dC/dm . m_t, the linearisation of C in the moments of sample t."""

    neurons: tuple[int, ...]

    def sample(self, block, log_fire) -> tuple[Array, Array]:
        index = np.asarray(self.neurons)
        return block.x[..., index].astype(log_fire.dtype), jnp.exp(log_fire[..., index])

    def pathwise(self, slope: _Moments, net, block, p, log_fire, log_silent, payload):
        now, p = self.sample(block, log_fire)
        return p @ slope.next + jnp.sum((now @ slope.cross) * p, -1)

    def influence(self, slope: _Moments, net, block) -> Influence:
        log_fire, _ = log_probs_given_input(net, block.x, block.recurrent)
        now, p = self.sample(block, log_fire)
        F = now @ slope.now + p @ slope.next + jnp.sum((now @ slope.cross) * p, -1)
        e = block.x_next.astype(F.dtype) - jnp.exp(log_fire)
        return Influence(F[..., None], e, None)


def _moments(net, key, stream: Stream, proxy: _ProxyInfluence) -> _Moments:
    """The moments of (1) over the stream, summed block by block."""

    def add(m: _Moments, b):
        log_fire, _ = log_probs_given_input(net, b.x, b.recurrent)
        now, p = proxy.sample(b, log_fire)
        w = stream.valid(b.index).astype(p.dtype)[:, None]
        now, p = now * w, p * w  # rows past the end count nothing
        return _Moments(
            m.now + jnp.sum(now, axis=(0, 1)),
            m.next + jnp.sum(p, axis=(0, 1)),
            m.cross + jnp.einsum("bti,btj->ij", now, p),
        )

    def first(b):
        k = len(proxy.neurons)
        zeros = jnp.zeros(k, net.weights.dtype)
        return _Moments(zeros, zeros, jnp.zeros((k, k), zeros.dtype))

    sums = fold(net, key, stream, add, first)
    return jax.tree.map(lambda s: s / stream.steps, sums)


def correlation_proxy(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    burn_in: int = 1000,
    window: int = SCORE_WINDOW,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """RMS of the lag-1 Pearson correlations (1), a cheap differentiable flux surrogate.

    Args:
        net: the network (any n; memory n^2 plus a block of transitions).
        key: PRNG key for the chain.
        steps: the number of transitions T (> ``window`` + 1).
        neurons: the subset S; default all neurons.
        burn_in: updates discarded first.
        window: K of the score function (0: pathwise only, biased).
        chunk_size: transitions per block (default: about 2^20 floats per temporary).

    Returns:
        C in [0, 1], a scalar of the network's dtype.

    Raises:
        ValueError: steps <= window + 1, bad indices or a negative option.
        TypeError: ``net`` is not a BinaryNetwork or ``key`` is not a PRNG key.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(3), -jnp.ones(3))
        >>> c = correlation_proxy(net, jax.random.key(0), 500, burn_in=10)
        >>> c.shape, bool(0 <= c <= 1)
        ((), True)
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    width = _probability_width(net)
    stream = one_chain(
        key, steps, burn_in=burn_in, window=window, chunk_size=chunk_size, width=width
    )
    return _correlation_proxy(net, key, stream, window, _ProxyInfluence(neurons))


@eqx.filter_jit
def _correlation_proxy(net, key, stream: Stream, window: int, proxy: _ProxyInfluence):
    fixed = jax.lax.stop_gradient(net)
    moments = _moments(fixed, key, stream, proxy)
    slope = jax.grad(_correlation)(moments)
    credit = Credit.whole(net.num_neurons, moments.now.dtype)
    surrogate = streamed_surrogate(net, key, stream, window, proxy, slope, credit)
    return _correlation(moments) + surrogate
