"""Which property of the embedding's fluctuations helps the core (claim 3).

The study's second mechanism says that the embedding's input fluctuations keep the core
from being trapped. Here the isolated core is driven by the input that the embedding
gave it in a recorded run, and by surrogates of that input that each keep some of its
properties and break the others (:mod:`fluxjax.surrogates`).

**Recording** (per network seed, :func:`record_signal`): the full network (sigma = 0)
runs ``burn_in + steps`` updates from a uniformly random state x_0, and the embedding
signal of core neuron i at update t is

    U_i(t) = sum_{m not in core} x_m(t) W[m, i],

computed from x_t, the state *before* update t. The isolated core with the drive U
(added to its summed input before the temperature divides, see
:func:`fluxjax.simulate`), started from x_0[core] and run with the core neurons' own
random numbers (the same key: an unbatched core of the first neurons draws the same
counters), repeats the core's trajectory in the network bit for bit: its update t sees

    (x_t[core] @ W[core, core] + U(t) + b) / t0 = (x_t @ W + b)[core] / t0.

**Conditions** (the drive of every update, burn-in included; surrogates of the whole
recorded U):

- ``replay``: U with the core's own random numbers: the embedded core itself (a check
  of the replay).
- ``replay_fresh``: U with fresh random numbers for the core. It keeps every property
  of the signal and breaks one thing only: the closed loop, the dependence of U(t) on
  the core's own recent activity (the embedding reacts to the core it drives).
- ``shifted``: each neuron's series circularly shifted by an independent random lag
  (:func:`~fluxjax.surrogates.circular_shift`): keeps each marginal and
  autocorrelation, breaks the cross-neuron correlations.
- ``shuffled``: the rows in a random order shared by all neurons
  (:func:`~fluxjax.surrogates.shuffle_time`): keeps the joint lag-0 distribution,
  breaks the temporal structure.
- ``gaussian_lag0``: Gaussian with the recorded mean and lag-0 covariance C0.
- ``gaussian_ar1``: Gaussian AR(1) with the recorded mean, C0 and lag-1 covariance C1.
- ``independent``: independent Gaussian with the recorded means and SDs (Fig. 6a
  bar 3: N(mu_i, sigma_i^2) before the division is noise sigma_i / t0 after it).
- ``biases_only``: the constant drive mu (Fig. 6a bar 2).
- the scale sweep: mu + s (U - mu) for s in ``config.fluctuation_scales``
  (:func:`~fluxjax.surrogates.scale_fluctuations`), the recorded signal's own
  resonance curve.

Every open-loop condition (all but ``replay``) of a seed uses the same fresh random
numbers for the core (common random numbers: the per-seed comparisons between them
are paired), so scale 0 of the sweep is ``biases_only`` and scale 1 is
``replay_fresh``, to rounding of the mean. :data:`KEEPS` lists what each condition
keeps; :func:`fluxjax.experiments.claims.judge` decides from it which property carries
the benefit.

**Scores**: the triplet flux indicator (intra, inter; plug-in, as the paper) and the
core's full 10-neuron flux I(x_t; x_t+1): the Miller–Madow plug-in estimate for every
condition, and exact (enumeration) for the two conditions under which the core is an
autonomous Markov chain, ``biases_only`` (biases mu) and ``independent`` (biases mu,
noise sigma_i / t0), whose exact indicator is reported too.

**Keys**: ``config.key("fluctuations")`` is split into a recording, a core and a
surrogate key; seed k folds in k, and the surrogates of a seed split its surrogate key.
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Key, PRNGKeyArray
from matplotlib.figure import Figure

import fluxjax as fj
import fluxjax.surrogates as surrogates

from ._common import (
    TRIPLETS,
    StudyConfig,
    exact_indicator,
    indicator_summary,
    summary,
    with_fields,
)
from ._results import IndicatorSummary, Summary
from .embedding import _lag_correlations, embedding_signal


SURROGATES: dict[str, Callable[[PRNGKeyArray, Array], Array]] = {
    "shifted": surrogates.circular_shift,
    "shuffled": surrogates.shuffle_time,
    "gaussian_lag0": surrogates.gaussian_lag0,
    "gaussian_ar1": surrogates.gaussian_ar1,
    "independent": surrogates.independent_gaussian,
}
"""The random surrogates of the recorded signal, by condition."""

CONDITIONS = ("replay", "replay_fresh", *SURROGATES, "biases_only")
"""The conditions, in the order of the report (the sweep comes after them)."""

AUTONOMOUS = ("biases_only", "independent")
"""Conditions under which the core is a Markov chain of its own: scored exactly too."""

PROPERTIES = {
    "closed_loop": "the closed loop (the input follows the core's own activity)",
    "size": "the fluctuations' size",
    "correlation": "the cross-neuron correlations",
    "memory": "the temporal structure",
    "shape": "the non-Gaussian shape",
}
"""The properties of the embedding's input that the conditions keep or break."""

