"""Figures for notebooks and scripts: activity, optimisation traces, sweeps.

The study's own figures (resonance curve, Fig. 6a bars, lesions, ...) are drawn by the
``plot`` functions of :mod:`fluxjax.experiments`; this module holds the general figures
that do not belong to one experiment. Each function draws on ``ax`` when one is given
(to compose panels) and otherwise on a new figure.
"""

from collections.abc import Mapping, Sequence

import matplotlib.colors
import matplotlib.patches
import numpy as np
from jaxtyping import ArrayLike, Real, Shaped
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .measure import FluxResult


Series = Real[ArrayLike, " _points"] | Sequence[ArrayLike]
"""A 1-D sequence of numbers: a NumPy or JAX array, or a list of numbers."""

_SILENT = "white"
_UNGROUPED = "0.2"  # neurons in no group: dark grey
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # one per curve, in turn


def plot_raster(
    states: Shaped[ArrayLike, "T n"],
    ax=None,
    groups: Mapping[str, Sequence[int] | ArrayLike] | None = None,
) -> Figure:
    """Raster plot: time runs to the right, one row per neuron, a mark where it fires.

    Args:
        states: ``(T, n)`` bool or 0/1 states, e.g. from :func:`fluxjax.simulate`
            (slice the steps to show first: a few hundred are readable).
        ax: the matplotlib ``Axes`` to draw on; default a new figure's.
        groups: optional populations to colour, ``{name: neuron indices}``, e.g. the
            ``groups`` of :func:`fluxjax.l5_microcircuit`. A neuron belongs to the
            first group that lists it, so a group whose neurons are all in earlier
            groups (such as ``"excitatory"``, which is core + periphery) is skipped.
            Neurons in no group are drawn dark grey.

    Returns:
        The ``Figure`` drawn on.

    Raises:
        ValueError: ``states`` is not 2-D, or a group holds an index outside [0, n).

    Examples:
        >>> net, groups = fj.l5_microcircuit(seed=42)
        >>> states = fj.simulate(net, jax.random.key(0), 200, burn_in=1000)
        >>> fig = plot_raster(states, groups=groups)
    """
    states = np.asarray(states)
    if states.ndim != 2:
        raise ValueError(
            f"states must have shape (T, n) (one trajectory), got {states.shape}; "
            "index one replica first, e.g. states[0]"
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 3.5))
    steps, n = states.shape
    membership = np.full(n, -1)  # index into `labels`; -1: in no group
    labels = []
    for name, indices in (groups or {}).items():
        indices = np.asarray(indices, dtype=int).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(
                f"groups[{name!r}] must hold neuron indices in [0, {n - 1}], got "
                f"[{indices.min()}, {indices.max()}]"
            )
        new = indices[membership[indices] == -1]
        if new.size:
            membership[new] = len(labels)
            labels.append(name)
    colors = [f"C{k % 10}" for k in range(len(labels))] + [_UNGROUPED, _SILENT]
    # Colour index per (neuron, step): the neuron's group while firing, else silent.
    group_color = np.where(membership == -1, len(labels), membership)
    image = np.where(states.T.astype(bool), group_color[:, None], len(labels) + 1)
    ax.imshow(
        image,
        cmap=matplotlib.colors.ListedColormap(colors),
        norm=matplotlib.colors.NoNorm(),
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, steps - 0.5, n - 0.5, -0.5),
    )
    ax.set(xlabel="step", ylabel="neuron")
    if labels:
        handles = [
            matplotlib.patches.Patch(color=colors[k], label=label)
            for k, label in enumerate(labels)
        ]
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    return figure


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6.0, 4.0))
    return ax


