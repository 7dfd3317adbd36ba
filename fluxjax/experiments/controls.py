"""The referee's controls: sensitivity sweeps and randomised networks.

Does the embedding effect (embedded / isolated flux indicator) survive other core
densities d_s and temperatures t0, and does it need the core's rich-club structure?
Randomised controls keep the weights but destroy the structure: all excitatory
weights placed at random, or a degree-preserving rewiring; the "core" analysed is
then neurons 0-9 of the shuffled network.
"""

from typing import NamedTuple

import jax
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

import fluxjax as fj

from ._common import (
    StudyConfig,
    flux_indicator,
    fold_change,
    indicator_summary,
)
from ._results import IndicatorSummary, Summary


class ControlEntry(NamedTuple):
    """One sweep value (``kind`` = "core_density" or "t0") or randomised control."""

    kind: str
    value: float | str
    embedded: IndicatorSummary
    isolated: IndicatorSummary
    fold_change: Summary


class ControlsResult(NamedTuple):
    """The embedding effect under other settings and in randomised networks."""

    entries: list[ControlEntry]


def run(config: StudyConfig) -> ControlsResult:
    """Embedded vs isolated indicator per sweep value, and the randomised controls."""
    settings = [("core_density", d) for d in config.core_densities]
    settings += [("t0", t) for t in config.temperatures]
    networks = {s: config.networks(**{s[0]: s[1]}) for s in settings}
    intact = config.networks()
    networks[("control", "shuffled weights")] = [
        (fj.shuffle_core_structure(net, groups, seed), groups)
        for seed, (net, groups) in zip(config.seeds, intact, strict=True)
    ]
    networks[("control", "degree-preserving shuffle")] = [
        (fj.degree_preserving_shuffle(net, groups, seed), groups)
        for seed, (net, groups) in zip(config.seeds, intact, strict=True)
    ]
    names = list(networks)
    embedded = [net for name in names for net, _ in networks[name]]
    isolated = [fj.isolated_core(net, g) for name in names for net, g in networks[name]]
    key = config.key("controls")
    shape = (len(names), config.num_seeds)
    emb = [v.reshape(shape) for v in flux_indicator(embedded, key, config)]
    iso = [
        v.reshape(shape)
        for v in flux_indicator(isolated, jax.random.fold_in(key, 1), config)
    ]
    entries = []
    for k, (kind, value) in enumerate(names):
        entries.append(
            ControlEntry(
                kind=kind,
                value=value,
                embedded=indicator_summary(emb[0][k], emb[1][k]),
                isolated=indicator_summary(iso[0][k], iso[1][k]),
                fold_change=fold_change(emb[0][k] + emb[1][k], iso[0][k] + iso[1][k]),
            )
        )
    return ControlsResult(entries)


def label(entry: ControlEntry) -> str:
    """The row label of an entry: "t0 = 2.5", or the control's name."""
    return (
        str(entry.value) if entry.kind == "control" else f"{entry.kind} = {entry.value}"
    )


def plot(result: ControlsResult) -> Figure:
    """Fold change embedded / isolated for every sweep value and control."""
    entries = result.entries
    labels = [label(e) for e in entries]
    mean = [e.fold_change.mean for e in entries]
    sd = [e.fold_change.sd for e in entries]
    colors = ["C2" if e.kind == "control" else "C0" for e in entries]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(entries) + 1.2))
    ax.barh(range(len(entries)), mean, xerr=sd, color=colors)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_yticks(range(len(entries)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(
        xlabel="fold change of the flux indicator, embedded / isolated",
        title="sensitivity and randomised controls",
    )
    fig.tight_layout()
    return fig
