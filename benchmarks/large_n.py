"""Targets of the large-n flux estimator (fluxjax.info.moments), measured.

Every figure is mean +- SD over independent keys at ``steps`` total samples, float32
estimates against float64 exact references:

- disconnected networks (shuffled blocks; exact: the sum over blocks of exact_flux,
  gradients scattered back), with and without negligible joining weights;
- permutation networks (closed form of the product stationary state);
- dense random networks at n = 8..14 (exact_flux) and at n = 1000 (bracket, and
  central finite differences with common random numbers along random directions);
- the time of one value + gradient at n = 1000.

Usage: ``python benchmarks/large_n.py [--quick]``; prints a markdown table.
"""

import argparse
import math
import os
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


jax.config.update("jax_enable_x64", True)

import fluxjax as fj  # noqa: E402
from fluxjax.info.moments import (  # noqa: E402
    MOMENT_WINDOW,
    flux_bounds,
    moment_flux,
)


# ---------------------------------------------------------------------------
# Networks with exact references
# ---------------------------------------------------------------------------


def block_network(rng, n, *, sizes=(6, 10), scale=(2.0, 3.0), join=0, join_max=1e-3):
    """A shuffled disconnected network; returns (weights, biases, blocks, perm).

    ``blocks`` lists each block's (weights, biases) in its own order; neuron k of
    block c sits at ``perm[offset_c + k]`` of the full network. ``join`` random
    cross-block weights of size <= ``join_max`` are added afterwards.
    """
    lengths = []
    while sum(lengths) < n:
        lengths.append(int(rng.integers(sizes[0], sizes[1] + 1)))
    lengths[-1] -= sum(lengths) - n
    if lengths[-1] < sizes[0]:  # fold a short remainder into the previous block
        last = lengths.pop()
        lengths[-1] += last
    W = np.zeros((n, n))
    b = np.zeros(n)
    blocks = []
    start = 0
    for k in lengths:
        s = rng.uniform(*scale)
        Wb = rng.normal(0.0, s, (k, k))
        np.fill_diagonal(Wb, 0.0)
        bb = -Wb.sum(0) / 2 + rng.normal(0.0, 1.0, k)
        W[start : start + k, start : start + k] = Wb
        b[start : start + k] = bb
        blocks.append((Wb, bb))
        start += k
    perm = rng.permutation(n)
    Wp = np.zeros_like(W)
    Wp[np.ix_(perm, perm)] = W
    bp = np.zeros_like(b)
    bp[perm] = b
    if join:
        block_of = np.repeat(np.arange(len(lengths)), lengths)
        placed = 0
        while placed < join:
            i, j = rng.integers(0, n, 2)
            if block_of[i] != block_of[j]:
                Wp[perm[i], perm[j]] = rng.uniform(-join_max, join_max)
                placed += 1
    return Wp, bp, blocks, perm


_exact_block = jax.jit(
    jax.value_and_grad(
        lambda b, W, t, s: fj.exact_flux(fj.BinaryNetwork(W, b, t, s)), argnums=0
    )
)


def block_exact(blocks, perm, temperature, noise):
    """Exact flux (bits) and bias gradient of the shuffled block network (float64)."""
    value = 0.0
    grads = []
    for Wb, bb in blocks:
        v, g = _exact_block(
            jnp.asarray(bb),
            jnp.asarray(Wb),
            jnp.float64(temperature),
            jnp.float64(noise),
        )
        value += float(v)
        grads.append(np.asarray(g))
    grad = np.zeros(len(perm))
    grad[perm] = np.concatenate(grads)
    return value, grad


def permutation_network(rng, n, *, q=(2.0, 4.0), perturb=0.5):
    """W a weighted permutation (one cycle), weights 2q_i, biases -q_i + N(0, perturb^2)."""
    order = rng.permutation(n)
    pred = np.empty(n, int)
    pred[order] = np.roll(order, 1)  # neuron order[k] listens to order[k - 1]
    q_i = rng.uniform(*q, n)
    w = 2 * q_i + rng.normal(0.0, perturb, n)
    b = -q_i + rng.normal(0.0, perturb, n)
    W = np.zeros((n, n))
    W[pred, np.arange(n)] = w
    return W, b, pred, w


def _h(p):
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def _sig(u):
    return 1 / (1 + np.exp(-u))


