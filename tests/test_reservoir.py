"""Input drive, reservoirs, intrinsic plasticity and the E/I builder.

References: the free-running simulation (a drive is a bias that changes in time), a
recorded embedding replayed as a drive (bit for bit), a numpy Gauss-Hermite integral
for the firing probabilities, ReservoirPy's IPReservoir for the plasticity rule.
"""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from conftest import random_weights

import fluxjax as fj
import fluxjax.reservoir as rc
from fluxjax.reservoir import (
    Reservoir,
    intrinsic_plasticity,
    random_input_weights,
    run_ensemble,
)
from fluxjax.reservoir.plasticity import ip_step


def _net(n=6, noise=0.7, seed=0, dtype=None):
    weights, biases = random_weights(np.random.default_rng(seed), n)
    return fj.BinaryNetwork(weights, biases, noise=noise, dtype=dtype)


@pytest.mark.float64
@pytest.mark.parametrize("noise", [None, 0.7])
def test_constant_drive_is_a_bias(getkey, noise):
    """drive_t = c for all t gives the trajectory of the network with biases b + c."""
    net = _net(noise=noise, dtype=jnp.float64)
    c = np.random.default_rng(1).normal(0, 1, 6)
    key = getkey()
    driven = fj.simulate(net, key, 400, burn_in=20, drive=np.tile(c, (420, 1)))
    shifted = fj.BinaryNetwork(net.weights, net.biases + c, noise=noise)
    assert (driven == fj.simulate(shifted, key, 400, burn_in=20)).all()
    zero = fj.simulate(net, key, 400, burn_in=20, drive=np.zeros((420, 6)))
    assert (zero == fj.simulate(net, key, 400, burn_in=20)).all()


@pytest.mark.float64
@pytest.mark.parametrize("noise", [None, 0.5])
def test_replayed_embedding_reproduces_the_core_bit_for_bit(getkey, noise):
    """The core (neurons 0..k-1) of a larger network, run alone with the recorded
    input from the rest, U(t) = x_t[rest] @ W[rest, core], and its own random numbers
    (an unbatched core of the first k neurons draws the same counters), has the same
    trajectory as inside the network."""
    n, k, steps = 16, 5, 3000
    net = _net(n, noise=noise, seed=3, dtype=jnp.float64)
    key = getkey()
    x0 = np.random.default_rng(4).random(n) < 0.5
    states = np.asarray(fj.simulate(net, key, steps, x0=x0))
    before = np.concatenate([x0[None], states[:-1]])  # x_t, the state before update t
    signal = before[:, k:].astype(float) @ np.asarray(net.weights)[k:, :k]
    core = fj.subnetwork(net, np.arange(k))
    replay = fj.simulate(core, key, steps, x0=x0[:k], drive=signal)
    assert (np.asarray(replay) == states[:, :k]).all()


