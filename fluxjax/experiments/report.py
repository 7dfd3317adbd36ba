"""Rendering the study: ``report.md`` and the figures, from the typed results only.

Each section of the report is one small function of the typed results of
:mod:`fluxjax.experiments.claims` (:class:`~fluxjax.experiments.claims.Study`, the
claims and the headline table); nothing here computes or judges.
"""

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fluxjax as fj

from . import (
    bars,
    brunel,
    controls,
    embedding,
    fluctuations,
    lesions,
    optimization,
    reservoir,
    resonance,
    scaling,
)
from ._results import IndicatorSummary
from .claims import (
    CRITERIA,
    Claim,
    Study,
    claim_6,
    closeness,
    fluctuation_text,
    fluctuation_verdict,
    fold,
    objective_comparison,
)


HEADLINE = (
    "isolated",
    "isolated_best_noise",
    "embedded",
    "individual_biases",
    "individual_biases_noise",
    "uniform_optimal_bias",
    "optimized_biases",
    "half_firing_bias",
)
"""The rows of the flux table (and the top-level keys of ``results.json``)."""

OPTIMIZERS = ("gradient_exact", "gradient_soft", "hill_climb", "self_organized")
"""The optimisation methods whose exact indicator also goes into the headline."""

FIGURES = {
    "fig_resonance.png": lambda study: resonance.plot(study.resonance),
    "fig_raster.png": lambda study: embedding.plot_raster(study.embedding),
    "fig_embedding_signal.png": lambda study: embedding.plot_signal(study.embedding),
    "fig6a_bars.png": lambda study: bars.plot(
        study.bars._replace(optimized_biases=study.optimization.optimized_biases)
    ),
    "fig_fluctuations.png": lambda study: fluctuations.plot(study.fluctuations),
    "fig_optimization.png": lambda study: optimization.plot(study.optimization),
    "fig_lesions.png": lambda study: lesions.plot(study.lesions),
    "fig_controls.png": lambda study: controls.plot(study.controls),
    "fig_reservoir.png": lambda study: reservoir.plot(study.reservoir),
    "fig_scaling.png": lambda study: scaling.plot(study.scaling),
    "fig_brunel.png": lambda study: brunel.plot(study.brunel),
}

VERDICTS = {True: "yes", False: "**no**", None: "pending", "partly": "partly"}


def headline(study: Study) -> dict[str, IndicatorSummary | None]:
    """The results-table entries of the flux indicator (bits, over seeds)."""
    bars, found = study.bars, study.optimization
    table = {
        "isolated": study.embedding.isolated,
        "isolated_best_noise": study.resonance.isolated_best_noise,
        "embedded": study.embedding.embedded,
        "individual_biases": bars.individual_biases,
        "individual_biases_noise": bars.individual_biases_noise,
        "uniform_optimal_bias": bars.uniform_optimal_bias,
        "optimized_biases": found.optimized_biases,
        "half_firing_bias": bars.half_firing_bias,
    }
    for name in OPTIMIZERS:  # scored exactly on the isolated core
        key = "self_organized_biases" if name == "self_organized" else name
        table[key] = found.exact[name]
    return table


def write_figures(study: Study, out_dir: Path) -> None:
    """Every figure of :data:`FIGURES`, as PNG files in ``out_dir``."""
    for filename, plot in FIGURES.items():
        figure = plot(study)
        figure.savefig(out_dir / filename, dpi=120)
        plt.close(figure)


def render(
    study: Study,
    claims: list[Claim],
    table: Mapping[str, IndicatorSummary | None],
    meta: Mapping,
) -> str:
    """The Markdown report: the claims, the flux table, then one section per part."""
    sections = [
        _header(meta),
        _claims(claims),
        _flux_table(study, table),
        _fluctuations(study),
        _optimization(study),
        _objectives(study),
        _resonance(),
        _embedding(study),
        _lesions(study),
        _controls(study),
        _reservoir(study),
        _scaling(study),
        brunel_section(study.brunel),
        f"Part timings (s): "
        f"{json.dumps({k: round(v) for k, v in meta['seconds'].items()})}\n",
    ]
    return "\n".join(sections)


