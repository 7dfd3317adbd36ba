"""Is a circuit that nobody here wrote at its flux optimum? The Brunel (2000) network.

The study's question asked of spikes: the shipped recording of 50 units of a
1000-neuron balanced network of leaky integrate-and-fire neurons, simulated with
Brian2 (:func:`fluxjax.data.load_brunel`; :mod:`.brunel_simulation` made it), in the
regimes of Brunel's Fig. 8. Per regime and bin width:

1. bin the spikes (:func:`fluxjax.bin_spikes`) and drop the units that fire, or
   stay silent, in fewer than :data:`MIN_EVENTS` bins (a unit that fires in no bin
   or in every bin has no finite fit of its bias, and carries no flux);
2. fit the kinetic Ising model (:func:`fluxjax.fit_network`, L2 penalty chosen by
   cross-validation over contiguous blocks);
3. diagnose: the fit's flux from the front door (:func:`fluxjax.flux`: the network
   simulated) against the flux from the data's own moments
   (:func:`fluxjax.data_flux`). A gap of more than :data:`STATIONARITY_Z` standard
   errors is flagged, and compared with the gap on a control: a recording of the
   same length simulated from the fit (kinetic Ising data by construction) and
   refitted. A gap beyond the control's says that the model does not describe the
   data (non-stationary data, memory longer than one bin, hidden inputs); one as
   large as the control's is the fit's own (its penalty, its noise);
4. ask the question (:func:`fluxjax.flux_optimality`): the flux at the fitted biases,
   at the 50 %-firing biases and at the biases that gradient ascent reaches from
   the fitted ones, the gain, and the distances, with block-bootstrap standard
   errors (each refit's biases optimised anew); :func:`fluxjax.flux` at the
   50 %-firing and optimised biases checks where these values are outside the
   estimator's validated regime.

The objective is the large-n estimate U1 - TC_G (:func:`fluxjax.moment_flux`) from
``flux_steps_per_unit`` n transitions (at least ``min_flux_steps``). Flux is in bits per transition (one bin to
the next); divided by the bin width it is a rate in bits per second. A cell outside
the fit's validated regime is kept, and its ``problems`` say why: fewer than
:data:`MIN_TRANSITIONS_PER_UNIT` transitions per unit, dropped units, a fit that did
not converge, the data-model gap, a flux estimate with a warning, an ascent that
ended below the 50 %-firing flux.
"""

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

import fluxjax as fj

from ._common import (
    BrunelFitConfig,
    Checkpoints,
    StudyConfig,
    adam,
    caught_warnings,
    flux_objective,
    no_checkpoints,
)


MIN_EVENTS = 20
"""A unit is fitted only if it fires in at least this many bins and stays silent in
at least this many (else its bias is barely, or not at all, determined, and a fold
or a bootstrap replicate without its rare outcome has no finite fit)."""
MIN_TRANSITIONS_PER_UNIT = 100
"""Below T = 100 n transitions the fit's flux was off by up to 28 % on known networks
(the penalty chosen for prediction shrinks it; benchmarks/README.md, "From recordings
to flux"); such cells are flagged."""
STATIONARITY_Z = 3.0
"""data_flux and the fit's own flux differ by more than this many standard errors:
flagged; the data are not described by the model where the gap also differs from the
control's (simulated from the fit) by more than this times sqrt(2)."""
AT_OPTIMUM_TOLERANCE = 0.01
"""The fitted biases are at the optimum when the gain is below this fraction of the
optimised flux, or below twice its standard error."""


class Flux(NamedTuple):
    """A value and its standard error (bits, or bias units for a distance)."""

    value: float
    stderr: float


