"""Exact information measures by enumerating the 2^n-state Markov chain.

State a has code a = sum_i x_i 2^i (neuron i is bit i). The transition matrix factorises
over neurons, P[a, b] = prod_i p_i(a)^{b_i} (1 - p_i(a))^{1 - b_i}, so conditional
entropies need only the n firing probabilities per state; the stationary distribution pi
(pi P = pi, a linear solve) is the one 4^n object. Everything is differentiable with
respect to every field of the network, and in bits.
"""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_int, check_neurons
from .._codes import all_states, group_codes
from ..network import BinaryNetwork, check_network
from .results import TripletFlux


MAX_EXACT_NEURONS = 14


def _check_size(net: BinaryNetwork, max_neurons: int) -> None:
    check_network(net)
    max_neurons = check_int(max_neurons, "max_neurons", minimum=1)
    n = net.num_neurons
    if n > max_neurons:
        gib = 3 * 4**n * jnp.dtype(net.weights.dtype).itemsize / 2**30
        raise ValueError(
            f"exact methods enumerate 2^n states and need n <= max_neurons = "
            f"{max_neurons}; this network has n = {n}, which would need about "
            f"{gib:.3g} GiB. Use plugin_flux or soft_flux, or raise max_neurons."
        )


def _entr(x: Array) -> Array:
    """-p ln p per entry; 0 with a zero gradient where p is exactly 0.

    In float32, stationary probabilities below ~1e-9 and saturated firing
    probabilities round to zero; there -ln p - 1 would be infinite and turn the whole
    gradient into NaN.
    """
    positive = x > 0
    return jnp.where(positive, -x * jnp.log(jnp.where(positive, x, 1.0)), 0.0)


def _bits(x: Array) -> Array:
    """Entropy in bits of a probability array (sum of -p log2 p over all entries)."""
    return jnp.sum(_entr(x)) / math.log(2.0)


def _future_given_state(net: BinaryNetwork, neurons: tuple[int, ...]) -> Array:
    """M[a, b] = P(x'_S = b | x = a) for S = ``neurons`` (bit k of b is neurons[k])."""
    states = all_states(net.num_neurons, net.weights.dtype)
    fire = net.firing_prob(states)[:, jnp.asarray(neurons)]
    silent = net.silent_prob(states)[:, jnp.asarray(neurons)]
    table = jnp.ones((states.shape[0], 1), fire.dtype)
    for k in range(len(neurons)):  # the new bit k is the most significant so far
        table = jnp.concatenate(
            [table * silent[:, k : k + 1], table * fire[:, k : k + 1]], 1
        )
    return table


def transition_matrix(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, "k k"]:
    """P[a, b] = P(x_{t+1} = b | x_t = a) over all 2^n states (rows sum to 1).

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # 2 coin flips
        >>> P = transition_matrix(net)
        >>> P.shape, P.sum(axis=1).tolist()
        ((4, 4), [1.0, 1.0, 1.0, 1.0])
    """
    _check_size(net, max_neurons)
    return _future_given_state(net, tuple(range(net.num_neurons)))


def stationary_distribution(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, " k"]:
    """The stationary distribution pi = pi P, by a linear solve (differentiable).

    Solves (P^T - I) pi = 0 with the last equation replaced by sum(pi) = 1. Unique
    whenever the noise-integrated firing probabilities lie strictly inside (0, 1).
    Round-off negatives are set to zero. In float32 the entries carry errors of about
    1e-6 relative to max(pi) at n = 10, so entropies and fluxes are good to ~1e-4 bit;
    enable ``jax_enable_x64`` for exact comparisons.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))
        >>> stationary_distribution(net).tolist()
        [0.25, 0.25, 0.25, 0.25]
    """
    P = transition_matrix(net, max_neurons=max_neurons)
    k = P.shape[0]
    A = (P.T - jnp.eye(k, dtype=P.dtype)).at[-1].set(1.0)
    rhs = jnp.zeros(k, P.dtype).at[-1].set(1.0)
    pi = jnp.maximum(jnp.linalg.solve(A, rhs), 0.0)  # round-off can leave -1e-9
    return pi / jnp.sum(pi)


def _joint(
    net: BinaryNetwork,
    pi: Array,
    given: tuple[int, ...],
    future: tuple[int, ...],
) -> Float[Array, "c f"]:
    """J[c, f] = P(x_given(t) = c, x_future(t+1) = f) under the stationary chain."""
    states = all_states(net.num_neurons)
    weighted = pi[:, None] * _future_given_state(net, future)
    codes = group_codes(states, [given])[:, 0]
    return jax.ops.segment_sum(weighted, codes, 2 ** len(given))


def _mutual_information(joint: Array) -> Array:
    return _bits(joint.sum(1)) + _bits(joint.sum(0)) - _bits(joint)


def _conditional_entropy(net: BinaryNetwork, pi: Array, neurons: tuple[int, ...]):
    """H(x_S(t+1) | x(t)) = sum_a pi_a sum_{i in S} h2(p_i(a)), in bits."""
    states = all_states(net.num_neurons, net.weights.dtype)
    index = jnp.asarray(neurons)
    fire = net.firing_prob(states)[:, index]
    silent = net.silent_prob(states)[:, index]
    return jnp.sum(pi * jnp.sum(_entr(fire) + _entr(silent), axis=1)) / math.log(2.0)


