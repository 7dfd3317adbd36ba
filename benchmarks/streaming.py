"""Recording only what the estimator needs: throughput by record mode, and the memory
of a 10^7-step run of the paper's network with the flux indicator.

Table 1 (throughput): the paper's 125-neuron network (``fj.l5_microcircuit(42)``,
t0 = 5, noise 0) with 256 replicas, recording bool ``states`` (all 125 neurons), the
uint32 ``codes`` of the 10 core neurons, or the streamed ``pair_counts`` of the three
core triplets (what the triplet flux indicator needs), against the batched numpy loop
(which stores the bool states) and the matmul-only bound, measured in the same run.

Table 2 (memory): ``flux_indicator`` (streamed triplet counts) for one network and
10^7 steps after a 10^4-step burn-in, in a fresh process: its peak resident memory, the
same for a process that only imports fluxjax and runs a 10-step simulation (the
runtime's own footprint), and XLA's buffer sizes of the compiled simulation for each
record mode (from ``memory_analysis()``; the states version is not run).

Run:
    python benchmarks/streaming.py [--quick] [--threads T] [--out FILE]
"""

import argparse
import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _threads  # noqa: E402


THREADS = _threads.set_threads(sys.argv)

import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import header, load_average, markdown_table  # noqa: E402
from simulate_throughput import matmul_only, numpy_simulate  # noqa: E402

import fluxjax as fj  # noqa: E402
from fluxjax.experiments._common import TRIPLETS  # noqa: E402


simulate_module = sys.modules["fluxjax.simulate"]
CORE = tuple(range(10))
MEMORY_STEPS = 10**7
BURN_IN = 10**4


def throughput(repeat: int, quick: bool) -> list[dict]:
    net, groups = fj.l5_microcircuit(42)
    core = list(groups["core"])
    replicas, steps = 256, 200 if quick else 1000
    key = jax.random.key(0)
    rng = np.random.default_rng(0)
    weights, biases = np.asarray(net.weights), np.asarray(net.biases)
    temperature = float(np.asarray(net.temperature).ravel()[0])
    triplets = [[core[i] for i in t] for t in TRIPLETS]
    matmul = matmul_only(weights / temperature, replicas, steps)
    x0 = jax.numpy.asarray(rng.random((replicas, 125)) < 0.5)

    def fluxjax(**kwargs):
        return lambda: jax.block_until_ready(
            fj.simulate(net, key, steps, batch=replicas, **kwargs)
        )

    runs = {
        "states (125 neurons)": fluxjax(),
        "codes (10 core neurons)": fluxjax(record=fj.Codes(core)),
        "pair_counts (3 triplets)": fluxjax(record=fj.PairCounts(triplets)),
        "numpy B": lambda: numpy_simulate(
            weights / temperature, biases / temperature, 0.0, replicas, steps // 5, rng
        ),
        "matmul": lambda: jax.block_until_ready(matmul(x0)),
    }
    updates = {name: 125 * replicas * steps for name in runs}
    updates["numpy B"] //= 5
    first = {}
    for name, f in runs.items():
        start = time.perf_counter()
        f()
        first[name] = time.perf_counter() - start
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, f in runs.items():
            best[name] = min(best[name], timeit.timeit(f, number=1))
    rate = {name: updates[name] / best[name] for name in runs}
    rows = []
    for name in runs:
        if name in ("numpy B", "matmul"):
            continue
        rows.append(
            {
                "record": name,
                "upd/s": f"{rate[name]:.3g}",
                "run s": f"{best[name]:.3f}",
                "compile s": f"{max(first[name] - best[name], 0):.2f}",
                "x numpy B": f"{rate[name] / rate['numpy B']:.1f}",
                "of matmul": f"{rate[name] / rate['matmul']:.2f}",
            }
        )
    rows.append(
        {
            "record": "(numpy B, matmul)",
            "upd/s": f"{rate['numpy B']:.3g}, {rate['matmul']:.3g}",
            "run s": "",
            "compile s": "",
            "x numpy B": "",
            "of matmul": "",
        }
    )
    return rows


