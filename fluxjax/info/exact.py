"""Exact information measures by enumerating the 2^n-state Markov chain.

State a has code a = sum_i x_i 2^i (neuron i is bit i). The transition matrix factorises
over neurons, P[a, b] = prod_i p_i(a)^{b_i} (1 - p_i(a))^{1 - b_i}, so conditional
entropies need only the n firing probabilities per state; the stationary distribution pi
(pi P = pi, a linear solve) is the one 4^n object. Everything is differentiable with
respect to every field of the network, and in bits.

Flux, entropy and conditional entropy are exact at any size for networks whose weight
graph splits into small pieces. The neurons fall into the connected components of the
undirected graph with an edge between j and i iff ``W[j, i] != 0`` or ``W[i, j] != 0``
(a self-loop links nothing). No weight links two components, so the stationary
distribution is the product of the components' own ones and each of the three
quantities is the sum of its values on the components (for ``neurons = S``: the sum of
I(x_{S∩C}(t); x_{S∩C}(t+1)) over the components C). A component of at most
``max_neurons`` neurons is enumerated; a *permutation cycle* (each neuron has exactly
one input and one output, c_0 -> c_1 -> ... -> c_{L-1} -> c_0, a self-loop included)
has a closed form at any length L (:func:`weight_components` explains it). Equal-sized
components are evaluated together (one compiled program per size, vmapped).
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import (
    available_bytes,
    check_groups,
    check_int,
    check_neurons,
    is_concrete,
)
from .._codes import all_states, code_probabilities, group_codes
from .._information import entr, mutual_information
from .._linalg import solve
from ..network import BinaryNetwork, check_network
from .results import TripletFlux


MAX_EXACT_NEURONS = 14

RESOLUTION_ULPS = 256
"""Round-off of an exact objective, in units of eps(dtype) * max(|F|, 1 bit).

