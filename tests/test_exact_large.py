"""Exact flux, entropy and conditional entropy at any N: components and cycles.

Every expected value comes from an independent source: tests/reference.py's
enumeration of the whole 2^N chain, central finite differences of it, the N-Rooks
closed form, a dense numpy solve of a cycle's rates, or the single-network code run
on each block built separately.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from conftest import central_difference

import fluxjax as fj
from fluxjax.info.exact import weight_components


# Exact comparisons against the float64 reference and finite differences.
pytestmark = pytest.mark.float64


def block_network(rng, sizes, *, scale=2.0):
    """Dense random blocks on a random permutation of the neurons: (W, b, blocks)."""
    n = sum(sizes)
    order = rng.permutation(n)
    W, blocks, start = np.zeros((n, n)), [], 0
    for size in sizes:
        block = order[start : start + size]
        start += size
        W[np.ix_(block, block)] = rng.normal(0.0, scale, (size, size))
        blocks.append(block)
    return W, rng.normal(0.0, 1.0, n), blocks


def cycle_network(rng, lengths, *, scale=2.5):
    """Permutation cycles on a random permutation of the neurons: (W, b, cycles).

    cycles[k] is in cycle order: W[c[j - 1], c[j]] are the only nonzero weights.
    """
    n = sum(lengths)
    order = rng.permutation(n)
    W, cycles, start = np.zeros((n, n)), [], 0
    for length in lengths:
        cycle = order[start : start + length]
        start += length
        weights = rng.normal(0.0, scale, length)
        weights += np.sign(weights) * 0.5  # every link clearly nonzero
        W[np.roll(cycle, 1), cycle] = weights
        cycles.append(cycle)
    return W, rng.normal(0.0, 1.0, n), cycles


def h_bits(p):
    p = np.asarray(p, float)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def cycle_closed_form(W, b, T, sigma, cycle):
    """(flux, entropy) of one cycle: rates by a dense numpy solve, probabilities by
    the reference's adaptive quadrature."""
    cycle = np.asarray(cycle)
    pred = np.roll(cycle, 1)
    T, sigma = (np.broadcast_to(v, b.shape)[cycle] for v in (T, sigma))
    w = W[pred, cycle]
    p1 = ref.expected_sigmoid((w + b[cycle]) / T, sigma)
    p0 = ref.expected_sigmoid(b[cycle] / T, sigma)
    L = len(cycle)
    A = np.eye(L) - np.diag(p1 - p0) @ np.roll(np.eye(L), -1, axis=1)
    m = np.linalg.solve(A, p0)  # m_k = (p1_k - p0_k) m_{k-1} + p0_k
    m_pred = np.roll(m, 1)
    flux = h_bits(m) - m_pred * h_bits(p1) - (1 - m_pred) * h_bits(p0)
    return flux.sum(), h_bits(m).sum()


def assert_gradients(grads, W, b, T, sigma, quantity=ref.flux, tol=1e-6):
    checks = {
        "biases": central_difference(lambda v: quantity(W, v, T, sigma), b),
        "weights": central_difference(lambda v: quantity(v, b, T, sigma), W),
        "temperature": central_difference(lambda v: quantity(W, b, v, sigma), T),
        "noise": central_difference(lambda v: quantity(W, b, T, v), sigma),
    }
    for field, expected in checks.items():
        got = np.asarray(getattr(grads, field))
        assert np.linalg.norm(expected) > 1e-3, field
        error = np.linalg.norm(got - expected)
        assert error < tol * np.linalg.norm(expected), (field, error)


# --- components ------------------------------------------------------------------


COMPONENT_CASES = [
    ((3, 5), 1.3, 0.0),
    ((2, 2, 4), "vector", "vector"),
    ((2, 5, 1), "vector", 0.7),
    ((1, 1, 3), 0.8, "vector"),
]


def fields(rng, n, temperature, noise):
    T = rng.uniform(0.6, 1.8, n) if temperature == "vector" else temperature
    sigma = rng.uniform(0.0, 1.5, n) if noise == "vector" else noise
    return T, sigma


