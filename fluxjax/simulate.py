"""Simulation: a ``lax.scan`` over time for a batch of replicas, sharded over devices.

Randomness is a pure function of the key. Replica k uses ``fold_in(key, k)`` (so its
trajectory does not depend on the batch size, and the unbatched run is replica 0),
split once: ``init_key, run_key = split(fold_in(key, k))``. The initial state is
``bernoulli(init_key, 0.5, (n,))`` unless ``x0`` is given, and update t (counted from
the start of the burn-in, t = 0, 1, ...) uses ``draw_randomness(run_key, t, (n,), net)``
(Threefry hashes of the counter (t, j), documented in :mod:`fluxjax.network`). A run
with ``burn_in=b`` is therefore the tail of the run with ``burn_in=0`` and ``b`` more
steps, and neither depends on how the work is cut up below.

How it runs (see benchmarks/README.md for the measurements behind it): the draws do not
depend on the state, so they are computed for a chunk of updates of all replicas at
once (one vectorised kernel, written out so that XLA fuses it) and turned into firing
thresholds theta(t) = T (L - sigma xi) - b. The sequential loop inside a chunk then
only computes x(t + 1) = [x(t) @ W > theta(t)] for the whole batch: a matrix product
and a comparison. Arrays stay batch-major, so recorded states are written once, in
place. Statistics can be streamed instead (``record=PairCounts(groups)``) so that long runs
never hold their states. Replicas and ensembles are sharded over the devices along
their leading axis (a 1-D ``Mesh`` named "ensemble"); nothing is communicated.
"""

import dataclasses
import sys
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import (
    Array,
    ArrayLike,
    Bool,
    Float,
    Int32,
    Key,
    PRNGKeyArray,
    Shaped,
    UInt32,
)

from ._checks import (
    as_float_array,
    as_states,
    check_finite,
    check_int,
    check_key,
    check_neurons,
    is_concrete,
)
from ._codes import codes_of, group_codes, pair_counts
from .network import (
    BinaryNetwork,
    check_network,
    draw_from_stream,
    firing_threshold,
    recurrent_input,
    stream_key,
)


MAX_CODE_NEURONS = 32
MAX_GROUP_NEURONS = 10
CHUNK_ELEMENTS = 1 << 20
"""Thresholds computed at once, summed over the replicas on one device (4 MB in
float32); a chunk is at most ``MAX_CHUNK_STEPS`` updates. Results do not depend on the
chunking (tests/test_simulate.py); small chunks pay more per-chunk overhead at small n,
and unrolling the sequential loop made it slower on CPU."""
MAX_CHUNK_STEPS = 512
_MAX_STEP = 2**32 - 2 * MAX_CHUNK_STEPS  # step counters are uint32


_Neurons = Sequence[int | np.integer] | Shaped[ArrayLike, " k"]


@dataclasses.dataclass(frozen=True)
class States:
    """Record the states after each update: bool ``(..., steps, len(neurons))``.

    Attributes:
        neurons: the neurons to record (default all), e.g. the core of a larger
            network. All neurons are simulated either way.
    """

    neurons: _Neurons | None = None


@dataclasses.dataclass(frozen=True)
class Codes:
    """Record the uint32 code of ``neurons`` after each update: ``(..., steps)``.

    The code is :func:`state_codes` (at most 32 neurons; default all): 10^7 steps
    take 40 MB.
    """

    neurons: _Neurons | None = None


@dataclasses.dataclass(frozen=True)
class PairCounts:
    """Stream the transition counts of K ``groups``: int32 ``(..., K, K, S, S)``.

    ``counts[k, l, a, b]`` = #{t : c_k(x_t) = a, c_l(x_{t+1}) = b} over the
    ``steps - 1`` successive pairs of recorded states, with c_k the
    :func:`state_codes` of group k and S = 2^(largest group size); memory does not
    depend on ``steps``.

    Attributes:
        groups: K >= 1 groups of at most 10 neurons each (e.g. the paper's triplets).
    """

    groups: Sequence[_Neurons]


