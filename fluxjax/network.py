"""The stochastic binary network model.

Model (design card; Metzner et al. 2026, Eq. 1): for a state x_t in {0, 1}^n,

    u_i = (sum_j x_j W[j, i] + b_i + d_i(t)) / T_i + sigma_i * xi_i,  xi_i ~ N(0, 1),
    P(x_{t+1, i} = 1 | x_t) = sigmoid(u_i),

with ``W[j, i]`` the weight from neuron j to neuron i (rows presynaptic), ``T`` the
temperature (the paper's t0, applied before the noise) and ``sigma`` the noise. The
optional external drive d(t) (an input sequence through input weights, see
:class:`fluxjax.reservoir.Reservoir`, or a recorded input field) enters like a bias:
in the units of the weights, before the temperature divides and the noise is added.
A free-running network has d = 0.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import scipy.sparse
from jax.scipy.special import logsumexp
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Shaped, UInt32

from ._checks import ArrayOrSequence, as_float_array, check_finite, is_concrete


# E[f(sigma * xi)], xi ~ N(0, 1), by the trapezoidal rule on [-9, 9] (the Gaussian
# tail beyond 9 is < 1e-18) with K nodes. For f = sigmoid it converges like
# exp(-2 pi^2 / (sigma h)) (poles at distance pi / sigma from the real axis, h the
# node spacing), so each halving of h doubles the noise it resolves. K = 257,
# measured against adaptive quadrature: |error| < 1e-15 for sigma <= 5, < 1e-12 for
# sigma <= 10, < 1e-8 for sigma <= 15 (tests/test_network.py). A network uses the
# fewest nodes whose rule agrees with K = 257 for its largest sigma: log-probabilities
# within 3e-12 and probabilities within 1e-15 for means m in [-40, 20] (measured,
# tests/test_network.py), so fewer nodes change no result, and a small noise costs
# 8 times fewer sigmoids.
NOISE_NODE_COUNTS = (33, 65, 129, 257)
"""The node counts K of the noise integral; a noisy network's probabilities cost K sigmoids."""
NOISE_NODE_LIMITS = (0.75, 1.5, 2.5, math.inf)
"""The largest noise sigma that each of :data:`NOISE_NODE_COUNTS` serves."""
NUM_NOISE_NODES = NOISE_NODE_COUNTS[-1]
"""The most nodes of the noise integral (any sigma; a noise traced at construction)."""


MAX_DENSE_BYTES = 2**34
"""The largest dense weight matrix a sparse one is converted to (16 GiB)."""


def dense_weights(weights):
    """``weights`` as a dense array if it is a ``scipy.sparse`` matrix, else unchanged.

    fluxjax stores weights dense (the update is one n x n product per state), so a
    sparse connectome takes n^2 floats once converted; a matrix above
    :data:`MAX_DENSE_BYTES` in float32 is refused rather than allocated.
    """
    if not scipy.sparse.issparse(weights):
        return weights
    check_dense_size(*weights.shape, "weights (scipy.sparse)")
    return weights.toarray()


def check_dense_size(rows: int, columns: int, what: str) -> None:
    """Refuses a rows x columns matrix whose dense float32 form exceeds the limit."""
    size = rows * columns * 4
    if size > MAX_DENSE_BYTES:
        raise ValueError(
            f"{what} is a {rows} x {columns} matrix; fluxjax stores weights dense, "
            f"which would take {size / 2**30:.1f} GiB dense in float32 (the limit is "
            f"{MAX_DENSE_BYTES / 2**30:.0f} GiB)"
        )


