"""Saving networks and results: ``save``/``load`` and the JSON form of results.

A network is saved as a NumPy ``.npz`` archive: its arrays as they are (bit for bit,
dtype kept), ``noise`` absent for a noiseless network, and a JSON header with the
format, the fluxjax version and the noise integral's node count. Results (typed
NamedTuples such as :class:`fluxjax.Estimate` and :class:`fluxjax.History`, and
dataclasses such as :class:`fluxjax.FluxResult`) have a JSON form:
``json.dumps(to_json(result))`` and ``from_json(type(result), json.loads(text))``.

Why not ``eqx.tree_serialise_leaves``: it stores leaves only and reads them into a
template network, so a template without noise silently drops a saved noise, and one
with noise cannot take a noiseless file. :func:`load` needs no template.
"""

import dataclasses
import enum
import importlib.metadata
import json
import os
import types
import typing
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .network import BinaryNetwork, check_dense_size, check_network


FORMAT = "fluxjax.BinaryNetwork"
"""The ``format`` entry of a saved network's header."""


def save(path: str | os.PathLike, net: BinaryNetwork) -> None:
    """Writes ``net`` to ``path`` (a ``.npz`` archive; the suffix is added if absent).

    Args:
        path: the file.
        net: a network with concrete fields.

    Raises:
        TypeError: ``net`` is not a BinaryNetwork.
        ValueError: a non-finite network.

    Examples:
        >>> import tempfile, pathlib
        >>> net = BinaryNetwork(jnp.eye(3), jnp.zeros(3), noise=0.5)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.npz"
        >>> save(path, net)
        >>> back = load(path)
        >>> bool(jnp.array_equal(back.noise, net.noise)), back.noise_nodes
        (True, 33)
    """
    check_network(net)
    header = {
        "format": FORMAT,
        "fluxjax_version": importlib.metadata.version("fluxjax"),
        "noise_nodes": net.noise_nodes,
    }
    arrays = {
        name: np.asarray(getattr(net, name))
        for name in ("weights", "biases", "temperature", "noise")
        if getattr(net, name) is not None
    }
    with open(path if str(path).endswith(".npz") else f"{path}.npz", "wb") as file:
        np.savez(file, header=np.array(json.dumps(header)), **arrays)