class Cell(NamedTuple):
    """One regime at one bin width.

    The flux fields are None where no fit was possible (every unit dropped, or the
    fit refused the data: ``problems`` says why).

    Attributes:
        regime: the key of :data:`fluxjax.data.BRUNEL_REGIMES`.
        bin_width_ms: the bin width.
        num_transitions: T, the transitions fitted.
        num_units: n, the units fitted.
        dropped_units: the units with fewer than :data:`MIN_EVENTS` spikes or
            silences (in the next states of the transitions).
        firing_probability: the mean over all units of P(spike in a bin).
        penalty: the L2 penalty chosen by cross-validation.
        deviance_explained: the mean over units of the held-out deviance explained.
        converged: whether every solve of the fit converged.
        model_flux: the fit's flux, :func:`fluxjax.flux` (SE: sampling only).
        data_flux: :func:`fluxjax.data_flux` (SE: jackknife over blocks).
        stationarity_z: (data_flux - model_flux) / the SE of the difference.
        control_z: the same on a recording of T transitions simulated from the
            fit and refitted with its penalty: the gap that the fit itself makes.
        fitted: the flux at the fitted biases (flux_optimality).
        half_firing: at the 50 %-firing biases.
        optimized: at the biases gradient ascent reaches from the fitted ones.
        gain: optimized - fitted.
        distance_to_half_firing: RMS(b_fit - b_half), in units of the weights.
        distance_to_optimized: RMS(b_fit - b_opt).
        front_door: :func:`fluxjax.flux` of the fit at the 50 %-firing
            (``"half_firing"``) and optimised (``"optimized"``) biases: a second
            estimate, with the front door's regime checks.
        model_firing: the fitted network's mean firing probability at the
            ``"fitted"``, ``"half_firing"`` and ``"optimized"`` biases (simulated).
        problems: why the cell is outside the fit's validated regime ([] if not).
        seconds: the cell's compute time.
    """

    regime: str
    bin_width_ms: float
    num_transitions: int
    num_units: int
    dropped_units: list[int]
    firing_probability: float
    penalty: float | None
    deviance_explained: float | None
    converged: bool | None
    model_flux: Flux | None
    data_flux: Flux | None
    stationarity_z: float | None
    control_z: float | None
    fitted: Flux | None
    half_firing: Flux | None
    optimized: Flux | None
    gain: Flux | None
    distance_to_half_firing: Flux | None
    distance_to_optimized: Flux | None
    front_door: dict[str, Flux] | None
    model_firing: dict[str, float] | None
    problems: list[str]
    seconds: float


class RegimeInfo(NamedTuple):
    """A regime's parameters and its whole network's statistics (from the data set)."""

    g: float
    nu_ratio: float
    description: str
    statistics: dict[str, float]


class BrunelResult(NamedTuple):
    """The Brunel study (``results.json["parts"]["brunel"]``)."""

    regimes: dict[str, RegimeInfo]
    cells: list[Cell]
    answer: str


def _flux(estimate) -> Flux:
    return Flux(float(estimate.value), float(estimate.stderr))


def recorded_states(
    recording: fj.SpikeRecording, bin_width_ms: float, config: BrunelFitConfig
) -> np.ndarray:
    """The first ``config.num_units`` units over ``config.duration_s``, binned."""
    stop = min(recording.stop, recording.start + 1e3 * config.duration_s)
    chosen = recording.unit_ids < config.num_units
    states = fj.bin_spikes(
        recording.spike_times[chosen],
        recording.unit_ids[chosen],
        bin_width=bin_width_ms,
        start=recording.start,
        stop=stop,
        num_units=min(config.num_units, recording.num_units),
    )
    return np.asarray(states)


def _gap(states, net: fj.BinaryNetwork, key) -> tuple[fj.FluxResult, Flux, float]:
    """The fit's flux (:func:`fluxjax.flux`), data_flux, and their gap in SEs."""
    model, _ = caught_warnings(fj.flux, net, key)  # its warnings are in the result
    data = fj.data_flux(states, net)
    z = (float(data.value) - model.value) / math.hypot(float(data.stderr), model.stderr)
    return model, _flux(data), z


def _control_gap(net, penalty: float, key, T: int, config) -> float | None:
    """The gap on T transitions simulated from the fit and refitted (None: no fit).

    Data that the kinetic Ising model describes exactly; what remains of the gap is
    the fit's own (its penalty, its noise at this T).
    """
    simulate_key, flux_key = jax.random.split(key)
    synthetic = np.asarray(fj.simulate(net, simulate_key, T + 1, burn_in=1000))
    try:
        refit, _ = fj.fit_network(
            synthetic, penalties=penalty, num_folds=config.num_folds
        )
        return _gap(synthetic, refit, flux_key)[2]
    except ValueError:  # a unit constant in the simulated recording
        return None


