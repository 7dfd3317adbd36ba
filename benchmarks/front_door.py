"""The front door's systematic error: fj.flux's large-n estimate against exact values.

Random networks of shuffled disconnected blocks (exact at any n) of 6-12 neurons, n = 60,
120 or 240, connection probability 0.1, 0.3 or 1, gamma-distributed weights of scale 1-3,
either signed at random or E/I (80 % excitatory, inhibition 4x as strong), biases zero,
50 %-firing or random. For each: the exact flux (fj.flux picks it), and fj.flux forced onto
the large-n estimator (method=FluxMethod.MOMENTS, T = 10^5): its relative error, the
Gaussian pairwise excess in % of the estimate, whether fj.flux flags it, and whether the
exact value lies in the result's interval.

    python benchmarks/front_door.py [--seeds 30]
"""

import argparse
import time
import warnings

import jax
import numpy as np

import fluxjax as fj
from fluxjax.info.moments import PAIRWISE_EXCESS_LIMIT


def block_network(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([60, 120, 240]))
    size = int(rng.choice([6, 8, 10, 12]))
    p = float(rng.choice([0.1, 0.3, 1.0]))
    scale = float(rng.choice([1.0, 2.0, 3.0]))
    ei = bool(rng.random() < 0.5)
    W = np.zeros((n, n))
    for start in range(0, n, size):
        block = slice(start, start + size)
        k = W[block, block].shape[0]
        w = (rng.random((k, k)) < p) * rng.gamma(2.0, scale / 2, (k, k))
        if ei:
            w[int(0.8 * k) :] *= -4.0
        else:
            w *= rng.choice([-1, 1], (k, k))
        np.fill_diagonal(w, 0.0)
        W[block, block] = w
    order = rng.permutation(n)
    W = W[np.ix_(order, order)]
    kind = str(rng.choice(["zero", "half", "random"]))
    biases = {"zero": np.zeros(n), "half": -W.sum(0) / 2, "random": rng.normal(0, 1, n)}
    description = (
        f"n={n} block={size} p={p} scale={scale} {'E/I' if ei else 'signed'} b={kind}"
    )
    return fj.BinaryNetwork(W, biases[kind]), description


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.devices()[0]}, float32, T = 10^5, 20 chains")
    print(f"flagged: pairwise excess > {PAIRWISE_EXCESS_LIMIT:.0%} of the estimate\n")
    print(
        "| seed | network | exact (bit) | estimate ± SE | error | excess | flagged | exact in interval |"
    )
    print("|---:|---|---:|---:|---:|---:|---|---|")
    start = time.perf_counter()
    for seed in range(args.seeds):
        net, description = block_network(seed)
        exact = fj.flux(net, jax.random.key(seed)).value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bounds = fj.flux_bounds(net, jax.random.key(seed), 100_000)
            result = fj.flux(net, jax.random.key(seed), method=fj.FluxMethod.MOMENTS)
        error = (result.value - exact) / exact
        excess = bounds.pairwise_excess / max(abs(result.value), 1.0)
        low, high = result.interval
        print(
            f"| {seed} | {description} | {exact:.3f} | {result.value:.3f} ± "
            f"{result.stderr:.3f} | {error:+.2%} | {excess:.1%} | "
            f"{'yes' if result.warnings else 'no'} | "
            f"{'yes' if low <= exact <= high else 'NO'} |",
            flush=True,
        )
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
