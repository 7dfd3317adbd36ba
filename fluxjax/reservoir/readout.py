"""Linear readouts of reservoir features: ridge regression and a ridge classifier.

A readout maps a feature vector x (m,) to outputs y = x W + b (k,). It is fitted by
ridge regression with an unpenalised bias, the estimator of scikit-learn's
``Ridge(alpha=ridge, fit_intercept=True)`` and of ReservoirPy's ``Ridge``: with the
column means x̄, ȳ of the T training rows and the centred rows X_c = X - x̄,
Y_c = Y - ȳ,

    (X_cᵀ X_c + ridge I) W = X_cᵀ Y_c,        b = ȳ - x̄ W.                   (1)

It is solved through the thin SVD X_c = U diag(s) Vᵀ (never the normal equations,
whose condition number is the square of X_c's: this matters in float32), so that

    W = V diag(s / (s² + ridge)) Uᵀ Y_c                                      (2)

for any number of ridges and outputs from one factorisation. Singular values below
sqrt(max(T, m)) · eps · s_max are treated as exactly zero, so that constant or
collinear feature columns (binary states often have them) get no weight from rounding
noise, and ``ridge = 0`` gives the minimum-norm least-squares solution. With the
columns centred in two passes, the rounding level of such columns is about
eps · s_max (at most 5 eps · s_max measured on 0/1 features in float32, 150 to 20 000
rows), ten times below the cut-off; numpy's ``lstsq`` cut-off max(T, m) · eps · s_max
would, in float32 with 10^4 rows, also drop real directions 10^3 times weaker than the
strongest (a unit that fires rarely).

The classifier is scikit-learn's ``RidgeClassifier``: ridge regression (1) on targets
encoded as ±1, predicting the positive class where the decision x W + b is > 0.

Everything is computed in the floating dtype of the features (bool or integer
features get JAX's default float). The functions are pure and can be jitted; their
argument checks run only on concrete values. Axis names with a leading underscore in
the annotations (``_T``) document sizes that the functions check themselves, with a
ValueError naming the argument.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Real

from .._checks import as_float_array, check_finite, is_concrete
from .._linalg import svd


RIDGES = tuple(10.0**p for p in range(-6, 4))
"""The default ridge grid for validation: 1e-6, 1e-5, ..., 1e3. Absolute values (like
scikit-learn's ``alpha``), added to X_cᵀ X_c, whose scale is T times the features'
variance: with features of order one and 10^3 to 10^4 training rows the grid spans
from essentially no shrinkage to strong shrinkage."""


class Readout(eqx.Module):
    """A linear readout y = x W + b, fitted by :func:`fit_ridge`.

    Attributes:
        weights: W, ``(m, k)`` for m features and k outputs.
        bias: b, ``(k,)``.
        ridge: the ridge used for each output, ``(k,)``.
    """

    weights: Float[Array, "m k"]
    bias: Float[Array, " k"]
    ridge: Float[Array, " k"]

    def __call__(
        self, features: Real[ArrayLike, "*batch m"] | Bool[ArrayLike, "*batch m"]
    ) -> Float[Array, "*batch k"]:
        """The outputs x W + b of features ``(..., m)``, shape ``(..., k)``.

        The features are cast to the readout's dtype.
        """
        features = jnp.asarray(features).astype(self.weights.dtype)
        return features @ self.weights + self.bias


class Classifier(eqx.Module):
    """A linear classifier of k binary labels, fitted by :func:`fit_classifier`.

    The decision of output j is the ridge regression of its labels encoded as ±1;
    the prediction is True (the positive class) where the decision is > 0, as in
    scikit-learn's ``RidgeClassifier``.

    Attributes:
        readout: the :class:`Readout` whose outputs are the decisions.
    """

    readout: Readout

    def decision(
        self, features: Real[ArrayLike, "*batch m"] | Bool[ArrayLike, "*batch m"]
    ) -> Float[Array, "*batch k"]:
        """The decisions x W + b, ``(..., k)`` (sklearn's ``decision_function``)."""
        return self.readout(features)

    def __call__(
        self, features: Real[ArrayLike, "*batch m"] | Bool[ArrayLike, "*batch m"]
    ) -> Bool[Array, "*batch k"]:
        """The predicted labels, True where the decision is > 0, ``(..., k)``."""
        return self.readout(features) > 0


def _as_float(value, name: str, dtype=None) -> Array:
    """``value`` as a floating array (bool data become 0.0 and 1.0)."""
    return as_float_array(value, name, dtype, booleans=True)


def _check_features(features, name: str) -> Array:
    features = _as_float(features, name)
    if features.ndim != 2 or 0 in features.shape:
        raise ValueError(
            f"{name} must be a non-empty (T, m) array with T >= 1 rows and m >= 1 "
            f"features, got shape {features.shape}"
        )
    check_finite(features, name)
    return features


def _check_targets(targets, name: str, rows: int, rows_name: str, dtype) -> Array:
    """Targets as ``(T, k)`` in ``dtype``, checked against the features' rows."""
    targets = _as_float(targets, name, dtype)
    if targets.ndim == 1:
        targets = targets[:, None]
    if targets.ndim != 2 or targets.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape (T,) or (T, k) with k >= 1, got {targets.shape}"
        )
    if targets.shape[0] != rows:
        raise ValueError(
            f"{name} must have one row per row of {rows_name}: got "
            f"{targets.shape[0]} rows and {rows}"
        )
    check_finite(targets, name)
    return targets


def _check_ridge(ridge, num_outputs: int, dtype) -> Array:
    """The ridge as a ``(k,)`` array: a scalar is used for every output."""
    ridge = _as_float(ridge, "ridge", dtype)
    if ridge.shape not in ((), (num_outputs,)):
        raise ValueError(
            f"ridge must be a scalar or have shape ({num_outputs},) (one per "
            f"output), got shape {ridge.shape}"
        )
    check_finite(ridge, "ridge", nonnegative=True)
    return jnp.broadcast_to(ridge, (num_outputs,))


def _check_ridges(ridges, dtype) -> Array:
    ridges = _as_float(ridges, "ridges", dtype)
    if ridges.ndim != 1 or ridges.shape[0] == 0:
        raise ValueError(
            f"ridges must be a non-empty 1-D sequence of candidate ridges, got "
            f"shape {ridges.shape}"
        )
    check_finite(ridges, "ridges", nonnegative=True)
    return ridges


def _check_labels(labels, name: str) -> Array:
    """Binary labels as given: bool, or numbers all in {0, 1} or all in {-1, +1}."""
    labels = jnp.asarray(labels)
    if is_concrete(labels) and not jnp.issubdtype(labels.dtype, jnp.bool_):
        values = set(np.unique(np.asarray(labels)).tolist())
        if not (values <= {0, 1} or values <= {-1, 1}):
            shown = sorted(values)[:5]
            raise ValueError(
                f"{name} must be bool or take values in {{0, 1}} or in {{-1, +1}}, "
                f"got values {shown}"
            )
    return labels


def _plus_minus_one(labels: Array, dtype) -> Array:
    """The ±1 encoding of binary labels: +1 where label > 0 (True, 1 or +1)."""
    positive = labels if jnp.issubdtype(labels.dtype, jnp.bool_) else labels > 0
    return jnp.where(positive, 1.0, -1.0).astype(dtype)


class _Factors(eqx.Module):
    """The means and the thin SVD of the centred training rows, with Uᵀ Y_c."""

    x_mean: Array  # (m,)
    y_mean: Array  # (k,)
    s: Array  # (r,) singular values of X_c, descending, r = min(T, m)
    v: Array  # (m, r) right singular vectors
    projected: Array  # (r, k) Uᵀ Y_c


def _centre(rows: Array) -> tuple[Array, Array]:
    """The column means and the centred rows, in two passes.

    The second pass removes the rounding error of the first mean (of order
    eps · T in float32 sums), which would otherwise leave constant columns a
    spurious singular value growing with T.
    """
    mean = rows.mean(0)
    centred = rows - mean
    residual = centred.mean(0)
    return mean + residual, centred - residual


def _factor(features: Array, targets: Array) -> _Factors:
    x_mean, x_centred = _centre(features)
    y_mean, y_centred = _centre(targets)
    u, s, vt = svd(x_centred)
    return _Factors(x_mean, y_mean, s, vt.T, u.T @ y_centred)


def _shrinkage(factors: _Factors, ridge: Array, num_rows: int) -> Array:
    """The filter factors s / (s² + ridge) of eq. (2), ``ridge.shape + (r,)``.

    Singular values at or below sqrt(max(T, m)) · eps · s_max count as zero (factor
    0), through a double ``where`` so that nothing divides by zero.
    """
    s = factors.s
    tol = jnp.finfo(s.dtype).eps * math.sqrt(max(num_rows, factors.v.shape[0])) * s[0]
    kept = s > tol
    safe = jnp.where(kept, s, 1.0)
    ridge = ridge[..., None]
    return jnp.where(kept, safe / (safe * safe + ridge), 0.0)


def _readout(factors: _Factors, shrinkage: Array, ridge: Array) -> Readout:
    """W[:, j] = V (f_j * Uᵀ Y_c[:, j]) for the filter factors f_j ``(k, r)``."""
    weights = factors.v @ (shrinkage.T * factors.projected)
    return Readout(weights, factors.y_mean - factors.x_mean @ weights, ridge)


def fit_ridge(
    features: Real[ArrayLike, "T m"] | Bool[ArrayLike, "T m"],
    targets: Real[ArrayLike, " _T"] | Real[ArrayLike, "_T k"],
    ridge: Real[ArrayLike, ""] | Real[ArrayLike, " _k"],
) -> Readout:
    """Ridge regression with a fitted bias: scikit-learn's ``Ridge(alpha=ridge)``.

    Solves (X_cᵀ X_c + ridge I) W = X_cᵀ Y_c for the centred rows and sets
    b = ȳ - x̄ W (eq. (1) of the module docstring), through one SVD of X_c.

    Args:
        features: the inputs X, ``(T, m)``: T rows (samples) of m features.
        targets: the targets Y, ``(T, k)`` for k outputs, or ``(T,)`` for one
            (then k = 1: the readout's weights are ``(m, 1)`` and its outputs
            ``(..., 1)``).
        ridge: the ridge (>= 0, absolute, like scikit-learn's ``alpha``): a scalar
            for all outputs or one per output, ``(k,)``. ``0`` gives the
            minimum-norm least-squares fit.

    Returns:
        The fitted :class:`Readout`, in the floating dtype of ``features``.

    Raises:
        ValueError: if an array is empty, the row counts differ, a value is not
            finite or a ridge is negative.

    Examples:
        >>> from fluxjax.reservoir import fit_ridge
        >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> readout = fit_ridge(x, 2 * x[:, 0] + 1, 0.0)  # y = 2 x + 1
        >>> readout.weights.round(4).tolist(), readout.bias.round(4).tolist()
        ([[2.0]], [1.0])
    """
    features = _check_features(features, "features")
    targets = _check_targets(
        targets, "targets", features.shape[0], "features", features.dtype
    )
    return _fit(features, targets, ridge)


def _fit(features: Array, targets: Array, ridge) -> Readout:
    """:func:`fit_ridge` of checked ``(T, m)`` features and ``(T, k)`` targets."""
    ridge = _check_ridge(ridge, targets.shape[1], features.dtype)
    factors = _factor(features, targets)
    return _readout(factors, _shrinkage(factors, ridge, features.shape[0]), ridge)


def fit_ridge_validated(
    train_features: Real[ArrayLike, "T m"] | Bool[ArrayLike, "T m"],
    train_targets: Real[ArrayLike, " _T"] | Real[ArrayLike, "_T k"],
    validation_features: Real[ArrayLike, "V _m"] | Bool[ArrayLike, "V _m"],
    validation_targets: Real[ArrayLike, " _V"] | Real[ArrayLike, "_V _k"],
    *,
    ridges: Sequence[float] | Real[ArrayLike, " r"] = RIDGES,
) -> Readout:
    """:func:`fit_ridge` on the training rows with each output's ridge validated.

    For every output column j independently, the ridge is the one of ``ridges``
    whose fit on the training rows has the smallest mean squared error on the
    validation rows, mean_v (y_vj - x_v W_j(ridge) - b_j(ridge))² (the first such
    ridge on a tie). All ridges and outputs share one SVD of the training rows.

    Args:
        train_features: ``(T, m)`` training features.
        train_targets: ``(T, k)`` or ``(T,)`` training targets (k = 1).
        validation_features: ``(V, m)`` validation features, V >= 1.
        validation_targets: ``(V, k)`` or ``(V,)`` validation targets.
        ridges: the candidate ridges (>= 0), default :data:`RIDGES`.

    Returns:
        The :class:`Readout` fitted on the training rows, its ``ridge`` the chosen
        ridge per output.

    Raises:
        ValueError: as :func:`fit_ridge`, also for mismatched feature or output
            counts between the splits.

    Examples:
        >>> from fluxjax.reservoir import fit_ridge_validated
        >>> x = jax.random.normal(jax.random.key(0), (60, 3))
        >>> y = x @ jnp.array([1.0, -2.0, 0.5]) + 3.0
        >>> readout = fit_ridge_validated(x[:40], y[:40], x[40:], y[40:])
        >>> print(f"{float(readout.ridge[0]):.0e}")  # noiseless: the smallest wins
        1e-06
    """
    return _fit_validated(
        *_check_splits(
            train_features,
            train_targets,
            validation_features,
            validation_targets,
            ("train_features", "train_targets"),
            ("validation_features", "validation_targets"),
        ),
        ridges,
    )


def _check_splits(
    train_features, train_targets, validation_features, validation_targets, *names
):
    """Checked ``(T, m)``, ``(T, k)``, ``(V, m)``, ``(V, k)`` arrays in one dtype.

    ``names`` are the (features, targets) argument names of each split. Targets that
    are already arrays of the features' dtype (the ±1 labels) are checked the same.
    """
    (train_x, train_y), (validation_x, validation_y) = names
    train_features = _check_features(train_features, train_x)
    dtype = train_features.dtype
    train_targets = _check_targets(
        train_targets, train_y, train_features.shape[0], train_x, dtype
    )
    validation_features = _check_features(validation_features, validation_x)
    validation_features = validation_features.astype(dtype)
    if validation_features.shape[1] != train_features.shape[1]:
        raise ValueError(
            f"{validation_x} must have as many features (columns) as {train_x}: "
            f"got {validation_features.shape[1]} and {train_features.shape[1]}"
        )
    validation_targets = _check_targets(
        validation_targets,
        validation_y,
        validation_features.shape[0],
        validation_x,
        dtype,
    )
    if validation_targets.shape[1] != train_targets.shape[1]:
        raise ValueError(
            f"{validation_y} must have as many outputs (columns) as {train_y}: "
            f"got {validation_targets.shape[1]} and {train_targets.shape[1]}"
        )
    return train_features, train_targets, validation_features, validation_targets


def _fit_validated(
    train_features: Array,
    train_targets: Array,
    validation_features: Array,
    validation_targets: Array,
    ridges,
) -> Readout:
    """:func:`fit_ridge_validated` of checked arrays (see :func:`_check_splits`)."""
    ridges = _check_ridges(ridges, train_features.dtype)
    factors = _factor(train_features, train_targets)
    shrinkage = _shrinkage(factors, ridges, train_features.shape[0])  # (R, r)
    # Validation predictions of every ridge: ȳ + (X_v - x̄) V diag(f) Uᵀ Y_c.
    projected_rows = (validation_features - factors.x_mean) @ factors.v  # (V, r)
    coefficients = shrinkage[:, :, None] * factors.projected  # (R, r, k)
    predictions = factors.y_mean + projected_rows @ coefficients  # (R, V, k)
    errors = jnp.mean((predictions - validation_targets) ** 2, axis=1)  # (R, k)
    best = jnp.argmin(errors, axis=0)  # (k,)
    return _readout(factors, shrinkage[best], ridges[best])


def fit_classifier(
    features: Real[ArrayLike, "T m"] | Bool[ArrayLike, "T m"],
    labels: Bool[ArrayLike, " _T"]
    | Bool[ArrayLike, "_T k"]
    | Real[ArrayLike, " _T"]
    | Real[ArrayLike, "_T k"],
    ridge: Real[ArrayLike, ""] | Real[ArrayLike, " _k"],
) -> Classifier:
    """A ridge classifier of binary labels: scikit-learn's ``RidgeClassifier(alpha)``.

    Each label column is encoded as ±1 (+1 for the positive class) and regressed on
    the features by :func:`fit_ridge`; the prediction is the positive class where the
    decision x W + b is > 0.

    Args:
        features: ``(T, m)`` features.
        labels: ``(T, k)`` or ``(T,)`` binary labels (k = 1): bool (True positive),
            or numbers all in {0, 1} or all in {-1, +1} (1 and +1 positive).
        ridge: the ridge (>= 0), a scalar or one per label column ``(k,)``.

    Returns:
        The fitted :class:`Classifier`.

    Raises:
        ValueError: as :func:`fit_ridge`, or for labels that are not binary.

    Examples:
        >>> from fluxjax.reservoir import fit_classifier
        >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]])
        >>> fit_classifier(x, x[:, 0] > 0, 1.0)(jnp.array([[-0.5], [3.0]])).tolist()
        [[False], [True]]
    """
    features = _check_features(features, "features")
    labels = _check_labels(labels, "labels")
    targets = _check_targets(
        _plus_minus_one(labels, features.dtype),
        "labels",
        features.shape[0],
        "features",
        features.dtype,
    )
    return Classifier(_fit(features, targets, ridge))


def fit_classifier_validated(
    train_features: Real[ArrayLike, "T m"] | Bool[ArrayLike, "T m"],
    train_labels: Bool[ArrayLike, " _T"]
    | Bool[ArrayLike, "_T k"]
    | Real[ArrayLike, " _T"]
    | Real[ArrayLike, "_T k"],
    validation_features: Real[ArrayLike, "V _m"] | Bool[ArrayLike, "V _m"],
    validation_labels: Bool[ArrayLike, " _V"]
    | Bool[ArrayLike, "_V _k"]
    | Real[ArrayLike, " _V"]
    | Real[ArrayLike, "_V _k"],
    *,
    ridges: Sequence[float] | Real[ArrayLike, " r"] = RIDGES,
) -> Classifier:
    """:func:`fit_classifier` with each label column's ridge chosen on validation.

    The criterion is the validation mean squared error of the ±1 regression (the
    decision against the ±1 labels), as in :func:`fit_ridge_validated` and as
    scikit-learn's ``RidgeClassifierCV`` scores its default leave-one-out search. It
    varies smoothly with the ridge, where the validation accuracy is a step function
    with many ties.

    Args:
        train_features: ``(T, m)`` training features.
        train_labels: ``(T, k)`` or ``(T,)`` binary training labels (see
            :func:`fit_classifier` for the encodings).
        validation_features: ``(V, m)`` validation features, V >= 1.
        validation_labels: ``(V, k)`` or ``(V,)`` binary validation labels.
        ridges: the candidate ridges (>= 0), default :data:`RIDGES`.

    Returns:
        The :class:`Classifier` fitted on the training rows.
    """
    train_labels = _check_labels(train_labels, "train_labels")
    validation_labels = _check_labels(validation_labels, "validation_labels")
    dtype = _as_float(train_features, "train_features").dtype
    checked = _check_splits(
        train_features,
        _plus_minus_one(train_labels, dtype),
        validation_features,
        _plus_minus_one(validation_labels, dtype),
        ("train_features", "train_labels"),
        ("validation_features", "validation_labels"),
    )
    return Classifier(_fit_validated(*checked, ridges))
