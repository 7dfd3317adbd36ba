"""The simulation's random stream: what its hash costs, and what a cheaper one would gain.

Every random number of a simulation is a hash of a counter
(:func:`fluxjax.network.threefry2x32`: Threefry-2x32 with 20 rounds, the generator
behind ``jax.random``). Measured here, one thread:

1. The hash alone, in ns per 32-bit word, for
   - Threefry-2x32-20 (fluxjax's),
   - Threefry-2x32-13 (the fewest rounds that Salmon et al. 2011, Table 2, report
     Crush-resistant for 2x32; a thinner safety margin than jax.random's 20), and
   - Philox-2x32-10 (Random123's multiply-based hash; its 32 x 32 -> 64-bit
     products are formed in uint64, as XLA has no multiply-high). It is checked here
     against Random123's known-answer vectors.
2. The issue's case: the paper's noiseless network (``fj.l5_microcircuit(42)``,
   t0 = 5), 256 replicas, 2000 steps, recording the states of all 125 neurons or the
   uint32 codes of the 10 core neurons, with each hash in place of
   Threefry-20 (the trajectories differ, the work does not). It is timed against the
   batched numpy loop and the matmul-only bound, interleaved, minimum over rounds.

Run:
    python benchmarks/rng.py [--repeat R] [--steps S]
"""

import argparse
import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _threads  # noqa: E402


THREADS = _threads.set_threads(sys.argv)

import timeit  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import header, load_average, markdown_table  # noqa: E402
from simulate_throughput import matmul_only, numpy_simulate  # noqa: E402

import fluxjax as fj  # noqa: E402
import fluxjax.network as network  # noqa: E402


_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)


def threefry(rounds: int):
    """Threefry-2x32 with ``rounds`` rounds (a key injection after every fourth)."""

    def hash2x32(k0, k1, x0, x1):
        k0, k1, x0, x1 = (jnp.asarray(v, jnp.uint32) for v in (k0, k1, x0, x1))
        ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
        x0, x1 = x0 + ks[0], x1 + ks[1]
        for r in range(rounds):
            rotation = jnp.uint32(_ROTATIONS[r % 8])
            x0 = x0 + x1
            x1 = (x1 << rotation) | (x1 >> (jnp.uint32(32) - rotation))
            x1 = x1 ^ x0
            if r % 4 == 3:
                s = (r + 1) // 4
                x0 = x0 + ks[s % 3]
                x1 = x1 + ks[(s + 1) % 3] + jnp.uint32(s)
        return x0, x1

    return hash2x32


def philox2x32_10(k0, k1, x0, x1):
    """Philox-2x32-10 of the counter (x0, x1) under the 32-bit key k0 ^ k1.

    Traced with 64-bit types enabled (:func:`_compile`): the products are uint64.
    """
    key = jnp.asarray(k0, jnp.uint32) ^ jnp.asarray(k1, jnp.uint32)
    x0, x1 = jnp.asarray(x0, jnp.uint32), jnp.asarray(x1, jnp.uint32)
    for r in range(10):
        if r:
            key = key + jnp.uint32(0x9E3779B9)
        product = x0.astype(jnp.uint64) * jnp.uint64(0xD256D193)
        high = (product >> jnp.uint64(32)).astype(jnp.uint32)
        x0, x1 = high ^ key ^ x1, product.astype(jnp.uint32)
    return x0, x1


def _compile(fn, *args):
    """``jit(fn)`` compiled for ``args``, with 64-bit types while it is traced."""
    with jax.enable_x64(True):
        return jax.jit(fn).lower(*args).compile()


HASHES = {
    "Threefry-2x32-20 (fluxjax)": network.threefry2x32,
    "Threefry-2x32-13": threefry(13),
    "Philox-2x32-10": philox2x32_10,
}