@dataclasses.dataclass(frozen=True)
class Probabilities:
    """Record the firing probabilities: float ``(..., steps, len(neurons))``.

    Row t is P(x_{t+1, i} = 1 | x_t, d_t) = :meth:`BinaryNetwork.firing_prob` of the
    state before the recorded update (and its drive): the Rao-Blackwellised,
    lower-variance version of the recorded states (reservoir readout features).

    Attributes:
        neurons: the neurons to record (default all).
    """

    neurons: _Neurons | None = None


Record = States | Codes | PairCounts | Probabilities
"""What a simulation returns (:func:`simulate`'s ``record``)."""

_RECORD_NAMES = {
    States: "states",
    Codes: "codes",
    PairCounts: "pair_counts",
    Probabilities: "probabilities",
}


class _Plan(NamedTuple):
    """The static description of one compiled simulation."""

    steps: int
    burn_in: int
    record: str
    neurons: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]
    chunk: int


def state_codes(
    states: Shaped[ArrayLike, "*batch n"], neurons=None
) -> UInt32[Array, "*batch"]:
    """Integer code of each state: c = sum_k x[neurons[k]] 2^k (neuron k is bit k).

    Args:
        states: ``(..., n)`` bool or 0/1 states.
        neurons: the (at most 32) neurons to encode, in bit order; default all.

    Examples:
        >>> state_codes(jnp.array([[True, False, True], [False, True, False]])).tolist()
        [5, 2]
    """
    states = as_states(states)
    neurons = check_neurons(neurons, states.shape[-1])
    if len(neurons) > MAX_CODE_NEURONS:
        raise ValueError(
            f"state codes hold at most {MAX_CODE_NEURONS} neurons, got {len(neurons)}; "
            "pass a subset with `neurons=`"
        )
    return codes_of(states, neurons)


def _check_groups(groups, n: int) -> tuple[tuple[int, ...], ...]:
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise TypeError("groups must be a sequence of sequences of neuron indices")
    checked = tuple(check_neurons(g, n, "groups") for g in groups)
    if not checked or any(len(g) > MAX_GROUP_NEURONS for g in checked):
        raise ValueError(
            f"groups must be at least one group of at most {MAX_GROUP_NEURONS} "
            f"neurons, got sizes {[len(g) for g in checked]}"
        )
    return checked


def _check_record(record, n: int) -> tuple[str, tuple[int, ...], tuple]:
    """(name, neurons, groups) of a :data:`Record`, checked."""
    if type(record) not in _RECORD_NAMES:
        hint = {
            "states": "fj.States()",
            "codes": "fj.Codes(neurons)",
            "pair_counts": "fj.PairCounts(groups)",
            "probabilities": "fj.Probabilities()",
        }.get(record if isinstance(record, str) else None)
        raise TypeError(
            "record must be fj.States(neurons), fj.Codes(neurons), "
            f"fj.PairCounts(groups) or fj.Probabilities(neurons), got {record!r}"
            + (f": use {hint}" if hint else "")
        )
    name = _RECORD_NAMES[type(record)]
    if isinstance(record, PairCounts):
        return name, tuple(range(n)), _check_groups(record.groups, n)
    neurons = check_neurons(record.neurons, n)
    if isinstance(record, Codes) and len(neurons) > MAX_CODE_NEURONS:
        raise ValueError(
            f"fj.Codes encodes at most {MAX_CODE_NEURONS} neurons, got "
            f"{len(neurons)}; pass a subset: fj.Codes(neurons=...)"
        )
    return name, neurons, ()


def _devices(devices) -> list:
    """``devices``, or by default the device of a ``jax.default_device`` context, else all."""
    if devices is not None:
        return list(devices)
    default = jax.config.jax_default_device
    if default is None:
        return jax.devices()
    return [default] if isinstance(default, jax.Device) else jax.devices(default)[:1]