def _series(values, name: str) -> np.ndarray:
    """``values`` as a 1-D float array (a ValueError naming ``name`` otherwise)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    return array


def _finish(
    ax: Axes,
    xlabel: str,
    ylabel: str,
    title: str | None,
    logx: bool,
    logy: bool,
    legend: str | None,
    handles: list | None = None,
) -> Figure:
    """Labels and scales ``ax``; a legend of ``handles`` (default: labelled artists)."""
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title is not None:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
    if handles and legend == "outside":
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )
    elif handles and legend is not None:
        ax.legend(handles=handles, loc=legend, fontsize=8)
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    return figure


def plot_traces(
    traces: Mapping[str, Series | tuple[Series, Series]],
    ax: Axes | None = None,
    *,
    xlabel: str = "step",
    ylabel: str = "objective",
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    legend: str | None = "best",
) -> Figure:
    """Several runs' progress, one line each: e.g. the objective of each optimiser.

    Args:
        traces: ``{label: y}`` (drawn at x = 0, 1, ..., len(y) - 1) or
            ``{label: (x, y)}`` (e.g. bias snapshots taken every k-th update), for
            instance ``{"hill climb": history.objective}``.
        ax: the ``Axes`` to draw on; default a new figure's.
        xlabel: the x-axis label.
        ylabel: the y-axis label.
        title: the title (None: none).
        logx: a logarithmic x-axis.
        logy: a logarithmic y-axis.
        legend: where the legend goes: a matplotlib ``loc`` such as ``"best"``,
            ``"outside"`` (to the right of the axes) or None (no legend).

    Returns:
        The ``Figure`` drawn on.

    Raises:
        ValueError: a trace is not 1-D, or its x and y differ in length.

    Examples:
        >>> net = fj.random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: fj.exact_flux(net)
        >>> _, history = fj.optimize_biases(net, jax.random.key(1), exact, steps=20)
        >>> fig = plot_traces({"adam": history.objective}, ylabel="flux (bit)")
    """
    ax = _axes(ax)
    for label, trace in traces.items():
        if isinstance(trace, tuple) and len(trace) == 2 and np.ndim(trace[0]) == 1:
            x = _series(trace[0], f"traces[{label!r}][0]")
            y = _series(trace[1], f"traces[{label!r}][1]")
            if x.shape != y.shape:
                raise ValueError(
                    f"traces[{label!r}] must pair x and y of equal length, got "
                    f"{x.size} and {y.size}"
                )
        else:
            y = _series(trace, f"traces[{label!r}]")
            x = np.arange(y.size, dtype=float)
        ax.plot(x, y, label=label)
    return _finish(ax, xlabel, ylabel, title, logx, logy, legend)


def plot_sweep(
    x: Series,
    y: Series | Mapping[str, Series],
    ax: Axes | None = None,
    *,
    yerr: Series | Mapping[str, Series] | None = None,
    xlabel: str = "parameter",
    ylabel: str = "value",
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    legend: str | None = "best",
) -> Figure:
    """A quantity against a swept parameter, with optional error bars.

    Args:
        x: the parameter values, e.g. noise levels or ensemble sizes.
        y: the values at ``x``, or ``{label: values}`` for several curves over the
            same ``x`` (one legend entry each).
        ax: the ``Axes`` to draw on; default a new figure's.
        yerr: symmetric error bars (e.g. SDs over replicas): one series when ``y`` is
            one, else ``{label: errors}`` for any of the labels of ``y``.
        xlabel: the x-axis label.
        ylabel: the y-axis label.
        title: the title (None: none).
        logx: a logarithmic x-axis.
        logy: a logarithmic y-axis.
        legend: where the legend goes: a matplotlib ``loc`` such as ``"best"``,
            ``"outside"`` (to the right of the axes) or None (no legend).

    Returns:
        The ``Figure`` drawn on.

    Raises:
        ValueError: a series is not 1-D or not as long as ``x``, or ``yerr`` names a
            curve that ``y`` does not have.

    Examples:
        >>> noise_levels, flux, sd = [0.0, 0.5, 1.0], [0.3, 0.5, 0.2], [0.1, 0.1, 0.1]
        >>> fig = plot_sweep(noise_levels, {"sampled": flux}, yerr={"sampled": sd})
    """
    ax = _axes(ax)
    xs = _series(x, "x")
    single = not isinstance(y, Mapping)
    curves = {"": y} if single else dict(y)
    if yerr is None:
        errors = {}
    elif single:
        if isinstance(yerr, Mapping):
            raise ValueError("yerr must be one series when y is one series")
        errors = {"": yerr}
    else:
        if not isinstance(yerr, Mapping):
            raise ValueError("yerr must be {label: errors} when y is {label: values}")
        errors = dict(yerr)
    unknown = set(errors) - set(curves)
    if unknown:
        raise ValueError(f"yerr names curves that y does not have: {sorted(unknown)}")
    handles = []
    for k, (label, values) in enumerate(curves.items()):
        name = "y" if single else f"y[{label!r}]"
        ys = _series(values, name)
        if ys.shape != xs.shape:
            raise ValueError(
                f"{name} must have the length of x ({xs.size}), got {ys.size}"
            )
        style = dict(
            marker=_MARKERS[k % len(_MARKERS)], markersize=4, label=label or None
        )
        if label in errors:
            error = _series(errors[label], "yerr" if single else f"yerr[{label!r}]")
            if error.shape != xs.shape:
                raise ValueError(f"yerr must have the length of x ({xs.size})")
            handle = ax.errorbar(xs, ys, yerr=error, capsize=2, **style)
        else:
            (handle,) = ax.plot(xs, ys, **style)
        if label:  # in the order of y (matplotlib lists lines before error bars)
            handles.append(handle)
    return _finish(ax, xlabel, ylabel, title, logx, logy, legend, handles)


def plot_per_neuron(
    values: Mapping[str, Series],
    ax: Axes | None = None,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " _n"] | None = None,
    xlabel: str = "neuron",
    ylabel: str = "bias",
    title: str | None = None,
    legend: str | None = "best",
) -> Figure:
    """One value per neuron for several networks or methods, side by side.

    Each entry is drawn as markers (a different marker per entry) joined by a thin
    line, at x = 0, 1, ..., n - 1: e.g. the final biases found by each optimiser, or
    the neurons' firing rates.

    Args:
        values: ``{label: (n,) values}``, all of the same length n.
        ax: the ``Axes`` to draw on; default a new figure's.
        neurons: tick labels for the n positions (e.g. the neurons' indices in a
            larger network); default 0, ..., n - 1.
        xlabel: the x-axis label.
        ylabel: the y-axis label.
        title: the title (None: none).
        legend: where the legend goes: a matplotlib ``loc`` such as ``"best"``,
            ``"outside"`` (to the right of the axes) or None (no legend).

    Returns:
        The ``Figure`` drawn on.

    Raises:
        ValueError: the entries differ in length, or ``neurons`` has another length.

    Examples:
        >>> net = fj.random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: fj.exact_flux(net)
        >>> best, _ = fj.hill_climb(net, jax.random.key(1), exact, iterations=20)
        >>> fig = plot_per_neuron({"start": net.biases, "hill climb": best.biases})
    """
    ax = _axes(ax)
    arrays = {label: _series(v, f"values[{label!r}]") for label, v in values.items()}
    lengths = {array.size for array in arrays.values()}
    if len(lengths) > 1:
        raise ValueError(f"values must all have the same length, got {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    positions = np.arange(n, dtype=float)
    for k, (label, array) in enumerate(arrays.items()):
        ax.plot(
            positions,
            array,
            marker=_MARKERS[k % len(_MARKERS)],
            linewidth=0.8,
            alpha=0.85,
            label=label,
        )
    if neurons is not None:
        if len(neurons) != n:
            raise ValueError(f"neurons must name {n} neurons, got {len(neurons)}")
        ax.set_xticks(positions, [str(i) for i in neurons])
    elif n:
        ax.set_xticks(positions)
    return _finish(ax, xlabel, ylabel, title, False, False, legend)


def plot_comparison(
    results: Mapping[str, FluxResult],
    *,
    traces: Mapping[str, Series] | None = None,
    rates: Mapping[str, Series] | None = None,
    title: str | None = None,
) -> Figure:
    """Bias settings of one network compared: flux, optimisation, firing rates.

    Panels, left to right: the flux of each setting with its SE (error bar) and its
    bracket (thin line, where it is wider than the bar); the optimisation traces, if
    given; the histograms of the neurons' firing rates, if given.

    Args:
        results: ``{label: fluxjax.flux(...)}``, one per bias setting.
        traces: ``{label: objective per step}``, e.g. ``history.objective`` of
            :func:`fluxjax.optimize_biases`.
        rates: ``{label: (n,) firing rates}`` in [0, 1], e.g. the mean of simulated
            states.
        title: the figure's title (None: none).

    Returns:
        The ``Figure``.

    Raises:
        ValueError: no results, or a trace or rate series that is not 1-D.

    Examples:
        >>> net = fj.random_network(4, key=jax.random.key(0), weight_scale=3.0)
        >>> half = fj.BinaryNetwork(net.weights, net.half_firing_biases())
        >>> results = {"start": fj.flux(net, jax.random.key(1)),
        ...            "50 % firing": fj.flux(half, jax.random.key(1))}
        >>> fig = plot_comparison(results)
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results must hold at least one FluxResult")
    panels = 1 + (traces is not None) + (rates is not None)
    figure, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), squeeze=False)
    axes = list(axes[0])
    ax = axes.pop(0)
    labels = list(results)
    positions = np.arange(len(labels), dtype=float)
    for k, label in enumerate(labels):
        result = results[label]
        ax.vlines(k, result.lower, result.upper, color="0.6", linewidth=1)
        ax.errorbar(
            k, result.value, yerr=2 * result.stderr, fmt="o", capsize=4, color=f"C{k}"
        )
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set(ylabel="flux (bit)", title="flux ± 2 SE, bracket (grey)")
    if traces is not None:
        plot_traces(traces, axes.pop(0), ylabel="objective (bit)", title="optimisation")
    if rates is not None:
        ax = axes.pop(0)
        bins = np.linspace(0.0, 1.0, 21)
        for label, series in rates.items():
            ax.hist(_series(series, f"rates[{label!r}]"), bins, alpha=0.5, label=label)
        _finish(ax, "firing rate", "neurons", "firing rates", False, False, "best")
    if title is not None:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
