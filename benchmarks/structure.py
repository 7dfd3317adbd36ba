"""Costs of structure: a caller's own jit on noiseless networks, and host syncs.

1. Noiselessness is structure (``noise is None``), so a user's
   ``eqx.filter_jit(jax.grad(fj.exact_flux))`` or ``eqx.filter_jit(fj.soft_flux)`` of a
   noiseless network skips the 257-node noise integral exactly like the library's own
   path. The baseline is the same network with a zero noise *array* (what a traced
   noise was before: the integral runs on a zero sigma), timed in the same run.
2. ``stack_networks`` compares the fields of an ensemble in one device call and one
   host read; the baseline is the per-leaf ``bool(jnp.array_equal(...))`` loop it
   replaced, written out here.
3. ``simulate_ensemble`` runs cache-sized groups of networks in one compiled call
   (``lax.map``); the baseline is the Python loop of one call per group it replaced.

The table's middle columns are "this implementation" and "the baseline".

Run:
    python benchmarks/structure.py [--quick] [--out FILE]
"""

import argparse
import importlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from _common import header, markdown_table

import fluxjax as fj


def best_seconds(function, repeat: int) -> float:
    jax.block_until_ready(function())  # compile
    best = np.inf
    for _ in range(repeat):
        clock = time.perf_counter()
        jax.block_until_ready(function())
        best = min(best, time.perf_counter() - clock)
    return best


def with_zero_noise_array(net: fj.BinaryNetwork) -> fj.BinaryNetwork:
    zero = jnp.zeros((), net.weights.dtype)
    return eqx.tree_at(lambda n: n.noise, net, zero, is_leaf=lambda x: x is None)


def stack_per_leaf(nets):
    """The per-leaf equality loop of the previous ``stack_networks`` (one host sync
    per network and field)."""
    columns = zip(*(jax.tree.leaves(net) for net in nets), strict=True)
    return [
        all(
            leaf.shape == column[0].shape and bool(jnp.array_equal(leaf, column[0]))
            for leaf in column
        )
        for column in columns
    ]


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    rng = np.random.default_rng(0)
    rows = []

    n = 10
    W = rng.normal(0.0, 2.0, (n, n))
    net = fj.BinaryNetwork(W, -W.sum(0) / 2)
    grad = eqx.filter_jit(eqx.filter_grad(fj.exact_flux))
    structural = best_seconds(lambda: grad(net), repeat)
    integral = best_seconds(lambda: grad(with_zero_noise_array(net)), repeat)
    rows.append(
        {
            "call": f"user jit of grad(exact_flux), n = {n}",
            "noise None (s)": f"{structural:.4f}",
            "zero noise array (s)": f"{integral:.4f}",
            "speed-up": f"{integral / structural:.1f}x",
        }
    )

    n, steps = (100, 2000) if args.quick else (200, 20_000)
    W = rng.normal(0.0, 2.0 / np.sqrt(n), (n, n))
    net = fj.BinaryNetwork(W, -W.sum(0) / 2)
    key = jax.random.key(1)
    soft = eqx.filter_jit(eqx.filter_value_and_grad(fj.soft_flux))
    unjitted = eqx.filter_value_and_grad(fj.soft_flux)  # the library's own jit inside
    library = best_seconds(lambda: unjitted(net, key, steps), 1)
    structural = best_seconds(lambda: soft(net, key, steps), 1)
    integral = best_seconds(lambda: soft(with_zero_noise_array(net), key, steps), 1)
    rows.append(
        {
            "call": f"user jit of value_and_grad(soft_flux), n = {n}, T = {steps}",
            "noise None (s)": f"{structural:.3f} (library path {library:.3f})",
            "zero noise array (s)": f"{integral:.3f}",
            "speed-up": f"{integral / structural:.1f}x",
        }
    )

    count, n = (40, 50) if args.quick else (160, 125)
    W = rng.normal(0.0, 1.0, (n, n))
    nets = [fj.BinaryNetwork(W, rng.normal(0.0, 1.0, n)) for _ in range(count)]
    one_read = best_seconds(lambda: fj.stack_networks(nets)[0].biases, repeat)
    per_leaf = best_seconds(lambda: jnp.asarray(stack_per_leaf(nets)), repeat)
    rows.append(
        {
            "call": f"stack_networks, {count} networks of n = {n}",
            "noise None (s)": f"{one_read:.4f} (one host read)",
            "zero noise array (s)": f"{per_leaf:.4f} (per-leaf reads, comparison only)",
            "speed-up": f"{per_leaf / one_read:.1f}x",
        }
    )
    count, n, steps = (32, 64, 500) if args.quick else (160, 125, 5000)
    key = jax.random.key(2)
    nets = []
    for _ in range(count):
        W = rng.normal(0.0, 2.0 / np.sqrt(n), (n, n))
        nets.append(fj.BinaryNetwork(W, rng.normal(0.0, 0.5, n), 1.0, 0.5))
    group = importlib.import_module("fluxjax.simulate").CPU_NETWORKS_PER_DEVICE
    keys = jax.vmap(lambda k: jax.random.fold_in(key, k))(jnp.arange(count))

    def loop():  # the previous implementation: one call per group, then concatenate
        return jnp.concatenate(
            [
                fj.simulate_ensemble(nets[s : s + group], keys[s : s + group], steps)
                for s in range(0, count, group)
            ]
        )

    one_call = best_seconds(lambda: fj.simulate_ensemble(nets, keys, steps), 1)
    looped = best_seconds(loop, 1)
    assert bool(jnp.all(loop() == fj.simulate_ensemble(nets, keys, steps)))
    rows.append(
        {
            "call": f"simulate_ensemble, {count} networks of n = {n}, {steps} steps",
            "noise None (s)": f"{one_call:.3f} (groups of {group} in one lax.map)",
            "zero noise array (s)": f"{looped:.3f} (a Python loop of calls)",
            "speed-up": f"{looped / one_call:.2f}x",
        }
    )
    text = "\n\n".join(
        [
            header(
                "Structure: noiselessness and host syncs", dtype="float32", threads=0
            ),
            markdown_table(rows, list(rows[0])),
        ]
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