Measured on the float32 single-bias gains of exact flux and of the triplet indicator
of random 6-12-neuron networks: errors up to 37 eps |F| (``benchmarks/precision.py``'s
``gain_rows``: up to 10).
"""

FAST_EXACT_NEURONS = 12
"""The largest component that :func:`fluxjax.flux` and the default objective of the
optimisers enumerate: the cost grows as 4^n, and above n = 12 the sampled estimate
is cheaper (benchmarks/README.md)."""

# When the 4^k tables of all enumerated components of one size take more than this
# many bytes, the backward pass recomputes each component instead of storing them.
_GROUP_BYTES = 2**28


def _gib(n: int, itemsize: int) -> str:
    """'about X GiB' for the three 4^n tables of an n-neuron chain, without overflow."""
    log10 = math.log10(3 * itemsize) + n * math.log10(4.0) - 30 * math.log10(2.0)
    if log10 < 6:
        return f"{10**log10:.3g}"
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    if f"{mantissa:.3g}" == "10":
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.3g}e+{exponent}"


_ALTERNATIVE = (
    "fluxjax.flux(net, key) estimates the flux of a network of any size (the "
    "large-n estimator with its bracket, fluxjax.flux_bounds)"
)


def _check_memory(k: int, dtype, what: str) -> None:
    """Refuses to enumerate a k-neuron chain whose 4^k tables do not fit in memory.

    The guard holds whatever ``max_neurons`` says: it compares the three 4^k tables
    (in bytes, computed in log space, so any k is safe) with half the memory of the
    default device (:func:`fluxjax._checks.available_bytes`).
    """
    itemsize = jnp.dtype(dtype).itemsize
    log2_bytes = math.log2(3 * itemsize) + 2 * k
    if log2_bytes > math.log2(available_bytes() / 2):
        raise ValueError(
            f"{what} would enumerate the 2^{k} states of a {k}-neuron chain: its "
            f"transition tables need about {_gib(k, itemsize)} GiB, more than half "
            f"of this device's {available_bytes() / 2**30:.0f} GiB. {_ALTERNATIVE}."
        )


def _check_size(net: BinaryNetwork, max_neurons: int, what: str) -> None:
    """The size guard of the 2^n objects of the whole network (no decomposition)."""
    check_network(net)
    max_neurons = check_int(max_neurons, "max_neurons", minimum=1)
    n = net.num_neurons
    if n > max_neurons:
        gib = _gib(n, jnp.dtype(net.weights.dtype).itemsize)
        raise ValueError(
            f"{what} enumerates the 2^n states of the whole network and needs n <= "
            f"max_neurons = {max_neurons}; this network has n = {n}, which would need "
            f"about {gib} GiB. Only exact_flux, exact_entropy and "
            f"exact_conditional_entropy decompose a network into its components. "
            f"{_ALTERNATIVE}."
        )
    _check_memory(n, net.weights.dtype, what)


def _bits(x: Array) -> Array:
    """Entropy in bits of a probability array (sum of -p log2 p over all entries)."""
    return jnp.sum(entr(x)) / math.log(2.0)


def _future_given_state(net: BinaryNetwork, neurons: tuple[int, ...]) -> Array:
    """M[a, b] = P(x'_S = b | x = a) for S = ``neurons`` (bit k of b is neurons[k]).

    M = exp(log p_S B^T + log(1 - p_S) (1 - B)^T), B the bits of every b
    (:func:`fluxjax._codes.code_probabilities`).
    """
    states = all_states(net.num_neurons, net.weights.dtype)
    log_fire, log_silent = net.log_probs(states)
    index = jnp.asarray(neurons)
    return code_probabilities(log_fire[:, index], log_silent[:, index])


def transition_matrix(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, "k k"]:
    """P[a, b] = P(x_{t+1} = b | x_t = a) over all 2^n states (rows sum to 1).

    A 2^n x 2^n object of the whole network: n <= ``max_neurons``, whatever its
    component structure.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # 2 coin flips
        >>> P = transition_matrix(net)
        >>> P.shape, P.sum(axis=1).tolist()
        ((4, 4), [1.0, 1.0, 1.0, 1.0])
    """
    _check_size(net, max_neurons, "transition_matrix")
    return _future_given_state(net, tuple(range(net.num_neurons)))


def _solve_stationary(P: Array) -> Array:
    k = P.shape[0]
    A = (P.T - jnp.eye(k, dtype=P.dtype)).at[-1].set(1.0)
    rhs = jnp.zeros(k, P.dtype).at[-1].set(1.0)
    pi = jnp.maximum(solve(A, rhs), 0.0)  # round-off can leave -1e-9
    return pi / jnp.sum(pi)


def stationary_distribution(
    net: BinaryNetwork, *, max_neurons: int = MAX_EXACT_NEURONS
) -> Float[Array, " k"]:
    """The stationary distribution pi = pi P, by a linear solve (differentiable).

    Solves (P^T - I) pi = 0 with the last equation replaced by sum(pi) = 1. Unique
    whenever the noise-integrated firing probabilities lie strictly inside (0, 1).
    Round-off negatives are set to zero. In float32 the entries carry errors of about
    1e-6 relative to max(pi) at n = 10, so entropies and fluxes are good to ~1e-4 bit;
    enable ``jax_enable_x64`` for exact comparisons. A vector over the 2^n states of
    the whole network: n <= ``max_neurons``.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))
        >>> stationary_distribution(net).tolist()
        [0.25, 0.25, 0.25, 0.25]
    """
    _check_size(net, max_neurons, "stationary_distribution")
    return _solve_stationary(_future_given_state(net, tuple(range(net.num_neurons))))


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


def _conditional_entropy(net: BinaryNetwork, pi: Array, neurons: tuple[int, ...]):
    """H(x_S(t+1) | x(t)) = sum_a pi_a sum_{i in S} h2(p_i(a)), in bits."""
    states = all_states(net.num_neurons, net.weights.dtype)
    index = jnp.asarray(neurons)
    fire = net.firing_prob(states)[:, index]
    silent = net.silent_prob(states)[:, index]
    return jnp.sum(pi * jnp.sum(entr(fire) + entr(silent), axis=1)) / math.log(2.0)


# --- Sums over components ------------------------------------------------------------


def _component_value(sub: BinaryNetwork, quantity: str, local) -> Array:
    """One enumerated component: entropy, conditional entropy, (subset) flux or rates."""
    everyone = tuple(range(sub.num_neurons))
    pi = _solve_stationary(_future_given_state(sub, everyone))
    if quantity == "rates":
        return pi @ all_states(sub.num_neurons, pi.dtype)
    if quantity == "entropy":
        return _bits(pi)
    if quantity == "flux" and local is not None:
        return mutual_information(_joint(sub, pi, local, local)) / math.log(2.0)
    noise_entropy = _conditional_entropy(sub, pi, everyone)
    if quantity == "conditional_entropy":
        return noise_entropy
    return _bits(pi) - noise_entropy


@partial(jax.jit, static_argnames=("quantity", "local", "remat", "noise_nodes"))
def _group_values(batched, fixed, *, quantity, local, remat, noise_nodes):
    """The values of equal-sized components, one after another (one compilation).

    ``batched`` holds the stacked fields of the sub-networks, ``fixed`` the scalar
    temperature and noise shared by all (a noiseless network's sub-networks are
    noiseless too: ``noise`` is None); the sub-networks keep the network's
    ``noise_nodes``.
    """

    def one(fields):
        fields = {"noise": None, **fixed, **fields}
        sub = BinaryNetwork(**fields, noise_nodes=noise_nodes)
        return _component_value(sub, quantity, local)

    if remat:  # keep only the inputs of each group for the backward pass
        one = jax.checkpoint(one)
    return jax.lax.map(one, batched)


def _sub_fields(net: BinaryNetwork, weights: Array, index: np.ndarray):
    """The fields of the sub-networks on ``index`` (..., k): (batched, shared scalars)."""
    batched = {"weights": weights[index[..., :, None], index[..., None, :]]}
    batched["biases"] = net.biases[index]
    fixed = {}
    for name in ("temperature", "noise"):
        value = getattr(net, name)
        if value is None:  # noiseless: the sub-networks are too
            continue
        if jnp.ndim(value) == 0:
            fixed[name] = value
        else:
            batched[name] = value[index]
    return batched, fixed


def _block_values(net, weights, blocks, quantity, subset):
    """(indices (B, k), values (B, ...)) per group of equal-sized components."""
    groups = defaultdict(list)
    for block in blocks:
        local = None
        if subset is not None:
            local = tuple(k for k, i in enumerate(block) if i in subset)
            if not local:
                continue  # a component outside the subset carries none of its flux
            if len(local) == len(block):
                local = None
        groups[len(block), local].append(block)
    itemsize = jnp.dtype(net.weights.dtype).itemsize
    # One component at a time within a group (lax.map): the tables of one component
    # are alive at a time, and its stationary solve is one LU (fluxjax._linalg).
    out = []
    for (k, local), members in groups.items():
        index = np.asarray(members)
        batched, fixed = _sub_fields(net, weights, index)
        remat = len(members) * 3 * 4**k * itemsize > _GROUP_BYTES
        values = _group_values(
            batched,
            fixed,
            quantity=quantity,
            local=local,
            remat=remat,
            noise_nodes=net.noise_nodes,
        )
        out.append((index, values))
    return out


def _compose(earlier, later):
    """The affine map later o earlier, each x -> sign (1 - e) x + (offset_m, offset_q).

    ``e = 1 - |slope|`` is carried instead of the slope, so that 1 - prod(slopes) is
    found without cancellation when the slopes are close to 1.
    """
    s1, e1, m1, q1 = earlier
    s2, e2, m2, q2 = later
    slope = s2 * (1 - e2)
    return s1 * s2, e1 + e2 - e1 * e2, slope * m1 + m2, slope * q1 + q2


def _take(maps, index):
    return tuple(v[index] for v in maps)


@partial(jax.jit, static_argnames="noise_nodes")
def _cycle_terms(w, b, temperature, noise, pred, jumps, *, noise_nodes):
    """Per neuron of permutation cycles: h(m_i), H(x'_i | x_pred(i)) (bits) and m_i.

    Neuron i's rate solves m_i = a_i m_pred(i) + p_i(0), an affine map f_i; the L maps
    around i's cycle (L its length) compose to g_i = f_i o f_pred(i) o ... and m_i is
    the fixed point of g_i. g_i is found by doubling (binary lifting) in log2 L
    rounds of vectorised gathers: ``jumps`` holds per round k the positions
    pred^(2^k)(i) and, for the acc, where its composition of the bits of L below k
    starts and whether bit k of L is set. 1 - m_i follows the same maps with
    offsets 1 - p_i(1).
    """

    def probs(w, b, t, s):  # the network's own firing rule on one input
        one = BinaryNetwork(
            w.reshape(1, 1), b.reshape(1), t, s, noise_nodes=noise_nodes
        )
        x = jnp.asarray([[0.0], [1.0]], one.weights.dtype)
        return one.firing_prob(x)[:, 0], one.silent_prob(x)[:, 0]

    axes = (
        0,
        0,
        0 if jnp.ndim(temperature) else None,
        0 if noise is not None and jnp.ndim(noise) else None,
    )  # a noiseless network (noise None) keeps firing_prob's shortcut
    fire, silent = jax.vmap(probs, axes)(w, b, temperature, noise)
    (p0, p1), (s0, s1) = fire.T, silent.T
    up = p1 >= p0
    sign = jnp.where(up, jnp.ones_like(p0), -jnp.ones_like(p0))
    e = jnp.where(up, p0 + s1, s0 + p1)  # 1 - |p1 - p0|
    # m_i = a_i m_pred + p0_i and 1 - m_i = a_i (1 - m_pred) + s1_i, a_i = p1_i - p0_i
    jump = (sign, e, p0, s1)
    acc = (jnp.ones_like(e), jnp.zeros_like(e), jnp.zeros_like(e), jnp.zeros_like(e))
    for pointer, start, bit in jumps:
        extended = _compose(_take(jump, start), acc)
        acc = tuple(jnp.where(bit, x, y) for x, y in zip(extended, acc, strict=True))
        jump = _compose(_take(jump, pointer), jump)
    sign, e, m, q = acc
    one_minus_loop = jnp.where(sign > 0, e, 2 - e)
    m, q = m / one_minus_loop, q / one_minus_loop
    h1, h0 = entr(p1) + entr(s1), entr(p0) + entr(s0)
    noise_entropy = m[pred] * h1 + q[pred] * h0
    return (entr(m) + entr(q)) / math.log(2.0), noise_entropy / math.log(2.0), m


def _lifting(pred: np.ndarray, lengths: np.ndarray) -> list[tuple[Array, ...]]:
    """The gathers of :func:`_cycle_terms`' doubling rounds (pure structure, numpy)."""
    rounds, pointer, start = [], pred.copy(), np.arange(len(pred))
    for k in range(int(lengths.max()).bit_length()):
        bit = (lengths >> k) & 1 == 1
        rounds.append((jnp.asarray(pointer), jnp.asarray(start), jnp.asarray(bit)))
        start = np.where(bit, pointer[start], start)
        pointer = pointer[pointer]
    return rounds


def _cycle_values(net, weights, cycles, subset):
    """(positions, counted, per-neuron entropy, noise entropy, rates) of the cycles."""
    order = np.concatenate(cycles)
    lengths = np.repeat([len(c) for c in cycles], [len(c) for c in cycles])
    position = {int(i): k for k, i in enumerate(order)}
    pred = np.array([position[int(c[k - 1])] for c in cycles for k in range(len(c))])
    counted = None
    if subset is not None:
        inside = np.isin(order, list(subset))
        counted = inside & inside[pred]
        if not counted.any():
            return None
    fields = {}
    for name in ("temperature", "noise"):
        value = getattr(net, name)
        fields[name] = value if value is None or jnp.ndim(value) == 0 else value[order]
    values = _cycle_terms(
        weights[order[pred], order],
        net.biases[order],
        fields["temperature"],
        fields["noise"],
        jnp.asarray(pred),
        _lifting(pred, lengths),
        noise_nodes=net.noise_nodes,
    )
    return (order, counted, *values)


def _rates(net, weights, structure) -> Array:
    """The stationary firing rates m_i = P(x_i = 1) of all neurons."""
    rates = jnp.zeros(net.num_neurons, net.weights.dtype)
    for index, values in _block_values(net, weights, structure.blocks, "rates", None):
        rates = rates.at[index].set(values)
    if structure.cycles:
        order, _, _, _, m = _cycle_values(net, weights, structure.cycles, None)
        rates = rates.at[order].set(m)
    return rates


def _total(net, weights, structure, quantity, subset) -> Array:
    terms = [
        jnp.sum(values)
        for _, values in _block_values(net, weights, structure.blocks, quantity, subset)
    ]
    cycles = structure.cycles and _cycle_values(net, weights, structure.cycles, subset)
    if cycles:
        _, counted, entropy, noise_entropy, _ = cycles
        if quantity == "entropy":
            terms.append(jnp.sum(entropy))
        elif quantity == "conditional_entropy":
            terms.append(jnp.sum(noise_entropy))
        else:
            flux = entropy - noise_entropy
            terms.append(jnp.sum(flux if counted is None else flux[counted]))
    return jnp.sum(jnp.stack(terms))


def _decomposed(net, quantity, neurons, max_neurons, components, what) -> Array:
    check_network(net)
    max_neurons = check_int(max_neurons, "max_neurons", minimum=1)
    subset = None
    if neurons is not None:
        subset = set(check_neurons(neurons, net.num_neurons))
        if len(subset) == net.num_neurons:
            subset = None
    structure, allowed = _structure(net, components, max_neurons, what, subset)
    if allowed is None:  # concrete weights (no weight gradient) or one component
        return _total(net, net.weights, structure, quantity, subset)
    # Traced weights: their zeros outside the structure can only be checked at run
    # time (eqx.error_if raises there, under every transformation). The structure's values do not depend on those
    # zeros, but the derivative does: with no weight between a and b's part of the
    # structure, a weight W[a, b] = eps adds eps x_a to b's input, and to first order
    # x_a is independent of what b sees, so d/dW[a, b] = m_a d/db_b (m_a the
    # stationary rate of a). Shifting b's bias by sum_a W[a, b] m_a (zero here)
    # carries that term.
    outside = jnp.where(allowed, 0.0, net.weights)
    weights = eqx.error_if(
        net.weights,
        jnp.any(outside != 0),
        "exact measures: the weights link neurons of different components= (a "
        "nonzero weight outside the given components); pass the components of the "
        "weights' nonzero pattern (fluxjax.weight_components)",
    )
    rates = jax.lax.stop_gradient(_rates(net, weights, structure))
    shifted = eqx.tree_at(lambda n: n.biases, net, net.biases + rates @ outside)
    return _total(shifted, weights, structure, quantity, subset)


# --- Structure: components of the weight graph, read from concrete weights ----------


@dataclass(frozen=True)
class _Structure:
    """Enumerated blocks (ascending indices) and permutation cycles (c[k-1] -> c[k])."""

    blocks: tuple[tuple[int, ...], ...]
    cycles: tuple[tuple[int, ...], ...]


def _connected(pattern: np.ndarray) -> list[np.ndarray]:
    """Connected components of the undirected graph pattern | pattern.T, O(n^2).

    Breadth-first search reading each neuron's row of the boolean adjacency matrix
    once; components are ordered by their smallest neuron, each in ascending order.
    """
    linked = pattern | pattern.T
    np.fill_diagonal(linked, False)
    unseen = np.ones(len(linked), bool)
    parts = []
    for start in range(len(linked)):
        if not unseen[start]:
            continue
        unseen[start] = False
        frontier, members = np.array([start]), [np.array([start])]
        while frontier.size:
            frontier = np.flatnonzero(linked[frontier].any(0) & unseen)
            unseen[frontier] = False
            members.append(frontier)
        parts.append(np.sort(np.concatenate(members)))
    return parts


def _split(pattern: np.ndarray) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """The components of ``pattern``: (other components, cycles in cycle order)."""
    inputs, outputs = pattern.sum(0), pattern.sum(1)
    successor = pattern.argmax(1)
    blocks, cycles = [], []
    for part in _connected(pattern):
        if np.all(inputs[part] == 1) and np.all(outputs[part] == 1):
            order = [int(part[0])]  # a connected permutation is one cycle
            while (nxt := int(successor[order[-1]])) != order[0]:
                order.append(nxt)
            cycles.append(tuple(order))
        else:
            blocks.append(part)
    return blocks, cycles


def _concrete_pattern(net: BinaryNetwork, what: str) -> np.ndarray:
    if not is_concrete(net.weights):
        raise ValueError(
            f"{what} needs concrete weights: the component structure is read from "
            f"the nonzero pattern of net.weights, which is traced here (inside jit, "
            f"grad or vmap). Compute it outside the transformation."
        )
    return np.asarray(net.weights) != 0


def enumerated_size(net: BinaryNetwork) -> int:
    """The largest component exact methods would enumerate (0 if all are cycles).

    Exact flux, entropy and conditional entropy cost 4^k for the largest component
    of k neurons that is not a permutation cycle (:func:`weight_components`).
    """
    check_network(net)
    blocks, _ = _split(_concrete_pattern(net, "enumerated_size"))
    return max((len(b) for b in blocks), default=0)


def weight_components(net: BinaryNetwork) -> tuple[tuple[int, ...], ...]:
    """The connected components of the weight graph, the structure exact methods use.

    Neurons j and i are linked iff ``W[j, i] != 0`` or ``W[i, j] != 0`` (a self-loop
    links nothing). A component in which every neuron has exactly one input and one
    output is a permutation cycle c_0 -> c_1 -> ... -> c_{L-1} -> c_0 and is listed in
    that order, from its smallest neuron (a self-loop is a cycle of length 1); every
    other component is listed in ascending order. Components are ordered by their
    smallest neuron.

    Pass the result as ``components=`` to :func:`exact_flux`, :func:`exact_entropy` or
    :func:`exact_conditional_entropy` when they are called on traced weights (inside
    ``jax.jit`` or ``jax.grad``), where the nonzero pattern cannot be read. There a
    component of more than ``max_neurons`` neurons is taken to be a cycle listed in
    cycle order: ``W[c[k-1], c[k]]`` are its only nonzero weights.

    For a permutation cycle the stationary distribution is a product of Bernoulli(m_i)
    and, with pred(i) the input of i, p_i(s) = E_xi sigmoid((s w_i + b_i) / T_i +
    sigma_i xi) the firing probability given x_pred(i) = s,

        m_i = m_pred(i) p_i(1) + (1 - m_pred(i)) p_i(0),
        I(X_t; X_{t+1}) = sum_i [h(m_i) - m_pred(i) h(p_i(1)) - (1 - m_pred(i)) h(p_i(0))],

    the first an affine fixed point around each cycle (solved by an associative scan
    over the affine maps) and h the binary entropy; H(X_t) = sum_i h(m_i).

    Args:
        net: a network with concrete (not traced) weights.

    Returns:
        A tuple of components, each a tuple of neuron indices.

    Raises:
        ValueError: the weights are traced.

    Examples:
        >>> W = jnp.zeros((5, 5)).at[0, 3].set(1.0).at[3, 0].set(-2.0)  # 0 <-> 3
        >>> W = W.at[1, 4].set(1.5)  # 1 -> 4; neuron 2 is isolated
        >>> weight_components(BinaryNetwork(W, jnp.zeros(5)))
        ((0, 3), (1, 4), (2,))
    """
    check_network(net)
    blocks, cycles = _split(_concrete_pattern(net, "weight_components"))
    parts = [tuple(int(i) for i in b) for b in blocks] + list(cycles)
    return tuple(sorted(parts, key=min))


def _check_components(components, n: int) -> list[tuple[int, ...]]:
    """``components`` as a partition of range(n) into tuples, or a ValueError."""
    parts = check_groups(components, n, "components")
    count = np.zeros(n, int)
    for part in parts:
        count[list(part)] += 1
    if np.any(count > 1):
        raise ValueError(
            f"components must not overlap: neuron(s) "
            f"{np.flatnonzero(count > 1)[:5].tolist()} lie in more than one component"
        )
    if np.any(count == 0):
        missing = np.flatnonzero(count == 0)
        raise ValueError(
            f"components must cover all {n} neurons: {missing.size} missing, e.g. "
            f"{missing[:5].tolist()}"
        )
    return parts


def _check_unlinked(pattern: np.ndarray, parts: list[tuple[int, ...]]) -> None:
    label = np.empty(len(pattern), int)
    for k, part in enumerate(parts):
        label[list(part)] = k
    j, i = np.nonzero(pattern)
    across = np.flatnonzero(label[j] != label[i])
    if across.size:
        j, i = int(j[across[0]]), int(i[across[0]])
        raise ValueError(
            f"components must have no weights between them: weights[{j}, {i}] != 0 "
            f"links components[{label[j]}] and components[{label[i]}] "
            f"({across.size} such weights)"
        )


def _preview(indices) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:5])
    return shown + (", ..." if len(indices) > 5 else "")