def _mesh(devices, size: int) -> Mesh | None:
    """A 1-D mesh ("ensemble") over :func:`_devices`, or None for one device."""
    devices = _devices(devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    if len(devices) == 1 or size == 1:
        return None
    return Mesh(np.asarray(devices), ("ensemble",))


def _chunk_steps(replicas: int, n: int, mesh: Mesh | None) -> int:
    per_device = -(-replicas // (1 if mesh is None else mesh.size))
    return max(1, min(MAX_CHUNK_STEPS, CHUNK_ELEMENTS // (per_device * n)))


def _phase_chunk(length: int, target: int) -> int:
    """About ``target`` updates per chunk, dividing ``length`` where possible.

    A divisor in (target / 2, target] wastes no update and needs no copy of the
    record; otherwise the last chunk runs past the end (masked) and the record is cut.
    """
    if length <= target:
        return length
    for chunk in range(target, target // 2, -1):
        if length % chunk == 0:
            return chunk
    return target


def _plan(net, steps, burn_in, record, replicas, mesh) -> _Plan:
    """Validates the common arguments of the simulation functions."""
    steps = check_int(steps, "steps", minimum=1)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    if steps + burn_in > _MAX_STEP:
        raise ValueError(f"burn_in + steps must be at most {_MAX_STEP}")
    name, neurons, groups = _check_record(record, net.num_neurons)
    chunk = _chunk_steps(replicas, net.num_neurons, mesh)
    return _Plan(steps, burn_in, name, neurons, groups, chunk)


def simulate(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    batch: int | None = None,
    x0: Shaped[ArrayLike, "... n"] | None = None,
    burn_in: int = 0,
    record: Record = States(),
    drive: Float[ArrayLike, "*replicas updates n"] | None = None,
    devices=None,
) -> (
    Bool[Array, "*batch steps m"]
    | UInt32[Array, "*batch steps"]
    | Int32[Array, "*batch K K S S"]
    | Float[Array, "*batch steps m"]
):
    """Simulates ``steps`` synchronous updates after ``burn_in`` discarded ones.

    Args:
        net: the network.
        key: PRNG key; the same key gives the same result, batched or not.
        steps: number of recorded steps (>= 1); states after each update.
        batch: number of independent replicas (None: one unbatched trajectory).
        x0: initial state ``(n,)`` or ``(batch, n)``; default uniformly random.
        burn_in: number of updates discarded before recording.
        record: what to return, a :data:`Record`: :class:`States` (default: the
            bool states of every neuron), :class:`Codes`, :class:`PairCounts` or
            :class:`Probabilities`, each with the neurons (or groups) it records.
        drive: an external input field d(t) for every update, burn-in included:
            ``(burn_in + steps, n)`` shared by all replicas, or ``(batch,
            burn_in + steps, n)`` one per replica. Update t (counted from the start of
            the burn-in) adds ``drive[..., t, :]`` to the summed input before the
            temperature divides and the noise is added (module docstring of
            :mod:`fluxjax.network`); recorded step s is the state after update
            ``burn_in + s``, so it has seen ``drive[burn_in + s]``. Default: none (a
            free-running network).
        devices: devices to spread the replicas over (default: the device of a
            ``jax.default_device`` context, else all of ``jax.devices()``; results
            do not depend on it).

    Returns:
        The record of each replica, with a leading ``batch`` axis when ``batch`` is
        given.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((3, 3)), jnp.zeros(3))
        >>> simulate(net, jax.random.key(0), 100, batch=8).shape
        (8, 100, 3)
    """
    check_network(net)
    check_key(key)
    if batch is not None:
        batch = check_int(batch, "batch", minimum=1)
    mesh = None if batch is None else _mesh(devices, batch)
    plan = _plan(net, steps, burn_in, record, batch or 1, mesh)
    n = net.num_neurons
    drive = _check_drive(drive, net, plan, None if batch is None else (batch, "batch"))
    if x0 is not None:
        x0 = as_float_array(x0, "x0", booleans=True)
        allowed = [(n,)] if batch is None else [(n,), (batch, n)]
        if x0.shape not in allowed:
            raise ValueError(
                f"x0 must have shape {' or '.join(map(str, allowed))}, got {x0.shape}"
            )
        if is_concrete(x0) and not np.all(np.isin(np.asarray(x0), (0.0, 1.0))):
            raise ValueError("x0 must hold binary states (bool, or 0 and 1)")
        x0 = x0.astype(bool)
    if batch is None:
        return _simulate_one(net, key, x0, drive, plan)
    return _simulate_batch(net, key, x0, drive, batch, plan, mesh)


class TransitionBlock(NamedTuple):
    """``block`` successive transitions of every chain, ``(chains, block, n)`` each.

    Attributes:
        x: the states x_t, bool.
        x_next: the states x_{t+1}, bool.
        recurrent: the recurrent input x_t @ W that the update read (its bits: the
            simulation's own product, not a later one's).
        index: the block's number j (an int32 scalar): rows are t = j * block + s.
    """

    x: Array
    x_next: Array
    recurrent: Array
    index: Array


def fold_transitions(
    net, key, chains: int, length: int, block: int, burn_in: int, fn, first
):
    """Folds ``fn`` over the transitions of ``chains`` stationary chains, block by block.

    The chains are those of ``simulate(net, key, length + 1, batch=chains,
    burn_in=burn_in)``: block j holds the transitions t = j * block ... (j + 1) * block
    - 1 of every chain (x_t = states[:, t], x_{t+1} = states[:, t + 1]). Returns
    ``fn(... fn(fn(first(b_0), b_0), b_1) ..., b_last)`` for the :class:`TransitionBlock`
    b_j; ``first`` sees block 0 before it is folded in (e.g. to centre sums on it).
    Memory is that of one block, whatever ``length``: a second fold with the same key
    regenerates the same transitions. Arguments are checked by the caller; ``block``
    divides ``length``. The chains run on the devices of :func:`_mesh`, and each block
    is gathered before ``fn`` sees it, so ``fn``'s sums run in one order on any mesh.
    """
    mesh = _mesh(None, chains)
    plan = _plan(net, length, burn_in + 1, States(), chains, mesh)
    size = _padded(chains, mesh)
    index = _shard(jnp.arange(size, dtype=jnp.uint32), mesh)
    n = net.weights.shape[-1]

    def begin(key):
        init_key, run_key = jr.split(key)
        return jr.bernoulli(init_key, 0.5, (n,)), stream_key(run_key)

    x, streams = jax.vmap(lambda i: begin(jr.fold_in(key, i)))(index)
    x, streams = _shard((x, streams), mesh)
    x, _ = _run(net, None, streams, x, None, 0, burn_in + 1, plan, None)

    def advance(x, j):
        start = burn_in + 1 + j * block
        x_end, (states, inputs) = _run(
            net, None, streams, x, None, start, block, plan, "inputs"
        )
        x_now = jnp.concatenate([x[:, None], states[:, :-1]], axis=1)
        out = _replicated((x_now, states, inputs), mesh)
        out = jax.tree.map(lambda a: a[:chains], out)
        return x_end, TransitionBlock(*out, jnp.asarray(j, jnp.int32))

    x, b0 = advance(x, jnp.uint32(0))
    carry = fn(first(b0), b0)

    def body(state, j):
        x, carry = state
        x, b = advance(x, j)
        return (x, fn(carry, b)), None

    blocks = jnp.arange(1, length // block, dtype=jnp.uint32)
    (_, carry), _ = jax.lax.scan(body, (x, carry), blocks)
    return carry


def _check_drive(drive, net: BinaryNetwork, plan: _Plan, batch) -> Array | None:
    """``drive`` as an array of the network's dtype, checked against the plan.

    Shape ``(updates, n)``, or ``(size, updates, n)`` too when ``batch = (size,
    name)`` is given.
    """
    if drive is None:
        return None
    drive = as_float_array(drive, "drive", net.weights.dtype)
    updates, n = plan.burn_in + plan.steps, net.num_neurons
    allowed = [(updates, n)] + ([] if batch is None else [(batch[0], updates, n)])
    if drive.shape not in allowed:
        shapes = " or ".join(map(str, allowed))
        who = "" if batch is None else f", {batch[1]} = {batch[0]}"
        raise ValueError(
            f"drive must have shape {shapes} (one row per update: burn_in + steps = "
            f"{plan.burn_in} + {plan.steps}, n = {n}{who}), got {drive.shape}"
        )
    check_finite(drive, "drive")
    return drive


@eqx.filter_jit
def _simulate_one(net, key, x0, drive, plan):
    keys = jr.fold_in(key, 0)[None]  # replica 0
    x0 = None if x0 is None else x0[None]
    return _simulate_replicas(net, None, keys, x0, drive, plan)[0]


@eqx.filter_jit
def _simulate_batch(net, key, x0, drive, batch, plan, mesh):
    size = _padded(batch, mesh)
    index = _shard(jnp.arange(size, dtype=jnp.uint32), mesh)
    keys = jax.vmap(lambda i: jr.fold_in(key, i))(index)
    if x0 is not None:
        x0 = jnp.broadcast_to(x0, (batch, x0.shape[-1]))
        x0 = _shard(_pad(x0, size), mesh)
    if drive is not None and drive.ndim == 3:  # one drive per replica
        drive = _shard(_pad(drive, size), mesh)
    out = _simulate_replicas(net, None, keys, x0, drive, plan, mesh)
    return jax.tree.map(lambda a: a[:batch], _shard(out, mesh))


def _padded(size: int, mesh: Mesh | None) -> int:
    return size if mesh is None else -(-size // mesh.size) * mesh.size


def _pad(x: Array, size: int) -> Array:
    """Pads the leading axis to ``size`` by repeating the first entry."""
    if x.shape[0] == size:
        return x
    return jnp.concatenate([x, jnp.repeat(x[:1], size - x.shape[0], axis=0)])


def _replicated(x, mesh: Mesh | None):
    """Every array of ``x`` gathered onto all devices of ``mesh`` (unchanged without one)."""
    if mesh is None:
        return x
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, sharding), x)


def _shard(x, mesh: Mesh | None):
    """Shards the leading (ensemble) axis of every array in ``x`` over ``mesh``."""
    if mesh is None:
        return x
    sharding = NamedSharding(mesh, PartitionSpec("ensemble"))
    return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, sharding), x)


def _simulate_replicas(net, net_axes, keys, x0, drive, plan: _Plan, mesh=None):
    """The trajectories of the replica keys ``keys`` (B,) (see the module docstring).

    ``net_axes`` says which fields of ``net`` have a leading replica axis (None: none,
    one network for all replicas); ``drive`` is None, ``(updates, n)`` (shared) or
    ``(B, updates, n)``. The time loop runs on the whole batch; per-replica code
    (draws, the recurrent input, the counts) is vmapped inside it. Returns the
    record: an array, or (states, inputs) for the private record "inputs".
    """
    n = net.weights.shape[-1]

    def begin(key, x0):
        init_key, run_key = jr.split(key)
        x = jr.bernoulli(init_key, 0.5, (n,)) if x0 is None else x0
        return x, stream_key(run_key)

    x, streams = jax.vmap(begin, in_axes=(0, None if x0 is None else 0))(keys, x0)
    x, streams = _shard((x, streams), mesh)
    x, _ = _run(net, net_axes, streams, x, drive, 0, plan.burn_in, plan, None)
    _, out = _run(
        net, net_axes, streams, x, drive, plan.burn_in, plan.steps, plan, plan.record
    )
    assert out is not None  # a record was asked for
    return out


def _run(
    net,
    net_axes,
    streams,
    x,
    drive,
    start: int | Array,
    length: int,
    plan: _Plan,
    record,
):
    """Runs ``length`` updates of the states ``x`` (B, n) from update number ``start``.

    Returns the states after them and the ``record`` of the updates, batch-major
    (None: nothing). Everything stays batch-major, so nothing is transposed: the
    thresholds of a chunk are ``(B, chunk, n)``, step t reads ``theta[:, t]`` and
    writes its states to ``states[:, t]``, and a chunk's record is copied into the
    output as one block per replica. A drive d lowers the thresholds of its chunk,
    fire iff x @ W > theta - d, computed with them before the sequential loop.
    """
    if length == 0:
        return x, None
    B, n = x.shape
    chunk = _phase_chunk(length, plan.chunk)
    num_chunks = -(-length // chunk)
    padded = num_chunks * chunk
    masked = padded != length  # the last chunk runs past the end
    within = jnp.arange(chunk, dtype=jnp.uint32)
    if drive is not None:  # this run's rows, padded to whole chunks
        drive = jax.lax.slice_in_dim(drive, start, start + length, axis=-2)
        padding = [(0, 0)] * drive.ndim
        padding[-2] = (0, padded - length)
        drive = jnp.pad(drive, padding)

    def chunk_drive(c):  # (chunk, n) or (B, chunk, n)
        return jax.lax.dynamic_slice_in_dim(drive, c * chunk, chunk, axis=-2)

    def thresholds(stream, net, first):  # one replica's (chunk, n) thresholds
        draws = draw_from_stream(stream, first, (n,), net, num_steps=chunk)
        return firing_threshold(net, *draws)

    batch_thresholds = jax.vmap(thresholds, in_axes=(0, net_axes, None))
    batch_input = jax.vmap(recurrent_input, in_axes=(net_axes, 0))
    batch_counts = jax.vmap(_pair_counts, in_axes=(0, 0, None, None))
    batch_probs = jax.vmap(
        BinaryNetwork.firing_prob,
        in_axes=(net_axes, 0, None if drive is None or drive.ndim == 2 else 0),
    )

    def one_chunk(carry, c):
        x, out = carry
        offset = c * jnp.uint32(chunk) + within  # update numbers within this run
        theta = batch_thresholds(streams, net, jnp.uint32(start) + offset[0])
        d = None if drive is None else chunk_drive(c)
        if d is not None:
            theta = theta - d

        def update(t, carry):
            x, states, inputs = carry
            theta_t = jax.lax.dynamic_index_in_dim(theta, t, 1, keepdims=False)
            u = batch_input(net, x)
            x_next = u > theta_t
            if masked:  # past the end: keep the state
                x_next = jnp.where(offset[t] < length, x_next, x)
            if states is not None:
                states = jax.lax.dynamic_update_index_in_dim(states, x_next, t, 1)
            if inputs is not None:
                inputs = jax.lax.dynamic_update_index_in_dim(inputs, u, t, 1)
            return x_next, states, inputs

        states = None if record is None else jnp.zeros((B, chunk, n), bool)
        inputs = None
        if record == "inputs":
            inputs = jnp.zeros((B, chunk, n), net.weights.dtype)
        x_end, states, inputs = jax.lax.fori_loop(0, chunk, update, (x, states, inputs))
        if record in ("pair_counts", "probabilities"):
            previous = jnp.concatenate([x[:, None], states[:, :-1]], axis=1)
        if record == "pair_counts":
            pair = (offset >= 1) & (offset < length)  # both states recorded
            out = out + batch_counts(previous, states, pair, plan.groups)
        elif record is not None:
            if record == "codes":
                block = state_codes(states, plan.neurons)
            elif record == "probabilities":
                block = batch_probs(net, previous, d)
                if len(plan.neurons) < n:
                    block = block[..., jnp.asarray(plan.neurons)]
            elif record == "inputs":
                block = (states, inputs)
            elif len(plan.neurons) < n:
                block = states[..., jnp.asarray(plan.neurons)]
            else:
                block = states
            out = jax.tree.map(
                lambda o, b: jax.lax.dynamic_update_slice_in_dim(o, b, c * chunk, 1),
                out,
                block,
            )
        return (x_end, out), None

    if record == "pair_counts":
        K, S = len(plan.groups), 1 << max(map(len, plan.groups))
        out = jnp.zeros((B, K, K, S, S), jnp.int32)
    elif record == "codes":
        out = jnp.zeros((B, padded), jnp.uint32)
    elif record == "states":
        out = jnp.zeros((B, padded, len(plan.neurons)), bool)
    elif record == "probabilities":
        out = jnp.zeros((B, padded, len(plan.neurons)), net.weights.dtype)
    elif record == "inputs":
        dtype = net.weights.dtype
        out = (jnp.zeros((B, padded, n), bool), jnp.zeros((B, padded, n), dtype))
    else:
        out = None
    chunks = jnp.arange(num_chunks, dtype=jnp.uint32)
    (x, out), _ = jax.lax.scan(one_chunk, (x, out), chunks)
    if out is not None and record != "pair_counts" and masked:
        out = jax.tree.map(lambda o: o[:, :length], out)
    return x, out


def _pair_counts(previous: Array, current: Array, valid: Array, groups) -> Array:
    """``(K, K, S, S)`` counts of (c_k(previous), c_l(current)) over the valid rows."""
    S = 1 << max(map(len, groups))
    return pair_counts(
        group_codes(previous, groups), group_codes(current, groups), valid, S
    )


def stack_networks(
    nets: Sequence[BinaryNetwork],
) -> tuple[BinaryNetwork, BinaryNetwork]:
    """Stacks same-sized networks along a new leading axis, for ``vmap``.

    Fields that are equal in every network stay unstacked (shared weights make each
    update one matrix product); the weights are stacked when all fields are equal. If
    some networks are noiseless and others not, the noiseless ones get a zero noise
    (their trajectories are bit-identical either way, see :func:`draw_randomness`),
    and all take the largest ``noise_nodes`` among them (their probabilities agree
    with their own rule's to 3e-12 in the log, see :mod:`fluxjax.network`).
    Returns ``(stacked, in_axes)`` where ``in_axes`` is the matching pytree of 0 / None
    for ``eqx.filter_vmap``.

    Examples:
        >>> zeros = jnp.zeros((3, 3))
        >>> nets = [BinaryNetwork(zeros, jnp.full(3, b)) for b in (-1.0, 1.0)]
        >>> stacked, in_axes = stack_networks(nets)
        >>> stacked.biases.shape, in_axes.biases, in_axes.weights
        ((2, 3), 0, None)
    """
    if not nets or not all(isinstance(net, BinaryNetwork) for net in nets):
        raise TypeError("nets must be a non-empty sequence of BinaryNetwork")
    shapes = {jax.tree.map(jnp.shape, net).weights for net in nets}
    if len(shapes) != 1:
        raise ValueError(f"nets must all have the same size, got weights {shapes}")
    if len({net.noise is None for net in nets}) > 1:
        nets = [_with_zero_noise(net) for net in nets]
    columns = list(zip(*(jax.tree.leaves(net) for net in nets), strict=True))
    leaves, axes = [], []
    for column, same in zip(columns, _equal_columns(columns), strict=True):
        first = column[0]
        if not same:  # a scalar temperature or noise beside per-neuron ones
            shape = max((leaf.shape for leaf in column), key=len)
            column = [jnp.broadcast_to(leaf, shape) for leaf in column]
        leaves.append(first if same else jnp.stack(column))
        axes.append(None if same else 0)
    if all(axis is None for axis in axes):  # identical networks: vmap needs one axis
        leaves[0], axes[0] = jnp.stack([jax.tree.leaves(net)[0] for net in nets]), 0
    # the stack integrates the noise with the most nodes any of them has
    widest = max(nets, key=lambda net: net.noise_nodes or 0)
    treedef = jax.tree.structure(widest)
    return jax.tree.unflatten(treedef, leaves), jax.tree.unflatten(treedef, axes)


def _equal_columns(columns: list[tuple[Array, ...]]) -> list[bool]:
    """Per column of leaves, whether all are equal: one device call, one host read."""
    shaped = [len({leaf.shape for leaf in column}) == 1 for column in columns]
    flags = jnp.stack(
        [
            jnp.all(jnp.stack(column) == column[0]) if same else jnp.bool_(False)
            for column, same in zip(columns, shaped, strict=True)
        ]
    )
    return np.asarray(flags).tolist()


def _with_zero_noise(net: BinaryNetwork) -> BinaryNetwork:
    """``net`` with a zero noise array in place of None (bypassing the constructor)."""
    if net.noise is not None:
        return net
    zero = jnp.zeros((), net.weights.dtype)
    return eqx.tree_at(lambda n: n.noise, net, zero, is_leaf=lambda x: x is None)


def simulate_ensemble(
    nets: Sequence[BinaryNetwork],
    key: PRNGKeyArray | Key[Array, " B"],
    steps: int,
    *,
    burn_in: int = 0,
    record: Record = States(),
    drive: Float[ArrayLike, "*networks updates n"] | None = None,
    devices=None,
) -> (
    Bool[Array, "B steps m"]
    | UInt32[Array, "B steps"]
    | Int32[Array, "B K K S S"]
    | Float[Array, "B steps m"]
):
    """Simulates several networks of the same size in one compiled, vmapped call.

    Network k's result equals ``simulate(nets[k], fold_in(key, k), steps, ...)`` bit
    for bit (or ``simulate(nets[k], key[k], ...)`` when ``key`` holds one key per
    network), so results do not depend on how an ensemble is grouped. With several
    devices the networks are sharded over them (a 1-D ``Mesh`` over the ensemble axis);
    the results do not depend on the number of devices either.

    Args:
        nets: networks with the same number of neurons (e.g. one per seed or
            condition).
        key: one PRNG key, or an array of ``len(nets)`` keys.
        steps: recorded steps.
        burn_in: discarded updates.
        record: what to return, a :data:`Record` (see :func:`simulate`).
        drive: the external input field of every update (see :func:`simulate`):
            ``(burn_in + steps, n)`` for all networks, or ``(len(nets), burn_in +
            steps, n)`` one per network.
        devices: devices to shard the ensemble over (default: the device of a
            ``jax.default_device`` context, else all of ``jax.devices()``).

    Returns:
        The record of each network, with a leading ``len(nets)`` axis.

    Examples:
        >>> zeros = jnp.zeros((3, 3))
        >>> nets = [BinaryNetwork(zeros, jnp.full(3, b)) for b in (-1.0, 1.0)]
        >>> simulate_ensemble(nets, jax.random.key(0), 100).shape
        (2, 100, 3)
    """
    stacked, in_axes = stack_networks(nets)
    size = len(nets)
    dtype = getattr(key, "dtype", None)
    if (
        dtype is not None
        and jnp.issubdtype(dtype, jax.dtypes.prng_key)
        and jnp.ndim(key) == 1
    ):
        if jnp.shape(key) != (size,):
            raise TypeError(
                f"key must be one key or {size} keys (one per network), got "
                f"shape {jnp.shape(key)}"
            )
        keys = key
    else:
        check_key(key)
        keys = jax.vmap(lambda k: jr.fold_in(key, k))(jnp.arange(size))
    mesh = _mesh(devices, size)
    group = min(size, _ensemble_group(in_axes, mesh, devices))
    plan = _plan(nets[0], steps, burn_in, record, group, mesh)
    drive = _check_drive(drive, nets[0], plan, (size, "len(nets)"))
    return _simulate_ensemble(stacked, in_axes, keys, drive, size, group, plan, mesh)


CPU_NETWORKS_PER_DEVICE = 16
"""On CPU, an ensemble of networks with different weights runs in calls of at most
this many networks per device: each update is then one matrix-vector product per
network, and with more networks their weights fall out of the cache (measured in
benchmarks/README.md). Results
do not depend on it (network k always uses its own key)."""


def _ensemble_group(in_axes: BinaryNetwork, mesh: Mesh | None, devices) -> int:
    """How many networks one compiled call simulates (see CPU_NETWORKS_PER_DEVICE)."""
    if in_axes.weights is None or any(d.platform != "cpu" for d in _devices(devices)):
        return sys.maxsize  # shared weights (a matrix product), or an accelerator
    return CPU_NETWORKS_PER_DEVICE * (1 if mesh is None else mesh.size)


@eqx.filter_jit
def _simulate_ensemble(stacked, in_axes, keys, drive, size, group, plan, mesh):
    """The ensemble in groups of ``group`` networks, one after the other (``lax.map``)."""
    count = -(-size // group)
    padded = count * _padded(group, mesh)
    leaves, treedef = jax.tree.flatten(stacked)
    axes = treedef.flatten_up_to(in_axes)

    def grouped(x):  # (size, ...) -> (count, group, ...)
        return _pad(x, padded).reshape(count, -1, *x.shape[1:])

    varying = [
        None if a is None else grouped(x) for x, a in zip(leaves, axes, strict=True)
    ]
    keys = jax.vmap(lambda k: jr.fold_in(k, 0))(keys)  # as simulate(nets[k], key[k])
    shared_drive = drive if drive is None or drive.ndim == 2 else None
    drives = None if shared_drive is not None or drive is None else grouped(drive)

    def one_group(part):
        part_leaves, part_keys, part_drive = part
        net = jax.tree.unflatten(
            treedef,
            [
                x if p is None else _shard(p, mesh)
                for x, p in zip(leaves, part_leaves, strict=True)
            ],
        )
        part_drive = shared_drive if part_drive is None else _shard(part_drive, mesh)
        out = _simulate_replicas(
            net, in_axes, _shard(part_keys, mesh), None, part_drive, plan, mesh
        )
        return _shard(out, mesh)

    if count == 1:  # one group: no loop
        first = [None if v is None else v[0] for v in varying]
        out = one_group(
            (first, grouped(keys)[0], None if drives is None else drives[0])
        )
    else:
        out = jax.lax.map(one_group, (varying, grouped(keys), drives))
        out = out.reshape(padded, *out.shape[2:])
    return out[:size]