@functools.cache
def _noise_rule(num_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trapezoidal rule's nodes nu_k, weights w_k and log w_k on [-9, 9]."""
    nodes = np.linspace(-9.0, 9.0, num_nodes)
    weights = np.exp(-0.5 * nodes**2) * (nodes[1] - nodes[0])
    weights[[0, -1]] /= 2
    weights /= math.sqrt(2 * math.pi)
    return nodes, weights, np.log(weights)


def _noise_rule_of(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A noisy network's rule; the most nodes if its noise was set without a count."""
    return _noise_rule(net.noise_nodes or NUM_NOISE_NODES)


def _fewest_noise_nodes(noise: ArrayLike) -> int:
    """The fewest nodes of :data:`NOISE_NODE_COUNTS` that serve every sigma in ``noise``."""
    top = float(np.max(np.asarray(noise)))
    return next(
        k
        for k, limit in zip(NOISE_NODE_COUNTS, NOISE_NODE_LIMITS, strict=True)
        if top <= limit
    )


class BinaryNetwork(eqx.Module):
    """A recurrent network of stochastic binary neurons with synchronous updates.

    Attributes:
        weights: ``(n, n)``; ``weights[j, i]`` is the synapse from neuron j to neuron i.
        biases: ``(n,)`` biases b_i, in the same units as the weights.
        temperature: scalar or ``(n,)``; divides the summed input (the paper's t0).
        noise: scalar or ``(n,)``; SD sigma of the Gaussian noise added after dividing,
            or None for a noiseless network. Noiselessness is structure, decided at
            construction (like ``eqx.nn.Linear``'s ``bias=None``): a concrete noise that
            is zero for every neuron is stored as None, so every function, jitted by
            fluxjax or by the caller, skips the Gaussian draws and the noise integral.
            Nothing is lost: the flux is even in sigma, so its derivative at sigma = 0
            is zero.
        noise_nodes: the nodes K of the noise integral (structure, like
            ``noise is None``): the fewest of :data:`NOISE_NODE_COUNTS` that serve the
            largest sigma (:data:`NOISE_NODE_LIMITS`), the most for a noise traced at
            construction; None for a noiseless network. ``eqx.tree_at`` keeps it: a
            larger noise set that way is refused by every fluxjax function; build
            the network anew instead.

    Examples:
        >>> net = BinaryNetwork(jnp.array([[0.0, 2.0], [-1.0, 0.0]]), jnp.zeros(2))
        >>> p = net.firing_prob(jnp.array([1.0, 0.0]))  # sigmoid([0, 2])
        >>> p.dtype, [round(float(v), 3) for v in p]
        (dtype('float32'), [0.5, 0.881])
    """

    weights: Float[Array, "n n"]
    biases: Float[Array, " n"]
    temperature: Float[Array, "*n"]
    noise: Float[Array, "*n"] | None
    noise_nodes: int | None = eqx.field(static=True)

    def __init__(
        self,
        weights: ArrayOrSequence | scipy.sparse.sparray | scipy.sparse.spmatrix,
        biases: ArrayOrSequence,
        temperature: ArrayOrSequence = 1.0,
        noise: ArrayOrSequence | None = None,
        *,
        dtype=None,
        noise_nodes: int | None = None,
    ):
        """Builds a network, validating shapes and values.

        Args:
            weights: ``(n, n)`` real, finite; rows are presynaptic. A
                ``scipy.sparse`` matrix is converted to a dense array (n^2 floats:
                0.4 GB at n = 10^4 in float32; see :func:`dense_weights`).
            biases: ``(n,)`` real, finite, or a scalar shared by every neuron.
            temperature: scalar or ``(n,)``, every entry > 0.
            noise: scalar or ``(n,)``, every entry >= 0; None (or zero) for none.
            dtype: floating dtype of every field; default: the dtype of ``weights``
                if it is floating, else JAX's default float.
            noise_nodes: the nodes of the noise integral, one of
                :data:`NOISE_NODE_COUNTS` that serves the noise; default: the fewest.

        Raises:
            ValueError: wrong shapes, non-finite values, temperature <= 0, noise < 0,
                or a ``noise_nodes`` that does not serve the noise.
            TypeError: non-numeric input.
        """
        if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        weights = as_float_array(dense_weights(weights), "weights", dtype)
        dtype = weights.dtype
        biases = as_float_array(biases, "biases", dtype)
        if biases.ndim == 0 and weights.ndim == 2:  # one bias for every neuron
            biases = jnp.full(weights.shape[:1], biases)
        temperature = as_float_array(temperature, "temperature", dtype)
        noise = None if noise is None else as_float_array(noise, "noise", dtype)
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(
                f"weights must be square (n, n), got shape {weights.shape}"
            )
        n = weights.shape[0]
        if n == 0:
            raise ValueError("weights must describe at least one neuron, got n = 0")
        if biases.shape != (n,):
            raise ValueError(f"biases must have shape ({n},), got {biases.shape}")
        for name, value in (("temperature", temperature), ("noise", noise)):
            if value is not None and value.shape not in ((), (n,)):
                raise ValueError(
                    f"{name} must be a scalar or have shape ({n},), got {value.shape}"
                )
        check_finite(weights, "weights")
        check_finite(biases, "biases")
        check_finite(temperature, "temperature", positive=True)
        if noise is not None:
            check_finite(noise, "noise", nonnegative=True)
            if is_concrete(noise) and not np.any(np.asarray(noise)):
                noise = None  # zero noise: a noiseless network (structure)
        self.weights = weights
        self.biases = biases
        self.temperature = temperature
        self.noise = noise
        self.noise_nodes = _checked_noise_nodes(noise_nodes, noise)

    @classmethod
    def from_bipolar(
        cls,
        weights: ArrayOrSequence,
        biases: ArrayOrSequence,
        temperature: ArrayOrSequence = 1.0,
        noise: ArrayOrSequence = 0.0,
        *,
        dtype=None,
    ) -> "BinaryNetwork":
        """The network of the predecessors' bipolar (+-1 input) convention, exactly.

        There a neuron in state x_j in {0, 1} sends s_j = 2 x_j - 1 in {-1, +1}, so

            u_i = (sum_j s_j W[j, i] + b_i) / T_i + sigma_i xi_i
                = (sum_j x_j 2 W[j, i] + b_i - sum_j W[j, i]) / T_i + sigma_i xi_i,

        the unipolar network with weights 2 W and biases b - W.sum(0) (column sums),
        the same temperature T and noise sigma. The states, and so every information
        measure, are the same.

        Args:
            weights: ``(n, n)`` bipolar weights, rows presynaptic.
            biases: ``(n,)`` bipolar biases.
            temperature: scalar or ``(n,)``, every entry > 0.
            noise: scalar or ``(n,)``, every entry >= 0.
            dtype: as for the constructor.

        Returns:
            The equivalent :class:`BinaryNetwork` (0/1 states).

        Raises:
            ValueError: as the constructor (shapes, non-finite values, ranges).

        Examples:
            >>> W = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
            >>> net = BinaryNetwork.from_bipolar(W, jnp.zeros(2))
            >>> net.weights.tolist(), net.biases.tolist()
            ([[0.0, 2.0], [-2.0, 0.0]], [1.0, -1.0])
            >>> p = net.firing_prob(jnp.array([1.0, 0.0]))  # s = (1, -1): u = (1, 1)
            >>> [round(float(v), 3) for v in p]
            [0.731, 0.731]
        """
        weights = as_float_array(weights, "weights", dtype)
        biases = as_float_array(biases, "biases", weights.dtype)
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(
                f"weights must be square (n, n), got shape {weights.shape}"
            )
        if weights.shape[0] == 0:
            raise ValueError("weights must describe at least one neuron, got n = 0")
        if biases.shape != weights.shape[:1]:
            raise ValueError(
                f"biases must have shape ({weights.shape[0]},), got {biases.shape}"
            )
        return cls(
            2 * weights, biases - weights.sum(0), temperature, noise, dtype=dtype
        )

    @property
    def num_neurons(self) -> int:
        """The number of neurons n."""
        return self.weights.shape[-1]

    def mean_input(
        self,
        x: Shaped[ArrayLike, "*batch n"],
        drive: Float[ArrayLike, "*#batch n"] | None = None,
    ) -> Float[Array, "*batch n"]:
        """The noise-free input m = (x @ W + b + d) / T for states ``x`` (any 0/1 dtype).

        ``drive`` is an optional external input field d, broadcast against the states.
        """
        return _scaled_input(self, recurrent_input(self, jnp.asarray(x)), drive)

    def firing_prob(
        self,
        x: Shaped[ArrayLike, "*batch n"],
        drive: Float[ArrayLike, "*#batch n"] | None = None,
    ) -> Float[Array, "*batch n"]:
        """P(x_{t+1, i} = 1 | x_t = x, d_t) = E_xi[sigmoid(m_i + sigma_i xi)].

        m = :meth:`mean_input` (with the drive d, if given) and xi ~ N(0, 1). The
        logistic-normal integral is computed by a trapezoidal rule with
        ``noise_nodes`` nodes: |error| < 1e-12 for sigma <= 10 (measured; see the
        module constants).
        Differentiable in every field. A noiseless network (``noise is None``) skips
        the integral: sigmoid(m_i).
        """
        return _logistic_normal(self.mean_input(x, drive), self)

    def silent_prob(self, x: Shaped[ArrayLike, "*batch n"]) -> Float[Array, "*batch n"]:
        """1 - firing_prob(x), computed without cancellation when firing_prob ~ 1."""
        return _logistic_normal(-self.mean_input(x), self)

    def log_probs(
        self, x: Shaped[ArrayLike, "*batch n"]
    ) -> tuple[Float[Array, "*batch n"], Float[Array, "*batch n"]]:
        """The logs of P(x'_i = 1 | x) and P(x'_i = 0 | x), stably, in nats.

        The same trapezoidal rule as :meth:`firing_prob`, in the log domain:
        log E[sigmoid(m + sigma xi)] = logsumexp_k(log w_k + log sigmoid(m + sigma nu_k));
        plain log-sigmoids for a noiseless network.
        """
        return _log_probs_of_mean(self, self.mean_input(x))

    def half_firing_biases(self) -> Float[Array, " n"]:
        """The 50 %-firing biases b_i = -sum_j W[j, i] / 2.

        With them every neuron's input is odd under x -> 1 - x, the symmetry whose fixed
        point is a critical point of every flux measure (and, for symmetric statistics,
        the firing rate 1/2 that the local rule of :func:`fluxjax.self_organize` seeks).
        """
        return -jnp.sum(self.weights, axis=0) / 2

    def step(
        self, key: PRNGKeyArray, x: Shaped[ArrayLike, "*batch n"]
    ) -> Bool[Array, "*batch n"]:
        """One synchronous update: neuron i fires with probability sigmoid(u_i).

        The draws are those of :func:`draw_randomness` for ``step=0``.

        Args:
            key: the PRNG key for this update's noise and Bernoulli draws.
            x: current states, ``(..., n)``, bool or 0/1.

        Returns:
            The next states, bool, same shape as ``x``.
        """
        draws = draw_randomness(key, 0, jnp.shape(x), self)
        return update(self, jnp.asarray(x), *draws)


# --- The randomness of one update --------------------------------------------------
#
# Every random number of a simulation is a Threefry-2x32-20 hash (Salmon et al. 2011,
# the generator behind jax.random) of a counter. With the 64-bit stream key
# (k0, k1) = jax.random.bits(key, (2,), uint32), update number ``step`` gives neuron i
# of a state (row r of a batch of states (..., n)) the two words
#
#     (w0, w1) = threefry2x32((k0, k1), (step, r * n + i)):
#
# w0 decides the Bernoulli draw (through L = logit(U), U = (w0 + 1/2) 2^-32) and w1 is
# the Gaussian noise xi (drawn only for networks with noise). The Bernoulli words never
# depend on whether xi is drawn, so a noiseless network gives the same trajectory with
# or without it. The hash is written out so that XLA fuses it into one vectorised
# loop: about ten times faster on CPU than jax.random, whose CPU lowering is a rolled
# loop over the rounds.

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def stream_key(key: PRNGKeyArray) -> UInt32[Array, "2"]:
    """The two 32-bit words of the Threefry stream of ``key``: bits(key, (2,), uint32).

    Works for every ``jax.random`` key implementation; consumes ``key``.
    """
    return jr.bits(key, (2,), jnp.uint32)


def threefry2x32(k0, k1, x0, x1) -> tuple[Array, Array]:
    """The Threefry-2x32 hash with 20 rounds of the counter (x0, x1) under key (k0, k1).

    Bit-identical to ``jax.extend.random.threefry_2x32`` (tests/test_simulate.py), but
    written out with constant rotations so that XLA fuses it into one vectorised loop.
    Arguments are uint32 arrays that broadcast together.

    References:
        Salmon, Moraes, Dror & Shaw (2011), "Parallel random numbers: as easy as
        1, 2, 3", SC '11, Section 4 (Threefry).
    """
    k0, k1, x0, x1 = (jnp.asarray(v, jnp.uint32) for v in (k0, k1, x0, x1))
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << jnp.uint32(r)) | (x1 >> jnp.uint32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def random_words(
    stream: UInt32[Array, "2"],
    step: ArrayLike,
    shape: tuple[int, ...],
    *,
    num_steps: int | None = None,
) -> tuple[UInt32[Array, "..."], UInt32[Array, "..."]]:
    """The Bernoulli words w0 and the Gaussian words w1 of update ``step``.

    Args:
        stream: the stream key, see :func:`stream_key`.
        step: the update's number (a uint32 scalar).
        shape: ``(..., n)``, the shape of the states.
        num_steps: if given, the words of the updates ``step, ..., step +
            num_steps - 1`` along a new leading axis.

    Returns:
        ``(w0, w1)``, uint32, each of shape ``shape`` (or ``(num_steps, *shape)``).
    """
    size = math.prod(shape)
    # One flat counter axis, so that XLA vectorises over all of it whatever n is.
    e = jnp.arange((num_steps or 1) * size, dtype=jnp.uint32)
    step = jnp.asarray(step, jnp.uint32) + e // jnp.uint32(size)
    w0, w1 = threefry2x32(stream[0], stream[1], step, e % jnp.uint32(size))
    out_shape = shape if num_steps is None else (num_steps, *shape)
    return w0.reshape(out_shape), w1.reshape(out_shape)


def logistic_from_words(words: UInt32[ArrayLike, "*shape"], dtype) -> Array:
    """L = logit(U) with U = (w + 1/2) 2^-32, a Logistic(0, 1) variate per 32-bit word.

    Computed from the nearer end of (0, 1), L = +-log(s / (2^32 - s)) with
    s = min(w, 2^32 - 1 - w) + 1/2, so both tails keep the full 32-bit resolution:
    P(L < u) is within 2^-33 of sigmoid(u) for every u (plus rounding of u).
    """
    words = jnp.asarray(words, jnp.uint32)
    upper = words >= jnp.uint32(1 << 31)
    s = jnp.where(upper, ~words, words).astype(jnp.int32).astype(dtype) + 0.5
    magnitude = jnp.log(s / (jnp.asarray(2.0**32, dtype) - s))
    return jnp.where(upper, -magnitude, magnitude)


# Giles (2010), "Approximating the erfinv function", GPU Computing Gems Jade Edition,
# Ch. 10: the single-precision erfinv, two polynomials in w = -log(1 - v^2).
_ERFINV_CENTRAL = (
    2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
    -0.00125372503, -0.00417768164, 0.246640727, 1.50140941,
)  # fmt: skip
_ERFINV_TAIL = (
    -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
    -0.0076224613, 0.00943887047, 1.00167406, 2.83297682,
)  # fmt: skip


def _erfinv_float32(v: Array) -> Array:
    """Giles' single-precision erfinv: relative error < 3e-7 on the grid of v used here.

    A plain polynomial, which XLA vectorises inside a large fusion on CPU (there
    ``lax.erf_inv`` can cost 20 ns per element); tests/test_simulate.py checks it.
    """
    w = -jnp.log((1.0 - v) * (1.0 + v))
    central, tail = w - 2.5, jnp.sqrt(w) - 3.0
    p, q = jnp.full_like(v, _ERFINV_CENTRAL[0]), jnp.full_like(v, _ERFINV_TAIL[0])
    for a, b in zip(_ERFINV_CENTRAL[1:], _ERFINV_TAIL[1:], strict=True):
        p, q = a + p * central, b + q * tail
    return jnp.where(w < 5.0, p, q) * v


def gaussian_from_words(words: UInt32[ArrayLike, "*shape"], dtype) -> Array:
    """A N(0, 1) variate xi = sqrt(2) erfinv(v) per word, v uniform in (-1, 1).

    v = (2m + 1) 2^-p with m = w / 2^(32-p) - 2^(p-1) (the top p bits of w): p = 24 in
    float32 (v is exact there; |xi| <= 5.42), with Giles' single-precision erfinv, and
    p = 32 in float64 (|xi| <= 6.34), with ``jax.lax.erf_inv``.
    """
    words = jnp.asarray(words, jnp.uint32)
    if jnp.finfo(dtype).bits > 32:
        v = (words.astype(dtype) - 2.0**31 + 0.5) * 2.0**-31
        return math.sqrt(2.0) * jax.lax.erf_inv(v)
    top = (words >> jnp.uint32(8)).astype(jnp.int32).astype(dtype)
    v = (top - 2.0**23 + 0.5) * 2.0**-23
    return math.sqrt(2.0) * _erfinv_float32(v)


def check_network(net, name: str = "net") -> None:
    """Raises unless ``net`` is a valid :class:`BinaryNetwork`.

    TypeError for another type; ValueError for a non-finite field (values set with
    ``eqx.tree_at`` skip the constructor's checks), or a noise integral that does not
    serve the noise (a noise raised with
    ``eqx.tree_at``, which keeps ``noise_nodes``). Traced fields (inside a caller's
    jit, grad or vmap) are not checked.
    """
    if not isinstance(net, BinaryNetwork):
        raise TypeError(f"{name} must be a BinaryNetwork, got {type(net).__name__}")
    _check_values(net, name)
    if net.noise is None or net.noise_nodes is None or not is_concrete(net.noise):
        return
    needed = _fewest_noise_nodes(net.noise)
    if needed > net.noise_nodes:
        limit = NOISE_NODE_LIMITS[NOISE_NODE_COUNTS.index(net.noise_nodes)]
        raise ValueError(
            f"{name}.noise reaches sigma = {float(np.max(np.asarray(net.noise)))}, "
            f"beyond what its {net.noise_nodes}-node noise integral serves (sigma <= "
            f"{limit}); eqx.tree_at keeps the node count: build the network anew "
            f"(BinaryNetwork(...)) or pass noise_nodes >= {needed}"
        )


def _check_values(net: BinaryNetwork, name: str) -> None:
    """The constructor's finiteness check again, on the device (one reduction each).

    Only finiteness: a gain rule (:func:`fluxjax.reservoir.intrinsic_plasticity`) may
    set a temperature the constructor would refuse, and such networks still simulate.
    """
    for field in ("weights", "biases", "temperature", "noise"):
        value = getattr(net, field)
        if value is None or not is_concrete(value):
            continue
        with jax.ensure_compile_time_eval():  # concrete inside a caller's jit too
            finite = bool(jnp.all(jnp.isfinite(value)))
        if not finite:
            raise ValueError(
                f"{name}.{field} must be finite, got NaN or inf (set with "
                "eqx.tree_at? the constructor refuses them)"
            )


def draw_from_stream(
    stream: UInt32[Array, "2"],
    step: ArrayLike,
    shape: tuple[int, ...],
    net: BinaryNetwork,
    *,
    num_steps: int | None = None,
) -> tuple[Array | None, Array]:
    """:func:`draw_randomness` given the stream key (``num_steps``: :func:`random_words`).

    Returns:
        ``(xi, words)`` of shape ``shape`` (or ``(num_steps, *shape)``); xi is None
        for a noiseless network. Skipping it leaves every trajectory bit-identical,
        because the Bernoulli words do not depend on it and T (L - 0 xi) - b == T L - b.
    """
    words, gaussian = random_words(stream, step, shape, num_steps=num_steps)
    if net.noise is None:
        return None, words
    return gaussian_from_words(gaussian, net.weights.dtype), words


def draw_randomness(
    key: PRNGKeyArray,
    step: ArrayLike,
    shape: tuple[int, ...],
    net: BinaryNetwork,
) -> tuple[Array | None, Array]:
    """The Gaussian noise xi (None if noiseless) and the Bernoulli words of an update.

    ``simulate`` draws these (in bulk) with ``key`` the run key of a replica and
    ``step`` the update's number counted from the start of the burn-in; see the
    comment above :func:`stream_key` for the exact counters.

    Args:
        key: the run key; its stream is :func:`stream_key`.
        step: the update's number (a uint32 scalar).
        shape: ``(..., n)``, the shape of the states.
        net: the network (whether to draw xi, and its dtype).

    Returns:
        ``(xi, words)``: xi ~ N(0, 1) in the network's dtype (or None) and the uint32
        Bernoulli words, both of shape ``shape``.
    """
    return draw_from_stream(stream_key(key), step, shape, net)


def firing_threshold(net: BinaryNetwork, xi: Array | None, words: Array) -> Array:
    """The firing threshold theta = T (L - sigma xi) - b: fire iff (x @ W)_i > theta_i.

    With L = logit(U) (:func:`logistic_from_words`) this is the model's event
    U < sigmoid((x @ W + b) / T + sigma xi) solved for the recurrent input, so it does
    not depend on the state and can be computed for many steps at once.
    """
    shape = jnp.shape(words)

    def flat(x):  # one flat loop for XLA whatever n is (a broadcast is an index map)
        return jnp.broadcast_to(x, shape).reshape(-1)

    z = logistic_from_words(flat(words), net.weights.dtype)
    if xi is not None:
        z = z - flat(net.noise) * flat(xi)
    return (flat(net.temperature) * z - flat(net.biases)).reshape(shape)


def recurrent_input(net: BinaryNetwork, x: Array) -> Array:
    """The recurrent input x @ W of states ``x`` (..., n) of any 0/1 dtype."""
    return x.astype(net.weights.dtype) @ net.weights


def log_probs_given_input(
    net: BinaryNetwork, x: Array, recurrent: Array
) -> tuple[Array, Array]:
    """``net.log_probs(x)`` from the recurrent input ``recurrent`` = x @ W, computed before.

    The value costs no n x n product, and neither does a derivative in the biases,
    temperature or noise; the derivative in the weights is x @ dW. A pass that
    differentiates the log-probabilities of stored samples (the score function of
    :mod:`fluxjax.info._score`) so skips recomputing x @ W, forward and in the
    rematerialised backward. ``x`` and ``recurrent`` are constants: their own
    tangents are not propagated.
    """
    recurrent = jnp.asarray(recurrent, net.weights.dtype)
    if recurrent.shape != jnp.shape(x)[:-1] + (net.num_neurons,):
        raise ValueError(
            f"recurrent must have the shape of x @ W, {jnp.shape(x)[:-1]} + "
            f"({net.num_neurons},), got {recurrent.shape}"
        )
    product = _given_product(x, net.weights, recurrent)
    return _log_probs_of_mean(net, _scaled_input(net, product))


@jax.custom_jvp
def _given_product(x: Array, weights: ArrayLike, product: Array) -> Array:
    """The product x @ weights, known to equal ``product`` (returned as it is)."""
    return product


@_given_product.defjvp
def _given_product_jvp(primals, tangents):
    x, weights, product = primals
    # the primal goes through the rule again, so that a second derivative sees x @ dW
    return _given_product(x, weights, product), x.astype(weights.dtype) @ tangents[1]


def _scaled_input(net: BinaryNetwork, recurrent: Array, drive=None) -> Array:
    """The mean input m = (r + b + d) / T from the recurrent input r = x @ W."""
    field = recurrent + net.biases
    if drive is not None:
        field = field + jnp.asarray(drive, net.weights.dtype)
    return field / net.temperature


def _log_probs_of_mean(net: BinaryNetwork, m: Array) -> tuple[Array, Array]:
    """(log P(x'_i = 1), log P(x'_i = 0)) given the mean input m (see ``log_probs``)."""
    if net.noise is None:
        return jax.nn.log_sigmoid(m), jax.nn.log_sigmoid(-m)
    nodes, _, log_weights = _noise_rule_of(net)
    z = m[..., None] + _noise_offsets(net.noise, nodes, m)
    log_fire = jnp.asarray(log_weights, m.dtype) + jax.nn.log_sigmoid(z)
    # log sigmoid(-z) = log sigmoid(z) - z
    return logsumexp(log_fire, axis=-1), logsumexp(log_fire - z, axis=-1)


def update(net: BinaryNetwork, x: Array, xi: Array | None, words: Array) -> Array:
    """The next states (x @ W)_i > theta_i given the draws (:func:`firing_threshold`)."""
    return recurrent_input(net, x) > firing_threshold(net, xi, words)


def _noise_offsets(noise: ArrayLike, nodes: np.ndarray, m: Array) -> Array:
    """sigma_i nu_k, ``(n, K)``: the noise at the quadrature nodes nu_k, per neuron."""
    sigma = jnp.broadcast_to(noise, m.shape[-1:])
    return sigma[:, None] * jnp.asarray(nodes, m.dtype)


def _logistic_normal(m: Array, net: BinaryNetwork) -> Array:
    """E[sigmoid(m + sigma xi)], xi ~ N(0, 1), by the trapezoidal rule above.

    sigmoid(m) without the rule for a noiseless network (the rule's weights sum to
    1 - 4e-19, so this is the same value, K times faster).
    """
    if net.noise is None:
        return jax.nn.sigmoid(m)
    nodes, weights, _ = _noise_rule_of(net)
    offsets = _noise_offsets(net.noise, nodes, m)
    return jnp.sum(
        jnp.asarray(weights, m.dtype) * jax.nn.sigmoid(m[..., None] + offsets), -1
    )


def _checked_noise_nodes(noise_nodes, noise) -> int | None:
    """The constructor's ``noise_nodes``: validated, or the fewest serving ``noise``."""
    if noise is None:
        return None
    if noise_nodes is None:
        return _fewest_noise_nodes(noise) if is_concrete(noise) else NUM_NOISE_NODES
    # a traced noise cannot be checked here; check_network checks it once concrete
    served = _fewest_noise_nodes(noise) if is_concrete(noise) else NOISE_NODE_COUNTS[0]
    if noise_nodes not in NOISE_NODE_COUNTS or noise_nodes < served:
        allowed = [k for k in NOISE_NODE_COUNTS if k >= served]
        raise ValueError(
            f"noise_nodes must be one of {allowed} for this noise, got {noise_nodes!r}"
        )
    return int(noise_nodes)
