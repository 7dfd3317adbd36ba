"""Intrinsic plasticity (Triesch 2005): the reservoir community's bias and gain rule.

Write neuron i's firing probability as y_i = E_xi sigmoid(a_i r_i + c_i + sigma_i xi)
with the summed input r = x_t @ W + u_t @ W_in, the gain a_i = 1 / T_i and the
offset c_i = b_i / T_i. After every update the rule moves (a, c) down the gradient
of the Kullback-Leibler divergence between the distribution of y and an exponential
distribution of mean mu (Triesch 2005, Eqs. 9-10; ReservoirPy's ``IPReservoir`` with
``activation="sigmoid"``):

    dc = eta (1 - (2 + 1/mu) y + y^2 / mu),    da = eta / a + r dc.

The adapted network has T_i = 1 / a_i and b_i = c_i / a_i (its gain lives in the
temperature), so (x @ W + b + u @ W_in) / T = a r + c.

References:
    Triesch (2005), "A gradient rule for the plasticity of a neuron's intrinsic
    excitability", ICANN 2005, LNCS 3696, 65-70. Schrauwen, Wardermann, Verstraeten,
    Steil & Stroobandt (2008), "Improving reservoirs using intrinsic plasticity",
    Neurocomputing 71, 1159-1171.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Float, PRNGKeyArray

from .._checks import check_key
from ..network import (
    BinaryNetwork,
    draw_from_stream,
    firing_threshold,
    recurrent_input,
    stream_key,
)
from .driven import Reservoir


def ip_step(
    a: Float[jax.Array, " n"],
    c: Float[jax.Array, " n"],
    r: Float[jax.Array, " n"],
    y: Float[jax.Array, " n"],
    *,
    target_mean: float,
    learning_rate: float,
) -> tuple[Float[jax.Array, " n"], Float[jax.Array, " n"]]:
    """One update of the gain a and offset c given the input r and the output y.

    dc = eta (1 - (2 + 1/mu) y + y^2 / mu),  da = eta / a + r dc  (Triesch 2005).
    """
    mu = target_mean
    dc = learning_rate * (1.0 - (2.0 + 1.0 / mu) * y + y**2 / mu)
    da = learning_rate / a + r * dc
    return a + da, c + dc


def intrinsic_plasticity(
    reservoir: Reservoir,
    key: PRNGKeyArray,
    inputs: Float[jax.typing.ArrayLike, "..."],
    *,
    target_mean: float = 0.2,
    learning_rate: float = 1e-3,
) -> Reservoir:
    """Runs the reservoir on ``inputs`` while intrinsic plasticity adapts every neuron.

    Each update draws x_{t+1} as :func:`fluxjax.simulate` does (same key schedule,
    with the gains and offsets of that moment), and y is the firing probability
    p(x_t, u_t) (the noise integrated out), so the rule sees the Rao-Blackwellised
    output of the binary neuron.

    Args:
        reservoir: the reservoir; its temperature and biases are the starting point.
        key: PRNG key.
        inputs: the input sequence that drives the adaptation, ``(steps, d)`` (or
            ``(steps,)`` for d = 1); typically the task's input distribution.
        target_mean: mu in (0, 1), the mean of the target exponential distribution.
        learning_rate: eta > 0.

    Returns:
        The reservoir with the adapted per-neuron temperature 1 / a and biases c / a.
    """
    check_key(key)
    if not (isinstance(target_mean, (int, float)) and 0 < target_mean < 1):
        raise ValueError(f"target_mean must lie in (0, 1), got {target_mean!r}")
    if not (
        isinstance(learning_rate, (int, float))
        and learning_rate > 0
        and math.isfinite(learning_rate)
    ):
        raise ValueError(
            f"learning_rate must be a finite number > 0, got {learning_rate!r}"
        )
    drive = reservoir.drive(inputs)
    if drive.ndim != 2:
        raise ValueError("inputs must be one sequence (steps, d), not a batch")
    net = reservoir.network
    n = net.num_neurons
    a = jnp.broadcast_to(1.0 / net.temperature, (n,))
    c = net.biases * a
    a, c = _adapt(net, key, drive, a, c, float(target_mean), float(learning_rate))
    return Reservoir(_with_gain(net, a, c), reservoir.input_weights)


def _with_gain(net: BinaryNetwork, a, c) -> BinaryNetwork:
    """``net`` with temperature 1 / a and biases c / a."""
    return eqx.tree_at(lambda m: (m.temperature, m.biases), net, (1.0 / a, c / a))


@eqx.filter_jit
def _adapt(net, key, drive, a, c, target_mean, learning_rate):
    init_key, run_key = jax.random.split(jax.random.fold_in(key, 0))  # as simulate
    stream = stream_key(run_key)  # once, not per step
    x0 = jax.random.bernoulli(init_key, 0.5, (net.num_neurons,))

    def step(carry, inputs):
        x, a, c = carry
        t, d = inputs
        now = _with_gain(net, a, c)
        r = recurrent_input(now, x) + d
        y = now.firing_prob(x, d)
        xi, words = draw_from_stream(stream, t, (net.num_neurons,), now)
        x_next = r > firing_threshold(now, xi, words)
        a, c = ip_step(a, c, r, y, target_mean=target_mean, learning_rate=learning_rate)
        return (x_next, a, c), None

    steps = jnp.arange(drive.shape[0], dtype=jnp.uint32)
    (_, a, c), _ = jax.lax.scan(step, (x0, a, c), (steps, drive))
    return a, c
