"""Tests for fluxjax.builders: the L5 microcircuit, its parts and randomised controls.

Reference values: printed by the study's public numpy code
(GitHub Mockingbird2k/Are-cortical-microcircuits-optimized-for-information-flux-,
commit 243091c, ``src/weights/prebeck_125node.py``:
``build_prebeck_125node_weight_matrix(np.random.default_rng(seed), ns=10, ds=ds,
wi_mode="-t0")``, numpy 2.4.6). The sha256 is of the float64 matrix's C-order bytes.
The other tests below check every rule of the construction directly, so the hashes
are tripwires for the exact random stream, not the only proof of correctness.
"""

import functools
import hashlib

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from fluxjax.builders import (
    L5Sizes,
    _l5_weights,
    degree_preserving_shuffle,
    isolated_core,
    l5_microcircuit,
    lesion,
    random_network,
    shuffle_core_structure,
    subnetwork,
)
from fluxjax.network import BinaryNetwork


CORE = np.arange(10)
PERI = np.arange(10, 100)
INTER = np.arange(100, 125)
EXC = np.arange(100)

# sha256 of the reference code's W for (seed, core_density); t0 = 5.0 (hard-coded
# there), inhibitory weight -5.0.
REFERENCE_SHA256 = {
    (42, 0.35): "ac0bd834b0db9e7932f7ae7c863364fc8a57c7b6cd858c6d84ed0fead5441548",
    (42, 0.45): "91349fc3581a6c8a95c0aa1a6f8af56c37e98bcadbf9f99b5b46d780906e7acc",
    (0, 0.35): "ce6372a386912249ebb641c7ebf02420e6c5a285bef2b8b77bafa5a7f9bfe7c6",
    (7, 0.35): "91654fdc0a453b5603977ccfdae9cdbadac800fb6faf5889a85f81747e66a889",
}
# The same code with its commented-out line ``t0 = float(np.mean(A_weights))`` used
# instead of ``t0 = 5.0`` (Prebeck's choice), seed 42, ds = 0.35.
REFERENCE_SHA256_MEAN_CORE = (
    "0c22dd2e560859d4bf84b374646e8d59d06b200c47cb77d76a2125ae3c4cdb24"
)
REFERENCE_MEAN_CORE_T0 = 4.591685946232785


def _defaults(**overrides):
    kwargs = dict(
        num_core=10,
        num_periphery=90,
        num_interneurons=25,
        core_density=0.35,
        density=0.116,
        inhibitory_density=0.116,
        lognormal_mean=-0.702,
        lognormal_sigma=0.9355,
        t0=5.0,
        inhibitory_weight=None,
    )
    kwargs.update(overrides)
    return kwargs


@functools.cache
def _net(seed=42, **kwargs):
    return l5_microcircuit(seed, **kwargs)


def _W(net):
    return np.asarray(net.weights, dtype=np.float64)


def _sha(W):
    return hashlib.sha256(
        np.ascontiguousarray(W, dtype=np.float64).tobytes()
    ).hexdigest()


# ---------------------------------------------------------------------------
# The L5 microcircuit
# ---------------------------------------------------------------------------


def test_groups_and_fields():
    net, groups = _net()
    assert isinstance(net, BinaryNetwork)
    assert net.weights.shape == (125, 125)
    np.testing.assert_array_equal(groups["core"], CORE)
    np.testing.assert_array_equal(groups["periphery"], PERI)
    np.testing.assert_array_equal(groups["interneurons"], INTER)
    np.testing.assert_array_equal(groups["excitatory"], EXC)
    np.testing.assert_array_equal(np.asarray(net.biases), 0.0)
    assert net.temperature.shape == () and float(net.temperature) == 5.0
    assert net.noise is None  # noiseless: structure


def test_edge_counts_per_region():
    W = _W(_net()[0])
    a = W[np.ix_(CORE, CORE)]
    b = W[np.ix_(EXC, EXC)].copy()
    b[:10, :10] = 0.0
    c = W[np.ix_(EXC, INTER)]
    d = W[np.ix_(INTER, EXC)]
    e = W[np.ix_(INTER, INTER)]
    assert np.count_nonzero(a) == 31  # round(0.35 * 90)
    assert np.count_nonzero(b) + np.count_nonzero(c) == 1407  # 1438 - 31
    assert np.count_nonzero(d) == 290  # round(0.116 * 2500)
    assert np.count_nonzero(e) == 0
    assert np.count_nonzero(np.diag(W)) == 0
    assert np.count_nonzero(W) == 31 + 1407 + 290