def _header(meta: Mapping) -> str:
    config = meta["config"]
    quick = "**Quick run**: reduced sizes, numbers are indicative only. "
    times = ", ".join(f"{k} {v:.0f} s" for k, v in meta["seconds"].items())
    return (
        "# fluxjax reproduction of Metzner et al. (2026)\n\n"
        f"{quick if config['quick'] else ''}"
        f"{config['num_seeds']} network seeds from {config['first_seed']}, "
        f"{config['steps']:,} steps after a burn-in of {config['burn_in']:,}, t0 = "
        f"{config['t0']} (scope: {config['t0_scope']}), d_s = {config['core_density']}. "
        f"Flux indicator in 10^-3 bit, mean ± SD over seeds. The parts took "
        f"{sum(meta['seconds'].values()):.0f} s in all ({times}; this invocation "
        f"{meta['wall_seconds']:.0f} s) on {meta['device']} (JAX {meta['jax']}, "
        f"{meta['dtype']}, commit {(meta['git_commit'] or 'unknown')[:10]}).\n"
        + (
            f"\n**Stale parts**: {', '.join(meta['stale_parts'])} were computed by "
            "other code (another fluxjax source or JAX version) and reused with "
            "`--reuse-stale`; their numbers are not this code's.\n"
            if meta.get("stale_parts")
            else ""
        )
    )


def _claims(claims: list[Claim]) -> str:
    rows = [f"| {c.claim} | {c.summary} | {VERDICTS[c.reproduced]} |" for c in claims]
    details = [f"- **{c.claim}**: {c.evidence}." for c in claims]
    return "\n".join(
        [
            "## Claims",
            "",
            "| claim | evidence | reproduced |",
            "|---|---|---|",
            *rows,
            "",
            f"Criteria: {CRITERIA}",
            "",
            "### The evidence in detail",
            "",
            *details,
            "",
        ]
    )


def _cell(entry: IndicatorSummary | None, part: str) -> str:
    if entry is None:
        return "pending"
    value = getattr(entry, part)
    return f"{1e3 * value.mean:.1f} ± {1e3 * value.sd:.1f}"


def _flux_table(study: Study, table: Mapping[str, IndicatorSummary | None]) -> str:
    isolated_total = table["isolated"].total
    rows = []
    for name in HEADLINE:
        entry = table[name]
        fold = "" if entry is None else f"{entry.total / isolated_total:.2f}"
        rows.append(
            f"| `{name}` | {_cell(entry, 'intra')} | {_cell(entry, 'inter')} | {fold} |"
        )
    b = study.bars
    exact = ", ".join(
        f"`{name}` {getattr(b, name + '_exact').total * 1e3:.1f}"
        for name in (
            "individual_biases",
            "individual_biases_noise",
            "uniform_optimal_bias",
            "half_firing_bias",
        )
    )
    noise = "/ t0" if b.signal_noise == "scaled" else "(raw)"
    return "\n".join(
        [
            "## Flux indicator (Fig. 6a and the headline numbers)",
            "",
            "![Fig. 6a](fig6a_bars.png)",
            "",
            "| condition | intra | inter | total / isolated |",
            "|---|---|---|---|",
            *rows,
            "",
            "Exact values of the isolated-core conditions (1024-state chain, no "
            f"sampling): {exact}; isolated "
            f"{study.embedding.isolated_exact.total * 1e3:.1f}. Bar 3's noise is "
            f"sigma_i {noise}; best uniform biases per seed: {b.uniform_bias_values}.",
            "",
        ]
    )