def _structure(
    net: BinaryNetwork, components, max_neurons: int, what: str, subset=None
) -> tuple[_Structure, np.ndarray | None]:
    """How ``net`` splits, and (traced weights only) the mask of allowed weights.

    With a ``subset``, components that hold none of its neurons are left out.
    """
    n = net.num_neurons
    parts = None if components is None else _check_components(components, n)
    mask = None
    if is_concrete(net.weights):
        pattern = np.asarray(net.weights) != 0
        if parts is not None:
            _check_unlinked(pattern, parts)
        blocks, cycles = _split(pattern)
    elif parts is not None:
        blocks = [np.sort(p) for p in parts if len(p) <= max_neurons]
        cycles = [p for p in parts if len(p) > max_neurons]
        mask = np.zeros((n, n), bool)
        for block in blocks:
            mask[np.ix_(block, block)] = True
        for cycle in cycles:
            mask[np.roll(cycle, 1), cycle] = True
    elif n <= max_neurons:
        blocks, cycles = [np.arange(n)], []
    else:
        raise ValueError(
            f"{what}: the weights are traced (inside jit, grad or vmap), so the "
            f"component structure of this n = {n} > max_neurons = {max_neurons} "
            f"network cannot be read from them. Pass components=weight_components(net)"
            f" computed outside the transformation."
        )
    if subset is not None and mask is None:
        blocks = [b for b in blocks if not subset.isdisjoint(b.tolist())]
        cycles = [c for c in cycles if not subset.isdisjoint(c)]
    large = [b for b in blocks if len(b) > max_neurons]
    if large:
        big = max(large, key=len)
        gib = _gib(len(big), jnp.dtype(net.weights.dtype).itemsize)
        raise ValueError(
            f"{what} enumerates the 2^n states of each connected component of the "
            f"weight graph (permutation cycles have a closed form at any length) and "
            f"needs n <= max_neurons = {max_neurons} per component; the largest "
            f"component has n = {len(big)} neurons ({_preview(big)}) and would need "
            f"about {gib} GiB. {_ALTERNATIVE}."
        )
    if blocks:
        _check_memory(max(len(b) for b in blocks), net.weights.dtype, what)
    blocks = tuple(tuple(int(i) for i in b) for b in blocks)
    return _Structure(blocks, tuple(tuple(int(i) for i in c) for c in cycles)), mask