@pytest.mark.float64
@pytest.mark.parametrize(("sizes", "temperature", "noise"), COMPONENT_CASES)
def test_component_sums_equal_enumeration_of_the_whole_network(
    sizes, temperature, noise
):
    rng = np.random.default_rng(sum(sizes) * 7 + len(sizes))
    W, b, blocks = block_network(rng, sizes)
    T, sigma = fields(rng, len(b), temperature, noise)
    net = fj.BinaryNetwork(W, b, T, sigma)
    assert sorted(map(sorted, weight_components(net))) == sorted(
        sorted(int(i) for i in block) for block in blocks
    )
    args = (W, b, T, sigma)
    assert abs(fj.exact_flux(net) - ref.flux(*args)) < 1e-10
    assert abs(fj.exact_entropy(net) - ref.entropy(*args)) < 1e-10
    expected = ref.conditional_entropy(*args)
    assert abs(fj.exact_conditional_entropy(net) - expected) < 1e-10
    # a subset across components, one component untouched when there are three
    subset = list(dict.fromkeys(int(i) for i in (blocks[0][0], *blocks[1][-2:])))
    expected = ref.subset_flux(W, b, subset, T, sigma)
    assert abs(fj.exact_flux(net, subset) - expected) < 1e-10
    # the same numbers inside jit, from the structure passed explicitly
    comps = weight_components(net)
    jitted = jax.jit(lambda n: fj.exact_flux(n, components=comps))
    assert abs(jitted(net) - ref.flux(*args)) < 1e-10


@pytest.mark.slow
@pytest.mark.float64
def test_component_sums_equal_enumeration_at_n12():
    rng = np.random.default_rng(12)
    W, b, _ = block_network(rng, (5, 7))
    T = rng.uniform(0.6, 1.8, 12)
    net = fj.BinaryNetwork(W, b, T, 0.4)
    assert abs(fj.exact_flux(net) - ref.flux(W, b, T, 0.4)) < 1e-10
    W, b, _ = block_network(rng, (3, 3, 4))
    net = fj.BinaryNetwork(W, b, T[:10], 0.4)
    assert abs(fj.exact_entropy(net) - ref.entropy(W, b, T[:10], 0.4)) < 1e-10


@pytest.mark.float64
def test_component_gradients_match_finite_differences_of_the_reference():
    """Every field, every weight, including the zero weights between components:
    d flux / dW[a, b] there is m_a d flux / d b_b (first order in the new link)."""
    rng = np.random.default_rng(21)
    W, b, _ = block_network(rng, (2, 3))
    T, sigma = rng.uniform(0.7, 1.5, 5), rng.uniform(0.3, 1.2, 5)
    net = fj.BinaryNetwork(W, b, T, sigma)
    comps = weight_components(net)
    grads = jax.grad(lambda n: fj.exact_flux(n, components=comps))(net)
    assert_gradients(grads, W, b, T, sigma)
    grads = jax.grad(lambda n: fj.exact_entropy(n, components=comps))(net)
    assert_gradients(grads, W, b, T, sigma, quantity=ref.entropy)


@pytest.mark.float64
def test_component_bias_gradient_with_concrete_weights():
    """The structure read from concrete weights while the biases are traced."""
    rng = np.random.default_rng(22)
    W, b, blocks = block_network(rng, (3, 4))
    T, sigma = 1.2, rng.uniform(0.0, 1.0, 7)
    subset = [int(blocks[0][1]), int(blocks[1][0]), int(blocks[1][2])]
    got = jax.grad(lambda v: fj.exact_flux(fj.BinaryNetwork(W, v, T, sigma), subset))(
        jnp.asarray(b)
    )
    expected = central_difference(lambda v: ref.subset_flux(W, v, subset, T, sigma), b)
    assert np.linalg.norm(got - expected) < 1e-6 * np.linalg.norm(expected)


# --- permutation cycles ------------------------------------------------------------


CYCLE_CASES = [
    ((1, 3, 4), "vector", "vector"),
    ((2, 5), 1.4, 0.5),
    ((1, 1, 2, 3), 0.9, 0.0),
    ((8,), "vector", 0.0),
    pytest.param((2, 3, 5), "vector", 0.5, marks=pytest.mark.slow),
]


@pytest.mark.float64
@pytest.mark.parametrize(("lengths", "temperature", "noise"), CYCLE_CASES)
def test_permutation_closed_form_equals_enumeration(lengths, temperature, noise):
    rng = np.random.default_rng(sum(lengths) * 5 + len(lengths))
    W, b, cycles = cycle_network(rng, lengths)
    T, sigma = fields(rng, len(b), temperature, noise)
    net = fj.BinaryNetwork(W, b, T, sigma)
    # every cycle is recognised and listed in cycle order (from its smallest neuron)
    for cycle in cycles:
        k = int(np.argmin(cycle))
        assert tuple(int(i) for i in np.roll(cycle, -k)) in weight_components(net)
    args = (W, b, T, sigma)
    assert abs(fj.exact_flux(net) - ref.flux(*args)) < 1e-10
    assert abs(fj.exact_entropy(net) - ref.entropy(*args)) < 1e-10
    expected = ref.conditional_entropy(*args)
    assert abs(fj.exact_conditional_entropy(net) - expected) < 1e-10
    longest = max(cycles, key=len)
    subset = [int(i) for i in longest[: max(2, len(longest) - 1)]] + [int(cycles[0][0])]
    subset = list(dict.fromkeys(subset))
    expected = ref.subset_flux(W, b, subset, T, sigma)
    assert abs(fj.exact_flux(net, subset) - expected) < 1e-10


