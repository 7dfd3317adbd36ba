"""What every experiment of the study shares: the configuration and the measurements.

Experiments use the public API only. Integer seeds live here (and in ``cli.py``): the
network seeds go to :func:`fluxjax.l5_microcircuit`, and ``StudyConfig.seed`` becomes
the one JAX key from which each experiment folds its own.
"""

import dataclasses
import functools
import subprocess
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import fluxjax as fj
from fluxjax import reservoir as rc
from fluxjax.info.moments import moment_flux

from ._results import IndicatorSummary, Summary


TRIPLETS = ((0, 1, 2), (3, 4, 5), (6, 7, 8))
MAX_RECORDED_BYTES = 200_000_000  # per compiled ensemble call; larger ensembles chunk


def _grid(start: float, stop: float, num: int) -> list[float]:
    """``num`` evenly spaced Python floats from ``start`` to ``stop``, rounded to 1e-6."""
    return [round(float(x), 6) for x in np.linspace(start, stop, num)]


@dataclasses.dataclass(frozen=True)
class ReservoirConfig:
    """Sizes of the reservoir study (defaults: the full run).

    Attributes:
        num_seeds: seeds per network class (network, input weights, inputs).
        networks: the E/I classes ``(n, J, K)`` (K None: dense).
        paper_network: whether the paper's 125-neuron network is included.
        split: ``(washout, train, validation, test)`` rows of every task run.
        max_delay: the largest memory-capacity delay.
        parity_delays: the largest parity delay tau.
        input_scale: input weights +-``input_scale`` * temperature (4: the best of
            1, 2, 4 for all three tasks on a pilot network, J = 2, K = 4, n = 100,
            50 %-firing biases, chosen before the study).
        flux_steps_per_neuron: transitions per neuron of each flux estimate.
        uniform_biases: the common biases of the ``uniform_flux`` grid, in units of
            the temperature.
        gradient_steps: Adam steps of ``flux_gradient``.
        learning_rate: Adam's learning rate, in units of the temperature.
        adaptation_steps: updates of the self-organisation and plasticity rules.
        ceiling_biases: the ceiling grid's uniform biases (units of the temperature).
        noise_levels: the noise sweep (and the ceiling grid's noise axis); networks
            of more than 125 neurons are run noiseless only (the features' noise
            integral costs up to 257 sigmoids per neuron and step).
    """

    num_seeds: int = 5
    networks: tuple[tuple[int, float, int | None], ...] = (
        *((100, j, k) for j in (1.0, 2.0, 4.0) for k in (2, 4, None)),
        (500, 1.0, None),
        (500, 2.0, None),
        (500, 4.0, None),
        (500, 2.0, 2),
        (500, 2.0, 4),
    )
    paper_network: bool = True
    split: tuple[int, int, int, int] = (100, 1000, 400, 600)
    max_delay: int = 30
    parity_delays: int = 9
    input_scale: float = 4.0
    flux_steps_per_neuron: int = 100
    uniform_biases: tuple[float, ...] = (-1.5, -0.75, 0.0, 0.75, 1.5)
    gradient_steps: int = 8
    learning_rate: float = 0.1
    adaptation_steps: int = 20_000
    ceiling_biases: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
    noise_levels: tuple[float, ...] = (0.0, 1.0, 2.0)

    @classmethod
    def quick(cls) -> "ReservoirConfig":
        """The ``--quick`` sizes: 3 seeds, the paper's network, one N = 100 class."""
        return cls(
            num_seeds=3,
            networks=((100, 2.0, 4),),
            split=(50, 500, 200, 300),
            max_delay=20,
            parity_delays=5,
            uniform_biases=(-1.0, 0.0, 1.0),
            gradient_steps=4,
            adaptation_steps=5_000,
            ceiling_biases=(-0.5, 0.0, 0.5),
            noise_levels=(0.0, 2.0),
        )

    @property
    def length(self) -> int:
        """Rows of every task run."""
        return sum(self.split)


