"""Does flux make a better reservoir? The study's application claim, tested.

The paper says its findings matter "for the design of artificial recurrent systems
such as reservoir computers". Here every network is used as a reservoir
(:mod:`fluxjax.reservoir`): one scalar input u_t enters through random +-s input
weights (s = ``input_scale`` times the network's temperature), the readout features
are the firing probabilities p(x_t, u_t), and three standard tasks are scored on
held-out data with validated ridge readouts: linear memory capacity (MC, delays
1..``max_delay``), NARMA-10 (NRMSE, lower is better) and delayed 3-bit parity (bits
summed over delays 0..``parity_delays``). The same inputs and splits go to every
setting of one seed, and to a ReservoirPy tanh echo-state network of the same size
(when ReservoirPy is installed): what a reservoir user would run instead.

Networks: the paper's 125-neuron L5 microcircuit and random excitatory/inhibitory
networks (:func:`fluxjax.ei_network`) of several sizes, coupling strengths J and
in-degrees K. Bias settings of each network (the weights are never changed):

- ``zero``: b = 0;
- ``uniform_flux``: the common bias with the highest free-running flux (a grid);
- ``self_organized``: the local 50 %-firing rule (:func:`fluxjax.self_organize`);
- ``flux_gradient``: gradient ascent of the large-n flux estimate
  (:func:`fluxjax.info.moments.moment_flux`), from the self-organised biases (where
  a step gives a non-finite estimate, the run keeps its start and the result lists
  the network and seed in ``gradient_failures``);
- ``intrinsic_plasticity``: Triesch's rule, which also adapts each neuron's gain
  (its temperature), driven by the task's input distribution;
- ``task_ceiling``: per task, the best (uniform bias, noise) of a grid, selected on
  the test split (an optimistic ceiling, not a setting one could deploy).

Free-running flux is the large-n estimate V = U1 - TC_G at ``flux_steps_per_neuron``
* n transitions (validated there; see :mod:`fluxjax.info.moments`), with its
jackknife error checked by :func:`fluxjax.moment_flux_stderr`: estimates outside the
validated regime are listed in ``flux_outside_regime`` and in the report. The noise sweep
(networks of at most ``MAX_NOISE_SWEEP_NEURONS`` neurons: the noise integral of the
features costs up to 257 sigmoids per neuron and step) asks whether each task's best noise
sits at the flux's best noise (recurrence resonance).
"""

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

import fluxjax as fj
from fluxjax import reservoir as rc

from ._common import (
    ReservoirConfig,
    StudyConfig,
    adam,
    caught_warnings,
    flux_objective,
    summary,
    temperature_scale,
    with_fields,
)
from ._results import Summary


SETTINGS = (
    "zero",
    "uniform_flux",
    "self_organized",
    "flux_gradient",
    "intrinsic_plasticity",
)
"""The bias settings scored on every network (the ceiling is chosen per task)."""
CEILING = "task_ceiling"
ESN = "esn_reservoirpy"
TASKS = ("memory_capacity", "narma10_nrmse", "parity_bits")
HIGHER_IS_BETTER = {
    "memory_capacity": True,
    "narma10_nrmse": False,
    "parity_bits": True,
}
MAX_NOISE_SWEEP_NEURONS = 125


class ReservoirRow(NamedTuple):
    """One network class and setting, each entry summarised over seeds.

    ``flux`` is None for the echo-state reference (it has no binary states).
    """

    network: str
    n: int
    setting: str
    flux: Summary | None
    memory_capacity: Summary
    narma10_nrmse: Summary
    parity_bits: Summary


class Point(NamedTuple):
    """One scored configuration (network class, seed, setting), for the figure."""

    network: str
    n: int
    setting: str
    seed: int
    flux: float
    memory_capacity: float
    narma10_nrmse: float
    parity_bits: float


class NoiseSweep(NamedTuple):
    """Flux and task scores against the noise at the 50 %-firing biases.

    Means over seeds, and the noise each is best at.
    """

    network: str
    noise: list[float]
    flux: list[float]
    memory_capacity: list[float]
    narma10_nrmse: list[float]
    parity_bits: list[float]
    best_noise: dict[str, float]


class ReservoirResult(NamedTuple):
    """The reservoir study (``results.json["reservoir"]`` holds all of it).

    ``rank_correlation`` is Spearman's rho between free-running flux and each task
    score over every (network, seed, setting) point of :data:`SETTINGS`;
    ``within_network_correlation`` is the mean over network classes and seeds of rho
    across the settings of one network (free of the size effect that pooling adds).
    ``flux_outside_regime`` lists the flux estimates (network, seed, setting or
    noise) that :func:`fluxjax.moment_flux_stderr` flags as outside its validated
    regime, with the reason: their flux is not to be trusted.
    """

    rows: list[ReservoirRow]
    rank_correlation: dict[str, float]
    within_network_correlation: dict[str, float]
    noise_sweeps: list[NoiseSweep]
    points: list[Point]
    reference: str
    gradient_failures: list[str]
    flux_outside_regime: list[str]


