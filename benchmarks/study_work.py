"""How much simulation the study's full run does, and what a numpy loop would need.

Counts the neuron-updates that ``fluxjax reproduce`` (the paper's sizes) asks of
``simulate_ensemble`` in its five simulation parts (resonance, embedding, bars,
lesions, controls), by running them with every simulation cut to 2000 steps while
recording the requested sizes; then times the reference code's approach (one network,
one numpy step per iteration, float32, noiseless like every part but the resonance
sweep) on the paper's 125-neuron network, and the estimated numpy time of the whole
run. The optimisation part is excluded (it has no numpy counterpart).

``--time-parts K`` instead times the lesions and controls parts with K seeds and the
paper's steps (run it with ``PYTHONPATH`` pointing at another checkout's code to compare
versions, as for the throughput tables).

Run:
    python benchmarks/study_work.py [--threads 1] [--time-parts K]
"""

import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
from _threads import set_threads  # noqa: E402


THREADS = set_threads(sys.argv)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import header  # noqa: E402

import fluxjax as fj  # noqa: E402
from fluxjax.experiments import bars, controls, embedding, lesions, resonance  # noqa: E402
from fluxjax.experiments._common import StudyConfig  # noqa: E402


def count_updates(config: StudyConfig) -> dict[str, float]:
    """Neuron-updates per part, with the simulations themselves cut short."""
    real = fj.simulate_ensemble
    tally = {"updates": 0.0}

    def counting(nets, key, steps, *, burn_in=0, **kwargs):
        stacked = nets if isinstance(nets, fj.BinaryNetwork) else None
        size = len(nets) if stacked is None else stacked.weights.shape[0]
        n = (nets[0] if stacked is None else stacked).weights.shape[-1]
        tally["updates"] += float(size) * n * (steps + burn_in)
        return real(nets, key, min(steps, 2000), burn_in=min(burn_in, 100), **kwargs)

    fj.simulate_ensemble = counting
    per_part = {}
    try:
        done = {}
        for name, run in (
            ("resonance", lambda: resonance.run(config)),
            ("embedding", lambda: embedding.run(config)),
            ("bars", lambda: bars.run(config, done["embedding"])),
            ("lesions", lambda: lesions.run(config)),
            ("controls", lambda: controls.run(config)),
        ):
            tally["updates"] = 0.0
            done[name] = run()
            per_part[name] = tally["updates"]
    finally:
        fj.simulate_ensemble = real
    return per_part


def numpy_rate(steps: int = 20_000) -> float:
    """Neuron-updates per second of the reference code's loop on the paper's net."""
    net, _ = fj.l5_microcircuit(42)
    W = np.asarray(net.weights, np.float32)
    b = np.asarray(net.biases, np.float32)
    T = np.float32(np.asarray(net.temperature).ravel()[0])
    rng = np.random.default_rng(0)
    s = (rng.random(W.shape[0]) < 0.5).astype(np.float32)
    start = time.perf_counter()
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(s @ W + b) / T))
        s = (rng.random(W.shape[0]) < p).astype(np.float32)
    return steps * W.shape[0] / (time.perf_counter() - start)


def time_parts(seeds: int) -> str:
    """Seconds of the lesions and controls parts with ``seeds`` seeds, full steps."""
    config = StudyConfig(num_seeds=seeds)
    rows = []
    for name, part in (("lesions", lesions), ("controls", controls)):
        start = time.perf_counter()
        part.run(config)
        rows.append(f"| {name} | {seeds} | {time.perf_counter() - start:.1f} |")
    return "\n".join(["| part | seeds | seconds |", "|---:|---:|---:|", *rows])


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="1 (default) or 0")
    parser.add_argument("--time-parts", type=int, metavar="K", help="seeds to time")
    parser.add_argument("--quick", action="store_true", help="the --quick study's work")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args()
    if args.time_parts:
        print(header("study parts", dtype="float32", threads=THREADS))
        print(time_parts(args.time_parts))
        return
    config = StudyConfig.quick_config() if args.quick else StudyConfig()
    per_part = count_updates(config)
    rate = numpy_rate()
    total = sum(per_part.values())
    lines = [
        header("the study's simulation work", dtype="float32", threads=THREADS),
        "",
        "| part | neuron-updates | numpy loop, estimated s |",
        "|---:|---:|---:|",
        *(f"| {k} | {v:.3g} | {v / rate:.0f} |" for k, v in per_part.items()),
        f"| total | {total:.3g} | {total / rate:.0f} |",
        "",
        f"numpy loop (one network, one step per iteration): {rate:.3g} updates/s",
    ]
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
