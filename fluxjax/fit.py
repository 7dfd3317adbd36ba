"""Fitting the kinetic Ising model to binary states: recordings to a BinaryNetwork.

Given x_t, neuron i fires at t + 1 with probability sigmoid(x_t . w_i + b_i)
(:class:`fluxjax.BinaryNetwork` with temperature 1 and no noise; ``w_i = W[:, i]``).
The log-likelihood of the transitions splits into one logistic regression per neuron,
all sharing the design x_t (the inverse kinetic Ising problem; Roudi & Hertz 2011),
and neuron i's penalised negative log-likelihood is

    L_i(w, b) = -sum_t s_t [y_ti z_ti - log(1 + e^z_ti)] + lambda/2 |w|^2
                + lambda_1 |w|_1,   z_ti = x_t . w + b,   y_t = x_{t+1},          (1)

with sample weights s_t (1 for every transition; 0 for a held-out block; the number of
draws in a bootstrap replicate). The intercept is not penalised. lambda = 1 / C of
scikit-learn's ``LogisticRegression`` (a Gaussian prior N(0, 1 / lambda) per weight).

**Solver.** The Hessian of (1) is X^T diag(s p (1 - p)) X + lambda I <= B =
X^T diag(s) X / 4 + lambda I, because p (1 - p) <= 1/4 (Böhning & Lindsay 1988), and B
is the same for all n neurons: one Cholesky factor per fold and penalty serves every
regression. The iteration is FISTA in the metric B (Beck & Teboulle 2009), with the
momentum restarted per neuron when it points uphill (O'Donoghue & Candès 2015):

    theta_k = y_k - B^-1 grad L(y_k),   y_{k+1} = theta_k + (t_k - 1) / t_{k+1}
    (theta_k - theta_{k-1}),                                                       (2)

each step a descent step of a quadratic majoriser. With lambda_1 > 0 the metric is the
scalar lambda_max(B) (soft thresholding is then the exact proximal step). The design is
centred (x_t - mean) inside, which changes no weight. It stops when the largest step
|theta_k - y_k| is below ``tol`` (in the units of the weights).

Temperature and noise are not identifiable apart from the weights' scale: a network
with temperature T, weights T W and biases T b has the same transition probabilities
as one with temperature 1, W and b; and Gaussian input noise turns a sigmoid into a
logistic-normal curve that a logistic regression cannot tell from a flatter sigmoid.
The fit therefore fixes temperature 1 and no noise; every information quantity of the
fit is the same under the reparametrisation (tests/test_fit.py).

References:
    Y. Roudi, J. Hertz, "Mean field theory for nonequilibrium network reconstruction",
    Phys. Rev. Lett. 106, 048702 (2011).
    D. Böhning, B. G. Lindsay, "Monotonicity of quadratic-approximation algorithms",
    Ann. Inst. Stat. Math. 40, 641-663 (1988).
    A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear
    inverse problems", SIAM J. Imaging Sci. 2, 183-202 (2009).
    B. O'Donoghue, E. Candès, "Adaptive restart for accelerated gradient schemes",
    Found. Comput. Math. 15, 715-732 (2015).
    P. Hall, J. L. Horowitz, B.-Y. Jing, "On blocking rules for the bootstrap with
    dependent data", Biometrika 82, 561-574 (1995).
"""

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from ._checks import check_int, check_key, default_float_dtype
from ._information import entr
from ._linalg import log_det_correlation
from .data import Recording, Transitions, as_transitions
from .info._chains import jackknife
from .info.exact import exact_flux
from .info.moments import moment_flux_stderr
from .info.results import Estimate
from .measure import flux as front_door
from .network import BinaryNetwork, check_network
from .optimize import optimize_biases


DEFAULT_PENALTIES = (1e4, 1e3, 1e2, 1e1, 1.0, 1e-1)
"""The L2 penalties lambda tried by :func:`fit_network` (1 / lambda: the prior variance
of a weight), largest first (each fit starts from the previous one)."""

MAX_EXACT_FLUX_NEURONS = 12
""":func:`bootstrap_flux` uses the exact flux up to this n, the large-n estimate above."""

_LN2 = math.log(2.0)
_CHUNK_ELEMENTS = 2**20  # floats per chunk of rows x neurons (4 MiB in float32)


