r"""NSB estimates of entropy and information flux from samples, in bits.

The Nemenman–Shafee–Bialek estimator (Nemenman, Shafee & Bialek 2002; Nemenman, Bialek
& de Ruyter van Steveninck 2004) is the posterior mean of the entropy H of a
distribution over K bins given counts n_i (N samples), under a mixture of Dirichlet
priors with concentration a chosen so that the prior on H is nearly flat:

1. Given a, the posterior of p is Dirichlet(n + a) and (Wolpert & Wolf 1995)

   E[H | n, a] = psi(nu + 1) - sum_i (n_i + a) / nu psi(n_i + a + 1),  nu = N + K a.

2. The prior over a is p(a) ∝ d xi / d a = K psi_1(K a + 1) - psi_1(a + 1), with
   xi(a) = psi(K a + 1) - psi(a + 1) the prior mean of H: uniform in xi.
3. The evidence is p(n | a) = Gamma(K a) / Gamma(N + K a) prod_i Gamma(n_i + a) /
   Gamma(a) (bins with n_i = 0 give 1).
4. H_NSB = int da p(a) p(n | a) E[H | n, a] / int da p(a) p(n | a), and the posterior
   variance uses E[H^2 | n, a] (Archer, Park & Pillow 2013, eq. 13 and appendix).

:func:`nsb_entropy` returns H_NSB and the posterior SD. :func:`nsb_flux` estimates
I(x_t; x_{t+1}) = H(x_t) + H(x_{t+1}) - H(x_t, x_{t+1}) over the T - 1 successive
pairs, each entropy by NSB with its alphabet size known (2^n states, 2^(2n) pairs);
:func:`nsb_flux_stderr` adds a delete-one-block jackknife standard error (the three
posteriors are not independent, and successive states are correlated, which NSB's
independent-samples model does not see).

Numerics: the counts are tallied in JAX (as :mod:`fluxjax.info.plugin` does, one
trajectory at a time); the one-dimensional integrals over a run on the host in float64
with numpy and scipy.special, whatever JAX's dtype: only the profile of the counts
(how many bins hold each count) matters, so each integral costs O(#distinct counts)
per node. The integrand is evaluated in x = log a: the posterior's mode is found on a
grid of unit steps over a in [e^-60 / K, e^60] and refined (Brent), and the integral
is a composite 20-point Gauss–Legendre rule on panels that double in width away from
the mode (first panel: the distance at which the log posterior drops by 1/2), out to
where the posterior has fallen by e^-50. Large a and K use the Stirling series for
ln Gamma(z + n) - ln Gamma(z) and psi_1(z) - 1/z, so the prior and evidence stay
accurate where direct differences cancel. ``tests/test_nsb.py`` checks the result
against an independent quadrature (``tests/reference.py``: direct formulas, adaptive
scipy quadrature) to 1e-9 nats, and against ``ndd`` 1.10.6 (a Fortran NSB
implementation): on ndd's own integration window (+-4 posterior SDs of ln a about an
approximate mode) the posterior and its moments reproduce ndd to 1e-8 nats; over the
whole posterior, which fluxjax integrates, the estimates differ from ndd's by what that
truncation leaves out (up to 3e-3 nats in the test cases).

Which estimator when (the flux of n neurons from T steps; benchmarks/README.md,
"NSB"):

- The network is known: :func:`fluxjax.exact_flux` (n <= 14), else ``fj.flux(net,
  key)`` or :func:`fluxjax.flux_bounds`. Samples add only noise.
- Samples only, well sampled (T >> 4^n, every pair seen many times): the plug-in,
  :func:`fluxjax.plugin_flux` with ``"miller-madow"`` (the study's estimator).
- Samples only, undersampled (T ~ 2^n ... 4^n): :func:`nsb_flux` (pooled RMSE 919
  mbit in the benchmark against 1309-2371 for the plug-in and its corrections, the
  same as ndd's NSB; not best everywhere: on the paper's low-flux isolated core the
  ``"shuffle"`` correction is closer).
- Most sampled states new: no estimator recovers the flux from the samples; the
  plug-in warns (its estimate is near log2 T), and NSB warns when the pairs hold fewer
  than ``MIN_COINCIDENCES`` coincidences.

References:
    Nemenman, Shafee & Bialek (2002), Entropy and inference, revisited. NIPS 14.
    Nemenman, Bialek & de Ruyter van Steveninck (2004), Phys. Rev. E 69, 056111.
    Nemenman (2011), Coincidences and estimation of entropies of random variables with
    large cardinalities. Entropy 13, 2013.
    Archer, Park & Pillow (2013), Bayesian and quasi-Bayesian estimators for mutual
    information from discrete data. Entropy 15, 1738.
"""

