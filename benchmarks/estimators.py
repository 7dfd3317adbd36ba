"""Estimator timings: plug-in and triplet flux of 10^7 samples, exact flux of N = 12,
and a soft-estimator gradient of N = 1000, each against plain numpy in the same run.

- plug-in flux of a 10-neuron trajectory (``fj.plugin_flux`` on uint32 codes, plain
  and Miller–Madow) against numpy: ``np.bincount`` of the past, future and pair codes;
- the paper's triplet indicator (``fj.plugin_triplet_flux`` on bool states, 3 triplets)
  against numpy: triplet codes by a dot product, then 9 ``np.bincount`` tables;
- exact flux of an N-neuron chain (``fj.exact_flux``) against numpy: the 2^N x 2^N
  transition matrix by broadcasting, ``np.linalg.solve`` for the stationary
  distribution, entropies;
- the soft estimator's value and gradient (``jax.value_and_grad`` of
  ``fj.soft_flux`` w.r.t. the biases) of a 1000-neuron network, no numpy counterpart.

Compile time is reported separately (first call minus a later one). The numpy
references agree with fluxjax to 1e-4 bit (checked here; float32).

Run:
    python benchmarks/estimators.py [--quick] [--threads 1] [--out FILE]
"""

import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
from _threads import set_threads  # noqa: E402


THREADS = set_threads(sys.argv)

import argparse  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import header, load_average, markdown_table  # noqa: E402

import fluxjax as fj  # noqa: E402


TRIPLETS = ((0, 1, 2), (3, 4, 5), (6, 7, 8))


def timed(function, repeat: int) -> tuple[float, float, object]:
    """(best run seconds, compile seconds, result) of a function returning arrays."""
    clock = time.perf_counter()
    result = jax.block_until_ready(function())
    first = time.perf_counter() - clock
    best = np.inf
    for _ in range(repeat):
        clock = time.perf_counter()
        jax.block_until_ready(function())
        best = min(best, time.perf_counter() - clock)
    return best, max(0.0, first - best), result


def numpy_seconds(function, repeat: int) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeat):
        clock = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - clock)
    return best, result