def test_weight_signs_and_inhibitory_weight():
    W = _W(_net()[0])
    assert np.all(W[EXC] >= 0.0)
    np.testing.assert_array_equal(W[INTER][W[INTER] != 0], -5.0)


def test_core_holds_the_largest_weights():
    W = _W(_net()[0])
    core = W[np.ix_(CORE, CORE)]
    core_weights = np.sort(core[core > 0])
    other = W[EXC].copy()
    other[:10, :10] = 0.0
    assert core_weights.min() > other.max()
    all_exc = np.sort(W[EXC][W[EXC] > 0])
    np.testing.assert_array_equal(all_exc[-31:], core_weights)


def test_lognormal_statistics():
    # ln w ~ N(-0.702, 0.9355^2); 1438 draws: mean within ~4 SE, SD within ~10 %.
    W = _W(_net()[0])
    logw = np.log(W[EXC][W[EXC] > 0])
    assert logw.size == 1438
    assert abs(logw.mean() + 0.702) < 4 * 0.9355 / np.sqrt(1438)
    assert abs(logw.std() / 0.9355 - 1) < 0.1


@pytest.mark.parametrize("seed, core_density", sorted(REFERENCE_SHA256))
def test_matches_reference_code(seed, core_density):
    W, t0 = _l5_weights(seed, **_defaults(core_density=core_density))
    assert W.dtype == np.float64 and t0 == 5.0
    assert _sha(W) == REFERENCE_SHA256[(seed, core_density)]
    # The public builder gives the same matrix in the network's dtype.
    net, _ = _net(seed, core_density=core_density)
    np.testing.assert_array_equal(np.asarray(net.weights), W.astype(net.weights.dtype))


def test_matches_reference_numbers_seed_42():
    W, _ = _l5_weights(42, **_defaults())
    assert W.sum() == -378.7942090072047
    assert W[W > 0].sum() == 1071.2057909927953
    assert W[:10, :10].sum() == 142.3422643332163
    assert W.max() == 9.697010256773671 and np.unravel_index(W.argmax(), W.shape) == (
        9,
        3,
    )
    np.testing.assert_array_equal(
        np.argwhere(W[:10, :10] != 0)[:4], [[0, 2], [0, 4], [0, 5], [0, 6]]
    )
    assert W[0, 2] == 3.40555846212788
    assert W[0, 4] == 4.189023101254507
    assert W[0, 6] == 5.630080673291641
    assert np.count_nonzero(W[:10, 100:]) == 23
    assert np.count_nonzero(W[100:, :10]) == 34


def test_mean_core_t0_matches_reference_variant():
    W, t0 = _l5_weights(42, **_defaults(t0="mean_core"))
    assert t0 == REFERENCE_MEAN_CORE_T0
    assert _sha(W) == REFERENCE_SHA256_MEAN_CORE
    net, _ = _net(t0="mean_core")
    core = _W(net)[:10, :10]
    np.testing.assert_allclose(float(net.temperature), core[core > 0].mean(), rtol=1e-6)
    inh = _W(net)[INTER]
    np.testing.assert_allclose(inh[inh != 0], -float(net.temperature), rtol=1e-6)


def test_deterministic_per_seed_and_different_across_seeds():
    a, _ = l5_microcircuit(3)
    b, _ = l5_microcircuit(3)
    c, _ = l5_microcircuit(4)
    np.testing.assert_array_equal(_W(a), _W(b))
    assert not np.array_equal(_W(a), _W(c))
    # Same counts for every seed.
    assert np.count_nonzero(_W(c)) == 31 + 1407 + 290


def test_t0_scope_core():
    net_all, groups = _net()
    net_core, _ = _net(t0_scope="core")
    np.testing.assert_array_equal(_W(net_core), _W(net_all))
    temperature = np.asarray(net_core.temperature)
    assert temperature.shape == (125,)
    np.testing.assert_array_equal(temperature[CORE], 5.0)
    np.testing.assert_array_equal(temperature[10:], 1.0)


def test_inhibitory_weight_and_t0_options():
    net, _ = _net(t0=2.5, inhibitory_weight=-1.0)
    W = _W(net)
    base = _W(_net()[0])
    assert float(net.temperature) == 2.5
    np.testing.assert_array_equal(W[INTER][W[INTER] != 0], -1.0)
    np.testing.assert_array_equal(W[EXC], base[EXC])  # same random stream
    net2, _ = _net(t0=2.5)
    np.testing.assert_array_equal(_W(net2)[INTER][_W(net2)[INTER] != 0], -2.5)


