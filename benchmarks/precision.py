"""float32 against float64: how far the library's default precision is from float64.

Each quantity is computed twice from the same inputs (and, for sampled estimators,
the same key): in float32, the library's default, and in float64 (``jax.enable_x64``
and ``dtype=jnp.float64``). The table gives the difference float32 - float64 and,
for sampled estimators, their own standard error beside it: float32 is enough where
the difference is far below what is asked of the number.

- exact flux ``fj.exact_flux`` and its bias gradient, N = 2 ... 14 (dense random
  networks, W ~ N(0, 2^2), biases -colsum/2 + N(0, 1), noise 0);
- plug-in flux (plain and Miller-Madow) of one trajectory, N = 6 and 10, T = 10^5;
- ``soft_flux`` (N = 8, T = 10^5) and ``moment_flux_stderr`` (N = 100 and 1000,
  T = 100 N) with the same key;
- the ±0.01 single-bias gains of exact flux (N = 6, 10, 12): their float32 error,
  against the resolution below which ``fj.single_bias_gains`` refuses them.

Run:
    python benchmarks/precision.py [--quick] [--out FILE]
"""

import argparse
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import fluxjax as fj


sys.path.insert(0, os.path.dirname(__file__))
from _common import header, markdown_table  # noqa: E402


def _network(n: int, dtype) -> fj.BinaryNetwork:
    rng = np.random.default_rng(n)
    W = rng.normal(0.0, 2.0, (n, n))
    np.fill_diagonal(W, 0.0)
    b = -W.sum(0) / 2 + rng.normal(0.0, 1.0, n)
    return fj.BinaryNetwork(W, b, dtype=dtype)


def _both(compute):
    """``compute(dtype)`` in float32 and in float64, as float64 numpy arrays."""
    single = jax.tree.map(lambda a: np.asarray(a, np.float64), compute(jnp.float32))
    with jax.enable_x64(True):
        double = jax.tree.map(lambda a: np.asarray(a, np.float64), compute(jnp.float64))
    return single, double


def exact_rows(sizes) -> list[dict]:
    rows = []
    for n in sizes:
        start = time.perf_counter()

        def flux_and_grad(dtype, n=n):
            value, grads = eqx.filter_value_and_grad(fj.exact_flux)(_network(n, dtype))
            return value, grads.biases

        (v32, g32), (v64, g64) = _both(flux_and_grad)
        rows.append(
            {
                "quantity": "exact_flux",
                "N": n,
                "float64 value (bit)": f"{v64:.6f}",
                "float32 - float64": f"{v32 - v64:+.1e}",
                "relative": f"{(v32 - v64) / v64:+.1e}",
                "gradient: |g32 - g64| / |g64|": (
                    f"{np.linalg.norm(g32 - g64) / np.linalg.norm(g64):.1e}"
                ),
                "own SE": "exact",
                "seconds (both)": f"{time.perf_counter() - start:.1f}",
            }
        )
        print(rows[-1], flush=True)
    return rows


def sampled_rows(quick: bool) -> list[dict]:
    rows = []
    key = jax.random.key(0)
    T = 20_000 if quick else 100_000
    for n in (6, 10):
        states = fj.simulate(_network(n, jnp.float32), key, T, burn_in=1000)
        for correction in (None, "miller-madow"):
            single, double = _both(
                lambda dtype, c=correction, s=states: fj.plugin_flux_stderr(s, c)
            )
            rows.append(
                _sampled("plugin_flux " + (correction or "plain"), n, single, double)
            )
    single, double = _both(
        lambda dtype: (fj.soft_flux(_network(8, dtype), key, T), jnp.zeros(()))
    )
    rows.append(_sampled(f"soft_flux (T = {T})", 8, single, double, stderr="n/a"))
    for n in (100,) if quick else (100, 1000):
        single, double = _both(
            lambda dtype, n=n: fj.moment_flux_stderr(_network(n, dtype), key, 100 * n)
        )
        rows.append(_sampled(f"moment_flux_stderr (T = {100 * n})", n, single, double))
    return rows


def gain_rows(sizes) -> list[dict]:
    """The ±0.01 single-bias gains of exact flux: their float32 round-off, in units
    of eps32 max(|F|, 1), against the RESOLUTION_ULPS that single_bias_gains refuses."""
    from fluxjax.optimize import RESOLUTION_ULPS, _single_bias_gains

    rows = []
    for n in sizes:
        (f32, g32), (f64, g64) = _both(
            lambda dtype, n=n: _single_bias_gains(
                _network(n, dtype), fj.exact_flux, 0.01
            )
        )
        ulps = np.abs(g32 - g64).max() / (np.finfo(np.float32).eps * max(abs(f64), 1))
        rows.append(
            {
                "N": n,
                "largest |gain| (bit, float64)": f"{np.abs(g64).max():.1e}",
                "smallest |gain|": f"{np.abs(g64).min():.1e}",
                "float32 gain error (bit)": f"{np.abs(g32 - g64).max():.1e}",
                "in eps32 max(|F|, 1)": f"{ulps:.0f}",
                "refused below": f"{RESOLUTION_ULPS} eps32 max(|F|, 1)",
            }
        )
        print(rows[-1], flush=True)
    return rows


def _sampled(name, n, single, double, stderr=None) -> dict:
    (v32, se32), (v64, _) = single, double
    row = {
        "quantity": name,
        "N": n,
        "float64 value (bit)": f"{v64:.6f}",
        "float32 - float64": f"{v32 - v64:+.1e}",
        "relative": f"{(v32 - v64) / v64:+.1e}",
        "gradient: |g32 - g64| / |g64|": "",
        "own SE": stderr or f"{se32:.1e}",
        "seconds (both)": "",
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N <= 10, shorter runs")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    sizes = (2, 4, 6, 8, 10) if args.quick else (2, 4, 6, 8, 10, 12, 13, 14)
    rows = exact_rows(sizes) + sampled_rows(args.quick)
    gains = gain_rows((6, 10) if args.quick else (6, 10, 12))
    text = "\n\n".join(
        [
            header("float32 against float64", dtype="float32 and float64", threads=0),
            markdown_table(rows, list(rows[0])),
            markdown_table(gains, list(gains[0])),
        ]
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
