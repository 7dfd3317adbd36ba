"""Bias and spread of the sampled flux estimators against the exact flux, in bits.

For each network and trajectory length T, R independent replicas are simulated
with ``fj.simulate(net, key, T, batch=R, burn_in=1000, record=fj.Codes())``; each
correction of ``fj.plugin_flux`` and ``fj.nsb_flux`` gives one estimate per replica.
The tables report bias = mean_r(estimate_r - exact) and SD = the standard deviation of
the R estimates (ddof=1), both in millibits; the standard error of the bias is SD /
sqrt(R). The exact flux I(X_t; X_{t+1}) comes from ``fj.exact_flux`` (enumeration of
the 2^N-state chain) in float64.

Table 1 (default): one network per N = 4..12, W[j, i] ~ N(0, 1.5^2) with zero
diagonal, b_i ~ N(0, 1), temperature 1, noise 0.5, drawn with
``numpy.random.default_rng(N)``; T = 10^3..10^6.

Table 2 (``--undersampled``, issue 29's setting): the same random networks at N = 8,
10, 12, each noisy (0.5) and noiseless, and the paper's isolated core
(``fj.isolated_core(*fj.l5_microcircuit(42))``, 10 neurons); T = 500, 1000, 2000,
5000; R = 8. Cells also give the RMSE; the last rows pool the squared errors of all
cells (pooled RMSE = sqrt(mean over cells and replicas of (estimate - exact)^2)), and
a row adds N = 10 (noise 0.5) at T = 10^5. ``--save-codes FILE`` writes the codes and
exact values of table 2 (``.npz``) for ``benchmarks/ndd_flux.py``, which scores ndd's
NSB on the same trajectories.

A * marks cells where the plug-in estimator warned (most sampled states distinct).

Run:
    python benchmarks/plugin_bias.py [--quick] [--undersampled] [--out FILE]
"""

import jax


jax.config.update("jax_enable_x64", True)  # a script may; the library never does

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import fluxjax as fj  # noqa: E402


sys.path.insert(0, os.path.dirname(__file__))
from _common import source_version  # noqa: E402


ESTIMATORS = (None, "miller-madow", "shuffle", "extrapolate", "nsb")
SIZES = (4, 6, 8, 10, 12)
LENGTHS = (10**3, 10**4, 10**5, 10**6)
REPLICAS = {10**3: 32, 10**4: 32, 10**5: 8, 10**6: 4}  # R per T (cost ~ R * T)
QUICK_SIZES = (4, 8)
QUICK_LENGTHS = (10**3, 10**4, 10**5)
UNDERSAMPLED_SIZES = (8, 10, 12)
UNDERSAMPLED_LENGTHS = (500, 1000, 2000, 5000)
UNDERSAMPLED_REPLICAS = 8
BURN_IN = 1000
NOISE = 0.5


def make_network(n: int, noise=NOISE) -> fj.BinaryNetwork:
    rng = np.random.default_rng(n)
    weights = rng.normal(0.0, 1.5, (n, n))
    np.fill_diagonal(weights, 0.0)
    biases = rng.normal(0.0, 1.0, n)
    return fj.BinaryNetwork(
        jnp.asarray(weights), jnp.asarray(biases), noise=noise, dtype=jnp.float64
    )


def paper_core() -> fj.BinaryNetwork:
    net, groups = fj.l5_microcircuit(42, dtype=jnp.float64)
    return fj.isolated_core(net, groups)


def cell(bias_mbit: float, sd_mbit: float) -> str:
    def fmt(x, sign):
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
        return f"{x:{'+' if sign else ''}.{digits}f}"

    return f"{fmt(bias_mbit, True)} ± {fmt(sd_mbit, False)}"


