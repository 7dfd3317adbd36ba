"""The bit code of a state, its inverse, and the counting of code pairs.

A state x in {0, 1}^n (or the neurons ``g`` of a group) has the code
c = sum_k x[g_k] 2^k: neuron g_k is bit k. Every module that encodes states, tabulates
all 2^k states or counts successive code pairs uses these functions.
"""

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Bool, Int32, Shaped, UInt32


def codes_of(
    states: Shaped[Array, "*batch n"], neurons: Sequence[int]
) -> UInt32[Array, "*batch"]:
    """C = sum_k x[neurons[k]] 2^k, uint32 (at most 32 neurons; not checked here)."""
    bits = states[..., jnp.asarray(neurons)].astype(jnp.uint32)
    powers = jnp.left_shift(jnp.uint32(1), jnp.arange(len(neurons), dtype=jnp.uint32))
    return jnp.sum(bits * powers, axis=-1, dtype=jnp.uint32)


def group_codes(
    states: Shaped[Array, "*batch n"], groups: Sequence[Sequence[int]]
) -> Int32[Array, "*batch K"]:
    """The int32 code of each group, ``(..., K)`` (groups of at most 31 neurons)."""
    return jnp.stack([codes_of(states, g) for g in groups], axis=-1).astype(jnp.int32)


def all_states(num_neurons: int, dtype=bool) -> Shaped[Array, "k n"]:
    """The 2^n states in code order: row a holds the bits of a (neuron i = bit i)."""
    codes = jnp.arange(2**num_neurons)
    return ((codes[:, None] >> jnp.arange(num_neurons)) & 1).astype(dtype)


def code_probabilities(
    log_fire: Shaped[Array, "*batch k"], log_silent: Shaped[Array, "*batch k"]
) -> Shaped[Array, "*batch c"]:
    """P(c) = prod_k p_k^{b_k} (1 - p_k)^{1 - b_k} for every code c, ``(..., 2^k)``.

    The k bits are independent (bit k of c is b_k); the input is log p and
    log(1 - p), ``(..., k)``. Two small matrix products and one exponential, whose backward pass is as cheap.
    """
    bits = all_states(log_fire.shape[-1], log_fire.dtype)
    return jnp.exp(log_fire @ bits.T + log_silent @ (1 - bits).T)


def pair_counts(
    previous: Int32[Array, "P K"],
    current: Int32[Array, "P K"],
    valid: Bool[Array, " P"],
    num_symbols: int,
) -> Int32[Array, "K K S S"]:
    """counts[k, l, a, b] = #{p valid : previous[p, k] = a, current[p, l] = b}.

    One scatter-add of the K^2 code pairs of every row into a flat table.
    """
    K, S = previous.shape[-1], num_symbols
    pair = jnp.arange(K * K, dtype=jnp.int32).reshape(K, K) * (S * S)
    index = pair + previous[:, :, None] * S + current[:, None, :]  # (P, K, K)
    index = jnp.where(valid[:, None, None], index, K * K * S * S).reshape(-1)
    counts = jnp.zeros(K * K * S * S, jnp.int32).at[index].add(1, mode="drop")
    return counts.reshape(K, K, S, S)
