"""Claims 4 and 5: individually optimised biases, and a local rule that finds them.

On each seed's isolated core (10 neurons, 1024 states, sigma = 0) the flux indicator
is exact and differentiable, so the biases are optimised nine ways and every result
is scored exactly (float64): gradient ascent on the exact indicator and on the exact
full-state flux (``optimize_biases`` on the exact indicator and flux; two starts, the better
finished by Newton's method), gradient ascent on the soft estimate of the full-state
flux (``soft_flux``), the paper's stochastic hill climb (4 restarts, on the exact
indicator), and the homeostatic self-organisation rule v_i <- v_i - eps (s_i - 1/2)
run from v = 0. Each gradient optimum is checked to be a local maximum: no
single-bias change of ±0.01 improves it by more than float64 round-off.
Bar 5 of Fig. 6(a) is the gradient optimum, sampled like the other bars.

The prior art's objectives and rules are baselines (issue 29), each optimum scored by
the exact flux: gradient ascent (as the full flux's) on Recurrent Infomax's Gaussian
lagged information I_G and on the large-n estimator's functional U1 - TC_G, both of
the exact stationary moments (``exact_gaussian_flux``, ``exact_moment_flux``);
Recurrent Infomax's threshold rule, the same homeostatic rule at its own target rate
(``INFOMAX_TARGET_RATE``); and Triesch's intrinsic plasticity (gain and bias, toward
an exponential rate distribution of mean 0.2), run free (zero input) from v = 0 as
long as the rules. :class:`ObjectiveScores` scores every result under I_G and
U1 - TC_G too, with its mean firing rate, which shows where I_G misleads.
"""

import functools
import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from matplotlib.figure import Figure

import fluxjax as fj

from ._common import (
    TRIPLETS,
    Checkpoints,
    StudyConfig,
    best_uniform_biases,
    exact_flux_objective,
    exact_gaussian_objective,
    exact_indicator,
    flux_indicator,
    indicator_summary,
    intrinsic_plasticity,
    no_checkpoints,
    record_core,
    summary,
    with_fields,
)
from ._results import IndicatorSummary, Summary


LOCAL_MAXIMUM_TOLERANCE = 1e-10
"""Bits: a single-bias change that gains less than this is float64 round-off."""


def _in_float64(function):
    """Runs ``function`` with float64 arrays enabled (``jax.enable_x64``).

    The study's exact objectives need float64: float32 resolves the triplet indicator
    only to about 1e-4 bit, too coarse for the ±0.01 local-maximum check, which must
    tell a gain of 1e-10 bit from round-off. Every exact computation of this module
    goes through this one switch (and converts its networks with
    :func:`_as_float64`); the sampled ones run in the library's default float32.
    """

    @functools.wraps(function)
    def in_float64(*args, **kwargs):
        with jax.enable_x64(True):
            return function(*args, **kwargs)

    return in_float64


def _as_float64(net: fj.BinaryNetwork) -> fj.BinaryNetwork:
    """``net`` in float64 (inside :func:`_in_float64`)."""
    return with_fields(net, dtype=jnp.float64)


@_in_float64
def _exact_indicators(nets) -> tuple[np.ndarray, np.ndarray]:
    """The exact indicator (intra, inter) of each network, in float64."""
    return exact_indicator([_as_float64(n) for n in nets])


def _exact_totals(nets) -> np.ndarray:
    """The exact indicator intra + inter of each network, in float64."""
    return np.add(*_exact_indicators(nets))


@_in_float64
def _exact_values(function, nets) -> np.ndarray:
    """``function(net)`` (an exact measure, bits) of each network, in float64."""
    return np.array([float(function(_as_float64(n))) for n in nets])


_exact_full_fluxes = functools.partial(_exact_values, fj.exact_flux)
_exact_gaussian_fluxes = functools.partial(_exact_values, fj.exact_gaussian_flux)
_exact_moment_fluxes = functools.partial(_exact_values, fj.exact_moment_flux)


