"""fluxjax.data: binning spike times, trials and transitions, the NWB units table."""

import numpy as np
import pytest

from fluxjax.data import as_transitions, bin_spikes, read_nwb_units


def test_bin_spikes_against_a_hand_computed_example():
    # window [1.0, 3.2), bins of 0.5: [1, 1.5) [1.5, 2) [2, 2.5) [2.5, 3); the partial
    # bin [3, 3.2) is dropped, as are spikes before 1.0 and from 3.0 on
    times = np.array([0.2, 1.0, 1.2, 1.25, 1.5, 1.99, 2.0, 2.7, 3.0, 3.1, 5.0])
    units = np.array([0, 0, 0, 1, 2, 0, 3, 1, 0, 2, 1])
    x = bin_spikes(times, units, bin_width=0.5, start=1.0, stop=3.2, num_units=5)
    expected = np.array(
        [
            [1, 1, 0, 0, 0],  # 1.0 (unit 0), 1.2 (unit 0 again: one 1), 1.25 (unit 1)
            [1, 0, 1, 0, 0],  # 1.5 (unit 2, on the edge), 1.99 (unit 0)
            [0, 0, 0, 1, 0],  # 2.0 (unit 3)
            [0, 1, 0, 0, 0],  # 2.7 (unit 1)
        ],
        bool,
    )
    assert x.dtype == bool
    np.testing.assert_array_equal(np.asarray(x), expected)


def test_bin_spikes_whole_bins_and_default_units():
    # (0.3 - 0) / 0.1 is 2.9999999999999996 in floating point: still 3 bins
    x = bin_spikes([0.0, 0.25], [1, 0], bin_width=0.1, start=0.0, stop=0.3)
    np.testing.assert_array_equal(np.asarray(x), [[0, 1], [0, 0], [1, 0]])
    empty = bin_spikes(
        [], np.zeros(0, int), bin_width=1.0, start=0, stop=3, num_units=2
    )
    assert empty.shape == (3, 2) and not np.any(empty)


@pytest.mark.parametrize(
    "times, units, options, match",
    [
        ([0.5, 0.2], [0, 1], {}, "sorted"),
        ([0.1, 0.2], [0, -1], {}, "unit_ids must be >= 0"),
        ([0.1, 0.2], [0, 3], {"num_units": 2}, "num_units"),
        ([0.1, np.nan], [0, 1], {}, "finite"),
        ([0.1], [0], {"start": 1.0, "stop": 1.0}, "empty"),
        ([0.1], [0], {"start": 1.0, "stop": 0.5}, "empty"),
        ([0.1], [0], {"bin_width": 0.0}, "bin_width"),
        ([0.1], [0], {"bin_width": -1.0}, "bin_width"),
        ([0.1], [0], {"bin_width": 2.0}, "bin_width"),
        ([], [], {}, "num_units"),
    ],
)
def test_bin_spikes_refuses_bad_input(times, units, options, match):
    kwargs = {"bin_width": 0.1, "start": 0.0, "stop": 1.0, **options}
    with pytest.raises(ValueError, match=match):
        bin_spikes(np.asarray(times, float), np.asarray(units, int), **kwargs)


def test_mismatched_lengths_and_shapes_are_refused():
    # Under the test suite's jaxtyping hook the annotation rejects them first (a
    # TypeError); without it, the function's own check names the argument.
    with pytest.raises((TypeError, ValueError), match="unit_ids"):
        bin_spikes([0.1, 0.2], [0], bin_width=0.1, start=0.0, stop=1.0)
    with pytest.raises((TypeError, ValueError), match="states"):
        as_transitions(np.zeros(5))


def test_bin_spikes_refuses_non_numeric_input():
    with pytest.raises(TypeError, match="unit_ids"):
        bin_spikes([0.1], [0.5], bin_width=0.1, start=0.0, stop=1.0)
    with pytest.raises(TypeError, match="bin_width"):
        bin_spikes([0.1], [0], bin_width="1", start=0.0, stop=1.0)


def test_transitions_of_one_trial():
    x = np.array([[1, 0], [0, 1], [1, 1]])
    pairs = as_transitions(x)
    np.testing.assert_array_equal(pairs.states, x[:-1].astype(bool))
    np.testing.assert_array_equal(pairs.next_states, x[1:].astype(bool))
    assert pairs.trial_starts == (0,)


def test_a_trial_boundary_is_not_crossed():
    a = np.array([[1, 0], [0, 1], [1, 1]], bool)
    b = np.array([[0, 0], [1, 0]], bool)
    pairs = as_transitions([a, b])
    # 2 + 1 pairs; the pair (a[-1], b[0]) = ([1, 1], [0, 0]) is not among them
    assert pairs.states.shape == (3, 2) and pairs.trial_starts == (0, 2)
    got = {
        (tuple(s.tolist()), tuple(t.tolist()))
        for s, t in zip(np.asarray(pairs.states), np.asarray(pairs.next_states))
    }
    assert got == {((1, 0), (0, 1)), ((0, 1), (1, 1)), ((0, 0), (1, 0))}
    # a (trials, T, n) array: the same as the list of its trials
    stacked = np.stack([a, a[::-1]])
    from_array = as_transitions(stacked)
    from_list = as_transitions(list(stacked))
    np.testing.assert_array_equal(from_array.states, from_list.states)
    np.testing.assert_array_equal(from_array.next_states, from_list.next_states)
    assert from_array.trial_starts == (0, 2)


def test_a_one_bin_trial_adds_no_transition():
    pairs = as_transitions([np.ones((1, 2)), np.array([[0, 1], [1, 0]])])
    assert pairs.states.shape == (1, 2) and pairs.trial_starts == (0, 0)


@pytest.mark.parametrize(
    "states, error, match",
    [
        (np.array([[0.0, np.nan], [1.0, 0.0]]), ValueError, "NaN"),
        (np.array([[0, 2], [1, 0]]), ValueError, "binary"),
        (np.array([[0.0, 0.5], [1.0, 0.0]]), ValueError, "binary"),
        (np.zeros((1, 3)), ValueError, "at least one transition"),
        ([np.zeros((3, 2)), np.zeros((3, 3))], ValueError, "same n"),
        ([], ValueError, "at least one trial"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "binary"),
    ],
)
def test_transitions_refuse_bad_states(states, error, match):
    with pytest.raises(error, match=match):
        as_transitions(states)


def test_read_nwb_units_bins_the_units_table(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from datetime import datetime, timezone

    rng = np.random.default_rng(0)
    trains = [np.sort(rng.uniform(0.0, 2.0, k)) for k in (5, 0, 12)]
    nwbfile = pynwb.NWBFile(
        session_description="test",
        identifier="fluxjax-test",
        session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    for train in trains:
        nwbfile.add_unit(spike_times=train)
    path = tmp_path / "units.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)

    states, ids = read_nwb_units(path, bin_width=0.1, start=0.0, stop=2.0)
    assert states.shape == (20, 3)
    np.testing.assert_array_equal(ids, [0, 1, 2])
    for unit, train in enumerate(trains):  # the hand-binned trains
        expected = np.zeros(20, bool)
        expected[np.floor(train / 0.1).astype(int)] = True
        np.testing.assert_array_equal(np.asarray(states[:, unit]), expected)