def spearman(x, y) -> float:
    """Spearman's rank correlation (Pearson's r of the ranks, ties given mean ranks)."""

    def ranks(v):
        v = np.asarray(v, float)
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):  # ties: mean rank
            tied = v == value
            r[tied] = r[tied].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _label(n: int, strength: float, in_degree: int | None) -> str:
    return f"ei_n{n}_J{strength:g}_K{'dense' if in_degree is None else in_degree}"


def _task_inputs(key, length: int) -> np.ndarray:
    """The three tasks' input sequences ``(3, length, 1)``: MC, NARMA-10, parity."""
    mc_key, narma_key, parity_key = jax.random.split(key, 3)
    return np.stack(
        [
            np.asarray(rc.memory_capacity_inputs(mc_key, length)),
            np.asarray(rc.narma10_inputs(narma_key, length)),
            np.asarray(rc.parity_inputs(parity_key, length)),
        ]
    )[..., None]


def _scores(features, inputs: np.ndarray, config: ReservoirConfig) -> np.ndarray:
    """MC, NARMA-10 NRMSE and parity bits ``(..., 3)`` of feature runs.

    ``features`` is ``(..., 3, T, n)``, the three tasks' runs along the third-last
    axis; each task is one batched call.
    """
    split = rc.Split(*config.split)
    mc = rc.memory_capacity(
        features[..., 0, :, :], inputs[0, :, 0], split, max_delay=config.max_delay
    )
    targets = rc.narma10(inputs[1, :, 0])
    narma = rc.narma10_nrmse(features[..., 1, :, :], targets, split)
    parity = rc.parity_bits(
        features[..., 2, :, :], inputs[2, :, 0], split, max_delay=config.parity_delays
    )
    return np.stack([np.asarray(t.total, float) for t in (mc, narma, parity)], -1)


def _flux(net: fj.BinaryNetwork, key, config: ReservoirConfig) -> tuple[float, str]:
    """The free-running flux estimate (bit) and its regime problem ("" if none).

    The problem is :func:`fluxjax.moment_flux_stderr`'s warning, if it gave one.
    """
    steps = config.flux_steps_per_neuron * net.num_neurons
    (value, _), problem = caught_warnings(fj.moment_flux_stderr, net, key, steps)
    return float(value), problem


def _uniform(net: fj.BinaryNetwork, value: float, noise=None) -> fj.BinaryNetwork:
    scale = temperature_scale(net)
    biases = np.full(net.num_neurons, value * scale)
    return with_fields(net, biases=biases, noise=noise)


def _settings(net, input_weights, key, config: ReservoirConfig):
    """The networks of :data:`SETTINGS` (same weights), and each one's flux."""
    uniform_key, so_key, grad_key, ip_key, flux_key = jax.random.split(key, 5)
    scale = temperature_scale(net)
    zero = with_fields(net, biases=np.zeros(net.num_neurons))
    grid = [_uniform(net, v) for v in config.uniform_biases]
    grid_flux = [_flux(g, uniform_key, config)[0] for g in grid]  # common key: paired
    uniform = grid[int(np.argmax(grid_flux))]
    organized, _ = fj.self_organize(
        zero, so_key, config.adaptation_steps, rate=0.01 * scale
    )
    objective = flux_objective(config.flux_steps_per_neuron * net.num_neurons)
    optimizer = adam(config.learning_rate * scale)
    try:
        gradient, _ = fj.optimize_biases(
            organized,
            grad_key,
            objective,
            steps=config.gradient_steps,
            optimizer=optimizer,
        )
        failed = False
    except FloatingPointError:
        gradient, failed = organized, True
    plastic = rc.intrinsic_plasticity(
        rc.Reservoir(zero, input_weights),
        ip_key,
        np.asarray(rc.memory_capacity_inputs(ip_key, config.adaptation_steps))[:, None],
    ).network
    nets = dict(
        zero=zero,
        uniform_flux=uniform,
        self_organized=organized,
        flux_gradient=gradient,
        intrinsic_plasticity=plastic,
    )
    flux = {
        name: _flux(candidate, flux_key, config) for name, candidate in nets.items()
    }
    return nets, flux, failed


