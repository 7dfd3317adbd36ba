"""Figures of simulated activity, for notebooks and scripts.

The study's own figures (resonance curve, Fig. 6a bars, lesions, ...) are drawn by the
``plot`` functions of :mod:`fluxjax.experiments`; this module holds the figures that do
not belong to one experiment.
"""

from collections.abc import Mapping, Sequence

import matplotlib.colors
import matplotlib.patches
import numpy as np
from jaxtyping import ArrayLike, Shaped


_SILENT = "white"
_UNGROUPED = "0.2"  # neurons in no group: dark grey


def plot_raster(
    states: Shaped[ArrayLike, "T n"],
    ax=None,
    groups: Mapping[str, Sequence[int] | ArrayLike] | None = None,
):
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
        The ``Axes``.

    Raises:
        ValueError: ``states`` is not 2-D, or a group holds an index outside [0, n).

    Examples:
        >>> net, groups = fj.l5_microcircuit(seed=42)
        >>> states = fj.simulate(net, jax.random.key(0), 200, burn_in=1000)
        >>> ax = plot_raster(states, groups=groups)
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
    return ax