KEEPS: dict[str, tuple[str, ...]] = {
    "replay": tuple(PROPERTIES),
    "replay_fresh": ("size", "correlation", "memory", "shape"),
    "shifted": ("size", "memory", "shape"),
    "shuffled": ("size", "correlation", "shape"),
    "gaussian_lag0": ("size", "correlation"),
    "gaussian_ar1": ("size", "correlation", "memory"),
    "independent": ("size",),
    "biases_only": (),
}
"""What each condition keeps of the embedding's input (keys of :data:`PROPERTIES`)."""

LABELS = {
    "replay": "replay\n(own)",
    "replay_fresh": "replay\n(fresh)",
    "shifted": "shifted",
    "shuffled": "shuffled",
    "gaussian_lag0": "Gaussian\nlag 0",
    "gaussian_ar1": "Gaussian\nAR(1)",
    "independent": "independent",
    "biases_only": "biases\nonly",
}


class Recording(NamedTuple):
    """One run of the full network: the core's trajectory and the input it received.

    Attributes:
        key: the run key; the core replays with it to draw the same random numbers.
        x0: ``(n,)`` bool, the initial state of the network.
        core_states: ``(updates, k)`` bool, the core after each update.
        signal: ``(updates, k)``, U(t) = x_t[rest] @ W[rest, core] with x_t the state
            before update t (x_0, then ``states[:-1]``), in the network's dtype.
    """

    key: PRNGKeyArray
    x0: np.ndarray
    core_states: np.ndarray
    signal: np.ndarray


def record_signal(
    net: fj.BinaryNetwork, groups: dict, key: PRNGKeyArray, updates: int
) -> Recording:
    """Runs ``net`` for ``updates`` updates and records its core and embedding signal.

    Args:
        net: the full network; ``groups["core"]`` must be neurons 0..k-1 (so that the
            isolated core draws the same random numbers as inside the network).
        groups: the populations, with ``"core"``.
        key: split into the initial state's key and the run key.
        updates: the number of updates (burn-in included).

    Returns:
        The :class:`Recording`.

    Raises:
        ValueError: the core is not neurons 0..k-1.
    """
    core = np.asarray(groups["core"])
    if not np.array_equal(core, np.arange(core.size)):
        raise ValueError(
            f"the core must be neurons 0..k-1 to be replayed, got {core.tolist()}"
        )
    rest = np.arange(core.size, net.num_neurons)
    init_key, run_key = jax.random.split(key)
    x0 = np.asarray(jax.random.bernoulli(init_key, 0.5, (net.num_neurons,)))
    states = np.asarray(fj.simulate(net, run_key, updates, x0=x0))
    weights = np.asarray(net.weights)
    signal = np.concatenate(
        [
            embedding_signal(x0[None], weights, core, rest),
            embedding_signal(states[:-1], weights, core, rest),
        ]
    )
    return Recording(run_key, x0, states[:, core], signal)


def drive_core(
    core: fj.BinaryNetwork,
    keys: Key[Array, " D"],
    x0: Bool[ArrayLike, " k"],
    drives: Float[ArrayLike, "D updates k"],
    *,
    steps: int,
    burn_in: int,
) -> np.ndarray:
    """The core under each drive: ``simulate(core, keys[d], ..., drive=drives[d])``.

    One compiled, vmapped call; every run starts from ``x0``. Returns bool
    ``(D, steps, k)``.
    """
    return np.asarray(_drive_core(core, keys, jnp.asarray(x0), drives, steps, burn_in))


@eqx.filter_jit
def _drive_core(core, keys, x0, drives, steps, burn_in):
    def run(key, drive):
        return fj.simulate(core, key, steps, burn_in=burn_in, x0=x0, drive=drive)

    return jax.vmap(run)(keys, drives)


def open_loop_drives(
    key: PRNGKeyArray, signal: Float[ArrayLike, "updates k"]
) -> dict[str, Array]:
    """The drives of the open-loop conditions (``replay_fresh`` .. ``biases_only``)."""
    signal = jnp.asarray(signal)
    keys = dict(zip(SURROGATES, jax.random.split(key, len(SURROGATES)), strict=True))
    mean = surrogates.signal_stats(signal).mean
    return {
        "replay_fresh": signal,
        **{name: make(keys[name], signal) for name, make in SURROGATES.items()},
        "biases_only": jnp.broadcast_to(mean, signal.shape),
    }


