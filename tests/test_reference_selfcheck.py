"""Self-checks of tests/reference.py against closed forms (no fluxjax involved)."""

import math
import os
import sys

import numpy as np
import pytest


sys.path.insert(0, os.path.dirname(__file__))
import reference as ref


def h2(p):
    """Binary entropy in bits."""
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def trapezoid_logistic_normal(m, s):
    """Dense trapezoid rule for E[sigmoid(m + s xi)] (spectrally accurate for this integrand)."""
    xi = np.linspace(-14.0, 14.0, 400001)
    w = np.exp(-0.5 * xi**2) / math.sqrt(2 * math.pi)
    return float(np.trapezoid(ref.sigmoid(m + s * xi) * w, xi))


# --- logistic-normal integral --------------------------------------------------


@pytest.mark.parametrize("s", [0.0, 0.1, 1.0, 3.7, 25.0])
def test_logistic_normal_at_zero_is_half(s):
    assert abs(ref.logistic_normal(0.0, s) - 0.5) < 1e-15


@pytest.mark.parametrize(
    "m,s", [(2.3, 0.7), (-5.0, 3.0), (30.0, 2.0), (-0.1, 10.0), (-40.0, 0.5)]
)
def test_logistic_normal_matches_trapezoid_and_symmetry(m, s):
    v = ref.logistic_normal(m, s)
    assert abs(v - trapezoid_logistic_normal(m, s)) < 1e-13
    assert abs(v + ref.logistic_normal(-m, s) - 1.0) < 1e-13


def test_sigmoid_is_stable():
    z = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    s = ref.sigmoid(z)
    assert np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[2] == 0.5 and s[4] == 1.0
    assert abs(s[1] - math.exp(-40.0)) < 1e-30


def test_firing_prob_noise_free_with_temperature_vector():
    rng = np.random.default_rng(0)
    W, b, T = (
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        np.array([0.5, 1.0, 2.0, 3.0]),
    )
    x = np.array([1, 0, 1, 1])
    expected = 1.0 / (1.0 + np.exp(-(x @ W + b) / T))
    assert np.allclose(ref.firing_prob(W, b, T, 0.0, x), expected, atol=1e-15)


def test_all_states_code_convention():
    X = ref.all_states(3)
    assert X.shape == (8, 3)
    assert list(X[6]) == [0, 1, 1]  # 6 = 2 + 4
    assert np.array_equal(ref.state_codes(X), np.arange(8))


# --- exact quantities ----------------------------------------------------------


def test_stationary_distribution_is_invariant():
    rng = np.random.default_rng(1)
    N = 6
    W, b = rng.normal(size=(N, N)), rng.normal(size=N)
    P = ref.transition_matrix(W, b, temperature=rng.uniform(0.5, 2, N), noise=0.8)
    assert np.allclose(P.sum(axis=1), 1.0, atol=1e-13)
    pi = ref.stationary(P)
    assert abs(pi.sum() - 1) < 1e-13
    assert np.all(pi > 0)
    assert np.allclose(pi @ P, pi, atol=1e-14)


def test_independent_neurons_have_zero_flux():
    rng = np.random.default_rng(2)
    N = 4
    W, b = np.zeros((N, N)), rng.normal(size=N)
    T, noise = rng.uniform(0.5, 2, N), rng.uniform(0, 2, N)
    assert abs(ref.flux(W, b, T, noise)) < 1e-12
    assert abs(ref.subset_flux(W, b, [2, 0], T, noise)) < 1e-12
    assert abs(ref.transfer_entropy(W, b, [1], T, noise)) < 1e-12
    p = [ref.logistic_normal(b[i] / T[i], noise[i]) for i in range(N)]
    assert abs(ref.entropy(W, b, T, noise) - sum(h2(pi) for pi in p)) < 1e-12
    assert (
        abs(ref.conditional_entropy(W, b, T, noise) - sum(h2(pi) for pi in p)) < 1e-12
    )


@pytest.mark.parametrize("w", [2.0, 6.0, 20.0])
def test_sticky_neuron_is_binary_symmetric_channel(w):
    # self weight w, bias -w/2: flips with probability e = sigmoid(-w/2); pi = (1/2, 1/2)
    W, b = np.array([[w]]), np.array([-w / 2])
    e = 1.0 / (1.0 + math.exp(w / 2))
    assert abs(ref.entropy(W, b) - 1.0) < 1e-12
    assert abs(ref.flux(W, b) - (1.0 - h2(e))) < 1e-12
    assert abs(ref.conditional_entropy(W, b) - h2(e)) < 1e-12
    if w == 20.0:
        assert (
            abs(ref.flux(W, b) - ref.entropy(W, b)) < 1e-3
        )  # near-deterministic copy: flux ~ H


def test_deterministic_copy_chain():
    # neuron 0: fair coin; neuron 1 copies neuron 0; neuron 2 copies neuron 1 (huge weights)
    big = 100.0
    W = np.zeros((3, 3))
    W[0, 1] = W[1, 2] = 2 * big
    b = np.array([0.0, -big, -big])
    assert abs(ref.entropy(W, b) - 3.0) < 1e-12
    assert abs(ref.conditional_entropy(W, b) - 1.0) < 1e-12
    assert abs(ref.flux(W, b) - 2.0) < 1e-12  # x(t+1) = (coin, x0(t), x1(t))
    assert abs(ref.subset_flux(W, b, [0, 1]) - 1.0) < 1e-12  # x1(t+1) = x0(t)
    assert abs(ref.subset_flux(W, b, [2, 1]) - 1.0) < 1e-12  # x2(t+1) = x1(t)
    assert abs(ref.subset_flux(W, b, [1]) - 0.0) < 1e-12
    assert abs(ref.subset_flux(W, b, [2, 1, 0]) - 2.0) < 1e-12  # full set in any order
    # the copy of neuron 0 carries exactly its 1 bit of entropy
    assert abs(ref.transfer_entropy(W, b, [1]) - 1.0) < 1e-12
    assert abs(ref.transfer_entropy(W, b, [0]) - 0.0) < 1e-12
    assert abs(ref.transfer_entropy(W, b, [2, 1]) - 1.0) < 1e-12


