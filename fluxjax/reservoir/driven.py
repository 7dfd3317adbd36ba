"""Input-driven binary networks: a reservoir is a network plus its input weights.

A :class:`Reservoir` holds a :class:`~fluxjax.BinaryNetwork` and input weights
``W_in`` (d, n). An input sequence u_t in R^d enters each neuron's summed input
through them, like a bias (in the units of the weights, before the temperature
divides and the noise is added):

    P(x_{t+1, i} = 1 | x_t, u_t) = E_xi sigmoid((x_t @ W + b + u_t @ W_in)_i / T_i
                                               + sigma_i xi),  xi ~ N(0, 1).

As in ReservoirPy (x(t) = f(W x(t-1) + W_in u(t))), the output row t of
:meth:`Reservoir.run` has seen u_t: it is the state x_{t+1} (``record=fj.States()``) or
the firing probabilities p(x_t, u_t) = P(x_{t+1} = 1 | x_t, u_t)
(``record=fj.Probabilities()``, the default: the Rao-Blackwellised, lower-variance
readout features). Runs are :func:`fluxjax.simulate` with the drive d_t = u_t @ W_in,
so they share its key schedule, its batching over replicas and its sharding.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from .._checks import as_float_array, check_finite, check_key
from ..network import BinaryNetwork, check_network
from ..simulate import Probabilities, States, simulate, simulate_ensemble


"""What :meth:`Reservoir.run` returns: firing probabilities or binary states."""


class Reservoir(eqx.Module):
    """A binary stochastic network driven through input weights.

    Attributes:
        network: the recurrent network.
        input_weights: ``(d, n)``; ``input_weights[k, i]`` carries input k to neuron i.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((4, 4)), jnp.zeros(4))
        >>> res = Reservoir(net, jnp.ones((1, 4)))
        >>> res.run(jax.random.key(0), jnp.zeros(50)).shape  # 50 steps, 4 neurons
        (50, 4)
    """

    network: BinaryNetwork
    input_weights: Float[Array, "d n"]

    def __init__(self, network: BinaryNetwork, input_weights: Float[ArrayLike, "d n"]):
        """Checks that ``input_weights`` is a finite ``(d, n)`` array for ``network``."""
        check_network(network, "network")
        n = network.num_neurons
        input_weights = as_float_array(
            input_weights, "input_weights", network.weights.dtype
        )
        if (
            input_weights.ndim != 2
            or input_weights.shape[1] != n
            or input_weights.shape[0] < 1
        ):
            raise ValueError(
                f"input_weights must have shape (d, {n}) with d >= 1 inputs for a "
                f"network of {n} neurons, got {input_weights.shape}"
            )
        check_finite(input_weights, "input_weights")
        self.network = network
        self.input_weights = input_weights

    @property
    def num_inputs(self) -> int:
        """The input dimension d."""
        return self.input_weights.shape[0]

    def drive(self, inputs: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """The input field d_t = u_t @ W_in, ``(..., steps, n)``.

        ``inputs`` is ``(steps, d)`` or ``(batch, steps, d)``; scalar inputs (d = 1)
        may also be given as ``(steps,)``.
        """
        inputs = _checked_inputs(inputs, self.num_inputs, self.input_weights.dtype)
        return inputs @ self.input_weights

    def run(
        self,
        key: PRNGKeyArray,
        inputs: Float[ArrayLike, "..."],
        *,
        record: States | Probabilities = Probabilities(),
        x0=None,
        devices=None,
    ) -> Float[Array, "*batch steps n"] | Bool[Array, "*batch steps n"]:
        """Drives the network with ``inputs``: one output row per input row.

        Args:
            key: PRNG key; a batch of sequences uses the replicas of
                :func:`fluxjax.simulate` (``fold_in(key, k)`` for sequence k).
            inputs: ``(steps, d)``, a batch ``(batch, steps, d)``, or ``(steps,)``
                when d = 1.
            record: :class:`fluxjax.Probabilities` (float firing probabilities
                p(x_t, u_t)) or :class:`fluxjax.States` (bool states x_{t+1}), of
                the neurons they name.
            x0: initial state(s), as for :func:`fluxjax.simulate`; default random.
            devices: devices to shard a batch over (default all).

        Returns:
            ``(..., steps, n)``: row t has seen ``inputs[..., t, :]``.
        """
        check_key(key)
        _check_features(record)
        inputs = _checked_inputs(inputs, self.num_inputs, self.input_weights.dtype)
        batch = inputs.shape[0] if inputs.ndim == 3 else None
        return simulate(
            self.network,
            key,
            inputs.shape[-2],
            batch=batch,
            x0=x0,
            record=record,
            drive=inputs @ self.input_weights,
            devices=devices,
        )


def _check_features(record) -> None:
    if not isinstance(record, (States, Probabilities)):
        raise TypeError(
            "record must be fj.Probabilities(neurons) or fj.States(neurons), got "
            f"{record!r}"
        )


def _checked_inputs(inputs, d: int, dtype, batch: int | None = None) -> Array:
    """``inputs`` as a finite float array ``(steps, d)`` or ``(batch, steps, d)``.

    ``batch`` is the required leading size (None: any, and a sequence ``(steps,)`` is
    accepted when d = 1). A bad shape or a non-finite entry is a ValueError.
    """
    inputs = as_float_array(inputs, "inputs", dtype)
    if batch is None and inputs.ndim == 1 and d == 1:
        inputs = inputs[:, None]
    good = (
        inputs.ndim in (2, 3)
        and inputs.shape[-1] == d
        and inputs.shape[-2] >= 1
        and (batch is None or inputs.ndim == 2 or inputs.shape[0] == batch)
    )
    if not good:
        raise ValueError(
            f"inputs must have shape (steps, {d}) or "
            f"({'batch' if batch is None else batch}, steps, {d})"
            + (" or (steps,)" if d == 1 and batch is None else "")
            + f" with steps >= 1, got {inputs.shape}"
        )
    check_finite(inputs, "inputs")
    return inputs


def run_ensemble(
    reservoirs: list[Reservoir],
    key: PRNGKeyArray,
    inputs: Float[ArrayLike, "..."],
    *,
    record: States | Probabilities = Probabilities(),
    devices=None,
) -> Float[Array, "B steps n"] | Bool[Array, "B steps n"]:
    """Runs several same-sized reservoirs in one compiled call.

    Reservoir k's output equals ``reservoirs[k].run(fold_in(key, k), inputs[k])`` bit
    for bit (:func:`fluxjax.simulate_ensemble`); networks that share their weights
    (settings of the biases, say) share one matrix product per update.

    Args:
        reservoirs: reservoirs with the same numbers of neurons and inputs.
        key: one PRNG key.
        inputs: ``(steps, d)`` for all, or ``(len(reservoirs), steps, d)`` one each
            (``(steps,)`` or ``(len(reservoirs), steps)`` are not accepted: give d).
        record: :class:`fluxjax.Probabilities` or :class:`fluxjax.States`.
        devices: devices to shard the ensemble over (default all).

    Returns:
        ``(len(reservoirs), steps, n)``.
    """
    if not reservoirs or not all(isinstance(r, Reservoir) for r in reservoirs):
        raise TypeError("reservoirs must be a non-empty list of Reservoir")
    check_key(key)
    _check_features(record)
    shapes = {r.input_weights.shape for r in reservoirs}
    if len(shapes) != 1:
        raise ValueError(f"reservoirs must have the same input weights shape: {shapes}")
    inputs = _checked_inputs(
        inputs,
        reservoirs[0].num_inputs,
        reservoirs[0].input_weights.dtype,
        batch=len(reservoirs),
    )
    weights = jnp.stack([r.input_weights for r in reservoirs])
    if inputs.ndim == 2:
        drive = jnp.einsum("td,kdn->ktn", inputs, weights)
    else:
        drive = jnp.einsum("ktd,kdn->ktn", inputs, weights)
    return simulate_ensemble(
        [r.network for r in reservoirs],
        key,
        inputs.shape[-2],
        record=record,
        drive=drive,
        devices=devices,
    )


def random_input_weights(
    key: PRNGKeyArray,
    num_inputs: int,
    num_neurons: int,
    *,
    scale: float = 1.0,
    density: float = 1.0,
    dtype=None,
) -> Float[Array, "d n"]:
    """Input weights ``scale * s * m`` with random signs s = +-1 and a Bernoulli mask m.

    ReservoirPy's default input initialiser (``mat_gen.bernoulli``, ``input_scaling``
    = ``scale``, ``input_connectivity`` = ``density``).
    """
    check_key(key)
    if not 0 < density <= 1:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    sign_key, mask_key = jr.split(key)
    shape = (num_inputs, num_neurons)
    dtype = dtype or jnp.asarray(0.0).dtype
    signs = jnp.where(jr.bernoulli(sign_key, 0.5, shape), 1.0, -1.0).astype(dtype)
    mask = jr.bernoulli(mask_key, density, shape).astype(dtype)
    return scale * signs * mask