def _gauss_hermite_firing(m, sigma):
    """E[sigmoid(m + sigma xi)] by 80-node Gauss-Hermite quadrature (numpy)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    z = m[..., None] + np.asarray(sigma)[..., None] * nodes
    return (weights / weights.sum() * (1 / (1 + np.exp(-z)))).sum(-1)


@pytest.mark.float64
def test_recorded_probabilities_are_the_conditional_firing_probabilities(getkey):
    net = _net(noise=0.8, dtype=jnp.float64)
    key = getkey()
    drive = np.random.default_rng(2).normal(0, 1.5, (3, 530, 6))
    probs = fj.simulate(
        net, key, 500, burn_in=30, batch=3, drive=drive, record=fj.Probabilities()
    )
    states = np.asarray(fj.simulate(net, key, 530, batch=3, drive=drive))
    before = states[:, 29:-1].astype(float)  # the state before updates 30 .. 529
    m = before @ np.asarray(net.weights) + np.asarray(net.biases) + drive[:, 30:]
    np.testing.assert_allclose(probs, _gauss_hermite_firing(m, 0.8), atol=1e-10)
    recorded = fj.simulate(net, key, 500, burn_in=30, batch=3, drive=drive)
    assert (np.asarray(recorded) == states[:, 30:]).all()


def test_probabilities_predict_the_states(getkey):
    """E[x_{t+1} | x_t, d_t] = p: the time averages agree within sampling error."""
    net = _net(noise=0.5)
    drive = np.asarray(jr.normal(getkey(), (20_000, 6)))
    key = getkey()
    states = fj.simulate(net, key, 20_000, drive=drive)
    probs = fj.simulate(net, key, 20_000, drive=drive, record=fj.Probabilities())
    gap = np.asarray(states, float).mean(0) - np.asarray(probs).mean(0)
    assert np.all(np.abs(gap) < 5 * 0.5 / np.sqrt(20_000))


def test_batched_and_ensemble_drives_match_single_runs(getkey):
    net = _net()
    key = getkey()
    drives = np.asarray(jr.normal(getkey(), (3, 210, 6)))
    batch = fj.simulate(net, key, 200, burn_in=10, batch=3, drive=drives)
    assert (batch[0] == fj.simulate(net, key, 200, burn_in=10, drive=drives[0])).all()
    shared = fj.simulate(net, key, 200, burn_in=10, batch=3, drive=drives[1])
    broadcast = fj.simulate(
        net,
        key,
        200,
        burn_in=10,
        batch=3,
        drive=np.broadcast_to(drives[1], (3, 210, 6)),
    )
    assert (shared == broadcast).all()
    other = fj.BinaryNetwork(net.weights, -net.biases, noise=0.7)
    ensemble = fj.simulate_ensemble(
        [net, other, net], key, 200, burn_in=10, drive=drives
    )
    for k, member in enumerate([net, other, net]):
        single = fj.simulate(
            member, jr.fold_in(key, k), 200, burn_in=10, drive=drives[k]
        )
        assert (ensemble[k] == single).all()


def test_reservoir_runs_are_simulations_with_the_input_field(getkey):
    net = _net()
    res = Reservoir(net, random_input_weights(getkey(), 2, 6, scale=1.5))
    inputs = np.asarray(jr.uniform(getkey(), (2, 300, 2), minval=-1, maxval=1))
    key = getkey()
    out = res.run(key, inputs, record=fj.States())
    drive = inputs @ np.asarray(res.input_weights)
    np.testing.assert_array_equal(
        out, fj.simulate(net, key, 300, batch=2, drive=drive, record=fj.States())
    )
    other = Reservoir(
        fj.BinaryNetwork(net.weights, net.biases + 1, noise=0.7), res.input_weights
    )
    both = run_ensemble([res, other], key, inputs)
    for k, member in enumerate([res, other]):
        np.testing.assert_array_equal(
            both[k], member.run(jr.fold_in(key, k), inputs[k])
        )


def test_random_input_weights_follow_reservoirpy_bernoulli(getkey):
    weights = np.asarray(
        random_input_weights(getkey(), 3, 4000, scale=0.5, density=0.25)
    )
    assert set(np.unique(weights)) <= {-0.5, 0.0, 0.5}
    assert abs((weights != 0).mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / weights.size)
    assert abs((weights > 0).sum() / (weights != 0).sum() - 0.5) < 0.05


def test_bad_drive_and_inputs(getkey):
    net = _net()
    key = getkey()
    with pytest.raises(ValueError, match=r"drive must have shape \(110, 6\)"):
        fj.simulate(net, key, 100, burn_in=10, drive=np.zeros((100, 6)))
    with pytest.raises(ValueError, match="batch = 2"):
        fj.simulate(net, key, 100, batch=2, drive=np.zeros((3, 100, 6)))
    with pytest.raises(ValueError, match="drive must be finite"):
        fj.simulate(net, key, 2, drive=np.array([[np.nan] * 6, [0.0] * 6]))
    with pytest.raises(ValueError, match=r"len\(nets\) = 2"):
        fj.simulate_ensemble([net, net], key, 5, drive=np.zeros((3, 5, 6)))
    res = Reservoir(net, np.ones((2, 6)))
    with pytest.raises(ValueError, match=r"inputs must have shape \(steps, 2\)"):
        res.run(key, np.zeros(10))
    with pytest.raises(ValueError, match="inputs must be finite"):
        res.run(key, np.full((10, 2), np.inf))
    with pytest.raises(ValueError, match=r"input_weights must have shape \(d, 6\)"):
        Reservoir(net, np.ones((2, 5)))


def test_ip_step_is_triesch_rule():
    """One step against the formula of ReservoirPy's IPReservoir.exp_gradients."""
    rng = np.random.default_rng(0)
    a, c, r = rng.uniform(0.5, 2, 5), rng.normal(0, 1, 5), rng.normal(0, 2, 5)
    y = 1 / (1 + np.exp(-(a * r + c)))
    mu, eta = 0.2, 0.01
    delta_b = 1 - (2 + 1 / mu) * y + y**2 / mu
    delta_a = 1 / a + delta_b * r
    new_a, new_c = ip_step(
        jnp.asarray(a), jnp.asarray(c), jnp.asarray(r), jnp.asarray(y),
        target_mean=mu, learning_rate=eta,
    )  # fmt: skip
    np.testing.assert_allclose(new_a, a + eta * delta_a, rtol=1e-5)
    np.testing.assert_allclose(new_c, c + eta * delta_b, rtol=1e-5)


