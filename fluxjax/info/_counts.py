"""The counting stage of the plug-in and NSB estimators: distinct rows of a trajectory.

:mod:`.plugin` and :mod:`.nsb` both count with these functions.

Rows are bool states packed into 32-bit words, or integer codes. Distinct rows are
counted by sorting (O(T log T) whatever n is), or in a table of the 2^bits symbols when
the states are known to have at most ``TABLE_BITS`` bits and the table is not much
longer than the sample (a scatter-add, faster; the same counts).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import is_concrete
from .._codes import codes_of


def _as_words(trajectory: ArrayLike) -> Array:
    """Packs a trajectory into ``(..., T, words)`` uint32 symbols, one row per sample."""
    trajectory = jnp.asarray(trajectory)
    if jnp.issubdtype(trajectory.dtype, jnp.bool_):
        n = trajectory.shape[-1]
        words = [range(w, min(w + 32, n)) for w in range(0, n, 32)]
        return jnp.stack([codes_of(trajectory, word) for word in words], axis=-1)
    if jnp.issubdtype(trajectory.dtype, jnp.integer):
        return trajectory[..., None]
    raise TypeError(
        "states must be bool states (..., T, n) or integer state codes (..., T), "
        f"got dtype {trajectory.dtype}"
    )


TABLE_BITS = 12
"""States of at most this many bits may be counted in a table (the pair table of a
flux has 2^(2 bits) = 16.8 M entries, 64 MB), wider ones by sorting."""


TABLE_LOAD = 16
"""A table of S symbols counts T rows only if S <= TABLE_LOAD * T. Filling and
summing a table costs O(S + T), sorting O(T log T): on a 2-core Xeon a table took
about 2 ns per entry (2^20 entries; 8 ns at 2^24, out of cache) and sorting about
100 ns per row, so the table is the faster one up to S ~ 15-50 T (see
benchmarks/README.md). A table much longer than the sample (a 2^24-entry pair table
for 500 steps) is waste of both time and memory."""


_CODE_TABLE_BITS = (6, TABLE_BITS)
"""Table widths for integer codes: a code array is counted in the smallest that holds
it, so varying code ranges compile at most twice (not once per bit width)."""


def _symbol_bits(states: Array, words: Array) -> int | None:
    """Bits of the symbols' table when known to be at most ``TABLE_BITS``, else None.

    Bool states: n. Concrete integer codes: the smallest of ``_CODE_TABLE_BITS`` that
    holds their range (one host read of their minimum and maximum).
    """
    if jnp.issubdtype(states.dtype, jnp.bool_):
        return states.shape[-1] if states.shape[-1] <= TABLE_BITS else None
    if not is_concrete(words) or words.size == 0:
        return None
    low, high = (int(v) for v in np.asarray(_range(words)))
    if low < 0:
        return None
    return next((b for b in _CODE_TABLE_BITS if high < 1 << b), None)


@jax.jit
def _range(words: Array) -> Array:
    return jnp.stack([jnp.min(words), jnp.max(words)])


def _row_counts(words: Array, bits: int | None = None) -> Array:
    """How often each distinct row of ``words`` (T, w) occurs, int32.

    From a table of the 2^bits symbols when ``bits`` is given (then w = 1) and the
    table pays (2^bits <= ``TABLE_LOAD`` T), else from the runs of equal rows after
    sorting (then the counts are padded with zeros to length T). Either way the
    non-zero entries are the counts of the distinct rows in increasing order of the
    rows (codes).
    """
    T = words.shape[0]
    if bits is not None and (1 << bits) <= TABLE_LOAD * T:
        return jnp.bincount(words[:, 0].astype(jnp.int32), length=1 << bits)
    columns = jax.lax.sort(tuple(words.T), num_keys=words.shape[1])
    new_run = jnp.zeros(T, bool).at[0].set(True)
    for column in columns:
        new_run = new_run.at[1:].set(new_run[1:] | (column[1:] != column[:-1]))
    run = jnp.cumsum(new_run) - 1
    return jax.ops.segment_sum(jnp.ones(T, jnp.int32), run, T)


def _joint_rows(past: Array, future: Array, bits: int | None) -> Array:
    """The rows of the pairs (past, future).

    One code of 2 bits when ``bits`` is given (past << bits | future, below 2^24),
    else the words side by side.
    """
    if bits is None:
        return jnp.concatenate([past, future], 1)
    joint = past.astype(jnp.uint32) << bits | future.astype(jnp.uint32)
    return joint


def _check_length(words: Array, minimum: int) -> None:
    if words.shape[-2] < minimum:
        raise ValueError(
            f"states must hold at least {minimum} time steps, got {words.shape[-2]}"
        )
