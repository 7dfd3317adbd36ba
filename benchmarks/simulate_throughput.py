"""Throughput of ``fj.simulate`` in neuron-updates per second, against references.

One neuron-update is one neuron advanced by one synchronous step: a run of ``steps``
steps of ``replicas`` copies of an N-neuron network performs ``N * replicas * steps``
of them. Every implementation below does the same work per update (the input
``x @ W + b``, one Gaussian noise draw when noise > 0, one Bernoulli draw with
probability sigmoid(u), and storing the new bool state into a trajectory), except the
matmul-only bound. All references are measured in the same run, interleaved with
fluxjax, on the same float32 network:

- ``numpy 1``: the reference code's approach, one replica, one numpy step per Python
  loop iteration (its rate does not depend on the number of replicas).
- ``numpy B``: a well-written batched numpy loop on a ``(replicas, N)`` float32 array
  (``x @ W``, ``rng.standard_normal``, ``rng.random``), one iteration per step.
- ``naive scan``: what fluxjax did before: ``lax.scan`` with ``jax.random.split``,
  ``jax.random.normal`` and ``jax.random.uniform`` per step, sigmoid, compare.
- ``matmul``: ``lax.scan`` of ``x = (x @ W > c)`` alone (no randomness, nothing
  recorded): the bound that the float32 matrix product sets for any XLA loop.

"networks" rows simulate an ensemble of different networks (``fj.simulate_ensemble``;
the numpy reference uses ``einsum`` over stacked weights).

Timings: one warm-up call (for fluxjax it compiles), then the minimum over ``repeat``
rounds in which every implementation runs once, interleaved, so that all see the same
machine state (``timeit``, ``jax.block_until_ready``). The compile column is the first
call minus the fastest call (trace, lower and compile). Threads: ``--threads 1`` (the
default) runs XLA and the BLAS single-threaded, a like-for-like comparison that other
jobs on the machine disturb least; ``--threads 0`` leaves both at their defaults.

Run:
    python benchmarks/simulate_throughput.py [--quick] [--noise S] [--threads T]
        [--out FILE]
"""

import argparse
import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _threads  # noqa: E402


THREADS = _threads.set_threads(sys.argv)

import time  # noqa: E402
import timeit  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import header, load_average, markdown_table  # noqa: E402

import fluxjax as fj  # noqa: E402


DTYPE = np.float32
GAIN = 2.0  # weights ~ N(0, GAIN^2 / N): O(1) inputs at every N
UPDATES = 2e7  # neuron-updates per timed fluxjax call (about 0.1-0.5 s)
# (N, replicas, kind); kind "replicas": one network, "networks": an ensemble.
CONFIGS = [
    (10, 1, "replicas"),
    (10, 16, "replicas"),
    (10, 256, "replicas"),
    (10, 4096, "replicas"),
    (125, 1, "replicas"),
    (125, 16, "replicas"),
    (125, 256, "replicas"),
    (125, 4096, "replicas"),
    (125, 16, "networks"),
    (125, 256, "networks"),
    (1000, 1, "replicas"),
    (1000, 16, "replicas"),
    (1000, 256, "replicas"),
]
QUICK = [(10, 1, "replicas"), (125, 256, "replicas"), (1000, 16, "replicas")]


def make_network(n: int, seed: int, noise: float):
    """W ~ N(0, GAIN^2 / n) with zero diagonal, b ~ N(0, 0.5^2), float32."""
    rng = np.random.default_rng(seed)
    weights = (GAIN / np.sqrt(n) * rng.standard_normal((n, n))).astype(DTYPE)
    np.fill_diagonal(weights, 0.0)
    biases = (0.5 * rng.standard_normal(n)).astype(DTYPE)
    return fj.BinaryNetwork(weights, biases, noise=noise)


