"""ndd's NSB flux on the trajectories of ``plugin_bias.py --undersampled``.

Runs where ndd is installed (it needs numpy < 2 and gfortran; a throwaway venv):

    python benchmarks/plugin_bias.py --undersampled --save-codes /tmp/codes.npz
    /tmp/nddenv/bin/python benchmarks/ndd_flux.py /tmp/codes.npz

For each trajectory of state codes: I = H(x_t) + H(x_{t+1}) - H(x_t, x_{t+1}) with
``ndd.entropy(counts, k=K)`` (K = 2^n states, 4^n pairs), in bits; per cell the bias ±
SD (RMSE) against the exact flux in millibits, the pooled RMSE of table 2's cells, and
the N = 10, T = 10^5 row. Needs numpy and ndd only (not fluxjax or JAX).
"""

import math
import sys

import ndd
import numpy as np


def ndd_flux(codes: np.ndarray, n: int) -> float:
    past, future = codes[:-1].astype(np.int64), codes[1:].astype(np.int64)
    joint = past * (1 << n) + future
    h = [
        ndd.entropy(np.unique(c, return_counts=True)[1], k=k)
        for c, k in ((past, 2**n), (future, 2**n), (joint, 4**n))
    ]
    return (h[0] + h[1] - h[2]) / math.log(2)


def errors_of(data, key) -> np.ndarray:
    n, exact = data[key + "_meta"]
    values = [ndd_flux(c, int(n)) for c in data[key]]
    return 1e3 * (np.asarray(values) - exact)


def main():
    data = np.load(sys.argv[1])
    print(f"ndd {ndd.__version__}, numpy {np.__version__}")
    pooled = []
    cells = sorted(
        (k for k in data.files if not k.endswith("_meta") and not k.startswith("long")),
        key=lambda k: tuple(map(int, k.split("_"))),
    )
    for key in cells:
        e = errors_of(data, key)
        pooled.append(e)
        rmse = math.sqrt(np.mean(e**2))
        print(f"{key}: {e.mean():+.0f} ± {e.std(ddof=1):.1f} ({rmse:.0f}) mbit")
    print(f"pooled RMSE: {math.sqrt(np.mean(np.concatenate(pooled) ** 2)):.0f} mbit")
    e = errors_of(data, "long_1e5")
    print(
        f"N = 10, T = 10^5: {e.mean():+.0f} ± {e.std(ddof=1):.1f} "
        f"({math.sqrt(np.mean(e**2)):.0f}) mbit"
    )


if __name__ == "__main__":
    main()