import functools
import math
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Integer
from scipy import optimize, special

from .._checks import check_int, is_concrete
from ._counts import _as_words, _check_length, _joint_rows, _row_counts, _symbol_bits
from .results import Estimate


MIN_COINCIDENCES = 10
"""The NSB flux warns when the T - 1 pairs (x_t, x_{t+1}) hold fewer coincidences
than this (pairs minus distinct pairs): the joint entropy's posterior is then
dominated by its prior, with an SD of ~ 1 / sqrt(coincidences) nats or more, and the
estimate says little (Nemenman 2011)."""

_MAX_LOG2_ALPHABET = 900  # K e^60 must be a float64 (2^900 e^60 ~ 1e297)
_GRID_MARGIN = 60.0  # the grid of log a spans [-ln K - 60, 60]
_DROP = 50.0  # the integrals stop where the log posterior is 50 below its mode
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
_LN2 = math.log(2.0)


# ----------------------------------------------------------------------------- host


def _log_rising(z, n):
    """The log rising factorial ln Gamma(z + n) - ln Gamma(z), accurate for large z."""
    z, n = np.broadcast_arrays(np.asarray(z, float), np.asarray(n, float))
    direct = special.gammaln(z + n) - special.gammaln(z)
    large = z > 1e3
    if not np.any(large):
        return direct
    zl, nl = np.maximum(z, 1e3), n  # the Stirling form where z is large

    def series(x):  # ln Gamma(x) - ((x - 1/2) ln x - x + ln(2 pi) / 2)
        inv = 1 / x
        inv2 = inv * inv
        return (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680))) * inv

    stirling = (
        nl * np.log(zl + nl)
        + (zl - 0.5) * np.log1p(nl / zl)
        - nl
        + series(zl + nl)
        - series(zl)
    )
    return np.where(large, stirling, direct)


def _trigamma(z):
    """psi_1(z) = zeta(2, z) (Hurwitz zeta: the ufunc behind polygamma, called directly)."""
    return special.zeta(2.0, z)


def _trigamma_minus_inverse(z):
    """psi_1(z) - 1/z for z >= 1, accurate for large z (series beyond 10^3)."""
    z = np.asarray(z, float)
    zs = np.minimum(z, 1e3)
    direct = _trigamma(zs) - 1 / zs
    zl = np.maximum(z, 1e3)
    inv = 1 / zl
    inv2 = inv * inv
    series = inv2 * (
        0.5 + inv * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
    )
    return np.where(z > 1e3, series, direct)