def exact_entropy(
    net: BinaryNetwork,
    *,
    max_neurons: int = MAX_EXACT_NEURONS,
    components=None,
) -> Float[Array, ""]:
    """Stationary state entropy H(X_t) = -sum_a pi_a log2 pi_a, in bits.

    The sum of the components' entropies (pi is their product); exact at any n when
    every component has at most ``max_neurons`` neurons or is a permutation cycle.

    Args:
        net: the network.
        max_neurons: the largest component to enumerate (memory grows as 4^k).
        components: the structure, as :func:`weight_components` returns it; needed
            only when the weights are traced and n > ``max_neurons``. With concrete
            weights it is checked against them (a partition with no weights between
            its parts); with traced ones a nonzero weight outside it raises at run
            time (``eqx.error_if``).

    Raises:
        ValueError: a component that is neither small nor a cycle, traced weights
            without ``components``, or malformed ``components``.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # 2 coin flips
        >>> round(float(exact_entropy(net)), 3)
        2.0
        >>> round(float(exact_entropy(BinaryNetwork(jnp.zeros((500, 500)), jnp.zeros(500)))))
        500
    """
    return _decomposed(net, "entropy", None, max_neurons, components, "exact_entropy")


def exact_conditional_entropy(
    net: BinaryNetwork,
    *,
    max_neurons: int = MAX_EXACT_NEURONS,
    components=None,
) -> Float[Array, ""]:
    """H(X_{t+1} | X_t) = sum_a pi_a sum_i h2(p_i(a)), in bits (the intrinsic noise).

    The sum over components, exact at any n like :func:`exact_entropy` (same
    arguments).

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2))  # all noise
        >>> round(float(exact_conditional_entropy(net)), 3)
        2.0
    """
    return _decomposed(
        net,
        "conditional_entropy",
        None,
        max_neurons,
        components,
        "exact_conditional_entropy",
    )


