"""Typed results of the study's experiments.

Every experiment returns a NamedTuple of plain numbers, lists, nested NamedTuples and
``dict[str, ...]`` of them. :func:`fluxjax.io.to_json` turns one into the JSON object
written to ``results.json`` (field names become keys, so the file keeps its documented
layout); :func:`fluxjax.io.from_json` rebuilds it from the type annotations.
"""

from typing import NamedTuple


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
