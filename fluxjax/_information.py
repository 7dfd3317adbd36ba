"""Entropies and the mutual information of a joint table, in nats.

The one home of these quantities for every estimator (exact enumeration, the
sampled estimators, the plug-in counts and the fit): each takes probabilities (or
their logarithms) as arrays and is differentiable, with a zero gradient where a
probability is exactly 0.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float


def entr(p: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    """-p ln p per entry; 0 with a zero gradient where p is exactly 0.

    In float32, stationary probabilities below ~1e-9 and saturated firing
    probabilities round to zero; there -ln p - 1 would be infinite and turn the whole
    gradient into NaN.
    """
    positive = p > 0
    return jnp.where(positive, -p * jnp.log(jnp.where(positive, p, 1.0)), 0.0)


def binary_entropy(
    log_fire: Float[Array, "*shape"], log_silent: Float[Array, "*shape"]
) -> Float[Array, "*shape"]:
    """h(p) = -p ln p - (1 - p) ln(1 - p), from ln p and ln(1 - p) (no 0 log 0)."""
    return -(jnp.exp(log_fire) * log_fire + jnp.exp(log_silent) * log_silent)


def mutual_information(joint: Float[Array, "*batch a b"]) -> Float[Array, "*batch"]:
    """I = H(row) + H(column) - H(joint) of the joint table(s) P(a, b) (last two axes)."""
    return (
        jnp.sum(entr(joint.sum(-1)), -1)
        + jnp.sum(entr(joint.sum(-2)), -1)
        - jnp.sum(entr(joint), (-2, -1))
    )


def pointwise_information(joint: Float[Array, "a b"]) -> Float[Array, "a b"]:
    """ln(P(a, b) / (P(a) P(b))), 0 where P(a, b) = 0: sum P * this is the information."""
    row, column = jnp.sum(joint, axis=1), jnp.sum(joint, axis=0)
    positive = joint > 0
    ratio = jnp.where(positive, joint, 1.0) / (
        jnp.where(row > 0, row, 1.0)[:, None] * jnp.where(column > 0, column, 1.0)
    )
    return jnp.where(positive, jnp.log(ratio), 0.0)
