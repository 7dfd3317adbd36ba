"""Does the local rule still find the flux optimum at scale? Flux from 10 to 1000 neurons.

On the paper's 10-neuron core the flux optimum is (nearly) the 50 %-firing point that
the local self-organisation rule finds (claim 5). This part asks the same of networks
of N = 10 ... 1000 neurons. Every network gets these bias settings (the weights never
change):

- ``zero``: b = 0;
- ``uniform``: the best common bias b_i = c + v T over ``uniform_offsets`` v (T the
  mean temperature, c the mean of the 50 %-firing biases -sum_j W_ji / 2);
- ``self_organized``: the local rule :func:`fluxjax.self_organize` (every neuron
  towards 50 % firing) from b = 0;
- ``gradient``: Adam on the flux (the exact flux for n <= 14, else the large-n
  estimate :func:`fluxjax.info.moments.moment_flux`) for ``gradient_steps`` steps
  from the self-organised biases: what a short ascent gains over the rule, a lower
  bound on the gap to the optimum;
- ``exact_optimum`` (n <= 14 only): Adam on the exact flux until it converges, from
  the self-organised biases plus N(0, 0.1^2) jitter (the 50 %-firing point is a
  critical point of the flux, and can be a saddle) and from the best uniform bias,
  the better kept. It shows how much of the true gap the short ascent recovers.

The prior art's objective and rules are baselines (issue 29; ``BASELINES``):

- ``gradient_gaussian``: the same Adam ascent as ``gradient`` (start, steps, rate,
  key schedule) on Recurrent Infomax's Gaussian lagged information I_G (Tanaka,
  Kaneko & Aoyagi 2009) instead of the flux: :func:`fluxjax.exact_gaussian_flux`
  for n <= 14, else its sampled estimate :func:`fluxjax.gaussian_flux` with as many
  transitions as the flux's;
- ``infomax_rule``: Recurrent Infomax's threshold rule, the homeostatic rule of
  ``self_organized`` at its own target rate :data:`fluxjax.INFOMAX_TARGET_RATE`,
  from b = 0 for as many updates;
- ``intrinsic_plasticity``: Triesch's rule (gain and bias of every neuron toward an
  exponential rate distribution of mean 0.2), run free from b = 0 for as many
  updates. It adapts each neuron's temperature too, so it is scored and tabled but
  left out of the verdict, which asks about the biases.

Every setting is scored alike; ``Row.relative`` is each seed's flux over its best
bias setting's. ``baseline_sizes`` restricts the baselines to some sizes (the quick
run's smallest).

Networks: random excitatory/inhibitory ones (:func:`fluxjax.ei_network`, weights
J |g| / sqrt(K)), dense at J = 1 and J = 2 and with a fixed in-degree K = 4 at J = 2,
at every size; and the paper's 125-neuron L5 network with all 125 biases trainable,
scored twice: by the whole network's flux and by its core's (the 10 core neurons'
I(X_t; X_{t+1}), Miller-Madow plug-in), each with its own uniform pick and gradient
(the core's: ``soft_flux(neurons=core)``).

Scores: exact for n <= 14 (:func:`fluxjax.exact_flux`); above, the large-n estimate
with its jackknife error and the bracket of :func:`fluxjax.flux_bounds` (one
simulation of ``flux_steps_per_neuron`` n transitions, at least ``min_flux_steps``;
the same key for every setting of a network, so differences are paired). Estimates
outside the validated regime are listed in ``flux_outside_regime``.

The verdict per network class and size: the rule finds the optimum there when, in
more than half the seeds, no other bias setting beats it by more than both
``RULE_TOLERANCE`` of the flux and twice the standard error of the difference.

References:
    T. Tanaka, T. Kaneko, T. Aoyagi, "Recurrent infomax generates cell assemblies,
    neuronal avalanches, and simple cell-like selectivity", Neural Computation
    21(4), 1038-1067 (2009).
    J. Triesch, "A gradient rule for the plasticity of a neuron's intrinsic
    excitability", ICANN 2005, LNCS 3696, 65-70.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

import fluxjax as fj
from fluxjax.info.exact import MAX_EXACT_NEURONS

from ._common import (
    Checkpoints,
    ScalingConfig,
    StudyConfig,
    adam,
    caught_warnings,
    exact_flux_objective,
    exact_gaussian_objective,
    flux_objective,
    gaussian_objective,
    intrinsic_plasticity,
    no_checkpoints,
    summary,
    temperature_scale,
    with_fields,
)
from ._results import Summary


BASELINES = ("gradient_gaussian", "infomax_rule", "intrinsic_plasticity")
"""The prior art's objective and rules (issue 29), in the report's order."""
SETTINGS = (
    "zero",
    "uniform",
    "self_organized",
    "gradient",
    "exact_optimum",
    *BASELINES,
)
"""The settings (``exact_optimum`` only where the flux is exact; ``gradient_gaussian``
not for the paper network's core, which has no I_G objective)."""
ADAPTS_TEMPERATURE = ("intrinsic_plasticity",)
"""Settings that adapt each neuron's temperature (gain) as well as its bias: not bias
settings, so left out of the verdict and of ``Row.relative``'s best."""
RULE_TOLERANCE = 0.01
"""The rule finds the optimum of a seed when no setting beats it by more than this
fraction of the flux (or by more than twice the difference's standard error)."""
JITTER = 0.1
"""SD of the jitter on the self-organised start of ``exact_optimum`` (units of T)."""
PAPER = "paper_l5"


class Score(NamedTuple):
    """One setting of one network, in bits.

    ``stderr`` is 0 where the flux is exact; ``lower`` and ``upper`` are the bracket
    of :func:`fluxjax.flux_bounds` (equal to ``flux`` where it is exact; None for a
    core flux, which has none). ``rate_deviation`` is the RMS over the scored
    neurons of (firing rate - 1/2), from a short simulation (its noise floor is
    about 0.005).
    """

    flux: float
    stderr: float
    lower: float | None
    upper: float | None
    rate_deviation: float


class NetworkRun(NamedTuple):
    """Every setting of one network (class, size, seed), and what went wrong.

    ``gradient_failed``: the ``gradient`` ascent met a non-finite estimate and kept
    its start; ``gaussian_failed`` the same for ``gradient_gaussian``.
    """

    network: str
    n: int
    seed: int
    exact: bool
    scores: dict[str, Score]
    gradient_failed: bool
    problems: list[str]
    gaussian_failed: bool = False


class Row(NamedTuple):
    """One network class, size and setting, summarised over seeds (bits).

    ``relative``: per seed, the flux over the best bias setting's (every setting but
    those of ``ADAPTS_TEMPERATURE``), so 1 for the best and above 1 where a rule that
    also adapts the gains beats every bias setting.
    """

    network: str
    n: int
    setting: str
    flux: Summary
    flux_per_neuron: Summary
    lower: Summary | None
    upper: Summary | None
    rate_deviation: Summary
    relative: Summary


class Verdict(NamedTuple):
    """Does the rule find the optimum for one network class and size?

    ``gap`` is (best - rule) / best per seed, with best the highest-scoring setting
    (the rule's own where it wins; ``best_setting``: the one that is best in most
    seeds); ``beaten`` counts
    the seeds where best beats the rule by more than ``RULE_TOLERANCE`` of the flux
    and twice the difference's standard error.
    """

    network: str
    n: int
    gap: Summary
    best_setting: str
    beaten: int
    seeds: int
    finds_optimum: bool


class ScalingResult(NamedTuple):
    """The scaling study (``results.json["parts"]["scaling"]``)."""

    runs: list[NetworkRun]
    rows: list[Row]
    verdicts: list[Verdict]
    answer: str
    gradient_failures: list[str]
    flux_outside_regime: list[str]
    baseline_answer: str


def _label(strength: float, in_degree: int | None) -> str:
    return f"ei_J{strength:g}_K{'dense' if in_degree is None else in_degree}"


def _flux_steps(n: int, config: ScalingConfig) -> int:
    return max(config.flux_steps_per_neuron * n, config.min_flux_steps)


def _rate_deviation(net: fj.BinaryNetwork, key) -> float:
    """RMS over neurons of (firing rate - 1/2): 10 chains of 1000 steps."""
    states = fj.simulate(net, key, 1000, batch=10, burn_in=500)
    return _deviation(np.asarray(states, float).mean(axis=(0, 1)))


def _deviation(rates: np.ndarray) -> float:
    return float(np.sqrt(np.mean((rates - 0.5) ** 2)))


Scorer = Callable[[fj.BinaryNetwork], tuple[Score, str]]
"""``score(net) -> (Score, problem)``: one objective's score of a setting ("" or why
the estimate is outside its validated regime)."""


def _exact_scorer(key) -> Scorer:
    def score(net):
        value = float(fj.exact_flux(net))
        return Score(value, 0.0, value, value, _rate_deviation(net, key)), ""

    return score


def _estimated_scorer(key, steps: int) -> Scorer:
    """The large-n estimate with its bracket; the same key for every setting."""
    flux_key, rate_key = jax.random.split(key)

    def score(net):
        bounds, problem = caught_warnings(fj.flux_bounds, net, flux_key, steps)
        deviation = _rate_deviation(net, rate_key)
        values = (bounds.estimate, bounds.estimate_stderr, bounds.lower, bounds.upper)
        return Score(*map(float, values), deviation), problem

    return score


def _core_scorer(key, core: tuple[int, ...], steps: int) -> Scorer:
    """The core's flux (Miller-Madow plug-in, jackknife error); no bracket."""

    def score(net):
        states = fj.simulate(net, key, steps, burn_in=1000, record=fj.States(core))
        value, stderr = fj.plugin_flux_stderr(states, "miller-madow")
        deviation = _deviation(np.asarray(states, float).mean(0))
        return Score(float(value), float(stderr), None, None, deviation), ""

    return score


def _grid_value(net: fj.BinaryNetwork, key, steps: int | None) -> float:
    """The flux value that picks the uniform bias (exact where ``steps`` is None)."""
    if steps is None:
        return float(fj.exact_flux(net))
    (value, _), _ = caught_warnings(fj.moment_flux_stderr, net, key, steps)
    return float(value)


def _uniform(net: fj.BinaryNetwork, offset: float) -> fj.BinaryNetwork:
    centre = float(np.mean(np.asarray(net.half_firing_biases())))
    biases = np.full(net.num_neurons, centre + offset * temperature_scale(net))
    return with_fields(net, biases=biases)


def _ascend(start, key, objective, config: ScalingConfig, steps: int, tol=None):
    """Adam on ``objective`` from ``start``; ``(net, failed)``, start kept on failure.

    A step that meets a non-finite estimate raises FloatingPointError inside
    :func:`fluxjax.optimize_biases`; the run then keeps its start.
    """
    optimizer = adam(config.learning_rate * temperature_scale(start))
    try:
        net, _ = fj.optimize_biases(
            start, key, objective, steps=steps, optimizer=optimizer, tol=tol
        )
        return net, False
    except FloatingPointError:
        return start, True


def _exact_optimum(organized, uniform, key, config: ScalingConfig):
    """Converged Adam on the exact flux from two starts; the better of the two."""
    jitter_key, *run_keys = jax.random.split(key, 3)
    scale = temperature_scale(organized)
    jitter = JITTER * scale * jax.random.normal(jitter_key, (organized.num_neurons,))
    starts = [with_fields(organized, biases=organized.biases + jitter), uniform]
    ends = [
        _ascend(s, k, exact_flux_objective, config, config.exact_optimum_steps, 1e-5)[0]
        for s, k in zip(starts, run_keys, strict=True)
    ]
    return max(ends, key=lambda net: float(fj.exact_flux(net)))


class _Starts(NamedTuple):
    """The networks that need no objective: b = 0 and the rules' (run from b = 0).

    ``infomax`` and ``plastic`` (Recurrent Infomax's rule, intrinsic plasticity) are
    None where the baselines are not run.
    """

    zero: fj.BinaryNetwork
    organized: fj.BinaryNetwork
    infomax: fj.BinaryNetwork | None
    plastic: fj.BinaryNetwork | None


def _homeostatic(zero, key, config: ScalingConfig, target: float) -> fj.BinaryNetwork:
    """:func:`fluxjax.self_organize` at ``target`` from ``zero``."""
    organized, _ = fj.self_organize(
        zero,
        key,
        config.adaptation_steps,
        rate=config.adaptation_rate * temperature_scale(zero),
        target=target,
        snapshots=1,
    )
    return organized


def _starts(net, key, config: ScalingConfig, *, baselines: bool) -> _Starts:
    """The zero-bias network and the rules' networks, every rule from b = 0."""
    zero = with_fields(net, biases=np.zeros(net.num_neurons))
    organized = _homeostatic(zero, key, config, 0.5)
    if not baselines:
        return _Starts(zero, organized, None, None)
    infomax_key, plastic_key = (jax.random.fold_in(key, k) for k in (1, 2))
    infomax = _homeostatic(zero, infomax_key, config, fj.INFOMAX_TARGET_RATE)
    plastic = intrinsic_plasticity(zero, plastic_key, config.adaptation_steps)
    return _Starts(zero, organized, infomax, plastic)


def _network_run(
    label, n, seed, starts: _Starts, key, config, *, score, value, objective, gaussian
):
    """Every setting of one network for one objective, scored by ``score``.

    ``value(net) -> float`` picks the uniform bias from the grid; ``objective`` is
    the gradient's (the exact flux where the network is scored exactly) and
    ``gaussian`` that of ``gradient_gaussian`` (None: not run).
    """
    grad_key, optimum_key = jax.random.split(key)
    gaussian_key = jax.random.fold_in(key, 2)
    organized = starts.organized
    grid = [_uniform(starts.zero, v) for v in config.uniform_offsets]
    uniform = grid[int(np.argmax([value(g) for g in grid]))]
    gradient, failed = _ascend(
        organized, grad_key, objective, config, config.gradient_steps
    )
    nets = dict(
        zero=starts.zero, uniform=uniform, self_organized=organized, gradient=gradient
    )
    exact = objective is exact_flux_objective
    if exact:
        nets["exact_optimum"] = _exact_optimum(organized, uniform, optimum_key, config)
    gaussian_failed = False
    if gaussian is not None:  # the same ascent on I_G
        nets["gradient_gaussian"], gaussian_failed = _ascend(
            organized, gaussian_key, gaussian, config, config.gradient_steps
        )
    if starts.infomax is not None:
        nets["infomax_rule"] = starts.infomax
        nets["intrinsic_plasticity"] = starts.plastic
    scored = {name: score(c) for name, c in nets.items()}
    return NetworkRun(
        network=label,
        n=n,
        seed=seed,
        exact=exact,
        scores={name: s for name, (s, _) in scored.items()},
        gradient_failed=failed,
        problems=[f"{name}: {p}" for name, (_, p) in scored.items() if p],
        gaussian_failed=gaussian_failed,
    )


def _baselines(n: int, config: ScalingConfig) -> bool:
    """Whether networks of ``n`` neurons get the baselines."""
    return config.baseline_sizes is None or n in config.baseline_sizes


def _ei_run(label, net, seed, key, config: ScalingConfig) -> NetworkRun:
    """Every setting of one E/I network, scored exactly where n <= 14."""
    n = net.num_neurons
    start_key, run_key, score_key = jax.random.split(key, 3)
    steps = None if n <= MAX_EXACT_NEURONS else _flux_steps(n, config)
    if steps is None:
        score, objective = _exact_scorer(score_key), exact_flux_objective
        gaussian = exact_gaussian_objective
    else:
        score, objective = _estimated_scorer(score_key, steps), flux_objective(steps)
        gaussian = gaussian_objective(steps)
    baselines = _baselines(n, config)
    return _network_run(
        label,
        n,
        seed,
        _starts(net, start_key, config, baselines=baselines),
        run_key,
        config,
        score=score,
        value=lambda g: _grid_value(g, score_key, steps),  # common key: paired grid
        objective=objective,
        gaussian=gaussian if baselines else None,
    )


@functools.cache
def _core_objective(core: tuple[int, ...], steps: int):
    """The core's soft flux as an objective (one object: one compilation)."""
    return functools.partial(fj.soft_flux, steps=steps, neurons=core)


def _paper_runs(study: StudyConfig, seed, key, config: ScalingConfig):
    """The paper's network, all 125 biases trainable, scored two ways.

    One run is scored (and ascended) by the whole network's flux, one by its core's.
    """
    net, groups = fj.l5_microcircuit(seed, core_density=study.core_density, t0=study.t0)
    core = tuple(int(i) for i in groups["core"])
    start_key, whole_key, core_key, score_key = jax.random.split(key, 4)
    baselines = _baselines(net.num_neurons, config)
    starts = _starts(net, start_key, config, baselines=baselines)
    steps = _flux_steps(net.num_neurons, config)
    whole = _network_run(
        f"{PAPER}_whole",
        net.num_neurons,
        seed,
        starts,
        whole_key,
        config,
        score=_estimated_scorer(score_key, steps),
        value=lambda g: _grid_value(g, score_key, steps),
        objective=flux_objective(steps),
        gaussian=gaussian_objective(steps) if baselines else None,
    )
    core_score = _core_scorer(score_key, core, config.core_steps)
    in_core = _network_run(
        f"{PAPER}_core",
        len(core),
        seed,
        starts,
        core_key,
        config,
        score=core_score,
        value=lambda g: core_score(g)[0].flux,
        objective=_core_objective(core, config.core_gradient_samples),
        gaussian=None,  # I_G has no subset form
    )
    return [whole, in_core]


def _ei_unit(strength, in_degree, n, seed, key, config) -> list[NetworkRun]:
    """One unit of work: the E/I network of one class, size and seed."""
    net = fj.ei_network(
        n,
        key=jax.random.fold_in(jax.random.key(seed), n),
        strength=strength,
        in_degree=in_degree,
    )
    return [_ei_run(_label(strength, in_degree), net, seed, key, config)]


def _units(study: StudyConfig, config: ScalingConfig):
    """``(name, compute() -> list[NetworkRun])`` of every unit of work (one seed)."""
    key = study.key("scaling")
    paper_key = study.key("scaling_paper")
    seeds = study.seeds[: config.num_seeds]
    units: list[tuple[str, Callable[[], list[NetworkRun]]]] = []
    for c, (strength, in_degree) in enumerate(config.classes):
        for n in config.sizes:
            for s, seed in enumerate(seeds):
                unit_key = jax.random.fold_in(jax.random.fold_in(key, c), n)
                compute = functools.partial(
                    _ei_unit,
                    strength,
                    in_degree,
                    n,
                    seed,
                    jax.random.fold_in(unit_key, s),
                    config,
                )
                units.append(
                    (f"{_label(strength, in_degree)}_n{n}_seed{seed}", compute)
                )
    if config.paper_network:
        for s, seed in enumerate(seeds):
            compute = functools.partial(
                _paper_runs, study, seed, jax.random.fold_in(paper_key, s), config
            )
            units.append((f"{PAPER}_seed{seed}", compute))
    return units


def run(study: StudyConfig, checkpoints: Checkpoints = no_checkpoints) -> ScalingResult:
    """The scaling study at the sizes of ``study.scaling``.

    Each unit (one network class, size and seed) goes through ``checkpoints``, so
    a run that is killed resumes after its last finished unit.
    """
    config = study.scaling
    runs: list[NetworkRun] = []
    units = _units(study, config)
    for name, compute in tqdm(units, desc="scaling", leave=False):
        runs.extend(checkpoints(name, list[NetworkRun], compute))
    return summarize(runs)


def summarize(runs: list[NetworkRun]) -> ScalingResult:
    """The study's rows, verdicts and answer from its runs (stored ones too)."""
    groups = _groups(runs)
    verdicts = [_verdict(group) for group in groups.values()]
    rows = [row for group in groups.values() for row in _rows(group)]
    failed = [(r, "") for r in runs if r.gradient_failed]
    failed += [(r, " (gradient_gaussian)") for r in runs if r.gaussian_failed]
    return ScalingResult(
        runs=runs,
        rows=rows,
        verdicts=verdicts,
        answer=_answer(verdicts),
        gradient_failures=[
            f"{r.network} n={r.n} seed {r.seed}{which}" for r, which in failed
        ],
        flux_outside_regime=[
            f"{r.network} n={r.n} seed {r.seed} {p}" for r in runs for p in r.problems
        ],
        baseline_answer=_baseline_answer(rows),
    )


def _groups(runs: list[NetworkRun]) -> dict[tuple[str, int], list[NetworkRun]]:
    groups: dict[tuple[str, int], list[NetworkRun]] = {}
    for r in runs:
        groups.setdefault((r.network, r.n), []).append(r)
    return groups


def _best(run: NetworkRun) -> str:
    """The bias setting (not one of ``ADAPTS_TEMPERATURE``) with the highest flux."""
    biases = [k for k in run.scores if k not in ADAPTS_TEMPERATURE]
    return max(biases, key=lambda k: run.scores[k].flux)


def _rows(group: list[NetworkRun]) -> list[Row]:
    first = group[0]
    best = [r.scores[_best(r)].flux for r in group]
    rows = []
    for name in SETTINGS:
        if name not in first.scores:
            continue
        scores = [r.scores[name] for r in group]
        flux = [s.flux for s in scores]
        relative = [f / b if b > 0 else 1.0 for f, b in zip(flux, best, strict=True)]
        bracket = first.scores[name].lower is not None
        rows.append(
            Row(
                network=first.network,
                n=first.n,
                setting=name,
                flux=summary(flux),
                flux_per_neuron=summary(np.asarray(flux) / first.n),
                lower=summary([s.lower for s in scores]) if bracket else None,
                upper=summary([s.upper for s in scores]) if bracket else None,
                rate_deviation=summary([s.rate_deviation for s in scores]),
                relative=summary(relative),
            )
        )
    return rows


def _verdict(group: list[NetworkRun]) -> Verdict:
    gaps, beaten, best_names = [], 0, []
    for r in group:
        rule = r.scores["self_organized"]
        best_name = _best(r)
        best = r.scores[best_name]
        best_names.append(best_name)
        difference = best.flux - rule.flux
        gaps.append(difference / best.flux if best.flux > 0 else 0.0)
        noise = 2.0 * math.hypot(best.stderr, rule.stderr)
        if difference > max(RULE_TOLERANCE * abs(best.flux), noise):
            beaten += 1
    first = group[0]
    return Verdict(
        network=first.network,
        n=first.n,
        gap=summary(gaps),
        best_setting=max(set(best_names), key=best_names.count),
        beaten=beaten,
        seeds=len(group),
        finds_optimum=beaten <= len(group) // 2,
    )


def _answer(verdicts: list[Verdict]) -> str:
    """The report's answer, per network class: where the rule finds the optimum."""
    classes: dict[str, list[Verdict]] = {}
    for v in verdicts:
        classes.setdefault(v.network, []).append(v)

    def sizes(chosen):
        return ", ".join(str(v.n) for v in chosen)

    def gaps(chosen):
        low, high = (100 * f(v.gap.mean for v in chosen) for f in (min, max))
        return (
            f"{low:.1f} %"
            if f"{low:.1f}" == f"{high:.1f}"
            else f"{low:.1f} … {high:.1f} %"
        )

    parts = []
    for label, chosen in classes.items():
        found = [v for v in chosen if v.finds_optimum]
        missed = [v for v in chosen if not v.finds_optimum]
        text = []
        if found:
            text.append(f"yes at N = {sizes(found)} (gap {gaps(found)})")
        if missed:
            best = [v.best_setting for v in missed]
            text.append(
                f"no at N = {sizes(missed)} (gap {gaps(missed)}; "
                f"{max(set(best), key=best.count)} is best)"
            )
        parts.append(f"{label}: " + ", ".join(text))
    missed = [v for v in verdicts if not v.finds_optimum]
    if not missed:
        head = "Yes, everywhere tested."
    else:
        smallest = {}
        for v in missed:
            smallest[v.network] = min(smallest.get(v.network, v.n), v.n)
        head = (
            "Not everywhere: the rule falls short "
            + "; ".join(f"in {label} from N = {n}" for label, n in smallest.items())
            + "."
        )
    gap = "(best - rule) / best, mean over seeds"
    return f"{head} Per class ({gap}): " + "; ".join(parts) + "."


def _second(pair):
    return pair[1]


def _baseline_answer(rows: list[Row]) -> str:
    """Per class, each baseline's flux over the best bias setting's, over the sizes."""
    classes: dict[str, list[Row]] = {}
    for row in rows:
        classes.setdefault(row.network, []).append(row)
    labels = dict(
        gradient_gaussian="gradient on I_G",
        infomax_rule=f"Recurrent Infomax rule (rate {fj.INFOMAX_TARGET_RATE:g})",
        intrinsic_plasticity="intrinsic plasticity",
    )
    parts = []
    for label, chosen in classes.items():
        text = []
        for setting, name in labels.items():
            values = [(r.n, r.relative.mean) for r in chosen if r.setting == setting]
            if values:
                (where, low), (_, high) = (
                    min(values, key=_second),
                    max(values, key=_second),
                )
                span = f"{low:.3f} … {high:.3f} (lowest at N = {where})"
                text.append(f"{name} {span if len(values) > 1 else f'{low:.3f}'}")
        if text:
            parts.append(f"{label}: " + ", ".join(text))
    if not parts:
        return "No baselines were run."
    return (
        "Baselines, flux / best bias setting (mean over seeds; range over N): "
        + "; ".join(parts)
        + "."
    )


COLORS = dict(
    zero="tab:gray",
    uniform="tab:blue",
    self_organized="tab:green",
    gradient="tab:red",
    exact_optimum="black",
    gradient_gaussian="tab:orange",
    infomax_rule="tab:purple",
    intrinsic_plasticity="tab:brown",
)
DASHED = ("gradient", "gradient_gaussian")
"""Drawn dashed: they start from the rule's biases, which show beneath."""


def plot(result: ScalingResult) -> Figure:
    """Flux per neuron against N per setting (one panel per class), and the gap."""
    networks = dict.fromkeys(r.network for r in result.rows)
    labels = [x for x in networks if not x.startswith(PAPER)]  # E/I classes
    fig, axes = plt.subplots(1, len(labels) + 1, figsize=(4 * (len(labels) + 1), 3.6))
    for ax, label in zip(axes, labels, strict=False):
        for name, color in COLORS.items():
            rows = [r for r in result.rows if r.network == label and r.setting == name]
            if not rows:
                continue
            ax.errorbar(
                [r.n for r in rows],
                [r.flux_per_neuron.mean for r in rows],
                yerr=[r.flux_per_neuron.sd for r in rows],
                color=color,
                ls="--" if name in DASHED else "-",
                marker="o",
                ms=3,
                capsize=2,
                label=name,
            )
        ax.set_xscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("N (neurons)")
    axes[0].set_ylabel("flux per neuron (bit)")
    axes[0].legend(fontsize=7)
    gap_ax = axes[-1]
    for label in labels:
        chosen = [v for v in result.verdicts if v.network == label]
        gap_ax.errorbar(
            [v.n for v in chosen],
            [100 * v.gap.mean for v in chosen],
            yerr=[100 * v.gap.sd for v in chosen],
            marker="o",
            ms=3,
            capsize=2,
            label=label,
        )
    for v in result.verdicts:
        if v.network.startswith(PAPER):
            gap_ax.errorbar(
                [125],
                [100 * v.gap.mean],
                yerr=[100 * v.gap.sd],
                marker="s" if v.network.endswith("whole") else "D",
                ls="none",
                label=v.network,
            )
    gap_ax.axhline(100 * RULE_TOLERANCE, color="gray", ls=":", lw=1)
    gap_ax.set_xscale("log")
    gap_ax.set_xlabel("N (neurons)")
    gap_ax.set_ylabel("(best - self-organised) / best (%)")
    gap_ax.set_title("how far the local rule is from the best", fontsize=9)
    gap_ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
