"""Network builders: the paper's 125-neuron L5 microcircuit, its parts and controls.

Construction is done in NumPy (it runs once, outside any traced code) and returns a
:class:`~fluxjax.network.BinaryNetwork`. The L5 microcircuit takes an integer ``seed``
for ``numpy.random.default_rng`` so that it reproduces the study's public reference
code bit for bit; :func:`random_network` takes a JAX key.

Conventions: ``weights[j, i]`` is the synapse from neuron j to neuron i (rows are
presynaptic). ``groups`` maps a population name to a 1-D array of neuron indices.

References:
    C. Metzner, M. Ghebleh, K. Prebeck, A. Schilling, A. Maier, T. Kinfe, P. Krauss,
    "Are cortical microcircuits optimized for information flux? A simulation-based
    reverse engineering study", arXiv:2605.14680 (2026), section "The network".
    Reference code: GitHub ``Mockingbird2k/Are-cortical-microcircuits-optimized-for-
    information-flux-`` at commit 243091c, ``src/weights/prebeck_125node.py`` (the
    construction) and ``src/core/dynamics_prebeck.py`` (the temperature scope).
    K. Prebeck, "Noise in Neural Networks", MSc thesis (2018), Sections 2.7-2.8.
    S. Maslov, K. Sneppen, "Specificity and stability in topology of protein
    networks", Science 296, 910 (2002) (the degree-preserving edge swap).
"""

import dataclasses
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from ._checks import (
    check_choice,
    check_int,
    check_key,
    check_neurons,
    default_float_dtype,
)
from .network import BinaryNetwork


# A 1-D collection of neuron indices.
_Indices = ArrayLike | Sequence[int]

__all__ = [
    "degree_preserving_shuffle",
    "ei_network",
    "isolated_core",
    "l5_microcircuit",
    "lesion",
    "random_network",
    "shuffle_core_structure",
    "subnetwork",
]


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _check_real(value, name: str, *, low=None, high=None, low_open=False) -> float:
    """Returns ``value`` as a float, raising unless it is finite and in range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}]"
    if (
        not np.isfinite(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and value > high)
    ):
        raise ValueError(f"{name} must be finite and in {interval}, got {value}")
    return value


def _check_seed(seed) -> int:
    """Integer seeds >= 0 only (what ``numpy.random.default_rng`` accepts)."""
    return check_int(seed, "seed", minimum=0)


def _group(groups: Mapping[str, _Indices], name, n: int) -> np.ndarray:
    """The index array of group ``name``, checked against n neurons."""
    if not isinstance(name, str):
        raise TypeError(f"a group must be named by a string, got {name!r}")
    if name == "excitatory" and "excitatory" not in groups:
        return np.union1d(_group(groups, "core", n), _group(groups, "periphery", n))
    if name not in groups:
        raise ValueError(f"unknown group {name!r}; groups has {sorted(groups)}")
    indices = np.asarray(groups[name])
    if indices.ndim != 1 or not (
        np.issubdtype(indices.dtype, np.integer) or indices.size == 0
    ):
        raise TypeError(f"groups[{name!r}] must be a 1-D array of integer indices")
    indices = indices.astype(np.intp)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(
            f"groups[{name!r}] must lie in [0, {n - 1}], got "
            f"[{indices.min()}, {indices.max()}]"
        )
    return indices


def _as_float_or_array(value):
    """Python/NumPy integer scalars -> float (BinaryNetwork takes float or array)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return value


def _numpy_weights(net: BinaryNetwork) -> np.ndarray:
    return np.array(net.weights)


def _with_weights(net: BinaryNetwork, weights: np.ndarray) -> BinaryNetwork:
    new = jnp.asarray(weights, dtype=net.weights.dtype)
    return eqx.tree_at(lambda m: m.weights, net, new)


# ---------------------------------------------------------------------------
# The L5 microcircuit
# ---------------------------------------------------------------------------