def _fluctuation_row(found: fluctuations.FluctuationsResult, name: str) -> str:
    entry, base = found.conditions[name], found.conditions["biases_only"]
    total = {k: np.asarray(v) for k, v in found.per_seed_total.items()}
    higher = " | ".join(
        f"{np.sum(total[name] > total[other])}"
        for other in ("biases_only", "replay_fresh")
    )
    full = f"{found.full_flux[name].mean:.3f}"
    if name in found.exact_full_flux:
        full = f"{found.exact_full_flux[name].mean:.3f} exact ({full})"
    shape = found.signal.get("replay" if name == "replay_fresh" else name)
    kept = (
        " | | "
        if shape is None
        else f" {shape.lag0_correlation.mean:.3f} | "
        f"{shape.lag1_autocorrelation.mean:.3f} | {shape.skewness.mean:.2f} "
    )
    return (
        f"| `{name}` | {_cell(entry, 'intra')} | {_cell(entry, 'inter')} "
        f"| {1e3 * entry.total:.1f} | {entry.total / base.total:.2f} | {higher} "
        f"| {full} |{kept}|"
    )


def _fluctuations(study: Study) -> str:
    found = study.fluctuations
    sweep = found.scale_sweep
    rows = [
        f"| {s:g} | {1e3 * a.mean:.1f} ± {1e3 * a.sd:.1f} | {1e3 * b.mean:.1f} ± "
        f"{1e3 * b.sd:.1f} | {1e3 * (a.mean + b.mean):.1f} | {f.mean:.3f} |"
        for s, a, b, f in zip(
            sweep.scales, sweep.intra, sweep.inter, sweep.full_flux, strict=True
        )
    ]
    verdict = fluctuation_text(found, fluctuation_verdict(found.per_seed_total))
    return "\n".join(
        [
            "## Which property of the embedding's fluctuations helps the core",
            "",
            "![fluctuations](fig_fluctuations.png)",
            "",
            "The isolated core driven by the input its embedding gave it in a recorded "
            "run (`replay`: with the core's own random numbers, the embedded core "
            "itself; `replay_fresh`: with fresh ones, the closed loop broken) and by "
            "surrogates of that input (fresh random numbers, shared by all of them). "
            "Indicator in 10^-3 bit, mean ± SD over seeds; full 10-neuron flux in bit "
            "(Miller–Madow plug-in, biased upwards at this length: compare the exact "
            "values). The statistics of each drive, averaged over neurons and seeds, "
            "show what it kept: lag-0 cross-correlation, lag-1 autocorrelation, "
            "skewness.",
            "",
            f"| condition | intra | inter | total | total / biases_only (means) | seeds "
            f"above biases_only | seeds above replay_fresh (of {found.embedded.intra.n}) "
            "| full flux | lag-0 corr. | lag-1 autocorr. | skewness |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *(_fluctuation_row(found, name) for name in fluctuations.CONDITIONS),
            f"| embedded (recorded run) | {_cell(found.embedded, 'intra')} "
            f"| {_cell(found.embedded, 'inter')} | {1e3 * found.embedded.total:.1f} "
            f"| | | | {found.full_flux['embedded'].mean:.3f} | | | |",
            "",
            "Exact indicator of the autonomous conditions: "
            + ", ".join(
                f"`{name}` {1e3 * entry.total:.1f}"
                for name, entry in found.exact.items()
            )
            + ". The replay differs from the embedded core in a fraction "
            f"{1 - found.replay_identical.mean:.1e} of its steps (rounding of the "
            "summed input, in float32, can flip a comparison).",
            "",
            "The recorded signal's fluctuations scaled, mu + s (U - mu), open loop:",
            "",
            "| scale s | intra | inter | total | full flux (Miller–Madow) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Verdict (claim 3): {verdict}",
            "",
        ]
    )


def _method_row(found: optimization.OptimizationResult, name: str) -> str:
    seconds = found.seconds.get(name)
    return (
        f"| {optimization.METHOD_LABELS[name]} | {found.exact[name].total * 1e3:.1f} "
        f"| {found.exact_full_flux[name].mean:.3f} "
        f"| {'' if seconds is None else format(seconds.mean, '.1f')} |"
    )