def exact_entropy(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, ""]:
    """Stationary state entropy H(X_t) = -sum_a pi_a log2 pi_a, in bits.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # 2 coin flips
        >>> round(float(exact_entropy(net)), 3)
        2.0
    """
    return _bits(stationary_distribution(net, max_neurons=max_neurons))


def exact_conditional_entropy(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, ""]:
    """H(X_{t+1} | X_t) = sum_a pi_a sum_i h2(p_i(a)), in bits (the intrinsic noise).

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # all noise
        >>> round(float(exact_conditional_entropy(net)), 3)
        2.0
    """
    pi = stationary_distribution(net, max_neurons=max_neurons)
    return _conditional_entropy(net, pi, tuple(range(net.num_neurons)))


def exact_flux(
    net: BinaryNetwork, neurons=None, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, ""]:
    """Information flux I(X_t; X_{t+1}) under the stationary distribution, in bits.

    For all neurons, I = H(pi) - H(X_{t+1} | X_t). For a subset S (e.g. the core of a
    larger network) it is I(x_S(t); x_S(t+1)) of the stationary joint distribution,
    marginalising the other neurons (a 2^n x 2^|S| table, never 4^n).

    Args:
        net: the network (n <= ``max_neurons``).
        neurons: indices of the subset; default all neurons.
        max_neurons: size guard; memory grows as 4^n.

    Examples:
        >>> exact_flux(BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2)))  # independent
        Array(0., dtype=float32)
    """
    pi = stationary_distribution(net, max_neurons=max_neurons)
    if neurons is None:
        return _bits(pi) - _conditional_entropy(net, pi, tuple(range(net.num_neurons)))
    neurons = check_neurons(neurons, net.num_neurons)
    return _mutual_information(_joint(net, pi, neurons, neurons))


def exact_transfer_entropy(
    net: BinaryNetwork,
    target,
    source=None,
    *,
    max_neurons: int = MAX_EXACT_NEURONS,
) -> Float[Array, ""]:
    """Transfer entropy I(x_T(t+1); x_S(t) | x_T(t)) into ``target`` from ``source``.

    TE = H(x_T(t+1) | x_T(t)) - H(x_T(t+1) | x_T(t), x_S(t)), in bits; ``source``
    defaults to every neuron outside ``target`` (the embedding of a core).

    Examples:
        >>> weights = jnp.array([[0.0, 6.0], [0.0, 0.0]])  # 0 -> 1
        >>> net = BinaryNetwork(weights, jnp.array([0.0, -3.0]))
        >>> round(float(exact_transfer_entropy(net, [1], [0])), 3)  # 1 follows 0
        0.725
    """
    target = check_neurons(target, net.num_neurons, "target")
    rest = tuple(i for i in range(net.num_neurons) if i not in target)
    source = (
        rest if source is None else check_neurons(source, net.num_neurons, "source")
    )
    if set(source) & set(target):
        raise ValueError("source and target must be disjoint")
    pi = stationary_distribution(net, max_neurons=max_neurons)

    def conditional_entropy(given):
        joint = _joint(net, pi, given, target)
        return _bits(joint) - _bits(joint.sum(1))

    if set(source) | set(target) == set(range(net.num_neurons)):
        noise_entropy = _conditional_entropy(net, pi, target)
    else:
        noise_entropy = conditional_entropy(target + source)
    return conditional_entropy(target) - noise_entropy


def exact_triplet_flux(
    net: BinaryNetwork, triplets, *, max_neurons: int = MAX_EXACT_NEURONS
) -> TripletFlux:
    """The paper's triplet flux indicator, exactly: ``TripletFlux(intra, inter)``, bits.

    intra = mean_k I(c_k(t); c_k(t+1)), inter = mean_{k != l} I(c_k(t); c_l(t+1)) with
    triplet codes c_k = s_a + 2 s_b + 4 s_c (Metzner et al. 2026, Methods).

    Examples:
        >>> net = random_network(6, key=jax.random.key(0), weight_scale=3.0)
        >>> intra, inter = exact_triplet_flux(net, [(0, 1, 2), (3, 4, 5)])
        >>> round(float(intra), 3), round(float(inter), 3)
        (0.105, 0.12)
    """
    groups = [check_neurons(t, net.num_neurons, "triplets") for t in triplets]
    if len(groups) < 2:
        raise ValueError("triplets must hold at least two groups of neurons")
    pi = stationary_distribution(net, max_neurons=max_neurons)
    mi = [[_mutual_information(_joint(net, pi, g, h)) for h in groups] for g in groups]
    intra = jnp.mean(jnp.stack([mi[k][k] for k in range(len(groups))]))
    inter = jnp.mean(
        jnp.stack(
            [mi[k][l] for k in range(len(groups)) for l in range(len(groups)) if k != l]
        )
    )
    return TripletFlux(intra, inter)
