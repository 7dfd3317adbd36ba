"""The Brunel (2000) spike source: its connectivity and statistics (no Brian2 needed),
the shipped data set against its provenance, and the study part on it."""

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
import pytest

import fluxjax as fj
from fluxjax.experiments import brunel, brunel_simulation as sim, report, reproduce
from fluxjax.experiments._common import BrunelFitConfig, StudyConfig
from fluxjax.io import from_json, to_json


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


# ---------------------------------------------------------------------------
# The shipped data set
# ---------------------------------------------------------------------------

RECORDINGS = Path(fj.__file__).parent / "recordings"


@pytest.fixture(scope="module")
def provenance():
    return json.loads((RECORDINGS / "brunel2000.json").read_text())


@pytest.mark.parametrize("regime", fj.BRUNEL_REGIMES)
def test_the_shipped_set_is_what_its_provenance_says(regime, provenance):
    """Files as recorded (SHA-256), units, window and every unit's spike count as
    Brian2 reported them, and rates consistent with the whole network's."""
    entry = provenance["regimes"][regime]
    path = RECORDINGS / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    recording = fj.load_brunel(regime)
    config = provenance["config"]
    n = config["recorded_units"]
    assert recording.num_units == n == len(provenance["units"])
    assert (recording.start, recording.stop) == (0.0, 1e3 * config["duration_s"])
    assert recording.spike_times.shape == recording.unit_ids.shape
    assert np.all(np.diff(recording.spike_times) >= 0)
    assert 0 <= recording.spike_times.min() and recording.spike_times.max() < 6e4
    counts = np.bincount(recording.unit_ids, minlength=n)
    np.testing.assert_array_equal(counts, entry["spike_counts"])  # none lost
    units = np.asarray(provenance["units"])
    np.testing.assert_array_equal(
        recording.excitatory, units < config["num_excitatory"]
    )
    rates = counts / config["duration_s"]
    network_rate = entry["statistics"]["rate_hz"]
    # 50 of 1000 neurons: their mean rate is near the network's (same distribution)
    assert abs(rates.mean() - network_rate) < 0.2 * network_rate
    assert recording.provenance["regime"] == regime
    assert recording.provenance["g"] == sim.REGIMES[regime].g
    for key in ("command", "brian2", "date", "seed", "fluxjax_commit"):
        assert recording.provenance[key]


def test_spike_times_sit_on_the_grid_and_bin_exactly(provenance):
    """Times are 1 ms grid centres; binning at 1 ms gives the stored raster back."""
    recording = fj.load_brunel("ai")
    np.testing.assert_array_equal(recording.spike_times % 1.0, 0.5)
    states = np.asarray(
        fj.bin_spikes(
            recording.spike_times,
            recording.unit_ids,
            bin_width=1.0,
            start=recording.start,
            stop=recording.stop,
            num_units=recording.num_units,
        )
    )
    with np.load(RECORDINGS / "brunel2000_ai.npz") as stored:
        raster = np.unpackbits(
            stored["raster"], axis=0, count=int(stored["num_bins"])
        ).astype(bool)
    np.testing.assert_array_equal(states, raster)
    coarse = np.asarray(
        fj.bin_spikes(
            recording.spike_times,
            recording.unit_ids,
            bin_width=5.0,
            start=recording.start,
            stop=recording.stop,
            num_units=recording.num_units,
        )
    )
    np.testing.assert_array_equal(coarse, raster.reshape(-1, 5, 50).any(1))


def test_load_brunel_refuses_an_unknown_regime():
    with pytest.raises(ValueError, match="regime must be one of"):
        fj.load_brunel("AI")


# ---------------------------------------------------------------------------
# The study part
# ---------------------------------------------------------------------------

TINY = BrunelFitConfig(
    regimes=("sr", "ai"),
    bin_widths_ms=(2.0, 10.0),
    num_units=10,  # n <= 12: fj.flux of a fit is exact, a reference for the estimate
    duration_s=10.0,
    penalties=(10.0, 1.0),
    num_folds=2,
    flux_steps_per_unit=100,
    min_flux_steps=4_000,
    gradient_steps=5,
    learning_rate=0.2,
    num_replicates=2,
)
STUDY = StudyConfig(brunel=TINY)