@pytest.mark.float64
def test_intrinsic_plasticity_equals_reservoirpy_without_recurrence(getkey):
    """With W = 0 a neuron's output p = sigmoid(a u W_in + c) does not depend on the
    sampled states, so the adaptation is deterministic and equals ReservoirPy's
    IPReservoir (sigmoid, leak rate 1, no bias) trained on the same inputs."""
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import IPReservoir

    n = 8
    input_weights = np.random.default_rng(0).choice([-1.0, 1.0], (1, n))
    inputs = np.random.default_rng(1).uniform(-0.8, 0.8, (3000, 1))
    res = Reservoir(fj.BinaryNetwork(np.zeros((n, n)), np.zeros(n)), input_weights)
    adapted = intrinsic_plasticity(
        res, getkey(), inputs, target_mean=0.2, learning_rate=5e-3
    ).network
    node = IPReservoir(
        n, W=np.zeros((n, n)), Win=input_weights.T, bias=0.0, lr=1.0,
        mu=0.2, learning_rate=5e-3, activation="sigmoid", epochs=1,
    )  # fmt: skip
    node.fit(inputs)
    np.testing.assert_allclose(1 / np.asarray(adapted.temperature), node.a, rtol=1e-9)
    gain = 1 / np.asarray(adapted.temperature)
    np.testing.assert_allclose(np.asarray(adapted.biases) * gain, node.b, atol=1e-9)


def test_intrinsic_plasticity_reaches_the_target_rate(getkey):
    """On a recurrent network the mean firing probability ends near mu."""
    net = fj.ei_network(50, key=getkey(), strength=2.0)
    res = Reservoir(net, random_input_weights(getkey(), 1, 50))
    inputs = np.asarray(jr.uniform(getkey(), (20_000, 1), minval=-0.8, maxval=0.8))
    adapted = intrinsic_plasticity(res, getkey(), inputs, target_mean=0.2)
    rate = float(adapted.run(getkey(), inputs[:5000]).mean())
    assert abs(rate - 0.2) < 0.05


def test_ei_network_structure(getkey):
    n, k, f = 40, 4, 0.8
    net = fj.ei_network(n, key=getkey(), strength=2.0, in_degree=k)
    weights = np.asarray(net.weights)
    assert ((weights != 0).sum(0) == k).all() and (np.diag(weights) == 0).all()
    num_e = int(round(f * n))
    assert (weights[:num_e] >= 0).all() and (weights[num_e:] <= 0).all()
    dense = np.asarray(fj.ei_network(n, key=getkey()).weights)
    assert ((dense != 0).sum(0) == n - 1).all()
    # balance: E W[j, i] over j is zero (|g| has the same law for E and I)
    big = np.asarray(fj.ei_network(1000, key=getkey(), strength=1.0).weights)
    column = big.sum(0)
    assert abs(column.mean()) < 5 * column.std() / np.sqrt(1000)
    with pytest.raises(ValueError, match="in_degree must be at most n - 1 = 39"):
        fj.ei_network(n, key=getkey(), in_degree=40)
    with pytest.raises(ValueError, match="excitatory_fraction must lie in"):
        fj.ei_network(n, key=getkey(), excitatory_fraction=1.0)


def test_a_shift_register_remembers_its_length(getkey):
    """A chain of strong copy weights driven by +-1 inputs: neuron 0 fires iff
    u_t = +1 and neuron k copies neuron k - 1, so row t of the features holds
    u_t, u_{t-1}, ..., u_{t-L}: a register of L past inputs. Its memory capacity
    (delays >= 1) is L within sampling error, and its linear 3-bit-parity score is
    no more than a halfspace can get (1 - H(3/4) = 0.19 bit per delay: parity is not
    linearly separable), while the product of the three bits reads 1 bit."""
    length, gain = 8, 20.0
    n = length + 1
    weights = np.zeros((n, n))
    weights[np.arange(length), np.arange(1, n)] = gain
    biases = np.r_[0.0, np.full(length, -gain / 2)]
    res = Reservoir(
        fj.BinaryNetwork(weights, biases), np.r_[gain, np.zeros(length)][None]
    )
    split = rc.Split(20, 1000, 300, 500)
    u = rc.parity_inputs(getkey(), sum(split))
    features = res.run(getkey(), u)
    mc = rc.memory_capacity(features, u, split, max_delay=length + 4)
    np.testing.assert_allclose(mc.per_delay[:length], 1.0, atol=1e-3)
    assert abs(float(mc.total) - length) < 0.3
    parity = rc.parity_bits(features, u, split, max_delay=length - 2)
    assert np.all(np.asarray(parity.per_delay) < 0.19 + 0.05)
    bits = np.asarray(features) > 0.5
    product = (2.0 * bits[:, 2:5] - 1).prod(1, keepdims=True)  # u(t-2) u(t-3) u(t-4)
    read = rc.parity_bits(np.c_[features, product], u, split, max_delay=length - 2)
    assert float(read.per_delay[2]) > 0.99


def test_memory_capacity_of_a_random_reservoir_is_at_most_its_size(getkey):
    n = 20
    net = fj.ei_network(n, key=getkey(), strength=1.0, in_degree=4)
    res = Reservoir(net, random_input_weights(getkey(), 1, n, scale=3.0))
    split = rc.Split(40, 1500, 400, 600)
    u = rc.memory_capacity_inputs(getkey(), sum(split))
    mc = rc.memory_capacity(res.run(getkey(), u), u, split, max_delay=40)
    assert 0.5 < float(mc.total) <= n
