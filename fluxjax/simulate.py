"""Simulation: ``jax.lax.scan`` over time, ``vmap`` over replicas.

Randomness is a pure function of the key: replica k uses ``fold_in(key, k)`` (so its
trajectory does not depend on the batch size, and the unbatched run is replica 0),
split once into an initial-state key and a run key; step t (counted from the start of
the burn-in) uses ``fold_in(run_key, t)``. A run with ``burn_in=b`` is therefore the
tail of the run with ``burn_in=0`` and ``b`` more steps.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Bool, PRNGKeyArray, Shaped, UInt32

from ._checks import check_choice, check_int, check_key, check_neurons
from .network import BinaryNetwork, draw_randomness, is_noiseless, update


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
        record: ``"states"`` (bool ``(..., steps, len(neurons))``) or ``"codes"``
            (uint32 ``(..., steps)`` codes of ``neurons``, see :func:`state_codes`;
            10^7 steps take 40 MB).
        neurons: the neurons to record (default all; at most 32 for codes), e.g. the
            core of a larger network. All neurons are simulated either way.

    Returns:
        ``(steps, len(neurons))`` states or ``(steps,)`` codes, with a leading ``batch`` axis when
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
    neurons = check_neurons(neurons, n)
    if record == "codes" and len(neurons) > MAX_CODE_NEURONS:
        raise ValueError(
            f"record='codes' encodes at most {MAX_CODE_NEURONS} neurons, got "
            f"{len(neurons)}; pass a subset with `neurons=`"
        )
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
    noisy = not is_noiseless(net)
    return _simulate(net, key, x0, steps, batch, burn_in, record, neurons, noisy)


@eqx.filter_jit
def _simulate(net, key, x0, steps, batch, burn_in, record, neurons, noisy):
    def replica(index, x0):
        init_key, run_key = jr.split(jr.fold_in(key, index))
        x = jr.bernoulli(init_key, 0.5, (net.num_neurons,)) if x0 is None else x0

        def advance(x, t):
            draws = draw_randomness(jr.fold_in(run_key, t), x.shape, net, noisy=noisy)
            return update(net, x, *draws)

        def burn(x, t):
            return advance(x, t), None

        def record_step(x, t):
            x = advance(x, t)
            if record == "codes":
                return x, state_codes(x, neurons)
            return x, x[jnp.asarray(neurons)] if len(neurons) < x.shape[-1] else x

        x, _ = jax.lax.scan(burn, x, jnp.arange(burn_in))
        _, trajectory = jax.lax.scan(record_step, x, burn_in + jnp.arange(steps))
        return trajectory

    if batch is None:
        return replica(0, x0)
    x0_axis = None if x0 is None or x0.ndim == 1 else 0
    return jax.vmap(replica, in_axes=(0, x0_axis))(jnp.arange(batch), x0)


def stack_networks(
    nets: Sequence[BinaryNetwork],
) -> tuple[BinaryNetwork, BinaryNetwork]:
    """Stacks same-sized networks along a new leading axis, for ``vmap``.

    Fields that are equal in every network stay unstacked (so a noiseless ensemble is
    still known to be noiseless); the weights are stacked when all fields are equal. Returns ``(stacked, in_axes)`` where ``in_axes`` is
    the matching pytree of 0 / None for ``eqx.filter_vmap``.
    """
    if not nets or not all(isinstance(net, BinaryNetwork) for net in nets):
        raise TypeError("nets must be a non-empty sequence of BinaryNetwork")
    shapes = {jax.tree.map(jnp.shape, net).weights for net in nets}
    if len(shapes) != 1:
        raise ValueError(f"nets must all have the same size, got weights {shapes}")
    columns = zip(*(jax.tree.leaves(net) for net in nets), strict=True)
    leaves, axes = [], []
    for column in columns:
        first = column[0]
        same = all(
            leaf.shape == first.shape and bool(jnp.array_equal(leaf, first))
            for leaf in column
        )
        if not same:  # a scalar temperature or noise beside per-neuron ones
            shape = max((leaf.shape for leaf in column), key=len)
            column = [jnp.broadcast_to(leaf, shape) for leaf in column]
        leaves.append(first if same else jnp.stack(column))
        axes.append(None if same else 0)
    if all(axis is None for axis in axes):  # identical networks: vmap needs one axis
        leaves[0], axes[0] = jnp.stack([jax.tree.leaves(net)[0] for net in nets]), 0
    treedef = jax.tree.structure(nets[0])
    return jax.tree.unflatten(treedef, leaves), jax.tree.unflatten(treedef, axes)


def simulate_ensemble(
    nets: Sequence[BinaryNetwork],
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 0,
    record: str = "states",
    neurons=None,
) -> Bool[Array, "B steps n"] | UInt32[Array, "B steps"]:
    """Simulates several networks of the same size in one compiled, vmapped call.

    Network k's trajectory equals ``simulate(nets[k], fold_in(key, k), steps, ...)``
    bit for bit, so results do not depend on how an ensemble is grouped.

    Args:
        nets: networks with the same number of neurons (e.g. one per seed or
            condition); see :func:`simulate` for the other arguments.
        key: PRNG key.
        steps: recorded steps.
        burn_in: discarded updates.
        record: ``"states"`` or ``"codes"``.
        neurons: the neurons to record.

    Returns:
        ``(len(nets), steps, len(neurons))`` states or ``(len(nets), steps)`` codes.
    """
    stacked, in_axes = stack_networks(nets)
    check_key(key)
    keys = jax.vmap(lambda k: jr.fold_in(key, k))(jnp.arange(len(nets)))
    first = nets[0]
    # Validate once on a concrete member; the vmapped call then cannot fail.
    simulate(first, key, 1, record=record, neurons=neurons)
    return eqx.filter_vmap(
        lambda net, k: simulate(
            net, k, steps, burn_in=burn_in, record=record, neurons=neurons
        ),
        in_axes=(in_axes, 0),
    )(stacked, keys)
