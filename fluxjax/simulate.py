"""Simulation: ``jax.lax.scan`` over time, ``vmap`` over replicas.

Randomness is a pure function of the key: replica k uses ``fold_in(key, k)`` (so its
trajectory does not depend on the batch size, and the unbatched run is replica 0),
split once into an initial-state key and a run key; step t (counted from the start of
the burn-in) uses ``fold_in(run_key, t)``. A run with ``burn_in=b`` is therefore the
tail of the run with ``burn_in=0`` and ``b`` more steps.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Bool, PRNGKeyArray, Shaped, UInt32

from ._checks import check_choice, check_int, check_key, check_neurons
from .network import BinaryNetwork, draw_randomness, update


MAX_CODE_NEURONS = 32


def state_codes(
    states: Shaped[ArrayLike, "*batch n"], neurons=None
) -> UInt32[Array, "*batch"]:
    """Integer code of each state: c = sum_k x[neurons[k]] 2^k (neuron k is bit k).

    Args:
        states: ``(..., n)`` bool or 0/1 states.
        neurons: the (at most 32) neurons to encode, in bit order; default all.
    """
    states = jnp.asarray(states)
    neurons = check_neurons(neurons, states.shape[-1])
    if len(neurons) > MAX_CODE_NEURONS:
        raise ValueError(
            f"state codes hold at most {MAX_CODE_NEURONS} neurons, got {len(neurons)}; "
            "pass a subset with `neurons=`"
        )
    bits = states[..., jnp.asarray(neurons)].astype(jnp.uint32)
    powers = jnp.left_shift(jnp.uint32(1), jnp.arange(len(neurons), dtype=jnp.uint32))
    return jnp.sum(bits * powers, axis=-1, dtype=jnp.uint32)


def simulate(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    batch: int | None = None,
    x0: Shaped[ArrayLike, "*batch n"] | None = None,
    burn_in: int = 0,
    record: str = "states",
    neurons=None,
) -> Bool[Array, "*batch steps n"] | UInt32[Array, "*batch steps"]:
    """Simulates ``steps`` synchronous updates after ``burn_in`` discarded ones.

    Args:
        net: the network.
        key: PRNG key; the same key gives the same result, batched or not.
        steps: number of recorded steps (>= 1); states after each update.
        batch: number of independent replicas (None: one unbatched trajectory).
        x0: initial state ``(n,)`` or ``(batch, n)``; default uniformly random.
        burn_in: number of updates discarded before recording.
        record: ``"states"`` (bool ``(..., steps, n)``) or ``"codes"`` (uint32
            ``(..., steps)`` codes of ``neurons``, see :func:`state_codes`; 10^7 steps
            take 40 MB).
        neurons: with ``record="codes"``, the (at most 32) neurons to encode.

    Returns:
        ``(steps, n)`` states or ``(steps,)`` codes, with a leading ``batch`` axis when
        ``batch`` is given.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((3, 3)), jnp.zeros(3))
        >>> simulate(net, jax.random.key(0), 100, batch=8).shape
        (8, 100, 3)
    """
    if not isinstance(net, BinaryNetwork):
        raise TypeError(f"net must be a BinaryNetwork, got {type(net).__name__}")
    check_key(key)
    steps = check_int(steps, "steps", minimum=1)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    check_choice(record, "record", ("states", "codes"))
    n = net.num_neurons
    if record == "codes":
        neurons = check_neurons(neurons, n)
        if len(neurons) > MAX_CODE_NEURONS:
            raise ValueError(
                f"record='codes' encodes at most {MAX_CODE_NEURONS} neurons, got "
                f"{len(neurons)}; pass a subset with `neurons=`"
            )
    elif neurons is not None:
        raise ValueError("neurons= is only used with record='codes'")
    if batch is not None:
        batch = check_int(batch, "batch", minimum=1)
    if x0 is not None:
        x0 = jnp.asarray(x0)
        allowed = [(n,)] if batch is None else [(n,), (batch, n)]
        if x0.shape not in allowed:
            raise ValueError(
                f"x0 must have shape {' or '.join(map(str, allowed))}, got {x0.shape}"
            )
        x0 = x0.astype(bool)
    return _simulate(net, key, x0, steps, batch, burn_in, record, neurons)


@eqx.filter_jit
def _simulate(net, key, x0, steps, batch, burn_in, record, neurons):
    def replica(index, x0):
        init_key, run_key = jr.split(jr.fold_in(key, index))
        x = jr.bernoulli(init_key, 0.5, (net.num_neurons,)) if x0 is None else x0

        def advance(x, t):
            return update(
                net, x, *draw_randomness(jr.fold_in(run_key, t), x.shape, net)
            )

        def burn(x, t):
            return advance(x, t), None

        def record_step(x, t):
            x = advance(x, t)
            return x, (x if record == "states" else state_codes(x, neurons))

        x, _ = jax.lax.scan(burn, x, jnp.arange(burn_in))
        _, trajectory = jax.lax.scan(record_step, x, burn_in + jnp.arange(steps))
        return trajectory

    if batch is None:
        return replica(0, x0)
    x0_axis = None if x0 is None or x0.ndim == 1 else 0
    return jax.vmap(replica, in_axes=(0, x0_axis))(jnp.arange(batch), x0)
