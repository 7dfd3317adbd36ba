"""Gradient ascent on flux: time per gradient step and flux reached, soft vs exact vs proxy.

For each network size N in {8, 64, 1000} and each objective ("exact" where 2^N states
can be enumerated, "soft", "proxy"), the script reports

- ``step_s``: the time of one objective value-and-gradient evaluation (what one
  ``optimize_biases`` step costs, the optax update is negligible): the minimum over
  ``REPEATS`` calls with fresh keys, after a warm-up call, with ``jax.block_until_ready``;
- ``compile_s``: (first call) - ``step_s``: trace, lower and compile;
- ``start`` and ``final``: the flux of the starting network (zero biases) and of the
  network after ``optimize_biases(..., steps=STEPS[N])``, both scored by the same
  reference: ``exact_flux`` for N = 8, else ``soft_flux`` with ``EVAL_SAMPLES[N]``
  samples (whose value is an upper bound once the mixture is too small, see
  fluxjax/info/soft.py); ``run_s``: the wall time of the whole optimize_biases call.

The plot shows the flux against the optimisation step: the exact and soft objectives'
own histories (exact flux resp. the soft estimate at each step), and for the proxy
objective the reference flux of its networks after 0, STEPS/4, STEPS/2 and STEPS
steps (a run with ``tol=None`` and fewer steps is the prefix of a longer one, since
step t uses ``fold_in(key, t)``).

Networks: W[j, i] ~ N(0, GAIN^2 / N) with zero diagonal (O(1) input fluctuations at
every N), biases 0, temperature 1, noise 0, from ``numpy.random.default_rng(N)``.
Optimiser: ``optax.adam(0.05)`` on the biases. dtype: float32 (the library default).

Run:
    python benchmarks/optimize.py [--quick] [--out DIR]    (default DIR:
    benchmarks/results/; writes optimize.png and optimize.txt there)
"""

import argparse
import importlib.metadata
import os
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import fluxjax as fj


GAIN = 3.0
SIZES = (8, 64, 1000)
STEPS = {8: 200, 64: 100, 1000: 12}
SAMPLES = {8: 10_000, 64: 10_000, 1000: 2_000}  # simulated transitions per step
COMPONENTS = {8: 1000, 64: 1000, 1000: 200}  # soft_flux mixture size
EVAL_SAMPLES = {64: 50_000, 1000: 10_000}
REPEATS = 5
QUICK_STEPS = {8: 60, 64: 20, 1000: 3}


def make_network(n: int) -> fj.BinaryNetwork:
    rng = np.random.default_rng(n)
    weights = rng.normal(0.0, GAIN / np.sqrt(n), (n, n))
    np.fill_diagonal(weights, 0.0)
    return fj.BinaryNetwork(weights, np.zeros(n), dtype=jnp.float32)


def options(objective: str, n: int) -> dict:
    if objective == "exact":
        return {}
    out = {"steps": SAMPLES[n]}
    if objective == "soft":
        out["num_components"] = COMPONENTS[n]
    return out


def objective_function(objective: str, n: int):
    opts = options(objective, n)
    if objective == "exact":
        return lambda net, key: fj.exact_flux(net)
    steps = opts.pop("steps")
    if objective == "soft":
        return lambda net, key: fj.soft_flux(net, key, steps, **opts)
    return lambda net, key: fj.correlation_proxy(net, key, steps, **opts)


def reference_flux(net: fj.BinaryNetwork, n: int) -> float:
    if n <= 14:
        return float(fj.exact_flux(net))
    key = jax.random.key(12345)
    return float(
        fj.soft_flux(
            net,
            key,
            EVAL_SAMPLES[n],
            estimator=fj.Mixture(num_components=COMPONENTS[n]),
        )
    )


def time_step(objective: str, net: fj.BinaryNetwork, n: int) -> tuple[float, float]:
    """(compile_s, step_s) of one jitted value-and-gradient evaluation."""
    f = objective_function(objective, n)
    step = eqx.filter_jit(
        lambda net, key: eqx.filter_value_and_grad(lambda net: f(net, key))(net)
    )
    keys = jax.random.split(jax.random.key(1), REPEATS + 1)
    start = time.perf_counter()
    jax.block_until_ready(step(net, keys[0]))
    first = time.perf_counter() - start
    times = []
    for key in keys[1:]:
        start = time.perf_counter()
        jax.block_until_ready(step(net, key))
        times.append(time.perf_counter() - start)
    return first - min(times), min(times)


def run(sizes, steps_for, log):
    rows, curves = [], {}
    for n in sizes:
        net = make_network(n)
        start_flux = reference_flux(net, n)
        objectives = (["exact"] if n <= 14 else []) + ["soft", "proxy"]
        for objective in objectives:
            compile_s, step_s = time_step(objective, net, n)
            steps = steps_for[n]
            key = jax.random.key(2)
            start = time.perf_counter()
            out, history = fj.optimize_biases(
                net, key, objective_function(objective, n), steps=steps, tol=None
            )
            run_s = time.perf_counter() - start
            final = reference_flux(out, n)
            if objective == "proxy":  # reference flux at a few prefixes of the run
                marks = sorted({0, steps // 4, steps // 2, steps})
                fluxes = [start_flux]
                for mark in marks[1:-1]:
                    prefix, _ = fj.optimize_biases(
                        net, key, objective_function(objective, n), steps=mark, tol=None
                    )
                    fluxes.append(reference_flux(prefix, n))
                fluxes.append(final)
                curves[(n, objective)] = (np.array(marks), np.array(fluxes))
            else:
                curves[(n, objective)] = (np.arange(steps), history.objective)
            row = dict(
                N=n,
                objective=objective,
                samples=options(objective, n).get("steps", "-"),
                compile_s=compile_s,
                step_s=step_s,
                steps=steps,
                run_s=run_s,
                start=start_flux,
                final=final,
            )
            rows.append(row)
            log(
                f"N={n:5d} {objective:6s} samples={row['samples']!s:>6s} "
                f"compile={compile_s:6.2f}s step={step_s:8.4f}s steps={steps:4d} "
                f"run={run_s:7.1f}s flux {start_flux:.4f} -> {final:.4f} bits"
            )
    return rows, curves


def plot(curves, sizes, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 3.6))
    styles = {"exact": "k-", "soft": "C0-", "proxy": "C3o--"}
    for ax, n in zip(np.atleast_1d(axes), sizes, strict=True):
        for objective in ("exact", "soft", "proxy"):
            if (n, objective) in curves:
                x, y = curves[(n, objective)]
                label = {
                    "exact": "exact objective (exact flux)",
                    "soft": "soft objective (its estimate)",
                    "proxy": "proxy objective (ref. flux)",
                }[objective]
                ax.plot(x, y, styles[objective], lw=1.2, ms=4, label=label)
        reference = "exact" if n <= 14 else "soft estimate"
        ax.set(
            title=f"N = {n}",
            xlabel="optimisation step",
            ylabel=f"flux (bits, {reference})",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(__file__), "results"),
        help="output directory (default: benchmarks/results/)",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="network sizes"
    )
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lines = []

    def log(line):
        print(line, flush=True)
        lines.append(line)

    log(
        f"fluxjax {importlib.metadata.version('fluxjax')}, jax {jax.__version__}, "
        f"device {jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        "float32"
    )
    steps_for = QUICK_STEPS if args.quick else STEPS
    rows, curves = run(args.sizes, steps_for, log)
    path = os.path.join(args.out, "optimize.png")
    plot(curves, args.sizes, path)
    log(f"plot: {path}")
    with open(os.path.join(args.out, "optimize.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