@pytest.mark.float64
def test_permutation_gradients_match_finite_differences_of_the_reference():
    """The closed form's gradient, every weight included (the links and the zeros),
    under jit with the cycles passed (max_neurons=1: only the self-loop is
    enumerated), and with concrete weights (every cycle by the closed form)."""
    rng = np.random.default_rng(31)
    W, b, _ = cycle_network(rng, (1, 2, 3))
    T, sigma = rng.uniform(0.7, 1.5, 6), rng.uniform(0.3, 1.2, 6)
    net = fj.BinaryNetwork(W, b, T, sigma)
    comps = weight_components(net)
    flux = jax.jit(
        jax.grad(lambda n: fj.exact_flux(n, components=comps, max_neurons=1))
    )
    assert_gradients(flux(net), W, b, T, sigma)
    entropy = jax.grad(lambda n: fj.exact_entropy(n, components=comps, max_neurons=1))
    assert_gradients(entropy(net), W, b, T, sigma, quantity=ref.entropy)

    def concrete(b, T, sigma):
        return fj.exact_flux(fj.BinaryNetwork(W, b, T, sigma))

    grads = jax.grad(concrete, argnums=(0, 1, 2))(*map(jnp.asarray, (b, T, sigma)))
    for got, f, x in zip(
        grads,
        (
            lambda v: ref.flux(W, v, T, sigma),
            lambda v: ref.flux(W, b, v, sigma),
            lambda v: ref.flux(W, b, T, v),
        ),
        (b, T, sigma),
    ):
        expected = central_difference(f, x)
        assert np.linalg.norm(got - expected) < 1e-6 * np.linalg.norm(expected)


def rooks_flux(n, q):
    """The N-Rooks closed form N (1 - h2(sigmoid(-q))) bits."""
    return n * (1.0 - h_bits(1.0 / (1.0 + math.exp(q))))


@pytest.mark.float64
@pytest.mark.parametrize("q", [0.7, 2.0, -1.5, 6.0])
def test_n_rooks_bipolar_ring_at_n1000(q):
    rng = np.random.default_rng(41)
    order = rng.permutation(1000)
    P = np.zeros((1000, 1000))
    P[np.roll(order, 1), order] = 1.0  # one 1000-cycle in shuffled neuron order
    net = fj.BinaryNetwork.from_bipolar(q * P, np.zeros(1000))
    assert len(weight_components(net)) == 1
    expected = rooks_flux(1000, q)
    assert abs(fj.exact_flux(net) / expected - 1) < 1e-9
    assert abs(fj.exact_entropy(net) - 1000.0) < 1e-9  # every rate is 1/2


@pytest.mark.float64
def test_from_bipolar_equals_the_bipolar_chain_written_out():
    """Transition matrix of u = (s @ W + b) / T + sigma xi with s = 2x - 1 in {-1, 1},
    enumerated here directly, against the unipolar network from_bipolar builds."""
    rng = np.random.default_rng(51)
    n = 4
    W, b = rng.normal(0.0, 1.5, (n, n)), rng.normal(0.0, 1.0, n)
    T, sigma = rng.uniform(0.6, 1.6, n), rng.uniform(0.0, 1.0, n)
    net = fj.BinaryNetwork.from_bipolar(W, b, T, sigma)
    x = ref.all_states(n)
    s = 2.0 * x - 1.0
    u = (s @ W + b) / T
    fire = ref.expected_sigmoid(u, np.broadcast_to(sigma, u.shape))
    P = np.ones((2**n, 2**n))
    for i in range(n):  # P[a, c] = prod_i P(x'_i = c_i | s(a))
        P *= np.where(x[None, :, i] == 1, fire[:, i, None], 1.0 - fire[:, i, None])
    np.testing.assert_allclose(fj.transition_matrix(net), P, atol=1e-12)
    np.testing.assert_allclose(net.temperature, T)
    np.testing.assert_allclose(net.noise, sigma)
    with pytest.raises(ValueError, match="square"):
        fj.BinaryNetwork.from_bipolar(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="biases"):
        fj.BinaryNetwork.from_bipolar(np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="noise"):
        fj.BinaryNetwork.from_bipolar(np.zeros((3, 3)), np.zeros(3), noise=-1.0)