def _optimization(study: Study) -> str:
    found = study.optimization
    seeds = found.seconds["gradient_exact"].n
    embedded = np.asarray(study.bars.per_seed_total["embedded"])[:seeds]
    soft = found.embedded_soft
    return "\n".join(
        [
            "## Optimised biases and self-organisation (isolated core, scored exactly)",
            "",
            "![optimisation](fig_optimization.png)",
            "",
            "| method | exact indicator | exact full flux (bit) | seconds per seed |",
            "|---|---|---|---|",
            *(_method_row(found, name) for name in optimization.METHOD_LABELS),
            f"| embedded core (sampled) | {embedded.mean() * 1e3:.1f} | | |",
            "",
            "Indicator in 10^-3 bit, mean over the optimisation study's seeds "
            f"({seeds}); the embedded core has no exact value (125 neurons): its row is "
            "sampled (Fig. 6a bar 1). " + closeness(found),
            "",
            "Embedded core, soft-gradient ascent of the core's full flux over its biases "
            "(125 neurons): sampled Miller–Madow flux "
            f"{soft.full_flux_before.mean:.3f} -> {soft.full_flux_after.mean:.3f} bit, "
            f"indicator {soft.indicator_before.total * 1e3:.1f} -> "
            f"{soft.indicator_after.total * 1e3:.1f} x 1e-3 bit.",
            "",
        ]
    )


def _objective_row(found: optimization.OptimizationResult, name: str) -> str:
    flux = np.asarray(found.exact_full_flux_per_seed[name])
    best = np.asarray(found.exact_full_flux_per_seed["gradient_exact_full"])
    scores = found.objective_scores
    gaussian = np.asarray(scores.gaussian[name])
    return (
        f"| {optimization.METHOD_LABELS[name]} | {flux.mean():.3f} "
        f"| {fold(flux, best)} | {gaussian.mean():.3f} | {fold(gaussian, flux)} "
        f"| {np.mean(scores.moments[name]):.3f} "
        f"| {np.mean(scores.firing_rate[name]):.3f} |"
    )


def _probe_row(probe: optimization.CouplingProbe, k: int) -> str:
    flux = {name: np.asarray(v)[:, k] for name, v in probe.flux.items()}
    gaussian = np.asarray(probe.gaussian["gaussian"])[:, k]
    return (
        f"| {probe.strengths[k]:g} | {flux['flux'].mean():.3f} "
        f"| {flux['moments'].mean():.3f} | {flux['gaussian'].mean():.3f} "
        f"| {fold(flux['gaussian'], flux['flux'])} "
        f"| {fold(gaussian, flux['gaussian'])} |"
    )


def _objectives(study: Study) -> str:
    found = study.optimization
    probe = found.coupling
    return "\n".join(
        [
            "## The prior art's objectives and rules (isolated core, scored exactly)",
            "",
            "Recurrent Infomax (Tanaka, Kaneko & Aoyagi, Neural Computation 21:1038, "
            "2009; a local rule: Hayakawa, Kaneko & Aoyagi, Front. Comput. Neurosci. "
            "8:143, 2014) maximised the information between successive states of "
            "stochastic binary neurons in a Gaussian approximation, I_G = 1/2 log det "
            "C0 − 1/2 log det(C0 − C1^T C0^-1 C1), with a homeostatic threshold rule "
            f"toward a target rate ({fj.INFOMAX_TARGET_RATE:g}, its free-running "
            "setting). fluxjax adds the flux itself: exact and differentiable where "
            "the network enumerates (n ≤ 14 per component, cycles at any n), and a "
            "differentiable large-n estimate (U1 − TC_G) with a bracket, so that an "
            "optimum is the flux's and not a Gaussian approximation's. Each method "
            "below is scored by the exact flux (float64); I_G and U1 − TC_G are "
            "those of the exact stationary moments.",
            "",
            "| method | exact flux (bit) | / flux optimum | I_G (bit) | I_G / flux "
            "| U1 − TC_G (bit) | mean firing rate |",
            "|---|---|---|---|---|---|---|",
            *(_objective_row(found, name) for name in optimization.BASELINES),
            "",
            "Coupling probe: gradient ascent (Adam, the same start) on each objective "
            "on `fj.ei_network(8, strength=J)`, one network per seed, exact flux at "
            "each optimum (bit):",
            "",
            "| J | flux's optimum | U1 − TC_G's optimum | I_G's optimum "
            "| I_G's / flux's | I_G / flux at I_G's optimum |",
            "|---|---|---|---|---|---|",
            *(_probe_row(probe, k) for k in range(len(probe.strengths))),
            "",
            objective_comparison(found),
            "",
        ]
    )


