"""Argument validation shared by the public functions (clear errors, never NaN)."""

import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


ArrayOrSequence = ArrayLike | Sequence
"""What the constructors accept: an array, a scalar or a (nested) sequence of numbers."""


def is_concrete(x) -> bool:
    """Whether ``x`` holds values (not a tracer inside jit, grad or vmap)."""
    return not isinstance(x, jax.core.Tracer)


def as_float_array(value, name: str, dtype=None, *, booleans: bool = False) -> Array:
    """Converts ``value`` to a floating array, rejecting non-numeric input.

    With ``dtype=None`` a floating input keeps its dtype (float64 becomes float32 when
    x64 is off) and an integer input gets JAX's default float. Booleans are rejected
    (a network's parameters are numbers) unless ``booleans`` (data such as binary
    states, which become 0.0 and 1.0).
    """
    is_bool = isinstance(value, (bool, np.bool_)) or (
        hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.bool_)
    )
    if is_bool and not booleans:
        raise TypeError(f"{name} must be a real number or array, got booleans")
    if _is_key(value):
        raise TypeError(f"{name} must be a real number or array, got a PRNG key")
    try:
        array = jnp.asarray(value)
    except (TypeError, ValueError) as error:  # strings, objects, ragged lists
        raise TypeError(f"{name} must be a real number or array: {error}") from None
    if not (
        jnp.issubdtype(array.dtype, jnp.floating)
        or jnp.issubdtype(array.dtype, jnp.integer)
        or (booleans and jnp.issubdtype(array.dtype, jnp.bool_))
    ):
        raise TypeError(f"{name} must be real-valued, got dtype {array.dtype}")
    if dtype is None:
        floating = jnp.issubdtype(array.dtype, jnp.floating)
        dtype = array.dtype if floating else jnp.asarray(0.0).dtype
    return array.astype(dtype)


def default_float_dtype(dtype):
    """JAX's default float dtype (float64 only when x64 is on) unless given."""
    if dtype is None:
        return jnp.asarray(0.0).dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return jnp.dtype(dtype)


def available_bytes() -> int:
    """The memory of the default device in bytes.

    Its allocator's limit on an accelerator, the host's physical memory on a CPU.
    """
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_finite(array: Array, name: str, *, positive=False, nonnegative=False):
    if not is_concrete(array):
        return
    values = np.asarray(array)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if positive and not np.all(values > 0):
        raise ValueError(f"{name} must be > 0, got minimum {values.min()}")
    if nonnegative and not np.all(values >= 0):
        raise ValueError(f"{name} must be >= 0, got minimum {values.min()}")


def check_key(key, name: str = "key") -> None:
    """Raises TypeError unless ``key`` is a JAX PRNG key (typed or legacy uint32[2])."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.ndim(key) == 0:
            return
    elif dtype == jnp.uint32 and jnp.shape(key) == (2,):
        return
    raise TypeError(
        f"{name} must be a single JAX PRNG key, e.g. jax.random.key(0); got "
        f"{type(key).__name__} with dtype {dtype} and shape {jnp.shape(key)}"
    )


def check_int(value, name: str, *, minimum: int) -> int:
    """Returns ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_choice(value, name: str, choices: tuple) -> None:
    """Raises ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _is_key(value) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def check_neurons(neurons, num_neurons: int, name: str = "neurons") -> tuple[int, ...]:
    """Returns a subset of neuron indices as a tuple of distinct ints in [0, n)."""
    if neurons is None:
        return tuple(range(num_neurons))
    try:
        indices = None if _is_key(neurons) else np.asarray(neurons)
    except (TypeError, ValueError):  # ragged lists, objects that are no arrays
        indices = None
    if (
        indices is None
        or indices.ndim != 1
        or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer))
        or np.issubdtype(indices.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a 1-D sequence of integer indices")
    if indices.size == 0:
        raise ValueError(f"{name} must name at least one neuron")
    if indices.min() < 0 or indices.max() >= num_neurons:
        raise ValueError(
            f"{name} must lie in [0, {num_neurons - 1}], got "
            f"[{indices.min()}, {indices.max()}]"
        )
    if len(set(indices.tolist())) != indices.size:
        raise ValueError(f"{name} must not repeat a neuron")
    return tuple(int(i) for i in indices)


def check_groups(groups, num_neurons: int, name: str) -> list[tuple[int, ...]]:
    """Returns groups of neuron indices (e.g. triplets), each as :func:`check_neurons`."""
    try:
        listed = None if isinstance(groups, str) or _is_key(groups) else list(groups)
    except TypeError:  # not iterable
        listed = None
    if listed is None:
        raise TypeError(
            f"{name} must be a sequence of groups of neuron indices, e.g. "
            f"[(0, 1, 2), (3, 4, 5)]; got {type(groups).__name__}"
        )
    return [check_neurons(g, num_neurons, name) for g in listed]


def as_states(states, name: str = "states") -> Array:
    """``states`` as an array of binary states ``(..., n)`` (bool, integer or float)."""
    try:
        array = None if _is_key(states) else jnp.asarray(states)
    except (TypeError, ValueError):  # strings, objects, ragged lists
        array = None
    if (
        array is None
        or array.ndim < 1
        or not (
            jnp.issubdtype(array.dtype, jnp.bool_)
            or jnp.issubdtype(array.dtype, jnp.integer)
            or jnp.issubdtype(array.dtype, jnp.floating)
        )
    ):
        raise TypeError(f"{name} must be an array of binary states (..., n)")
    if array.shape[-1] < 1:
        raise ValueError(
            f"{name} must hold at least one neuron, got shape {array.shape}"
        )
    return array