def _gap_problem(model, data: Flux, z: float, control: float | None) -> str | None:
    """Why the fit's flux is not the data's, or None (see :data:`STATIONARITY_Z`)."""
    if abs(z) <= STATIONARITY_Z:
        return None
    gap = (
        f"data_flux {data.value:.3g} ± {data.stderr:.2g} bit and the fit's flux "
        f"{model.value:.3g} ± {model.stderr:.2g} bit differ by {z:+.1f} SE"
    )
    if control is None:
        return f"{gap}; the control (a recording simulated from the fit) has no fit"
    if abs(z - control) > STATIONARITY_Z * math.sqrt(2):
        return (
            f"{gap}, on a recording simulated from the fit and refitted by "
            f"{control:+.1f} SE: the kinetic Ising model does not describe these data "
            "(non-stationary, memory longer than one bin, or hidden inputs)"
        )
    return (
        f"{gap}, and as much ({control:+.1f} SE) on a recording simulated from the "
        "fit and refitted: the fit itself (its penalty, its noise at this T) makes "
        "the gap, and it cannot tell whether the model describes the data"
    )


def _front_door(net, optimized_biases, key) -> tuple[dict[str, Flux], dict, list[str]]:
    """:func:`fluxjax.flux` at the 50 %-firing and optimised biases, and its warnings.

    The objective of ``flux_optimality`` has no regime checks; the front door says
    where its values are outside the estimator's validated regime. Also the mean
    firing probability of the fitted network at each setting (the fitted one too:
    a check of the fit against the data's), from 2000 simulated steps.
    """
    settings = {
        "fitted": net.biases,
        "half_firing": net.half_firing_biases(),
        "optimized": optimized_biases,
    }
    checks, firing, problems = {}, {}, []
    keys = jax.random.split(key, len(settings))
    for (name, biases), setting_key in zip(settings.items(), keys, strict=True):
        flux_key, rate_key = jax.random.split(setting_key)
        setting = fj.BinaryNetwork(net.weights, biases)
        firing[name] = float(fj.simulate(setting, rate_key, 2000, burn_in=500).mean())
        if name == "fitted":  # its fj.flux is the model_flux
            continue
        found, _ = caught_warnings(fj.flux, setting, flux_key)
        checks[name] = Flux(found.value, found.stderr)
        problems += _regime_problems(found, f"the {name.replace('_', ' ')} biases")
    return checks, firing, problems


def _regime_problems(result: fj.FluxResult, where: str) -> list[str]:
    return [
        f"the flux at {where} is outside the estimator's validated regime (fj.flux: "
        f"{warning})"
        for warning in result.warnings
    ]


def _fit_cell(states, key, config: BrunelFitConfig) -> dict:
    """Fit, diagnostics and flux optimality of binary ``states`` (no rare outcome)."""
    model_key, control_key, optimality_key, check_key = jax.random.split(key, 4)
    T, n = states.shape[0] - 1, states.shape[1]
    problems = []
    if T < MIN_TRANSITIONS_PER_UNIT * n:
        problems.append(
            f"T = {T} transitions for n = {n} units: fewer than the "
            f"{MIN_TRANSITIONS_PER_UNIT} n = {MIN_TRANSITIONS_PER_UNIT * n} at which "
            "the fit's flux was validated"
        )
    try:
        net, info = fj.fit_network(
            states, penalties=config.penalties, num_folds=config.num_folds
        )
    except ValueError as error:  # e.g. a unit constant in one fold's training blocks
        return dict(problems=[*problems, f"fit_network refused the data: {error}"])
    if not info.converged:
        problems.append("the fit did not converge")
    model, data, z = _gap(states, net, model_key)
    problems += _regime_problems(model, "the fitted biases")
    control = _control_gap(net, info.penalty, control_key, T, config)
    problems += [p for p in [_gap_problem(model, data, z, control)] if p]
    found = dict(
        penalty=float(info.penalty),
        deviance_explained=float(np.mean(info.deviance_explained)),
        converged=bool(info.converged),
        model_flux=Flux(float(model.value), float(model.stderr)),
        data_flux=data,
        stationarity_z=float(z),
        control_z=control,
    )
    objective = flux_objective(
        max(config.flux_steps_per_unit * n, config.min_flux_steps)
    )
    try:
        result, warned = caught_warnings(
            fj.flux_optimality,
            states,
            net,
            info,
            key=optimality_key,
            objective=objective,
            steps=config.gradient_steps,
            optimizer=adam(config.learning_rate),
            num_replicates=config.num_replicates,
        )
    except FloatingPointError as error:
        problems.append(f"flux_optimality: {error}")
        return dict(found, problems=problems)
    if warned:
        problems.append(f"flux_optimality: {warned}")
    checks, firing, checked = _front_door(net, result.optimized_biases, check_key)
    problems += checked
    half, best = result.half_firing, result.optimized
    if float(half.value) > float(best.value) + 2 * float(best.stderr):
        problems.append(
            "the ascent from the fitted biases ended below the 50 %-firing flux (a "
            "local optimum, or too few steps): the gain is a lower bound"
        )
    names = (
        "fitted",
        "half_firing",
        "optimized",
        "gain",
        "distance_to_half_firing",
        "distance_to_optimized",
    )
    return dict(
        found,
        front_door=checks,
        model_firing=firing,
        problems=problems,
        **{k: _flux(getattr(result, k)) for k in names},
    )


def run_cell(
    recording: fj.SpikeRecording,
    bin_width_ms: float,
    key: jax.Array,
    config: BrunelFitConfig,
) -> Cell:
    """One regime at one bin width: bin, drop near-constant units, fit, ask."""
    start = time.perf_counter()
    states = recorded_states(recording, bin_width_ms, config)
    T = states.shape[0] - 1
    spikes = states[1:].sum(0)  # what the fit regresses on: the next states
    rare = np.minimum(spikes, T - spikes) < MIN_EVENTS
    dropped = np.flatnonzero(rare).tolist()
    kept = states[:, ~rare]
    empty = {field: None for field in Cell._fields}
    found: dict = dict(empty, problems=[])
    if dropped:
        found["problems"].append(
            f"{len(dropped)} of {states.shape[1]} units fire, or stay silent, in "
            f"fewer than {MIN_EVENTS} of the {T} bins: dropped (a unit that fires in "
            "no bin or in every bin has no finite fit, and carries no flux)"
        )
    if kept.shape[1] >= 2:
        fitted = _fit_cell(kept, key, config)
        found.update(fitted, problems=found["problems"] + fitted["problems"])
    else:
        found["problems"].append("fewer than 2 units left: nothing to fit")
    found.update(
        regime=recording.provenance["regime"],
        bin_width_ms=float(bin_width_ms),
        num_transitions=int(T),
        num_units=int(kept.shape[1]),
        dropped_units=dropped,
        firing_probability=float(spikes.mean() / T),
        seconds=time.perf_counter() - start,
    )
    return Cell(**found)


def _units(study: StudyConfig) -> list[tuple[str, Callable[[], Cell]]]:
    """``(name, compute)`` of every cell (a unit of work)."""
    config = study.brunel
    key = study.key("brunel")
    units = []
    for r, regime in enumerate(config.regimes):
        recording = fj.load_brunel(regime)
        for w, width in enumerate(config.bin_widths_ms):
            cell_key = jax.random.fold_in(jax.random.fold_in(key, r), w)
            compute = functools.partial(run_cell, recording, width, cell_key, config)
            units.append((f"{regime}_{width:g}ms", compute))
    return units


def run(study: StudyConfig, checkpoints: Checkpoints = no_checkpoints) -> BrunelResult:
    """The Brunel study at the sizes of ``study.brunel``; one checkpoint per cell."""
    cells = [
        checkpoints(name, Cell, compute)
        for name, compute in tqdm(_units(study), desc="brunel", leave=False)
    ]
    regimes = {}
    for regime in study.brunel.regimes:
        entry = fj.load_brunel(regime).provenance
        regimes[regime] = RegimeInfo(
            entry["g"], entry["nu_ratio"], entry["description"], entry["statistics"]
        )
    return BrunelResult(regimes=regimes, cells=cells, answer=answer(cells))


def fraction_of_optimum(cell: Cell, setting: str) -> float | None:
    """The flux at ``setting`` ("fitted" or "half_firing") / the optimised flux."""
    value, best = getattr(cell, setting), cell.optimized
    if value is None or best is None or best.value <= 0:
        return None
    return value.value / best.value


def at_optimum(cell: Cell) -> bool | None:
    """Whether the fitted biases are at the flux optimum (None: no fit)."""
    if cell.gain is None or cell.optimized is None:
        return None
    tolerance = max(AT_OPTIMUM_TOLERANCE * cell.optimized.value, 2 * cell.gain.stderr)
    return cell.gain.value <= tolerance


def half_firing_at_optimum(cell: Cell) -> bool | None:
    """Whether the 50 %-firing biases reach the optimised flux (within 2 SE)."""
    if cell.half_firing is None or cell.optimized is None:
        return None
    return cell.half_firing.value >= cell.optimized.value - 2 * cell.optimized.stderr


def answer(cells: list[Cell]) -> str:
    """The report's answer: how close the fitted biases are, per regime and bin width."""
    parts = []
    for regime in dict.fromkeys(c.regime for c in cells):
        texts = []
        for c in (c for c in cells if c.regime == regime):
            fitted = fraction_of_optimum(c, "fitted")
            if fitted is None:
                texts.append(f"{c.bin_width_ms:g} ms no fit")
                continue
            half = fraction_of_optimum(c, "half_firing")
            flag = ", flagged" if c.problems else ""
            texts.append(
                f"{c.bin_width_ms:g} ms {100 * fitted:.0f} % ({100 * half:.0f} %{flag})"
            )
        parts.append(f"{regime.upper()}: " + ", ".join(texts))
    fitted = [c for c in cells if at_optimum(c) is not None]
    unflagged = [c for c in fitted if not c.problems]
    return (
        f"The fitted biases are at the flux optimum in "
        f"{sum(map(at_optimum, fitted))} of {len(fitted)} fitted cells (regime and "
        f"bin width; {sum(map(at_optimum, unflagged))} of the {len(unflagged)} "
        "inside the fit's validated regime); the 50 %-firing biases reach the "
        f"optimised flux in {sum(map(half_firing_at_optimum, fitted))} of "
        f"{len(fitted)}. The flux at the fitted biases as a fraction of the "
        "optimised flux (50 %-firing biases in brackets), per regime and bin "
        "width: " + "; ".join(parts) + "."
    )


SETTINGS = {"fitted": "tab:blue", "half_firing": "tab:green", "optimized": "tab:red"}


def plot(result: BrunelResult) -> Figure:
    """Flux at the fitted, 50 %-firing and optimised biases against the bin width.

    One panel per regime, in bits per transition (error bars: bootstrap SEs); cells
    without a fit are left out, flagged cells drawn with open markers.
    """
    regimes = list(result.regimes)
    fig, axes = plt.subplots(
        1, len(regimes), figsize=(3.6 * len(regimes), 3.4), squeeze=False
    )
    for ax, regime in zip(axes[0], regimes, strict=True):
        cells = [c for c in result.cells if c.regime == regime and c.fitted]
        for name, color in SETTINGS.items():
            ax.plot(
                [c.bin_width_ms for c in cells],
                [getattr(c, name).value for c in cells],
                color=color,
                lw=0.8,
                label=name.replace("_", " "),
            )
            for flagged in (False, True):
                chosen = [c for c in cells if bool(c.problems) == flagged]
                if chosen:
                    ax.errorbar(
                        [c.bin_width_ms for c in chosen],
                        [getattr(c, name).value for c in chosen],
                        yerr=[getattr(c, name).stderr for c in chosen],
                        color=color,
                        marker="o",
                        mfc="white" if flagged else color,
                        ls="none",
                        capsize=2,
                    )
        ax.set_xscale("log")
        widths = [c.bin_width_ms for c in result.cells if c.regime == regime]
        ax.set_xticks(widths, [f"{w:g}" for w in widths])
        ax.set_xlabel("bin width (ms)")
        ax.set_title(
            f"{regime.upper()}: {result.regimes[regime].description}", fontsize=8
        )
    axes[0][0].set_ylabel("flux (bit per transition)")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, title="biases (open: flagged)", title_fontsize=7)
            break
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m fluxjax.experiments.brunel --out DIR [--quick]``: this part alone.

    Writes ``DIR/parts/brunel.json`` (which ``fluxjax reproduce --out DIR`` then
    reuses), ``DIR/brunel.md`` (the report's section) and ``DIR/fig_brunel.png``.
    """
    from . import report, reproduce  # they import this module

    parser = argparse.ArgumentParser(
        prog="python -m fluxjax.experiments.brunel",
        description="The Brunel part of fluxjax reproduce, alone.",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="reduced sizes")
    args = parser.parse_args(argv)
    config = StudyConfig.quick_config() if args.quick else StudyConfig()
    loaded = reproduce.run_part("brunel", config, args.out)
    (args.out / "brunel.md").write_text(report.brunel_section(loaded.result))
    figure = plot(loaded.result)
    figure.savefig(args.out / "fig_brunel.png", dpi=120)
    plt.close(figure)
    print(f"brunel: {loaded.seconds:.0f} s; {args.out / 'brunel.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
