"""hill_climb and self_organize (fluxjax/optimize.py) against closed forms, the plain
bias-update sum, simulate's trajectories and exact flux."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_weights

import fluxjax as fj


def exact(net, key):
    """The exact flux as an objective (net, key) -> bits."""
    return fj.exact_flux(net)


def test_rule_on_independent_neurons_settles_at_the_logit():
    """With zero weights p_i = sigmoid(v_i / T): v <- v - eps (s - target) drifts to
    v* = T logit(target). Linearised there, v is an AR(1) process with stationary
    variance eps T / 2 (SD 0.045 at eps = 0.002, T = 2) and correlation time
    T / (eps p (1 - p)) ~ 4800 steps, so the mean over the last 10^5 steps has an SD
    of about 0.01; the tolerance is five of those."""
    T, target, rate = 2.0, 0.3, 0.002
    net = fj.BinaryNetwork(np.zeros((3, 3)), np.array([4.0, -4.0, 0.0]), temperature=T)
    _, history = fj.self_organize(
        net, jax.random.key(0), 200_000, rate=rate, target=target, snapshots=200
    )
    settled = np.asarray(history.biases)[100:].mean(axis=0)
    np.testing.assert_allclose(settled, T * np.log(target / (1 - target)), atol=0.05)
    assert history.biases.shape[1] == 3


@pytest.mark.float64
def test_sample_rule_is_the_sum_of_the_recorded_activity():
    """v_final = v_0 - eps * sum_t (s(t+1) - target) over the recorded states: the
    rule's bias trajectory is fixed by the states it produced."""
    W, b = random_weights(np.random.default_rng(0), 4)
    net = fj.BinaryNetwork(W, b, 1.0, 0.4)
    rate, target = 0.003, 0.4
    final, history = fj.self_organize(
        net, jax.random.key(1), 5_000, rate=rate, target=target, burn_in=50
    )
    states = np.asarray(history.states, float)
    assert states.shape == (5_000, 4)
    expected = b - rate * (states - target).sum(0)
    np.testing.assert_allclose(final.biases, expected, atol=1e-9)
    # The snapshots are the same sums taken part way.
    k = np.asarray(history.steps)[3]
    np.testing.assert_allclose(
        history.biases[3], b - rate * (states[:k] - target).sum(0), atol=1e-9
    )


@pytest.mark.float64
def test_adapting_subset_and_vanishing_rate_follow_simulate():
    """With a vanishing rate the biases do not move the dynamics: the states equal
    simulate's with the same key, burn-in and recorded neurons, bit for bit; neurons
    outside ``neurons`` keep their biases exactly."""
    W, b = random_weights(np.random.default_rng(2), 5)
    net = fj.BinaryNetwork(W, b, 1.3, 0.5)
    key = jax.random.key(2)
    final, history = fj.self_organize(
        net, key, 300, rate=1e-30, neurons=[0, 2], record=[1, 2, 4], burn_in=20
    )
    expected = fj.simulate(net, key, 300, burn_in=20, record=fj.States([1, 2, 4]))
    np.testing.assert_array_equal(history.states, expected)
    np.testing.assert_array_equal(final.biases[np.array([1, 3, 4])], b[[1, 3, 4]])