def test_core_density_045_and_other_sizes():
    W = _W(_net(core_density=0.45)[0])
    assert np.count_nonzero(W[:10, :10]) == 40  # round(0.45 * 90)
    net, groups = l5_microcircuit(
        1,
        sizes=L5Sizes(num_core=4, num_periphery=6, num_interneurons=3, density=0.3),
    )
    W = _W(net)
    assert W.shape == (13, 13)
    assert np.count_nonzero(W[:4, :4]) == round(0.35 * 12)
    assert np.count_nonzero(W[:10]) == round(0.3 * (10 * 9 + 10 * 3))
    assert np.count_nonzero(W[10:]) == round(0.3 * 30)
    assert np.count_nonzero(W[10:, 10:]) == 0
    np.testing.assert_array_equal(groups["interneurons"], [10, 11, 12])


def test_noise_and_dtype():
    net, _ = l5_microcircuit(42, noise=0.5, dtype=jnp.float32)
    assert net.weights.dtype == jnp.float32
    assert net.temperature.dtype == jnp.float32
    assert float(net.noise) == 0.5
    noise = np.linspace(0.0, 1.0, 125)
    net, _ = l5_microcircuit(42, noise=noise)
    np.testing.assert_allclose(np.asarray(net.noise), noise, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(core_density=1.5), "core_density"),
        (dict(core_density=-0.1), "core_density"),
        (dict(sizes=L5Sizes(density=2.0)), "density"),
        (dict(sizes=L5Sizes(density=float("nan"))), "density"),
        (dict(sizes=L5Sizes(inhibitory_density=-1.0)), "inhibitory_density"),
        (dict(t0=0.0), "t0"),
        (dict(t0=-1.0), "t0"),
        (dict(t0=float("inf")), "t0"),
        (dict(t0="mean"), "t0"),
        (dict(t0_scope="periphery"), "t0_scope"),
        (dict(inhibitory_weight=1.0), "inhibitory_weight"),
        (dict(sizes=L5Sizes(num_core=0)), "num_core"),
        (dict(sizes=L5Sizes(num_periphery=-1)), "num_periphery"),
        (dict(sizes=L5Sizes(num_interneurons=-1)), "num_interneurons"),
        (dict(sizes=L5Sizes(lognormal_sigma=-0.1)), "lognormal_sigma"),
        (dict(seed=-1), "seed"),
        (dict(core_density=0.0, t0="mean_core"), "core_density"),
        (
            dict(sizes=L5Sizes(density=0.001)),
            "core_density",
        ),  # 12 excitatory edges < 31 core edges
        (dict(noise=-1.0), "noise"),
    ],
)
def test_argument_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        l5_microcircuit(**kwargs)


def test_type_validation():
    with pytest.raises(TypeError):
        l5_microcircuit(1.5)
    with pytest.raises(TypeError):
        l5_microcircuit(42, sizes=L5Sizes(num_core=2.0))
    with pytest.raises(TypeError, match="sizes"):
        l5_microcircuit(42, sizes={"num_core": 4})


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------


def test_isolated_core():
    net, groups = _net()
    core = isolated_core(net, groups)
    assert core.weights.shape == (10, 10)
    np.testing.assert_array_equal(_W(core), _W(net)[:10, :10])
    np.testing.assert_array_equal(np.asarray(core.biases), 0.0)
    assert core.temperature.shape == () and float(core.temperature) == 5.0

    noise = np.arange(125) / 125
    net, groups = l5_microcircuit(42, t0_scope="core", noise=noise)
    core = isolated_core(net, groups)
    np.testing.assert_array_equal(np.asarray(core.temperature), 5.0)
    np.testing.assert_allclose(np.asarray(core.noise), noise[:10], rtol=1e-6)


def test_subnetwork_order_and_validation():
    net, _ = _net()
    sub = subnetwork(net, [3, 1])
    np.testing.assert_array_equal(_W(sub), _W(net)[np.ix_([3, 1], [3, 1])])
    with pytest.raises(ValueError, match="neurons"):
        subnetwork(net, [0, 125])
    with pytest.raises(ValueError, match="repeat"):
        subnetwork(net, [1, 1])


@pytest.mark.parametrize(
    "source, target",
    [
        ("core", "interneurons"),
        ("interneurons", "core"),
        ("periphery", "interneurons"),
        ("interneurons", "periphery"),
        ("core", "periphery"),
        ("periphery", "core"),
    ],
)
def test_lesion_single_pathway(source, target):
    net, groups = _net()
    cut = lesion(net, groups, source, target)
    W, V = _W(net), _W(cut)
    block = np.ix_(groups[source], groups[target])
    assert np.count_nonzero(W[block]) > 0
    np.testing.assert_array_equal(V[block], 0.0)
    mask = np.ones(W.shape, dtype=bool)
    mask[block] = False
    np.testing.assert_array_equal(V[mask], W[mask])
    assert float(cut.temperature) == float(net.temperature)


