"""Tests for fluxjax.plotting: the raster shows exactly the firing events, coloured
by population."""

import matplotlib


matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fluxjax.plotting import plot_raster


def _image(ax):
    (image,) = ax.get_images()
    return np.asarray(image.get_array())


def test_raster_marks_each_firing_event_in_its_group_colour():
    rng = np.random.default_rng(0)
    states = rng.random((30, 6)) < 0.4
    fig, ax = plt.subplots()
    groups = {"a": [0, 1], "both": [1, 2, 3], "b": [0, 1, 2, 3]}
    assert plot_raster(states, ax, groups=groups) is ax
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
    ax = plot_raster(states)
    np.testing.assert_array_equal(_image(ax), np.where(np.eye(4), 0, 1))
    assert ax.get_legend() is None
    plt.close(ax.figure)


def test_raster_rejects_bad_input():
    # Under the test suite's jaxtyping hook the annotation rejects it first (a
    # TypeError); without it, the function's own check names the shape.
    with pytest.raises((TypeError, ValueError), match="states"):
        plot_raster(np.zeros((2, 5, 3), bool))
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"groups\['core'\]"):
        plot_raster(np.zeros((5, 3), bool), ax, groups={"core": [0, 3]})
    plt.close(fig)
