"""The streamed large-n estimator on a GPU: check against the CPU, then time n = 10^4.

One command (a few minutes on one GPU):

    python benchmarks/large_n_gpu.py

1. Check: a dense E/I network of n = 1000, T = 10^5 transitions (20 chains), value and
   gradient in every field on the GPU and on the CPU with the same key. The chains
   are the same bits (counter-based random numbers); the sums are not (other
   products), so the values must agree to float32 rounding (relative 1e-4) and the
   bias gradients to cosine 0.999.
2. Time: n = 10^4, T = 10^6 (10 chains), value + SE and value + gradient, each a
   second, compiled call; with the GPU's peak memory (``memory_stats``).

Matrix products run at full float32 precision (``jax_default_matmul_precision =
"highest"``): TF32 would change the log-determinant of a 10^4 x 10^4 correlation
matrix by more than the estimator's standard error.
"""

import time

import jax


jax.config.update("jax_default_matmul_precision", "highest")

import equinox as eqx  # noqa: E402
import numpy as np  # noqa: E402

import fluxjax as fj  # noqa: E402
from fluxjax.info.moments import moment_flux  # noqa: E402


def value_and_grad(net, key, steps, chains):
    return eqx.filter_jit(eqx.filter_value_and_grad(moment_flux))(
        net, key, steps, num_chains=chains
    )


def timed(run):
    jax.block_until_ready(run())
    start = time.perf_counter()
    out = jax.block_until_ready(run())
    return out, time.perf_counter() - start


def main():
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        raise SystemExit("no GPU: install fluxjax[gpu] on a machine with one")
    gpu, cpu = gpus[0], jax.devices("cpu")[0]
    print(f"GPU {gpu.device_kind}; JAX {jax.__version__}")

    net = fj.ei_network(1000, key=jax.random.key(0), strength=2.0)
    key = jax.random.key(1)
    results = {}
    for device in (gpu, cpu):
        with jax.default_device(device):
            net_d = jax.device_put(net, device)
            (v, g), seconds = timed(
                lambda net_d=net_d: value_and_grad(net_d, key, 100_000, 20)
            )
            results[device.platform] = (float(v), np.asarray(g.biases), seconds)
    (vg, gg, tg), (vc, gc, tc) = results["gpu"], results["cpu"]
    cosine = float(gg @ gc / np.linalg.norm(gg) / np.linalg.norm(gc))
    relative = abs(vg - vc) / abs(vc)
    print(
        f"check n=1000, T=1e5: value GPU {vg:.5f} CPU {vc:.5f} bit (relative "
        f"{relative:.1e}), bias-gradient cosine {cosine:.5f}; GPU {tg:.2f} s, "
        f"CPU {tc:.1f} s"
    )
    ok = relative < 1e-4 and cosine > 0.999
    print("check", "passed" if ok else "FAILED")

    big = fj.ei_network(10_000, key=jax.random.key(0), strength=2.0)
    big = jax.device_put(big, gpu)
    with jax.default_device(gpu):
        estimate, seconds = timed(
            lambda: fj.moment_flux_stderr(big, key, 1_000_000, num_chains=10)
        )
        print(
            f"n=1e4, T=1e6 value + SE: {float(estimate.value):.2f} ± "
            f"{float(estimate.stderr):.2f} bit in {seconds:.1f} s"
        )
        (v, _), seconds = timed(lambda: value_and_grad(big, key, 1_000_000, 10))
        print(
            f"n=1e4, T=1e6 value + gradient in every field: {float(v):.2f} bit in "
            f"{seconds:.1f} s"
        )
    stats = gpu.memory_stats() or {}
    print(
        f"GPU peak memory {stats.get('peak_bytes_in_use', float('nan')) / 2**30:.2f} GiB"
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