def check_known_answers():
    """Random123's kat_vectors for Philox-2x32-10 and jax's Threefry for 20 rounds."""
    for counter, key, expected in [
        ((0, 0), 0, (0xFF1DAE59, 0x6CD10DF2)),
        ((0xFFFFFFFF, 0xFFFFFFFF), 0xFFFFFFFF, (0x2C3F628B, 0xAB4FD7AD)),
        ((0x243F6A88, 0x85A308D3), 0x13198A2E, (0xDD7CE038, 0xF62A4C12)),
    ]:
        args = [np.uint32(v) for v in (key, 0, *counter)]
        got = _compile(philox2x32_10, *args)(*args)
        assert tuple(int(v) for v in got) == expected, (counter, got)
    x = jnp.arange(1000, dtype=jnp.uint32)
    ours = threefry(20)(7, 11, x, x + 5)
    theirs = network.threefry2x32(7, 11, x, x + 5)
    assert all(bool(jnp.all(a == b)) for a, b in zip(ours, theirs, strict=True))


def hash_costs(repeat: int, words: int = 1 << 22) -> list[dict]:
    counters = jnp.arange(words, dtype=jnp.uint32)
    runs = {}
    for name, fn in HASHES.items():
        compiled = (
            jax.jit(lambda c, fn=fn: fn(3, 5, c, c ^ 9)).lower(counters).compile()
        )
        runs[name] = lambda compiled=compiled: jax.block_until_ready(compiled(counters))
        runs[name]()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, f in runs.items():
            best[name] = min(best[name], timeit.timeit(f, number=1))
    base = best["Threefry-2x32-20 (fluxjax)"]
    return [
        {
            "hash": name,
            "ns per word": f"{best[name] / (2 * words) * 1e9:.2f}",
            "x Threefry-20": f"{base / best[name]:.2f}",
        }
        for name in runs
    ]


def simulations(repeat: int, steps: int) -> list[dict]:
    net, groups = fj.l5_microcircuit(42)
    replicas, n = 256, net.num_neurons
    records = {"states": fj.States(), "codes": fj.Codes(list(groups["core"]))}
    key = jax.random.key(0)
    rng = np.random.default_rng(0)
    weights, biases = np.asarray(net.weights), np.asarray(net.biases)
    temperature = float(np.asarray(net.temperature).ravel()[0])
    runs = {}
    original = network.threefry2x32
    try:
        for name, fn in HASHES.items():
            network.threefry2x32 = fn
            jax.clear_caches()
            for kind, record in records.items():
                compiled = _compile(
                    lambda net, key, record=record: fj.simulate(
                        net, key, steps, batch=replicas, record=record
                    ),
                    net,
                    key,
                )
                runs[f"{name}, {kind}"] = lambda c=compiled: jax.block_until_ready(
                    c(net, key)
                )
    finally:
        network.threefry2x32 = original
        jax.clear_caches()
    matmul = matmul_only(weights / temperature, replicas, steps)
    x0 = jnp.asarray(rng.random((replicas, n)) < 0.5)
    runs["numpy B"] = lambda: numpy_simulate(
        weights / temperature, biases / temperature, 0.0, replicas, steps // 5, rng
    )
    runs["matmul only"] = lambda: jax.block_until_ready(matmul(x0))
    updates = dict.fromkeys(runs, n * replicas * steps)
    updates["numpy B"] //= 5
    for f in runs.values():
        f()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, f in runs.items():
            best[name] = min(best[name], timeit.timeit(f, number=1))
    ns = {name: best[name] / updates[name] * 1e9 for name in runs}
    return [
        {
            "simulation": name,
            "ns per update": f"{ns[name]:.2f}",
            "x numpy B": f"{ns['numpy B'] / ns[name]:.2f}",
            "of matmul only": f"{ns['matmul only'] / ns[name]:.2f}",
        }
        for name in runs
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    check_known_answers()
    print(header("rng.py", dtype="float32", threads=THREADS))
    print(
        markdown_table(
            hash_costs(args.repeat), ["hash", "ns per word", "x Threefry-20"]
        )
    )
    print()
    print(
        markdown_table(
            simulations(args.repeat, args.steps),
            ["simulation", "ns per update", "x numpy B", "of matmul only"],
        )
    )
    print(f"\nload average after the run: {load_average()}")


if __name__ == "__main__":
    main()
