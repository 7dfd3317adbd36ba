"""Standard reservoir-computing tasks: memory capacity, NARMA-10 and delayed parity.

Alignment: ``features[t]`` is the reservoir's feature vector after it has received
``inputs[t]``, as in ReservoirPy, where x(t) = f(W x(t - 1) + W_in u(t)). So
features[t] may depend on u(0), ..., u(t), and every target at row t is a function of
those inputs: u(t - k) for the memory capacity, y(t + 1) for NARMA-10 (see
:func:`narma10`), u(t - τ) u(t - τ - 1) u(t - τ - 2) for the parity task.

Rows: a :class:`Split` cuts the T rows of a run into consecutive blocks, in this
order: ``washout`` rows (discarded: the reservoir's transient, and the rows whose
targets would reach before the start), then ``train``, ``validation`` and ``test``
rows. The four lengths must add up to T exactly, so that a split meant for another
run length is caught rather than silently cut.

Readouts: every task fits linear readouts (:mod:`fluxjax.reservoir.readout`) on the
training rows, all delays at once as the columns of one multi-output fit (one SVD).
``ridge=None`` chooses each column's ridge from :data:`~fluxjax.reservoir.RIDGES` by
the validation mean squared error (:func:`~fluxjax.reservoir.fit_ridge_validated`);
a number fixes the ridge for all columns (then ``validation`` may be 0). Scores are
computed on the test rows only.

Each task checks its arguments in Python, then runs as one jitted computation. A
batch of runs on the same inputs, features ``(..., T, m)`` (settings, seeds), is
scored in one call, vmapped: the scores get the same leading axes.
"""

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Real

from .._checks import check_finite, check_int, check_key, is_concrete
from .readout import (
    RIDGES,
    _as_float,
    _fit,
    _fit_validated,
    _plus_minus_one,
)


NARMA_ORDER = 10
"""The order of NARMA-10: :func:`narma10_nrmse` needs this many washout rows."""
NARMA_BOUND = 10.0
"""NARMA-10 targets above this have diverged (bounded series stay below about 1)."""

_LN2 = math.log(2.0)


class Split(NamedTuple):
    """Lengths of the consecutive row blocks of a run (they must add up to T).

    Attributes:
        washout: rows discarded first.
        train: rows the readouts are fitted on (>= 1).
        validation: rows the ridges are chosen on (>= 1 when ``ridge=None``, else
            may be 0).
        test: rows the score is computed on (>= 2).
    """

    washout: int
    train: int
    validation: int
    test: int


class TaskScore(NamedTuple):
    """The score of a task, per delay and in total.

    Attributes:
        per_delay: one score per delay, ``(D,)`` (one entry for NARMA-10).
        total: their sum (for NARMA-10 the single NRMSE), a scalar array.
    """

    per_delay: Float[Array, " D"]
    total: Float[Array, ""]


def _check_num_steps(num_steps) -> int:
    return check_int(num_steps, "num_steps", minimum=1)


def _uniform(key, num_steps, low, high, dtype) -> Array:
    check_key(key)
    num_steps = _check_num_steps(num_steps)
    dtype = jnp.asarray(0.0).dtype if dtype is None else dtype
    return jr.uniform(key, (num_steps,), dtype, minval=low, maxval=high)


def memory_capacity_inputs(
    key: PRNGKeyArray, num_steps: int, *, dtype=None
) -> Float[Array, " T"]:
    """Iid inputs u(t) ~ U[-0.8, 0.8] for :func:`memory_capacity` (as ReservoirPy).

    Args:
        key: PRNG key.
        num_steps: T, the number of steps.
        dtype: floating dtype, default JAX's default float.

    Returns:
        The inputs, ``(T,)``.
    """
    return _uniform(key, num_steps, -0.8, 0.8, dtype)


def narma10_inputs(
    key: PRNGKeyArray, num_steps: int, *, dtype=None
) -> Float[Array, " T"]:
    """Iid inputs u(t) ~ U[0, 0.5] for :func:`narma10` (Atiya & Parlos 2000).

    The NARMA-10 recurrence diverges for rare input sequences (2 in 300 at
    T = 2100, more for longer ones); such a draw is replaced by the next one,
    ``fold_in(key, k)`` for k = 1, 2, ..., until every target stays below
    :data:`NARMA_BOUND`.

    Args:
        key: PRNG key.
        num_steps: T, the number of steps.
        dtype: floating dtype, default JAX's default float.

    Returns:
        The inputs, ``(T,)``.
    """
    inputs = _uniform(key, num_steps, 0.0, 0.5, dtype)
    for attempt in range(1, 1000):
        if float(jnp.max(jnp.abs(_narma10(inputs)))) < NARMA_BOUND:
            return inputs
        inputs = _uniform(jr.fold_in(key, attempt), num_steps, 0.0, 0.5, dtype)
    raise RuntimeError("NARMA-10 diverged for 1000 input draws in a row")


def parity_inputs(
    key: PRNGKeyArray, num_steps: int, *, dtype=None
) -> Float[Array, " T"]:
    """Iid fair bits u(t) in {-1, +1} (as floats) for :func:`parity_bits`.

    Args:
        key: PRNG key.
        num_steps: T, the number of steps.
        dtype: floating dtype, default JAX's default float.

    Returns:
        The inputs, ``(T,)``.
    """
    check_key(key)
    num_steps = _check_num_steps(num_steps)
    dtype = jnp.asarray(0.0).dtype if dtype is None else dtype
    return jr.rademacher(key, (num_steps,), dtype)


def _check_runs(features) -> Array:
    """``features`` as a float array of one run ``(T, m)`` or several ``(..., T, m)``."""
    features = _as_float(features, "features")
    if features.ndim < 2 or 0 in features.shape:
        raise ValueError(
            "features must be a non-empty (T, m) array (or a batch of runs (..., T, "
            f"m)) with T >= 1 rows and m >= 1 features, got shape {features.shape}"
        )
    check_finite(features, "features")
    return features


def _over_runs(score, features: Array) -> TaskScore:
    """``score(run)`` of every ``(T, m)`` run of ``features``, vmapped over the rest."""
    if features.ndim == 2:
        return score(features)
    runs = features.reshape(-1, *features.shape[-2:])
    scores = jax.vmap(score)(runs)
    return jax.tree.map(lambda x: x.reshape(*features.shape[:-2], *x.shape[1:]), scores)


def _check_series(series, name: str, rows: int) -> Array:
    series = _as_float(series, name)
    if series.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series (T,), got shape {series.shape}")
    if series.shape[0] != rows:
        raise ValueError(
            f"features and {name} must have the same number of rows (time steps), "
            f"got {rows} and {series.shape[0]}"
        )
    check_finite(series, name)
    return series


def _check_split(split, rows: int, ridge, min_washout: int, why: str) -> Split:
    if not isinstance(split, tuple) or len(split) != 4:
        raise TypeError(
            f"split must be a Split(washout, train, validation, test), got {split!r}"
        )
    split = Split(
        *(
            check_int(v, f"split.{f}", minimum=0)
            for v, f in zip(split, Split._fields, strict=True)
        )
    )
    total = sum(split)
    if total != rows:
        raise ValueError(
            f"split washout + train + validation + test = {total} must equal the "
            f"run's {rows} steps (rows of features)"
        )
    if split.train < 1:
        raise ValueError("split.train must be >= 1 (the readouts need training rows)")
    if split.test < 2:
        raise ValueError(
            f"split.test must be >= 2 (the score needs test rows), got {split.test}"
        )
    if ridge is None and split.validation < 1:
        raise ValueError(
            "split.validation must be >= 1 when ridge=None (the ridge is chosen on "
            "the validation rows); give a ridge to fit without validation"
        )
    if split.washout < min_washout:
        raise ValueError(
            f"split.washout must be >= {min_washout} ({why}), got {split.washout}"
        )
    return split


def _check_task_ridge(ridge, dtype) -> Array | None:
    if ridge is None:
        return None
    ridge = _as_float(ridge, "ridge", dtype)
    if ridge.ndim != 0:
        raise ValueError(f"ridge must be None or a number, got shape {ridge.shape}")
    check_finite(ridge, "ridge", nonnegative=True)
    return ridge


def _fit_and_predict(features, targets, split: Split, ridge, classify=False):
    """The readout's outputs and the targets on the test rows.

    The readout is fitted on the train rows (``ridge=None``: validated); the rows of
    ``targets`` start at the first row after the washout.
    """
    x = features[split.washout :]
    train = slice(0, split.train)
    validation = slice(split.train, split.train + split.validation)
    test = slice(split.train + split.validation, None)
    if classify:
        targets = _plus_minus_one(targets, x.dtype)
    if ridge is None:
        readout = _fit_validated(
            x[train], targets[train], x[validation], targets[validation], RIDGES
        )
    else:
        readout = _fit(x[train], targets[train], ridge)
    return readout(x[test]), targets[test]


def _delayed(series: Array, start: int, delays: np.ndarray) -> Array:
    """``out[i, j] = series[start + i - delays[j]]`` for rows start, ..., T - 1."""
    rows = np.arange(start, series.shape[0])
    return series[rows[:, None] - delays[None, :]]


def _squared_correlation(prediction: Array, target: Array) -> Array:
    """Squared Pearson correlation of each column; 0 where one of them is constant."""
    p = prediction - prediction.mean(0)
    y = target - target.mean(0)
    covariance = jnp.sum(p * y, 0)
    variances = jnp.sum(p * p, 0) * jnp.sum(y * y, 0)
    positive = variances > 0
    return jnp.where(positive, covariance**2 / jnp.where(positive, variances, 1.0), 0.0)


@eqx.filter_jit
def _memory_capacity(features, inputs, split, max_delay, ridge):
    targets = _delayed(inputs, split.washout, np.arange(1, max_delay + 1))

    def score(run):
        prediction, target = _fit_and_predict(run, targets, split, ridge)
        per_delay = _squared_correlation(prediction, target)
        return TaskScore(per_delay, per_delay.sum())

    return _over_runs(score, features)


def memory_capacity(
    features: Real[ArrayLike, "*runs T m"] | Bool[ArrayLike, "*runs T m"],
    inputs: Real[ArrayLike, " _T"],
    split: Split | tuple[int, int, int, int],
    *,
    max_delay: int,
    ridge: Real[ArrayLike, ""] | None = None,
) -> TaskScore:
    """Linear memory capacity MC = sum_k MC_k (Jaeger 2001).

    For each delay k = 1, ..., ``max_delay`` a ridge readout y_k(t) ≈ u(t - k) of the
    features is fitted on the train rows; MC_k is the squared Pearson correlation of
    y_k(t) and u(t - k) over the test rows (0 if the prediction is constant), so
    0 <= MC_k <= 1, and for iid inputs MC <= m, the number of features (Dambre et
    al. 2012). All delays are the outputs of one ridge fit.

    Args:
        features: ``(T, m)`` features, row t after input t (module docstring), or a
            batch of runs ``(..., T, m)`` on the same inputs.
        inputs: ``(T,)`` the inputs u(t) (iid, e.g. :func:`memory_capacity_inputs`).
        split: the row blocks; ``washout >= max_delay`` so that every target u(t - k)
            is an input of the run.
        max_delay: the largest delay, >= 1.
        ridge: None (each delay's ridge chosen on the validation rows) or a fixed
            ridge >= 0.

    Returns:
        ``TaskScore(per_delay, total)``: per_delay[k - 1] = MC_k, total = MC.

    References:
        H. Jaeger (2001), Short term memory in echo state networks, GMD Report 152.
        J. Dambre et al. (2012), Information processing capacity of dynamical
        systems, Sci. Rep. 2:514.

    Examples:
        >>> from fluxjax.reservoir import Split, memory_capacity, memory_capacity_inputs
        >>> u = memory_capacity_inputs(jax.random.key(0), 1000)
        >>> line = jnp.stack([u, jnp.roll(u, 1), jnp.roll(u, 2)], 1)  # u(t), u(t-1), ...
        >>> split = Split(washout=10, train=600, validation=0, test=390)
        >>> score = memory_capacity(line, u, split, max_delay=4, ridge=1e-6)
        >>> [round(float(v), 1) for v in score.per_delay]
        [1.0, 1.0, 0.0, 0.0]
    """
    max_delay = check_int(max_delay, "max_delay", minimum=1)
    features = _check_runs(features)
    inputs = _check_series(inputs, "inputs", features.shape[-2]).astype(features.dtype)
    split = _check_split(
        split,
        features.shape[-2],
        ridge,
        max_delay,
        "the targets u(t - k), k <= max_delay, of the first training row must be "
        "inputs of the run",
    )
    ridge = _check_task_ridge(ridge, features.dtype)
    return _memory_capacity(features, inputs, split, max_delay, ridge)


@jax.jit
def _narma10(inputs):
    def step(carry, u):
        y_past, u_past = carry  # y(t), ..., y(t - 9) and u(t - 1), ..., u(t - 10)
        u_past = jnp.concatenate([u[None], u_past[:-1]])  # u(t), ..., u(t - 9)
        y = y_past[0]
        # y(t + 1) = 0.3 y(t) + 0.05 y(t) sum_i y(t - i) + 1.5 u(t - 9) u(t) + 0.1
        y_next = 0.3 * y + 0.05 * y * jnp.sum(y_past) + 1.5 * u_past[-1] * u + 0.1
        return (jnp.concatenate([y_next[None], y_past[:-1]]), u_past), y_next

    zeros = jnp.zeros(NARMA_ORDER, inputs.dtype)
    return jax.lax.scan(step, (zeros, zeros), inputs)[1]


def narma10(inputs: Real[ArrayLike, " T"]) -> Float[Array, " T"]:
    """The NARMA-10 targets of an input series (Atiya & Parlos 2000).

    y(t + 1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t - i) + 1.5 u(t - 9) u(t) + 0.1,

    starting from rest: y(t) = 0 for t <= 0 and u(t) = 0 for t < 0. Returns
    ``targets[t] = y(t + 1)``, the value that the inputs u(0), ..., u(t) determine, so
    that ``features[t]`` predicts ``targets[t]`` (module docstring). The first 9
    targets use the zero inputs before the start; :func:`narma10_nrmse` discards at
    least 10 rows. With u ~ U[0, 0.5] (:func:`narma10_inputs`) y stays near 0.2-0.8
    for almost all draws, though the recurrence can diverge for rare ones.

    ReservoirPy's ``datasets.narma(n, order=10, a1=0.3, a2=0.05, b=1.5, c=0.1)``
    computes the same kind of series with other indexing: its sum runs over
    y(t - 10), ..., y(t - 1) and its product is u(t - 10) u(t) (tests/
    test_reservoir_tasks.py shows that this is the only difference).

    Args:
        inputs: ``(T,)`` inputs u(t) (floats; integers become JAX's default float).

    Returns:
        ``(T,)`` targets, in the dtype of ``inputs``.

    References:
        A. F. Atiya and A. G. Parlos (2000), New results on recurrent network
        training, IEEE Trans. Neural Netw. 11(3):697-709.

    Examples:
        >>> from fluxjax.reservoir import narma10
        >>> y = narma10(jnp.full(3, 0.5))  # u(t - 9) = 0 here: 0.1, then 0.3 y + ...
        >>> [round(float(v), 5) for v in y]
        [0.1, 0.1305, 0.14065]
    """
    inputs = _as_float(inputs, "inputs")
    if inputs.ndim != 1 or inputs.shape[0] < 1:
        raise ValueError(
            f"inputs must be a 1-D series (T,) with T >= 1, got shape {inputs.shape}"
        )
    check_finite(inputs, "inputs")
    targets = _narma10(inputs)
    largest = jnp.max(jnp.abs(targets))
    if is_concrete(largest) and not float(largest) < NARMA_BOUND:
        raise ValueError(
            "the NARMA-10 recurrence diverged for these inputs (it does for rare "
            f"draws: a target reached {float(largest):.3g} > NARMA_BOUND = "
            f"{NARMA_BOUND:g}); draw them with narma10_inputs, which replaces such "
            "draws"
        )
    return targets


def _nrmse(prediction: Array, target: Array) -> Array:
    """RMSE / std(target) (population std); inf if the target is constant."""
    rmse = jnp.sqrt(jnp.mean((prediction - target) ** 2))
    std = jnp.std(target)
    return jnp.where(std > 0, rmse / jnp.where(std > 0, std, 1.0), jnp.inf)


@eqx.filter_jit
def _narma10_nrmse(features, targets, split, ridge):
    def score(run):
        prediction, target = _fit_and_predict(
            run, targets[split.washout :, None], split, ridge
        )
        nrmse = _nrmse(prediction, target)
        return TaskScore(nrmse[None], nrmse)

    return _over_runs(score, features)


def narma10_nrmse(
    features: Real[ArrayLike, "*runs T m"] | Bool[ArrayLike, "*runs T m"],
    targets: Real[ArrayLike, " _T"],
    split: Split | tuple[int, int, int, int],
    *,
    ridge: Real[ArrayLike, ""] | None = None,
) -> TaskScore:
    """NARMA-10 error NRMSE = RMSE / std(y) of a ridge readout on the test rows.

    A ridge readout of the features is fitted to the targets on the train rows;
    RMSE = sqrt(mean_t (ŷ(t) - y(t))²) and std(y) (population standard deviation)
    are taken over the test rows. NRMSE = 1 is the error of predicting the test
    mean; 0 is perfect.

    Args:
        features: ``(T, m)`` features, row t after input t (module docstring), or a
            batch of runs ``(..., T, m)`` on the same inputs.
        targets: ``(T,)`` targets aligned with the features, e.g.
            ``narma10(inputs)`` (targets[t] = y(t + 1)).
        split: the row blocks; ``washout >= 10`` (:data:`NARMA_ORDER`: the first
            targets of :func:`narma10` involve the zero inputs assumed before the
            start). The reservoir's own transient usually needs more.
        ridge: None (chosen on the validation rows) or a fixed ridge >= 0.

    Returns:
        ``TaskScore(per_delay, total)``: per_delay holds the one NRMSE, total = it.

    References:
        A. F. Atiya and A. G. Parlos (2000), IEEE Trans. Neural Netw. 11(3):697-709.
    """
    features = _check_runs(features)
    targets = _check_series(targets, "targets", features.shape[-2]).astype(
        features.dtype
    )
    split = _check_split(
        split,
        features.shape[-2],
        ridge,
        NARMA_ORDER,
        "the first NARMA-10 targets involve the zero inputs before the start",
    )
    ridge = _check_task_ridge(ridge, features.dtype)
    return _narma10_nrmse(features, targets, split, ridge)


def _binary_information(a: Array, b: Array, dtype) -> Array:
    """Plug-in mutual information (bits) of the bool columns of ``a`` and ``b``.

    I = H(a) + H(b) - H(a, b) of the empirical 2 x 2 table of each column pair,
    computed in ``dtype``.
    """
    a, b = a.astype(jnp.int32), b.astype(jnp.int32)
    cells = 2 * a + b  # (R, k) codes 0..3
    joint = jnp.stack([jnp.mean(cells == c, 0, dtype=dtype) for c in range(4)], -1)
    joint = joint.reshape(*joint.shape[:-1], 2, 2)  # [.., a, b]
    entropy = jax.scipy.special.entr
    information = (
        entropy(joint.sum(-1)).sum(-1)
        + entropy(joint.sum(-2)).sum(-1)
        - entropy(joint).sum((-2, -1))
    )
    return jnp.maximum(information, 0.0) / _LN2