def _resonance() -> str:
    return "## Recurrence resonance\n\n![resonance](fig_resonance.png)\n"


def _embedding(study: Study) -> str:
    emb = study.embedding
    rates, signal, full = emb.firing_rates, emb.signal, emb.full_flux

    def pm(entry, digits=3):
        return f"{entry.mean:.{digits}f} ± {entry.sd:.{digits}f}"

    return "\n".join(
        [
            "## Embedding: firing rates, signal, alternative measures",
            "",
            "![raster](fig_raster.png)",
            "",
            "![signal](fig_embedding_signal.png)",
            "",
            "| measure | value |",
            "|---|---|",
            *(
                f"| firing rate, embedded {name} | {pm(entry)} |"
                for name, entry in rates.embedded.items()
            ),
            f"| firing rate, isolated core | {pm(rates.isolated_core)} |",
            f"| effective bias mu_i (weight units) | {pm(signal.mu_summary, 2)} |",
            f"| fluctuation sigma_i (weight units) | {pm(signal.sigma_summary, 2)} |",
            f"| lag-0 correlation between U_i | {pm(signal.lag0_correlation)} |",
            f"| lag-1 autocorrelation of U_i | {pm(signal.lag1_autocorrelation)} |",
            f"| full 10-neuron flux, isolated, exact (bit) | {pm(full.isolated_exact)} |",
            "| full flux, isolated, Miller–Madow / extrapolated (bit) | "
            f"{full.isolated_miller_madow.mean:.3f} / "
            f"{full.isolated_extrapolated.mean:.3f} |",
            "| full flux, embedded, Miller–Madow ± jackknife SE (bit) | "
            f"{full.embedded_miller_madow.mean:.3f} ± {full.embedded_stderr.mean:.3f} "
            f"(SD over seeds {full.embedded_miller_madow.sd:.3f}) |",
            f"| full flux, embedded, extrapolated (bit) | {pm(full.embedded_extrapolated)} |",
            "| state entropy, isolated exact / embedded plug-in (bit) | "
            f"{emb.state_entropy.isolated_exact.mean:.2f} / "
            f"{emb.state_entropy.embedded.mean:.2f} |",
            "| transfer entropy embedding -> core neuron (bit) | "
            f"{pm(emb.transfer_entropy_into_core, 4)} |",
            "",
            "The isolated core's exact full flux calibrates the estimators: where "
            "Miller–Madow or extrapolation is far above it, the embedded estimate is "
            "biased upwards too.",
            "",
        ]
    )


def _lesions(study: Study) -> str:
    return "\n".join(
        [
            "## Lesions and inhibition",
            "",
            "![lesions](fig_lesions.png)",
            "",
            "| lesion | total / intact |",
            "|---|---|",
            *(
                f"| {name} | {value:.2f} |"
                for name, value in study.lesions.relative_to_intact.items()
            ),
            "",
        ]
    )


