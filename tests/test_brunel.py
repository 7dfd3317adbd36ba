"""The Brunel (2000) spike source: its connectivity and statistics (no Brian2 needed),
the shipped data set against its provenance, and the study part on it."""

import numpy as np
import pytest

from fluxjax.experiments import brunel_simulation as sim


def test_connectivity_has_brunels_fixed_in_degrees_and_no_autapses():
    config = sim.BrunelConfig(num_excitatory=80)
    pre, post = sim.connectivity(config, seed=3)
    c_e, c_i = config.in_degrees
    assert (c_e, c_i) == (8, 2)
    n_e, n = config.num_excitatory, config.num_neurons
    assert np.all(pre != post)
    for i in range(n):
        inputs = pre[post == i]
        assert len(set(inputs.tolist())) == c_e + c_i  # no repeated synapse
        assert np.sum(inputs < n_e) == c_e and np.sum(inputs >= n_e) == c_i
    again = sim.connectivity(config, seed=3)
    np.testing.assert_array_equal(pre, again[0])
    assert not np.array_equal(pre, sim.connectivity(config, seed=4)[0])


def test_threshold_rate_is_brunels():
    """nu_thr = theta / (J C_E tau): 10 Hz for model A (J = 0.1 mV, C_E = 1000) and
    for the scaled network (J C_E = 100 mV)."""
    original = sim.BrunelConfig(num_excitatory=10_000, weight_mv=0.1)
    assert original.threshold_rate_hz == pytest.approx(10.0)
    assert sim.BrunelConfig().threshold_rate_hz == pytest.approx(10.0)


def _spikes(trains: list[np.ndarray], duration_ms: float) -> sim.NetworkSpikes:
    times = np.concatenate(trains)
    neurons = np.concatenate([np.full(len(t), i) for i, t in enumerate(trains)])
    order = np.argsort(times, kind="stable")
    return sim.NetworkSpikes(times[order], neurons[order], len(trains), duration_ms)


def test_regime_statistics_of_poisson_and_regular_trains():
    """Independent Poisson trains: CV 1, chi about 1 / sqrt(N); identical regular
    trains: CV 0, chi 1; Poisson trains modulated at 40 Hz: the peak at 40 Hz."""
    rng = np.random.default_rng(0)
    duration, rate, n = 20_000.0, 20.0, 100
    poisson = [
        np.sort(rng.uniform(0, duration, rng.poisson(rate * duration / 1e3)))
        for _ in range(n)
    ]
    found = sim.regime_statistics(_spikes(poisson, duration))
    assert found["rate_hz"] == pytest.approx(rate, rel=0.02)
    assert found["cv_isi"] == pytest.approx(1.0, abs=0.03)
    assert found["synchrony"] < 2.5 / np.sqrt(n)
    assert found["silent"] == 0
    regular = [np.arange(0.5, duration, 25.0) for _ in range(n)]  # 40 Hz, in step
    found = sim.regime_statistics(_spikes(regular, duration))
    assert found["cv_isi"] == pytest.approx(0.0, abs=1e-9)
    assert found["synchrony"] == pytest.approx(1.0)
    grid = np.arange(0.0, duration, 0.1)  # thinning: rate 20 (1 + sin(2 pi 40 t))
    modulated = rate * 1e-4 * (1 + np.sin(2 * np.pi * 40.0 * grid / 1e3))
    trains = [grid[rng.uniform(size=grid.size) < modulated] for _ in range(n)]
    assert sim.regime_statistics(_spikes(trains, duration))["peak_hz"] == 40.0


def test_record_puts_spikes_on_the_grid_and_refuses_to_lose_one():
    spikes = _spikes([np.array([0.2, 3.7]), np.array([1.0]), np.array([2.5])], 4.0)
    raster = sim.record(spikes, np.array([0, 2]), 1.0)
    assert raster.astype(int).tolist() == [[1, 0], [0, 0], [0, 1], [1, 0]]
    with pytest.raises(ValueError, match="twice"):
        sim.record(_spikes([np.array([0.2, 0.7])], 4.0), np.array([0]), 1.0)


def test_an_unknown_regime_is_refused_before_brian2_is_needed():
    with pytest.raises(ValueError, match="regime must be one of"):
        sim.simulate_brunel("xx", seed=0)