@dataclasses.dataclass(frozen=True)
class ScalingConfig:
    """Sizes of the scaling study (defaults: the full run).

    Attributes:
        sizes: the network sizes N.
        num_seeds: seeds per class and size.
        classes: the E/I classes ``(J, K)`` (K None: dense).
        paper_network: whether the paper's 125-neuron network is included.
        flux_steps_per_neuron: transitions per neuron of every large-n score.
        min_flux_steps: the fewest transitions of a score (small networks).
        uniform_offsets: the common biases' offsets from the mean 50 %-firing bias,
            in units of the temperature.
        adaptation_steps: updates of the self-organisation rule.
        adaptation_rate: its rate, in units of the temperature.
        gradient_steps: Adam steps of ``gradient``.
        learning_rate: Adam's rate, in units of the temperature.
        exact_optimum_steps: the most Adam steps of each ``exact_optimum`` start.
        core_steps: simulated steps of every core-flux score (paper network).
        core_gradient_samples: transitions per step of the core's soft gradient.
        baseline_sizes: the sizes N whose networks get the prior art's baselines
            (``gradient_gaussian``, ``infomax_rule``, ``intrinsic_plasticity``);
            None: every size.
    """

    sizes: tuple[int, ...] = (10, 30, 100, 300, 1000)
    num_seeds: int = 5
    classes: tuple[tuple[float, int | None], ...] = ((1.0, None), (2.0, None), (2.0, 4))
    paper_network: bool = True
    flux_steps_per_neuron: int = 100
    min_flux_steps: int = 20_000
    uniform_offsets: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
    adaptation_steps: int = 20_000
    adaptation_rate: float = 0.01
    gradient_steps: int = 6
    learning_rate: float = 0.1
    exact_optimum_steps: int = 100
    core_steps: int = 1_000_000
    core_gradient_samples: int = 20_000
    baseline_sizes: tuple[int, ...] | None = None

    @classmethod
    def quick(cls) -> "ScalingConfig":
        """The ``--quick`` sizes: N = 10 and 100, 2 seeds, not the paper's network.

        The estimates' 10^4 transitions at N = 100 are the quick reservoir study's, so
        that the two parts share compiled programs. The baselines run at N = 10 only:
        at N = 100 too they added 65 % to the part's CPU time (benchmarks/README.md).
        """
        return cls(
            sizes=(10, 100),
            num_seeds=2,
            paper_network=False,
            min_flux_steps=10_000,
            uniform_offsets=(-0.5, 0.0, 0.5),
            adaptation_steps=5_000,
            gradient_steps=4,
            exact_optimum_steps=20,
            core_steps=100_000,
            core_gradient_samples=5_000,
            baseline_sizes=(10,),
        )


