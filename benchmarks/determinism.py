"""Same key, same bits: across devices, jit, batching, and CPU against GPU.

One command, a few minutes. On this machine's backend it fingerprints (SHA-256 of the
raw bytes) a fixed set of results, computed

- batched and one replica at a time (``simulate`` of 8 replicas against 8 calls);
- with ``jax.jit`` and under ``jax.disable_jit()``;
- sharded over 4 CPU devices and on one of them, in one child process with 4 host
  devices (``jax.default_device``), and in that child against this 1-device process
  (the device count changes XLA:CPU's threads per device, and with them the last bits
  of matrix products: reported, not a property fluxjax controls);
- on all of this machine's cores and on one (a child pinned to one core: XLA:CPU
  partitions large reductions and contractions by its thread count, so these may
  differ in the last bits; reported, not a property fluxjax controls);
- on the CPU and, when one is present, on the GPU (``jax.devices("gpu")``), where it
  also times ``simulate`` (N = 125 and 1000, 64 replicas) and one ``soft_flux``
  value + gradient (N = 125 and 1000, T = 10^5) beside this CPU's.

It prints a table of checks (same / DIFFERENT) and the timings. No GPU: the GPU rows
say "not present" (untested).

Run:
    python benchmarks/determinism.py
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import nullcontext

import equinox as eqx
import jax
import numpy as np

import fluxjax as fj


sys.path.insert(0, os.path.dirname(__file__))
from _common import header, markdown_table  # noqa: E402


def _digest(tree) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def _networks():
    net, _ = fj.l5_microcircuit(42)
    noisy = fj.BinaryNetwork(net.weights, net.biases, net.temperature, 0.5)
    return net, noisy


def fingerprints(device=None) -> dict[str, str]:
    """The results whose bits are compared, on ``device`` (default: the default)."""
    net, noisy = _networks()
    key = jax.random.key(0)
    with jax.default_device(device) if device is not None else nullcontext():
        states = fj.simulate(net, key, 5_000, batch=8, burn_in=500)
        noisy_states = fj.simulate(noisy, key, 2_000, batch=4, burn_in=100)
        value, grads = eqx.filter_value_and_grad(fj.soft_flux)(net, key, 20_000)
        moments = fj.moment_flux_stderr(net, key, 20_000)
    return {
        "simulate, N = 125, 8 replicas": _digest(states),
        "simulate, noise 0.5, 4 replicas": _digest(noisy_states),
        "soft_flux value + gradient, N = 125": _digest((value, grads.biases)),
        "moment_flux_stderr, N = 125": _digest(moments),
    }


def batching_and_jit() -> list[dict]:
    net, _ = _networks()
    key = jax.random.key(1)
    batched = fj.simulate(net, key, 1_000, batch=8)
    alone = fj.simulate(net, key, 1_000, batch=1)[0]
    jitted = jax.jit(lambda k: fj.simulate(net, k, 1_000, batch=8))(key)
    with jax.disable_jit():
        eager = fj.simulate(net, key, 200, batch=2)
    return [
        _check("replica 0 of 8 = a batch of 1", _digest(batched[0]), _digest(alone)),
        _check("jit = the public call", _digest(jitted), _digest(batched)),
        _check(
            "disable_jit = jit (200 steps)",
            _digest(eager),
            _digest(fj.simulate(net, key, 200, batch=2)),
        ),
    ]


def in_child(devices: int = 1, cores: int | None = None) -> list[dict[str, str]]:
    """The fingerprints in a child process with ``devices`` CPU devices, on ``cores``:
    on all its devices, then on its first device alone."""
    flags = os.environ.get("XLA_FLAGS", "")
    flags = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    env = {**os.environ, "XLA_FLAGS": flags}
    pin = "" if cores is None else f"os.sched_setaffinity(0, range({cores})); "
    code = (
        f"import json, os, sys; {pin}sys.path.insert(0, sys.argv[1]); "
        f"import determinism, jax; assert len(jax.devices()) == {devices}; "
        "print(json.dumps([determinism.fingerprints(), "
        "determinism.fingerprints(jax.devices()[0])]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(__file__)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _check(what, a, b) -> dict:
    return {"check": what, "result": "same" if a == b else "**DIFFERENT**"}


def _seconds(function, *args) -> float:
    jax.block_until_ready(function(*args))  # compile
    start = time.perf_counter()
    jax.block_until_ready(function(*args))
    return time.perf_counter() - start


def timings(device) -> list[dict]:
    rows = []
    for n in (125, 1000):
        net = fj.ei_network(n, key=jax.random.key(0), strength=2.0)
        with jax.default_device(device):
            simulate = _seconds(
                lambda net: fj.simulate(net, jax.random.key(1), 10_000, batch=64), net
            )
            gradient = _seconds(
                lambda net: eqx.filter_value_and_grad(fj.soft_flux)(
                    net, jax.random.key(1), 100_000
                ),
                net,
            )
        rows.append(
            {
                "device": str(device),
                "N": n,
                "simulate 64 x 10^4 steps (s)": f"{simulate:.2f}",
                "neuron-updates / s": f"{64 * 10_000 * n / simulate:.2e}",
                "soft_flux value + grad, T = 10^5 (s)": f"{gradient:.2f}",
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    cpu = jax.devices("cpu")[0]
    checks = batching_and_jit()
    on_cpu = fingerprints(cpu)
    on_four, on_first = in_child(devices=4)
    for name, digest in on_four.items():
        what = f"{name}: 4 CPU devices = 1 of them (one process)"
        checks.append(_check(what, digest, on_first[name]))
    for name, digest in on_cpu.items():
        what = f"{name}: a 1-device process = a 4-device one"
        checks.append(_check(what, digest, on_four[name]))
    cores = len(os.sched_getaffinity(0))
    if cores > 1:  # XLA:CPU splits reductions by its thread count
        on_one, _ = in_child(cores=1)
        for name, digest in on_cpu.items():
            checks.append(
                _check(f"{name}: {cores} cores = 1 core", digest, on_one[name])
            )
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        gpu = None
    if gpu is None:
        checks.append({"check": "CPU = GPU", "result": "not present (untested)"})
        rows = timings(cpu)
    else:
        on_gpu = fingerprints(gpu)
        for name, digest in on_cpu.items():
            checks.append(_check(f"{name}: CPU = GPU", digest, on_gpu[name]))
        rows = timings(cpu) + timings(gpu)
    print(header("Same key, same bits", dtype="float32", threads=0))
    print()
    print(markdown_table(checks, ["check", "result"]))
    print()
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