class _Profile:
    """The counts of one sample as (count value n, number of bins z) pairs, K bins."""

    def __init__(self, values, multiplicities, alphabet_size: float):
        keep = (values > 0) & (multiplicities > 0)
        self.n = np.asarray(values, float)[keep]
        self.z = np.asarray(multiplicities, float)[keep]
        self.K = float(alphabet_size)
        self.N = float(np.sum(self.n * self.z))
        self.distinct = float(np.sum(self.z))
        # all K bins, the unobserved ones as one class of count 0
        self.n_all = np.concatenate([[0.0], self.n])
        self.z_all = np.concatenate([[self.K - self.distinct], self.z])

    def log_posterior(self, x):
        """The log posterior density of x = ln a: ln p(a) + ln p(n | a) + x + const."""
        x = np.atleast_1d(np.asarray(x, float))
        a = np.exp(x)
        kappa = self.K * a
        prior = (self.K - 1) / (kappa + 1) / (a + 1) + (
            self.K * _trigamma_minus_inverse(kappa + 1) - _trigamma_minus_inverse(a + 1)
        )  # = K psi_1(K a + 1) - psi_1(a + 1), without the cancellation of 1/a terms
        evidence = np.sum(
            self.z * _log_rising(a[:, None], self.n[None, :]), axis=1
        ) - _log_rising(kappa, self.N)
        return np.log(prior) + evidence + x

    def moments(self, x):
        """E[H | n, a] and Var[H | n, a] in nats at a = exp(x).

        With A_i = n_i + a, nu = N + K a, the posterior mean mass of a bin q_i = A_i /
        nu and phi_i = psi(A_i + 1) - psi(nu + 2), c = psi_1(nu + 2):
        E[H] = sum_i q_i (psi(nu + 1) - psi(A_i + 1)) (Wolpert & Wolf 1995) and
        E[H^2] = nu / (nu + 1) [(sum_i q_i phi_i)^2 - c - sum_i q_i^2 (phi_i^2 - c)]
        + sum_i q_i (A_i + 1) / (nu + 1) [(phi_i + 1 / (A_i + 1))^2 + psi_1(A_i + 2)
        - c] (Archer, Park & Pillow 2013; sums over bins, written in bounded terms).
        """
        a = np.exp(np.asarray(x, float))[:, None]
        z = self.z_all[None, :]
        A = self.n_all[None, :] + a  # the posterior Dirichlet parameters
        nu = self.N + self.K * a  # = sum z A
        q = A / nu
        mean = np.sum(z * q * (special.digamma(nu + 1) - special.digamma(A + 1)), 1)
        phi = special.digamma(A + 1) - special.digamma(nu + 2)
        c = _trigamma(nu + 2)
        s = np.sum(z * q * phi, 1, keepdims=True)
        same = np.sum(z * q * q * (phi * phi - c), 1, keepdims=True)
        pairs = nu / (nu + 1) * (s * s - c - same)
        psi2 = phi + 1 / (A + 1)  # psi(A + 2) - psi(nu + 2)
        single = np.sum(
            z * q * (A + 1) / (nu + 1) * (psi2 * psi2 + _trigamma(A + 2) - c),
            1,
            keepdims=True,
        )
        second = (pairs + single)[:, 0]
        return mean, np.maximum(second - mean * mean, 0.0)


def _nsb_nats(profile: _Profile) -> tuple[float, float]:
    """H_NSB and its posterior SD in nats (module docstring, steps 1-4)."""
    if profile.K <= 1 or profile.N == 0:
        return 0.0, 0.0
    log_k = math.log(profile.K)
    grid = np.arange(-log_k - _GRID_MARGIN, _GRID_MARGIN + 1.0, 1.0)
    values = profile.log_posterior(grid)
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    found = optimize.minimize_scalar(
        lambda x: -profile.log_posterior(x)[0],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},  # the mode places panels only
    )
    mode, top = float(found.x), float(-found.fun)
    if values[i] > top:
        mode, top = float(grid[i]), float(values[i])

    def scale_and_end(side):
        """The half-width and the end of the integrals on one side of the mode.

        The distance at which the log posterior is 1/2 below its top, and the first
        grid point ``_DROP`` below it (or the grid's last).
        """
        outward = side * (grid - mode) > 0
        points, logs = grid[outward][::side], values[outward][::side]
        if points.size == 0:  # the mode is the grid's end
            return 1.0, mode
        below = np.flatnonzero(logs < top - 0.5)
        if below.size == 0:
            return abs(points[-1] - mode), points[-1]
        half = optimize.brentq(
            lambda x: profile.log_posterior(x)[0] - (top - 0.5),
            *sorted((mode, points[below[0]])),
            xtol=1e-6,  # a panel width: no need for more
        )
        far = np.flatnonzero(logs < top - _DROP)
        end = points[far[0]] if far.size else points[-1]
        return max(abs(half - mode), 1e-12), end

    edges = [mode]
    for side in (-1, 1):
        scale, end = scale_and_end(side)
        for k in range(64):  # widths scale, 2 scale, 4 scale, ... up to the end
            edge = mode + side * scale * (2**k)
            if side * (edge - end) >= 0:
                edges.append(end)
                break
            edges.append(edge)
    edges = np.sort(edges)
    edges = edges[np.concatenate([[True], np.diff(edges) > 0])]
    left, right = edges[:-1, None], edges[1:, None]
    half = (right - left) / 2
    nodes = (left + half * (_NODES[None, :] + 1)).ravel()
    weights = (half * _WEIGHTS[None, :]).ravel()
    w = weights * np.exp(profile.log_posterior(nodes) - top)
    mean, variance = profile.moments(nodes)
    total = np.sum(w)
    h = np.sum(w * mean) / total
    var = np.sum(w * (variance + (mean - h) ** 2)) / total
    return float(h), float(math.sqrt(var))