def _controls(study: Study) -> str:
    rows = [
        f"| {controls.label(e)} | {e.embedded.total * 1e3:.1f} | "
        f"{e.isolated.total * 1e3:.1f} | {e.fold_change.mean:.2f} ± "
        f"{e.fold_change.sd:.2f} |"
        for e in study.controls.entries
    ]
    return "\n".join(
        [
            "## Sensitivity and randomised controls",
            "",
            "![controls](fig_controls.png)",
            "",
            "| setting | embedded | isolated | fold change |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )


def _reservoir(study: Study) -> str:
    result = study.reservoir

    def cell(entry, digits):
        return (
            "" if entry is None else f"{entry.mean:.{digits}f} ± {entry.sd:.{digits}f}"
        )

    rows = [
        f"| {r.network} | {r.n} | {r.setting} | {cell(r.flux, 1)} | "
        f"{cell(r.memory_capacity, 2)} | {cell(r.narma10_nrmse, 3)} | "
        f"{cell(r.parity_bits, 2)} |"
        for r in result.rows
    ]
    sweeps = [
        f"- {s.network}: best noise for flux {s.best_noise['flux']:g}, "
        + ", ".join(f"{t} {s.best_noise[t]:g}" for t in reservoir.TASKS)
        for s in result.noise_sweeps
    ]
    seeds = max(r.memory_capacity.n for r in result.rows)
    return "\n".join(
        [
            "## Reservoir computing: does flux make a better reservoir?",
            "",
            f"**Verdict** (claim 6): {VERDICTS[claim_6(result).reproduced]}. "
            + claim_6(result).evidence,
            "",
            "![reservoir](fig_reservoir.png)",
            "",
            f"Mean ± SD over {seeds} seeds. Flux: free-running, large-n estimate "
            "(bits). MC: linear memory capacity (delays >= 1); NARMA-10: NRMSE on "
            "held-out data (lower is better); parity: delayed 3-bit parity, bits "
            "summed over delays. Readout features: the firing probabilities "
            "p(x_t, u_t); ridge chosen on a validation split. `task_ceiling` is the "
            "best (uniform bias, noise) of a grid per task, chosen on the test split "
            "(optimistic). Reference: " + result.reference + ".",
            "",
            "| network | n | setting | flux (bit) | MC | NARMA-10 NRMSE | parity (bit) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Flux-gradient runs that met a non-finite estimate and kept their "
            f"start: {', '.join(result.gradient_failures) or 'none'}.",
            "",
            "Flux estimates outside the estimator's validated regime (their flux is "
            "not to be trusted): "
            + ("; ".join(result.flux_outside_regime) or "none")
            + ".",
            "",
            "Noise sweep at the 50 %-firing biases (does each task's best noise sit "
            "at the flux's?):",
            "",
            *sweeps,
            "",
        ]
    )


def _scaling(study: Study) -> str:
    return scaling_section(study.scaling)


def scaling_section(result: scaling.ScalingResult) -> str:
    """The report's section of the scaling part (also written alone by its benchmark)."""

    def cell(entry, digits=2):
        return (
            "" if entry is None else f"{entry.mean:.{digits}f} ± {entry.sd:.{digits}f}"
        )

    def bracket(row):
        if row.lower is None:
            return ""
        if row.lower.mean == row.upper.mean:
            return "exact"
        return f"{row.lower.mean:.1f} … {row.upper.mean:.1f}"

    rows = [
        f"| {r.network} | {r.n} | {r.setting} | {cell(r.flux)} | {bracket(r)} | "
        f"{cell(r.flux_per_neuron, 3)} | {cell(r.relative, 3)} | "
        f"{cell(r.rate_deviation, 3)} |"
        for r in result.rows
    ]
    verdicts = [
        f"| {v.network} | {v.n} | {100 * v.gap.mean:.2f} ± {100 * v.gap.sd:.2f} | "
        f"{v.best_setting} | {v.beaten}/{v.seeds} | "
        f"{'yes' if v.finds_optimum else '**no**'} |"
        for v in result.verdicts
    ]
    return "\n".join(
        [
            "## Flux at scale: does the local rule find the flux optimum?",
            "",
            "**Answer:** " + result.answer,
            "",
            "![scaling](fig_scaling.png)",
            "",
            "The rule finds the optimum of a network class and size when, in more "
            "than half of the seeds, no other bias setting beats it by more than "
            f"{100 * scaling.RULE_TOLERANCE:g} % of the flux and twice the standard "
            "error of the difference. Gap: (best − self-organised) / best, over "
            "all bias settings (0 where the rule is best; intrinsic plasticity, "
            "which adapts the gains too, is not one).",
            "",
            "**The prior art as baselines** (issue 29; Recurrent Infomax: Tanaka, "
            "Kaneko & Aoyagi, Neural Computation 21:1038, 2009; intrinsic "
            "plasticity: Triesch, ICANN 2005, LNCS 3696:65): "
            "`gradient_gaussian` is "
            "`gradient` with Recurrent Infomax's Gaussian lagged information I_G as "
            "the objective (exact moments for N ≤ 14, `fluxjax.gaussian_flux` "
            "above); `infomax_rule` its threshold rule at its target rate "
            f"{fj.INFOMAX_TARGET_RATE:g}; `intrinsic_plasticity` Triesch's gain and "
            "bias rule (mean rate 0.2). The rules run from b = 0 as long as the "
            "50 %-firing rule; every setting is scored by the flux alike. "
            + result.baseline_answer,
            "",
            "| network | N | gap (%) | best setting | rule beaten | finds optimum |",
            "|---|---|---|---|---|---|",
            *verdicts,
            "",
            "Flux in bits, mean ± SD over seeds: exact for N ≤ 14, otherwise the "
            "large-n estimate U1 − TC_G (jackknifed) with the bracket of "
            "`fluxjax.flux_bounds` (lower: the best subset's information; upper: "
            "U1). `paper_l5_core`: the flux of the paper network's 10 core neurons "
            "(Miller–Madow plug-in; no bracket) when all 125 biases are set for it. "
            "Rate deviation: RMS over neurons of (firing rate − 1/2) (noise floor "
            "about 0.005). `gradient`: Adam from the self-organised biases; "
            "`exact_optimum`: Adam on the exact flux to convergence from two starts. "
            "Flux / best: per seed, the flux over the best bias setting's.",
            "",
            "| network | N | setting | flux (bit) | bracket (bit) | flux / N | "
            "flux / best | rate deviation |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Gradient runs that met a non-finite estimate and kept their start: "
            + (", ".join(result.gradient_failures) or "none")
            + ".",
            "",
            "Flux estimates outside the estimator's validated regime: "
            + ("; ".join(result.flux_outside_regime) or "none")
            + ".",
            "",
        ]
    )


def brunel_section(result: brunel.BrunelResult) -> str:
    """The report's section of the Brunel part (also written alone by its command)."""

    def pm(entry, digits=3):
        return (
            "–"
            if entry is None
            else f"{entry.value:.{digits}f} ± {entry.stderr:.{digits}f}"
        )

    def number(value, spec):
        return "–" if value is None else format(value, spec)

    def percent(cell, setting):
        fraction = brunel.fraction_of_optimum(cell, setting)
        return "–" if fraction is None else f"{100 * fraction:.0f} %"

    regimes = [
        f"| {name.upper()} | {r.g:g} | {r.nu_ratio:g} | {r.description} | "
        f"{r.statistics['rate_hz']:.1f} | {r.statistics['cv_isi']:.2f} | "
        f"{r.statistics['synchrony']:.2f} | {r.statistics['peak_hz']:g} |"
        for name, r in result.regimes.items()
    ]
    fits = [
        f"| {c.regime.upper()} | {c.bin_width_ms:g} | {c.num_transitions} | "
        f"{c.num_units} ({len(c.dropped_units)}) | {c.firing_probability:.3f} | "
        f"{number(c.penalty, 'g')} | {number(c.deviance_explained, '.3f')} | "
        f"{pm(c.model_flux)} | {pm(c.data_flux)} | {number(c.stationarity_z, '+.1f')} | "
        f"{number(c.control_z, '+.1f')} |"
        for c in result.cells
    ]
    optimality = [
        f"| {c.regime.upper()} | {c.bin_width_ms:g} | {pm(c.fitted)} | "
        f"{pm(c.half_firing)} | {pm(c.optimized)} | {pm(c.gain)} | "
        f"{percent(c, 'fitted')} | {percent(c, 'half_firing')} | "
        f"{pm(c.distance_to_half_firing)} | {pm(c.distance_to_optimized)} | "
        + (
            "– | "
            if c.model_firing is None
            else f"{c.model_firing['fitted']:.3f} / {c.model_firing['optimized']:.3f} | "
        )
        + ("–" if c.fitted is None else f"{c.fitted.value / c.bin_width_ms * 1e3:.0f}")
        + " |"
        for c in result.cells
    ]
    flags = [
        f"- {c.regime.upper()} {c.bin_width_ms:g} ms: " + "; ".join(c.problems)
        for c in result.cells
        if c.problems
    ]
    return "\n".join(
        [
            "## From spikes to flux: is the Brunel network at its flux optimum?",
            "",
            "**Answer:** " + result.answer,
            "",
            "![brunel](fig_brunel.png)",
            "",
            "The shipped spike set (`fj.load_brunel`): units of a 1000-neuron "
            "Brunel (2000) network of LIF neurons simulated with Brian2, binned "
            "(`fj.bin_spikes`), units with fewer than "
            f"{brunel.MIN_EVENTS} spikes or silences dropped, "
            "fitted (`fj.fit_network`, L2 penalty by cross-validation) and asked "
            "the study's question (`fj.flux_optimality`: the ascent is Adam on the "
            "large-n estimate from the fitted biases; standard errors from "
            "block-bootstrap refits). Flux in bits per transition (one bin to the "
            "next). The fitted biases are at the optimum when the gain is below "
            f"{100 * brunel.AT_OPTIMUM_TOLERANCE:g} % of the optimised flux or "
            "twice its SE.",
            "",
            "The regimes (the whole network's statistics, from the data set's "
            "provenance: mean rate, mean CV of the interspike intervals, "
            "Golomb's synchrony chi in 5 ms bins, the population rate's largest "
            "spectral peak above 1 Hz):",
            "",
            "| regime | g | nu_ext / nu_thr | Brunel's name | rate (Hz) | CV ISI | chi | peak (Hz) |",
            "|---|---|---|---|---|---|---|---|",
            *regimes,
            "",
            "The fit and its diagnostics: n units fitted (dropped), the mean "
            "probability of a spike in a bin, the penalty chosen, the held-out "
            "deviance explained, the fit's flux (`fj.flux`: the fitted network "
            "simulated) against the flux from the data's own moments "
            "(`fj.data_flux`) and their difference z in SEs; the control: the same "
            "on a recording of the same length simulated from the fit and refitted "
            "(the gap that the fit itself makes). Beyond "
            f"{brunel.STATIONARITY_Z:g} SE the cell is flagged; the model does not "
            "describe the data where z also differs from the control by more than "
            f"{brunel.STATIONARITY_Z:g} √2.",
            "",
            "| regime | bin (ms) | T | n (dropped) | P(spike) | penalty | "
            "dev. expl. | flux of fit (bit) | data_flux (bit) | z | z control |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *fits,
            "",
            "The flux at the fitted, 50 %-firing and optimised biases (bits per "
            "transition, ± bootstrap SE), the gain, each as a fraction of the "
            "optimised flux, the RMS distances of the fitted biases from the "
            "others, the fitted network's firing probability at the fitted and at "
            "the optimised biases (simulated; the data's is P(spike) above), and the "
            "flux at the fitted biases per second:",
            "",
            "| regime | bin (ms) | fitted | 50 %-firing | optimised | gain | "
            "fitted / opt. | 50 % / opt. | distance to 50 % | distance to opt. | "
            "P(spike) fit / opt. | fitted (bit/s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *optimality,
            "",
            "Cells outside the fit's validated regime (their numbers are not to "
            "be trusted as the circuit's):",
            "",
            *(flags or ["none"]),
            "",
        ]
    )
