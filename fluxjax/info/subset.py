"""The flux of a subset of neurons from a simulation: a Rao-Blackwellised joint table.

For a subset S of k neurons (the core of a larger network), the subset's own
transition probability P_S(x'_S | x) averages nothing away: given the whole state x_t,
the subset's next bits are independent with probabilities p_i(x_t), i in S. So the
2^k x 2^k joint table of codes c = code(x_S(t)) and c' = code(x_S(t+1)),

    J[c, c'] = (1/T) sum_t [code(x_{t,S}) = c] P_S(c' | x_t),                   (1)

is accumulated exactly in c' (a Rao-Blackwellised plug-in), and

    I_S = sum_{c,c'} J log(J / (J_row J_col)).                                  (2)

**Gradient.** With G = log(J / (J_row J_col)) and F(x) = sum_c' P_S(c' | x)
G(code(x_S), c'), dI_S = sum_x pi(x) dF(x)|_G fixed + sum_x dpi(x) F(x) (the terms
through G cancel, as for any mutual information of a joint table): the pathwise term
at fixed G plus the windowed score function of :mod:`fluxjax.info._score`, every
neuron credited with the whole F~.

**Validated regime.** k <= 12 (the table has 4^k entries). The table's plug-in bias is
O(4^k / T); value and gradient are checked against exact enumeration in
tests/test_soft.py. The score window must cover the chain's mixing time.
"""

import math
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_neurons
from .._codes import code_probabilities, codes_of
from .._information import mutual_information, pointwise_information
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


MAX_SUBSET_NEURONS = 12
"""Largest subset whose 2^k x 2^k joint table :func:`subset_flux` accumulates."""

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class _SubsetInfluence:
    """F(x_t) = sum_c' P_S(c' | x_t) G(code_t, c') for the subset ``neurons``."""

    neurons: tuple[int, ...]

    def future(self, log_fire: Array, log_silent: Array) -> Array:
        """P_S(c' | x) for every code c', ``(..., 2^k)``."""
        index = np.asarray(self.neurons)
        return code_probabilities(log_fire[..., index], log_silent[..., index])

    def code(self, x: Array) -> Array:
        return codes_of(x, self.neurons).astype(jnp.int32)

    def influence(self, G: Array, net, block) -> Influence:
        log_fire, log_silent = log_probs_given_input(net, block.x, block.recurrent)
        e = block.x_next.astype(G.dtype) - jnp.exp(log_fire)
        F = jnp.sum(self.future(log_fire, log_silent) * G[self.code(block.x)], -1)
        return Influence(F[..., None], e, None)

    def pathwise(self, G, net, block, p, log_fire, log_silent, payload):
        return jnp.sum(self.future(log_fire, log_silent) * G[self.code(block.x)], -1)


def _joint_table(net, key, stream: Stream, subset: _SubsetInfluence) -> Array:
    """J of (1), summed block by block."""
    size = 2 ** len(subset.neurons)

    def add(J, b):
        log_fire, log_silent = log_probs_given_input(net, b.x, b.recurrent)
        valid = stream.valid(b.index)[:, None]
        P = jnp.where(valid, subset.future(log_fire, log_silent), 0.0)
        rows = subset.code(b.x).reshape(-1)
        return J + jax.ops.segment_sum(P.reshape(-1, size), rows, size)

    def first(b):
        return jnp.zeros((size, size), net.weights.dtype)

    return fold(net, key, stream, add, first) / stream.steps


def subset_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    neurons,
    *,
    burn_in: int = 1000,
    window: int = SCORE_WINDOW,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """The flux I(x_S(t); x_S(t+1)) of the subset ``neurons`` (2), in bits, differentiable.

    Args:
        net: the network.
        key: PRNG key of the chain.
        steps: the number of transitions T (> ``window`` + 1).
        neurons: the subset S, at most 12 distinct neuron indices.
        burn_in: updates discarded before the chain.
        window: K of the score function; it must cover the chain's mixing time (0:
            pathwise term only, biased).
        chunk_size: transitions per block (default: about 2^20 floats per temporary).

    Returns:
        The estimate in bits, a scalar of the network's dtype.
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    if len(neurons) > MAX_SUBSET_NEURONS:
        raise ValueError(
            f"the flux of a subset accumulates a 2^k x 2^k table and needs k <= "
            f"{MAX_SUBSET_NEURONS} neurons, got k = {len(neurons)}; use neurons=None "
            "for the whole network"
        )
    width = max(2 ** len(neurons), _probability_width(net))
    stream = one_chain(
        key, steps, burn_in=burn_in, window=window, chunk_size=chunk_size, width=width
    )
    return _subset_flux(net, key, stream, window, _SubsetInfluence(neurons))


@eqx.filter_jit
def _subset_flux(net, key, stream: Stream, window: int, subset: _SubsetInfluence):
    fixed = jax.lax.stop_gradient(net)
    J = _joint_table(fixed, key, stream, subset)
    G = pointwise_information(J)
    credit = Credit.whole(net.num_neurons, G.dtype)
    surrogate = streamed_surrogate(net, key, stream, window, subset, G, credit)
    return (mutual_information(J) + surrogate) / _LN2