@dataclasses.dataclass(frozen=True)
class BrunelFitConfig:
    """Sizes of the Brunel study (defaults: the full run).

    Attributes:
        regimes: the regimes of the shipped spike set (:func:`fluxjax.load_brunel`).
        bin_widths_ms: the bin widths.
        num_units: the recorded units used (the first ones; the set has 50).
        duration_s: the seconds of the recording used (the set has 60).
        penalties: the L2 penalties the fit's cross-validation chooses from.
        num_folds: the cross-validation's contiguous blocks.
        flux_steps_per_unit: transitions per unit of every flux estimate of
            ``flux_optimality`` (its objective, :func:`fluxjax.moment_flux`).
        min_flux_steps: the fewest transitions of such an estimate.
        gradient_steps: Adam steps of the ascent from the fitted biases.
        learning_rate: Adam's rate (units of the fitted weights).
        num_replicates: block-bootstrap refits (the standard errors).
    """

    regimes: tuple[str, ...] = ("sr", "ai", "si")
    bin_widths_ms: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
    num_units: int = 50
    duration_s: float = 60.0
    penalties: tuple[float, ...] = fj.fit.DEFAULT_PENALTIES
    num_folds: int = 5
    flux_steps_per_unit: int = 200
    min_flux_steps: int = 10_000
    gradient_steps: int = 100
    learning_rate: float = 0.1
    num_replicates: int = 10

    @classmethod
    def quick(cls) -> "BrunelFitConfig":
        """The ``--quick`` sizes."""
        return cls(
            regimes=("sr", "ai"),
            num_units=20,
            duration_s=20.0,
            penalties=(100.0, 10.0, 1.0),
            num_folds=3,
            flux_steps_per_unit=100,
            min_flux_steps=5_000,
            gradient_steps=20,
            learning_rate=0.2,
            num_replicates=3,
        )


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Sizes and parameters of the reproduction (defaults: the paper's full run).

    Attributes:
        num_seeds: network seeds ``first_seed, first_seed + 1, ...`` (42: the paper's).
        first_seed: the first network seed.
        steps: recorded steps per simulation (the paper: 10^6).
        burn_in: discarded steps (the paper: 10^4).
        signal_steps: steps of the full-network runs that give firing rates, rasters
            and the embedding signal.
        t0: the temperature t0 (a number or "mean_core").
        t0_scope: "all" (every neuron's input divided by t0) or "core".
        core_density: d_s, the core's connection density.
        noise_levels: sigma values of the recurrence-resonance sweep.
        uniform_biases: common biases v of the uniform-bias sweep (Fig. 6a bar 4).
        inhibitory_scales: w_inh / t0 values of the inhibitory-weight sweep.
        core_densities: d_s values of the sensitivity sweep.
        temperatures: t0 values of the sensitivity sweep.
        signal_noise: "scaled" (bar 3 noise sigma_i / t0, our default) or "raw"
            (sigma_i, as the reference code).
        fluctuation_scales: factors of the recorded embedding signal's fluctuations
            in the fluctuation study's sweep (0: its mean alone, 1: the signal).
        gradient_steps: optimisation steps of the gradient methods.
        soft_samples: simulated transitions per soft-gradient step.
        hill_iterations: iterations of each hill-climb restart (the paper: 500).
        self_organization_steps: steps of the self-organisation rule (the paper:
            2 * 10^6).
        optimization_seeds: how many of the seeds the optimisation study uses (None:
            all; it costs about 7 minutes per seed on 2 CPU cores, most of it the
            soft-gradient runs).
        reservoir: the sizes of the reservoir study (:class:`ReservoirConfig`).
        scaling: the sizes of the scaling study (:class:`ScalingConfig`).
        brunel: the sizes of the Brunel study (:class:`BrunelFitConfig`).
        seed: the simulation seed (one JAX key for the whole study).
        quick: whether this is the reduced ``--quick`` configuration.
    """

    num_seeds: int = 10
    first_seed: int = 42
    steps: int = 1_000_000
    burn_in: int = 10_000
    signal_steps: int = 100_000
    t0: float | str = 5.0
    t0_scope: str = "all"
    core_density: float = 0.35
    noise_levels: tuple[float, ...] = tuple(_grid(0.0, 10.0, 21))
    uniform_biases: tuple[float, ...] = tuple(_grid(-10.0, 10.0, 41))
    inhibitory_scales: tuple[float, ...] = tuple(_grid(-2.0, 0.0, 11))
    core_densities: tuple[float, ...] = (0.25, 0.35, 0.45)
    temperatures: tuple[float | str, ...] = (2.5, 5.0, 7.5, "mean_core")
    signal_noise: str = "scaled"
    fluctuation_scales: tuple[float, ...] = tuple(_grid(0.0, 2.0, 9))
    gradient_steps: int = 200
    soft_samples: int = 20_000
    hill_iterations: int = 500
    self_organization_steps: int = 2_000_000
    optimization_seeds: int | None = 5
    reservoir: ReservoirConfig = ReservoirConfig()
    scaling: ScalingConfig = ScalingConfig()
    brunel: BrunelFitConfig = BrunelFitConfig()
    seed: int = 0
    quick: bool = False

    @classmethod
    def quick_config(cls, **overrides) -> "StudyConfig":
        """The ``--quick`` sizes: 3 seeds, 10^5 steps, coarser sweeps."""
        quick = dict(
            num_seeds=3,
            steps=100_000,
            burn_in=2_000,
            signal_steps=20_000,
            noise_levels=tuple(_grid(0.0, 10.0, 11)),
            inhibitory_scales=(-2.0, -1.5, -1.0, -0.5, 0.0),
            temperatures=(2.5, 5.0, "mean_core"),
            fluctuation_scales=(0.0, 0.5, 1.0, 1.5, 2.0),
            gradient_steps=40,
            soft_samples=5_000,
            hill_iterations=25,
            self_organization_steps=200_000,
            optimization_seeds=1,
            reservoir=ReservoirConfig.quick(),
            scaling=ScalingConfig.quick(),
            brunel=BrunelFitConfig.quick(),
            quick=True,
        )
        return cls(**{**quick, **overrides})

    @property
    def seeds(self) -> list[int]:
        """The network seeds."""
        return list(range(self.first_seed, self.first_seed + self.num_seeds))

    def key(self, name: str) -> jax.Array:
        """The JAX key of the experiment called ``name`` (independent per name)."""
        return jax.random.fold_in(jax.random.key(self.seed), _stable_hash(name))

    def networks(self, seeds: Sequence[int] | None = None, **changes):
        """``[(net, groups)]`` per seed: the L5 microcircuit with ``changes`` applied."""
        kwargs = dict(
            core_density=self.core_density, t0=self.t0, t0_scope=self.t0_scope
        )
        kwargs.update(changes)
        return [fj.l5_microcircuit(s, **kwargs) for s in (seeds or self.seeds)]


def _stable_hash(name: str) -> int:
    return int.from_bytes(name.encode()[:4].ljust(4, b"\0"), "little") ^ len(name)


def summary(values) -> Summary:
    """Mean, SD (ddof = 1; 0 for n = 1) and count of per-seed values."""
    values = np.asarray(values, dtype=float).ravel()
    sd = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return Summary(float(np.mean(values)), sd, int(values.size))


def indicator_summary(intra, inter) -> IndicatorSummary:
    """The results-table entry of a flux indicator: intra and inter, in bits."""
    return IndicatorSummary(summary(intra), summary(inter))


def fold_change(numerator, denominator) -> Summary:
    """Per-seed fold changes numerator / denominator, summarised."""
    return summary(np.asarray(numerator, float) / np.asarray(denominator, float))


def _member_keys(key: jax.Array, size: int) -> jax.Array:
    """One key per network, ``fold_in(key, k)``: independent of how nets are chunked."""
    return jax.vmap(lambda k: jax.random.fold_in(key, k))(jnp.arange(size))


def record_core(
    nets: Sequence[fj.BinaryNetwork],
    key: jax.Array,
    config: StudyConfig,
    neurons: Sequence = tuple(range(10)),
    steps: int | None = None,
) -> np.ndarray:
    """Simulates each network and returns its recorded ``neurons``.

    Network k uses the key ``fold_in(key, k)``; one vmapped call per chunk of networks
    (chunks bound the memory of the recorded states). Returns bool
    ``(len(nets), steps, len(neurons))``.
    """
    steps = steps or config.steps
    chunk = max(1, MAX_RECORDED_BYTES // (steps * len(neurons)))
    keys = _member_keys(key, len(nets))
    parts = []
    for start in range(0, len(nets), chunk):
        part = nets[start : start + chunk]
        states = fj.simulate_ensemble(
            part,
            keys[start : start + chunk],
            steps,
            burn_in=config.burn_in,
            record=fj.States(neurons),
        )
        parts.append(np.asarray(states))
    return np.concatenate(parts)


def flux_indicator(
    nets: Sequence[fj.BinaryNetwork],
    key: jax.Array,
    config: StudyConfig,
    neurons: Sequence = tuple(range(10)),
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's triplet flux indicator (intra, inter) in bits, one per network.

    Streamed: the simulation returns only the (3, 3, 8, 8) counts of successive triplet
    codes (``record=fj.PairCounts(groups)``), so memory does not grow with ``config.steps``.
    Network k uses the key ``fold_in(key, k)``, so the values equal
    ``plugin_triplet_flux(record_core(nets, key, config, neurons), TRIPLETS)``.
    """
    groups = [[neurons[i] for i in triplet] for triplet in TRIPLETS]
    keys = _member_keys(key, len(nets))
    counts = fj.simulate_ensemble(
        nets,
        keys,
        config.steps,
        burn_in=config.burn_in,
        record=fj.PairCounts(groups),
    )
    intra, inter = fj.plugin_triplet_flux_from_counts(counts)
    return np.asarray(intra, np.float64), np.asarray(inter, np.float64)


def exact_indicator(
    nets: Sequence[fj.BinaryNetwork], chunk: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """The triplet indicator computed exactly (nets of at most 14 neurons).

    Vmapped over chunks of ``chunk`` networks to bound memory.
    """
    intra, inter = [], []
    for start in range(0, len(nets), chunk):
        stacked, axes = fj.stack_networks(nets[start : start + chunk])
        values = _exact_indicator(stacked, axes)
        intra.append(np.atleast_1d(values[0]))
        inter.append(np.atleast_1d(values[1]))
    return np.concatenate(intra), np.concatenate(inter)


@eqx.filter_jit
def _exact_indicator(stacked, axes):
    return eqx.filter_vmap(
        lambda net: fj.exact_triplet_flux(net, TRIPLETS), in_axes=(axes,)
    )(stacked)


def with_fields(net: fj.BinaryNetwork, *, dtype=None, **fields) -> fj.BinaryNetwork:
    """A copy of ``net`` with some fields replaced (validated), optionally in ``dtype``."""
    values = dict(
        weights=net.weights,
        biases=net.biases,
        temperature=net.temperature,
        noise=net.noise,
    )
    values.update(fields)
    if dtype is not None:  # numpy, so that float64 survives where x64 is on
        values = {k: None if v is None else np.asarray(v) for k, v in values.items()}
    return fj.BinaryNetwork(**values, dtype=dtype)


def best_uniform_biases(
    cores: Sequence[fj.BinaryNetwork], values: Sequence[float], score
) -> tuple[np.ndarray, np.ndarray]:
    """Per network, the common bias v from ``values`` with the highest score.

    ``score`` maps a list of networks to an array with one row per network (a number,
    or several that are summed, e.g. intra and inter); it is called once, on the
    networks with every bias v (v-major, network-minor). Returns the best v per network
    and the scores, ``(len(values), len(cores), ...)``.
    """
    swept = [
        with_fields(core, biases=np.full(core.num_neurons, v))
        for v in values
        for core in cores
    ]
    scores = np.asarray(score(swept))
    scores = scores.reshape(len(values), len(cores), *scores.shape[1:])
    totals = scores.reshape(len(values), len(cores), -1).sum(-1)
    return np.asarray(values)[np.argmax(totals, axis=0)], scores


def temperature_scale(net: fj.BinaryNetwork) -> float:
    """The mean temperature: the unit of biases, rates and input weights."""
    return float(np.mean(np.asarray(net.temperature)))


@functools.cache
def flux_objective(steps: int):
    """The large-n flux estimate at ``steps`` transitions, as an objective.

    One object per size, so that :func:`fluxjax.optimize_biases` compiles once for
    all the networks of that size.
    """
    return functools.partial(moment_flux, steps=steps)


@functools.cache
def gaussian_objective(steps: int):
    """Recurrent Infomax's I_G from ``steps`` sampled transitions, as an objective.

    :func:`fluxjax.gaussian_flux`, one object per size (one compilation), like
    :func:`flux_objective`.
    """
    return functools.partial(fj.gaussian_flux, steps=steps)


def exact_flux_objective(net: fj.BinaryNetwork, key=None):
    """The exact flux as an objective ``(net, key) -> bits`` (n <= 14)."""
    return fj.exact_flux(net)


def exact_gaussian_objective(net: fj.BinaryNetwork, key=None):
    """Recurrent Infomax's I_G of the exact moments as an objective ``(net, key)``."""
    return fj.exact_gaussian_flux(net)


def intrinsic_plasticity(start: fj.BinaryNetwork, key, steps: int) -> fj.BinaryNetwork:
    """Triesch's intrinsic plasticity on the free-running network (zero input).

    :func:`fluxjax.reservoir.intrinsic_plasticity` adapts every neuron's gain a and
    offset c for ``steps`` updates at the library's defaults (toward an exponential
    rate distribution of mean 0.2, learning rate 10^-3); the network returned has the
    per-neuron temperature 1 / a and biases c / a.
    """
    reservoir = rc.Reservoir(start, np.zeros((1, start.num_neurons)))
    return rc.intrinsic_plasticity(reservoir, key, np.zeros((steps, 1))).network


@functools.cache
def adam(learning_rate: float) -> optax.GradientTransformation:
    """``optax.adam(learning_rate)``, one object per rate (one compilation)."""
    return optax.adam(learning_rate)


def caught_warnings(function, *args, **kwargs) -> tuple[Any, str]:
    """``function(*args, **kwargs)`` and the messages of the warnings it gave ("")."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, "; ".join(str(w.message) for w in caught)


Checkpoints = Callable[[str, Any, Callable[[], Any]], Any]
"""``checkpoints(name, kind, compute)``: the finished unit of work ``name``, a value of
type ``kind``; ``compute()`` unless it was stored by an earlier run of the same
settings and code (:class:`fluxjax.experiments.reproduce.UnitStore`)."""


def no_checkpoints(name: str, kind: Any, compute: Callable[[], Any]) -> Any:
    """Computes every unit: a part run on its own, outside ``fluxjax reproduce``."""
    return compute()


def git_commit() -> str | None:
    """The commit of the checkout that holds this code (None outside a git checkout)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
