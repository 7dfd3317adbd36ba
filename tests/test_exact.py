import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import central_difference, random_weights

import fluxjax as fj


def random_case(seed, n, *, temperature=1.0, noise=0.0):
    W, b = random_weights(np.random.default_rng(seed), n)
    return W, b, fj.BinaryNetwork(W, b, temperature, noise)


CASES = [
    (2, 1.0, 0.0),
    (3, 1.0, 0.0),
    (4, 0.7, 0.0),
    (5, 1.0, 0.8),
    (6, 2.5, 1.5),
    (7, 1.0, 0.0),
    (8, 1.5, 0.3),
]


@pytest.mark.float64
@pytest.mark.parametrize(("n", "temperature", "noise"), CASES)
def test_flux_entropy_conditional_entropy_match_reference(n, temperature, noise):
    W, b, net = random_case(n, n, temperature=temperature, noise=noise)
    args = (W, b, temperature, noise)
    assert abs(fj.exact_flux(net) - ref.flux(*args)) < 1e-10
    assert abs(fj.exact_entropy(net) - ref.entropy(*args)) < 1e-10
    assert (
        abs(fj.exact_conditional_entropy(net) - ref.conditional_entropy(*args)) < 1e-10
    )
    np.testing.assert_allclose(
        fj.transition_matrix(net), ref.transition_matrix(*args), atol=1e-13
    )
    np.testing.assert_allclose(
        fj.stationary_distribution(net),
        ref.stationary(ref.transition_matrix(*args)),
        atol=1e-11,
    )


@pytest.mark.slow
@pytest.mark.float64
@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_flux_matches_reference_at_n10(noise):
    W, b, net = random_case(10, 10, temperature=1.3, noise=noise)
    assert abs(fj.exact_flux(net) - ref.flux(W, b, 1.3, noise)) < 1e-10
    assert abs(fj.exact_entropy(net) - ref.entropy(W, b, 1.3, noise)) < 1e-10


@pytest.mark.float64
def test_per_neuron_temperature_and_noise():
    W, b = random_weights(np.random.default_rng(11), 5)
    temperature, noise = np.linspace(0.5, 2.0, 5), np.linspace(0.0, 2.0, 5)
    net = fj.BinaryNetwork(W, b, temperature, noise)
    assert abs(fj.exact_flux(net) - ref.flux(W, b, temperature, noise)) < 1e-10


@pytest.mark.float64
@pytest.mark.parametrize("neurons", [[0], [1, 3], [4, 0, 2], [5, 4, 3, 2, 1, 0]])
def test_subset_flux_matches_reference(neurons):
    W, b, net = random_case(12, 6, noise=0.5)
    assert (
        abs(fj.exact_flux(net, neurons) - ref.subset_flux(W, b, neurons, 1.0, 0.5))
        < 1e-10
    )


@pytest.mark.float64
@pytest.mark.parametrize("target", [[0], [2, 3], [0, 1, 4]])
def test_transfer_entropy_matches_reference(target):
    W, b, net = random_case(13, 5, temperature=1.2)
    expected = ref.transfer_entropy(W, b, target, 1.2, 0.0)
    assert abs(fj.exact_transfer_entropy(net, target) - expected) < 1e-10


@pytest.mark.float64
def test_transfer_entropy_from_a_partial_source():
    """TE from a source that is not all the rest: H(T'|T) - H(T'|T,S) from the joint."""
    W, b, net = random_case(14, 4)
    J = ref.stationary_joint(W, b)
    X = ref.all_states(4)
    target, source = [0], [2]
    codes = lambda cols: sum(X[:, c] << k for k, c in enumerate(cols))
    tc, sc, fc = codes(target), codes(source), codes(target)
    joint = np.zeros((2, 2, 2))  # [target(t), source(t), target(t+1)]
    for a in range(16):
        for b_ in range(16):
            joint[tc[a], sc[a], fc[b_]] += J[a, b_]
    h = lambda p: ref.entropy_bits(p.ravel())
    expected = (h(joint.sum(1)) - h(joint.sum((1, 2)))) - (h(joint) - h(joint.sum(2)))
    assert abs(fj.exact_transfer_entropy(net, target, source) - expected) < 1e-10


@pytest.mark.float64
def test_triplet_flux_exact_matches_reference_joint():
    W, b, net = random_case(15, 7, noise=0.4)
    triplets = [(0, 1, 2), (3, 4, 5), (6,)]
    intra, inter = fj.exact_triplet_flux(net, triplets)
    expected_intra, expected_inter = ref.triplet_indicator(W, b, triplets, 1.0, 0.4)
    assert abs(intra - expected_intra) < 1e-10
    assert abs(inter - expected_inter) < 1e-10