# --- large mixed networks ----------------------------------------------------------


def mixed_network(rng, cycle_length, n=1000, sizes=(6, 10)):
    """Shuffled dense blocks of sizes in [6, 10] and one long cycle: n neurons."""
    lengths = []
    while sum(lengths) < n - cycle_length - sizes[1]:
        lengths.append(int(rng.integers(sizes[0], sizes[1] + 1)))
    lengths.append(n - cycle_length - sum(lengths))
    order = rng.permutation(n)
    W = np.zeros((n, n))
    blocks, start = [], 0
    for size in lengths:
        block = order[start : start + size]
        start += size
        W[np.ix_(block, block)] = rng.normal(0.0, 2.5, (size, size))
        blocks.append(block)
    cycle = order[start:]
    W[np.roll(cycle, 1), cycle] = rng.choice([-1, 1], cycle_length) * rng.uniform(
        1.0, 4.0, cycle_length
    )
    b = rng.normal(0.0, 1.0, n) - W.sum(0) / 2
    return W, b, blocks, cycle


@pytest.mark.float64
@pytest.mark.parametrize(
    ("n", "cycle_length", "sizes"),
    [(60, 24, (3, 6)), pytest.param(1000, 300, (6, 10), marks=pytest.mark.slow)],
)
def test_mixed_blocks_and_a_long_cycle(n, cycle_length, sizes):
    rng = np.random.default_rng(61)
    W, b, blocks, cycle = mixed_network(rng, cycle_length, n, sizes)
    T, sigma = rng.uniform(0.8, 1.5, n), 0.5
    net = fj.BinaryNetwork(W, b, T, sigma)
    separate = [
        fj.exact_flux(fj.BinaryNetwork(W[np.ix_(k, k)], b[k], T[k], sigma))
        for k in blocks
    ]
    cycle_flux, _ = cycle_closed_form(W, b, T, sigma, cycle)
    expected = float(np.sum(separate)) + cycle_flux
    assert abs(fj.exact_flux(net) / expected - 1) < 1e-10
    comps = weight_components(net)
    assert len(comps) == len(blocks) + 1
    value, grads = jax.jit(
        jax.value_and_grad(lambda n: fj.exact_flux(n, components=comps))
    )(net)
    assert abs(value / expected - 1) < 1e-10
    # the bias gradient of a block equals the block's own gradient
    block = max(blocks, key=len)
    sub = fj.BinaryNetwork(W[np.ix_(block, block)], b[block], T[block], sigma)
    np.testing.assert_allclose(
        grads.biases[block], jax.grad(fj.exact_flux)(sub).biases, rtol=1e-8
    )
    assert np.all(np.isfinite(grads.weights)) and np.all(np.isfinite(grads.noise))


@pytest.mark.float64
def test_isolated_neurons_and_self_loops_at_n2000():
    """2000 neurons: isolated ones carry no flux, a self-loop is a binary channel."""
    n = 2000
    rng = np.random.default_rng(71)
    w = np.where(np.arange(n) % 2 == 0, rng.uniform(1.0, 5.0, n), 0.0)
    net = fj.BinaryNetwork(np.diag(w), -w / 2)
    loops = w[w > 0]
    e = 1 / (1 + np.exp(loops / 2))  # P(flip) of the symmetric channel, rate 1/2
    assert abs(fj.exact_flux(net) / np.sum(1 - h_bits(e)) - 1) < 1e-10
    assert abs(fj.exact_entropy(net) - n) < 1e-8