def _cell(regime="ai", width=2.0, **fields) -> brunel.Cell:
    values = {name: None for name in brunel.Cell._fields}
    values.update(
        regime=regime,
        bin_width_ms=width,
        num_transitions=1000,
        num_units=10,
        dropped_units=[],
        firing_probability=0.2,
        problems=[],
        seconds=1.0,
    )
    values.update(fields)
    return brunel.Cell(**values)


def test_verdicts_and_answer_from_the_numbers():
    Flux = brunel.Flux
    close = _cell(
        fitted=Flux(9.95, 0.1),
        half_firing=Flux(9.0, 0.1),
        optimized=Flux(10.0, 0.1),
        gain=Flux(0.05, 0.2),
    )
    far = _cell(
        width=10.0,
        fitted=Flux(5.0, 0.1),
        half_firing=Flux(10.0, 0.1),
        optimized=Flux(10.0, 0.1),
        gain=Flux(5.0, 0.1),
        problems=["flagged"],
    )
    none = _cell(regime="sr")
    assert brunel.at_optimum(close) and not brunel.at_optimum(far)
    assert brunel.at_optimum(none) is None
    assert brunel.fraction_of_optimum(far, "fitted") == 0.5
    assert brunel.half_firing_at_optimum(far)
    assert not brunel.half_firing_at_optimum(close)
    text = brunel.answer([close, far, none])
    assert text.startswith("The fitted biases are at the flux optimum in 1 of 2")
    assert "1 of the 1 inside the fit's validated regime" in text
    assert "the optimised flux in 1 of 2" in text
    assert "AI: 2 ms 99 % (90 %), 10 ms 50 % (100 %, flagged); SR: 2 ms no fit" in text


def test_the_gap_is_blamed_on_the_data_only_beyond_the_controls():
    model, data = brunel.Flux(2.0, 0.01), brunel.Flux(1.0, 0.1)
    assert brunel._gap_problem(model, data, -2.9, -50.0) is None  # within 3 SE
    assert "does not describe these data" in brunel._gap_problem(
        model, data, -10.0, 0.0
    )
    own = brunel._gap_problem(model, data, -10.0, -7.0)  # 3 < 3 sqrt(2)
    assert "the fit itself" in own and "-7.0 SE" in own
    assert "has no fit" in brunel._gap_problem(model, data, -10.0, None)


def test_a_cell_where_every_unit_always_fires_has_no_numbers():
    """SR at 10 ms: every unit spikes in every bin; nothing is fitted, and the cell
    says why instead of holding numbers."""
    cell = brunel.run_cell(fj.load_brunel("sr"), 10.0, jax.random.key(0), TINY)
    assert cell.num_units == 0 and cell.dropped_units == list(range(10))
    assert cell.fitted is None and cell.model_flux is None and cell.penalty is None
    assert "fire, or stay silent, in fewer than 20 of the 999" in cell.problems[0]
    assert "nothing to fit" in cell.problems[1]
    assert cell.num_transitions == 999


@pytest.fixture(scope="module")
def tiny():
    return brunel.run(STUDY)


def _refit(regime: str, width: float):
    states = brunel.recorded_states(fj.load_brunel(regime), width, TINY)
    return states, *fj.fit_network(
        states, penalties=TINY.penalties, num_folds=TINY.num_folds
    )