def compiled_bytes() -> list[dict]:
    """XLA's buffer sizes of the 10^7-step simulation per record mode (not run)."""
    net, groups = fj.l5_microcircuit(42)
    core = list(groups["core"])
    rows = []
    for what, record in [
        ("record=fj.States() (all 125 neurons)", fj.States()),
        ("record=fj.States(core) (10 core neurons)", fj.States(core)),
        ("record=fj.Codes(core) (10 core neurons)", fj.Codes(core)),
        (
            "record=fj.PairCounts(triplets) (3 triplets)",
            fj.PairCounts([[core[i] for i in t] for t in TRIPLETS]),
        ),
    ]:
        plan = simulate_module._plan(net, MEMORY_STEPS, BURN_IN, record, 1, None)
        lowered = simulate_module._simulate_one.lower(
            net, jax.random.key(0), None, None, plan
        )
        memory = lowered.compile().compiled.memory_analysis()
        rows.append(
            {
                "what": f"compiled simulation, {what}",
                "MB": f"{(memory.temp_size_in_bytes + memory.output_size_in_bytes) / 1e6:.1f}",
                "seconds": "",
                "how": "XLA memory_analysis: temporaries + output",
            }
        )
    return rows


CHILD = """
import json, sys, time
import jax
import fluxjax as fj
from fluxjax.experiments._common import StudyConfig, flux_indicator


def peak_mb():  # VmHWM: this process's peak resident set (ru_maxrss would include
    # the resident set of the parent at fork time)
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


steps = int(sys.argv[1])
net, groups = fj.l5_microcircuit(42)
start = time.perf_counter()
if steps:
    config = StudyConfig(num_seeds=1, steps=steps, burn_in=int(sys.argv[2]))
    intra, inter = flux_indicator([net], jax.random.key(0), config, groups["core"])
    values = [float(intra[0]), float(inter[0])]
else:
    jax.block_until_ready(fj.simulate(net, jax.random.key(0), 10))
    values = []
print(json.dumps({
    "peak_mb": peak_mb(),
    "seconds": time.perf_counter() - start,
    "values": values,
}))
"""


def measured_memory(steps: int) -> list[dict]:
    rows = []
    for label, n in [("process baseline: import + 10-step run", 0), ("", steps)]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), str(BURN_IN)],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ.copy(),
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if n:
            intra, inter = result["values"]
            label = (
                f"flux_indicator, {n:.0e} steps, 125 neurons "
                f"(intra {1e3 * intra:.2f}, inter {1e3 * inter:.2f} mbit)"
            )
        rows.append(
            {
                "what": label,
                "MB": f"{result['peak_mb']:.0f}",
                "seconds": f"{result['seconds']:.1f}",
                "how": "peak resident set (VmHWM) of a fresh process",
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^6 steps, fewer rounds")
    parser.add_argument("--threads", type=int, default=1, help="1 (default) or 0")
    parser.add_argument("--out", help="also write the tables (markdown) to this file")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    head = header(
        "streaming statistics",
        dtype="float32",
        threads=THREADS,
        extra=[
            "network: fj.l5_microcircuit(42) (125 neurons, t0 = 5, noise 0), core = "
            "its 10 core neurons, triplets (0,1,2), (3,4,5), (6,7,8) of the core",
        ],
    )
    print(head, flush=True)
    start = time.perf_counter()
    rates = markdown_table(
        throughput(repeat, args.quick),
        ["record", "upd/s", "run s", "compile s", "x numpy B", "of matmul"],
    )
    print("\n" + rates, flush=True)
    steps = 10**6 if args.quick else MEMORY_STEPS
    memory = markdown_table(
        compiled_bytes() + measured_memory(steps), ["what", "MB", "seconds", "how"]
    )
    print("\n" + memory)
    tail = f"total {time.perf_counter() - start:.0f} s; load average (1 min) at end {load_average():.2f}"
    print(f"\n{tail}")
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"{head}\n\n{rates}\n\n{memory}\n\n{tail}\n")


if __name__ == "__main__":
    main()