def _l5_weights(
    seed: int,
    *,
    num_core: int,
    num_periphery: int,
    num_interneurons: int,
    core_density: float,
    density: float,
    inhibitory_density: float,
    lognormal_mean: float,
    lognormal_sigma: float,
    t0,
    inhibitory_weight,
) -> tuple[np.ndarray, float]:
    """The float64 weight matrix and the resolved t0 (see :func:`l5_microcircuit`).

    Follows ``build_prebeck_125node_weight_matrix`` of the reference code: one
    ``default_rng(seed)`` drawn from in the order lognormal -> A slots -> B+C slots ->
    D slots, with the candidate slots enumerated in the same (row-major) order.
    """
    rng = np.random.default_rng(seed)
    nc, ne = num_core, num_core + num_periphery
    ni = num_interneurons
    n = ne + ni
    W = np.zeros((n, n), dtype=np.float64)

    # Candidate slots, each list in row-major (source, target) order.
    # A: core -> core without self-connections.
    a_src, a_tgt = np.nonzero(~np.eye(nc, dtype=bool))
    # B: excitatory -> excitatory, neither self nor A; then C: excitatory -> inhibitory.
    allowed = ~np.eye(ne, dtype=bool)
    allowed[:nc, :nc] = False
    b_src, b_tgt = np.nonzero(allowed)
    c_src, c_tgt = np.nonzero(np.ones((ne, ni), dtype=bool))
    bc_src = np.concatenate([b_src, c_src])
    bc_tgt = np.concatenate([b_tgt, c_tgt + ne])
    # D: inhibitory -> excitatory (no inhibitory -> inhibitory edges, region E).
    d_src, d_tgt = np.nonzero(np.ones((ni, ne), dtype=bool))
    d_src = d_src + ne

    # Edge counts: Python's round() of density * (integer slot count), in exactly
    # the reference's order of operations (0.35 * 90 = 31.499... -> 31, whereas
    # 0.35 * 10 * 9 = 31.5 -> 32; 0.116 * 12400 -> 1438; 0.116 * 2500 -> 290).
    num_abc = int(round(density * (ne * (ne - 1) + ne * ni)))
    num_a = int(round(core_density * (nc * (nc - 1))))
    num_d = int(round(inhibitory_density * (ni * ne)))
    num_bc = num_abc - num_a
    if num_a > num_abc:
        raise ValueError(
            f"core_density={core_density} asks for {num_a} core->core edges, more than "
            f"the {num_abc} excitatory edges that density={density} gives"
        )
    if num_bc > bc_src.size:
        raise ValueError(
            f"density={density} leaves {num_bc} excitatory edges for only "
            f"{bc_src.size} non-core candidate slots; lower density or raise "
            "core_density"
        )

    # Excitatory weights: lognormal (Song et al. 2005 fit), sorted descending.
    w = np.sort(rng.lognormal(mean=lognormal_mean, sigma=lognormal_sigma, size=num_abc))
    w = w[::-1]
    if num_a > 0:  # the num_a largest weights go to random core -> core slots
        k = rng.choice(a_src.size, size=num_a, replace=False)
        W[a_src[k], a_tgt[k]] = w[:num_a]
    if num_bc > 0:  # the rest go uniformly at random to the B + C slots
        k = rng.choice(bc_src.size, size=num_bc, replace=False)
        W[bc_src[k], bc_tgt[k]] = w[num_a:]

    if isinstance(t0, str):
        if num_a == 0:
            raise ValueError(
                't0="mean_core" needs at least one core->core edge; raise core_density'
            )
        t0 = float(np.mean(w[:num_a]))
    w_inh = -t0 if inhibitory_weight is None else inhibitory_weight
    if num_d > 0:
        k = rng.choice(d_src.size, size=num_d, replace=False)
        W[d_src[k], d_tgt[k]] = w_inh
    return W, t0


