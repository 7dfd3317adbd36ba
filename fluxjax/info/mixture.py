"""The mixture estimate of the whole network's flux from a simulation (n <= 12).

The flux I = I(X_t; X_{t+1}) of the stationary chain pi is written through the model's
known transition probabilities P(x' | x) = prod_i p_i(x)^{x'_i} (1 - p_i(x))^{1 - x'_i}
(p_i = ``net.firing_prob``, noise integrated out):

    I = sum_x pi(x) F(x),    F(x) = KL(P(. | x) || q),    q = pi P.             (1)

**Value.** From one stationary chain x_0, ..., x_T (after ``burn_in``),

    I ~ (1/T) sum_t F_t,    F_t = -sum_i h2(p_i(x_t)) - log q^(x_{t+1}) + c_t,    (2)

with the conditional entropy analytic at the sampled states and the output
distribution a mixture q^(x') = (1/S) sum_s P(x' | y_s) over S states y_s of an
*independent* chain, sampled every ``window`` steps (the chain's own x_t would inflate
q). Two corrections:

- c_t = sum_i e_{t,i} D_i(x_{t+1}), e_t = x_{t+1} - p(x_t) the innovations and
  D_i = log q^(x' with x'_i = 1) - log q^(x' with x'_i = 0). D_i does not depend on
  x'_i, which given x_t is independent of the other bits, so E[c_t | x_t] = 0: a
  control variate with known mean, exact for the additive part of log q (F_t = 0
  exactly for independent neurons).                                             (5)
- The mixture's Jensen bias: E[log q^] ~ log q - Var(q^) / (2 q^2) (delta method),
  with Var(q^) / q^2 estimated per point by sum_s w_s^2 - 1/S, w = softmax_s
  log P(x'|y_s).                                                                (6)

**Gradient.** Differentiating (1), the terms through q cancel exactly
(sum_x pi(x) P(x'|x) / q(x') = 1), leaving

    dI = sum_x pi(x) dKL(P(. | x) || q)|_q fixed  +  sum_x dpi(x) F(x).           (3)

- *Pathwise term*: dKL|_q = sum_i dp_i(x) [l_i(x) - D_i], l_i = logit p_i, with D_i
  as in (5) at the sampled x_{t+1} (unbiased, by the same independence).
- *Stationary term*: the windowed score function of :mod:`fluxjax.info._score` with
  the innovation control variate, every neuron credited with the whole F~,

      sum_x dpi(x) F(x) ~ (1/(T-K)) sum_{s<T-K} [W_s d log P(x_{s+1} | x_s)
                                                  + B . dp(x_s)].               (4)

**Validated regime.** Value and gradient are checked against exact enumeration up to
n = 12 (tests/test_soft.py). The window truncates the stationary term at K steps, a
bias that falls like the chain's mixing factor to the K-th power (slowly mixing or
bistable networks need a larger window). Once S << 2^H(X) (large n) q^ overestimates
H(X_{t+1}) and the flux by far (the value is then log S plus a cross-entropy: an upper
bound, not an estimate), and the gradient is that of this bound. Accuracy and cost as
measured are in benchmarks/README.md ("Differentiable flux").

References:
    P. W. Glynn, "Likelihood ratio gradient estimation for stochastic systems",
    Commun. ACM 33(10), 75-84 (1990) (the score function of a Markov chain).
"""

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_int
from .._information import binary_entropy
from ..network import BinaryNetwork, check_network, log_probs_given_input
from ..simulate import simulate
from ._score import (
    SCORE_WINDOW,
    Credit,
    Influence,
    Stream,
    _probability_width,
    one_chain,
    regression,
    streamed_surrogate,
)


MAX_MIXTURE_NEURONS = 12
"""Largest network whose mixture estimate is verified against exact enumeration."""

_LN2 = math.log(2.0)


class _Mixture(NamedTuple):
    """q^ as log P(x' | y_s) = x' . logits_s + offsets_s over its S components."""

    logits: Array  # (S, n)
    offsets: Array  # (S,)


def _components(net: BinaryNetwork, states: Array) -> _Mixture:
    log_fire, log_silent = net.log_probs(states)
    return _Mixture(log_fire - log_silent, jnp.sum(log_silent, axis=-1))


