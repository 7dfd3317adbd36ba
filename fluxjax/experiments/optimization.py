"""Claims 4 and 5: individually optimised biases, and a local rule that finds them.

On each seed's isolated core (10 neurons, 1024 states, sigma = 0) the flux indicator
is exact and differentiable, so the biases are optimised four ways and every result is
scored exactly: gradient ascent on the exact indicator (``optimize_biases``,
"exact_triplet"), gradient ascent on the soft estimate of the full-state flux
("soft"), the paper's stochastic hill climb (4 restarts; on the exact indicator, and
in the full run also on the paper's sampled indicator), and the homeostatic
self-organisation rule v_i <- v_i - eps (s_i - 1/2) run from v = 0. The gradient
optimum is checked to be a local maximum (no single-bias change of ±0.01 improves it).
Bar 5 of Fig. 6(a) is the gradient optimum, sampled like the other bars.
"""

import time

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
    StudyConfig,
    exact_indicator,
    flux_indicator,
    indicator_summary,
    record_core,
    summary,
    with_fields,
)


def _exact_total(net: fj.BinaryNetwork) -> float:
    intra, inter = fj.exact_triplet_flux(net, TRIPLETS)
    return float(intra + inter)


def _is_local_maximum(net: fj.BinaryNetwork, delta: float = 0.01) -> bool:
    """Whether no single bias changed by ±delta raises the exact indicator."""
    best = _exact_total(net)
    biases = np.asarray(net.biases)
    for i in range(net.num_neurons):
        for sign in (1.0, -1.0):
            moved = biases.copy()
            moved[i] += sign * delta
            if _exact_total(with_fields(net, biases=moved)) > best:
                return False
    return True


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


def run(config: StudyConfig) -> dict:
    """Optimises each seed's isolated-core biases four ways; scores everything exactly."""
    networks = config.networks(config.seeds[: config.optimization_seeds])
    cores = [fj.isolated_core(net, groups) for net, groups in networks]
    zero = [with_fields(core, biases=np.zeros(core.num_neurons)) for core in cores]
    key = config.key("optimization")
    methods = {
        name: []
        for name in ("gradient_exact", "gradient_soft", "hill_climb", "self_organized")
    }
    seconds = {name: [] for name in methods}
    curves = {name: [] for name in methods}
    local_maximum, converged_at = [], []
    for k, start in enumerate(zero):
        outcome = _optimize_one(start, jax.random.fold_in(key, k), config)
        for name, (net, secs, curve, *_) in outcome.items():
            methods[name].append(net)
            seconds[name].append(secs)
            curves[name].append(curve)
        local_maximum.append(_is_local_maximum(outcome["gradient_exact"][0]))
        converged_at.append(outcome["self_organized"][3])

    half = [with_fields(c, biases=-np.asarray(c.weights).sum(0) / 2) for c in cores]
    exact = {name: exact_indicator(nets) for name, nets in methods.items()}
    exact["half_firing_bias"] = exact_indicator(half)
    exact["isolated"] = exact_indicator(cores)
    full_flux = {
        name: [float(fj.exact_flux(n)) for n in nets]
        for name, nets in {
            **methods,
            "half_firing_bias": half,
            "isolated": cores,
        }.items()
    }
    embedded = _embedded_soft(networks, jax.random.fold_in(key, 7), config)
    # Bar 5: the gradient optimum, sampled exactly like the other bars.
    intra, inter = flux_indicator(
        methods["gradient_exact"], config.key("optimized_bar"), config
    )
    return {
        "optimized_biases": indicator_summary(intra, inter),
        "per_seed_total": {"optimized_biases": (intra + inter).tolist()},
        "exact": {name: indicator_summary(*values) for name, values in exact.items()},
        "exact_per_seed_total": {
            name: (v[0] + v[1]).tolist() for name, v in exact.items()
        },
        "exact_full_flux": {
            name: summary(values) for name, values in full_flux.items()
        },
        "seconds": {name: summary(values) for name, values in seconds.items()},
        "biases": {
            name: [np.asarray(n.biases).tolist() for n in nets]
            for name, nets in {**methods, "half_firing_bias": half}.items()
        },
        "curves": curves,
        "embedded_soft": embedded,
        "gradient_is_local_maximum": local_maximum,
        "self_organization_converged_at": converged_at,
    }