@dataclasses.dataclass(frozen=True)
class L5Sizes:
    """The population sizes and weight statistics of :func:`l5_microcircuit`.

    The defaults are the paper's network; other sizes are for studies of the
    construction itself.

    Attributes:
        num_core: n_c >= 1 core neurons.
        num_periphery: n_p >= 0 peripheral excitatory neurons (n_c + n_p >= 2).
        num_interneurons: n_i >= 0 inhibitory neurons.
        density: overall density in [0, 1] of the excitatory edges (A + B + C).
        inhibitory_density: density in [0, 1] of region D; ``None`` means ``density``.
        lognormal_mean: mean of ln w (finite).
        lognormal_sigma: SD of ln w (>= 0).
    """

    num_core: int = 10
    num_periphery: int = 90
    num_interneurons: int = 25
    density: float = 0.116
    inhibitory_density: float | None = None
    lognormal_mean: float = -0.702
    lognormal_sigma: float = 0.9355


PAPER_SIZES = L5Sizes()
"""The paper's network: 10 core, 90 periphery and 25 interneurons."""


def l5_microcircuit(
    seed: int | np.integer = 42,
    *,
    core_density: float | int = 0.35,
    t0: float | int | str = 5.0,
    t0_scope: str = "all",
    inhibitory_weight: float | int | None = None,
    noise: float | int | Float[ArrayLike, " n"] = 0.0,
    sizes: L5Sizes = PAPER_SIZES,
    dtype=None,
) -> tuple[BinaryNetwork, dict[str, np.ndarray]]:
    """The study's L5 microcircuit: a strong core embedded in periphery + interneurons.

    Populations (defaults): core = neurons 0-9 and periphery = 10-99 (excitatory),
    interneurons = 100-124 (inhibitory). With n_c core, n_e = n_c + n_p excitatory
    and n_i inhibitory neurons:

    * n_ABC = round(density * (n_e (n_e - 1) + n_e n_i)) excitatory weights are drawn
      with ln w ~ N(lognormal_mean, lognormal_sigma^2) (Song et al. 2005) and sorted
      in descending order (defaults: 1438 weights).
    * Region A (core -> core, no self-connections): the n_A = round(core_density *
      n_c (n_c - 1)) **largest** weights go to randomly chosen slots (default 31).
    * Regions B + C: the other weights go uniformly at random (without replacement)
      to every other excitatory slot: excitatory -> excitatory except self and
      core -> core, plus excitatory -> inhibitory (default 12310 slots, 1407 edges).
    * Region D: n_D = round(inhibitory_density * n_i n_e) random inhibitory ->
      excitatory slots get weight ``inhibitory_weight`` (default -t0; 290 edges), so
      that one active interneuron adds -1 to the normalised input.
    * Region E: no inhibitory -> inhibitory edges; the diagonal is zero.
    * Biases are zero.

    Dynamics (see :class:`~fluxjax.network.BinaryNetwork`):
    u_i = (sum_j s_j W[j, i] + b_i) / T_i + sigma * xi_i. With ``t0_scope="all"``
    every neuron has T_i = t0 (the reference code's documented final choice, used in
    its flux, lesion and w_inh experiments). With ``t0_scope="core"`` only core
    neurons have T_i = t0 and the periphery and interneurons have T_i = 1, as in the
    reference's ``PrebeckBoltzmannDynamics`` with a core mask (used in its first
    embedded-vs-isolated runs); the weights are the same in both scopes, so the
    interneurons' -t0 weights then act undivided on the periphery (and on the core
    before its division), and the other populations see raw lognormal inputs.

    Random numbers: one ``numpy.random.default_rng(seed)``, drawn in the reference
    code's order: lognormal(n_ABC) -> choice of A slots -> choice of B + C slots ->
    choice of D slots (each ``choice`` without replacement over the candidate slots
    enumerated in row-major (source, target) order, the C slots after all B slots).
    With the defaults this reproduces the reference network bit for bit for any seed
    (in float64). Note that the reference code fixes t0 = 5.0 inside its builder
    (the mean core weight, Prebeck's choice, is commented out there), so its
    interneuron weights are -5.0; ``t0="mean_core"`` gives Prebeck's variant
    (t0 = 4.5917 and interneuron weights -4.5917 for seed 42).

    Args:
        seed: integer >= 0 for ``numpy.random.default_rng``.
        core_density: d_s in [0, 1], the fraction of core -> core slots realised
            (0.35 and 0.45 in the paper).
        t0: the temperature, a real > 0, or ``"mean_core"`` for the mean of the
            realised core -> core weights.
        t0_scope: ``"all"`` (every neuron's input is divided by t0) or ``"core"``
            (only the core's).
        inhibitory_weight: the weight of every inhibitory -> excitatory edge, a real
            <= 0; ``None`` means -t0.
        noise: sigma >= 0, scalar or ``(n,)``, added after the division by t0.
        sizes: the population sizes and weight statistics (:class:`L5Sizes`;
            default the paper's).
        dtype: floating dtype of the network; default JAX's default float. The
            construction is float64 and then cast.

    Returns:
        ``(net, groups)``: the :class:`~fluxjax.network.BinaryNetwork` and a dict of
        NumPy index arrays ``"core"``, ``"periphery"``, ``"interneurons"`` and
        ``"excitatory"`` (core then periphery).

    Raises:
        ValueError: an argument out of its range (the message names it), or edge
            counts that cannot be placed.
        TypeError: an argument of the wrong type.

    Examples:
        >>> net, groups = l5_microcircuit(seed=42)
        >>> net.weights.shape, groups["core"].tolist()
        ((125, 125), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    seed = _check_seed(seed)
    if not isinstance(sizes, L5Sizes):
        raise TypeError(f"sizes must be an L5Sizes, got {type(sizes).__name__}")
    num_core = check_int(sizes.num_core, "num_core", minimum=1)
    num_periphery = check_int(sizes.num_periphery, "num_periphery", minimum=0)
    num_interneurons = check_int(sizes.num_interneurons, "num_interneurons", minimum=0)
    if num_core + num_periphery < 2:
        raise ValueError(
            f"num_core + num_periphery must be >= 2, got {num_core} + {num_periphery}"
        )
    core_density = _check_real(core_density, "core_density", low=0.0, high=1.0)
    density = _check_real(sizes.density, "density", low=0.0, high=1.0)
    inhibitory_density = _check_real(
        density if sizes.inhibitory_density is None else sizes.inhibitory_density,
        "inhibitory_density",
        low=0.0,
        high=1.0,
    )
    lognormal_mean = _check_real(sizes.lognormal_mean, "lognormal_mean")
    lognormal_sigma = _check_real(sizes.lognormal_sigma, "lognormal_sigma", low=0.0)
    if isinstance(t0, str):
        check_choice(t0, "t0", ("mean_core",))
    else:
        t0 = _check_real(t0, "t0", low=0.0, low_open=True)
    check_choice(t0_scope, "t0_scope", ("all", "core"))
    if inhibitory_weight is not None:
        inhibitory_weight = _check_real(
            inhibitory_weight, "inhibitory_weight", high=0.0
        )
    dtype = default_float_dtype(dtype)

    W, t0 = _l5_weights(
        seed,
        num_core=num_core,
        num_periphery=num_periphery,
        num_interneurons=num_interneurons,
        core_density=core_density,
        density=density,
        inhibitory_density=inhibitory_density,
        lognormal_mean=lognormal_mean,
        lognormal_sigma=lognormal_sigma,
        t0=t0,
        inhibitory_weight=inhibitory_weight,
    )
    n = W.shape[0]
    ne = num_core + num_periphery
    groups = {
        "core": np.arange(0, num_core),
        "periphery": np.arange(num_core, ne),
        "interneurons": np.arange(ne, n),
        "excitatory": np.arange(0, ne),
    }
    if t0_scope == "all":
        temperature = float(t0)
    else:
        temperature = np.ones(n, dtype=dtype)
        temperature[groups["core"]] = t0
    net = BinaryNetwork(
        W.astype(dtype),
        np.zeros(n, dtype=dtype),
        temperature,
        _as_float_or_array(noise),
        dtype=dtype,
    )
    return net, groups


# ---------------------------------------------------------------------------
# Parts of a network
# ---------------------------------------------------------------------------


def subnetwork(net: BinaryNetwork, neurons: _Indices) -> BinaryNetwork:
    """The network of ``neurons`` alone: every other neuron and its synapses removed.

    W' = ``W[neurons][:, neurons]``, b' = b[neurons]; a per-neuron temperature or noise is
    restricted the same way, a scalar one is kept. The dynamics of the kept neurons
    are otherwise unchanged (same t0, same noise).

    Args:
        net: the full network.
        neurons: 1-D distinct integer indices in [0, n), in the order to keep.

    Returns:
        A :class:`~fluxjax.network.BinaryNetwork` with ``len(neurons)`` neurons.

    Examples:
        >>> net = BinaryNetwork(jnp.arange(9.0).reshape(3, 3), jnp.arange(3.0))
        >>> sub = subnetwork(net, [2, 0])
        >>> sub.weights.tolist(), sub.biases.tolist()
        ([[8.0, 6.0], [2.0, 0.0]], [2.0, 0.0])
    """
    n = net.num_neurons
    idx = np.asarray(check_neurons(neurons, n))

    def restrict(value):
        return value if value is None or value.ndim == 0 else value[idx]

    return eqx.tree_at(
        lambda m: (m.weights, m.biases, m.temperature, m.noise),
        net,
        (
            net.weights[np.ix_(idx, idx)],
            net.biases[idx],
            restrict(net.temperature),
            restrict(net.noise),
        ),
        is_leaf=lambda x: x is None,
    )


def isolated_core(net: BinaryNetwork, groups: Mapping[str, _Indices]) -> BinaryNetwork:
    """The core alone: ``W[core][:, core]`` with the core's biases, temperature and noise.

    This is the paper's isolated core (section "The network"): same dynamics, no
    input from the periphery or the interneurons.

    Args:
        net: a network, e.g. from :func:`l5_microcircuit`.
        groups: must contain ``"core"``.

    Returns:
        The core's :class:`~fluxjax.network.BinaryNetwork` (neurons in core order).

    Examples:
        >>> net, groups = l5_microcircuit(seed=42)
        >>> isolated_core(net, groups).num_neurons
        10
    """
    return subnetwork(net, _group(groups, "core", net.num_neurons))


def lesion(
    net: BinaryNetwork,
    groups: Mapping[str, _Indices],
    source: str | Sequence[tuple[str, str]],
    target: str | None = None,
) -> BinaryNetwork:
    """Cuts a pathway: every weight from group ``source`` to group ``target`` set to 0.

    W[j, i] = 0 for j in groups[source] and i in groups[target] (the paper's lesion
    experiments, e.g. ``lesion(net, groups, "interneurons", "core")``). For several
    cuts at once pass a sequence of ``(source, target)`` pairs and no ``target``, e.g.
    the double cut ``[("core", "interneurons"), ("core", "periphery")]``.

    Args:
        net: the network.
        groups: group name -> index array (``"excitatory"`` may be used even if
            absent: it is then core + periphery).
        source: the presynaptic group's name, or a sequence of (source, target) pairs.
        target: the postsynaptic group's name (``None`` with a sequence of pairs).

    Returns:
        The lesioned network; biases, temperature and noise are unchanged.

    Examples:
        >>> net, groups = l5_microcircuit(seed=42)
        >>> cut = lesion(net, groups, "interneurons", "core")
        >>> inh, core = groups["interneurons"], groups["core"]
        >>> int(jnp.count_nonzero(cut.weights[inh][:, core]))
        0
    """
    if isinstance(source, str):
        if not isinstance(target, str):
            raise TypeError("target must be a group name when source is a group name")
        pairs = [(source, target)]
    else:
        if target is not None:
            raise TypeError("pass either (source, target) names or a list of pairs")
        pairs = list(source)
        if not pairs or not all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs
        ):
            raise ValueError("source must be a non-empty sequence of (source, target)")
    n = net.num_neurons
    W = _numpy_weights(net)
    for src, tgt in pairs:
        W[np.ix_(_group(groups, src, n), _group(groups, tgt, n))] = 0.0
    return _with_weights(net, W)


# ---------------------------------------------------------------------------
# Randomised controls
# ---------------------------------------------------------------------------


def _excitatory_edges(W: np.ndarray, excitatory: np.ndarray):
    """Sources and targets of the excitatory edges, in row-major order.

    An excitatory edge is a nonzero off-diagonal weight from an excitatory neuron.
    """
    mask = np.zeros(W.shape, dtype=bool)
    mask[excitatory] = True
    np.fill_diagonal(mask, False)
    return np.nonzero(mask & (W != 0))


def shuffle_core_structure(
    net: BinaryNetwork, groups: Mapping[str, _Indices], seed: int | np.integer
) -> BinaryNetwork:
    """Control: the same excitatory weights placed uniformly at random.

    Let E be the nonzero weights from excitatory neurons (core + periphery, no
    diagonal) and S every excitatory candidate slot (j, i): j excitatory, i any other
    neuron (for the L5 network 100 * 99 + 100 * 25 = 12400 slots, A + B + C). The
    excitatory rows are cleared and the |E| weights placed in |E| slots drawn
    uniformly from S without replacement (``numpy.random.default_rng(seed).choice``,
    whose order is itself random). The multiset of excitatory weights is kept, the
    core loses its rich club (its strong weights scatter over the whole network), and
    the inhibitory rows, biases, temperature and noise are unchanged.

    Args:
        net: the network.
        groups: must contain ``"core"`` and ``"periphery"`` (or ``"excitatory"``).
        seed: integer >= 0.

    Returns:
        The shuffled network.

    Examples:
        >>> net, groups = l5_microcircuit(seed=42)
        >>> shuffled = shuffle_core_structure(net, groups, seed=0)
        >>> bool(jnp.count_nonzero(shuffled.weights) == jnp.count_nonzero(net.weights))
        True
    """
    seed = _check_seed(seed)
    n = net.num_neurons
    exc = _group(groups, "excitatory", n)
    W = _numpy_weights(net)
    src, tgt = _excitatory_edges(W, exc)
    weights = W[src, tgt]
    slots = np.zeros((n, n), dtype=bool)
    slots[exc] = True
    np.fill_diagonal(slots, False)
    slot_src, slot_tgt = np.nonzero(slots)
    k = np.random.default_rng(seed).choice(
        slot_src.size, size=weights.size, replace=False
    )
    W[exc] = 0.0
    W[slot_src[k], slot_tgt[k]] = weights
    return _with_weights(net, W)


def degree_preserving_shuffle(
    net: BinaryNetwork,
    groups: Mapping[str, _Indices],
    seed: int | np.integer,
    *,
    swaps_per_edge: int | np.integer = 10,
) -> BinaryNetwork:
    """Control: rewire the excitatory edges keeping every neuron's in- and out-degree.

    Maslov-Sneppen target swaps on the excitatory edges E (nonzero weights from core
    and periphery, no diagonal). Repeat until ``swaps_per_edge * |E|`` swaps are
    accepted: draw two distinct edges j->i (weight w) and k->l (weight v) uniformly
    from E; if j != k, i != l, j != l, k != i and neither j->l nor k->i is already an
    excitatory edge, replace them by j->l (weight w) and k->i (weight v); otherwise
    reject and draw again. So each edge keeps its source and its weight (every
    neuron's excitatory out-degree and out-strength are kept), every neuron keeps its
    excitatory in-degree, no self-loops or duplicate edges arise, and the number of
    excitatory -> inhibitory edges is unchanged. Inhibitory rows, biases, temperature
    and noise are unchanged.

    Args:
        net: the network.
        groups: must contain ``"core"`` and ``"periphery"`` (or ``"excitatory"``).
        seed: integer >= 0 for ``numpy.random.default_rng``.
        swaps_per_edge: accepted swaps per excitatory edge (>= 0).

    Returns:
        The rewired network.

    Raises:
        RuntimeError: fewer swaps than asked were accepted in 100 times as many
            attempts (a network too dense or too small to rewire).

    Examples:
        >>> net, groups = l5_microcircuit(seed=42)
        >>> rewired = degree_preserving_shuffle(net, groups, seed=0, swaps_per_edge=1)
        >>> bool(((rewired.weights != 0).sum(0) == (net.weights != 0).sum(0)).all())
        True
    """
    seed = _check_seed(seed)
    swaps_per_edge = check_int(swaps_per_edge, "swaps_per_edge", minimum=0)
    n = net.num_neurons
    exc = _group(groups, "excitatory", n)
    W = _numpy_weights(net)
    src, tgt = _excitatory_edges(W, exc)
    weights = W[src, tgt]
    src, tgt = src.copy(), tgt.copy()
    num_edges = src.size
    target_swaps = swaps_per_edge * num_edges
    if target_swaps == 0:
        return net
    if num_edges < 2:
        raise RuntimeError(
            "degree_preserving_shuffle needs at least 2 excitatory edges"
        )
    edge = np.zeros((n, n), dtype=bool)
    edge[src, tgt] = True
    rng = np.random.default_rng(seed)
    accepted = attempts = 0
    max_attempts = 100 * target_swaps
    while accepted < target_swaps:
        if attempts >= max_attempts:
            raise RuntimeError(
                f"only {accepted} of {target_swaps} swaps were accepted in "
                f"{attempts} attempts"
            )
        batch = rng.integers(0, num_edges, size=(4096, 2))
        for e1, e2 in batch.tolist():
            attempts += 1
            j, i, k, l = src[e1], tgt[e1], src[e2], tgt[e2]
            if j == k or i == l or j == l or k == i or edge[j, l] or edge[k, i]:
                continue
            edge[j, i] = edge[k, l] = False
            edge[j, l] = edge[k, i] = True
            tgt[e1], tgt[e2] = l, i
            accepted += 1
            if accepted == target_swaps:
                break
    W[exc] = 0.0
    W[src, tgt] = weights
    return _with_weights(net, W)


# ---------------------------------------------------------------------------
# Small random networks (for tests and the predecessors' motif experiments)
# ---------------------------------------------------------------------------


def random_network(
    num_neurons: int | np.integer,
    *,
    key: PRNGKeyArray,
    density: float | int = 1.0,
    weight_mean: float | int = 0.0,
    weight_scale: float | int = 1.0,
    bias_mean: float | int = 0.0,
    bias_scale: float | int = 0.0,
    self_connections: bool = False,
    temperature: float | int | Float[ArrayLike, " n"] = 1.0,
    noise: float | int | Float[ArrayLike, " n"] = 0.0,
    dtype=None,
) -> BinaryNetwork:
    """A random network with Gaussian weights and biases.

    W[j, i] = m_ji * (weight_mean + weight_scale * g_ji), m_ji ~ Bernoulli(density),
    g_ji ~ N(0, 1), with m_ii = 0 unless ``self_connections``;
    b_i = bias_mean + bias_scale * h_i, h_i ~ N(0, 1). All draws are independent.

    Args:
        num_neurons: n >= 1.
        key: JAX PRNG key (split into mask, weight and bias keys).
        density: probability in [0, 1] that a slot holds a synapse.
        weight_mean: mean of a present weight.
        weight_scale: SD (>= 0) of a present weight.
        bias_mean: mean of a bias.
        bias_scale: SD (>= 0) of a bias.
        self_connections: whether W[i, i] may be nonzero.
        temperature: scalar or ``(n,)``, > 0.
        noise: scalar or ``(n,)``, >= 0.
        dtype: floating dtype; default JAX's default float.

    Returns:
        The :class:`~fluxjax.network.BinaryNetwork`.

    Examples:
        >>> net = random_network(4, key=jax.random.key(0), weight_scale=2.0)
        >>> net.weights.shape, bool((jnp.diag(net.weights) == 0).all())
        ((4, 4), True)
    """
    n = check_int(num_neurons, "num_neurons", minimum=1)
    check_key(key)
    density = _check_real(density, "density", low=0.0, high=1.0)
    weight_mean = _check_real(weight_mean, "weight_mean")
    weight_scale = _check_real(weight_scale, "weight_scale", low=0.0)
    bias_mean = _check_real(bias_mean, "bias_mean")
    bias_scale = _check_real(bias_scale, "bias_scale", low=0.0)
    dtype = default_float_dtype(dtype)
    mask_key, weight_key, bias_key = jr.split(key, 3)
    mask = jr.bernoulli(mask_key, density, (n, n))
    if not self_connections:
        mask = mask & ~jnp.eye(n, dtype=bool)
    weights = weight_mean + weight_scale * jr.normal(weight_key, (n, n), dtype)
    weights = jnp.where(mask, weights, jnp.zeros((), dtype))
    biases = bias_mean + bias_scale * jr.normal(bias_key, (n,), dtype)
    return BinaryNetwork(
        weights,
        biases,
        _as_float_or_array(temperature),
        _as_float_or_array(noise),
        dtype=dtype,
    )


def ei_network(
    num_neurons: int | np.integer,
    *,
    key: PRNGKeyArray,
    strength: float | int = 1.0,
    in_degree: int | None = None,
    excitatory_fraction: float = 0.8,
    temperature: float | int = 1.0,
    noise: float | int = 0.0,
    dtype=None,
) -> BinaryNetwork:
    """A random excitatory/inhibitory network (Dale's law) with a fixed in-degree.

    Each neuron i receives K = ``in_degree`` synapses from distinct other neurons
    drawn uniformly (all n - 1 others when ``in_degree`` is None: dense). Neurons
    0 .. n_E - 1 (n_E = round(f n)) are excitatory, the rest inhibitory, and

        W[j, i] = +J |g_ji| / sqrt(K)          (j excitatory),
        W[j, i] = -gamma J |g_ji| / sqrt(K)    (j inhibitory),   gamma = f / (1 - f),

    with g_ji ~ N(0, 1) and J = ``strength``: the expected summed input of a neuron
    is balanced (zero) when all neurons fire equally, and its SD over random states
    does not depend on K. Biases are zero. The binary reservoirs of Buesing,
    Schrauwen & Legenstein (2010) vary K in the same way.

    Args:
        num_neurons: n >= 2.
        key: JAX PRNG key.
        strength: J >= 0.
        in_degree: K in [1, n - 1], or None for dense.
        excitatory_fraction: f in (0, 1).
        temperature: scalar > 0.
        noise: scalar >= 0.
        dtype: floating dtype; default JAX's default float.

    Returns:
        The :class:`~fluxjax.network.BinaryNetwork`.

    Examples:
        >>> net = ei_network(10, key=jax.random.key(0), in_degree=3)
        >>> (net.weights != 0).sum(0).tolist()  # every neuron has 3 inputs
        [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    """
    n = check_int(num_neurons, "num_neurons", minimum=2)
    check_key(key)
    strength = _check_real(strength, "strength", low=0.0)
    f = _check_real(excitatory_fraction, "excitatory_fraction", low=0.0, high=1.0)
    if not 0 < f < 1:
        raise ValueError(f"excitatory_fraction must lie in (0, 1), got {f}")
    k = n - 1 if in_degree is None else check_int(in_degree, "in_degree", minimum=1)
    if k > n - 1:
        raise ValueError(f"in_degree must be at most n - 1 = {n - 1}, got {k}")
    dtype = default_float_dtype(dtype)
    mask_key, weight_key = jr.split(key)
    # K distinct presynaptic neurons per column: the K smallest of n - 1 uniform keys
    scores = jr.uniform(mask_key, (n, n)).at[jnp.arange(n), jnp.arange(n)].set(2.0)
    ranks = jnp.argsort(jnp.argsort(scores, axis=0), axis=0)
    mask = ranks < k
    num_excitatory = int(round(f * n))
    sign = jnp.where(jnp.arange(n) < num_excitatory, 1.0, -f / (1 - f)).astype(dtype)
    magnitude = jnp.abs(jr.normal(weight_key, (n, n), dtype)) * (strength / k**0.5)
    weights = jnp.where(mask, sign[:, None] * magnitude, jnp.zeros((), dtype))
    return BinaryNetwork(
        weights,
        jnp.zeros(n, dtype),
        _as_float_or_array(temperature),
        _as_float_or_array(noise),
        dtype=dtype,
    )
