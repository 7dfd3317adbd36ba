"""The stochastic binary network model.

Model (design card; Metzner et al. 2026, Eq. 1): for a state x_t in {0, 1}^n,

    u_i = (sum_j x_j W[j, i] + b_i) / T_i + sigma_i * xi_i,    xi_i ~ N(0, 1),
    P(x_{t+1, i} = 1 | x_t) = sigmoid(u_i),

with ``W[j, i]`` the weight from neuron j to neuron i (rows presynaptic), ``T`` the
temperature (the paper's t0, applied before the noise) and ``sigma`` the noise.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Shaped

from ._checks import ArrayOrSequence, as_float_array, check_finite, is_concrete


# E[f(sigma * xi)], xi ~ N(0, 1), by the trapezoidal rule on [-9, 9] with 257 nodes
# (the Gaussian tail beyond 9 is < 1e-18). For f = sigmoid it converges like
# exp(-2 pi^2 / (sigma h)) (poles at distance pi / sigma from the real axis), measured
# against adaptive quadrature: |error| < 1e-15 for sigma <= 5, < 1e-12 for sigma <= 10,
# < 1e-8 for sigma <= 15 (tests/test_network.py).
_NOISE_NODES = np.linspace(-9.0, 9.0, 257)
_NOISE_WEIGHTS = np.exp(-0.5 * _NOISE_NODES**2) * (_NOISE_NODES[1] - _NOISE_NODES[0])
_NOISE_WEIGHTS[[0, -1]] /= 2
_NOISE_WEIGHTS /= math.sqrt(2 * math.pi)


class BinaryNetwork(eqx.Module):
    """A recurrent network of stochastic binary neurons with synchronous updates.

    Attributes:
        weights: ``(n, n)``; ``weights[j, i]`` is the synapse from neuron j to neuron i.
        biases: ``(n,)`` biases b_i, in the same units as the weights.
        temperature: scalar or ``(n,)``; divides the summed input (the paper's t0).
        noise: scalar or ``(n,)``; SD sigma of the Gaussian noise added after dividing.

    Examples:
        >>> net = BinaryNetwork(jnp.array([[0.0, 2.0], [-1.0, 0.0]]), jnp.zeros(2))
        >>> net.firing_prob(jnp.array([1.0, 0.0]))  # sigmoid([0, 2])
        Array([0.5      , 0.8807971], dtype=float32)
    """

    weights: Float[Array, "n n"]
    biases: Float[Array, " n"]
    temperature: Float[Array, "*n"]
    noise: Float[Array, "*n"]

    def __init__(
        self,
        weights: ArrayOrSequence,
        biases: ArrayOrSequence,
        temperature: ArrayOrSequence = 1.0,
        noise: ArrayOrSequence = 0.0,
        *,
        dtype=None,
    ):
        """Builds a network, validating shapes and values.

        Args:
            weights: ``(n, n)`` real, finite; rows are presynaptic.
            biases: ``(n,)`` real, finite.
            temperature: scalar or ``(n,)``, every entry > 0.
            noise: scalar or ``(n,)``, every entry >= 0.
            dtype: floating dtype of every field; default: the dtype of ``weights``
                if it is floating, else JAX's default float.

        Raises:
            ValueError: wrong shapes, non-finite values, temperature <= 0 or noise < 0.
            TypeError: non-numeric input.
        """
        if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        weights = as_float_array(weights, "weights", dtype)
        dtype = weights.dtype
        biases = as_float_array(biases, "biases", dtype)
        temperature = as_float_array(temperature, "temperature", dtype)
        noise = as_float_array(noise, "noise", dtype)
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
            if value.shape not in ((), (n,)):
                raise ValueError(
                    f"{name} must be a scalar or have shape ({n},), got {value.shape}"
                )
        check_finite(weights, "weights")
        check_finite(biases, "biases")
        check_finite(temperature, "temperature", positive=True)
        check_finite(noise, "noise", nonnegative=True)
        self.weights = weights
        self.biases = biases
        self.temperature = temperature
        self.noise = noise

    @property
    def num_neurons(self) -> int:
        """The number of neurons n."""
        return self.weights.shape[-1]

    def mean_input(self, x: Shaped[ArrayLike, "*batch n"]) -> Float[Array, "*batch n"]:
        """The noise-free input m = (x @ W + b) / T for states ``x`` (any 0/1 dtype)."""
        x = jnp.asarray(x).astype(self.weights.dtype)
        return (x @ self.weights + self.biases) / self.temperature

    def firing_prob(self, x: Shaped[ArrayLike, "*batch n"]) -> Float[Array, "*batch n"]:
        """P(x_{t+1, i} = 1 | x_t = x) = E_xi[sigmoid(m_i + sigma_i xi)], xi ~ N(0, 1).

        The logistic-normal integral is computed by a 257-node trapezoidal rule:
        |error| < 1e-12 for sigma <= 10 (measured; see the module constants).
        Differentiable in every field.
        """
        return _logistic_normal(self.mean_input(x), self.noise)

    def silent_prob(self, x: Shaped[ArrayLike, "*batch n"]) -> Float[Array, "*batch n"]:
        """1 - firing_prob(x), computed without cancellation when firing_prob ~ 1."""
        return _logistic_normal(-self.mean_input(x), self.noise)

    def step(
        self, key: PRNGKeyArray, x: Shaped[ArrayLike, "*batch n"]
    ) -> Bool[Array, "*batch n"]:
        """One synchronous update: x'_i = [uniform_i < sigmoid(m_i + sigma_i xi_i)].

        Args:
            key: the PRNG key for this step's noise and Bernoulli draws.
            x: current states, ``(..., n)``, bool or 0/1.

        Returns:
            The next states, bool, same shape as ``x``.
        """
        draws = draw_randomness(key, jnp.shape(x), self, noisy=not is_noiseless(self))
        return update(self, jnp.asarray(x), *draws)


def is_noiseless(net: BinaryNetwork) -> bool:
    """Whether ``net.noise`` is known (not traced) to be zero for every neuron.

    Such a network needs no Gaussian draws: skipping them leaves every trajectory
    bit-identical, because the uniforms come from their own key and m + 0 * xi == m.
    """
    return is_concrete(net.noise) and not np.any(np.asarray(net.noise))


def draw_randomness(
    key: PRNGKeyArray, shape: tuple[int, ...], net: BinaryNetwork, *, noisy: bool = True
) -> tuple[Array | None, Array]:
    """The Gaussian noise xi (None unless ``noisy``) and the uniforms of one update."""
    noise_key, fire_key = jr.split(key)
    dtype = net.weights.dtype
    xi = jr.normal(noise_key, shape, dtype) if noisy else None
    return xi, jr.uniform(fire_key, shape, dtype)


def update(net: BinaryNetwork, x: Array, xi: Array | None, uniform: Array) -> Array:
    """The next states [uniform < sigmoid((x @ W + b) / T + sigma xi)], given draws."""
    z = net.mean_input(x)
    if xi is not None:
        z = z + net.noise * xi
    return uniform < jax.nn.sigmoid(z)


def _logistic_normal(m, sigma):
    """E[sigmoid(m + sigma xi)], xi ~ N(0, 1), by the trapezoidal rule above."""
    nodes = jnp.asarray(_NOISE_NODES, m.dtype)
    weights = jnp.asarray(_NOISE_WEIGHTS, m.dtype)
    sigma = jnp.broadcast_to(sigma, m.shape[-1:])
    return jnp.sum(weights * jax.nn.sigmoid(m[..., None] + sigma[:, None] * nodes), -1)
