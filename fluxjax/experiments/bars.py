"""Fig. 6(a): which part of the embedding makes the core's flux (claims 2 to 4).

Five bars of the flux indicator (intra + inter) for the core: (1) embedded, full
signals; (2) isolated with individual biases v_i = mu_i; (3) the same plus Gaussian
noise of SD sigma_i / t0 (``signal_noise="raw"``: sigma_i, as the reference code);
(4) isolated with the best uniform bias v; (5) individually optimised biases (filled in
by the optimisation study; None until then). Also the 50 %-firing (mean-field) bias
v_i = -(sum_j W[j, i]) / 2.
"""

from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

import fluxjax as fj

from ._common import (
    StudyConfig,
    best_uniform_biases,
    exact_indicator,
    flux_indicator,
    indicator_summary,
    with_fields,
)
from ._results import IndicatorSummary
from .embedding import EmbeddingResult


BARS = (
    ("embedded", "full signals\n(embedded)"),
    ("individual_biases", "individual\nbiases mu_i"),
    ("individual_biases_noise", "biases mu_i\n+ noise sigma_i"),
    ("uniform_optimal_bias", "best uniform\nbias"),
    ("optimized_biases", "optimised\nbiases"),
)


class UniformSweep(NamedTuple):
    """The exact indicator (mean over seeds) of each common bias of the sweep."""

    biases: list[float]
    exact_intra_mean: list[float]
    exact_inter_mean: list[float]


class BarsResult(NamedTuple):
    """The bars of Fig. 6(a), sampled (and, for the isolated cores, exact), in bits.

    ``optimized_biases`` (bar 5) is None here; ``reproduce`` fills it in from the
    optimisation study.
    """

    embedded: IndicatorSummary
    isolated: IndicatorSummary
    optimized_biases: IndicatorSummary | None
    uniform_bias_values: list[float]
    uniform_sweep: UniformSweep
    signal_noise: str
    per_seed_total: dict[str, list[float]]
    individual_biases: IndicatorSummary
    individual_biases_exact: IndicatorSummary
    individual_biases_noise: IndicatorSummary
    individual_biases_noise_exact: IndicatorSummary
    uniform_optimal_bias: IndicatorSummary
    uniform_optimal_bias_exact: IndicatorSummary
    half_firing_bias: IndicatorSummary
    half_firing_bias_exact: IndicatorSummary


def run(config: StudyConfig, embedding: EmbeddingResult) -> BarsResult:
    """Bars 2-4 and the 50 %-firing bias, sampled (and exact).

    They use the embedding result's per-seed mu_i and sigma_i; bar 1 is the embedded
    core itself.
    """
    cores = [fj.isolated_core(net, groups) for net, groups in config.networks()]
    mu = np.asarray(embedding.signal.mu)
    sigma = np.asarray(embedding.signal.sigma)
    scale = [
        np.asarray(core.temperature) if config.signal_noise == "scaled" else 1.0
        for core in cores
    ]
    biased = [with_fields(core, biases=m) for core, m in zip(cores, mu, strict=True)]
    noisy = [
        with_fields(core, biases=m, noise=s / t)
        for core, m, s, t in zip(cores, mu, sigma, scale, strict=True)
    ]
    half = [with_fields(core, biases=core.half_firing_biases()) for core in cores]

    # Uniform bias: choose v per seed on the exact indicator (no selection bias from
    # noisy estimates), then sample the chosen networks like every other bar.
    best, sweep_scores = best_uniform_biases(
        cores, config.uniform_biases, lambda nets: np.stack(exact_indicator(nets), 1)
    )
    sweep = list(config.uniform_biases)
    sweep_intra, sweep_inter = sweep_scores[..., 0], sweep_scores[..., 1]
    uniform = [
        with_fields(core, biases=np.full(core.num_neurons, v))
        for core, v in zip(cores, best, strict=True)
    ]

    groups = [biased, noisy, uniform, half]
    intra, inter = flux_indicator(sum(groups, []), config.key("bars"), config)
    intra, inter = intra.reshape(len(groups), -1), inter.reshape(len(groups), -1)
    exact = [exact_indicator(g) for g in (biased, noisy, uniform, half)]
    per_seed = embedding.per_seed
    sampled = [indicator_summary(intra[k], inter[k]) for k in range(len(groups))]
    exact = [indicator_summary(*values) for values in exact]
    totals = {
        name: (intra[k] + inter[k]).tolist()
        for k, name in enumerate(
            (
                "individual_biases",
                "individual_biases_noise",
                "uniform_optimal_bias",
                "half_firing_bias",
            )
        )
    }
    return BarsResult(
        embedded=indicator_summary(per_seed.embedded_intra, per_seed.embedded_inter),
        isolated=indicator_summary(per_seed.isolated_intra, per_seed.isolated_inter),
        optimized_biases=None,
        uniform_bias_values=[float(v) for v in best],
        uniform_sweep=UniformSweep(
            biases=sweep,
            exact_intra_mean=sweep_intra.mean(1).tolist(),
            exact_inter_mean=sweep_inter.mean(1).tolist(),
        ),
        signal_noise=config.signal_noise,
        per_seed_total={
            "embedded": np.add(
                per_seed.embedded_intra, per_seed.embedded_inter
            ).tolist(),
            "isolated": np.add(
                per_seed.isolated_intra, per_seed.isolated_inter
            ).tolist(),
            **totals,
        },
        individual_biases=sampled[0],
        individual_biases_exact=exact[0],
        individual_biases_noise=sampled[1],
        individual_biases_noise_exact=exact[1],
        uniform_optimal_bias=sampled[2],
        uniform_optimal_bias_exact=exact[2],
        half_firing_bias=sampled[3],
        half_firing_bias_exact=exact[3],
    )


def plot(result: BarsResult) -> Figure:
    """The five stacked bars (intra + inter, mean ± sd over seeds), dashed at bar 1."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for position, (name, _) in enumerate(BARS):
        entry = getattr(result, name)
        if entry is None:
            ax.text(position, 0, "pending", ha="center", va="bottom", color="gray")
            continue
        intra, inter = 1e3 * entry.intra.mean, 1e3 * entry.inter.mean
        sd = 1e3 * np.hypot(entry.intra.sd, entry.inter.sd)
        ax.bar(position, intra, color="C0", label="intra" if position == 0 else None)
        ax.bar(
            position,
            inter,
            bottom=intra,
            color="C1",
            yerr=sd,
            capsize=3,
            label="inter" if position == 0 else None,
        )
    embedded = 1e3 * result.embedded.total
    ax.axhline(embedded, color="k", ls="--", lw=1, label="embedded")
    isolated = 1e3 * result.isolated.total
    ax.axhline(isolated, color="gray", ls=":", lw=1, label="isolated core")
    ax.set_xticks(range(len(BARS)), [label for _, label in BARS], fontsize=8)
    ax.set_ylabel("flux indicator (10$^{-3}$ bit)")
    ax.set_title("Fig. 6(a): flux of the core under each part of the embedding")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