def estimates(codes, n: int, name, key) -> tuple[np.ndarray, bool]:
    """One estimate per replica (bits), and whether the estimator warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if name == "nsb":
            values = fj.nsb_flux(codes, num_states=2**n)
        else:
            values = fj.plugin_flux(codes, name, key=key)
    values = np.asarray(values)
    assert values.dtype == np.float64
    return values, bool(caught)


def score(net, n, T, R, key, exact):
    """Errors (millibits, one per replica) of every estimator, and the codes."""
    sim_key, shuffle_key = jax.random.split(key)
    codes = fj.simulate(net, sim_key, T, batch=R, burn_in=BURN_IN, record=fj.Codes())
    errors, warned = {}, {}
    for name in ESTIMATORS:
        values, warned[name] = estimates(codes, n, name, shuffle_key)
        assert values.shape == (R,)
        errors[name] = 1e3 * (values - exact)
    return errors, warned, np.asarray(codes)


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
            key = jax.random.fold_in(jax.random.fold_in(base_key, n), T)
            errors, warned, _ = score(net, n, T, R, key, exact)
            row = {"N": n, "T": T, "R": R, "exact": exact, "warned": warned}
            row.update({c: (e.mean(), e.std(ddof=1)) for c, e in errors.items()})
            rows.append(row)
            log(
                f"  T={T:.0e} R={R}: "
                + ", ".join(f"{c}: {cell(*row[c])}" for c in ESTIMATORS)
                + f" mbit ({time.perf_counter() - start:.1f} s)"
            )
    return rows


def markdown(rows) -> str:
    names = [str(c) for c in ESTIMATORS]
    lines = [
        "| N | T | R | exact (bits) | " + " | ".join(names) + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(names),
    ]
    for r in rows:
        cells = " | ".join(
            cell(*r[c]) + (" *" if r["warned"][c] and c != "nsb" else "")
            for c in ESTIMATORS
        )
        lines.append(
            f"| {r['N']} | 10^{round(np.log10(r['T']))} | {r['R']} | "
            f"{r['exact']:.4f} | {cells} |"
        )
    return "\n".join(lines)


def undersampled_networks():
    nets = []
    for n in UNDERSAMPLED_SIZES:
        nets.append((f"random N={n}, noise 0.5", n, make_network(n)))
        nets.append((f"random N={n}, noiseless", n, make_network(n, noise=None)))
    nets.append(("paper's isolated core (seed 42)", 10, paper_core()))
    return nets


def run_undersampled(log, save_codes=None):
    """Table 2: bias ± SD and RMSE per cell, pooled RMSE per estimator."""
    base_key = jax.random.key(29)
    R = UNDERSAMPLED_REPLICAS
    rows, pooled, saved = [], {c: [] for c in ESTIMATORS}, {}
    for k, (label, n, net) in enumerate(undersampled_networks()):
        exact = float(fj.exact_flux(net))
        for T in UNDERSAMPLED_LENGTHS:
            start = time.perf_counter()
            key = jax.random.fold_in(jax.random.fold_in(base_key, k), T)
            errors, warned, codes = score(net, n, T, R, key, exact)
            for c in ESTIMATORS:
                pooled[c].append(errors[c])
            rows.append((label, T, exact, errors, warned))
            saved[f"{k}_{T}"] = codes
            saved[f"{k}_{T}_meta"] = np.array([n, exact])
            log(
                f"{label} T={T}: "
                + ", ".join(
                    f"{c}: {cell(e.mean(), e.std(ddof=1))}" for c, e in errors.items()
                )
                + f" mbit ({time.perf_counter() - start:.1f} s)"
            )
    net = make_network(10)
    exact = float(fj.exact_flux(net))
    start = time.perf_counter()
    long = (
        *score(net, 10, 10**5, R, jax.random.fold_in(base_key, 10**5), exact),
        exact,
    )
    log(f"N=10 T=1e5: ({time.perf_counter() - start:.1f} s)")
    saved["long_1e5"] = long[2]
    saved["long_1e5_meta"] = np.array([10, exact])
    if save_codes:
        np.savez_compressed(save_codes, **saved)
    return rows, pooled, long


def rmse(errors) -> float:
    return float(np.sqrt(np.mean(np.square(errors))))


def markdown_undersampled(rows, pooled, long) -> str:
    names = [str(c) for c in ESTIMATORS]
    lines = [
        "| network | T | exact (bits) | " + " | ".join(names) + " |",
        "|---|---:|---:|" + "---:|" * len(names),
    ]
    for label, T, exact, errors, warned in rows:
        cells = " | ".join(
            f"{cell(e.mean(), e.std(ddof=1))} ({rmse(e):.0f})"
            + (" *" if warned[c] and c != "nsb" else "")
            for c, e in errors.items()
        )
        lines.append(f"| {label} | {T} | {exact:.4f} | {cells} |")
    lines.append(
        "| **pooled RMSE** (all cells above) | | | "
        + " | ".join(f"**{rmse(np.concatenate(pooled[c])):.0f}**" for c in ESTIMATORS)
        + " |"
    )
    errors, exact = long[0], long[3]
    lines.append(
        f"| random N=10, noise 0.5 | 10^5 | {exact:.4f} | "
        + " | ".join(
            f"{cell(e.mean(), e.std(ddof=1))} ({rmse(e):.0f})" for e in errors.values()
        )
        + " |"
    )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in {4, 8}, T <= 10^5")
    parser.add_argument(
        "--undersampled", action="store_true", help="table 2 (issue 29's setting)"
    )
    parser.add_argument("--save-codes", help="table 2's codes, for ndd_flux.py")
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args()

    head = "\n".join(
        [
            f"device: {jax.devices()} ({os.cpu_count()} CPUs)",
            f"jax {jax.__version__}, jaxlib {importlib.metadata.version('jaxlib')}, "
            f"numpy {np.__version__}",
            source_version(),
            "dtype: float64 (jax_enable_x64); burn-in "
            f"{BURN_IN}; noise {NOISE}; W ~ N(0, 1.5^2), zero diagonal; b ~ N(0, 1)",
            "cells: bias ± SD over R replicas of (estimate - exact), in millibits"
            + ("; (RMSE)" if args.undersampled else ""),
        ]
    )
    print(head, flush=True)
    start = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    if args.undersampled:
        table = markdown_undersampled(*run_undersampled(log, args.save_codes))
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
        lengths = QUICK_LENGTHS if args.quick else LENGTHS
        table = markdown(run(sizes, lengths, log))
    print()
    print(table)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            f.write(head + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