def _run_all(nets, input_weights, inputs, key):
    """Features ``(len(nets), 3, T, n)``: every network on the three task inputs.

    Noiseless and noisy networks run in separate calls (keys ``fold_in(key, 0)``
    and ``fold_in(key, 1)``): one ensemble holding both would integrate the noise for
    all of them.
    """
    out = [None] * len(nets)
    for noisy in (False, True):
        chosen = [k for k, net in enumerate(nets) if (net.noise is not None) == noisy]
        if not chosen:
            continue
        reservoirs = [rc.Reservoir(nets[k], input_weights) for k in chosen]
        features = rc.run_ensemble(
            [r for r in reservoirs for _ in range(3)],
            jax.random.fold_in(key, int(noisy)),
            np.tile(inputs, (len(chosen), 1, 1)),
        )
        for i, k in enumerate(chosen):
            out[k] = features[3 * i : 3 * i + 3]
    return jnp.stack(out)


def _one_seed(net, seed_key, config: ReservoirConfig, noise_sweep: bool):
    """Every setting, the ceiling grid and the noise sweep of one network."""
    input_key, task_key, settings_key, run_key, sweep_key = jax.random.split(
        seed_key, 5
    )
    scale = temperature_scale(net)
    n = net.num_neurons
    input_weights = rc.random_input_weights(
        input_key, 1, n, scale=config.input_scale * scale
    )
    inputs = _task_inputs(task_key, config.length)
    nets, flux, failed = _settings(net, input_weights, settings_key, config)
    noises = config.noise_levels if noise_sweep else (0.0,)
    ceiling = [
        _uniform(net, v, noise=s)
        for v, s in itertools.product(config.ceiling_biases, noises)
    ]
    organized = nets["self_organized"]
    sweep = [with_fields(organized, noise=s) for s in noises[1:]] if noise_sweep else []
    everything = [*nets.values(), *ceiling, *sweep]
    features = _run_all(everything, input_weights, inputs, run_key)
    scores = _scores(features, inputs, config)
    settings = {name: scores[i] for i, name in enumerate(nets)}
    grid = scores[len(nets) : len(nets) + len(ceiling)]
    best = [
        grid[:, t].max() if HIGHER_IS_BETTER[task] else grid[:, t].min()
        for t, task in enumerate(TASKS)
    ]
    result = dict(
        settings=settings,
        flux={name: value for name, (value, _) in flux.items()},
        flux_problems={name: problem for name, (_, problem) in flux.items()},
        ceiling=np.array(best),
        inputs=inputs,
        gradient_failed=failed,
    )
    if noise_sweep:
        swept = [organized, *sweep]
        result["sweep_scores"] = np.concatenate([scores[2:3], scores[-len(sweep) :]])
        swept_flux = [_flux(s, sweep_key, config) for s in swept]
        result["sweep_flux"] = [value for value, _ in swept_flux]
        result["flux_problems"].update(
            (f"noise {noise:g}", problem)
            for noise, (_, problem) in zip(noises, swept_flux, strict=True)
        )
    return result


def _esn_scores(n: int, inputs: np.ndarray, seed: int, config: ReservoirConfig):
    """The scores of a ReservoirPy tanh ESN of n units on the same inputs and splits.

    Spectral radius 0.9, leak rate 1, the same input scale; None without ReservoirPy.
    """
    try:
        from reservoirpy.nodes import Reservoir as ESN
    except ImportError:
        return None
    features = []
    for sequence in inputs:
        node = ESN(n, sr=0.9, input_scaling=config.input_scale, seed=seed)
        features.append(node.run(sequence))
    return _scores(np.stack(features), inputs, config)


def _classes(study: StudyConfig, config: ReservoirConfig):
    """``(label, n, build(seed) -> network)`` of every network class."""
    classes = []
    if config.paper_network:

        def paper(seed):
            net, _ = fj.l5_microcircuit(
                seed, core_density=study.core_density, t0=study.t0
            )
            return net

        classes.append(("paper_l5", 125, paper))
    for n, strength, in_degree in config.networks:

        def build(seed, n=n, strength=strength, in_degree=in_degree):
            key = jax.random.fold_in(jax.random.key(seed), n)
            return fj.ei_network(n, key=key, strength=strength, in_degree=in_degree)

        classes.append((_label(n, strength, in_degree), n, build))
    return classes