def autonomous_cores(
    core: fj.BinaryNetwork, signal: Float[ArrayLike, "updates k"]
) -> dict[str, fj.BinaryNetwork]:
    """The core of :data:`AUTONOMOUS`: biases b + mu, and noise sigma_i / t0 added.

    N(mu_i, sigma_i^2) added before the division by T_i is noise of SD sigma_i / T_i
    after it; independent noises add in variance.
    """
    stats = surrogates.signal_stats(signal)
    biases = np.asarray(core.biases + stats.mean)
    added = np.sqrt(np.diag(np.asarray(stats.cov0))) / np.asarray(core.temperature)
    own = 0.0 if core.noise is None else np.asarray(core.noise)
    return {
        "biases_only": with_fields(core, biases=biases),
        "independent": with_fields(
            core, biases=biases, noise=np.sqrt(own**2 + added**2)
        ),
    }


class SignalShape(NamedTuple):
    """Statistics of a drive, over seeds: what a surrogate kept and what it broke."""

    lag0_correlation: Summary
    lag1_autocorrelation: Summary
    skewness: Summary


class ScaleSweep(NamedTuple):
    """The core driven by mu + s (U - mu), open loop, against the scale s (bits)."""

    scales: list[float]
    intra: list[Summary]
    inter: list[Summary]
    full_flux: list[Summary]
    per_seed_total: list[list[float]]
    best_scale: float
    inverted_u: bool


class FluctuationsResult(NamedTuple):
    """The isolated core under the embedding's input and its surrogates (bits).

    ``conditions`` holds the sampled indicator of each of :data:`CONDITIONS`;
    ``embedded`` the recorded core's; ``per_seed_total`` and ``full_flux`` (the
    Miller–Madow full flux) cover both; ``exact`` and ``exact_full_flux`` are the exact
    values of :data:`AUTONOMOUS`; ``replay_identical`` the fraction of steps in which
    the replay repeats the embedded core's state; ``signal`` the statistics of the
    recorded signal ("replay", also the drive of "replay_fresh") and of each
    surrogate.
    """

    seeds: list[int]
    embedded: IndicatorSummary
    conditions: dict[str, IndicatorSummary]
    per_seed_total: dict[str, list[float]]
    full_flux: dict[str, Summary]
    exact: dict[str, IndicatorSummary]
    exact_full_flux: dict[str, Summary]
    replay_identical: Summary
    signal: dict[str, SignalShape]
    scale_sweep: ScaleSweep


def _shape(signal) -> tuple[float, float, float]:
    """Mean lag-0 cross-correlation, lag-1 autocorrelation and skewness of a drive."""
    values = np.asarray(signal, np.float64)
    d = values - values.mean(0)
    skewness = np.mean(d**3, 0) / np.mean(d**2, 0) ** 1.5
    return (*_lag_correlations(values), float(np.mean(skewness)))


class _Seed(NamedTuple):
    """One seed's scores: rows "embedded", then CONDITIONS, then the sweep."""

    intra: np.ndarray
    inter: np.ndarray
    full_flux: np.ndarray
    replay_identical: float
    shapes: dict[str, tuple[float, float, float]]
    autonomous: dict[str, fj.BinaryNetwork]


def _run_seed(net, groups, keys, config: StudyConfig) -> _Seed:
    record_key, core_key, surrogate_key = keys
    core = fj.isolated_core(net, groups)
    recording = record_signal(net, groups, record_key, config.burn_in + config.steps)
    signal = jnp.asarray(recording.signal)
    drives = {"replay": signal, **open_loop_drives(surrogate_key, signal)}
    sweep = [
        surrogates.scale_fluctuations(signal, s) for s in config.fluctuation_scales
    ]
    runs = [*drives.values(), *sweep]
    run_keys = jnp.stack([recording.key] + [core_key] * (len(runs) - 1))
    states = drive_core(
        core,
        run_keys,
        recording.x0[groups["core"]],
        jnp.stack(runs),
        steps=config.steps,
        burn_in=config.burn_in,
    )
    embedded = recording.core_states[config.burn_in :]
    scored = np.concatenate([embedded[None], states])
    intra, inter = map(np.asarray, fj.plugin_triplet_flux(scored, TRIPLETS))
    return _Seed(
        intra=intra,
        inter=inter,
        full_flux=np.asarray(fj.plugin_flux(scored, "miller-madow")),
        replay_identical=float(np.mean(np.all(states[0] == embedded, axis=-1))),
        shapes={name: _shape(drives[name]) for name in ("replay", *SURROGATES)},
        autonomous=autonomous_cores(core, signal),
    )