@eqx.filter_jit
def _mean_rate(net: fj.BinaryNetwork) -> jax.Array:
    """The mean of the exact stationary firing rates of ``net`` (enumeration)."""
    states = fj.info.all_states(net.num_neurons, net.weights.dtype)
    return jnp.mean(fj.stationary_distribution(net) @ states)


_exact_rates = functools.partial(_exact_values, _mean_rate)


@_in_float64
def _single_bias_gains(net: fj.BinaryNetwork, objective) -> np.ndarray:
    """Per neuron i: max over ± of F(v ± 0.01 e_i) - F(v) (float64).

    Every entry is at most ``LOCAL_MAXIMUM_TOLERANCE`` at a local maximum.
    """
    return np.asarray(fj.single_bias_gains(_as_float64(net), objective, delta=0.01))


HESSIAN_STEP = 1e-4
"""Bias step of the central differences of the gradient that give Newton's Hessian."""


@_in_float64
def _newton_polish(net: fj.BinaryNetwork, objective, neurons, iterations: int = 10):
    """Damped Newton ascent of ``objective(net)`` over the biases of ``neurons``.

    v <- v - H^-1 g with the exact gradient g (float64) and H_ij = (g_i(v + h e_j) -
    g_i(v - h e_j)) / 2h, symmetrised, h = ``HESSIAN_STEP``; the step is halved until
    it helps; stops where H is not negative definite or nothing improves. H is off by
    O(h^2) ~ 1e-8 relative, which turns Newton's quadratic convergence into a linear
    one at a rate of about 1e-8: the same few iterations, and the fixed point is the
    exact gradient's zero. One compiled value-and-gradient serves every evaluation
    (far cheaper than ``jax.hessian`` of the exact indicator). Adam with a decaying rate
    gets close; Newton then converges to round-off.
    """
    index = tuple(int(i) for i in neurons)
    net = _as_float64(net)
    sub = net.biases[np.asarray(index)]
    value, grad = _newton_value_and_grad(objective, index, net, sub)
    for _ in range(iterations):
        H = _central_difference_hessian(objective, index, net, sub)
        if np.linalg.eigvalsh(H).max() >= 0:
            break
        step = -np.linalg.solve(H, np.asarray(grad))
        while np.abs(step).max() > 1e-12:
            new_value, new_grad = _newton_value_and_grad(
                objective, index, net, sub + step
            )
            if new_value > value:
                break
            step = step / 2
        else:
            break
        sub, value, grad = sub + step, new_value, new_grad
        if np.abs(step).max() < 1e-10:
            break  # converged: the next step would be round-off
    return np.asarray(net.biases.at[np.asarray(index)].set(sub))


def _central_difference_hessian(objective, index, net, sub) -> np.ndarray:
    """(g(v + h e_j) - g(v - h e_j)) / 2h per column j, symmetrised (h = HESSIAN_STEP)."""
    columns = []
    for j in range(len(index)):
        shift = np.zeros(len(index))
        shift[j] = HESSIAN_STEP
        ahead = _newton_value_and_grad(objective, index, net, sub + shift)[1]
        behind = _newton_value_and_grad(objective, index, net, sub - shift)[1]
        columns.append((np.asarray(ahead) - np.asarray(behind)) / (2 * HESSIAN_STEP))
    H = np.stack(columns, axis=1)
    return (H + H.T) / 2


def _with_biases_of(net, index, sub):
    """``net`` with the biases of ``index`` set to ``sub``."""
    return eqx.tree_at(
        lambda m: m.biases, net, net.biases.at[np.asarray(index)].set(sub)
    )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _newton_value_and_grad(objective, index, net, sub):
    """The objective and its gradient w.r.t. the biases ``sub`` of ``index``."""
    return jax.value_and_grad(lambda s: objective(_with_biases_of(net, index, s)))(sub)


def _indicator(net: fj.BinaryNetwork, key=None):
    """The exact triplet indicator intra + inter as an objective ``(net, key) -> bits``."""
    intra, inter = fj.exact_triplet_flux(net, TRIPLETS)
    return intra + inter


def _moment_objective(net: fj.BinaryNetwork, key=None):
    """U1 - TC_G of the exact moments as an objective ``(net, key) -> bits``."""
    return fj.exact_moment_flux(net)