def run(study: StudyConfig) -> ReservoirResult:
    """The reservoir study at the sizes of ``study.reservoir``."""
    config = study.reservoir
    key = study.key("reservoir")
    rows, points, sweeps, failures, outside = [], [], [], [], []
    reference_rows: dict[int, list] = {}
    classes = _classes(study, config)
    bar = tqdm(total=len(classes) * config.num_seeds, desc="reservoir", leave=False)
    for c, (label, n, build) in enumerate(classes):
        per_seed = []
        for s, seed in enumerate(study.seeds[: config.num_seeds]):
            seed_key = jax.random.fold_in(jax.random.fold_in(key, c), s)
            sweep = n <= MAX_NOISE_SWEEP_NEURONS
            done = _one_seed(build(seed), seed_key, config, sweep)
            per_seed.append(done)
            if done["gradient_failed"]:
                failures.append(f"{label} seed {seed}")
            outside.extend(
                f"{label} seed {seed} {name}: {problem}"
                for name, problem in done["flux_problems"].items()
                if problem
            )
            for name in SETTINGS:
                points.append(
                    Point(
                        label,
                        n,
                        name,
                        seed,
                        done["flux"][name],
                        *done["settings"][name],
                    )
                )
            if n not in reference_rows or len(reference_rows[n]) < s + 1:
                esn = _esn_scores(n, done["inputs"], seed, config)
                if esn is not None:
                    reference_rows.setdefault(n, []).append(esn)
            bar.update()
        rows.extend(_rows(label, n, per_seed))
        if per_seed[0].get("sweep_scores") is not None:
            sweeps.append(_sweep(label, per_seed, config))
    bar.close()
    for n, scores in sorted(reference_rows.items()):
        scores = np.asarray(scores)
        rows.append(
            ReservoirRow(
                f"reference_n{n}",
                n,
                ESN,
                None,
                *(summary(scores[:, t]) for t in range(3)),
            )
        )
    return ReservoirResult(
        rows=rows,
        rank_correlation=_pooled_correlation(points),
        within_network_correlation=_within_correlation(points),
        noise_sweeps=sweeps,
        points=points,
        reference=(
            "ReservoirPy tanh ESN (sr 0.9, leak 1)"
            if reference_rows
            else "ReservoirPy not installed: no echo-state reference rows"
        ),
        gradient_failures=failures,
        flux_outside_regime=outside,
    )


def _rows(label: str, n: int, per_seed: list[dict]) -> list[ReservoirRow]:
    rows = []
    for name in SETTINGS:
        scores = np.array([d["settings"][name] for d in per_seed])
        flux = summary([d["flux"][name] for d in per_seed])
        rows.append(
            ReservoirRow(
                label, n, name, flux, *(summary(scores[:, t]) for t in range(3))
            )
        )
    ceiling = np.array([d["ceiling"] for d in per_seed])
    rows.append(
        ReservoirRow(
            label, n, CEILING, None, *(summary(ceiling[:, t]) for t in range(3))
        )
    )
    return rows


def _sweep(label: str, per_seed: list[dict], config: ReservoirConfig) -> NoiseSweep:
    scores = np.mean([d["sweep_scores"] for d in per_seed], axis=0)
    flux = np.mean([d["sweep_flux"] for d in per_seed], axis=0)
    noise = list(config.noise_levels)
    best = {"flux": noise[int(np.argmax(flux))]}
    for t, task in enumerate(TASKS):
        pick = np.argmax if HIGHER_IS_BETTER[task] else np.argmin
        best[task] = noise[int(pick(scores[:, t]))]
    return NoiseSweep(
        label,
        noise,
        flux.tolist(),
        *(scores[:, t].tolist() for t in range(3)),
        best_noise=best,
    )


def _pooled_correlation(points: list[Point]) -> dict[str, float]:
    flux = [p.flux for p in points]
    return {task: spearman(flux, [getattr(p, task) for p in points]) for task in TASKS}


def _within_correlation(points: list[Point]) -> dict[str, float]:
    groups: dict[tuple, list[Point]] = {}
    for p in points:
        groups.setdefault((p.network, p.seed), []).append(p)
    out = {}
    for task in TASKS:
        rhos = [
            spearman([p.flux for p in g], [getattr(p, task) for p in g])
            for g in groups.values()
        ]
        out[task] = float(np.nanmean(rhos))
    return out


COLORS = dict(
    zero="tab:gray",
    uniform_flux="tab:blue",
    self_organized="tab:green",
    flux_gradient="tab:red",
    intrinsic_plasticity="tab:purple",
)


def plot(result: ReservoirResult) -> Figure:
    """Task score against free-running flux per neuron, one point per configuration."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    titles = dict(
        memory_capacity="memory capacity (higher is better)",
        narma10_nrmse="NARMA-10 NRMSE (lower is better)",
        parity_bits="3-bit parity, bits (higher is better)",
    )
    markers = {100: "o", 125: "s", 500: "^"}
    for ax, task in zip(axes, TASKS, strict=True):
        for name, color in COLORS.items():
            chosen = [p for p in result.points if p.setting == name]
            for n in sorted({p.n for p in chosen}):
                at = [p for p in chosen if p.n == n]
                ax.scatter(
                    [p.flux / p.n for p in at],
                    [getattr(p, task) for p in at],
                    c=color,
                    marker=markers.get(n, "o"),
                    s=14,
                    alpha=0.7,
                    label=f"{name} (n={n})" if task == TASKS[0] else None,
                )
        rho = result.within_network_correlation[task]
        ax.set_title(f"{titles[task]}\nwithin-network rho = {rho:+.2f}", fontsize=9)
        ax.set_xlabel("free-running flux per neuron (bits)")
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