def _optimize_one(start: fj.BinaryNetwork, key, config: StudyConfig) -> dict:
    """One seed's four optimisations: ``{method: (net, seconds, trace)}``.

    Self-organisation adds a fourth entry, the step at which its biases settled.
    """
    outcome = {}
    # The gradient methods start from the 50 %-firing bias (the mean-field point);
    # the rule starts from v = 0 as in the paper; the hill climb from its 4 starts.
    half = with_fields(start, biases=-np.asarray(start.weights).sum(0) / 2)
    clock = time.perf_counter()
    net, history = fj.optimize_biases(
        half,
        key,
        "exact_triplet",
        steps=config.gradient_steps,
        optimizer=optax.adam(0.2),
        objective_options={"triplets": TRIPLETS},
        tol=1e-7,
    )
    outcome["gradient_exact"] = (
        net,
        time.perf_counter() - clock,
        history.objective.tolist(),
    )
    clock = time.perf_counter()
    net, history = fj.optimize_biases(
        half,
        jax.random.fold_in(key, 1),
        "soft",
        steps=config.gradient_steps,
        optimizer=optax.adam(0.2),
        objective_options={"steps": config.soft_samples},
        tol=None,
    )
    outcome["gradient_soft"] = (
        net,
        time.perf_counter() - clock,
        history.objective.tolist(),
    )
    clock = time.perf_counter()
    net, trace = _hill_climb_restarts(start, jax.random.fold_in(key, 2), config)
    outcome["hill_climb"] = (net, time.perf_counter() - clock, trace)
    clock = time.perf_counter()
    net, history = fj.self_organize(
        start,
        jax.random.fold_in(key, 3),
        config.self_organization_steps,
        rate=0.01,
        target=0.5,
        burn_in=1_000,
    )
    seconds = time.perf_counter() - clock
    snapshots = np.asarray(history.biases)
    trace = [
        _exact_total(with_fields(start, biases=b))
        for b in snapshots[:: max(1, len(snapshots) // 20)]
    ]
    settled = _converged_at(snapshots, np.asarray(history.steps), 0.5)
    outcome["self_organized"] = (net, seconds, trace, settled)
    return outcome


def _embedded_soft(networks, key, config: StudyConfig) -> dict:
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
            "soft",
            steps=config.gradient_steps,
            optimizer=optax.adam(0.2),
            neurons=core,
            trainable=core,
            objective_options={"steps": config.soft_samples},
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
    intra, inter = map(np.asarray, fj.triplet_flux(states, TRIPLETS))
    m = len(networks)
    return {
        "full_flux_before": summary(flux[:m]),
        "full_flux_after": summary(flux[m:]),
        "indicator_before": indicator_summary(intra[:m], inter[:m]),
        "indicator_after": indicator_summary(intra[m:], inter[m:]),
        "core_biases": [np.asarray(n.biases)[:10].tolist() for n in after],
        "seconds": summary(seconds),
    }


def _hill_climb_restarts(start: fj.BinaryNetwork, key, config: StudyConfig):
    """The paper's 4 restarts of the hill climb, on the exact indicator, vmapped.

    Starts: zero, the 50 %-firing bias, the best uniform bias, Uniform(-5, 5). Returns
    the best network and its objective trace.
    """
    n = start.num_neurons
    half = -np.asarray(start.weights).sum(0) / 2
    uniform_values = np.asarray(config.uniform_biases)
    swept = [with_fields(start, biases=np.full(n, v)) for v in uniform_values]
    best_uniform = uniform_values[np.argmax(np.add(*exact_indicator(swept)))]
    random_key, climb_key = jax.random.split(key)
    random = jax.random.uniform(random_key, (n,), minval=-5.0, maxval=5.0)
    starts = jnp.stack([jnp.zeros(n), half, jnp.full(n, best_uniform), random])
    starts = starts.astype(start.biases.dtype)

    def climb(biases, restart_key):
        net, history = fj.hill_climb(
            eqx.tree_at(lambda m: m.biases, start, biases),
            restart_key,
            "exact_triplet",
            iterations=config.hill_iterations,
            halve_at=config.hill_iterations // 2,
            objective_options={"triplets": TRIPLETS},
        )
        return net.biases, history.objective

    keys = jax.random.split(climb_key, len(starts))
    biases, traces = jax.vmap(climb)(starts, keys)
    best = int(np.argmax(np.asarray(traces)[:, -1]))
    return with_fields(start, biases=np.asarray(biases[best])), np.asarray(
        traces[best]
    ).tolist()


METHOD_LABELS = {
    "gradient_exact": "gradient (exact)",
    "gradient_soft": "gradient (soft)",
    "hill_climb": "hill climb",
    "self_organized": "self-organisation",
    "half_firing_bias": "50 %-firing bias",
    "isolated": "isolated (v = 0)",
}


def plot(result: dict) -> Figure:
    """Exact indicator per method (bars), optimisation traces, and final biases."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    names = list(METHOD_LABELS)
    totals = [
        1e3
        * (result["exact"][n]["intra"]["mean"] + result["exact"][n]["inter"]["mean"])
        for n in names
    ]
    errors = [
        1e3
        * np.hypot(result["exact"][n]["intra"]["sd"], result["exact"][n]["inter"]["sd"])
        for n in names
    ]
    axes[0].barh(
        range(len(names)),
        totals,
        xerr=errors,
        color=["C0", "C1", "C2", "C3", "C7", "k"],
    )
    axes[0].set_yticks(range(len(names)), [METHOD_LABELS[n] for n in names], fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set(
        xlabel="exact flux indicator (10$^{-3}$ bit)", title="isolated core, by method"
    )
    for name, color in (("gradient_exact", "C0"), ("hill_climb", "C2")):
        trace = 1e3 * np.asarray(result["curves"][name][0])
        axes[1].plot(
            np.arange(len(trace)), trace, color=color, label=METHOD_LABELS[name]
        )
    so = 1e3 * np.asarray(result["curves"]["self_organized"][0])
    axes[1].plot(
        np.linspace(0, len(result["curves"]["hill_climb"][0]), len(so)),
        so,
        color="C3",
        label="self-organisation (rescaled time)",
    )
    axes[1].set(
        xlabel="step / iteration",
        ylabel="exact indicator (10$^{-3}$ bit)",
        title=f"seed {0}: progress",
    )
    axes[1].legend(fontsize=8)
    for name, marker in (
        ("gradient_exact", "o"),
        ("hill_climb", "s"),
        ("self_organized", "^"),
        ("half_firing_bias", "x"),
    ):
        biases = np.asarray(result["biases"][name][0])
        axes[2].plot(np.arange(len(biases)), biases, marker, label=METHOD_LABELS[name])
    axes[2].set(
        xlabel="core neuron",
        ylabel="bias (weight units)",
        title="final biases (first seed)",
    )
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig
