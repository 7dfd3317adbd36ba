"""Reservoir readouts and tasks against independent references.

References: scikit-learn's ``Ridge`` and ``RidgeClassifier`` (coefficients, intercepts,
predictions; a brute-force loop of fits for the validated ridges), plain loops of the
NARMA-10 recurrence, ReservoirPy's ``narma`` and ``memory_capacity``, and toy feature
sets whose scores are known exactly (a delay line, random linear mixtures of delays,
the parity itself), with tolerances derived from the number of test rows.
"""

import copy
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.metrics import mutual_info_score

from fluxjax.reservoir import (
    NARMA_ORDER,
    RIDGES,
    Split,
    fit_classifier,
    fit_classifier_validated,
    fit_ridge,
    fit_ridge_validated,
    memory_capacity,
    memory_capacity_inputs,
    narma10,
    narma10_inputs,
    narma10_nrmse,
    parity_bits,
    parity_inputs,
)


def binary_like_features(rng, rows, cols=8):
    """0/1 features with a duplicated, a complementary and a constant column, plus one
    continuous column: the rank deficiencies of binary reservoir states."""
    x = (rng.random((rows, cols)) < 0.4).astype(float)
    x[:, 1] = x[:, 0]  # duplicated
    x[:, 2] = 1.0 - x[:, 0]  # complementary: collinear with the intercept
    x[:, 3] = 1.0  # constant
    x[:, 4] = rng.normal(size=rows)
    return x


def assert_close_to_sklearn(readout, model, x, rtol=1e-6):
    coef = np.atleast_2d(model.coef_)  # (k, m); (m,) for one output
    scale = np.abs(coef).max()
    np.testing.assert_allclose(readout.weights.T, coef, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(
        readout.bias, np.ravel(model.intercept_), rtol=rtol, atol=rtol * scale
    )
    prediction = model.predict(x).reshape(x.shape[0], -1)
    np.testing.assert_allclose(
        readout(x), prediction, rtol=rtol, atol=rtol * np.abs(prediction).max()
    )


# ----------------------------------------------------------------------- readout


@pytest.mark.float64
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 30.0])
def test_fit_ridge_equals_sklearn_ridge(alpha):
    rng = np.random.default_rng(0)
    x = binary_like_features(rng, 150)
    y = x @ rng.normal(size=(8, 3)) + rng.normal(size=(150, 3))
    readout = fit_ridge(x, y, alpha)
    assert readout.weights.shape == (8, 3) and readout.weights.dtype == jnp.float64
    np.testing.assert_array_equal(readout.ridge, [alpha] * 3)
    assert_close_to_sklearn(readout, Ridge(alpha=alpha).fit(x, y), x)
    # 1-D targets: k = 1
    one = fit_ridge(x, y[:, 0], alpha)
    assert one.weights.shape == (8, 1) and one(x).shape == (150, 1)
    assert_close_to_sklearn(one, Ridge(alpha=alpha).fit(x, y[:, 0]), x)
    # collinear columns share their weight, the constant one gets none
    np.testing.assert_allclose(readout.weights[0], readout.weights[1], rtol=1e-9)
    np.testing.assert_allclose(readout.weights[3], 0.0, atol=1e-12)


@pytest.mark.float64
def test_fit_ridge_with_one_ridge_per_output_equals_sklearn():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 30))  # few rows: the ridge matters
    y = rng.normal(size=(40, 3))
    alphas = np.array([1e-2, 1.0, 100.0])
    readout = fit_ridge(x, y, alphas)
    np.testing.assert_array_equal(readout.ridge, alphas)
    assert_close_to_sklearn(readout, Ridge(alpha=alphas).fit(x, y), x)


@pytest.mark.float64
def test_fit_ridge_with_zero_ridge_is_least_squares():
    rng = np.random.default_rng(2)
    x = binary_like_features(rng, 100)
    y = rng.normal(size=100)
    readout = fit_ridge(x, y, 0.0)
    design = np.column_stack([x, np.ones(100)])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(readout(x)[:, 0], design @ coef, rtol=1e-9)


def split_data(rng, rows=(60, 40), cols=20, outputs=5):
    """Train and validation rows whose outputs have different noise levels, so that
    the best ridge differs between columns."""
    x = rng.normal(size=(sum(rows), cols))
    w = rng.normal(size=(cols, outputs)) * np.array([1.0, 0.3, 0.1, 0.03, 0.0])
    y = x @ w + rng.normal(size=(sum(rows), outputs)) * np.linspace(0.1, 2.0, outputs)
    return x[: rows[0]], y[: rows[0]], x[rows[0] :], y[rows[0] :]


@pytest.mark.float64
def test_fit_ridge_validated_equals_brute_force_sklearn():
    rng = np.random.default_rng(3)
    x, y, xv, yv = split_data(rng)
    readout = fit_ridge_validated(x, y, xv, yv)
    errors = np.array(
        [
            np.mean((Ridge(alpha=a).fit(x, y).predict(xv) - yv) ** 2, axis=0)
            for a in RIDGES
        ]
    )  # (ridges, outputs)
    chosen = np.asarray(RIDGES)[np.argmin(errors, axis=0)]
    assert len(set(chosen)) > 1  # the columns really choose differently
    np.testing.assert_array_equal(readout.ridge, chosen)
    assert_close_to_sklearn(readout, Ridge(alpha=chosen).fit(x, y), x)
    # a custom grid and 1-D targets
    one = fit_ridge_validated(x, y[:, 2], xv, yv[:, 2], ridges=[0.5, 5.0, 50.0])
    errors = [
        np.mean((Ridge(alpha=a).fit(x, y[:, 2]).predict(xv) - yv[:, 2]) ** 2)
        for a in (0.5, 5.0, 50.0)
    ]
    assert float(one.ridge[0]) == [0.5, 5.0, 50.0][int(np.argmin(errors))]


@pytest.mark.float64
@pytest.mark.parametrize("encoding", ["bool", "01", "pm1"])
def test_fit_classifier_equals_sklearn_ridge_classifier(encoding):
    rng = np.random.default_rng(4)
    x = binary_like_features(rng, 120)
    positive = x @ rng.normal(size=8) + rng.normal(size=120) > 0.2
    labels = {"bool": positive, "01": positive.astype(int), "pm1": 2.0 * positive - 1}
    labels = labels[encoding]
    classifier = fit_classifier(x, labels, 2.0)
    model = RidgeClassifier(alpha=2.0).fit(x, labels)
    assert_close_to_sklearn(
        classifier.readout, _DecisionOf(model), x
    )  # the ±1 regression
    np.testing.assert_array_equal(classifier(x)[:, 0], model.predict(x) > 0)


class _DecisionOf:
    """A RidgeClassifier seen as the regression whose prediction is its decision."""

    def __init__(self, model):
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        self.predict = model.decision_function


@pytest.mark.float64
def test_fit_classifier_of_several_labels_equals_sklearn_multilabel():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(100, 6))
    labels = x[:, :3] + 0.5 * rng.normal(size=(100, 3)) > 0
    classifier = fit_classifier(x, labels, 0.5)
    model = RidgeClassifier(alpha=0.5).fit(x, labels.astype(int))
    assert_close_to_sklearn(classifier.readout, _DecisionOf(model), x)
    np.testing.assert_array_equal(classifier(x), model.predict(x).astype(bool))


@pytest.mark.float64
def test_fit_classifier_validated_picks_the_ridge_by_pm1_mse():
    rng = np.random.default_rng(6)
    x, y, xv, yv = split_data(rng)
    labels, validation_labels = y > 0, yv > 0
    classifier = fit_classifier_validated(x, labels, xv, validation_labels)
    for j in range(labels.shape[1]):
        errors = [
            np.mean(
                (
                    RidgeClassifier(alpha=a).fit(x, labels[:, j]).decision_function(xv)
                    - (2.0 * validation_labels[:, j] - 1)
                )
                ** 2
            )
            for a in RIDGES
        ]
        alpha = RIDGES[int(np.argmin(errors))]
        assert float(classifier.readout.ridge[j]) == alpha
        model = RidgeClassifier(alpha=alpha).fit(x, labels[:, j])
        np.testing.assert_allclose(
            classifier.decision(xv)[:, j], model.decision_function(xv), rtol=1e-6
        )


def test_readout_keeps_float32_and_matches_float64_sklearn():
    """The suite's float32: outputs stay float32 and agree with sklearn's float64 fit
    to float32 rounding amplified by the conditioning (|W| ~ 1, cond ~ 10^2)."""
    rng = np.random.default_rng(7)
    x = binary_like_features(rng, 200)
    y = x @ rng.normal(size=(8, 2)) + rng.normal(size=(200, 2))
    readout = fit_ridge(x.astype(np.float32), y.astype(np.float32), 1.0)
    assert readout.weights.dtype == readout.bias.dtype == readout.ridge.dtype
    assert readout.weights.dtype == jnp.float32
    assert readout(x.astype(np.float32)).dtype == jnp.float32
    assert_close_to_sklearn(readout, Ridge(alpha=1.0).fit(x, y), x, rtol=1e-4)
    classifier = fit_classifier_validated(x[:150], y[:150] > 0, x[150:], y[150:] > 0)
    assert classifier(x).dtype == jnp.bool_
    assert classifier.readout.weights.dtype == jnp.float32


@pytest.mark.parametrize("rows", [150, 5000])
def test_float32_tiny_ridge_gives_collinear_columns_no_weight(rows):
    """Duplicated, summed and constant 0/1 columns with ridge 1e-6 in float32: the
    null directions of X_c must get no weight (their rounding-level singular values,
    which grow with T for a one-pass mean, would get s / ridge). Compared with
    sklearn's float64 fit: float32 rounding times the conditioning of the real
    directions (~10), 1e-4 relative with room to spare."""
    rng = np.random.default_rng(24)
    x = binary_like_features(rng, rows, 30)
    x[:, 5] = x[:, 6] + x[:, 7]  # a sum of two columns
    y = x @ rng.normal(size=(30, 2)) + rng.normal(size=(rows, 2))
    readout = fit_ridge(x.astype(np.float32), y.astype(np.float32), 1e-6)
    assert_close_to_sklearn(readout, Ridge(alpha=1e-6).fit(x, y), x, rtol=1e-4)
    scale = float(np.abs(readout.weights).max())
    assert float(np.abs(readout.weights[3]).max()) < 1e-5 * scale  # constant column


@pytest.mark.float64
def test_readouts_run_under_jit():
    rng = np.random.default_rng(8)
    x, y, xv, yv = split_data(rng)
    eager = fit_ridge(x, y, 0.3)
    jitted = jax.jit(fit_ridge)(x, y, 0.3)
    np.testing.assert_allclose(jitted.weights, eager.weights, rtol=1e-12)
    validated = jax.jit(fit_ridge_validated)(x, y, xv, yv)
    np.testing.assert_array_equal(
        validated.ridge, fit_ridge_validated(x, y, xv, yv).ridge
    )
    classifier = jax.jit(fit_classifier)(x, y > 0, 0.3)
    np.testing.assert_array_equal(classifier(x), fit_classifier(x, y > 0, 0.3)(x))