def _alphabet_float(size, name: str) -> float:
    size = int(size)
    if size.bit_length() > _MAX_LOG2_ALPHABET + 1:
        raise ValueError(
            f"{name} must be at most 2^{_MAX_LOG2_ALPHABET} (a float64), got "
            f"2^{size.bit_length() - 1}: NSB needs the alphabet size"
        )
    return float(size)


# --------------------------------------------------------------------- entropy


def nsb_entropy(
    counts: Integer[ArrayLike, "*batch k"] | Sequence,
    alphabet_size: int,
    *,
    base: float | int = 2.0,
) -> Estimate:
    """NSB entropy estimate from counts over an alphabet of known size.

    H_NSB = int da p(a) p(n | a) E[H | n, a] / int da p(a) p(n | a) with the NSB prior
    p(a) ∝ K psi_1(K a + 1) - psi_1(a + 1) (Nemenman, Shafee & Bialek 2002; the
    module docstring gives the terms); the standard error is the posterior SD
    (Archer, Park & Pillow 2013, eq. 13). Computed on the host in float64.

    Args:
        counts: non-negative integer counts ``(..., k)`` of the observed bins (zeros
            allowed: they are unobserved bins); leading axes are independent samples.
        alphabet_size: K, the number of possible bins (>= k and >= 1), e.g. 2^n for
            the states of n neurons. Bins outside ``counts`` are unobserved.
        base: the logarithm's base (2: bits; e: nats).

    Returns:
        ``Estimate(value, stderr)``, each of shape ``(...)``: the posterior mean and SD.
        With few coincidences (N minus the number of occupied bins) and N << K the
        prior dominates and the SD is large (Nemenman 2011).

    Examples:
        >>> counts = [4, 12, 4, 5, 3, 1, 5, 1, 2, 2, 2, 2, 11, 3, 4, 12, 12, 1, 2]
        >>> h, sd = nsb_entropy(counts, 100, base=math.e)  # ndd's example (nats)
        >>> round(float(h), 4), round(float(sd), 4)
        (2.8061, 0.1195)
    """
    try:
        array = np.asarray(counts)
    except (TypeError, ValueError):
        array = None
    if (
        array is None
        or array.ndim < 1
        or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool)
    ):
        raise TypeError("counts must be an integer array of shape (..., k)")
    if array.size == 0:
        raise ValueError(
            f"counts must hold at least one sample, got shape {array.shape}"
        )
    if array.min() < 0:
        raise ValueError(f"counts must be >= 0, got minimum {array.min()}")
    if isinstance(alphabet_size, (bool, np.bool_)) or not isinstance(
        alphabet_size, (int, np.integer)
    ):
        raise TypeError(f"alphabet_size must be an integer, got {alphabet_size!r}")
    if alphabet_size < max(array.shape[-1], 1):
        raise ValueError(
            f"alphabet_size must be >= the number of bins in counts "
            f"({array.shape[-1]}) and >= 1, got {alphabet_size}"
        )
    if not (isinstance(base, (int, float)) and base > 0 and base != 1):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    K = _alphabet_float(alphabet_size, "alphabet_size")
    flat = array.reshape(-1, array.shape[-1]).astype(np.int64)
    if np.any(flat.sum(1) == 0):
        raise ValueError("counts must hold at least one sample in every row")
    results = []
    for row in flat:
        values, multiplicities = np.unique(row[row > 0], return_counts=True)
        results.append(_nsb_nats(_Profile(values, multiplicities, K)))
    scale = 1 / math.log(base)
    out = np.asarray(results, float).reshape(*array.shape[:-1], 2) * scale
    dtype = jnp.result_type(float)
    return Estimate(jnp.asarray(out[..., 0], dtype), jnp.asarray(out[..., 1], dtype))