def _converged_at(snapshots: np.ndarray, steps: np.ndarray, tolerance: float) -> int:
    """When the biases settle (-1: still moving at the end).

    The first snapshot step after which every bias stays within ``tolerance`` of its
    mean over the last tenth of the run.
    """
    final = snapshots[-max(1, len(snapshots) // 10) :].mean(0)
    far = np.any(np.abs(snapshots - final) > tolerance, axis=1)
    if far[-1]:
        return -1
    moving = np.nonzero(far)[0]
    return int(steps[moving[-1] + 1]) if moving.size else int(steps[0])


MEASURED = tuple(sorted({i for triplet in TRIPLETS for i in triplet}))
"""The core neurons the triplet indicator reads (0..8; neuron 9 is in no triplet)."""


class EmbeddedSoft(NamedTuple):
    """Soft-gradient ascent of the embedded core's flux over its biases (sampled)."""

    full_flux_before: Summary
    full_flux_after: Summary
    indicator_before: IndicatorSummary
    indicator_after: IndicatorSummary
    core_biases: list[list[float]]
    seconds: Summary


class LocalMaximum(NamedTuple):
    """The ±``delta`` single-bias check of the gradient optima (gains in bits)."""

    delta: float
    tolerance: float
    indicator_gains: list[list[float]]
    indicator_measured_gain: list[float]
    indicator_unmeasured_gain: list[float]
    full_flux_gain: list[float]


class ObjectiveScores(NamedTuple):
    """Every scored network under the Gaussian objectives, exactly, per seed.

    Attributes:
        gaussian: Recurrent Infomax's I_G of the exact moments (bits).
        moments: U1 - TC_G of the exact moments (bits).
        firing_rate: the mean of the exact stationary firing rates.
    """

    gaussian: dict[str, list[float]]
    moments: dict[str, list[float]]
    firing_rate: dict[str, list[float]]


class CouplingProbe(NamedTuple):
    """Gradient ascent on each objective on E/I networks of growing coupling (exact).

    One network ``fj.ei_network(8, strength=J)`` per seed and coupling J, optimised
    from its 50 %-firing biases (plus N(0, 0.1^2)) by Adam on each objective of
    :data:`PROBE_OBJECTIVES`; each optimum scored exactly (float64, bits).

    Attributes:
        strengths: the couplings J.
        flux: per objective, per seed, per J: the exact flux at its optimum.
        gaussian: the same for I_G at that optimum (its over-estimate of the flux).
    """

    strengths: list[float]
    flux: dict[str, list[list[float]]]
    gaussian: dict[str, list[list[float]]]


class OptimizationResult(NamedTuple):
    """Claims 4 and 5: every method's biases, scored exactly, per seed (bits).

    ``temperatures`` holds the per-neuron temperatures of the methods that adapt them
    (intrinsic plasticity's gains); ``objective_scores`` every scored network under
    I_G and U1 - TC_G.
    """

    optimized_biases: IndicatorSummary
    per_seed_total: dict[str, list[float]]
    exact: dict[str, IndicatorSummary]
    exact_per_seed_total: dict[str, list[float]]
    exact_full_flux: dict[str, Summary]
    exact_full_flux_per_seed: dict[str, list[float]]
    seconds: dict[str, Summary]
    biases: dict[str, list[list[float]]]
    curves: dict[str, list[list[float]]]
    embedded_soft: EmbeddedSoft
    local_maximum: LocalMaximum
    gradient_is_local_maximum: list[bool]
    full_flux_gradient_is_local_maximum: list[bool]
    self_organization_converged_at: list[int]
    temperatures: dict[str, list[list[float]]]
    objective_scores: ObjectiveScores
    coupling: CouplingProbe


class SeedOptimization(NamedTuple):
    """One seed's optimisations, a unit of work.

    Each method's biases, seconds and objective trace, the temperatures of the
    methods that adapt them, and the step at which self-organisation settled.
    """

    biases: dict[str, list[float]]
    seconds: dict[str, float]
    curves: dict[str, list[float]]
    settled: int
    temperatures: dict[str, list[float]]
    coupling_flux: dict[str, list[float]]
    coupling_gaussian: dict[str, list[float]]


def run(
    config: StudyConfig, checkpoints: Checkpoints = no_checkpoints
) -> OptimizationResult:
    """Optimises each seed's isolated-core biases nine ways; scores everything exactly.

    Each seed's optimisations (:class:`SeedOptimization`) go through
    ``checkpoints``, so a run that is killed resumes after its last finished seed.
    """
    seeds = config.seeds[: config.optimization_seeds]
    networks = config.networks(seeds)
    cores = [fj.isolated_core(net, groups) for net, groups in networks]
    zero = [with_fields(core, biases=np.zeros(core.num_neurons)) for core in cores]
    key = config.key("optimization")
    methods = {name: [] for name in METHODS}
    seconds = {name: [] for name in methods}
    curves = {name: [] for name in methods}
    converged_at = []
    coupling_flux = {name: [] for name in PROBE_OBJECTIVES}
    coupling_gaussian = {name: [] for name in PROBE_OBJECTIVES}
    for k, (seed, start) in enumerate(zip(seeds, zero, strict=True)):
        outcome = checkpoints(
            f"seed{seed}",
            SeedOptimization,
            functools.partial(_optimize_one, start, jax.random.fold_in(key, k), config),
        )
        for name in METHODS:
            fields = {"biases": outcome.biases[name]}
            if name in outcome.temperatures:
                fields["temperature"] = outcome.temperatures[name]
            methods[name].append(with_fields(start, **fields))
            seconds[name].append(outcome.seconds[name])
            curves[name].append(outcome.curves[name])
        converged_at.append(outcome.settled)
        for name in PROBE_OBJECTIVES:
            coupling_flux[name].append(outcome.coupling_flux[name])
            coupling_gaussian[name].append(outcome.coupling_gaussian[name])
    gains = [_single_bias_gains(n, _indicator) for n in methods["gradient_exact"]]
    full_gains = [
        _single_bias_gains(n, fj.exact_flux) for n in methods["gradient_exact_full"]
    ]

    half = [with_fields(c, biases=c.half_firing_biases()) for c in cores]
    uniform = [
        with_fields(c, biases=np.full(c.num_neurons, _best_uniform_bias(c, config)))
        for c in cores
    ]
    scored = {
        **methods,
        "uniform_optimal_bias": uniform,
        "half_firing_bias": half,
        "isolated": cores,
    }
    exact = {name: _exact_indicators(nets) for name, nets in scored.items()}
    full_flux = {name: _exact_full_fluxes(nets) for name, nets in scored.items()}
    scores = ObjectiveScores(
        *(
            {name: score(nets).tolist() for name, nets in scored.items()}
            for score in (_exact_gaussian_fluxes, _exact_moment_fluxes, _exact_rates)
        )
    )
    embedded = _embedded_soft(networks, jax.random.fold_in(key, 7), config)
    # Bar 5: the gradient optimum, sampled exactly like the other bars.
    intra, inter = flux_indicator(
        methods["gradient_exact"], config.key("optimized_bar"), config
    )
    measured = [float(g[list(MEASURED)].max()) for g in gains]
    full = [float(g.max()) for g in full_gains]
    return OptimizationResult(
        optimized_biases=indicator_summary(intra, inter),
        per_seed_total={"optimized_biases": (intra + inter).tolist()},
        exact={name: indicator_summary(*values) for name, values in exact.items()},
        exact_per_seed_total={
            name: (v[0] + v[1]).tolist() for name, v in exact.items()
        },
        exact_full_flux={name: summary(values) for name, values in full_flux.items()},
        exact_full_flux_per_seed={
            name: values.tolist() for name, values in full_flux.items()
        },
        seconds={name: summary(values) for name, values in seconds.items()},
        biases={
            name: [np.asarray(n.biases).tolist() for n in nets]
            for name, nets in {**methods, "half_firing_bias": half}.items()
        },
        curves=curves,
        embedded_soft=embedded,
        local_maximum=LocalMaximum(
            delta=0.01,
            tolerance=LOCAL_MAXIMUM_TOLERANCE,
            indicator_gains=[g.tolist() for g in gains],
            indicator_measured_gain=measured,
            indicator_unmeasured_gain=[float(g[-1]) for g in gains],
            full_flux_gain=full,
        ),
        gradient_is_local_maximum=[g <= LOCAL_MAXIMUM_TOLERANCE for g in measured],
        full_flux_gradient_is_local_maximum=[
            g <= LOCAL_MAXIMUM_TOLERANCE for g in full
        ],
        self_organization_converged_at=converged_at,
        temperatures={
            name: [np.asarray(n.temperature).tolist() for n in methods[name]]
            for name in ADAPTS_TEMPERATURE
        },
        objective_scores=scores,
        coupling=CouplingProbe(list(PROBE_STRENGTHS), coupling_flux, coupling_gaussian),
    )


def _gradient_optimum(start, key, objective, config: StudyConfig, polish, score):
    """Adam on an exact objective (float64, rate 0.2 -> 0.001), then Newton.

    Two starts: the 50 %-firing bias and the best uniform bias (by ``score``, the
    objective's exact values of a list of networks), each plus N(0, 0.1^2). The
    jitter matters: the 50 %-firing bias is a critical point (the flux is symmetric
    under v -> -sum_j W_j - v, whose fixed point it is) and, for these cores, a
    saddle. Newton's method polishes the better of the two Adam results (by
    ``score``), unless ``polish`` is None (the baselines: Adam's optimum is scored by
    the exact flux, which changes by far less than the differences between
    objectives). Returns ``(net, seconds, trace)``.
    """
    n = start.num_neurons
    centres = [
        np.asarray(start.half_firing_biases()),
        np.full(n, _best_uniform_bias(start, config, score)),
    ]
    clock = time.perf_counter()
    found = []
    for k, centre in enumerate(centres):
        run_key = jax.random.fold_in(key, k)
        jitter = 0.1 * np.asarray(jax.random.normal(run_key, (n,)))
        net, history = _ascend(
            with_fields(start, biases=centre + jitter), run_key, objective, config
        )
        found.append((float(score([net])[0]), net, history.objective.tolist()))
    _, best, trace = max(found, key=lambda item: item[0])
    biases = best.biases if polish is None else _newton_polish(best, *polish)
    optimum = with_fields(start, biases=np.asarray(biases))
    return optimum, time.perf_counter() - clock, trace


@functools.cache
def _decaying_adam(steps: int) -> optax.GradientTransformation:
    """Adam with its rate decaying 0.2 -> 0.001 over ``steps`` steps.

    One object per step count, so that every start of every seed shares one
    compiled ascent step per objective (a new optimizer compiles anew).
    """
    return optax.adam(optax.cosine_decay_schedule(0.2, steps, alpha=0.005))


@_in_float64
def _ascend(start: fj.BinaryNetwork, key, objective, config: StudyConfig):
    """Adam on an exact objective in float64 (:func:`_decaying_adam`)."""
    return fj.optimize_biases(
        _as_float64(start),
        key,
        objective,
        steps=config.gradient_steps,
        optimizer=_decaying_adam(config.gradient_steps),
        tol=None,
    )


def _optimize_one(start: fj.BinaryNetwork, key, config: StudyConfig):
    """One seed's optimisations, as a :class:`SeedOptimization`.

    The exact objectives run in float64 (float32 resolves the indicator only to about
    1e-4 bit, too coarse for a ±0.01 local-maximum check); the sampled ones in the
    library's default float32. The Newton polish of the indicator's optimum moves
    only the measured neurons: the unmeasured neuron's bias has no finite optimum
    (silencing it removes input noise from the triplets, so the indicator keeps rising
    as its bias goes to -inf). The biases are float32 (those of the networks the
    methods return), so they round-trip through JSON exactly.
    """
    outcome = {
        "gradient_exact": _gradient_optimum(
            start, key, _indicator, config, (_indicator, MEASURED), _exact_totals
        ),
        "gradient_exact_full": _gradient_optimum(
            start,
            jax.random.fold_in(key, 4),
            exact_flux_objective,
            config,
            (fj.exact_flux, range(start.num_neurons)),
            _exact_full_fluxes,
        ),
        "gradient_gaussian": _gradient_optimum(
            start,
            jax.random.fold_in(key, 5),
            exact_gaussian_objective,
            config,
            None,
            _exact_gaussian_fluxes,
        ),
        "gradient_moments": _gradient_optimum(
            start,
            jax.random.fold_in(key, 6),
            _moment_objective,
            config,
            None,
            _exact_moment_fluxes,
        ),
    }
    clock = time.perf_counter()
    net, trace = _hill_climb_restarts(start, jax.random.fold_in(key, 2), config)
    outcome["hill_climb"] = (
        with_fields(start, biases=np.asarray(net.biases)),
        time.perf_counter() - clock,
        trace,
    )
    # The soft estimate of the full-state flux, from the 50 %-firing bias, float32.
    half = with_fields(start, biases=start.half_firing_biases())
    clock = time.perf_counter()
    net, history = fj.optimize_biases(
        half,
        jax.random.fold_in(key, 1),
        functools.partial(fj.soft_flux, steps=config.soft_samples),
        steps=config.gradient_steps,
        optimizer=optax.adam(0.2),
        tol=None,
    )
    outcome["gradient_soft"] = (
        net,
        time.perf_counter() - clock,
        history.objective.tolist(),
    )
    net, seconds, trace, history = _homeostatic(
        start, jax.random.fold_in(key, 3), 0.5, config
    )
    settled = _converged_at(np.asarray(history.biases), np.asarray(history.steps), 0.5)
    outcome["self_organized"] = (net, seconds, trace)
    outcome["infomax_rule"] = _homeostatic(
        start, jax.random.fold_in(key, 8), fj.INFOMAX_TARGET_RATE, config
    )[:3]
    clock = time.perf_counter()
    # as many updates as the homeostatic rules run
    net = intrinsic_plasticity(
        start, jax.random.fold_in(key, 9), config.self_organization_steps
    )
    outcome["intrinsic_plasticity"] = (net, time.perf_counter() - clock, [])
    optima = _coupling_probe(jax.random.fold_in(key, 10), config)
    return SeedOptimization(
        biases={k: np.asarray(net.biases).tolist() for k, (net, *_) in outcome.items()},
        seconds={k: float(secs) for k, (_, secs, _) in outcome.items()},
        curves={k: [float(v) for v in trace] for k, (*_, trace) in outcome.items()},
        settled=int(settled),
        temperatures={
            k: np.broadcast_to(outcome[k][0].temperature, start.num_neurons).tolist()
            for k in ADAPTS_TEMPERATURE
        },
        coupling_flux={
            k: _exact_full_fluxes(nets).tolist() for k, nets in optima.items()
        },
        coupling_gaussian={
            k: _exact_gaussian_fluxes(nets).tolist() for k, nets in optima.items()
        },
    )


PROBE_STRENGTHS = (1.0, 2.0, 4.0, 8.0)
"""The couplings J of the probe's E/I networks (``fj.ei_network(8, strength=J)``)."""
PROBE_NEURONS = 8
"""The size of the probe's networks (16 times cheaper per exact step than the core's
10; the three objectives compile once more for it)."""
PROBE_OBJECTIVES = {
    "flux": exact_flux_objective,
    "moments": _moment_objective,
    "gaussian": exact_gaussian_objective,
}
"""The probe's objectives: the exact flux, U1 - TC_G and I_G (exact moments)."""


def _coupling_probe(key, config: StudyConfig) -> dict[str, list[fj.BinaryNetwork]]:
    """Per objective, its Adam optimum on an 8-neuron E/I network per coupling J.

    The networks and the jittered 50 %-firing starts come from ``key``; every
    objective starts from the same biases (float64, :func:`_ascend`).
    """
    optima = {name: [] for name in PROBE_OBJECTIVES}
    for k, strength in enumerate(PROBE_STRENGTHS):
        net_key, jitter_key, ascend_key = jax.random.split(
            jax.random.fold_in(key, k), 3
        )
        net = fj.ei_network(PROBE_NEURONS, key=net_key, strength=strength)
        jitter = 0.1 * np.asarray(jax.random.normal(jitter_key, (PROBE_NEURONS,)))
        start = with_fields(net, biases=np.asarray(net.half_firing_biases()) + jitter)
        for name, objective in PROBE_OBJECTIVES.items():
            optimum, _ = _ascend(start, ascend_key, objective, config)
            optima[name].append(optimum)
    return optima


def _homeostatic(start: fj.BinaryNetwork, key, target: float, config: StudyConfig):
    """The homeostatic rule at ``target`` from ``start``: (net, seconds, trace, history).

    ``target`` 1/2 is the paper's rule; :data:`fluxjax.INFOMAX_TARGET_RATE` is
    Recurrent Infomax's threshold rule. The trace is the exact indicator at 20 of the
    bias snapshots.
    """
    clock = time.perf_counter()
    net, history = fj.self_organize(
        start,
        key,
        config.self_organization_steps,
        rate=0.01,
        target=target,
        burn_in=1_000,
    )
    seconds = time.perf_counter() - clock
    snapshots = np.asarray(history.biases)
    every = snapshots[:: max(1, len(snapshots) // 20)]
    trace = _exact_totals([with_fields(start, biases=b) for b in every]).tolist()
    return net, seconds, trace, history


def _embedded_soft(networks, key, config: StudyConfig) -> EmbeddedSoft:
    """Soft-gradient ascent of the embedded core's flux over the core's biases.

    Runs in the full 125-neuron network; checked with sampled estimates (Miller–Madow
    full flux and the triplet indicator) before and after.
    """
    before, after, seconds = [], [], []
    for k, (net, groups) in enumerate(networks):
        core = list(groups["core"])
        clock = time.perf_counter()
        optimized, _ = fj.optimize_biases(
            net,
            jax.random.fold_in(key, k),
            functools.partial(fj.soft_flux, steps=config.soft_samples, neurons=core),
            steps=config.gradient_steps,
            optimizer=optax.adam(0.2),
            trainable=core,
            tol=None,
        )
        secs = time.perf_counter() - clock
        before.append(net)
        after.append(optimized)
        seconds.append(secs)
    check_key = config.key("embedded_soft_check")
    states = record_core(
        before + after, check_key, config, list(networks[0][1]["core"])
    )
    flux = np.asarray(fj.plugin_flux(states, "miller-madow"))
    intra, inter = map(np.asarray, fj.plugin_triplet_flux(states, TRIPLETS))
    m = len(networks)
    return EmbeddedSoft(
        full_flux_before=summary(flux[:m]),
        full_flux_after=summary(flux[m:]),
        indicator_before=indicator_summary(intra[:m], inter[:m]),
        indicator_after=indicator_summary(intra[m:], inter[m:]),
        core_biases=[np.asarray(n.biases)[:10].tolist() for n in after],
        seconds=summary(seconds),
    )


def _best_uniform_bias(
    core: fj.BinaryNetwork, config: StudyConfig, score=_exact_totals
) -> float:
    """The common bias of ``config.uniform_biases`` that scores best.

    ``score`` maps networks to values (default: the exact indicator).
    """
    return float(best_uniform_biases([core], config.uniform_biases, score)[0][0])


@_in_float64
def _hill_climb_restarts(start: fj.BinaryNetwork, key, config: StudyConfig):
    """The paper's 4 restarts of the hill climb, on the exact indicator, vmapped.

    Starts: zero, the 50 %-firing bias, the best uniform bias, Uniform(-5, 5). Returns
    the best network and its objective trace.
    """
    start = _as_float64(start)
    n = start.num_neurons
    half = start.half_firing_biases()
    best_uniform = _best_uniform_bias(start, config)
    random_key, climb_key = jax.random.split(key)
    random = jax.random.uniform(random_key, (n,), minval=-5.0, maxval=5.0)
    starts = jnp.stack([jnp.zeros(n), half, jnp.full(n, best_uniform), random])
    starts = starts.astype(start.biases.dtype)

    def climb(biases, restart_key):
        net, history = fj.hill_climb(
            eqx.tree_at(lambda m: m.biases, start, biases),
            restart_key,
            _indicator,
            iterations=config.hill_iterations,
            halve_at=config.hill_iterations // 2,
        )
        return net.biases, history.objective

    keys = jax.random.split(climb_key, len(starts))
    biases, traces = jax.vmap(climb)(starts, keys)
    best = int(np.argmax(np.asarray(traces)[:, -1]))
    return with_fields(start, biases=np.asarray(biases[best])), np.asarray(
        traces[best]
    ).tolist()


METHODS = (
    "gradient_exact",
    "gradient_exact_full",
    "gradient_soft",
    "hill_climb",
    "self_organized",
    "gradient_gaussian",
    "gradient_moments",
    "infomax_rule",
    "intrinsic_plasticity",
)
BASELINES = (
    "gradient_exact_full",
    "gradient_moments",
    "gradient_gaussian",
    "self_organized",
    "infomax_rule",
    "intrinsic_plasticity",
)
"""The methods of the objective comparison (issue 29), in the report's order."""
ADAPTS_TEMPERATURE = ("intrinsic_plasticity",)
"""Methods that adapt the per-neuron temperature (gain) as well as the biases."""
METHOD_LABELS = {
    "gradient_exact": "gradient (exact indicator)",
    "gradient_exact_full": "gradient (exact full flux)",
    "gradient_soft": "gradient (soft)",
    "hill_climb": "hill climb",
    "self_organized": "self-organisation",
    "gradient_moments": "gradient (exact U1 − TC_G)",
    "gradient_gaussian": "gradient (exact I_G, Recurrent Infomax)",
    "infomax_rule": f"Recurrent Infomax rule (rate {fj.INFOMAX_TARGET_RATE:g})",
    "intrinsic_plasticity": "intrinsic plasticity (Triesch)",
    "uniform_optimal_bias": "uniform optimal bias",
    "half_firing_bias": "50 %-firing bias",
    "isolated": "isolated (v = 0)",
}


def plot(result: OptimizationResult) -> Figure:
    """Exact indicator per method (bars), optimisation traces, and final biases."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    names = list(METHOD_LABELS)
    totals = [1e3 * result.exact[n].total for n in names]
    errors = [
        1e3 * np.hypot(result.exact[n].intra.sd, result.exact[n].inter.sd)
        for n in names
    ]
    axes[0].barh(
        range(len(names)),
        totals,
        xerr=errors,
        color=[f"C{k % 10}" for k in range(len(names) - 1)] + ["k"],
    )
    axes[0].set_yticks(range(len(names)), [METHOD_LABELS[n] for n in names], fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set(
        xlabel="exact flux indicator (10$^{-3}$ bit)", title="isolated core, by method"
    )
    for name, color in (("gradient_exact", "C0"), ("hill_climb", "C2")):
        trace = 1e3 * np.asarray(result.curves[name][0])
        axes[1].plot(
            np.arange(len(trace)), trace, color=color, label=METHOD_LABELS[name]
        )
    so = 1e3 * np.asarray(result.curves["self_organized"][0])
    axes[1].plot(
        np.linspace(0, len(result.curves["hill_climb"][0]), len(so)),
        so,
        color="C3",
        label="self-organisation (rescaled time)",
    )
    axes[1].set(
        xlabel="step / iteration",
        ylabel="exact indicator (10$^{-3}$ bit)",
        title="first seed: progress",
    )
    axes[1].legend(fontsize=8)
    for name, marker in (
        ("gradient_exact", "o"),
        ("hill_climb", "s"),
        ("self_organized", "^"),
        ("half_firing_bias", "x"),
    ):
        biases = np.asarray(result.biases[name][0])
        axes[2].plot(np.arange(len(biases)), biases, marker, label=METHOD_LABELS[name])
    axes[2].set(
        xlabel="core neuron",
        ylabel="bias (weight units)",
        title="final biases (first seed)",
    )
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig
