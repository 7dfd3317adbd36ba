"""The reservoir study's wall time against ReservoirPy doing the same reservoir work.

fluxjax: ``fluxjax.experiments.reservoir.run`` at the ``--quick`` sizes (or the full
ones), everything included: building each network, its bias settings (flux grid,
self-organisation, flux-gradient ascent, intrinsic plasticity), the free-running flux
of every setting, the driven runs and the three tasks' validated readouts.

Baseline, timed in the same process: ReservoirPy doing what a reservoir user would do
with it for the same number of configurations (network class x seed x setting or
grid point) of the same sizes, inputs and split: build a tanh ``Reservoir`` of n
units, ``run`` it on the three tasks' inputs, and fit and score a ReservoirPy
``Ridge`` readout per task (all delays as outputs of one readout; ridge 1e-4). It does
less than the study (no flux, no bias optimisation, one ridge instead of a
validated grid), so the ratio understates what the study's extra work costs
ReservoirPy users, who would have to write it. A third row is the part of the study
that does ReservoirPy's work: its driven runs (firing-probability features) and
validated task readouts, timed inside the same study run.

Run:
    python benchmarks/reservoir.py [--full] [--out FILE]
"""

import argparse
import time

import jax
import numpy as np
from _common import header, load_average, markdown_table

from fluxjax.experiments import reservoir
from fluxjax.experiments._common import StudyConfig


def configurations(study: StudyConfig) -> list[int]:
    """The reservoir size n of every configuration the study runs, one entry each."""
    config = study.reservoir
    sizes = ([125] if config.paper_network else []) + [n for n, _, _ in config.networks]
    out = []
    for n in sizes:
        sweep = n <= reservoir.MAX_NOISE_SWEEP_NEURONS
        noises = len(config.noise_levels) if sweep else 1
        per_seed = len(reservoir.SETTINGS) + len(config.ceiling_biases) * noises
        per_seed += (noises - 1) if sweep else 0
        out += [n] * (per_seed * config.num_seeds)
    return out


def reservoirpy_seconds(sizes: list[int], study: StudyConfig) -> float:
    """ReservoirPy: a tanh ESN run on three task inputs and three Ridge readouts,
    once per configuration."""
    from reservoirpy.nodes import Reservoir, Ridge

    config = study.reservoir
    washout, train, _, test = config.split
    length = config.length
    rng = np.random.default_rng(0)
    inputs = [
        rng.uniform(-0.8, 0.8, (length, 1)),
        rng.uniform(0, 0.5, (length, 1)),
        rng.choice([-1.0, 1.0], (length, 1)),
    ]
    delays = config.max_delay
    targets = [
        np.stack([np.roll(inputs[0][:, 0], k) for k in range(1, delays + 1)], 1),
        rng.normal(size=(length, 1)),
        np.stack([np.roll(inputs[2][:, 0], k) for k in range(config.parity_delays)], 1),
    ]
    fit = slice(washout, washout + train)
    scored = slice(length - test, length)
    start = time.perf_counter()
    for index, n in enumerate(sizes):
        for u, y in zip(inputs, targets, strict=True):
            node = Reservoir(n, sr=0.9, input_scaling=config.input_scale, seed=index)
            states = node.run(u)
            readout = Ridge(ridge=1e-4).fit(states[fit], y[fit])
            prediction = readout.run(states[scored])
            np.corrcoef(prediction[:, 0], y[scored, 0])
    return time.perf_counter() - start


class _Stopwatch:
    """Total seconds spent in the wrapped functions (results made ready first)."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = jax.block_until_ready(function(*args, **kwargs))
            self.seconds += time.perf_counter() - start
            return out

        return timed


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full study's sizes")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    study = StudyConfig() if args.full else StudyConfig.quick_config()
    sizes = configurations(study)
    load = load_average()
    reservoir_work = _Stopwatch()
    reservoir._run_all = reservoir_work.wrap(reservoir._run_all)
    reservoir._scores = reservoir_work.wrap(reservoir._scores)
    start = time.perf_counter()
    reservoir.run(study)
    ours = time.perf_counter() - start
    theirs = reservoirpy_seconds(sizes, study)
    rows = [
        dict(
            what="reservoir study (fluxjax, everything)",
            configurations=len(sizes),
            seconds=f"{ours:.1f}",
            ratio="1.00 (baseline of the ratio)",
        ),
        dict(
            what="fluxjax: its driven runs + validated readouts (inside the study)",
            configurations=len(sizes),
            seconds=f"{reservoir_work.seconds:.1f}",
            ratio=f"{reservoir_work.seconds / ours:.2f}",
        ),
        dict(
            what="ReservoirPy: ESN runs + Ridge readouts only",
            configurations=len(sizes),
            seconds=f"{theirs:.1f}",
            ratio=f"{theirs / ours:.2f}",
        ),
    ]
    table = "\n\n".join(
        [
            header(
                "Reservoir study against ReservoirPy",
                dtype="float32",
                threads=0,
                extra=[
                    f"sizes: {'full' if args.full else 'quick'}; load average at "
                    f"start {load:.1f}"
                ],
            ),
            markdown_table(rows, ["what", "configurations", "seconds", "ratio"]),
        ]
    )
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