@pytest.mark.slow
@pytest.mark.float64
def test_large_blocks_equal_the_blocks_built_separately():
    rng = np.random.default_rng(81)
    W, b, blocks, cycle = mixed_network(rng, cycle_length=20, n=100, sizes=(11, 13))
    net = fj.BinaryNetwork(W, b, 1.0, 0.3)
    separate = [
        fj.exact_flux(fj.BinaryNetwork(W[np.ix_(k, k)], b[k], 1.0, 0.3)) for k in blocks
    ]
    cycle_flux, _ = cycle_closed_form(W, b, 1.0, 0.3, cycle)
    expected = float(np.sum(separate)) + cycle_flux
    assert abs(fj.exact_flux(net) / expected - 1) < 1e-10


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [15, 600, 2000])
def test_a_component_above_the_limit_names_its_size_and_memory(size):
    rng = np.random.default_rng(size)
    W, b, blocks = block_network(rng, (size, 3, 5), scale=1.0)
    net = fj.BinaryNetwork(W, b)
    first = ", ".join(str(i) for i in sorted(blocks[0])[:3])
    for f in (fj.exact_flux, fj.exact_entropy, fj.exact_conditional_entropy):
        with pytest.raises(ValueError, match=rf"n = {size} neurons \({first}, .*GiB"):
            f(net)
    # a subset outside the large component does not need it
    small = blocks[2]
    sub = fj.BinaryNetwork(W[np.ix_(small, small)], b[small])
    expected = fj.exact_flux(sub, [0, 2])
    assert abs(fj.exact_flux(net, [int(small[0]), int(small[2])]) - expected) < 1e-12
    with pytest.raises(ValueError, match=r"max_neurons = 14 per component"):
        fj.exact_flux(net, [int(small[0]), int(blocks[0][1])])


@pytest.mark.parametrize("n", [600, 2000])
def test_whole_network_size_error_at_any_n(n):
    net = fj.BinaryNetwork(np.ones((n, n)), np.zeros(n))
    with pytest.raises(
        ValueError, match=rf"n = {n}, which would need about .*e\+\d+ GiB"
    ):
        fj.stationary_distribution(net)


def test_whole_network_methods_keep_the_single_network_limit():
    rng = np.random.default_rng(91)
    W, b, _ = block_network(rng, (5, 5, 6))
    net = fj.BinaryNetwork(W, b)
    fj.exact_flux(net)  # fine: three small components
    for call in (
        lambda: fj.transition_matrix(net),
        lambda: fj.stationary_distribution(net),
        lambda: fj.exact_transfer_entropy(net, [0]),
        lambda: fj.exact_triplet_flux(net, [(0, 1, 2), (3, 4, 5)]),
    ):
        with pytest.raises(ValueError, match=r"whole network.*n = 16"):
            call()


def test_traced_weights_without_components_are_refused():
    W, b, _ = block_network(np.random.default_rng(92), (8, 9))
    net = fj.BinaryNetwork(W, b)
    with pytest.raises(ValueError, match=r"traced.*components=weight_components"):
        jax.jit(fj.exact_flux)(net)
    with pytest.raises(ValueError, match=r"traced.*components="):
        jax.grad(fj.exact_entropy)(net)
    with pytest.raises(ValueError, match="weight_components needs concrete weights"):
        jax.jit(weight_components)(net)


def test_malformed_components_are_refused():
    W = np.zeros((6, 6))
    W[0, 1] = W[1, 0] = 1.0
    W[2, 3] = W[4, 5] = -1.0
    net = fj.BinaryNetwork(W, np.zeros(6))
    fj.exact_flux(net, components=[(0, 1), (2, 3), (4, 5)])  # valid
    fj.exact_flux(net, components=[(0, 1), (2, 3, 4, 5)])  # a union is valid too
    bad = {
        "overlap": [(0, 1), (1, 2, 3), (4, 5)],
        "cover": [(0, 1), (2, 3)],
        r"lie in \[0, 5\]": [(0, 1), (2, 3), (4, 5, 6)],
        "at least one neuron": [(0, 1), (), (2, 3), (4, 5)],
        r"weights\[2, 3\].*components\[1\] and components\[2\]": [
            (0, 1),
            (2,),
            (3,),
            (4, 5),
        ],
    }
    for message, components in bad.items():
        for f in (fj.exact_flux, fj.exact_entropy):
            with pytest.raises(ValueError, match=message):
                f(net, components=components)
        jitted = jax.jit(lambda n, c=components: fj.exact_flux(n, components=c))
        if message.startswith("weights"):  # traced: a link shows at run time
            with pytest.raises(Exception, match="link neurons of different"):
                jitted(net)
        else:
            with pytest.raises(ValueError, match=message):
                jitted(net)
    with pytest.raises(TypeError, match="components"):
        fj.exact_flux(net, components=3)


def test_traced_weights_that_contradict_components_fail_at_run_time():
    W = np.zeros((4, 4))
    W[0, 1] = W[2, 3] = 1.0
    W[1, 2] = 0.5  # hidden link between the two "components"
    net = fj.BinaryNetwork(W, np.zeros(4))
    jitted = jax.jit(lambda n: fj.exact_flux(n, components=((0, 1), (2, 3))))
    with pytest.raises(Exception, match="link neurons of different components"):
        jitted(net)
    assert np.isfinite(jitted(fj.BinaryNetwork(W * (W != 0.5), np.zeros(4))))