def exact_flux(
    net: BinaryNetwork,
    neurons=None,
    *,
    max_neurons: int = MAX_EXACT_NEURONS,
    components=None,
) -> Float[Array, ""]:
    """Information flux I(X_t; X_{t+1}) under the stationary distribution, in bits.

    For all neurons, I = H(pi) - H(X_{t+1} | X_t). For a subset S (e.g. the core of a
    larger network) it is I(x_S(t); x_S(t+1)) of the stationary joint distribution,
    marginalising the other neurons (a 2^k x 2^|S| table per component, never 4^k).
    Both are sums over the components C of the weight graph: I(x_S; x'_S) =
    sum_C I(x_{S∩C}(t); x_{S∩C}(t+1)), so the flux is exact at any n when every
    component has at most ``max_neurons`` neurons or is a permutation cycle (closed
    form, see :func:`weight_components`).

    Args:
        net: the network.
        neurons: indices of the subset; default all neurons.
        max_neurons: the largest component to enumerate; memory grows as 4^k.
        components: the structure, as :func:`weight_components` returns it; needed
            only when the weights are traced (jit, grad) and n > ``max_neurons``.
            With concrete weights it is checked against them; with traced ones a
            nonzero weight outside it raises at run time (``eqx.error_if``).

    Raises:
        ValueError: a component that is neither small nor a cycle (the message names
            its size and memory), traced weights without ``components``, malformed
            ``components`` or ``neurons``.

    Examples:
        >>> flux = exact_flux(BinaryNetwork(jnp.zeros((2, 2)), jnp.zeros(2)))
        >>> flux.dtype, abs(float(flux)) < 1e-6  # independent neurons: no flux
        (dtype('float32'), True)
        >>> ring = 8.0 * jnp.roll(jnp.eye(1000), 1, axis=1)  # i -> i + 1, a 1000-cycle
        >>> round(float(exact_flux(BinaryNetwork(ring, jnp.full(1000, -4.0)))), 1)
        870.0
    """
    return _decomposed(net, "flux", neurons, max_neurons, components, "exact_flux")


