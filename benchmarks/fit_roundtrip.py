"""From recordings to flux, measured: simulate a known network, fit it, compare.

For each network and size, ``fj.simulate`` records T + 1 states (after a burn-in of
1000), ``fj.fit_network`` fits them (temperature 1, no noise; L2 penalty chosen by
3-fold CV from 10^3, 10^2, 10, 1), and the script reports

- the recovery of W and b: the correlation of the fitted with the true entries, and
  the relative error |W_fit - W| / |W| (Frobenius) and the RMS error of b, against the
  true network's weights divided by its temperature (the fit's units);
- the flux of the fit (the large-n estimate ``fj.moment_flux_stderr``, T = max(10^5,
  100 n)) against the true flux (exact for block networks, else the same large-n
  estimate at 4 x 10^5 samples) and the data-driven ``fj.data_flux``;
- with ``--bootstrap B``: the block bootstrap's bias-corrected flux (value - bias);
- with ``--coverage R``: R independent recordings of one block network, each fitted
  and block-bootstrapped (``fj.bootstrap_flux``, B replicates): how often the exact
  flux lies in value +- 1.96 SE and in the bias-corrected (value - bias) +- 1.96 SE.
  The flux of each fit is ``fj.fit.default_flux``: exact for n <= 12, else the
  large-n estimate (whose own systematic error, +0.3 % on these blocks, is then part
  of the interval's miss).

Networks: ``blocks`` (disconnected blocks of 10, weights N(0, 1), biases -sum W / 2 +
N(0, 0.25): exact flux at any n), ``dense`` (``fj.ei_network``, J = 1), ``sparse``
(``fj.ei_network``, in-degree 20, J = 1) and ``l5`` (the paper's 125-neuron network,
``fj.l5_microcircuit(seed)[0]``: temperature 5; n is ignored).

Usage::

    python benchmarks/fit_roundtrip.py --networks blocks dense --sizes 50 200 \
        --steps 10000 100000
    python benchmarks/fit_roundtrip.py --coverage 10 --replicates 20 --sizes 50 \
        --steps 100000
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import header

import fluxjax as fj


PENALTIES = (1e3, 1e2, 1e1, 1.0)


def block_network(seed: int, n: int, size: int = 10) -> fj.BinaryNetwork:
    rng = np.random.default_rng(seed)
    W = np.zeros((n, n))
    b = np.zeros(n)
    for start in range(0, n, size):
        k = min(size, n - start)
        Wb = rng.normal(0.0, 1.0, (k, k))
        np.fill_diagonal(Wb, 0.0)
        W[start : start + k, start : start + k] = Wb
        b[start : start + k] = -Wb.sum(0) / 2 + rng.normal(0.0, 0.5, k)
    return fj.BinaryNetwork(W, b, dtype=jnp.float32)


def network(name: str, n: int, seed: int) -> fj.BinaryNetwork:
    key = jax.random.key(seed)
    if name == "blocks":
        return block_network(seed, n)
    if name == "dense":
        return fj.ei_network(n, key=key, strength=1.0)
    if name == "sparse":
        return fj.ei_network(n, key=key, strength=1.0, in_degree=20)
    if name == "l5":
        return fj.l5_microcircuit(seed)[0]
    raise ValueError(name)


def true_flux(net: fj.BinaryNetwork, name: str, key) -> tuple[float, float]:
    """(flux, SE) of the true network: exact for blocks, else the large-n estimate."""
    if name == "blocks":
        return float(fj.exact_flux(net)), 0.0
    value, stderr = fj.moment_flux_stderr(net, key, 400_000)
    return float(value), float(stderr)


def fitted_flux(net: fj.BinaryNetwork, key) -> tuple[float, float]:
    steps = max(100_000, 100 * net.num_neurons)
    value, stderr = fj.moment_flux_stderr(net, key, steps)
    return float(value), float(stderr)


def recovery(true: fj.BinaryNetwork, fit: fj.BinaryNetwork) -> dict:
    temperature = np.broadcast_to(np.asarray(true.temperature), true.biases.shape)
    W0 = np.asarray(true.weights) / temperature[None, :]
    b0 = np.asarray(true.biases) / temperature
    W, b = np.asarray(fit.weights), np.asarray(fit.biases)
    return {
        "corr_W": np.corrcoef(W0.ravel(), W.ravel())[0, 1],
        "rel_W": np.linalg.norm(W - W0) / np.linalg.norm(W0),
        "rms_b": np.sqrt(np.mean((b - b0) ** 2)),
    }


def round_trip(
    name: str, n: int, steps: int, seed: int, penalties, folds, bootstrap=0
) -> str:
    true = network(name, n, seed)
    n = true.num_neurons
    sim_key, true_key, fit_key = jax.random.split(jax.random.key(seed + 1000), 3)
    states = fj.simulate(true, sim_key, steps + 1, burn_in=1000)
    rate = float(states.mean())
    t1 = time.perf_counter()
    fit, info = fj.fit_network(states, penalties=penalties, num_folds=folds)
    t2 = time.perf_counter()
    exact, exact_se = true_flux(true, name, true_key)
    value, value_se = fitted_flux(fit, fit_key)
    data = fj.data_flux(states, fit)
    t3 = time.perf_counter()
    r = recovery(true, fit)
    if bootstrap:  # the bias-corrected flux (value - bias) of a block bootstrap
        boot = fj.bootstrap_flux(
            states, fit, info, key=jax.random.key(7), num_replicates=bootstrap
        )
        corrected = float(boot.value) - float(boot.bias)
        print(
            f"    bootstrap B = {bootstrap}: value {float(boot.value):.3f} ± "
            f"{float(boot.stderr):.3f}, bias {float(boot.bias):+.3f}, value - bias "
            f"{corrected:.3f} ({100 * (corrected / exact - 1):+.1f} %)",
            flush=True,
        )
    noise = "" if true.noise is None else f", noise {float(np.max(true.noise)):g}"
    return (
        f"| {name}{noise} | {n} | {steps:.0e} | {rate:.3f} | {info.penalty:g} | "
        f"{float(np.mean(info.deviance_explained)):.3f} | {r['corr_W']:.3f} | "
        f"{r['rel_W']:.3f} | {r['rms_b']:.3f} | {exact:.2f} ± {exact_se:.3f} | "
        f"{value:.2f} ± {value_se:.3f} | {100 * (value / exact - 1):+.1f} % | "
        f"{float(data.value):.2f} ± {float(data.stderr):.2f} | "
        f"{100 * (float(data.value) / exact - 1):+.1f} % | {info.converged} | "
        f"{t2 - t1:.0f} | {t3 - t2:.0f} |"
    )


def coverage(
    n: int, steps: int, repeats: int, replicates: int, seed: int, penalties, folds
) -> str:
    true = block_network(seed, n)
    exact = float(fj.exact_flux(true))
    rows, inside, inside_corrected, errors = [], 0, 0, []
    start = time.perf_counter()
    for r in range(repeats):
        sim_key, boot_key = jax.random.split(jax.random.key(10_000 * seed + r))
        states = fj.simulate(true, sim_key, steps + 1, burn_in=1000)
        fit, info = fj.fit_network(states, penalties=penalties, num_folds=folds)
        boot = fj.bootstrap_flux(
            states, fit, info, key=boot_key, num_replicates=replicates
        )
        value, se, bias = float(boot.value), float(boot.stderr), float(boot.bias)
        inside += abs(value - exact) <= 1.96 * se
        inside_corrected += abs(value - bias - exact) <= 1.96 * se
        errors.append(value / exact - 1)
        rows.append(
            f"    repeat {r}: fit {value:.3f} ± {se:.3f} (bias {bias:+.3f}), exact "
            f"{exact:.3f}, {100 * (value / exact - 1):+.2f} %"
        )
        print(rows[-1], flush=True)
    seconds = time.perf_counter() - start
    errors = np.asarray(errors)
    return (
        f"| blocks | {n} | {steps:.0e} | {repeats} | {replicates} | {exact:.2f} | "
        f"{100 * errors.mean():+.2f} ± {100 * errors.std(ddof=1):.2f} % | "
        f"{100 * np.abs(errors).max():.2f} % | {inside}/{repeats} | "
        f"{inside_corrected}/{repeats} | {seconds / repeats:.0f} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=["blocks", "dense"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[50, 200])
    parser.add_argument("--steps", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coverage", type=int, default=0, metavar="R")
    parser.add_argument("--replicates", type=int, default=20, metavar="B")
    parser.add_argument("--penalties", nargs="+", type=float, default=PENALTIES)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=0, metavar="B")
    args = parser.parse_args()
    print(header("fit round trip", dtype="float32", threads=0))
    if args.coverage:
        print(
            "| network | n | T | recordings R | replicates B | exact flux (bit) | "
            "fit error mean ± SD | max abs | exact in value ± 1.96 SE | "
            "in (value - bias) ± 1.96 SE | s per recording |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in args.sizes:
            for steps in args.steps:
                print(
                    coverage(
                        n,
                        steps,
                        args.coverage,
                        args.replicates,
                        args.seed,
                        args.penalties,
                        args.folds,
                    ),
                    flush=True,
                )
        return
    print(
        "| network | n | T | rate | penalty | dev. expl. | corr W | rel err W | "
        "RMS err b | true flux (bit) | flux of fit | error | data_flux | error | "
        "converged | fit s | flux s |"
    )
    print(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
    )
    for name in args.networks:
        for n in args.sizes if name != "l5" else [125]:
            for steps in args.steps:
                row = round_trip(
                    name,
                    n,
                    steps,
                    args.seed,
                    args.penalties,
                    args.folds,
                    args.bootstrap,
                )
                print(row, flush=True)


if __name__ == "__main__":
    main()