@pytest.mark.float64
@pytest.mark.parametrize("noise", [0.0, 0.9])
def test_gradients_match_finite_differences_of_the_reference(noise):
    """d flux / d (biases, weights, temperature, noise) vs central differences of the
    independent numpy reference (relative error < 1e-6)."""
    W, b = random_weights(np.random.default_rng(16), 4)
    T = np.array([1.3, 0.8, 1.0, 1.1])
    sigma = np.full(4, noise) + np.array([0.0, 0.1, 0.2, 0.3]) * (noise > 0)
    net = fj.BinaryNetwork(W, b, T, sigma)
    grads = jax.grad(fj.exact_flux)(net)
    checks = {
        "biases": central_difference(lambda v: ref.flux(W, v, T, sigma), b),
        "weights": central_difference(lambda v: ref.flux(v, b, T, sigma), W),
        "temperature": central_difference(lambda v: ref.flux(W, b, v, sigma), T),
    }
    if noise > 0:
        checks["noise"] = central_difference(lambda v: ref.flux(W, b, T, v), sigma)
    for field, expected in checks.items():
        got = np.asarray(getattr(grads, field))
        assert np.linalg.norm(expected) > 1e-3, (
            field
        )  # the gradient is not trivially zero
        assert np.linalg.norm(got - expected) < 1e-6 * np.linalg.norm(expected), field


def test_subset_and_entropy_gradients_match_finite_differences():
    W, b, net = random_case(17, 5, noise=0.6)
    for fn, ref_fn in [
        (
            lambda n: fj.exact_flux(n, [0, 2]),
            lambda v: ref.subset_flux(W, v, [0, 2], 1.0, 0.6),
        ),
        (fj.exact_entropy, lambda v: ref.entropy(W, v, 1.0, 0.6)),
    ]:
        got = np.asarray(jax.grad(fn)(net).biases)
        expected = central_difference(ref_fn, b)
        # float32 round-off: 3e-7 to 1.1e-6 relative by the noise rule's node count
        # (float64: 1e-9 for every count); benchmarks/precision.py measures 2e-5
        assert np.linalg.norm(got - expected) < 5e-6 * np.linalg.norm(expected)


@pytest.mark.float64
def test_closed_forms():
    """Independent neurons carry no flux; a sticky neuron is a binary symmetric channel."""
    independent = fj.BinaryNetwork(np.zeros((3, 3)), np.array([0.3, -1.0, 2.0]))
    assert abs(fj.exact_flux(independent)) < 1e-12
    w = 8.0
    sticky = fj.BinaryNetwork(np.array([[w]]), np.array([-w / 2]))
    e = 1 / (1 + np.exp(w / 2))
    assert (
        abs(fj.exact_flux(sticky) - (1 + e * np.log2(e) + (1 - e) * np.log2(1 - e)))
        < 1e-12
    )
    assert abs(fj.exact_entropy(sticky) - 1.0) < 1e-12


@pytest.mark.float64
def test_jit_and_vmap_over_networks():
    nets = [random_case(seed, 4)[2] for seed in range(3)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *nets)
    batched = jax.vmap(fj.exact_flux)(stacked)
    np.testing.assert_allclose(
        batched, [jax.jit(fj.exact_flux)(n) for n in nets], atol=1e-12
    )


def test_size_guard_names_memory():
    """The guard applies to connected networks (zero weights split a network into
    components, tests/test_exact_large.py)."""
    net = fj.BinaryNetwork(np.ones((15, 15)), np.zeros(15))
    with pytest.raises(ValueError, match=r"n <= max_neurons = 14.*GiB"):
        fj.exact_flux(net)
    small = fj.BinaryNetwork(np.ones((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="max_neurons"):
        fj.exact_flux(small, max_neurons=2)
    with pytest.raises(ValueError, match="neurons"):
        fj.exact_flux(small, [3])
    with pytest.raises(ValueError, match="disjoint"):
        fj.exact_transfer_entropy(small, [0], [0, 1])
    with pytest.raises(TypeError, match="net"):
        fj.exact_flux(np.zeros((3, 3)))


@pytest.mark.float64
def test_float32_gradient_is_finite_when_probabilities_round_to_zero():
    """Seed 42's core (first nine neurons, zero biases) has stationary probabilities
    of ~1e-9, below float32's resolution of the distribution (its largest entries are
    O(0.1), so the solve leaves round-off of ~eps32 x 0.1 = 1e-8 there: some come out
    as 0, others as round-off, depending on the CPU's code): the gradient stays
    finite and close to the float64 one, instead of NaN from -log 0."""
    net, groups = fj.l5_microcircuit(42)
    core = fj.subnetwork(fj.isolated_core(net, groups), range(9))
    W, T = np.asarray(core.weights), float(core.temperature)
    wide = fj.BinaryNetwork(W, np.zeros(9), T, 0.0, dtype=jnp.float64)
    narrow = fj.BinaryNetwork(W, np.zeros(9), T, 0.0, dtype=jnp.float32)
    exact_pi = np.asarray(fj.stationary_distribution(wide))
    assert exact_pi.min() < np.finfo(np.float32).eps * exact_pi.max()
    expected = jax.grad(fj.exact_flux)(wide).biases
    got = jax.grad(fj.exact_flux)(narrow).biases
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(expected).max())