@pytest.mark.slow
def test_tiny_study_agrees_with_the_exact_flux_of_an_independent_fit(tiny):
    """Per fitted cell: the study's flux at the fitted and at the 50 %-firing biases
    (the large-n estimate inside flux_optimality) against the exact flux of a fit
    made here; the ascent never ends below its start; the front door's flux is the
    exact one."""
    fitted = [c for c in tiny.cells if c.fitted is not None]
    assert {(c.regime, c.bin_width_ms) for c in fitted} == {
        ("sr", 2.0),
        ("ai", 2.0),
        ("ai", 10.0),
    }
    for cell in fitted:
        states, net, info = _refit(cell.regime, cell.bin_width_ms)
        assert info.penalty == cell.penalty
        exact = float(fj.exact_flux(net))
        half = fj.BinaryNetwork(net.weights, net.half_firing_biases())
        exact_half = float(fj.exact_flux(half))
        assert cell.model_flux.value == pytest.approx(exact, rel=1e-4)
        assert cell.front_door["half_firing"].value == pytest.approx(
            exact_half, rel=1e-4
        )
        assert np.isfinite(cell.control_z)
        # the fit fires as the data do (2000 simulated steps: SE about 0.01)
        assert cell.model_firing["fitted"] == pytest.approx(
            cell.firing_probability, abs=0.05
        )
        # the estimate's systematic error: -1.2 ... +1.5 % (fj.flux's calibration)
        for estimate, truth in ((cell.fitted, exact), (cell.half_firing, exact_half)):
            assert abs(estimate.value - truth) < 4 * estimate.stderr + 0.03 * truth
        noise = np.hypot(cell.fitted.stderr, cell.optimized.stderr)
        assert cell.optimized.value >= cell.fitted.value - 3 * noise
        assert cell.gain.value == pytest.approx(
            cell.optimized.value - cell.fitted.value
        )
        rms = float(np.sqrt(np.mean((net.biases - half.biases) ** 2)))
        assert cell.distance_to_half_firing.value == pytest.approx(rms, rel=1e-3)
        assert cell.firing_probability == pytest.approx(states[1:].mean(), rel=1e-6)


@pytest.mark.slow
def test_tiny_study_flags_what_is_outside_the_validated_regime(tiny):
    by_cell = {(c.regime, c.bin_width_ms): c for c in tiny.cells}
    assert by_cell["sr", 10.0].fitted is None
    few = by_cell["ai", 10.0]  # 999 transitions for 10 units
    assert any("fewer than the 100 n = 1000" in p for p in few.problems)
    for cell in tiny.cells:
        if cell.stationarity_z is not None and abs(cell.stationarity_z) > 3:
            assert any(
                f"differ by {cell.stationarity_z:+.1f} SE" in p for p in cell.problems
            )
    assert set(tiny.regimes) == {"sr", "ai"}
    assert tiny.regimes["ai"].statistics["cv_isi"] > 1  # irregular
    assert tiny.regimes["sr"].statistics["cv_isi"] < 0.3  # regular


@pytest.mark.slow
def test_tiny_study_renders_and_round_trips(tiny):
    assert from_json(brunel.BrunelResult, json.loads(json.dumps(to_json(tiny)))) == (
        tiny
    )
    text = report.brunel_section(tiny)
    assert tiny.answer in text and "| AI | 10 |" in text
    assert text.count("\n| SR |") == 1 + 2 * len(TINY.bin_widths_ms)  # 3 tables
    assert "z control" in text
    figure = brunel.plot(tiny)
    assert len(figure.axes) == len(TINY.regimes)


class _Tiny(NamedTuple):
    value: float


def test_run_part_computes_one_part_once_and_reuses_it(tmp_path, monkeypatch):
    """The part file that `python -m fluxjax.experiments.brunel` writes alone is the
    one fluxjax reproduce reuses: a second run loads it."""
    calls = []

    def run(config, done, units):
        calls.append(done)
        return _Tiny(1.5)

    monkeypatch.setitem(reproduce.PARTS, "tiny", reproduce.Part(run, _Tiny))
    first = reproduce.run_part("tiny", STUDY, tmp_path)
    again = reproduce.run_part("tiny", STUDY, tmp_path)
    assert first.result == again.result == _Tiny(1.5) and not again.stale
    assert calls == [{}]  # computed once, from no other part
    stored = json.loads((tmp_path / "parts" / "tiny.json").read_text())
    assert stored["provenance"] == reproduce.provenance()
    with pytest.raises(ValueError, match="name must be one of"):
        reproduce.run_part("nope", STUDY, tmp_path)