def test_readout_rejects_bad_input():
    x, y = np.ones((10, 3)), np.ones(10)
    with pytest.raises(
        ValueError, match="targets must have one row per row of features"
    ):
        fit_ridge(x, np.ones(9), 1.0)
    with pytest.raises(ValueError, match="features must be a non-empty"):
        fit_ridge(np.ones((0, 3)), np.ones(0), 1.0)
    with pytest.raises(ValueError, match="features must be a non-empty"):
        fit_ridge(np.ones((10, 0)), y, 1.0)
    with pytest.raises(ValueError, match="features must be finite"):
        fit_ridge(np.where(np.eye(10, 3), np.nan, 1.0), y, 1.0)
    with pytest.raises(ValueError, match="targets must be finite"):
        fit_ridge(x, np.full(10, np.inf), 1.0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        fit_ridge(x, y, -1.0)
    with pytest.raises(
        ValueError, match=r"ridge must be a scalar or have shape \(1,\)"
    ):
        fit_ridge(x, y, np.ones(2))
    with pytest.raises(
        ValueError, match="validation_features must have as many features"
    ):
        fit_ridge_validated(x, y, np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="validation_targets must have one row"):
        fit_ridge_validated(x, y, np.ones((5, 3)), np.ones(4))
    with pytest.raises(ValueError, match="validation_features must be a non-empty"):
        fit_ridge_validated(x, y, np.ones((0, 3)), np.ones(0))
    with pytest.raises(ValueError, match="ridges must be >= 0"):
        fit_ridge_validated(x, y, x, y, ridges=[1.0, -1.0])
    with pytest.raises(ValueError, match="ridges must be a non-empty"):
        fit_ridge_validated(x, y, x, y, ridges=np.ones(0))
    with pytest.raises(ValueError, match="labels must be bool or take values in"):
        fit_classifier(x, np.arange(10) % 3, 1.0)
    with pytest.raises(
        ValueError, match="labels must have one row per row of features"
    ):
        fit_classifier(x, np.ones(9, bool), 1.0)
    with pytest.raises(ValueError, match="validation_labels must be bool or"):
        fit_classifier_validated(x, y > 0, x, np.full(10, 2))


# ------------------------------------------------------------------ input series


@pytest.mark.float64
def test_input_generators_draw_their_documented_distributions(getkey):
    key, n = getkey(), 20_000
    for draw, low, high in [
        (memory_capacity_inputs, -0.8, 0.8),
        (narma10_inputs, 0.0, 0.5),
    ]:
        u = draw(key, n)
        assert u.shape == (n,) and u.dtype == jnp.float64
        assert low <= float(u.min()) and float(u.max()) <= high
        # U[low, high]: mean (low + high) / 2, SD of the mean (high - low) / sqrt(12 n)
        assert abs(float(u.mean()) - (low + high) / 2) < 5 * (high - low) / math.sqrt(
            12 * n
        )
        np.testing.assert_array_equal(draw(key, n), u)  # a pure function of the key
    bits = parity_inputs(key, n)
    assert set(np.unique(bits).tolist()) == {-1.0, 1.0}
    assert abs(float(bits.mean())) < 5 / math.sqrt(n)
    assert parity_inputs(key, 10, dtype=jnp.float32).dtype == jnp.float32
    with pytest.raises(ValueError, match="num_steps"):
        parity_inputs(key, 0)


# -------------------------------------------------------------------- NARMA-10


def narma10_textbook(u):
    """y(t + 1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t - i) + 1.5 u(t - 9) u(t) + 0.1,
    y(t) = 0 for t <= 0 and u(t) = 0 for t < 0; returns [y(1), ..., y(T)]."""
    y = {t: 0.0 for t in range(-9, 1)}
    inputs = {t: 0.0 for t in range(-9, 0)} | dict(enumerate(u))
    for t in range(len(u)):
        y[t + 1] = (
            0.3 * y[t]
            + 0.05 * y[t] * sum(y[t - i] for i in range(10))
            + 1.5 * inputs[t - 9] * inputs[t]
            + 0.1
        )
    return np.array([y[t + 1] for t in range(len(u))])


def narma_loop(n, u, textbook, order=10, a1=0.3, a2=0.05, b=1.5, c=0.1):
    """ReservoirPy's loop (reservoirpy/datasets/_chaos.py, ``narma``), with its
    indexing or with the textbook one: u has n + order steps, y starts at zero."""
    y = np.zeros((n + order, 1))
    for t in range(order, n + order - 1):
        if textbook:  # y(t) ... y(t - 9) and u(t - 9)
            y[t + 1] = (
                a1 * y[t]
                + a2 * y[t] * np.sum(y[t - order + 1 : t + 1])
                + b * u[t - order + 1] * u[t]
                + c
            )
        else:  # ReservoirPy: y(t - 10) ... y(t - 1) and u(t - 10)
            y[t + 1] = (
                a1 * y[t]
                + a2 * y[t] * np.sum(y[t - order : t])
                + b * u[t - order] * u[t]
                + c
            )
    return u, y[order:]


@pytest.mark.float64
def test_narma10_equals_the_textbook_recurrence():
    u = np.random.default_rng(9).uniform(0, 0.5, 400)
    targets = narma10(u)
    assert targets.dtype == jnp.float64 and targets.shape == (400,)
    np.testing.assert_allclose(targets, narma10_textbook(u), rtol=1e-13)
    assert narma10(u.astype(np.float32)).dtype == jnp.float32


@pytest.mark.float64
def test_narma10_differs_from_reservoirpy_only_by_indexing():
    """ReservoirPy's ``narma(n, order=10, a1=0.3, a2=0.05, b=1.5, c=0.1, u=u)`` is the
    loop ``y[t+1] = a1 y[t] + a2 y[t] sum(y[t-10:t]) + b u[t-10] u[t] + c`` for
    t = 10, ..., n + 8 on zeros, returning ``u, y[10:]``: its sum leaves out y[t]
    (and includes y[t-10]) and its product uses u[t-10], one step further back than
    the textbook's y(t) + ... + y(t-9) and u(t-9). The same loop with the textbook
    indexing, fed [0] * 10 + v, is our narma10(v) shifted by one step (its y[10] is
    the initial y(0) = 0, then y(1), y(2), ...), so the only difference between the
    two is that indexing."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    n = 500
    u = np.random.default_rng(10).uniform(0, 0.5, (n + 10, 1))
    rpy_u, rpy_y = datasets.narma(n, order=10, a1=0.3, a2=0.05, b=1.5, c=0.1, u=u)
    loop_u, loop_y = narma_loop(n, u, textbook=False)
    np.testing.assert_array_equal(loop_y, rpy_y)  # the loop is ReservoirPy's, exactly
    np.testing.assert_array_equal(loop_u, rpy_u)
    v = u[10:, 0]
    _, textbook_y = narma_loop(n, np.concatenate([np.zeros((10, 1)), u[10:]]), True)
    assert textbook_y[0, 0] == 0.0
    np.testing.assert_allclose(textbook_y[1:, 0], narma10(v)[:-1], rtol=1e-13)
    # and the indexing does matter: the two series differ
    assert np.max(np.abs(rpy_y[1:, 0] - textbook_y[1:, 0])) > 1e-3


# ------------------------------------------------------------- memory capacity


def sklearn_memory_capacity(features, inputs, split, max_delay, alpha=None):
    """MC_k by sklearn Ridge on the train rows (alpha None: the ridge of RIDGES with
    the smallest validation MSE) and np.corrcoef on the test rows."""
    w, tr, va, te = split
    rows = np.arange(w, len(inputs))
    x = features[rows]
    out = []
    for k in range(1, max_delay + 1):
        y = inputs[rows - k]
        fit = slice(0, tr)
        val, test = slice(tr, tr + va), slice(tr + va, None)
        a = alpha
        if a is None:
            errors = [
                np.mean(
                    (Ridge(alpha=r).fit(x[fit], y[fit]).predict(x[val]) - y[val]) ** 2
                )
                for r in RIDGES
            ]
            a = RIDGES[int(np.argmin(errors))]
        prediction = Ridge(alpha=a).fit(x[fit], y[fit]).predict(x[test])
        out.append(np.corrcoef(prediction, y[test])[0, 1] ** 2)
    return np.array(out)


def tanh_features(inputs, lags, width, gain, seed):
    """tanh of random mixtures of the inputs u(t), ..., u(t - lags + 1)."""
    rng = np.random.default_rng(seed)
    padded = np.concatenate([np.zeros(lags - 1), inputs])
    window = np.lib.stride_tricks.sliding_window_view(padded, lags)[:, ::-1]
    return np.tanh(gain * window @ rng.normal(size=(lags, width)) / math.sqrt(lags))


@pytest.mark.float64
@pytest.mark.parametrize("alpha", [None, 1e-2])
def test_memory_capacity_equals_sklearn_reference(alpha):
    rng = np.random.default_rng(11)
    u = rng.uniform(-0.8, 0.8, 700)
    features = tanh_features(u, 12, 10, 2.0, seed=12)
    split = Split(15, 400, 150, 135)
    got = memory_capacity(features, u, split, max_delay=8, ridge=alpha)
    want = sklearn_memory_capacity(features, u, split, 8, alpha)
    np.testing.assert_allclose(got.per_delay, want, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.total, want.sum(), rtol=1e-8)


@pytest.mark.float64
def test_memory_capacity_equals_reservoirpy():
    """ReservoirPy's ``memory_capacity(model, k_max, series=u, test_size=0.2)``
    builds rows j = 0, 1, ... of [u(j + k), u(j + k - 1), ..., u(j)] (k = k_max), runs
    a copy of the model from its zero state on the column u(k), u(k + 1), ..., fits
    the Ridge on the first N - k - test_len rows less a warm-up of k rows, carries the
    state on through the last test_len rows, and scores np.corrcoef² per delay. With
    our row convention (features[t] after input t): the states of the reservoir run
    on u[k:], k placeholder rows in front (never used), washout = 2 k, train =
    N - test_len - 2 k, validation = 0, test = test_len, and ReservoirPy's ridge.
    Its Ridge solves the centred normal equations (XᵀX - T x̄ x̄ᵀ + ridge I) W = ...,
    algebraically the same as our SVD (agreement ~1e-9 relative here)."""
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import Reservoir, Ridge as RPyRidge
    from reservoirpy.observables import memory_capacity as rpy_memory_capacity

    k_max, units = 50, 100
    reservoir = Reservoir(units, sr=1, seed=1)
    reservoir.initialize(np.zeros((1, 1)))  # the weights, drawn once
    series = np.random.default_rng(1).uniform(-0.8, 0.8, (10 * k_max, 1))
    model = copy.deepcopy(reservoir) >> RPyRidge(ridge=1e-4)
    want = rpy_memory_capacity(model, k_max, series=series, test_size=0.2, as_list=True)

    states = copy.deepcopy(reservoir).run(series[k_max:])
    features = np.concatenate([np.zeros((k_max, units)), states])
    test_len = round(0.2 * len(series))
    split = Split(2 * k_max, len(series) - test_len - 2 * k_max, 0, test_len)
    got = memory_capacity(features, series[:, 0], split, max_delay=k_max, ridge=1e-4)
    np.testing.assert_allclose(got.per_delay, want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.total, np.sum(want), rtol=1e-6)
    assert 15 < float(got.total) < 25  # ReservoirPy's doctest reports 18.78


def test_memory_capacity_of_a_delay_line():
    """Features u(t - 1), ..., u(t - L): MC_k = 1 for k <= L (the target is a
    feature; float32 rounding and the ridge shrink the correlation by < 1e-4), and
    for k > L the prediction is independent of the iid target, so R MC_k ~ chi²_1
    over R test rows: each below 30 / R, their sum below (K + 6 sqrt(2 K)) / R."""
    L, max_delay = 5, 15
    u = np.random.default_rng(13).uniform(-0.8, 0.8, 3000).astype(np.float32)
    padded = np.concatenate([np.zeros(L, np.float32), u])
    line = np.stack([padded[L - k : L - k + len(u)] for k in range(1, L + 1)], 1)
    split = Split(20, 1500, 500, 980)
    score = memory_capacity(line, u, split, max_delay=max_delay)
    assert score.per_delay.dtype == jnp.float32 and score.per_delay.shape == (15,)
    np.testing.assert_allclose(score.per_delay[:L], 1.0, atol=1e-4)
    R, K = split.test, max_delay - L
    assert np.all(score.per_delay[L:] < 30 / R)
    assert float(score.per_delay[L:].sum()) < (K + 6 * math.sqrt(2 * K)) / R
    assert abs(float(score.total) - L) < L * 1e-4 + (K + 6 * math.sqrt(2 * K)) / R


@pytest.mark.float64
def test_memory_capacity_is_at_most_the_number_of_features():
    """For iid input the capacities of m features sum to at most m (Dambre et al.
    2012), with equality for random linear mixtures of the delays 1..K (sum_k MC_k
    = trace of a rank-m projection). Slack over R test rows: the null bias K / R,
    five SDs of the sum (Var(r²) <= 16 / (27 R) per delay, independent), and for the
    equality the training shortfall, about (1 - MC_k) m / T_train per delay."""
    m, K = 8, 40
    u = np.random.default_rng(14).uniform(-0.8, 0.8, 5000)
    split = Split(K, 3000, 500, 1460)
    R = split.test
    slack = K / R + 5 * math.sqrt(16 * K / (27 * R))
    padded = np.concatenate([np.zeros(K), u])
    delays = np.stack([padded[K - k : K - k + len(u)] for k in range(1, K + 1)], 1)
    mixtures = delays @ np.random.default_rng(15).normal(size=(K, m))
    linear = memory_capacity(mixtures, u, split, max_delay=K)
    shortfall = (K - m) * m / split.train
    assert m - shortfall - slack < float(linear.total) < m + slack
    nonlinear = memory_capacity(tanh_features(u, 30, m, 3.0, 16), u, split, max_delay=K)
    assert float(nonlinear.total) < m + slack
    assert float(nonlinear.total) < float(
        linear.total
    )  # tanh spends capacity elsewhere


# ---------------------------------------------------------------------- parity


def parity_targets(u, rows, tau):
    return u[rows - tau] * u[rows - tau - 1] * u[rows - tau - 2]


@pytest.mark.float64
def test_parity_bits_equals_sklearn_reference():
    rng = np.random.default_rng(17)
    u = np.where(rng.random(1500) < 0.5, -1.0, 1.0)
    features = tanh_features(u, 6, 40, 3.0, seed=18)
    split = Split(10, 900, 0, 590)
    got = parity_bits(features, u, split, max_delay=3, ridge=1.0)
    rows = np.arange(split.washout, len(u))
    train, test = rows[: split.train], rows[split.train :]
    want = []
    for tau in range(4):
        model = RidgeClassifier(alpha=1.0).fit(
            features[train], parity_targets(u, train, tau)
        )
        truth = parity_targets(u, test, tau)
        want.append(
            mutual_info_score(truth, model.predict(features[test])) / math.log(2)
        )
    np.testing.assert_allclose(got.per_delay, want, rtol=1e-9, atol=1e-12)
    assert max(want) > 0.05  # the tanh features do carry some parity


def test_parity_bits_of_the_parity_itself_and_of_raw_bits():
    """A feature equal to z_2 gives I = H(z_2), 1 bit less (2 / ln 2)(p̂ - 1/2)² for
    the test frequency p̂ (SD 1 / (2 sqrt(R)); 18 / R at five SDs). The other
    targets are independent of it (distinct products of fair ±1 bits), so
    2 R ln 2 · I ~ chi²_1: below 15 / (R ln 2). On the raw bits u(t), ..., u(t - 5)
    a halfspace agrees with a 3-bit parity on at most 6 of 8 patterns:
    I <= 1 - H(3/4) = 0.189 bits. (Not ~0: the fitted weights are noise, but
    sign(w x + b) only sees their direction; this draw scores 0.15 and 0.13 bits at
    tau = 2, 3, see parity_bits.)"""
    u = np.asarray(parity_inputs(jr.key(19), 4000))
    split = Split(10, 2000, 500, 1490)
    R, rows = split.test, np.arange(4000)
    padded = np.concatenate([np.ones(8, np.float32), u])  # rows < 8 are washout
    z2 = parity_targets(padded, rows + 8, 2)
    noise = np.random.default_rng(20).normal(size=(4000, 3)).astype(np.float32)
    score = parity_bits(np.column_stack([z2, noise]), u, split, max_delay=4)
    assert score.per_delay.dtype == jnp.float32
    deficit = 2 / math.log(2) * (5 / (2 * math.sqrt(R))) ** 2  # five SDs of p̂
    assert 1 - deficit < float(score.per_delay[2]) <= 1 + 1e-6
    others = np.delete(np.asarray(score.per_delay), 2)
    assert np.all(others < 15 / (R * math.log(2)))
    raw = np.stack([padded[8 - j : 8 - j + 4000] for j in range(6)], 1)
    bound = 1 - (0.75 * math.log2(1 / 0.75) + 0.25 * math.log2(4))
    raw_score = parity_bits(raw, u, split, max_delay=3)
    assert np.all(np.asarray(raw_score.per_delay) < bound + 15 / (R * math.log(2)))


# ----------------------------------------------------------------- NARMA NRMSE


@pytest.mark.float64
def test_narma10_nrmse_equals_sklearn_reference():
    rng = np.random.default_rng(21)
    u = rng.uniform(0, 0.5, 1200)
    targets = np.asarray(narma10(u))
    features = tanh_features(u, 20, 30, 1.0, seed=22)
    split = Split(50, 700, 0, 450)
    got = narma10_nrmse(features, targets, split, ridge=1e-3)
    rows = np.arange(split.washout, len(u))
    train, test = rows[: split.train], rows[split.train :]
    prediction = (
        Ridge(alpha=1e-3).fit(features[train], targets[train]).predict(features[test])
    )
    want = np.sqrt(np.mean((prediction - targets[test]) ** 2)) / np.std(targets[test])
    assert got.per_delay.shape == (1,)
    np.testing.assert_allclose(got.total, want, rtol=1e-9)
    np.testing.assert_allclose(got.per_delay, [want], rtol=1e-9)
    assert 0.0 < want < 1.0
    # the target itself as a feature: NRMSE 0 (up to the ridge's shrinkage)
    perfect = narma10_nrmse(targets[:, None], targets, split, ridge=1e-9)
    assert float(perfect.total) < 1e-6


# ------------------------------------------------------------------- bad input


def test_tasks_reject_bad_input():
    u = np.where(np.arange(100) % 3 == 0, 1.0, -1.0)
    x = np.random.default_rng(23).normal(size=(100, 4))
    split = Split(10, 50, 20, 20)
    with pytest.raises(
        ValueError, match="features and inputs must have the same number of rows"
    ):
        memory_capacity(x, u[:99], split, max_delay=3)
    with pytest.raises(ValueError, match="inputs must be finite"):
        memory_capacity(x, np.where(np.arange(100) == 5, np.nan, u), split, max_delay=3)
    with pytest.raises(ValueError, match="features must be finite"):
        memory_capacity(np.where(x > 2, np.inf, x), u, split, max_delay=3)
    with pytest.raises(ValueError, match=r"= 110 must equal the run's 100 steps"):
        memory_capacity(x, u, Split(20, 50, 20, 20), max_delay=3)
    with pytest.raises(ValueError, match="split.train must be >= 1"):
        memory_capacity(x, u, Split(10, 0, 70, 20), max_delay=3)
    with pytest.raises(ValueError, match="split.test must be >= 2"):
        memory_capacity(x, u, Split(10, 90, 0, 0), max_delay=3, ridge=1.0)
    with pytest.raises(
        ValueError, match="split.validation must be >= 1 when ridge=None"
    ):
        memory_capacity(x, u, Split(10, 70, 0, 20), max_delay=3)
    memory_capacity(x, u, Split(10, 70, 0, 20), max_delay=3, ridge=1.0)  # fine
    with pytest.raises(ValueError, match="split.washout must be >= 12"):
        memory_capacity(x, u, split, max_delay=12)
    with pytest.raises(ValueError, match="max_delay must be an integer >= 1"):
        memory_capacity(x, u, split, max_delay=0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        memory_capacity(x, u, split, max_delay=3, ridge=-1.0)
    with pytest.raises(ValueError, match="split.test must be an integer >= 0"):
        memory_capacity(x, u, Split(10, 50, 50, -10), max_delay=3)
    with pytest.raises(ValueError, match="inputs must be -1 or \\+1"):
        parity_bits(x, u * 0.5, split, max_delay=2)
    with pytest.raises(ValueError, match="split.washout must be >= 11"):
        parity_bits(x, u, split, max_delay=9)
    with pytest.raises(ValueError, match="max_delay must be an integer >= 0"):
        parity_bits(x, u, split, max_delay=-1)
    with pytest.raises(ValueError, match=f"split.washout must be >= {NARMA_ORDER}"):
        narma10_nrmse(x, u, Split(5, 55, 20, 20))
    with pytest.raises(ValueError, match="features and targets must have the same"):
        narma10_nrmse(x, u[:50], split)
    with pytest.raises(ValueError, match="inputs must be finite"):
        narma10(np.full(5, np.nan))
    # Under the suite's jaxtyping hook the annotation rejects it first (a
    # TypeError); without it, the function's own check names the shape.
    with pytest.raises((TypeError, ValueError), match="inputs"):
        narma10(np.ones((5, 2)))


def test_a_batch_of_runs_scores_like_each_run(getkey):
    """Features (B, T, m) give the scores of each (T, m) run, for every task."""
    split = Split(12, 200, 60, 100)
    u = parity_inputs(getkey(), 372)
    runs = jax.random.normal(getkey(), (2, 3, 372, 5)) + u[:, None]
    for task in (
        lambda f: memory_capacity(f, u, split, max_delay=4),
        lambda f: narma10_nrmse(f, narma10(0.25 * (u + 1)), split),
        lambda f: parity_bits(f, u, split, max_delay=3),
    ):
        batch = task(runs)
        for i, j in np.ndindex(2, 3):
            single = task(runs[i, j])
            np.testing.assert_allclose(
                batch.per_delay[i, j], single.per_delay, rtol=2e-5, atol=1e-6
            )
            np.testing.assert_allclose(
                batch.total[i, j], single.total, rtol=2e-5, atol=1e-6
            )


def test_narma10_divergence_is_an_error_and_the_generator_redraws():
    """The recurrence diverges for rare inputs (this draw: key 76, T = 2100, found by
    a scan of 300 keys); narma10 says so instead of returning inf, and
    narma10_inputs replaces the draw with a bounded one."""
    key = jax.random.key(76)
    raw = jax.random.uniform(key, (2100,), minval=0.0, maxval=0.5)
    with pytest.raises(ValueError, match="NARMA-10 recurrence diverged"):
        narma10(raw)
    u = narma10_inputs(key, 2100)
    assert not np.array_equal(u, raw)
    assert float(np.abs(narma10(u)).max()) < 1.0