class FitDiagnostics(NamedTuple):
    """How well the fitted network predicts held-out transitions, and how it was found.

    Log-likelihoods are in bits per transition, from k-fold cross-validation over
    contiguous blocks (each block predicted by the fit to the other k - 1).

    Attributes:
        penalty: the L2 penalty lambda chosen (largest summed held-out likelihood).
        l1_penalty: the L1 penalty lambda_1 (given, not chosen).
        penalties: ``(p,)`` the penalties tried.
        cv_log_likelihood: ``(p,)`` held-out log-likelihood summed over neurons, per
            penalty.
        held_out_log_likelihood: ``(n,)`` per neuron, at the chosen penalty.
        null_log_likelihood: ``(n,)`` per neuron, of the rate-only model (bias only,
            fitted to the same training blocks).
        deviance_explained: ``(n,)`` 1 - D / D_null = 1 - held-out / null
            log-likelihood (McFadden's R^2 on held-out data; 0 for a model no better
            than the firing rate, 1 for a perfect prediction).
        converged: whether every solve (all folds and penalties, and the final fit)
            reached ``tol``.
        iterations: the iterations of the final fit to all transitions.
        num_transitions: the number of transitions T fitted.
        num_folds: k.
    """

    penalty: float
    l1_penalty: float
    penalties: Float[Array, " p"]
    cv_log_likelihood: Float[Array, " p"]
    held_out_log_likelihood: Float[Array, " n"]
    null_log_likelihood: Float[Array, " n"]
    deviance_explained: Float[Array, " n"]
    converged: bool
    iterations: int
    num_transitions: int
    num_folds: int


class FluxBootstrap(NamedTuple):
    """The flux of a fitted network and its block-bootstrap spread, in bits.

    Attributes:
        value: the flux of the fit to all transitions.
        stderr: the standard deviation of the replicates' fluxes: the standard error
            of ``value``, fitting error included (and the flux estimator's own
            sampling noise, for n > 12).
        bias: mean(replicates) - value, the bootstrap estimate of the fit's bias;
            ``value - bias`` is the bias-corrected flux (with the SE ``stderr``).
        replicates: ``(B,)`` the flux of each replicate's fit.
        block_length: the length of the resampled blocks, in transitions.
        converged: ``(B,)`` whether each replicate's fit converged.
        systematic: (low, high) bounds on value - flux of the fit from the flux
            estimator's known systematic error, in bits (:attr:`FluxResult.systematic`
            of :func:`fluxjax.flux`): about +-1.5 % for the large-n estimate,
            rounding for the exact flux; (0, 0) for a ``flux`` of the caller's, whose
            systematic error is not known here.
    """

    value: Float[Array, ""]
    stderr: Float[Array, ""]
    bias: Float[Array, ""]
    replicates: Float[Array, " B"]
    block_length: int
    converged: Bool[Array, " B"]
    systematic: tuple[float, float]

    @property
    def interval(self) -> tuple[float, float]:
        """Where the flux of the fitted model lies: value - systematic +- 1.96 SE."""
        value, se = float(self.value), 1.96 * float(self.stderr)
        return value - self.systematic[1] - se, value - self.systematic[0] + se


# ---------------------------------------------------------------------------
# The data, in chunks of rows
# ---------------------------------------------------------------------------


class _Data(NamedTuple):
    """Transitions padded to whole chunks: ``(chunks, rows, n)`` bool each."""

    x: Array
    y: Array
    count: int  # the real transitions; the padded rows come last