def permutation_flux(w, b, pred, temperature=1.0):
    """Exact flux (bits) of a noiseless permutation network (large_n.md, closed form)."""
    n = len(b)
    on = _sig((w + b) / temperature)
    off = _sig(b / temperature)
    # m_i = off_i + (on_i - off_i) m_pred(i): solve the affine cycle(s) by iteration
    # of the exact linear system
    A = np.eye(n)
    A[np.arange(n), pred] -= on - off
    m = np.linalg.solve(A, off)
    mp = m[pred]
    return float(np.sum(_h(m) - mp * _h(on) - (1 - mp) * _h(off)))


def permutation_grad(w, b, pred, eps=1e-5):
    """Central finite differences of :func:`permutation_flux` in the biases."""
    g = np.zeros(len(b))
    for i in range(len(b)):
        e = np.zeros(len(b))
        e[i] = eps
        g[i] = (permutation_flux(w, b + e, pred) - permutation_flux(w, b - e, pred)) / (
            2 * eps
        )
    return g


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


_value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(moment_flux))


def estimate(net, key, steps, **kwargs):
    """(value, bias gradient) of moment_flux, as numpy."""
    v, g = _value_and_grad(net, key, steps, **kwargs)
    return float(v), np.asarray(g.biases, np.float64)


def estimate_full(net, key, steps, **kwargs):
    """(value, gradient pytree) of moment_flux."""
    return _value_and_grad(net, key, steps, **kwargs)


# ---------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------

ROWS = []


def row(figure, value, target, met):
    ROWS.append((figure, value, target, "yes" if met else "**no**"))
    print(f"| {figure} | {value} | {target} | {ROWS[-1][3]} |", flush=True)


def pm(values, fmt="{:.3f}"):
    values = np.asarray(values)
    sd = values.std(ddof=1) if len(values) > 1 else float("nan")
    return (fmt + " ± " + fmt).format(values.mean(), sd)


def against_exact(name, net, exact, exact_grad, keys, steps, value_tol, cos_tol):
    values, cosines, ratios = [], [], []
    for k in range(keys):
        v, g = estimate(net, jax.random.key(k), steps)
        values.append((v - exact) / exact * 100)
        cosines.append(cosine(g, exact_grad))
        ratios.append(np.linalg.norm(g) / np.linalg.norm(exact_grad))
    mean_error = abs(np.mean(values))
    row(
        f"{name}: value error (%), exact {exact:.2f} bit, {keys} keys",
        pm(values, "{:+.2f}"),
        f"within {value_tol:g} %",
        mean_error + np.std(values) <= value_tol,
    )
    row(
        f"{name}: bias-gradient cosine (norm ratio {np.mean(ratios):.2f})",
        pm(cosines),
        f">= {cos_tol}",
        np.mean(cosines) >= cos_tol,
    )


def disconnected(keys, steps, n=1000, noisy=False):
    cases = ((1.0, 0.5), (2.0, 0.5)) if noisy else ((1.0, 0.0), (2.0, 0.0))
    for temperature, noise in cases:
        rng = np.random.default_rng(int(10 * temperature + 100 * noise))
        W, b, blocks, perm = block_network(rng, n)
        exact, grad = block_exact(blocks, perm, temperature, noise)
        net = fj.BinaryNetwork(W, b, temperature, noise, dtype=jnp.float32)
        name = f"disconnected n={n}, T={temperature:g}, noise={noise:g}"
        against_exact(name, net, exact, grad, keys, steps, 3, 0.95)
    if noisy:
        return
    rng = np.random.default_rng(7)
    W, b, blocks, perm = block_network(rng, n, join=50)
    exact, grad = block_exact(blocks, perm, 1.0, 0.0)
    net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
    name = f"joined blocks (50 weights, abs <= 1e-3) n={n}"
    against_exact(name, net, exact, grad, keys, steps, 3, 0.95)


def permutation(keys, steps, n=1000):
    rng = np.random.default_rng(3)
    W, b, pred, w = permutation_network(rng, n)
    exact = permutation_flux(w, b, pred)
    grad = permutation_grad(w, b, pred)
    net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
    against_exact(f"permutation n={n}", net, exact, grad, keys, steps, 1, 0.98)


def dense_small(keys, steps):
    for n in (8, 10, 12):
        rng = np.random.default_rng(n)
        W = rng.normal(0.0, 2.5, (n, n))
        np.fill_diagonal(W, 0.0)
        b = -W.sum(0) / 2 + rng.normal(0.0, 1.0, n)
        exact, grad = eqx.filter_value_and_grad(fj.exact_flux)(fj.BinaryNetwork(W, b))
        net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
        against_exact(
            f"dense n={n} (s = 2.5)",
            net,
            float(exact),
            np.asarray(grad.biases),
            keys,
            steps,
            3,
            0.95,
        )