def run(config: StudyConfig) -> FluctuationsResult:
    """The isolated core under each condition, per seed, scored two ways."""
    record_key, core_key, surrogate_key = jax.random.split(
        config.key("fluctuations"), 3
    )
    seeds = [
        _run_seed(
            net,
            groups,
            [jax.random.fold_in(k, s) for k in (record_key, core_key, surrogate_key)],
            config,
        )
        for s, (net, groups) in enumerate(config.networks())
    ]
    intra = np.stack([s.intra for s in seeds], axis=1)  # (rows, seeds)
    inter = np.stack([s.inter for s in seeds], axis=1)
    full = np.stack([s.full_flux for s in seeds], axis=1)
    rows = ("embedded", *CONDITIONS)
    sweep = slice(len(rows), None)
    totals = intra + inter
    exact, exact_full = {}, {}
    for name in AUTONOMOUS:
        cores = [s.autonomous[name] for s in seeds]
        exact[name] = indicator_summary(*exact_indicator(cores))
        exact_full[name] = summary([float(jax.jit(fj.exact_flux)(c)) for c in cores])
    sweep_totals = totals[sweep].mean(axis=1)
    best = int(np.argmax(sweep_totals))
    return FluctuationsResult(
        seeds=config.seeds,
        embedded=indicator_summary(intra[0], inter[0]),
        conditions={
            name: indicator_summary(intra[r], inter[r])
            for r, name in enumerate(CONDITIONS, start=1)
        },
        per_seed_total={name: totals[r].tolist() for r, name in enumerate(rows)},
        full_flux={name: summary(full[r]) for r, name in enumerate(rows)},
        exact=exact,
        exact_full_flux=exact_full,
        replay_identical=summary([s.replay_identical for s in seeds]),
        signal={
            name: SignalShape(
                *map(summary, np.array([s.shapes[name] for s in seeds]).T)
            )
            for name in seeds[0].shapes
        },
        scale_sweep=ScaleSweep(
            scales=list(config.fluctuation_scales),
            intra=[summary(row) for row in intra[sweep]],
            inter=[summary(row) for row in inter[sweep]],
            full_flux=[summary(row) for row in full[sweep]],
            per_seed_total=totals[sweep].tolist(),
            best_scale=float(config.fluctuation_scales[best]),
            inverted_u=bool(
                sweep_totals[best] > sweep_totals[0]
                and sweep_totals[best] > sweep_totals[-1]
            ),
        ),
    )


def plot(result: FluctuationsResult) -> Figure:
    """Each condition's indicator, its per-seed ratio to biases_only, and the sweep.

    Left: intra + inter stacked, ± SD over seeds, the embedded core dashed. Middle:
    the paired comparisons of claim 3's verdict. Right: the scale sweep.
    """
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(16, 4.2), gridspec_kw={"width_ratios": [3, 3, 2]}
    )
    positions = range(len(CONDITIONS))
    labels = [LABELS[c] for c in CONDITIONS]
    for position, name in enumerate(CONDITIONS):
        entry = result.conditions[name]
        intra, inter = 1e3 * entry.intra.mean, 1e3 * entry.inter.mean
        left.bar(position, intra, color="C0", label="intra" if position == 0 else None)
        left.bar(
            position,
            inter,
            bottom=intra,
            color="C1",
            yerr=1e3 * np.hypot(entry.intra.sd, entry.inter.sd),
            capsize=3,
            label="inter" if position == 0 else None,
        )
    embedded = 1e3 * result.embedded.total
    left.axhline(embedded, color="k", ls="--", lw=1, label="embedded")
    left.set_xticks(positions, labels, fontsize=7)
    left.set(
        ylabel="flux indicator (10$^{-3}$ bit)",
        title="isolated core under the embedding's input and its surrogates",
    )
    left.legend(fontsize=8)
    total = {k: np.asarray(v) for k, v in result.per_seed_total.items()}
    ratios = np.stack([total[name] / total["biases_only"] for name in CONDITIONS])
    for position, row in enumerate(ratios):
        middle.plot(np.full(row.size, position), row, "o", color="gray", ms=3)
        middle.errorbar(
            position, row.mean(), summary(row).sd, fmt="s", color="C3", capsize=3
        )
    middle.axhline(1.0, color="gray", ls=":", lw=1)
    middle.set_xticks(positions, labels, fontsize=7)
    middle.set(
        ylabel="indicator / biases only (per seed)",
        title="paired: each seed's ratio, and mean ± SD",
    )
    sweep = result.scale_sweep
    per_seed = 1e3 * np.asarray(sweep.per_seed_total)
    right.plot(sweep.scales, per_seed, color="gray", lw=0.6)
    right.errorbar(
        sweep.scales,
        per_seed.mean(1),
        [summary(row).sd for row in per_seed],
        color="C3",
        marker="o",
        ms=3,
        capsize=3,
        label="mean ± SD (grey: seeds)",
    )
    right.set(
        xlabel="scale s: drive mu + s (U - mu), fresh noise",
        ylabel="flux indicator (10$^{-3}$ bit)",
        title="the recorded fluctuations scaled",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