def _warn_few_coincidences(caller: str, coincidences: float, what: str) -> None:
    if coincidences >= MIN_COINCIDENCES:
        return
    warnings.warn(
        f"{caller}: {what} holds {int(coincidences)} coincidences (fewer than "
        f"{MIN_COINCIDENCES}: samples minus distinct values); the NSB posterior is then "
        "dominated by its prior. Use fj.flux(net, key) or fj.flux_bounds(net, key, "
        "steps) when the network is known, or record longer",
        UserWarning,
        stacklevel=4,  # the caller of nsb_flux / nsb_flux_stderr
    )


# ------------------------------------------------------------------------ flux


def _profile_of(rows, bits, length):
    """(count values, bins with that count), padded with zeros to ``length``."""
    counts = _row_counts(rows, bits)
    histogram = jnp.bincount(counts, length=rows.shape[0] + 1).at[0].set(0)
    (values,) = jnp.nonzero(histogram, size=length, fill_value=0)
    return jnp.stack([values, histogram[values]]).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("bits", "num_blocks"))
def _flux_profiles(words, bits, num_blocks):
    """Count profiles of x_t, x_{t+1} and (x_t, x_{t+1}) for each trajectory.

    Returns int32 ``(batch, 1 + num_blocks, 3, 2, L)``: sample 0 is the trajectory,
    sample 1 + b the trajectory without block b of the pairs (as
    :func:`fluxjax.plugin_flux_stderr` cuts them). L = floor(sqrt(2 T)) + 1 bounds the
    number of distinct counts (their sum is at most T). Trajectories and samples are
    counted one at a time.
    """
    pairs = words.shape[-2] - 1
    length = math.isqrt(2 * pairs) + 1
    joint_bits = None if bits is None else 2 * bits

    def sample(past, future):
        joint = _joint_rows(past, future, bits)
        return jnp.stack(
            [
                _profile_of(past, bits, length),
                _profile_of(future, bits, length),
                _profile_of(joint, joint_bits, length),
            ]
        )

    def single(words):
        past, future = words[:-1], words[1:]
        full = sample(past, future)[None]
        if not num_blocks:
            return full
        size = pairs // num_blocks
        kept = jnp.arange((num_blocks - 1) * size)

        def leave_out(b):
            rows = jnp.where(kept >= b * size, kept + size, kept)  # without block b
            return sample(past[rows], future[rows])

        return jnp.concatenate([full, jax.lax.map(leave_out, jnp.arange(num_blocks))])

    return jax.lax.map(single, words.reshape(-1, *words.shape[-2:]))


def _prepare(states, num_states, minimum):
    states = jnp.asarray(states)
    words = _as_words(states)
    _check_length(words, minimum)
    if not is_concrete(words):
        raise TypeError(
            "nsb_flux integrates on the host: call it outside jit, grad and vmap"
        )
    if num_states is None:
        if not jnp.issubdtype(states.dtype, jnp.bool_):
            raise ValueError(
                "num_states must be given for integer codes (e.g. 2**n for the codes "
                "of n neurons)"
            )
        num_states = 1 << states.shape[-1]
    elif isinstance(num_states, (bool, np.bool_)) or not isinstance(
        num_states, (int, np.integer)
    ):
        raise TypeError(f"num_states must be an integer, got {num_states!r}")
    num_states = int(num_states)
    if num_states < 1:
        raise ValueError(f"num_states must be >= 1, got {num_states}")
    if not jnp.issubdtype(states.dtype, jnp.bool_) and words.size:
        high = int(jnp.max(words))
        if int(jnp.min(words)) < 0 or high >= num_states:
            raise ValueError(
                f"num_states must exceed every code (codes in [0, num_states)), got "
                f"num_states = {num_states} and a code {high}"
            )
    alphabets = (
        _alphabet_float(num_states, "num_states"),
        _alphabet_float(num_states * num_states, "num_states^2 (pairs)"),
    )
    return words, _symbol_bits(states, words), alphabets


