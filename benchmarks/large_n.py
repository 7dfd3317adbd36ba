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
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


jax.config.update("jax_enable_x64", True)

import fluxjax as fj  # noqa: E402
from fluxjax.info.moments import flux_bounds, moment_flux  # noqa: E402


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
            jnp.asarray(bb), jnp.asarray(Wb), jnp.float64(temperature), jnp.float64(noise)
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


def estimate(net, key, steps, **kwargs):
    """(value, bias gradient) of moment_flux, as numpy."""
    v, g = eqx.filter_value_and_grad(moment_flux)(net, key, steps, **kwargs)
    return float(v), np.asarray(g.biases, np.float64)