def test_lesion_double_cut_and_errors():
    net, groups = _net()
    cut = lesion(net, groups, [("core", "interneurons"), ("core", "periphery")])
    V = _W(cut)
    np.testing.assert_array_equal(V[:10, 10:], 0.0)
    np.testing.assert_array_equal(V[:10, :10], _W(net)[:10, :10])
    np.testing.assert_array_equal(V[10:], _W(net)[10:])
    with pytest.raises(ValueError, match="unknown group"):
        lesion(net, groups, "core", "sea")
    with pytest.raises(TypeError):
        lesion(net, groups, "core")


# ---------------------------------------------------------------------------
# Randomised controls
# ---------------------------------------------------------------------------


def test_shuffle_core_structure():
    net, groups = _net()
    W = _W(net)
    S = _W(shuffle_core_structure(net, groups, 0))
    np.testing.assert_array_equal(
        np.sort(S[EXC][S[EXC] != 0]), np.sort(W[EXC][W[EXC] != 0])
    )
    np.testing.assert_array_equal(S[INTER], W[INTER])
    assert np.count_nonzero(np.diag(S)) == 0
    # The rich club is gone: ~1438 * 90 / 12400 = 10.4 core edges expected, not 31,
    # and the core's mean weight falls from 4.6 to about the overall mean (~0.74).
    core = S[:10, :10]
    assert np.count_nonzero(core) < 25
    assert core[core > 0].mean() < 2.0
    np.testing.assert_array_equal(_W(shuffle_core_structure(net, groups, 0)), S)
    assert not np.array_equal(_W(shuffle_core_structure(net, groups, 1)), S)


def test_degree_preserving_shuffle():
    net, groups = _net()
    W = _W(net)
    D = _W(degree_preserving_shuffle(net, groups, 0))
    A, B = W[EXC] != 0, D[EXC] != 0
    np.testing.assert_array_equal(A.sum(axis=1), B.sum(axis=1))  # out-degrees
    np.testing.assert_array_equal(A.sum(axis=0), B.sum(axis=0))  # in-degrees
    np.testing.assert_allclose(D[EXC].sum(axis=1), W[EXC].sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(np.sort(D[EXC][B]), np.sort(W[EXC][A]))
    np.testing.assert_array_equal(D[INTER], W[INTER])
    assert np.count_nonzero(np.diag(D)) == 0
    # Thoroughly rewired: few edges stay in place (~11.6 % expected by chance).
    assert (A & B).sum() < 0.3 * A.sum()
    np.testing.assert_array_equal(_W(degree_preserving_shuffle(net, groups, 0)), D)
    assert not np.array_equal(_W(degree_preserving_shuffle(net, groups, 1)), D)
    same = degree_preserving_shuffle(net, groups, 0, swaps_per_edge=0)
    np.testing.assert_array_equal(_W(same), W)


def test_controls_validate_seed():
    net, groups = _net()
    with pytest.raises(ValueError, match="seed"):
        shuffle_core_structure(net, groups, -1)
    with pytest.raises(ValueError, match="swaps_per_edge"):
        degree_preserving_shuffle(net, groups, 0, swaps_per_edge=-1)


# ---------------------------------------------------------------------------
# random_network
# ---------------------------------------------------------------------------


def test_random_network():
    key = jr.key(0)
    net = random_network(50, key=key, density=0.5, weight_scale=2.0, bias_scale=1.0)
    W = _W(net)
    assert W.shape == (50, 50)
    assert np.count_nonzero(np.diag(W)) == 0
    # Bernoulli(0.5) over 2450 slots: within 5 SD.
    assert abs(np.count_nonzero(W) - 1225) < 5 * np.sqrt(2450 * 0.25)
    assert np.asarray(net.biases).std() > 0
    np.testing.assert_array_equal(
        _W(random_network(50, key=key, density=0.5, weight_scale=2.0, bias_scale=1.0)),
        W,
    )
    full = random_network(4, key=key, self_connections=True)
    assert np.count_nonzero(np.diag(_W(full))) == 4
    with pytest.raises(ValueError, match="density"):
        random_network(4, key=key, density=1.5)
    with pytest.raises(TypeError):
        random_network(4, key=0)


def test_integer_scalars_accepted():
    net, _ = l5_microcircuit(42, t0=5, noise=0, inhibitory_weight=-5, core_density=0)
    assert float(net.temperature) == 5.0 and net.noise is None
    assert np.count_nonzero(_W(net)[:10, :10]) == 0
    net = random_network(3, key=jr.key(1), temperature=2, noise=1)
    assert float(net.temperature) == 2.0