def _flip_differences(A: Array, x_next: Array, logits: Array) -> Array:
    """D[..., i] = log q(x' with x'_i = 1) - log q(x' with x'_i = 0).

    With w = softmax_s A (the posterior over components) and R^{+-}_i = sum_s w_s
    exp(+-l_{s,i}) = q(flip_i x') / q(x') for x'_i = 0 / 1, D_i = log R^+ or -log R^-.
    The exponentials are stabilised per column; a ratio below the smallest normal
    number is clamped there (its weight dp_i is then negligible too).
    """
    w = jax.nn.softmax(A, axis=-1)
    tiny = jnp.finfo(A.dtype).tiny
    up_max = jnp.max(logits, axis=0)
    down_max = jnp.max(-logits, axis=0)
    log_up = jnp.log(jnp.maximum(w @ jnp.exp(logits - up_max), tiny)) + up_max
    log_down = jnp.log(jnp.maximum(w @ jnp.exp(-logits - down_max), tiny)) + down_max
    return jnp.where(x_next, -log_down, log_up)


class _MixtureInfluence:
    """F_t of (2) with (5) and (6), and the pathwise gain l - D of (3)."""

    @staticmethod
    def influence(q: _Mixture, net, block) -> Influence:
        log_fire, log_silent = log_probs_given_input(net, block.x, block.recurrent)
        p = jnp.exp(log_fire)
        entropy = jnp.sum(binary_entropy(log_fire, log_silent), axis=-1)
        A = block.x_next.astype(p.dtype) @ q.logits.T + q.offsets  # log P(x'|y_s)
        S = q.offsets.shape[0]
        # delta method (6): E log q^ = log q - Var(q^) / (2 q^2)
        w = jax.nn.softmax(A, axis=-1)
        log_q = logsumexp(A, axis=-1) - math.log(S)
        log_q = log_q + (jnp.sum(w**2, axis=-1) - 1.0 / S) / 2
        D = _flip_differences(A, block.x_next, q.logits)
        e = block.x_next.astype(p.dtype) - p
        F = -entropy - log_q + jnp.sum(e * D, axis=-1)
        return Influence(F[..., None], e, log_fire - log_silent - D)

    @staticmethod
    def pathwise(q: _Mixture, net, block, p, log_fire, log_silent, gain):
        return jnp.sum(p * gain, axis=-1)


def mixture_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    burn_in: int = 1000,
    window: int = SCORE_WINDOW,
    num_components: int = 1000,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """The mixture estimate (2) of the whole network's flux, in bits, differentiable.

    I ~ (1/T) sum_t F_t, F_t = -sum_i h2(p_i(x_t)) - log q^(x_{t+1}) + (flip control
    variate), q^ a mixture over ``num_components`` states of an independent chain; its
    gradient is the pathwise term plus the windowed score function (3)-(4) (module
    docstring). Validated against exact enumeration for n <= 12; above, the value is
    an upper bound (use :func:`fluxjax.soft_flux`, which picks the estimator).

    Args:
        net: the network.
        key: PRNG key, split into a chain key and a mixture key.
        steps: the number of transitions T (> ``window`` + 1).
        burn_in: updates discarded before the chain and before the mixture chain.
        window: K, the past transitions the score function credits; it must cover the
            chain's mixing time. 0 drops the stationary term (biased).
        num_components: S, the mixture size.
        chunk_size: transitions per block (default: about 2^20 floats per temporary).

    Returns:
        The estimate in bits, a scalar of the network's dtype.
    """
    check_network(net)
    num_components = check_int(num_components, "num_components", minimum=1)
    width = max(num_components, _probability_width(net))
    stream = one_chain(
        key, steps, burn_in=burn_in, window=window, chunk_size=chunk_size, width=width
    )
    return _mixture_flux(net, key, stream, window, num_components)


@eqx.filter_jit
def _mixture_flux(net, key, stream: Stream, window: int, num_components: int):
    chain_key, mixture_key = jr.split(key)
    fixed = jax.lax.stop_gradient(net)
    stride = max(window, 1)
    chain = simulate(
        fixed, mixture_key, num_components * stride, burn_in=stream.burn_in
    )
    q = _components(fixed, chain[stride - 1 :: stride])
    fitted = regression(fixed, chain_key, stream, window, _MixtureInfluence, q)
    credit = Credit.whole(net.num_neurons, q.logits.dtype)
    surrogate = streamed_surrogate(
        net, chain_key, stream, window, _MixtureInfluence, q, credit, fitted
    )
    return (jnp.sum(fitted.parts) + surrogate) / _LN2
