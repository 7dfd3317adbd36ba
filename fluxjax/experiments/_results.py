"""Typed results of the study's experiments, and their JSON form.

Every experiment returns a NamedTuple of plain numbers, lists, nested NamedTuples and
``dict[str, ...]`` of them. :func:`to_json` turns one into the JSON object written to
``results.json`` (field names become keys, so the file keeps its documented layout);
:func:`from_json` rebuilds it from the type annotations, checking the layout on the
way (a missing key or a wrong kind raises ``ValueError``).
"""

import types
import typing
from typing import Any, NamedTuple


class Summary(NamedTuple):
    """Mean, SD (ddof = 1; 0 for one value) and count of per-seed values."""

    mean: float
    sd: float
    n: int


class IndicatorSummary(NamedTuple):
    """The flux indicator's entry: intra and inter, each summarised over seeds (bits)."""

    intra: Summary
    inter: Summary

    @property
    def total(self) -> float:
        """Mean intra + mean inter, in bits."""
        return self.intra.mean + self.inter.mean


def _is_namedtuple(kind) -> bool:
    return (
        isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")
    )


def to_json(value: Any) -> Any:
    """The JSON-ready form of a typed result (NamedTuples become objects)."""
    if _is_namedtuple(type(value)):
        return {name: to_json(getattr(value, name)) for name in value._fields}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return value


def from_json(kind: Any, data: Any, where: str = "result") -> Any:
    """Rebuilds a value of type ``kind`` from its JSON form (see :func:`to_json`)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if _is_namedtuple(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object, got {type(data).__name__}")
        hints = typing.get_type_hints(kind)
        missing = [name for name in kind._fields if name not in data]
        if missing:
            raise ValueError(f"{where} lacks {missing}")
        return kind(
            **{
                name: from_json(hints[name], data[name], f"{where}.{name}")
                for name in kind._fields
            }
        )
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
    if origin is list:
        if not isinstance(data, list):
            raise ValueError(f"{where} must be a list, got {type(data).__name__}")
        return [from_json(args[0], v, f"{where}[{i}]") for i, v in enumerate(data)]
    if kind in (float, int) and not isinstance(data, (int, float)):
        raise ValueError(f"{where} must be a number, got {data!r}")
    if kind is float:
        return float(data)
    return data