def _flux_samples(caller, words, bits, alphabets, num_blocks):
    """NSB flux in bits of every trajectory and sample, ``(batch, 1 + num_blocks)``."""
    profiles = np.asarray(_flux_profiles(words, bits, num_blocks))
    state_k, pair_k = alphabets
    batch, samples = profiles.shape[:2]
    flux = np.empty((batch, samples))
    fewest = math.inf
    for b in range(batch):
        for s in range(samples):
            h = []
            for term, k in enumerate((state_k, state_k, pair_k)):
                profile = _Profile(*profiles[b, s, term], k)
                h.append(_nsb_nats(profile)[0])
                if s == 0 and term == 2:
                    fewest = min(fewest, profile.N - profile.distinct)
            flux[b, s] = (h[0] + h[1] - h[2]) / _LN2
    _warn_few_coincidences(caller, fewest, "the pairs (x_t, x_{t+1})")
    return flux


def nsb_flux(
    states: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
    *,
    num_states: int | None = None,
) -> Float[Array, "*batch"]:
    """NSB information flux I(x_t; x_{t+1}) from a trajectory, in bits.

    I = H(x_t) + H(x_{t+1}) - H(x_t, x_{t+1}) over the T - 1 successive pairs, each
    entropy by :func:`nsb_entropy` with the alphabet size known (K states, K^2
    pairs; Nemenman, Shafee & Bialek 2002). Less biased than the plug-in while T is
    between about 2^n and 4^n (see the module docstring's list); not differentiable,
    and the integrals run on the host in float64.

    Args:
        states: bool ``(..., T, n)`` or integer codes ``(..., T)``; T >= 8.
        num_states: K, the number of possible states; default 2^n for bool states,
            required for integer codes (codes lie in [0, K)).

    Returns:
        One value per trajectory, shape ``(...)``, JAX's default float.

    Warns:
        UserWarning: when the pairs hold fewer than ``MIN_COINCIDENCES`` coincidences.

    Examples:
        >>> x = jnp.tile(jnp.array([[True], [False]]), (50, 1))  # a clock: 1 bit
        >>> round(float(nsb_flux(x)), 2)
        0.97
    """
    words, bits, alphabets = _prepare(states, num_states, 8)
    flux = _flux_samples("nsb_flux", words, bits, alphabets, 0)[:, 0]
    return jnp.asarray(flux.reshape(words.shape[:-2]), jnp.result_type(float))


def nsb_flux_stderr(
    states: Bool[ArrayLike, "*batch T n"] | Integer[ArrayLike, "*batch T"],
    *,
    num_blocks: int = 20,
    num_states: int | None = None,
) -> Estimate:
    """:func:`nsb_flux` and its delete-one-block jackknife standard error, in bits.

    The T - 1 pairs are cut into ``num_blocks`` contiguous blocks; with theta_b the
    estimate without block b, SE = sqrt((B - 1) / B sum_b (theta_b - mean_b
    theta_b)^2), as :func:`fluxjax.plugin_flux_stderr` (Efron & Stein 1981; Künsch
    1989). It covers sampling noise, not the estimator's bias. Costs 1 + num_blocks
    NSB estimates per trajectory.

    Args:
        states: bool ``(..., T, n)`` or integer codes ``(..., T)``; T >= 8 num_blocks.
        num_blocks: number of jackknife blocks (>= 2).
        num_states: as :func:`nsb_flux`.

    Returns:
        ``Estimate(value, stderr)``, each of shape ``(...)``.

    Warns:
        UserWarning: as :func:`nsb_flux`.

    Examples:
        >>> net = random_network(4, key=jax.random.key(0), weight_scale=3.0)
        >>> flux, stderr = nsb_flux_stderr(simulate(net, jax.random.key(1), 2000))
        >>> flux.shape, bool(stderr > 0)
        ((), True)
    """
    num_blocks = check_int(num_blocks, "num_blocks", minimum=2)
    words, bits, alphabets = _prepare(states, num_states, 8 * num_blocks)
    flux = _flux_samples("nsb_flux_stderr", words, bits, alphabets, num_blocks)
    value, leave_out = flux[:, 0], flux[:, 1:]
    spread = np.sum((leave_out - leave_out.mean(1, keepdims=True)) ** 2, axis=1)
    stderr = np.sqrt((num_blocks - 1) / num_blocks * spread)
    dtype = jnp.result_type(float)
    batch = words.shape[:-2]
    return Estimate(
        jnp.asarray(value.reshape(batch), dtype),
        jnp.asarray(stderr.reshape(batch), dtype),
    )
