"""Bias and spread of the plug-in flux estimators against the exact flux, in bits.

For each network size N and trajectory length T, R independent replicas are simulated
with ``fj.simulate(net, key, T, batch=R, burn_in=1000, record="codes")``; each
correction of ``fj.plugin_flux`` gives one estimate per replica. The table reports
bias = mean_r(estimate_r - exact) and SD = the standard deviation of the R estimates
(ddof=1), both in millibits; the standard error of the bias is SD / sqrt(R). The exact
flux I(X_t; X_{t+1}) comes from ``fj.exact_flux`` (enumeration of the 2^N-state chain)
in float64.

Networks: one per N, W[j, i] ~ N(0, 1.5^2) with zero diagonal, b_i ~ N(0, 1),
temperature 1, noise 0.5, drawn with ``numpy.random.default_rng(N)``.

Run:
    python benchmarks/plugin_bias.py [--quick] [--out FILE]
"""

import jax


jax.config.update("jax_enable_x64", True)  # a script may; the library never does

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import fluxjax as fj  # noqa: E402


sys.path.insert(0, os.path.dirname(__file__))
from _common import source_version  # noqa: E402


CORRECTIONS = (None, "miller-madow", "shuffle", "extrapolate")
SIZES = (4, 6, 8, 10, 12)
LENGTHS = (10**3, 10**4, 10**5, 10**6)
REPLICAS = {10**3: 32, 10**4: 32, 10**5: 8, 10**6: 4}  # R per T (cost ~ R * T)
QUICK_SIZES = (4, 8)
QUICK_LENGTHS = (10**3, 10**4, 10**5)
BURN_IN = 1000
NOISE = 0.5


def make_network(n: int) -> fj.BinaryNetwork:
    rng = np.random.default_rng(n)
    weights = rng.normal(0.0, 1.5, (n, n))
    np.fill_diagonal(weights, 0.0)
    biases = rng.normal(0.0, 1.0, n)
    return fj.BinaryNetwork(
        jnp.asarray(weights), jnp.asarray(biases), noise=NOISE, dtype=jnp.float64
    )


def cell(bias_mbit: float, sd_mbit: float) -> str:
    def fmt(x, sign):
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
        return f"{x:{'+' if sign else ''}.{digits}f}"

    return f"{fmt(bias_mbit, True)} ± {fmt(sd_mbit, False)}"


def run(sizes, lengths, log):
    base_key = jax.random.key(0)
    rows = []
    for n in sizes:
        net = make_network(n)
        start = time.perf_counter()
        exact = float(fj.exact_flux(net))
        log(f"N={n}: exact flux {exact:.6f} bits ({time.perf_counter() - start:.1f} s)")
        for T in lengths:
            R = REPLICAS[T]
            start = time.perf_counter()
            sim_key, shuffle_key = jax.random.split(
                jax.random.fold_in(jax.random.fold_in(base_key, n), T)
            )
            codes = fj.simulate(
                net, sim_key, T, batch=R, burn_in=BURN_IN, record="codes"
            )
            row = {"N": n, "T": T, "R": R, "exact": exact}
            for correction in CORRECTIONS:
                key = shuffle_key if correction == "shuffle" else None
                estimates = np.asarray(fj.plugin_flux(codes, correction, key=key))
                assert estimates.shape == (R,) and estimates.dtype == np.float64
                errors = 1e3 * (estimates - exact)  # millibits
                row[correction] = (errors.mean(), errors.std(ddof=1))
            rows.append(row)
            log(
                f"  T={T:.0e} R={R}: "
                + ", ".join(f"{c}: {cell(*row[c])}" for c in CORRECTIONS)
                + f" mbit ({time.perf_counter() - start:.1f} s)"
            )
    return rows


def markdown(rows) -> str:
    names = [str(c) for c in CORRECTIONS]
    lines = [
        "| N | T | R | exact (bits) | " + " | ".join(names) + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(names),
    ]
    for r in rows:
        cells = " | ".join(cell(*r[c]) for c in CORRECTIONS)
        lines.append(
            f"| {r['N']} | 10^{round(np.log10(r['T']))} | {r['R']} | "
            f"{r['exact']:.4f} | {cells} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in {4, 8}, T <= 10^5")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    lengths = QUICK_LENGTHS if args.quick else LENGTHS

    head = "\n".join(
        [
            f"device: {jax.devices()} ({os.cpu_count()} CPUs)",
            f"jax {jax.__version__}, jaxlib {importlib.metadata.version('jaxlib')}, "
            f"numpy {np.__version__}",
            source_version(),
            "dtype: float64 (jax_enable_x64); burn-in "
            f"{BURN_IN}; noise {NOISE}; W ~ N(0, 1.5^2), zero diagonal; b ~ N(0, 1)",
            "cells: bias ± SD over R replicas of (estimate - exact), in millibits",
        ]
    )
    print(head, flush=True)
    start = time.perf_counter()
    rows = run(sizes, lengths, lambda s: print(s, flush=True))
    table = markdown(rows)
    print()
    print(table)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            f.write(head + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