def dense_large(steps, directions, n=1000, eps=0.1, bracket=True):
    rng = np.random.default_rng(11)
    W = rng.normal(0.0, 3.0 / math.sqrt(n), (n, n))
    np.fill_diagonal(W, 0.0)
    # biases off the half-firing point -colsum/2, where the gradient nearly vanishes
    b = -W.sum(0) / 2 + rng.normal(0.0, 1.0, n)
    net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
    key = jax.random.key(0)
    value, grad = estimate_full(net, key, steps)
    if bracket:
        bounds = flux_bounds(net, jax.random.key(1), steps)
        row(
            f"dense n={n} (g = 3, b = -colsum/2 + N(0, 1)): lower <= estimate <= upper",
            f"{float(bounds.lower):.2f} ± {float(bounds.lower_stderr):.2f} <= "
            f"{float(value):.2f} <= {float(bounds.upper):.2f} ± "
            f"{float(bounds.upper_stderr):.2f}",
            "inside",
            bounds.lower < float(value) < bounds.upper,
        )
    f = eqx.filter_jit(moment_flux)
    predicted, measured = [], []
    for _ in range(directions):
        dW = jnp.asarray(rng.normal(0.0, 1.0 / math.sqrt(n), (n, n)), jnp.float32)
        dW = dW * (1 - jnp.eye(n, dtype=jnp.float32))
        db = jnp.asarray(rng.normal(0.0, 1.0, n), jnp.float32)
        move = lambda s, dW=dW, db=db: eqx.tree_at(
            lambda m: (m.weights, m.biases),
            net,
            (net.weights + s * dW, net.biases + s * db),
        )
        fd = (float(f(move(eps), key, steps)) - float(f(move(-eps), key, steps))) / (
            2 * eps
        )
        predicted.append(float(jnp.sum(grad.weights * dW) + grad.biases @ db))
        measured.append(fd)
        print("   fd", predicted[-1], measured[-1], flush=True)
    r = float(np.corrcoef(predicted, measured)[0, 1])
    slope = float(np.polyfit(predicted, measured, 1)[0])
    row(
        f"dense n={n} (b = -colsum/2 + N(0, 1)): corr(grad . d, central FD with CRN), "
        f"{directions} directions "
        f"(eps {eps}, slope {slope:.2f})",
        f"{r:.3f}",
        ">= 0.9",
        r >= 0.9,
    )