def numpy_simulate(weights, biases, noise, rows, steps, rng):
    """``numpy B`` (and ``numpy 1`` with rows = 1): one Python iteration per step.

    ``weights`` is ``(n, n)`` or, for an ensemble, ``(rows, n, n)``. Returns bool
    states ``(rows, steps, n)``, the layout of ``fj.simulate``.
    """
    n = weights.shape[-1]
    out = np.empty((rows, steps, n), dtype=bool)
    x = (rng.random((rows, n), dtype=DTYPE) < 0.5).astype(DTYPE)
    noise = DTYPE(noise)
    for t in range(steps):
        if weights.ndim == 3:
            z = np.einsum("bi,bij->bj", x, weights) + biases
        else:
            z = x @ weights + biases
        if noise > 0:
            z += noise * rng.standard_normal((rows, n), dtype=DTYPE)
        s = rng.random((rows, n), dtype=DTYPE) < 1.0 / (1.0 + np.exp(-z))
        out[:, t] = s
        x = s.astype(DTYPE)
    return out


def naive_scan(weights, biases, noise, rows, steps):
    """``naive scan``: per-step jax.random draws inside ``lax.scan`` (the old way)."""
    W, b = jnp.asarray(weights), jnp.asarray(biases)

    @jax.jit
    def run(key):
        x0 = jax.random.bernoulli(key, 0.5, (rows, W.shape[-1]))

        def step(x, k):
            noise_key, fire_key = jax.random.split(k)
            if W.ndim == 3:
                z = jnp.einsum("bi,bij->bj", x.astype(W.dtype), W) + b
            else:
                z = x.astype(W.dtype) @ W + b
            if noise > 0:
                z = z + noise * jax.random.normal(noise_key, z.shape, z.dtype)
            x = jax.random.uniform(fire_key, z.shape, z.dtype) < jax.nn.sigmoid(z)
            return x, x

        _, states = jax.lax.scan(step, x0, jax.random.split(key, steps))
        return jnp.swapaxes(states, 0, 1)

    return run


def matmul_only(weights, rows, steps):
    """``matmul``: x = (x @ W > c), nothing else (bool state, float32 product)."""
    W = jnp.asarray(weights)
    threshold = jnp.asarray(0.1, W.dtype)

    @jax.jit
    def run(x0):
        def step(x, _):
            if W.ndim == 3:
                z = jnp.einsum("bi,bij->bj", x.astype(W.dtype), W)
            else:
                z = x.astype(W.dtype) @ W
            return z > threshold, None

        return jax.lax.scan(step, x0, None, length=steps)[0]

    return run


def run_config(n, rows, kind, noise, repeat, quick):
    scale = 0.2 if quick else 1.0
    steps = max(20, int(scale * UPDATES / (n * rows)))
    # The Python loops are slow: fewer steps (rates are per update).
    numpy_steps = max(5, min(steps, int(scale * 2e6 / (n * rows)) + 5))
    single_steps = max(20, int(scale * 4e5 / n))
    key = jax.random.key(0)
    rng = np.random.default_rng(1)
    nets = [
        make_network(n, seed, noise)
        for seed in range(rows if kind == "networks" else 1)
    ]
    if kind == "networks":
        weights = np.stack([np.asarray(net.weights) for net in nets])
        biases = np.stack([np.asarray(net.biases) for net in nets])

        def run_fluxjax():
            states = fj.simulate_ensemble(nets, key, steps)
            return jax.block_until_ready(states)
    else:
        weights, biases = np.asarray(nets[0].weights), np.asarray(nets[0].biases)
        batch = None if rows == 1 else rows

        def run_fluxjax():
            states = fj.simulate(nets[0], key, steps, batch=batch)
            return jax.block_until_ready(states)

    single_weights = np.asarray(nets[0].weights)
    single_biases = np.asarray(nets[0].biases)

    naive = naive_scan(weights, biases, noise, rows, steps)
    matmul = matmul_only(weights, rows, steps)
    x0 = jnp.asarray(rng.random((rows, n)) < 0.5)
    runs = {
        "fluxjax": (run_fluxjax, n * rows * steps),
        "numpy B": (
            lambda: numpy_simulate(weights, biases, noise, rows, numpy_steps, rng),
            n * rows * numpy_steps,
        ),
        "numpy 1": (
            lambda: numpy_simulate(
                single_weights, single_biases, noise, 1, single_steps, rng
            ),
            n * single_steps,
        ),
        "naive scan": (
            lambda: jax.block_until_ready(naive(key)),
            n * rows * steps,
        ),
        "matmul": (lambda: jax.block_until_ready(matmul(x0)), n * rows * steps),
    }
    first = {}
    for name, (f, _) in runs.items():
        start = time.perf_counter()
        f()
        first[name] = time.perf_counter() - start
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, (f, _) in runs.items():
            best[name] = min(best[name], timeit.timeit(f, number=1))
    rate = {name: updates / best[name] for name, (_, updates) in runs.items()}
    return {
        "N": n,
        "replicas": rows,
        "kind": kind,
        "steps": steps,
        "rate": rate,
        "seconds": best["fluxjax"],
        "compile": max(first["fluxjax"] - best["fluxjax"], 0.0),
    }