def load(path: str | os.PathLike) -> BinaryNetwork:
    """Reads a network written by :func:`save`, bit for bit.

    Raises:
        ValueError: the file is not a saved network, or holds float64 arrays while
            JAX's x64 mode is off (they would be rounded: enable it with
            ``jax.config.update("jax_enable_x64", True)``).
        OSError: the file cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            fields = {name: archive[name] for name in archive.files if name != "header"}
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        # TypeError / AttributeError: a .npy (an array, not an archive)
        raise ValueError(f"{path} is not a saved fluxjax network: {error}") from None
    needed = {"weights", "biases", "temperature"}
    if header.get("format") != FORMAT or not needed <= set(fields):
        raise ValueError(f"{path} is not a saved fluxjax network (format {header})")
    dtype = fields["weights"].dtype
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            f"{path} holds a float64 network; enable x64 to load it unrounded "
            '(jax.config.update("jax_enable_x64", True) before any array exists)'
        )
    return BinaryNetwork(
        fields["weights"],
        fields["biases"],
        fields["temperature"],
        fields.get("noise"),
        noise_nodes=header.get("noise_nodes"),
    )


class Orientation(enum.Enum):
    """How a weight file's rows and columns map to neurons.

    fluxjax uses ``PRE_POST``: ``weights[j, i]`` is the synapse from neuron j to
    neuron i (rows presynaptic), so states update as ``x @ weights``. Many
    connectomes and rate models store ``POST_PRE`` (``W[i, j]`` from j to i,
    updating as ``W @ x``); those are transposed on reading.
    """

    PRE_POST = "pre-post"
    POST_PRE = "post-pre"


WEIGHT_FORMATS = (".npy", ".npz", ".csv", ".txt", ".mtx")
"""The suffixes :func:`read_weights` reads."""


def read_weights(path: str | os.PathLike, orientation: Orientation):
    """A square weight matrix from a file, in fluxjax's orientation (rows presynaptic).

    Reads ``.npy``; ``.npz`` (its one array, or the one named ``weights``); ``.csv``
    (comma-separated) and ``.txt`` (whitespace-separated) numbers; ``.mtx`` (Matrix
    Market, sparse: returned as a ``scipy.sparse`` matrix, which
    :class:`BinaryNetwork` stores dense).

    Args:
        path: the file.
        orientation: the file's orientation; ``Orientation.POST_PRE`` is transposed.

    Raises:
        ValueError: an unknown suffix, an unreadable or non-square matrix, or
            non-numeric entries.
        TypeError: ``orientation`` is not an :class:`Orientation`.
        OSError: the file cannot be opened.
    """
    if not isinstance(orientation, Orientation):
        raise TypeError(
            f"orientation must be an Orientation (PRE_POST or POST_PRE), got "
            f"{orientation!r}"
        )
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in WEIGHT_FORMATS:
        raise ValueError(
            f"{path}: unknown weight format {suffix!r}; use one of {WEIGHT_FORMATS}"
        )
    try:
        weights = _read_matrix(path, suffix)
    except (ValueError, EOFError, KeyError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable {suffix} matrix ({error})") from None
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(
            f"{path}: the weights must be a square matrix, got shape {weights.shape}"
        )
    return weights.T if orientation is Orientation.POST_PRE else weights


def read_biases(path: str | os.PathLike):
    """A vector of numbers (one per neuron) from a file, as a 1-D array.

    Reads ``.npy``, ``.npz``, ``.csv`` and ``.txt``.

    Raises:
        ValueError: an unknown suffix or an unreadable file.
        OSError: the file cannot be opened.
    """
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in WEIGHT_FORMATS or suffix == ".mtx":
        raise ValueError(
            f"{path}: unknown format {suffix!r}; use .npy, .npz, .csv or .txt"
        )
    try:
        return np.ravel(_read_matrix(path, suffix))
    except (ValueError, EOFError, KeyError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable {suffix} array ({error})") from None


def _read_matrix(path, suffix: str):
    if suffix == ".mtx":
        import scipy.io
        import scipy.sparse

        rows, columns, *_ = scipy.io.mminfo(path)  # the header: before reading
        check_dense_size(rows, columns, "its header says it")
        matrix = scipy.io.mmread(path)
        return (
            scipy.sparse.csr_matrix(matrix) if scipy.sparse.issparse(matrix) else matrix
        )
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
            if "weights" in names:
                return archive["weights"]
            if len(names) != 1:
                raise ValueError(f"it holds {names}: name the matrix 'weights'")
            return archive[names[0]]
    delimiter = "," if suffix == ".csv" else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns on an empty file
        try:
            return np.loadtxt(path, delimiter=delimiter, ndmin=2)
        except UserWarning:
            raise ValueError("the file is empty") from None


def to_json(value: Any) -> Any:
    """The JSON-ready form of a typed result, for ``json.dumps``.

    NamedTuples and dataclasses become objects, arrays lists, enums their values.
    """
    if _is_namedtuple(type(value)):
        return {name: to_json(getattr(value, name)) for name in value._fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist"):  # numpy and jax scalars and arrays
        return value.tolist()
    return value


def from_json(kind: Any, data: Any, where: str = "result") -> Any:
    """Rebuilds a value of type ``kind`` from its :func:`to_json` form.

    The layout is checked against ``kind``'s annotations on the way (a missing key
    or a wrong kind raises ``ValueError`` naming where); fields annotated as JAX
    arrays come back as arrays.

    Examples:
        >>> from fluxjax import Estimate
        >>> estimate = Estimate(jnp.float32(1.5), jnp.float32(0.25))
        >>> from_json(Estimate, json.loads(json.dumps(to_json(estimate))))
        Estimate(value=Array(1.5, dtype=float32), stderr=Array(0.25, dtype=float32))
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if _is_namedtuple(kind) or (
        isinstance(kind, type) and dataclasses.is_dataclass(kind)
    ):
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object, got {type(data).__name__}")
        hints = typing.get_type_hints(kind)
        names = (
            kind._fields
            if _is_namedtuple(kind)
            else [f.name for f in dataclasses.fields(kind)]
        )
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"{where} lacks {missing}")
        return kind(
            **{
                name: from_json(hints[name], data[name], f"{where}.{name}")
                for name in names
            }
        )
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise ValueError(
                f"{where} must be one of {[m.value for m in kind]}"
            ) from None
    if _is_array_type(kind):
        return jnp.asarray(np.asarray(data))
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return from_json(inner[0], data, where)
        return data  # a union of plain kinds, e.g. float | str
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object, got {type(data).__name__}")
        return {k: from_json(args[1], v, f"{where}[{k!r}]") for k, v in data.items()}
    if origin in (list, tuple):
        if not isinstance(data, list):
            raise ValueError(f"{where} must be a list, got {type(data).__name__}")
        inner = args[:1] if origin is list or args[-1:] == (...,) else args
        if origin is tuple and len(inner) > 1:
            if len(inner) != len(data):
                raise ValueError(f"{where} must have {len(inner)} entries")
            return tuple(
                from_json(k, v, f"{where}[{i}]")
                for i, (k, v) in enumerate(zip(inner, data, strict=True))
            )
        items = [from_json(inner[0], v, f"{where}[{i}]") for i, v in enumerate(data)]
        return items if origin is list else tuple(items)
    if kind in (float, int) and not isinstance(data, (int, float)):
        raise ValueError(f"{where} must be a number, got {data!r}")
    if kind is float:
        return float(data)
    return data


def _is_namedtuple(kind) -> bool:
    return (
        isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")
    )


def _is_array_type(kind) -> bool:
    """Whether ``kind`` is a jaxtyping annotation of an array (``Float[Array, ...]``)."""
    return isinstance(kind, type) and getattr(kind, "array_type", None) is not None
