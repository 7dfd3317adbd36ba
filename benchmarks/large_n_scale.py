"""The streamed large-n estimator at scale: peak memory and time, and error at n = 4000.

Each case runs in a fresh process (its peak resident memory is the process's, shown
with what was resident just before the estimate: the runtime, the network and the
setup's leftovers), on the
fluxjax of ``--source`` (default: this checkout) and, for the n = 1000 rows, also on
``--baseline`` (another checkout, e.g. the in-memory code before streaming, made with
``git worktree add /tmp/old <commit>``), one after the other, so that the ratio is
measured in the same run. Value + SE is ``moment_flux_stderr``; value + gradient is
``eqx.filter_value_and_grad(moment_flux)`` in every field. Timings are of a second,
compiled call; CPU seconds are the process's (all threads), which a busy machine
inflates less than wall time.

Cases:
    n1000: dense E/I (strength 2) and a shuffled block network, T = 10^5, 20 chains.
    n4000: a shuffled disconnected block network (blocks of 6-10, exact by blocks),
        T = 4 10^5: value error and bias-gradient cosine against exact.
    n10000: a shuffled disconnected block network, T = 10^5, 10 chains: value + SE
        (error against exact), and value + gradient (with ``--gradient-10000``).

Run:
    python benchmarks/large_n_scale.py [--only n1000,n4000,n10000] [--baseline DIR]
        [--gradient-10000]
"""

import argparse
import json
import os
import subprocess
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))


def child(case):
    import gc
    import resource

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import fluxjax as fj
    from fluxjax.info.moments import moment_flux

    n, steps, chains = case["n"], case["steps"], case["chains"]
    exact = grad_exact = None
    if case["network"] == "blocks":
        sys.path.insert(0, HERE)
        from large_n import block_exact, block_network

        W, b, blocks, perm = block_network(np.random.default_rng(n), n)
        net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
        if case.get("exact"):
            exact, grad_exact = block_exact(blocks, perm, 1.0, 0.0)
        del W, b, blocks  # the float64 weights: setup, not the estimator
    else:
        net = fj.ei_network(n, key=jax.random.key(0), strength=2.0, dtype=jnp.float32)
    gc.collect()
    before = resident_gb()
    key = jax.random.key(1)
    if case["what"] == "value":
        run = lambda: fj.moment_flux_stderr(net, key, steps, num_chains=chains)[0]
    else:
        grad = eqx.filter_jit(eqx.filter_value_and_grad(moment_flux))
        run = lambda: grad(net, key, steps, num_chains=chains)
    start = time.perf_counter()
    out = jax.block_until_ready(run())
    first = time.perf_counter() - start
    if case.get("repeat", True):
        start, cpu = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(run())
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    else:
        seconds, cpu = first, float("nan")
    value = float(out if case["what"] == "value" else out[0])
    result = dict(
        case,
        source=os.path.dirname(os.path.dirname(fj.__file__)),
        value=value,
        seconds=seconds,
        cpu=cpu,
        first=first,
        peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        before_gb=before,
        load=os.getloadavg()[0],
    )
    if exact is not None:
        result["error_percent"] = (value - exact) / exact * 100
        result["exact"] = exact
    if exact is not None and case["what"] == "gradient":
        g = np.asarray(out[1].biases, np.float64)
        result["cosine"] = float(
            g @ grad_exact / np.linalg.norm(g) / np.linalg.norm(grad_exact)
        )
    print("RESULT " + json.dumps(result), flush=True)


def resident_gb() -> float:
    """This process's resident memory now (VmRSS), in GB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def run_case(case, source):
    env = dict(os.environ, PYTHONPATH=source)
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(case)],
        env=env,
        capture_output=True,
        text=True,
        cwd=source,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(done.stderr[-3000:])


def show(r, baseline=None):
    extra = ""
    if "error_percent" in r:
        extra = f"; error {r['error_percent']:+.2f} % (exact {r['exact']:.2f} bit)"
    if "cosine" in r:
        extra += f", cosine {r['cosine']:.3f}"
    ratio = ""
    if baseline is not None:
        ratio = (
            f" ({r['seconds'] / baseline['seconds']:.2f} x wall, "
            f"{r['cpu'] / baseline['cpu']:.2f} x CPU, "
            f"{r['peak_gb'] / baseline['peak_gb']:.2f} x memory of the baseline)"
        )
    print(
        f"| {r['network']} n={r['n']} T={r['steps']} {r['what']} | {r['source']} | "
        f"{r['seconds']:.1f} s (CPU {r['cpu']:.1f} s, first {r['first']:.0f} s, load "
        f"{r['load']:.1f}) | {r['peak_gb']:.2f} GB (resident before the call "
        f"{r.get('before_gb', float('nan')):.2f} GB){ratio}{extra} |",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--only", default="n1000,n4000,n10000")
    parser.add_argument("--source", default=os.path.dirname(HERE))
    parser.add_argument("--baseline")
    parser.add_argument("--gradient-10000", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    print("| case | fluxjax | time | peak memory |\n|---|---|---|---|", flush=True)
    parts = args.only.split(",")
    if "n1000" in parts:
        for network in ("E/I", "blocks"):
            for what in ("value", "gradient"):
                case = dict(
                    n=1000, steps=100_000, chains=20, network=network, what=what
                )
                base = None
                if args.baseline:
                    base = run_case(case, args.baseline)
                    show(base)
                show(run_case(case, args.source), base)
    if "n4000" in parts:
        case = dict(
            n=4000,
            steps=400_000,
            chains=20,
            network="blocks",
            what="gradient",
            exact=True,
            repeat=False,
        )
        show(run_case(case, args.source))
    if "n10000" in parts:
        for what in ("value", "gradient") if args.gradient_10000 else ("value",):
            case = dict(
                n=10_000,
                steps=100_000,
                chains=10,
                network="blocks",
                what=what,
                exact=True,
                repeat=False,
            )
            show(run_case(case, args.source))


if __name__ == "__main__":
    main()