COLUMNS = [
    "N",
    "ensemble",
    "steps",
    "fluxjax upd/s",
    "run s",
    "compile s",
    "x numpy B",
    "x numpy 1",
    "x naive scan",
    "of matmul",
    "numpy B upd/s",
    "numpy 1 upd/s",
    "matmul upd/s",
]


def table(results) -> str:
    rows = []
    for r in results:
        rate = r["rate"]
        rows.append(
            {
                "N": r["N"],
                "ensemble": f"{r['replicas']} {r['kind']}",
                "steps": r["steps"],
                "fluxjax upd/s": f"{rate['fluxjax']:.3g}",
                "run s": f"{r['seconds']:.3f}",
                "compile s": f"{r['compile']:.2f}",
                "x numpy B": f"{rate['fluxjax'] / rate['numpy B']:.1f}",
                "x numpy 1": f"{rate['fluxjax'] / rate['numpy 1']:.1f}",
                "x naive scan": f"{rate['fluxjax'] / rate['naive scan']:.1f}",
                "of matmul": f"{rate['fluxjax'] / rate['matmul']:.2f}",
                "numpy B upd/s": f"{rate['numpy B']:.3g}",
                "numpy 1 upd/s": f"{rate['numpy 1']:.3g}",
                "matmul upd/s": f"{rate['matmul']:.3g}",
            }
        )
    return markdown_table(rows, COLUMNS)


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 configs, 1/5 steps")
    parser.add_argument("--noise", type=float, default=0.5, help="sigma (default 0.5)")
    parser.add_argument("--threads", type=int, default=1, help="1 (default) or 0")
    parser.add_argument("--repeat", type=int, help="timing rounds (default 7; 3)")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args()
    configs = QUICK if args.quick else CONFIGS
    repeat = args.repeat or (3 if args.quick else 7)

    load_start = load_average()
    head = header(
        "simulate throughput",
        dtype=np.dtype(DTYPE).name,
        threads=THREADS,
        extra=[
            f"noise sigma = {args.noise}; W ~ N(0, {GAIN}^2/N), b ~ N(0, 0.5^2); "
            "record=fj.States() (bool trajectories, like the references)",
            f"timings: min over {repeat} interleaved rounds after one warm-up; "
            "x ...: fluxjax rate / reference rate; of matmul: fluxjax / matmul-only",
        ],
    )
    print(head, flush=True)
    results = []
    start = time.perf_counter()
    for n, rows, kind in configs:
        r = run_config(n, rows, kind, args.noise, repeat, args.quick)
        results.append(r)
        print(
            f"  N={n} {rows} {kind}: "
            + ", ".join(f"{k} {v:.3g}" for k, v in r["rate"].items())
            + f" upd/s; compile {r['compile']:.2f} s",
            flush=True,
        )
    text = table(results)
    tail = (
        f"total {time.perf_counter() - start:.0f} s; load average (1 min) "
        f"{load_start:.2f} at start, {load_average():.2f} at end"
    )
    print()
    print(text)
    print(f"\n{tail}")
    if args.out:
        with open(args.out, "w") as f:
            f.write(head + "\n\n" + text + f"\n\n{tail}\n")


if __name__ == "__main__":
    main()