@eqx.filter_jit
def _parity_bits(features, inputs, split, max_delay, ridge):
    delays = np.arange(max_delay + 1)
    targets = (
        _delayed(inputs, split.washout, delays)
        * _delayed(inputs, split.washout, delays + 1)
        * _delayed(inputs, split.washout, delays + 2)
    )

    def score(run):
        decision, target = _fit_and_predict(run, targets, split, ridge, classify=True)
        per_delay = _binary_information(target > 0, decision > 0, features.dtype)
        return TaskScore(per_delay, per_delay.sum())

    return _over_runs(score, features)


def parity_bits(
    features: Real[ArrayLike, "*runs T m"] | Bool[ArrayLike, "*runs T m"],
    inputs: Real[ArrayLike, " _T"],
    split: Split | tuple[int, int, int, int],
    *,
    max_delay: int,
    ridge: Real[ArrayLike, ""] | None = None,
) -> TaskScore:
    """Delayed 3-bit parity: information (bits) a linear classifier recovers per delay.

    For τ = 0, ..., ``max_delay`` the target is z_τ(t) = u(t - τ) u(t - τ - 1)
    u(t - τ - 2) for inputs u in {-1, +1} (Bertschinger & Natschläger 2004). A
    ridge classifier of the features (:func:`~fluxjax.reservoir.fit_classifier`) is
    fitted on the train rows; the score per delay is the plug-in mutual information
    I(z_τ; ẑ_τ) in bits of the 2 x 2 table of target and prediction over the test
    rows (at most 1 bit for fair bits). Plug-in bias: about + 1 / (2 R ln 2) bits
    for R test rows when target and prediction are independent (Miller 1955).

    A linear classifier cannot compute the parity of raw input bits: the best
    halfspace agrees with a 3-bit parity on 6 of its 8 patterns, I <= 1 - H(3/4) =
    0.19 bits. The features must hold the product nonlinearly. The score of
    memory-only features (the raw delayed bits) is nevertheless not zero: their
    fitted weights are sampling noise of order T^(-1/2), but the prediction depends
    only on the weights' direction, which does not shrink with T, and on the three
    bits of the target (weights from their sample autocorrelations, two of them
    nearly equal) it is often majority-like. Measured: about 0.01-0.02 bits per
    delay on average over seeds, up to 0.16, with 2 000 or 20 000 training rows.
    Compare reservoirs against that baseline.

    Args:
        features: ``(T, m)`` features, row t after input t (module docstring), or a
            batch of runs ``(..., T, m)`` on the same inputs.
        inputs: ``(T,)`` inputs in {-1, +1} (e.g. :func:`parity_inputs`).
        split: the row blocks; ``washout >= max_delay + 2`` so that every target is a
            product of inputs of the run.
        max_delay: the largest delay τ, >= 0.
        ridge: None (each delay's ridge chosen on the validation rows by the mean
            squared error of the ±1 regression) or a fixed ridge >= 0.

    Returns:
        ``TaskScore(per_delay, total)``: per_delay[τ] = I(z_τ; ẑ_τ) in bits, total
        their sum.

    References:
        N. Bertschinger and T. Natschläger (2004), Real-time computation at the edge
        of chaos in recurrent neural networks, Neural Comput. 16:1413-1436.
    """
    max_delay = check_int(max_delay, "max_delay", minimum=0)
    features = _check_runs(features)
    inputs = _check_series(inputs, "inputs", features.shape[-2]).astype(features.dtype)
    if is_concrete(inputs) and not np.all(np.abs(np.asarray(inputs)) == 1):
        raise ValueError("inputs must be -1 or +1 (e.g. from parity_inputs)")
    split = _check_split(
        split,
        features.shape[-2],
        ridge,
        max_delay + 2,
        "the targets u(t - τ) u(t - τ - 1) u(t - τ - 2), τ <= max_delay, of the "
        "first training row must be inputs of the run",
    )
    ridge = _check_task_ridge(ridge, features.dtype)
    return _parity_bits(features, inputs, split, max_delay, ridge)
