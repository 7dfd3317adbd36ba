"""Isolated vs embedded core, and what the embedding feeds the core (claims 1 and 2).

The embedded core is the full 125-neuron network with sigma = 0, analysed on the core's
10 neurons only; the isolated core is W[core, core] alone with the same dynamics. The
*embedding signal* of core neuron i is U_i(t) = sum_{m not in core} s_m(t) W[m, i]: its
mean mu_i is the effective bias and its SD sigma_i the fluctuation size (Metzner et al.
2026, Fig. 5).
"""

from typing import NamedTuple

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

import fluxjax as fj

from ._common import (
    TRIPLETS,
    StudyConfig,
    exact_indicator,
    fold_change,
    indicator_summary,
    record_core,
    summary,
)
from ._results import IndicatorSummary, Summary


def embedding_signal(states: np.ndarray, weights: np.ndarray, core, rest) -> np.ndarray:
    """U_i(t) = sum_{m in rest} s_m(t) W[m, i] for the core neurons i: ``(..., T, core)``.

    In the dtype of ``weights`` (float32 unless the network is float64).
    """
    return states[..., rest].astype(weights.dtype) @ weights[np.ix_(rest, core)]


def _lag_correlations(signal: np.ndarray) -> tuple[float, float]:
    """Lag-0 and lag-1 correlations of one ``(T, k)`` embedding signal.

    Returns the mean off-diagonal lag-0 Pearson correlation between the U_i and the
    mean lag-1 autocorrelation of each U_i.
    """
    lag0 = np.corrcoef(signal.T)
    off = lag0[~np.eye(len(lag0), dtype=bool)]
    lag1 = [
        np.corrcoef(signal[:-1, i], signal[1:, i])[0, 1] for i in range(signal.shape[1])
    ]
    return float(np.nanmean(off)), float(np.nanmean(lag1))


def _quartiles(signal: np.ndarray) -> np.ndarray:
    """Codes 0..3 of each column's quartile bin (the coarse-grained embedding signal)."""
    edges = np.quantile(signal, [0.25, 0.5, 0.75], axis=0)
    return np.stack(
        [
            np.searchsorted(edges[:, i], signal[:, i], side="right")
            for i in range(signal.shape[1])
        ],
        axis=1,
    ).astype(np.uint32)


class PerSeedIndicator(NamedTuple):
    """The sampled indicator of each seed (bits)."""

    embedded_intra: list[float]
    embedded_inter: list[float]
    isolated_intra: list[float]
    isolated_inter: list[float]


class FullFlux(NamedTuple):
    """The core's full 10-neuron flux I(x_t; x_t+1), estimated and exact (bits)."""

    embedded_miller_madow: Summary
    embedded_stderr: Summary
    embedded_extrapolated: Summary
    isolated_miller_madow: Summary
    isolated_extrapolated: Summary
    isolated_exact: Summary


class StateEntropy(NamedTuple):
    """The core's state entropy H(x_t) (bits)."""

    embedded: Summary
    isolated_exact: Summary


class FiringRates(NamedTuple):
    """Mean firing rates: per population of the embedded network, and the isolated core."""

    embedded: dict[str, Summary]
    isolated_core: Summary


class Signal(NamedTuple):
    """The embedding signal U_i: per-seed means mu and SDs sigma, and its correlations."""

    mu: list[list[float]]
    sigma: list[list[float]]
    mu_summary: Summary
    sigma_summary: Summary
    lag0_correlation: Summary
    lag1_autocorrelation: Summary


class Raster(NamedTuple):
    """The first 150 states of seed 0: the whole embedded network, the isolated core."""

    embedded: list[list[int]]
    isolated: list[list[int]]


class EmbeddingResult(NamedTuple):
    """Isolated against embedded cores (claims 1 and 2), and the embedding signal."""

    seeds: list[int]
    embedded: IndicatorSummary
    isolated: IndicatorSummary
    isolated_exact: IndicatorSummary
    fold_change: Summary
    per_seed: PerSeedIndicator
    full_flux: FullFlux
    state_entropy: StateEntropy
    transfer_entropy_into_core: Summary
    firing_rates: FiringRates
    signal: Signal
    raster: Raster