def test_flux_equals_entropy_minus_conditional_entropy():
    rng = np.random.default_rng(3)
    N = 5
    W, b = rng.normal(size=(N, N)), rng.normal(size=N)
    f = ref.flux(W, b, 1.5, 0.7)
    assert (
        abs(f - (ref.entropy(W, b, 1.5, 0.7) - ref.conditional_entropy(W, b, 1.5, 0.7)))
        < 1e-12
    )
    assert abs(ref.subset_flux(W, b, list(range(N)), 1.5, 0.7) - f) < 1e-12


# --- plug-in estimators --------------------------------------------------------


def test_plugin_mi_of_independent_codes_is_small():
    rng = np.random.default_rng(4)
    a, c = rng.integers(0, 8, 100000), rng.integers(0, 8, 100000)
    assert 0 <= ref.plugin_mi(a, c) < 1e-3  # bias ~ 49 / (2 n ln 2) = 3.5e-4


def test_plugin_mi_of_copy_equals_entropy():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 13, 5000)
    assert abs(ref.plugin_mi(a, a) - ref.plugin_entropy_of_codes(a)) < 1e-12
    assert abs(ref.plugin_mi(a, 7 * a + 3) - ref.plugin_entropy_of_codes(a)) < 1e-12


def test_plugin_on_hand_example():
    states = np.array([[0], [1], [0], [1], [0]], dtype=bool)
    assert abs(ref.plugin_entropy(states) - h2(0.4)) < 1e-15
    assert abs(ref.plugin_flux(states) - 1.0) < 1e-15
    # three entropies of 1 bit each, m = 2, 2, 2, n = 4 pairs
    assert abs(ref.miller_madow_flux(states) - (1.0 + 1.0 / (8 * math.log(2)))) < 1e-15


def test_triplet_flux_lagged_copy():
    rng = np.random.default_rng(6)
    T = 20000
    s = np.zeros((T, 6), dtype=bool)
    s[:, :3] = rng.integers(0, 2, (T, 3))
    s[1:, 3:] = s[:-1, :3]  # triplet 1 at t+1 = triplet 0 at t
    intra, inter = ref.plugin_triplet_flux(s, [(0, 1, 2), (3, 4, 5)])
    c0 = s[:, 0] + 2 * s[:, 1] + 4 * s[:, 2]
    c1 = s[:, 3] + 2 * s[:, 4] + 4 * s[:, 5]
    assert intra < 2e-3
    # MI(c0(t); c1(t+1)) = H(c0) exactly, since c1(t+1) = c0(t)
    assert (
        abs(ref.plugin_mi(c0[:-1], c1[1:]) - ref.plugin_entropy_of_codes(c0[:-1]))
        < 1e-12
    )
    expected = 0.5 * (
        ref.plugin_entropy_of_codes(c0[:-1]) + ref.plugin_mi(c1[:-1], c0[1:])
    )
    assert abs(inter - expected) < 1e-12
    assert abs(inter - 1.5) < 2e-3


# --- simulation ----------------------------------------------------------------


def test_simulation_deterministic_step():
    W = np.array([[0.0, 3.0], [-2.0, 0.0]])
    b = np.array([0.5, -1.0])
    normals = np.zeros((1, 2))
    uniforms = np.full((1, 2), 0.5)
    out = ref.simulate_reference(W, b, 1.0, 0.0, np.array([1, 1]), normals, uniforms)
    # z = (1*[0,3] + 1*[-2,0] + b) = [-1.5, 2.0] -> fire iff sigmoid(z) > 0.5
    assert out.dtype == bool and out.shape == (1, 2)
    assert list(out[0]) == [False, True]


def test_simulated_trajectory_matches_exact_flux():
    rng = np.random.default_rng(7)
    N, steps = 3, 60000
    W, b = rng.normal(scale=2.0, size=(N, N)), rng.normal(size=N)
    T, noise = np.array([1.0, 0.7, 1.3]), np.array([0.0, 0.8, 1.5])
    states = ref.simulate_reference(
        W,
        b,
        T,
        noise,
        np.zeros(N),
        rng.normal(size=(steps, N)),
        rng.uniform(size=(steps, N)),
    )
    assert abs(ref.plugin_flux(states) - ref.flux(W, b, T, noise)) < 0.01
    assert abs(ref.plugin_entropy(states) - ref.entropy(W, b, T, noise)) < 0.01
    # empirical transition frequencies agree with the exact matrix
    codes = ref.state_codes(states)
    counts = np.zeros((2**N, 2**N))
    np.add.at(counts, (codes[:-1], codes[1:]), 1)
    P = ref.transition_matrix(W, b, T, noise)
    rows = counts.sum(axis=1) > 2000
    assert np.allclose(
        counts[rows] / counts[rows].sum(axis=1, keepdims=True), P[rows], atol=0.03
    )
