"""Peak memory and time of the plug-in flux on a batch of short trajectories.

Each configuration runs in a fresh child process: ``fj.plugin_flux(codes, correction,
key=...)`` on a batch of B trajectories of T steps of a random n-neuron network (bool
states), timed on its first call (compile + run) and as the best of 3 later calls; the
child reports its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).
A child that only imports fluxjax and runs one tiny estimate gives the runtime's own
footprint.

The issue's case (29, part 3): B = 8, T = 500, n = 12, ``correction="shuffle"`` (8
surrogates).

Run (the "before" figures: the same script against an older checkout):
    python benchmarks/plugin_memory.py [--quick] [--out FILE]
    git archive 631834d fluxjax | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python benchmarks/plugin_memory.py
"""

import argparse
import json
import os
import subprocess
import sys


CASES = [  # (n, B, T, correction)
    (12, 1, 500, "shuffle"),
    (12, 4, 500, "shuffle"),
    (12, 8, 500, "shuffle"),
    (12, 8, 500, None),
    (13, 8, 500, "shuffle"),
    (10, 8, 100_000, "shuffle"),
]

CHILD = r"""
import json, resource, sys, time, timeit
sys.path.insert(0, sys.argv[2])  # the parent's fluxjax, not the working directory's
import jax, numpy as np
import fluxjax as fj
assert fj.__file__.startswith(sys.argv[2]), fj.__file__

n, B, T, correction = json.loads(sys.argv[1])
rng = np.random.default_rng(n)
weights = rng.normal(0.0, 1.5, (n, n))
np.fill_diagonal(weights, 0.0)
net = fj.BinaryNetwork(weights, rng.normal(0.0, 1.0, n), noise=0.5)
if B:
    states = fj.simulate(net, jax.random.key(0), T, batch=B)
else:  # the runtime's own footprint: a tiny estimate
    states = fj.simulate(net, jax.random.key(0), 64)
    correction = None
key = jax.random.key(1)
jax.block_until_ready(states)
start = time.perf_counter()
first = jax.block_until_ready(fj.plugin_flux(states, correction, key=key))
first_s = time.perf_counter() - start
run_s = min(timeit.repeat(
    lambda: jax.block_until_ready(fj.plugin_flux(states, correction, key=key)),
    number=1, repeat=3))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(first_s=first_s, run_s=run_s, peak_mb=peak_mb,
                      value=np.asarray(first).tolist())))
"""


def child(case) -> dict:
    import fluxjax as fj

    root = os.path.dirname(os.path.dirname(os.path.abspath(fj.__file__)))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(case), root],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    parser.add_argument("--cases", help="indices into CASES, e.g. 0,1,2")
    parser.add_argument("--quick", action="store_true", help="the n = 12 rows only")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    from _common import header  # imports jax and fluxjax in this process only

    cases = CASES
    if args.cases:
        cases = [CASES[int(i)] for i in args.cases.split(",")]
    elif args.quick:
        cases = CASES[:4]
    lines = [
        header(
            "plug-in flux: peak memory of a batch (fresh process per row)",
            dtype="float32 (JAX default)",
            threads=0,
        )
    ]
    base = child((4, 0, 0, None))
    lines.append(
        f"runtime footprint (import + one tiny estimate): {base['peak_mb']:.0f} MB"
    )
    lines += [
        "",
        "| n | B | T | correction | peak RSS (MB) | first call (s) | run (s) |",
        "|---:|---:|---:|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for case in cases:
        r = child(case)
        n, B, T, correction = case
        row = (
            f"| {n} | {B} | {T} | {correction} | {r['peak_mb']:.0f} | "
            f"{r['first_s']:.2f} | {r['run_s']:.3f} |"
        )
        print(row, flush=True)
        lines.append(row)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