def run(config: StudyConfig) -> EmbeddingResult:
    """Flux of isolated vs embedded cores, firing rates, and the embedding signal."""
    networks = config.networks()
    nets = [net for net, _ in networks]
    groups = networks[0][1]
    core = list(groups["core"])
    rest = [i for i in range(nets[0].num_neurons) if i not in core]
    cores = [fj.isolated_core(net, g) for net, g in networks]
    key = config.key("embedding")

    embedded = record_core(nets, jax.random.fold_in(key, 0), config, core)
    isolated = record_core(cores, jax.random.fold_in(key, 1), config)
    emb_intra, emb_inter = map(np.asarray, fj.plugin_triplet_flux(embedded, TRIPLETS))
    iso_intra, iso_inter = map(np.asarray, fj.plugin_triplet_flux(isolated, TRIPLETS))
    ex_intra, ex_inter = exact_indicator(cores)
    emb_full, emb_full_se = map(
        np.asarray, fj.plugin_flux_stderr(embedded, "miller-madow")
    )
    emb_extrapolated = np.asarray(fj.plugin_flux(embedded, "extrapolate"))
    iso_full = np.asarray(fj.plugin_flux(isolated, "miller-madow"))
    iso_extrapolated = np.asarray(fj.plugin_flux(isolated, "extrapolate"))

    full = record_core(
        nets,
        jax.random.fold_in(key, 2),
        config,
        range(nets[0].num_neurons),
        config.signal_steps,
    )
    signals = [
        embedding_signal(full[k], np.asarray(net.weights), core, rest)
        for k, net in enumerate(nets)
    ]
    mu = np.stack([s.mean(0) for s in signals])
    sigma = np.stack([s.std(0) for s in signals])
    lag0, lag1 = zip(*(_lag_correlations(s) for s in signals), strict=True)
    # TE into each core neuron i from its coarse-grained embedding signal (quartiles
    # of U_i): I(s_i(t+1); q_i(t) | s_i(t)), averaged over the core.
    te = [
        float(
            np.mean(
                fj.plugin_transfer_entropy(
                    full[k][:, core].T[..., None], _quartiles(s).T
                )
            )
        )
        for k, s in enumerate(signals)
    ]
    rates = {
        name: summary(full[..., np.asarray(idx)].mean((1, 2)))
        for name, idx in groups.items()
        if name != "excitatory"
    }
    total_emb, total_iso = emb_intra + emb_inter, iso_intra + iso_inter
    return EmbeddingResult(
        seeds=config.seeds,
        embedded=indicator_summary(emb_intra, emb_inter),
        isolated=indicator_summary(iso_intra, iso_inter),
        isolated_exact=indicator_summary(ex_intra, ex_inter),
        fold_change=fold_change(total_emb, total_iso),
        per_seed=PerSeedIndicator(
            embedded_intra=emb_intra.tolist(),
            embedded_inter=emb_inter.tolist(),
            isolated_intra=iso_intra.tolist(),
            isolated_inter=iso_inter.tolist(),
        ),
        full_flux=FullFlux(
            embedded_miller_madow=summary(emb_full),
            embedded_stderr=summary(emb_full_se),
            embedded_extrapolated=summary(emb_extrapolated),
            isolated_miller_madow=summary(iso_full),
            isolated_extrapolated=summary(iso_extrapolated),
            isolated_exact=summary([float(fj.exact_flux(c)) for c in cores]),
        ),
        state_entropy=StateEntropy(
            embedded=summary(np.asarray(fj.plugin_entropy(embedded))),
            isolated_exact=summary([float(fj.exact_entropy(c)) for c in cores]),
        ),
        transfer_entropy_into_core=summary(te),
        firing_rates=FiringRates(
            embedded=rates, isolated_core=summary(isolated.mean((1, 2)))
        ),
        signal=Signal(
            mu=mu.tolist(),
            sigma=sigma.tolist(),
            mu_summary=summary(mu),
            sigma_summary=summary(sigma),
            lag0_correlation=summary(lag0),
            lag1_autocorrelation=summary(lag1),
        ),
        raster=Raster(
            embedded=full[0, :150].astype(int).tolist(),
            isolated=isolated[0, :150].astype(int).tolist(),
        ),
    )


def plot_raster(result: EmbeddingResult) -> Figure:
    """Raster of the embedded network (populations coloured) beside the isolated core."""
    embedded = np.asarray(result.raster.embedded)
    isolated = np.asarray(result.raster.isolated)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]}
    )
    colors = np.zeros(embedded.shape[1], int)
    colors[10:100], colors[100:] = 1, 2
    for population, (color, label) in enumerate(
        (("C3", "core"), ("C0", "periphery"), ("C2", "interneurons"))
    ):
        t, i = np.nonzero(embedded * (colors == population))
        left.scatter(t, i, s=1.5, c=color, label=label, marker="s")
    left.set(
        xlabel="step",
        ylabel="neuron",
        title=f"embedded network (seed {result.seeds[0]})",
    )
    left.invert_yaxis()
    left.legend(loc="upper right", fontsize=7, markerscale=4)
    t, i = np.nonzero(isolated)
    right.scatter(t, i, s=4, c="C3", marker="s")
    right.set(xlabel="step", ylabel="core neuron", title="isolated core (sigma = 0)")
    right.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_signal(result: EmbeddingResult) -> Figure:
    """Per-core-neuron effective bias mu_i and fluctuation sigma_i over seeds."""
    mu = np.asarray(result.signal.mu)
    sigma = np.asarray(result.signal.sigma)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    neurons = np.arange(mu.shape[1])
    axes[0].errorbar(neurons, mu.mean(0), mu.std(0), fmt="o", color="C0")
    axes[0].set(
        xlabel="core neuron", ylabel="mu_i (weight units)", title="effective bias"
    )
    axes[1].errorbar(neurons, sigma.mean(0), sigma.std(0), fmt="o", color="C1")
    axes[1].set(
        xlabel="core neuron", ylabel="sigma_i (weight units)", title="fluctuation size"
    )
    axes[2].hist(mu.ravel(), bins=20, alpha=0.6, label="mu_i")
    axes[2].hist(sigma.ravel(), bins=20, alpha=0.6, label="sigma_i")
    axes[2].set(xlabel="weight units", ylabel="count", title="all seeds and neurons")
    axes[2].legend()
    fig.tight_layout()
    return fig