def test_sample_rule_finds_half_firing_in_a_recurrent_net():
    """On the paper's isolated core the rule drives every neuron towards 50 % firing
    (the fixed point of the rule); checked on the last 20 % of the run."""
    net, groups = fj.l5_microcircuit(42)
    core = fj.isolated_core(net, groups)
    start = fj.BinaryNetwork(core.weights, jnp.zeros(10), core.temperature)
    final, history = fj.self_organize(start, jax.random.key(3), 100_000, burn_in=1_000)
    rates = np.asarray(history.states[-20_000:]).mean(0)
    np.testing.assert_allclose(rates, 0.5, atol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(rate=0.0), ValueError, "rate"),
        (dict(target=1.0), ValueError, "target"),
        (dict(neurons=[7]), ValueError, "neurons"),
        (dict(snapshots=0), ValueError, "snapshots"),
    ],
)
def test_self_organize_validation(kwargs, error, match):
    net = fj.BinaryNetwork(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(error, match=match):
        fj.self_organize(net, jax.random.key(0), 10, **kwargs)


@pytest.mark.float64
def test_hill_climb_never_gets_worse_and_reports_the_exact_value():
    W, b = random_weights(np.random.default_rng(4), 5)
    net = fj.BinaryNetwork(W, np.zeros(5), 1.0, 0.3)
    start = float(fj.exact_flux(net))
    best, history = fj.hill_climb(net, jax.random.key(4), exact, iterations=300)
    values = np.asarray(history.objective)
    assert np.all(np.diff(values) >= 0) and values[-1] > start
    assert abs(float(fj.exact_flux(best)) - values[-1]) < 1e-12
    accepted = np.asarray(history.accepted)
    assert 0 < accepted.sum() < 300
    np.testing.assert_array_equal(np.diff(values) > 0, accepted[1:])


def test_hill_climb_reaches_the_gradient_optimum_on_a_small_net():
    """A long hill climb and gradient ascent agree on a 4-neuron net's best exact
    flux within 1e-3 bit (both local searches from the same start)."""
    import optax

    W, b = random_weights(np.random.default_rng(5), 4)
    net = fj.BinaryNetwork(W, np.zeros(4), 1.0, 0.5)
    climbed, _ = fj.hill_climb(
        net, jax.random.key(5), exact, iterations=3_000, halve_at=1_500
    )
    ascended, _ = fj.optimize_biases(
        net,
        jax.random.key(6),
        exact,
        steps=2_000,
        optimizer=optax.adam(0.05),
        tol=1e-9,
    )
    assert abs(float(fj.exact_flux(climbed)) - float(fj.exact_flux(ascended))) < 1e-3


@pytest.mark.float64
def test_hill_climb_moves_only_trainable_biases():
    W, b = random_weights(np.random.default_rng(6), 4)
    net = fj.BinaryNetwork(W, b)
    best, _ = fj.hill_climb(
        net, jax.random.key(7), exact, iterations=100, trainable=[1, 3]
    )
    np.testing.assert_array_equal(best.biases[np.array([0, 2])], b[[0, 2]])
    single, _ = fj.hill_climb(
        net, jax.random.key(8), exact, iterations=50, trainable=[2]
    )
    np.testing.assert_array_equal(single.biases[np.array([0, 1, 3])], b[[0, 1, 3]])


def test_history_records_the_objective_before_each_step():
    W, b = random_weights(np.random.default_rng(7), 7)
    net = fj.BinaryNetwork(W, b)
    triplets = [(0, 1, 2), (3, 4, 5)]
    indicator = lambda net, key: sum(fj.exact_triplet_flux(net, triplets))
    best, history = fj.optimize_biases(
        net, jax.random.key(0), indicator, steps=5, tol=None
    )
    intra, inter = fj.exact_triplet_flux(net, triplets)
    # the same float32 arithmetic, jitted there: equal to a few ulp of 0.25 bit
    assert abs(history.objective[0] - (intra + inter)) < 1e-6


def test_self_organize_progress_bar_gives_the_same_run(capsys):
    """The progress bar only splits the run into compiled calls: same biases."""
    W, b = random_weights(np.random.default_rng(12), 5)
    net = fj.BinaryNetwork(W, b)
    quiet, _ = fj.self_organize(net, jax.random.key(3), 3_000, snapshots=7)
    shown, _ = fj.self_organize(
        net, jax.random.key(3), 3_000, snapshots=7, progress=True
    )
    np.testing.assert_array_equal(quiet.biases, shown.biases)
    assert "self_organize" in capsys.readouterr().err


def test_rule_at_n1000_settles_at_the_logit():
    """N = 1000 independent neurons (the closed form of the N = 3 test): after 2 10^4
    steps at eps = 0.02 the time-averaged biases sit at T logit(target). Per neuron
    the stationary SD is sqrt(eps T / 2) = 0.14 with a correlation time of ~480
    steps, so the mean over the last 10^4 steps has an SD of ~0.03 (bound 0.2), and
    the mean over neurons one of ~0.001 (bound 0.02)."""
    n, T, target, rate = 1000, 2.0, 0.3, 0.02
    rng = np.random.default_rng(13)
    net = fj.BinaryNetwork(np.zeros((n, n)), rng.normal(0, 2, n), temperature=T)
    _, history = fj.self_organize(
        net, jax.random.key(4), 20_000, rate=rate, target=target, record=[0]
    )
    settled = np.asarray(history.biases)[100:].mean(axis=0)
    expected = T * np.log(target / (1 - target))
    assert abs(settled.mean() - expected) < 0.02
    assert np.max(np.abs(settled - expected)) < 0.2


@pytest.mark.float64
def test_infomax_rule_settles_at_its_target_rate():
    """Recurrent Infomax's threshold rule is self_organize at INFOMAX_TARGET_RATE with
    the paper's eps = 0.01. Its fixed point: the exact stationary rates of the
    adapted network (enumeration), averaged over the bias snapshots of the last half
    of each run, equal the target within the sampling error of the rule, measured as
    the spread of six independent runs (4 standard errors)."""
    W, _ = random_weights(np.random.default_rng(29), 3, scale=2.0)
    start = fj.BinaryNetwork(W, np.zeros(3), dtype=jnp.float64)
    states = fj.info.all_states(3, jnp.float64)

    def exact_rates(biases):
        net = fj.BinaryNetwork(W, biases, dtype=jnp.float64)
        return fj.stationary_distribution(net) @ states

    target = fj.INFOMAX_TARGET_RATE
    assert np.all(np.abs(exact_rates(start.biases) - target) > 0.2)  # far at first
    runs = []
    for k in range(6):
        _, history = fj.self_organize(
            start, jax.random.key(k), 60_000, rate=0.01, target=target, snapshots=100
        )
        settled = np.asarray(history.biases)[50:]
        runs.append(np.mean([exact_rates(b) for b in settled], axis=0))
    runs = np.array(runs)  # (runs, neurons)
    stderr = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(stderr < 0.01)  # the rule's fluctuation is small against the target
    assert np.all(np.abs(runs.mean(axis=0) - target) < 4 * stderr)