def exact_transfer_entropy(
    net: BinaryNetwork,
    target,
    source=None,
    *,
    max_neurons: int = MAX_EXACT_NEURONS,
) -> Float[Array, ""]:
    """Transfer entropy I(x_T(t+1); x_S(t) | x_T(t)) into ``target`` from ``source``.

    TE = H(x_T(t+1) | x_T(t)) - H(x_T(t+1) | x_T(t), x_S(t)), in bits; ``source``
    defaults to every neuron outside ``target`` (the embedding of a core). Enumerates
    the whole network: n <= ``max_neurons``.

    Examples:
        >>> weights = jnp.array([[0.0, 6.0], [0.0, 0.0]])  # 0 -> 1
        >>> net = BinaryNetwork(weights, jnp.array([0.0, -3.0]))
        >>> round(float(exact_transfer_entropy(net, [1], [0])), 3)  # 1 follows 0
        0.725
    """
    _check_size(net, max_neurons, "exact_transfer_entropy")
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
    triplet codes c_k = s_a + 2 s_b + 4 s_c (Metzner et al. 2026, Methods). Enumerates
    the whole network: n <= ``max_neurons``.

    Examples:
        >>> net = random_network(6, key=jax.random.key(0), weight_scale=3.0)
        >>> intra, inter = exact_triplet_flux(net, [(0, 1, 2), (3, 4, 5)])
        >>> round(float(intra), 3), round(float(inter), 3)
        (0.105, 0.12)
    """
    _check_size(net, max_neurons, "exact_triplet_flux")
    groups = check_groups(triplets, net.num_neurons, "triplets")
    if len(groups) < 2:
        raise ValueError("triplets must hold at least two groups of neurons")
    pi = stationary_distribution(net, max_neurons=max_neurons)
    mi = [
        [mutual_information(_joint(net, pi, g, h)) / math.log(2.0) for h in groups]
        for g in groups
    ]
    intra = jnp.mean(jnp.stack([mi[k][k] for k in range(len(groups))]))
    inter = jnp.mean(
        jnp.stack(
            [mi[k][l] for k in range(len(groups)) for l in range(len(groups)) if k != l]
        )
    )
    return TripletFlux(intra, inter)
