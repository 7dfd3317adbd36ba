"""Tests for fluxjax.plotting: each figure shows exactly the data it was given (the
raster's firing events coloured by population, the lines' points, the error bars)."""

import matplotlib


matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fluxjax.plotting import plot_per_neuron, plot_raster, plot_sweep, plot_traces


def _image(ax):
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def test_raster_marks_each_firing_event_in_its_group_colour():
    rng = np.random.default_rng(0)
    states = rng.random((30, 6)) < 0.4
    fig, ax = plt.subplots()
    groups = {"a": [0, 1], "both": [1, 2, 3], "b": [0, 1, 2, 3]}
    assert plot_raster(states, ax, groups=groups) is ax.get_figure()
    image = _image(ax)
    assert image.shape == (6, 30)  # rows are neurons, columns are steps
    # Neuron 1 stays in its first group; "b" adds no neuron and gets no legend entry;
    # neurons 4 and 5 are in no group (index 2); silent is index 3.
    expected_group = np.array([0, 0, 1, 1, 2, 2])
    expected = np.where(states.T, expected_group[:, None], 3)
    np.testing.assert_array_equal(image, expected)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["a", "both"]
    plt.close(fig)


def test_raster_without_groups_makes_its_own_axes():
    states = np.eye(4, dtype=bool)
    fig = plot_raster(states)
    (ax,) = fig.axes
    np.testing.assert_array_equal(_image(ax), np.where(np.eye(4), 0, 1))
    assert ax.get_legend() is None
    plt.close(fig)


def test_raster_rejects_bad_input():
    # Under the test suite's jaxtyping hook the annotation rejects it first (a
    # TypeError); without it, the function's own check names the shape.
    with pytest.raises((TypeError, ValueError), match="states"):
        plot_raster(np.zeros((2, 5, 3), bool))
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"groups\['core'\]"):
        plot_raster(np.zeros((5, 3), bool), ax, groups={"core": [0, 3]})
    plt.close(fig)


def _lines(ax):
    return {line.get_label(): line.get_xydata() for line in ax.get_lines()}


def test_traces_draw_each_run_at_its_steps_or_given_x():
    gradient = np.array([0.1, 0.4, 0.7, 0.8])
    hill = [0.1, 0.2, 0.2, 0.5, 0.6, 0.6]  # a list is accepted too
    updates = np.array([100.0, 200.0, 300.0])
    rule = np.array([0.3, 0.5, 0.6])
    fig = plot_traces(
        {"gradient": gradient, "hill climb": hill, "rule": (updates, rule)},
        xlabel="iteration",
        ylabel="flux (bit)",
        title="progress",
        logy=True,
    )
    (ax,) = fig.axes
    lines = _lines(ax)
    assert list(lines) == ["gradient", "hill climb", "rule"]
    np.testing.assert_array_equal(lines["gradient"], np.c_[np.arange(4), gradient])
    np.testing.assert_array_equal(lines["hill climb"], np.c_[np.arange(6), hill])
    np.testing.assert_array_equal(lines["rule"], np.c_[updates, rule])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "iteration",
        "flux (bit)",
        "progress",
    )
    assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "log")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["gradient", "hill climb", "rule"]
    plt.close(fig)


def test_traces_draw_on_a_given_axes_and_reject_bad_traces():
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_traces({"a": np.ones(3)}, right) is fig
    assert left.get_lines() == [] and len(right.get_lines()) == 1
    with pytest.raises((TypeError, ValueError), match="traces"):
        plot_traces({"a": (np.arange(3.0), np.ones(4))}, left)
    with pytest.raises((TypeError, ValueError)):
        plot_traces({"a": np.ones((3, 2))}, left)
    plt.close(fig)


def test_sweep_draws_curves_over_x_with_error_bars():
    x = np.array([0.0, 0.5, 1.0, 2.0])
    sampled = np.array([1.0, 3.0, 2.5, 1.5])
    sd = np.array([0.1, 0.2, 0.3, 0.4])
    exact = np.array([1.1, 2.9, 2.4, 1.4])
    fig = plot_sweep(
        x,
        {"sampled": sampled, "exact": exact},
        yerr={"sampled": sd},
        xlabel="noise",
        ylabel="flux",
    )
    (ax,) = fig.axes
    (errorbar,) = ax.containers  # only "sampled" has error bars
    data_line, _, (bars,) = errorbar.lines
    np.testing.assert_array_equal(data_line.get_xydata(), np.c_[x, sampled])
    segments = np.asarray(bars.get_segments())  # one vertical segment per point
    np.testing.assert_allclose(segments[:, 0, 1], sampled - sd)
    np.testing.assert_allclose(segments[:, 1, 1], sampled + sd)
    np.testing.assert_array_equal(segments[:, :, 0], np.c_[x, x])
    np.testing.assert_array_equal(_lines(ax)["exact"], np.c_[x, exact])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["sampled", "exact"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("noise", "flux")
    plt.close(fig)


def test_sweep_of_one_series_has_no_legend_and_log_axes():
    sizes = [1, 4, 16, 64]
    rate = np.array([1e6, 3e6, 9e6, 2e7])
    fig = plot_sweep(sizes, rate, logx=True, logy=True)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xydata(), np.c_[sizes, rate])
    assert ax.get_legend() is None
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    plt.close(fig)


def test_sweep_rejects_mismatched_input():
    fig, ax = plt.subplots()
    with pytest.raises((TypeError, ValueError), match="length of x"):
        plot_sweep(np.arange(3.0), np.ones(4), ax)
    with pytest.raises(ValueError, match="does not have"):
        plot_sweep(np.arange(3.0), {"a": np.ones(3)}, ax, yerr={"b": np.ones(3)})
    with pytest.raises(ValueError, match="one series"):
        plot_sweep(np.arange(3.0), np.ones(3), ax, yerr={"a": np.ones(3)})
    plt.close(fig)


def test_per_neuron_draws_each_entry_at_the_neuron_positions():
    gradient = np.array([-6.5, -8.0, -5.1])
    rule = [-6.0, -8.5, -4.9]
    fig = plot_per_neuron(
        {"gradient": gradient, "rule": rule}, neurons=np.arange(10, 13), ylabel="v_i"
    )
    (ax,) = fig.axes
    lines = _lines(ax)
    assert list(lines) == ["gradient", "rule"]
    np.testing.assert_array_equal(lines["gradient"], np.c_[np.arange(3), gradient])
    np.testing.assert_array_equal(lines["rule"], np.c_[np.arange(3), rule])
    markers = [line.get_marker() for line in ax.get_lines()]
    assert markers[0] != markers[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "11", "12"]
    assert ax.get_ylabel() == "v_i"
    plt.close(fig)


def test_per_neuron_rejects_unequal_lengths():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="same length"):
        plot_per_neuron({"a": np.ones(3), "b": np.ones(4)}, ax)
    with pytest.raises(ValueError, match="neurons"):
        plot_per_neuron({"a": np.ones(3)}, ax, neurons=[0, 1])
    plt.close(fig)


def test_legend_can_go_outside_or_be_left_out():
    values = {"a": np.ones(3), "b": np.zeros(3)}
    fig, (left, middle, right) = plt.subplots(1, 3)
    plot_per_neuron(values, left, legend=None)
    assert left.get_legend() is None
    plot_traces(values, middle, legend="outside")
    legend = middle.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    assert legend.get_bbox_to_anchor().x0 >= middle.get_window_extent().x1 - 1
    plot_sweep(np.arange(3.0), values, right, legend="lower right")
    assert right.get_legend()._loc == 4  # matplotlib's code for "lower right"
    plt.close(fig)