def log_det_precision(steps, n=1000):
    """float32 vs float64 Cholesky log det R of a sample correlation matrix."""
    from fluxjax._linalg import log_det_correlation

    rng = np.random.default_rng(1)
    W, b, _, _ = block_network(rng, n)
    net = fj.BinaryNetwork(W, b, dtype=jnp.float32)
    states = fj.simulate(net, jax.random.key(0), steps // 20, batch=20, burn_in=1000)
    p = np.asarray(net.firing_prob(states.reshape(-1, n)), np.float64)
    C = np.cov(p, rowvar=False) + np.diag((p * (1 - p)).mean(0))
    d = np.diag(C).copy()
    want = float(log_det_correlation(jnp.asarray(C), jnp.asarray(d)))
    got = float(
        log_det_correlation(jnp.asarray(C, jnp.float32), jnp.asarray(d, jnp.float32))
    )
    row(
        f"log det R, n={n}, float32 Cholesky - float64 (nats; TC = {-want / 2:.1f})",
        f"{got - want:+.2e}",
        "< 1e-2 of TC",
        abs(got - want) / 2 < 1e-2 * abs(want / 2),
    )


def timing(steps, n=1000):
    """Value + gradient at n = 1000 on a block and a dense network, against the
    value and jackknife SE alone (``moment_flux_stderr``: no gradient) timed in the
    same run."""
    rng = np.random.default_rng(1)
    W, b, _, _ = block_network(rng, n)
    dense = fj.ei_network(n, key=jax.random.key(2), dtype=jnp.float32)
    cases = {"blocks": fj.BinaryNetwork(W, b, dtype=jnp.float32), "dense E/I": dense}
    value_only = fj.moment_flux_stderr  # compiled inside
    for name, net in cases.items():
        seconds = {}
        for label, run in (
            ("value + grad", estimate_full),
            ("value + SE", value_only),
        ):
            start = time.perf_counter()
            jax.block_until_ready(run(net, jax.random.key(0), steps))
            first = time.perf_counter() - start
            start = time.perf_counter()
            jax.block_until_ready(run(net, jax.random.key(1), steps))
            seconds[label] = (first, time.perf_counter() - start)
        (first, second), (_, baseline) = seconds["value + grad"], seconds["value + SE"]
        row(
            f"value + grad, n={n}, T={steps}, {name}: compiled run (first run incl. "
            f"compile {first:.0f} s; load {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores); ratio to moment_flux_stderr's value + SE "
            f"({baseline:.1f} s, same run)",
            f"{second:.1f} s ({second / baseline:.2f} x)",
            "<= 60 s",
            second <= 60,
        )


def optimization(steps, n=1000, ascent_steps=60, exact_steps=120, block=8):
    """optimize_biases with the default soft_flux from zero biases, scored exactly,
    against the exact optimum (Adam on the exact flux of the blocks, float64)."""
    import functools

    import optax

    rng = np.random.default_rng(11)
    # blocks of 8: the exact reference costs 3 s per step (a 12-neuron block alone 9 s)
    W, _, _, _ = block_network(rng, n, sizes=(block, block))
    zero = np.zeros(n)
    components = fj.weight_components(fj.BinaryNetwork(W, zero))

    def exact(net, key=None):
        return fj.exact_flux(net, components=components)

    start = time.perf_counter()
    best, history = fj.optimize_biases(
        fj.BinaryNetwork(W, zero, dtype=jnp.float64),
        jax.random.key(0),
        exact,
        steps=exact_steps,
        optimizer=optax.adam(optax.cosine_decay_schedule(0.3, exact_steps, alpha=0.03)),
        tol=None,
        progress=True,
    )
    optimum = float(exact(best))
    exact_seconds = time.perf_counter() - start
    rate, final = 0.3, 0.05  # Adam's rate decays to final * rate
    schedule = optax.cosine_decay_schedule(rate, ascent_steps, alpha=final)
    start = time.perf_counter()
    found, _ = fj.optimize_biases(
        fj.BinaryNetwork(W, zero, dtype=jnp.float32),
        jax.random.key(1),
        functools.partial(fj.soft_flux, steps=steps),
        steps=ascent_steps,
        optimizer=optax.adam(schedule),
        tol=None,
        progress=True,
    )
    seconds = time.perf_counter() - start
    biases = np.asarray(found.biases, np.float64)
    reached = float(exact(fj.BinaryNetwork(W, biases, dtype=jnp.float64)))
    initial = float(exact(fj.BinaryNetwork(W, zero, dtype=jnp.float64)))
    row(
        f"optimize_biases (soft_flux, T={steps}, {ascent_steps} Adam steps {rate} -> "
        f"{rate * final:g}, {seconds:.0f} s) from zero biases, n={n} blocks: exact flux "
        f"reached / exact optimum ({optimum:.2f} bit; zero biases {initial:.2f} bit; "
        f"{n // block} blocks of {block}; the optimum: {exact_steps} exact Adam steps, "
        f"{exact_seconds:.0f} s, final gradient norm {float(history.grad_norm[-1]):.1e})",
        f"{100 * reached / optimum:.1f} %",
        ">= 98 %",
        reached >= 0.98 * optimum,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--large-keys", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument(
        "--only",
        default="timing,logdet,small,permutation,disconnected,dense,noisy,optimize",
    )
    args = parser.parse_args()
    devices = jax.devices()
    print(
        f"device {devices[0].device_kind} ({platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores), JAX {jax.__version__}, estimates float32, exact"
        f" float64, steps {args.steps}, 20 chains, window {MOMENT_WINDOW} (local credit)\n"
    )
    print("| figure | measured | target | met? |\n|---|---|---|---|", flush=True)
    parts = args.only.split(",")
    if "timing" in parts:
        timing(args.steps)
    if "logdet" in parts:
        log_det_precision(args.steps)
    if "small" in parts:
        dense_small(args.keys, args.steps)
    if "permutation" in parts:
        permutation(args.large_keys, args.steps)
    if "disconnected" in parts:
        disconnected(args.large_keys, args.steps)
    if "noisy" in parts:
        disconnected(args.large_keys, args.steps, noisy=True)
    if "dense" in parts:
        dense_large(args.steps, args.directions)
    if "optimize" in parts:
        optimization(args.steps)
    if "fd" in parts:
        dense_large(args.steps, args.directions, bracket=False)


if __name__ == "__main__":
    main()