def _layout(pairs: Transitions) -> _Data:
    T, n = pairs.states.shape
    rows = max(64, min(T, _CHUNK_ELEMENTS // n))
    chunks = -(-T // rows)
    pad = chunks * rows - T

    def padded(a):
        a = jnp.concatenate([a, jnp.zeros((pad, n), bool)]) if pad else a
        return a.reshape(chunks, rows, n)

    return _Data(padded(pairs.states), padded(pairs.next_states), T)


def _rows(weights: Array, data: _Data) -> Array:
    """Per-transition weights ``(T,)`` in the chunk layout ``(chunks, rows)``."""
    chunks, rows, _ = data.x.shape
    pad = chunks * rows - weights.shape[0]
    return jnp.concatenate([weights, jnp.zeros(pad, weights.dtype)]).reshape(
        chunks, rows
    )


def _scan_sum(fn, init, xs):
    return jax.lax.scan(
        lambda c, a: (jax.tree.map(jnp.add, c, fn(*a)), None), init, xs
    )[0]


def _gram(data: _Data, s: Array, dtype):
    """(sum s, weighted mean of x, sum_t s_t (x_t - mean)(x_t - mean)^T)."""
    n = data.x.shape[-1]

    def chunk(x, s):
        x = x.astype(dtype)
        return jnp.sum(s), s @ x, (x * s[:, None]).T @ x

    init = (jnp.zeros((), dtype), jnp.zeros(n, dtype), jnp.zeros((n, n), dtype))
    total, first, second = _scan_sum(chunk, init, (data.x, s))
    mean = first / total
    return total, mean, second - total * jnp.outer(mean, mean)


def _gradient(W, c, mean, data: _Data, s: Array):
    """The gradient of (1)'s data term in the centred (W, c): z = (x - mean) W + c."""

    def chunk(x, y, s):
        xc = x.astype(W.dtype) - mean
        r = s[:, None] * (jax.nn.sigmoid(xc @ W + c) - y.astype(W.dtype))
        return xc.T @ r, jnp.sum(r, 0)

    init = (jnp.zeros_like(W), jnp.zeros_like(c))
    return _scan_sum(chunk, init, (data.x, data.y, s))


def _log_likelihood(W, b, data: _Data, s: Array):
    """sum_t s_t log P(y_ti | x_t) per neuron, in nats, ``(n,)``."""

    def chunk(x, y, s):
        z = x.astype(W.dtype) @ W + b
        ll = jnp.where(y, jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
        return (s @ ll,)

    return _scan_sum(chunk, (jnp.zeros_like(b),), (data.x, data.y, s))[0]


def _soft_threshold(v, threshold):
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - threshold, 0.0)


@eqx.filter_jit
def _solve(data: _Data, s, penalty, l1_penalty, W0, b0, tol, max_iterations, sparse):
    """Minimises (1) for all neurons at once by (2); returns (W, b, iterations, step).

    ``sparse`` (static): whether lambda_1 > 0 (the scalar metric and the proximal step).
    """
    dtype = W0.dtype
    n = W0.shape[0]
    total, mean, C = _gram(data, s, dtype)
    A = C / 4 + penalty * jnp.eye(n, dtype=dtype)  # the weights' block of B
    intercept = total / 4  # the intercept's block (centred: no cross term)
    if sparse:
        scale = jnp.linalg.eigvalsh(A)[-1]
        factor = None
    else:
        scale = None
        factor = jsl.cho_factor(A, lower=True)

    def metric_step(gW, gc):
        """B^-1 grad (or grad / lambda_max) and its proximal version."""
        if sparse:
            return gW / scale, gc / intercept
        return jsl.cho_solve(factor, gW), gc / intercept

    def prox(W):
        return _soft_threshold(W, l1_penalty / scale) if sparse else W

    c0 = b0 + mean @ W0  # centred intercept

    def body(state):
        W, c, W_prev, c_prev, t, k, _ = state
        # the momentum point y_k, per neuron (column)
        t_next = (1 + jnp.sqrt(1 + 4 * t**2)) / 2
        beta = (t - 1) / t_next
        yW = W + beta * (W - W_prev)
        yc = c + beta * (c - c_prev)
        gW, gc = _gradient(yW, yc, mean, data, s)
        gW = gW + penalty * yW
        dW, dc = metric_step(gW, gc)
        W_new, c_new = prox(yW - dW), yc - dc
        step = jnp.maximum(jnp.max(jnp.abs(W_new - yW)), jnp.max(jnp.abs(c_new - yc)))
        # restart where the momentum points uphill: <M (y - x_new), x_new - x> > 0
        if sparse:
            uphill = scale * jnp.sum((yW - W_new) * (W_new - W), 0)
        else:
            uphill = jnp.sum(gW * (W_new - W), 0)
        uphill = uphill + intercept * (yc - c_new) * (c_new - c)
        t_next = jnp.where(uphill > 0, jnp.ones_like(t_next), t_next)
        return W_new, c_new, W, c, t_next, k + 1, step

    def cond(state):
        *_, k, step = state
        return (k < max_iterations) & ~(step < tol)

    inf = jnp.asarray(jnp.inf, dtype)
    state = (W0, c0, W0, c0, jnp.ones(n, dtype), jnp.asarray(0), inf)
    W, c, *_, k, step = jax.lax.while_loop(cond, body, state)
    return W, c - mean @ W, k, step


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _check_penalties(penalties) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in np.atleast_1d(np.asarray(penalties)))
    except (TypeError, ValueError):
        raise TypeError(
            f"penalties must be a sequence of numbers >= 0, got {penalties!r}"
        ) from None
    if not values or not all(math.isfinite(p) and p >= 0 for p in values):
        raise ValueError(
            f"penalties must be one or more finite numbers >= 0, got {values}"
        )
    return values


def _check_nonnegative(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def _preview(indices) -> str:
    indices = [int(i) for i in indices]
    return str(indices[:10])[:-1] + (", ...]" if len(indices) > 10 else "]")


def _check_constant(fires: np.ndarray, count: int, where: str) -> None:
    """Refuses neurons that fire in none or all of ``count`` transitions (no finite MLE)."""
    never = np.flatnonzero(fires == 0)
    always = np.flatnonzero(fires == count)
    if never.size or always.size:
        parts = []
        if never.size:
            parts.append(f"never fire: neurons {_preview(never)}")
        if always.size:
            parts.append(f"always fire: neurons {_preview(always)}")
        raise ValueError(
            f"{'; '.join(parts)} {where}. Their bias has no finite maximum-likelihood "
            "value (a logistic regression on a constant outcome diverges), and a "
            "constant neuron carries no flux: drop them (states[..., keep]) and fit "
            "the others"
        )


def _folds(T: int, num_folds: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, T, num_folds + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _default_tol(dtype) -> float:
    return 1e-9 if jnp.finfo(dtype).bits > 32 else 1e-5


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


def fit_network(
    states: Recording,
    *,
    penalties: float | int | Sequence[float | int] = DEFAULT_PENALTIES,
    l1_penalty: float | int = 0.0,
    num_folds: int = 5,
    tol: float | int | None = None,
    max_iterations: int = 2000,
    dtype=None,
) -> tuple[BinaryNetwork, FitDiagnostics]:
    """The maximum-likelihood kinetic Ising network of binary states, penalised.

    Maximises the log-likelihood of the transitions x_t -> x_{t+1} under
    P(x_{t+1, i} = 1 | x_t) = sigmoid(x_t . W[:, i] + b_i), minus an L2 penalty
    lambda/2 |W|^2 (and optionally lambda_1 |W|_1) on the weights, by n logistic
    regressions that share the design (1) of the module docstring. lambda is chosen
    from ``penalties`` by k-fold cross-validation over contiguous blocks of
    transitions (the sum over neurons of the held-out log-likelihood), then the
    network is fitted to all transitions with it.

    Temperature and noise are fixed (temperature 1, no noise): they are not
    identifiable apart from the scale of the weights, and every information measure
    is the same under the reparametrisation (T, T W, T b).

    The penalty is chosen for prediction, not for the flux: where T / n is below
    about 100 the chosen penalty shrinks the weights and the fit's flux is low
    (-10 ... -28 % measured at T / n = 50), and where it is too small for weak dense
    coupling the noise weights add flux (+73 % at n = 1000, T = 10^4);
    from T ~ 500 n on the flux of the fit was within 2.5 % on every network tried.
    For the flux, fit with a small penalty (``penalties=1.0``) and take
    :func:`bootstrap_flux`'s bias-corrected value - bias: within 1 % at T = 50 n on
    the E/I networks measured (benchmarks/README.md, "From recordings to flux").

    Memory: the transitions as bool, 2 T n bytes, plus O(n^2 + rows n) floats per
    solve (a Gram matrix, its Cholesky factor, the gradient, and chunks of 2^20
    floats). Time per iteration: 4 T n^2 flops (two passes of products with the
    design); (p + 1) k solves in all, each warm-started from the previous penalty.

    Args:
        states: binary states: ``(T, n)``, ``(trials, T, n)`` or a sequence of
            ``(T_k, n)`` trials (:func:`fluxjax.data.as_transitions`; no
            transition joins two trials).
        penalties: lambda >= 0 (one value: no choice is made, but the held-out
            diagnostics are still computed). lambda = 1 / C of scikit-learn.
        l1_penalty: lambda_1 >= 0 on |W|_1 (0: none).
        num_folds: k >= 2 contiguous blocks of transitions for cross-validation.
        tol: stop when no parameter moves by more than this in an iteration; default
            1e-5 in float32, 1e-9 in float64.
        max_iterations: the most iterations of one solve.
        dtype: the floating dtype of the fit; default JAX's default float.

    Returns:
        ``(net, diagnostics)``: the :class:`~fluxjax.BinaryNetwork` (temperature 1,
        no noise) and :class:`FitDiagnostics`.

    Raises:
        ValueError: NaN or non-binary states; fewer transitions than parameters per
            neuron (n + 1); neurons that never or always fire (in all transitions,
            or in a fold's training blocks), named in the message; bad options.
        TypeError: non-numeric states or options.

    Examples:
        >>> true = BinaryNetwork(jnp.array([[0.0, 2.0], [-2.0, 0.0]]), jnp.zeros(2))
        >>> x = simulate(true, jax.random.key(0), 20_000)
        >>> net, info = fit_network(x, penalties=1.0)
        >>> bool(jnp.allclose(net.weights, true.weights, atol=0.2))  # SE about 0.04
        True
        >>> info.deviance_explained.shape
        (2,)
    """
    pairs = as_transitions(states)
    dtype = default_float_dtype(dtype)
    penalties = _check_penalties(penalties)
    l1_penalty = _check_nonnegative(l1_penalty, "l1_penalty")
    num_folds = check_int(num_folds, "num_folds", minimum=2)
    max_iterations = check_int(max_iterations, "max_iterations", minimum=1)
    tol = _default_tol(dtype) if tol is None else _check_nonnegative(tol, "tol")
    T, n = pairs.states.shape
    if T < n + 1:
        raise ValueError(
            f"states hold {T} transitions, fewer than the n + 1 = {n + 1} parameters "
            "of each neuron's regression: record longer, or fit fewer neurons"
        )
    if num_folds > T:
        raise ValueError(f"num_folds must be at most T = {T}, got {num_folds}")
    y = np.asarray(pairs.next_states)
    _check_constant(y.sum(0), T, "in the transitions")
    folds = _folds(T, num_folds)
    fires = y.sum(0)
    trained = []  # (number of training transitions, spikes among them) per fold
    for k, (lo, hi) in enumerate(folds):
        trained.append((T - (hi - lo), fires - y[lo:hi].sum(0)))
        _check_constant(
            trained[-1][1],
            trained[-1][0],
            f"in the training blocks of fold {k} (all their events fall in "
            f"transitions {lo}..{hi - 1}); use fewer folds",
        )
    data = _layout(pairs)
    sparse = l1_penalty > 0
    l1 = jnp.asarray(l1_penalty, dtype)
    zeros = (jnp.zeros((n, n), dtype), jnp.zeros(n, dtype))
    held_out = np.zeros((len(penalties), n))
    means = [zeros] * len(penalties)  # the folds' mean fit per penalty: a warm start
    null = np.zeros(n)
    converged = True
    for k, (lo, hi) in enumerate(folds):
        test = jnp.zeros(T, dtype).at[lo:hi].set(1.0)
        train, test = _rows(1.0 - test, data), _rows(test, data)
        count, spikes = trained[k]
        logit = np.log(spikes) - np.log(count - spikes)  # the rate-only model
        null += np.asarray(
            _log_likelihood(zeros[0], jnp.asarray(logit, dtype), data, test)
        )
        start = zeros
        for p, penalty in enumerate(penalties):
            W, b, _, step = _solve(
                data, train, jnp.asarray(penalty, dtype), l1, *start, tol,
                max_iterations, sparse,
            )  # fmt: skip
            converged = converged and bool(step < tol)
            start = (W, b)
            means[p] = (means[p][0] + W / num_folds, means[p][1] + b / num_folds)
            held_out[p] += np.asarray(_log_likelihood(W, b, data, test))
    scores = held_out.sum(1)
    best = int(np.argmax(scores))
    ones = _rows(jnp.ones(T, dtype), data)
    W, b, iterations, step = _solve(
        data, ones, jnp.asarray(penalties[best], dtype), l1, *means[best], tol,
        max_iterations, sparse,
    )  # fmt: skip
    converged = converged and bool(step < tol)
    diagnostics = FitDiagnostics(
        penalty=penalties[best],
        l1_penalty=l1_penalty,
        penalties=jnp.asarray(penalties, dtype),
        cv_log_likelihood=jnp.asarray(scores / (T * _LN2), dtype),
        held_out_log_likelihood=jnp.asarray(held_out[best] / (T * _LN2), dtype),
        null_log_likelihood=jnp.asarray(null / (T * _LN2), dtype),
        deviance_explained=jnp.asarray(1.0 - held_out[best] / null, dtype),
        converged=converged,
        iterations=int(iterations),
        num_transitions=T,
        num_folds=num_folds,
    )
    return BinaryNetwork(W, b, dtype=dtype), diagnostics


# ---------------------------------------------------------------------------
# Uncertainty: the block bootstrap
# ---------------------------------------------------------------------------


def default_flux(net: BinaryNetwork, key: PRNGKeyArray) -> Float[Array, ""]:
    """The flux of a (fitted) network in bits: exact for n <= 12, else the estimate.

    ``fj.exact_flux(net)`` for n <= :data:`MAX_EXACT_FLUX_NEURONS`; otherwise the
    jackknifed large-n estimate U1 - TC_G of ``fj.moment_flux_stderr(net, key,
    max(10^5, 100 n))`` (its sampling noise, about 0.2-1 %, then adds to a bootstrap's
    spread).

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))
        >>> abs(float(default_flux(net, jax.random.key(0)))) < 1e-6
        True
    """
    check_network(net)
    if net.num_neurons <= MAX_EXACT_FLUX_NEURONS:
        return exact_flux(net)
    steps = max(10**5, 100 * net.num_neurons)
    return moment_flux_stderr(net, key, steps).value


def _bootstrap_fits(states, net, diagnostics, key, num_replicates, block_length):
    """Checks the arguments; returns (a generator of (fit, key, converged), l).

    Replicate r draws its blocks with ``split(fold_in(key, r))[0]`` and hands the
    other half of the split to the caller.
    """
    check_network(net)
    check_key(key)
    pairs = _transitions_for(states, net)
    T = pairs.states.shape[0]
    num_replicates = check_int(num_replicates, "num_replicates", minimum=2)
    if block_length is None:
        block_length = max(1, round(T ** (1 / 3)))
    block_length = check_int(block_length, "block_length", minimum=1)
    if block_length > T:
        raise ValueError(f"block_length must be at most T = {T}, got {block_length}")
    dtype = net.weights.dtype
    data = _layout(pairs)
    num_blocks = -(-T // block_length)
    block_of = jnp.arange(T) // block_length
    tol = _default_tol(dtype)
    penalty = jnp.asarray(diagnostics.penalty, dtype)
    l1 = jnp.asarray(diagnostics.l1_penalty, dtype)
    sparse = diagnostics.l1_penalty > 0

    def fits():
        for r in range(num_replicates):
            draw_key, other_key = jr.split(jr.fold_in(key, r))
            chosen = jr.randint(draw_key, (num_blocks,), 0, num_blocks)
            counts = jnp.zeros(num_blocks, dtype).at[chosen].add(1.0)
            weights = _rows(counts[block_of], data)
            W, b, _, step = _solve(
                data, weights, penalty, l1, net.weights, net.biases, tol, 2000, sparse
            )
            yield BinaryNetwork(W, b), other_key, bool(step < tol)

    return fits(), block_length


def _transitions_for(states, net: BinaryNetwork) -> Transitions:
    """The transitions of ``states``, which must hold ``net``'s neurons."""
    pairs = as_transitions(states)
    n = pairs.states.shape[1]
    if n != net.num_neurons:
        raise ValueError(f"states have n = {n} neurons, the network {net.num_neurons}")
    return pairs


def bootstrap_flux(
    states: Recording,
    net: BinaryNetwork,
    diagnostics: FitDiagnostics,
    *,
    key: PRNGKeyArray,
    num_replicates: int = 50,
    block_length: int | None = None,
    flux: Callable[[BinaryNetwork, PRNGKeyArray], ArrayLike] = default_flux,
) -> FluxBootstrap:
    """The flux of a fitted network with a block-bootstrap standard error, in bits.

    The T transitions are cut into contiguous blocks of length l (default
    round(T^(1/3)), Hall, Horowitz & Jing 1995); a replicate draws T / l blocks with
    replacement (a transition drawn c times has weight c in (1)), is refitted with
    the penalties of ``diagnostics`` (warm-started from ``net``), and its flux is
    ``flux(fit, key)``. With the default ``flux``, the fit's own flux is
    :func:`fluxjax.flux` of it, which also gives the estimator's known systematic
    error. The spread of the replicates' fluxes is the standard error of
    the fitted flux, the error of the fit included; their mean minus the fit's flux
    estimates the fit's bias from the noise of the fitted weights (not the shrinkage
    of the penalty, which every replicate shares): with a small penalty, value - bias
    is the estimate to report. :attr:`FluxBootstrap.interval` adds the estimator's
    systematic error to value +- 1.96 SE.

    Args:
        states: the states that ``net`` was fitted to (as :func:`fit_network`).
        net: the fitted network.
        diagnostics: its :class:`FitDiagnostics` (the penalties).
        key: PRNG key, split into ``value_key`` (the flux of ``net`` itself; unused
            by the exact flux) and ``replicate_key``: ``fold_in(replicate_key, r)``
            draws replicate r and keys its flux.
        num_replicates: B >= 2.
        block_length: l in 1 ... T; default round(T^(1/3)).
        flux: ``(net, key) -> bits``; default :func:`default_flux`.

    Returns:
        A :class:`FluxBootstrap`.

    Raises:
        ValueError: states that do not match ``net``, or bad options.
        TypeError: a key that is not a PRNG key, or a flux that is not callable.

    Examples:
        >>> true = BinaryNetwork(jnp.array([[0.0, 2.0], [-2.0, 0.0]]), jnp.zeros(2))
        >>> x = simulate(true, jax.random.key(0), 20_000)
        >>> net, info = fit_network(x, penalties=1.0)
        >>> boot = bootstrap_flux(x, net, info, key=jax.random.key(1), num_replicates=10)
        >>> bool(abs(boot.value - exact_flux(true)) < 4 * boot.stderr)
        True
    """
    if not callable(flux):
        raise TypeError(f"flux must be a callable (net, key) -> bits, got {flux!r}")
    value_key, replicate_key = jr.split(key)
    fits, block_length = _bootstrap_fits(
        states, net, diagnostics, replicate_key, num_replicates, block_length
    )
    if flux is default_flux:
        front = front_door(net, value_key)
        value, systematic = (
            jnp.asarray(front.value, net.weights.dtype),
            front.systematic,
        )
    else:
        value, systematic = jnp.asarray(flux(net, value_key)), (0.0, 0.0)
    replicates, converged = [], []
    for fit, flux_key, ok in fits:
        replicates.append(jnp.asarray(flux(fit, flux_key)))
        converged.append(ok)
    replicates = jnp.stack(replicates).astype(value.dtype)
    return FluxBootstrap(
        value=value,
        stderr=jnp.std(replicates, ddof=1),
        bias=jnp.mean(replicates) - value,
        replicates=replicates,
        block_length=block_length,
        converged=jnp.asarray(converged),
        systematic=systematic,
    )


# ---------------------------------------------------------------------------
# The data-driven estimate
# ---------------------------------------------------------------------------


def _entropy(p: Array) -> Array:
    """h(p) in nats, 0 at p = 0 and 1."""
    return entr(p) + entr(1 - p)


def _blocks(pairs: Transitions, num_blocks: int) -> tuple[_Data, Array]:
    """The transitions in ``num_blocks`` contiguous blocks, each padded to whole chunks.

    Returns the data ``(G * chunks, rows, n)`` and the row weights (1, or 0 for
    padding) ``(G * chunks, rows)``.
    """
    T, n = pairs.states.shape
    edges = [lo for lo, _ in _folds(T, num_blocks)] + [T]
    longest = max(hi - lo for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    rows = max(1, min(longest, _CHUNK_ELEMENTS // n))
    length = -(-longest // rows) * rows

    def padded(a, lo, hi):
        return jnp.concatenate([a[lo:hi], jnp.zeros((length - (hi - lo), n), bool)])

    def blocked(a):
        parts = [
            padded(a, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        return jnp.concatenate(parts).reshape(-1, rows, n)

    weights = jnp.concatenate(
        [
            (jnp.arange(length) < hi - lo).astype(jnp.asarray(0.0).dtype)
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    ).reshape(-1, rows)
    return _Data(blocked(pairs.states), blocked(pairs.next_states), T), weights


@eqx.filter_jit
def _data_flux(net: BinaryNetwork, data: _Data, weights: Array, num_blocks: int):
    """The jackknifed U1 - TC_G and its SE, in nats, over ``num_blocks`` blocks."""
    dtype = net.weights.dtype
    n = net.num_neurons

    def chunk(x, y, s):
        y = y.astype(dtype)
        p = net.firing_prob(x)
        return jnp.sum(s), s @ y, s @ _entropy(p), (y * s[:, None]).T @ y

    init = (
        jnp.zeros((), dtype),
        jnp.zeros(n, dtype),
        jnp.zeros(n, dtype),
        jnp.zeros((n, n), dtype),
    )
    split = lambda a: a.reshape(num_blocks, -1, *a.shape[1:])
    sums = jax.lax.map(
        lambda xs: _scan_sum(chunk, init, xs),
        (split(data.x), split(data.y), split(weights.astype(dtype))),
    )
    return jackknife(sums, lambda total: _data_phi(*total))


def _data_phi(count, first, conditional, second):
    """U1 - TC_G in nats from sums over transitions."""
    m = first / count
    u1 = jnp.sum(_entropy(m) - conditional / count)
    covariance = second / count - jnp.outer(m, m)
    return u1 + 0.5 * log_det_correlation(covariance, jnp.diagonal(covariance))


def data_flux(
    states: Recording,
    net: BinaryNetwork,
    *,
    num_blocks: int = 20,
) -> Estimate:
    """The flux U1 - TC_G from the data's own moments and the fit's conditionals, in bits.

    The large-n decomposition of :mod:`fluxjax.info.moments`, I = U1 - TC, evaluated
    on the recording instead of a simulation of the fit:

        U1 = sum_i [h(m_i) - <h(p_i(x_t))>],   TC_G = -1/2 log det R,

    with m_i the data's firing rates (of the next states), p_i the fitted firing
    probabilities at the recorded states, and R the data's equal-time correlation
    matrix. Jackknifed over ``num_blocks`` contiguous blocks (the log-det's O(n^2 /
    T) bias removed), with the jackknife standard error. It needs no simulation of
    the fit; for stationary kinetic Ising data it agrees with the model's estimate
    (``fj.moment_flux_stderr(net, ...)``), and a disagreement beyond a few standard
    errors flags data that the fitted model does not describe (non-stationarity,
    hidden inputs, a different update rule).

    Args:
        states: the recorded states (as :func:`fit_network`).
        net: the network fitted to them.
        num_blocks: G >= 2 contiguous blocks for the jackknife.

    Returns:
        ``Estimate(value, stderr)`` in bits.

    Raises:
        ValueError: states that do not match ``net``, or a neuron that is constant.

    Examples:
        >>> true = BinaryNetwork(jnp.array([[0.0, 2.0], [-2.0, 0.0]]), jnp.zeros(2))
        >>> x = simulate(true, jax.random.key(0), 20_000)
        >>> net, _ = fit_network(x, penalties=1.0)
        >>> estimate = data_flux(x, net)
        >>> bool(abs(estimate.value - exact_flux(true)) < 0.05)
        True
    """
    check_network(net)
    pairs = _transitions_for(states, net)
    T = pairs.states.shape[0]
    num_blocks = check_int(num_blocks, "num_blocks", minimum=2)
    if num_blocks > T:
        raise ValueError(f"num_blocks must be at most T = {T}, got {num_blocks}")
    _check_constant(np.asarray(pairs.next_states).sum(0), T, "in the transitions")
    data, weights = _blocks(pairs, num_blocks)
    value, stderr = _data_flux(net, data, weights, num_blocks)
    return Estimate(value / _LN2, stderr / _LN2)


# ---------------------------------------------------------------------------
# Is the recorded circuit at its flux optimum?
# ---------------------------------------------------------------------------


class FluxOptimality(NamedTuple):
    """The flux of a fitted network at three settings of its biases, in bits.

    Each field is an :class:`~fluxjax.Estimate`: the value for the fit to all
    transitions and, as its standard error, the SD over block-bootstrap refits (each
    refit's biases optimised anew). Distances are root-mean-square differences of
    the biases per neuron, in the units of the fitted weights.

    Attributes:
        fitted: the flux at the fitted biases.
        half_firing: at the 50 %-firing biases b_i = -sum_j W[j, i] / 2.
        optimized: at the biases that gradient ascent reaches from the fitted ones.
        gain: optimized - fitted, the flux the circuit could gain by its biases.
        distance_to_half_firing: RMS(b_fit - b_half).
        distance_to_optimized: RMS(b_fit - b_opt).
        optimized_biases: ``(n,)`` the optimised biases of the fit to all data.
    """

    fitted: Estimate
    half_firing: Estimate
    optimized: Estimate
    gain: Estimate
    distance_to_half_firing: Estimate
    distance_to_optimized: Estimate
    optimized_biases: Float[Array, " n"]


def _optimality_row(net, key, objective, steps, optimizer):
    """(fluxes at fitted, half-firing, optimised biases; distances; optimised b)."""
    fit_key, half_key, ascent_key, opt_key = jr.split(key, 4)
    half_biases = net.half_firing_biases()
    half = eqx.tree_at(lambda m: m.biases, net, half_biases)
    optimized, _ = optimize_biases(
        net, ascent_key, objective, steps=steps, optimizer=optimizer
    )
    rms = lambda d: jnp.sqrt(jnp.mean(d**2))
    values = jnp.stack(
        [
            jnp.asarray(objective(net, fit_key)),
            jnp.asarray(objective(half, half_key)),
            jnp.asarray(objective(optimized, opt_key)),
            rms(net.biases - half_biases),
            rms(net.biases - optimized.biases),
        ]
    )
    return values, optimized.biases


def flux_optimality(
    states: Recording,
    net: BinaryNetwork,
    diagnostics: FitDiagnostics,
    *,
    key: PRNGKeyArray,
    objective: Callable[[BinaryNetwork, PRNGKeyArray], ArrayLike],
    steps: int = 200,
    optimizer=None,
    num_replicates: int = 20,
    block_length: int | None = None,
) -> FluxOptimality:
    """Is the recorded circuit at its flux optimum? Fitted, 50 %-firing and best biases.

    For the fitted network, and for each block-bootstrap refit (as in
    :func:`bootstrap_flux`), evaluates ``objective`` at the fitted biases, at the
    50 %-firing biases (:meth:`~fluxjax.BinaryNetwork.half_firing_biases`) and at the
    biases that ``fj.optimize_biases(net, key, objective, steps=steps)`` reaches from
    the fitted ones (a local optimum; the weights stay as fitted), and the RMS
    distances of the fitted biases from the other two. The SEs are the SDs over the
    refits, so they include the error of the fit.

    Args:
        states: the states that ``net`` was fitted to.
        net: the fitted network.
        diagnostics: its :class:`FitDiagnostics` (the penalties of the refits).
        key: PRNG key (split between the fit's row and the replicates).
        objective: ``(net, key) -> bits`` to evaluate and climb, e.g.
            ``lambda net, key: fj.exact_flux(net)`` (n <= 14) or
            ``functools.partial(fj.soft_flux, steps=10_000)``.
        steps: gradient-ascent steps per network.
        optimizer: an optax transformation for the ascent (default
            ``optax.adam(0.05)``).
        num_replicates: B >= 2 bootstrap refits.
        block_length: the bootstrap's block length (default round(T^(1/3))).

    Returns:
        A :class:`FluxOptimality`.

    Raises:
        ValueError, TypeError: as :func:`bootstrap_flux`, or an objective that is
            not callable.

    Examples:
        >>> true = BinaryNetwork(jnp.array([[0.0, 2.0], [-2.0, 0.0]]), jnp.ones(2))
        >>> x = simulate(true, jax.random.key(0), 20_000)
        >>> net, info = fit_network(x, penalties=1.0)
        >>> exact = lambda net, key: exact_flux(net)
        >>> result = flux_optimality(
        ...     x, net, info, key=jax.random.key(1), objective=exact, steps=50,
        ...     num_replicates=2,
        ... )
        >>> bool(result.optimized.value >= result.fitted.value)
        True
    """
    if not callable(objective):
        raise TypeError(
            f"objective must be a callable (net, key) -> bits, got {objective!r}"
        )
    steps = check_int(steps, "steps", minimum=1)
    row_key, replicate_key = jr.split(key)
    fits, _ = _bootstrap_fits(
        states, net, diagnostics, replicate_key, num_replicates, block_length
    )
    values, optimized_biases = _optimality_row(
        net, row_key, objective, steps, optimizer
    )
    rows = jnp.stack(
        [
            _optimality_row(fit, fit_key, objective, steps, optimizer)[0]
            for fit, fit_key, _ in fits
        ]
    )
    stderr = jnp.std(rows, axis=0, ddof=1)
    gain = rows[:, 2] - rows[:, 0]
    estimate = lambda k: Estimate(values[k], stderr[k])
    return FluxOptimality(
        fitted=estimate(0),
        half_firing=estimate(1),
        optimized=estimate(2),
        gain=Estimate(values[2] - values[0], jnp.std(gain, ddof=1)),
        distance_to_half_firing=estimate(3),
        distance_to_optimized=estimate(4),
        optimized_biases=optimized_biases,
    )