def bits_of_counts(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def numpy_plugin_flux(codes: np.ndarray, n: int) -> float:
    past, future = codes[:-1].astype(np.int64), codes[1:].astype(np.int64)
    joint = np.bincount(past << n | future, minlength=1 << 2 * n)
    return (
        bits_of_counts(np.bincount(past, minlength=1 << n))
        + bits_of_counts(np.bincount(future, minlength=1 << n))
        - bits_of_counts(joint)
    )


def numpy_triplet_flux(states: np.ndarray) -> tuple[float, float]:
    codes = [
        states[:, list(t)].astype(np.int64) @ np.array([1, 2, 4]) for t in TRIPLETS
    ]
    mi = np.zeros((3, 3))
    for k in range(3):
        for m in range(3):
            past, future = codes[k][:-1], codes[m][1:]
            mi[k, m] = (
                bits_of_counts(np.bincount(past, minlength=8))
                + bits_of_counts(np.bincount(future, minlength=8))
                - bits_of_counts(np.bincount(past * 8 + future, minlength=64))
            )
    return float(np.trace(mi) / 3), float((mi.sum() - np.trace(mi)) / 6)


def numpy_exact_flux(W: np.ndarray, b: np.ndarray) -> float:
    n = len(b)
    states = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1
    p = 1 / (1 + np.exp(-(states @ W + b)))  # (2^n, n)
    P = np.prod(np.where(states[None, :, :], p[:, None, :], 1 - p[:, None, :]), -1)
    A = P.T - np.eye(1 << n)
    A[-1] = 1.0
    rhs = np.zeros(1 << n)
    rhs[-1] = 1.0
    pi = np.maximum(np.linalg.solve(A, rhs), 0)
    pi /= pi.sum()
    joint = pi[:, None] * P
    return bits_of_counts(pi) + bits_of_counts(joint.sum(0)) - bits_of_counts(joint)


def random_network(n: int, seed: int, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.5, (n, n)).astype(np.float32)
    np.fill_diagonal(W, 0.0)
    b = rng.normal(0.0, 1.0, n).astype(np.float32)
    return W, b, fj.BinaryNetwork(W, b, 1.0, noise)


def sampled_rows(samples: int, repeat: int) -> list[dict]:
    W, b, net = random_network(10, 0, noise=0.5)
    states = fj.simulate(net, jax.random.key(0), samples, burn_in=1000)
    codes = fj.simulate(
        net, jax.random.key(0), samples, burn_in=1000, record=fj.Codes()
    )
    states_np, codes_np = np.asarray(states), np.asarray(codes)
    rows = []
    for what, run, reference in (
        (
            "plugin_flux(codes), plain",
            lambda: fj.plugin_flux(codes),
            lambda: numpy_plugin_flux(codes_np, 10),
        ),
        (
            "plugin_flux(codes), miller-madow",
            lambda: fj.plugin_flux(codes, "miller-madow"),
            None,
        ),
        (
            "plugin_triplet_flux(states), 3 triplets",
            lambda: fj.plugin_triplet_flux(states, TRIPLETS),
            lambda: numpy_triplet_flux(states_np),
        ),
    ):
        seconds, compile_s, value = timed(run, repeat)
        row = {
            "what": what,
            "size": f"{samples:.0e} samples, N = 10",
            "fluxjax s": f"{seconds:.3f}",
            "compile s": f"{compile_s:.2f}",
            "numpy s": "",
            "x numpy": "",
        }
        if reference is not None:
            numpy_s, expected = numpy_seconds(reference, max(1, repeat // 2))
            got = np.asarray(value, float).ravel()
            assert np.allclose(got, np.ravel(expected), atol=1e-4), (got, expected)
            row["numpy s"] = f"{numpy_s:.3f}"
            row["x numpy"] = f"{numpy_s / seconds:.1f}"
        rows.append(row)
    return rows


def exact_rows(sizes, repeat: int) -> list[dict]:
    rows = []
    exact = jax.jit(fj.exact_flux)
    for n in sizes:
        W, b, net = random_network(n, n)
        seconds, compile_s, value = timed(lambda net=net: exact(net), repeat)
        numpy_s, expected = numpy_seconds(
            lambda W=W, b=b: numpy_exact_flux(W.astype(float), b.astype(float)), 1
        )
        assert abs(float(value) - expected) < 1e-3, (float(value), expected)
        rows.append(
            {
                "what": "exact_flux (float32)",
                "size": f"N = {n} ({1 << n} states)",
                "fluxjax s": f"{seconds:.3f}",
                "compile s": f"{compile_s:.2f}",
                "numpy s": f"{numpy_s:.3f}",
                "x numpy": f"{numpy_s / seconds:.1f}",
            }
        )
    return rows


def soft_row(n: int, steps: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    W = (rng.random((n, n)) < 0.1) * rng.normal(0.0, 1.0, (n, n))
    np.fill_diagonal(W, 0.0)
    net = fj.BinaryNetwork(W.astype(np.float32), np.zeros(n, np.float32), 5.0, 0.0)
    key = jax.random.key(2)

    @jax.jit
    def value_and_grad(biases):
        def flux(b):
            return fj.soft_flux(
                fj.BinaryNetwork(net.weights, b, net.temperature, 0.0), key, steps
            )

        return jax.value_and_grad(flux)(biases)

    seconds, compile_s, _ = timed(lambda: value_and_grad(net.biases), repeat)
    return {
        "what": "value_and_grad(soft_flux) w.r.t. biases",
        "size": f"N = {n}, {steps} samples",
        "fluxjax s": f"{seconds:.3f}",
        "compile s": f"{compile_s:.2f}",
        "numpy s": "",
        "x numpy": "",
    }


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^6 samples, N <= 10")
    parser.add_argument("--threads", type=int, default=1, help="1 (default) or 0")
    parser.add_argument("--out", help="also write the tables (markdown) to this file")
    args = parser.parse_args()
    samples = 10**6 if args.quick else 10**7
    repeat = 2 if args.quick else 3
    rows = sampled_rows(samples, repeat)
    rows += exact_rows((8, 10) if args.quick else (8, 10, 12), repeat)
    rows.append(soft_row(200 if args.quick else 1000, 10**4, 1 if args.quick else 2))
    text = "\n\n".join(
        [
            header("estimators", dtype="float32", threads=THREADS),
            markdown_table(
                rows,
                ["what", "size", "fluxjax s", "compile s", "numpy s", "x numpy"],
            ),
            f"load average (1 min) at end {load_average():.2f}",
        ]
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
