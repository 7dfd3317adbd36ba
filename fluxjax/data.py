"""Recorded spikes in: binning, trials, and the transitions that a fit reads.

A recording becomes binary states x_t in {0, 1}^n (neuron i fired in time bin t), and
the kinetic Ising model of :class:`fluxjax.BinaryNetwork` is fitted to the successive
pairs (x_t, x_{t+1}). Several trials are several independent runs: their pairs are
pooled, and no pair joins the last bin of one trial to the first of the next.
"""

import importlib.resources
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Integer, Real, Shaped

from ._checks import check_int


class Transitions(NamedTuple):
    """The successive pairs (x_t, x_{t+1}) of one or several trials, pooled.

    Attributes:
        states: ``(T, n)`` bool, x_t of every pair, trial after trial.
        next_states: ``(T, n)`` bool, the x_{t+1} that followed each.
        trial_starts: ``(trials,)`` the index of each trial's first pair.
    """

    states: Bool[Array, "T n"]
    next_states: Bool[Array, "T n"]
    trial_starts: tuple[int, ...]


def _binary(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as bool, refusing NaN and values other than 0 and 1."""
    if array.dtype == np.bool_:
        return array
    if not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must hold binary states (bool or 0/1), got {array.dtype}"
        )
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite: it holds NaN or inf")
    bad = (array != 0) & (array != 1)
    if np.any(bad):
        value = array[bad].flat[0]
        raise ValueError(
            f"{name} must hold binary states (bool, or 0 and 1), found {value!r}; "
            "binarise spike counts first (counts > 0)"
        )
    return array.astype(bool)


Recording = (
    Shaped[ArrayLike, "T n"]
    | Shaped[ArrayLike, "trials T n"]
    | Sequence[Shaped[ArrayLike, "_ n"]]
)
"""Binary states of a recording: one trial, trials of equal length, or a sequence."""


def as_transitions(
    states: Recording,
) -> Transitions:
    """The pairs (x_t, x_{t+1}) of binary states, trial by trial.

    Args:
        states: one trial ``(T, n)``; several of equal length ``(trials, T, n)``; or
            a sequence of trials ``(T_k, n)`` of any lengths >= 1. Bool, or 0/1
            integers or floats.

    Returns:
        :class:`Transitions`, with sum_k (T_k - 1) pairs: a pair never joins two
        trials.

    Raises:
        ValueError: NaN, values other than 0 and 1, no pair at all, or trials with
            different numbers of neurons.
        TypeError: not an array of numbers.

    Examples:
        >>> trials = [jnp.array([[1, 0], [0, 1], [1, 1]]), jnp.array([[0, 0], [1, 0]])]
        >>> pairs = as_transitions(trials)
        >>> pairs.states.astype(int).tolist(), pairs.trial_starts
        ([[1, 0], [0, 1], [0, 0]], (0, 2))
        >>> pairs.next_states.astype(int).tolist()
        [[0, 1], [1, 1], [1, 0]]
    """
    if isinstance(states, (list, tuple)):
        trials = list(states)
    else:
        try:
            array = np.asarray(states)
        except (TypeError, ValueError):
            raise TypeError(
                "states must be a (T, n) or (trials, T, n) array of binary states, or "
                "a sequence of (T_k, n) arrays"
            ) from None
        if array.ndim == 2:
            trials = [array]
        elif array.ndim == 3:
            trials = list(array)
        else:
            raise ValueError(
                "states must be (T, n), (trials, T, n) or a sequence of (T_k, n) "
                f"arrays, got shape {array.shape}"
            )
    if not trials:
        raise ValueError("states must hold at least one trial")
    checked = []
    for k, trial in enumerate(trials):
        try:
            trial = np.asarray(trial)
        except (TypeError, ValueError):
            raise TypeError(f"states[{k}] must be an array of binary states") from None
        if trial.ndim != 2:
            raise ValueError(
                f"states[{k}] must be a (T, n) array, got shape {trial.shape}"
            )
        checked.append(_binary(trial, f"states[{k}]" if len(trials) > 1 else "states"))
    widths = {t.shape[1] for t in checked}
    if len(widths) != 1:
        raise ValueError(f"every trial must have the same n, got {sorted(widths)}")
    if widths == {0}:
        raise ValueError("states must hold at least one neuron")
    lengths = [len(t) - 1 for t in checked]
    if sum(max(m, 0) for m in lengths) < 1:
        raise ValueError(
            "states must hold at least one transition (a trial of >= 2 time bins)"
        )
    starts = np.cumsum([0] + [max(m, 0) for m in lengths[:-1]])
    x = np.concatenate([t[:-1] for t in checked])
    y = np.concatenate([t[1:] for t in checked])
    return Transitions(jnp.asarray(x), jnp.asarray(y), tuple(int(s) for s in starts))


def _check_real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def bin_spikes(
    spike_times: Real[ArrayLike, " S"] | Sequence[float],
    unit_ids: Integer[ArrayLike, " S"] | Sequence[int],
    *,
    bin_width: float | int,
    start: float | int,
    stop: float | int,
    num_units: int | None = None,
) -> Bool[Array, "T n"]:
    """Binary states from spike times: x_t,i = 1 iff unit i spiked in time bin t.

    Bin t is [start + t w, start + (t + 1) w) with w = ``bin_width``, for t = 0 ..
    T - 1, T = floor((stop - start) / w) (a partial last bin is dropped; a ratio
    within 1e-9 of an integer counts as that integer). Spikes outside the bins are
    ignored; two spikes of a unit in one bin give one 1 (choose w below the
    refractory period to keep all of them).

    Args:
        spike_times: ``(S,)`` the times of all spikes of all units, sorted
            (non-decreasing), in the units of ``bin_width``.
        unit_ids: ``(S,)`` the unit of each spike, integers in [0, n).
        bin_width: w > 0, at most ``stop - start``.
        start: the start of the window.
        stop: the end of the window, > ``start``.
        num_units: n; default the largest id + 1.

    Returns:
        ``(T, n)`` bool states.

    Raises:
        ValueError: unsorted or non-finite times, negative ids or ids >= n, an empty
            window, a bin width <= 0 or longer than the window, or mismatched
            lengths.
        TypeError: non-numeric input.

    Examples:
        >>> times = jnp.array([0.1, 0.25, 0.3, 1.2, 1.9])
        >>> units = jnp.array([0, 1, 0, 2, 0])
        >>> x = bin_spikes(times, units, bin_width=0.5, start=0.0, stop=2.0)
        >>> x.astype(int).tolist()
        [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]]
    """
    times = np.asarray(spike_times)
    ids = np.asarray(unit_ids)
    if times.ndim != 1 or ids.ndim != 1:
        raise ValueError(
            f"spike_times and unit_ids must be 1-D, got shapes {times.shape} and "
            f"{ids.shape}"
        )
    if times.shape != ids.shape:
        raise ValueError(
            f"spike_times and unit_ids must have the same length, got {times.size} "
            f"and {ids.size}"
        )
    if times.size and not (
        np.issubdtype(times.dtype, np.floating)
        or np.issubdtype(times.dtype, np.integer)
    ):
        raise TypeError(f"spike_times must be real numbers, got {times.dtype}")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_):
        raise TypeError(f"unit_ids must be integers, got {ids.dtype}")
    times = times.astype(np.float64)
    if not np.all(np.isfinite(times)):
        raise ValueError("spike_times must be finite (no NaN or inf)")
    if np.any(np.diff(times) < 0):
        where = int(np.argmax(np.diff(times) < 0))
        raise ValueError(
            "spike_times must be sorted (non-decreasing): spike_times["
            f"{where + 1}] = {times[where + 1]} < spike_times[{where}] = "
            f"{times[where]}; sort times and ids together (np.argsort(times))"
        )
    if ids.size and ids.min() < 0:
        raise ValueError(f"unit_ids must be >= 0, got {int(ids.min())}")
    start = _check_real(start, "start")
    stop = _check_real(stop, "stop")
    bin_width = _check_real(bin_width, "bin_width")
    if not stop > start:
        raise ValueError(
            f"the window [start, stop) must not be empty, got start = {start}, "
            f"stop = {stop}"
        )
    if not 0 < bin_width <= stop - start:
        raise ValueError(
            f"bin_width must lie in (0, stop - start] = (0, {stop - start}], got "
            f"{bin_width}"
        )
    largest = int(ids.max()) + 1 if ids.size else 0
    if num_units is None:
        if largest == 0:
            raise ValueError("no spikes: pass num_units")
        num_units = largest
    num_units = check_int(num_units, "num_units", minimum=1)
    if largest > num_units:
        raise ValueError(
            f"unit_ids must be < num_units = {num_units}, got {largest - 1}"
        )
    ratio = (stop - start) / bin_width
    num_bins = int(round(ratio)) if abs(ratio - round(ratio)) < 1e-9 else int(ratio)
    index = np.floor((times - start) / bin_width).astype(np.int64)
    inside = (times >= start) & (index >= 0) & (index < num_bins)
    states = np.zeros((num_bins, num_units), bool)
    states[index[inside], ids[inside]] = True
    return jnp.asarray(states)


def read_nwb_units(
    path,
    *,
    bin_width: float | int,
    start: float | int | None = None,
    stop: float | int | None = None,
) -> tuple[Bool[Array, "T n"], np.ndarray]:
    """Binary states from the units table of an NWB file (needs ``pynwb``).

    Every row of ``nwbfile.units`` is a unit (neuron i = row i); its ``spike_times``
    (seconds) are binned by :func:`bin_spikes`.

    Args:
        path: the NWB file.
        bin_width: w > 0 in seconds.
        start: the start of the window; default the first spike.
        stop: the end of the window; default just after the last spike.

    Returns:
        ``(states, unit_ids)``: ``(T, n)`` bool states and the ``(n,)`` ids of the
        units table's rows.

    Raises:
        ImportError: pynwb is not installed (``pip install fluxjax[nwb]``).
        ValueError: the file has no units table, or as :func:`bin_spikes`.
    """
    try:
        import pynwb
    except ImportError:
        raise ImportError(
            "read_nwb_units needs pynwb: pip install 'fluxjax[nwb]'"
        ) from None
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        units = nwbfile.units
        if units is None or len(units) == 0:
            raise ValueError(f"{path} has no units table (nwbfile.units)")
        ids = np.asarray(units.id[:])
        trains = [np.asarray(units.get_unit_spike_times(k)) for k in range(len(ids))]
    times = np.concatenate(trains) if trains else np.zeros(0)
    labels = np.concatenate([np.full(len(t), k) for k, t in enumerate(trains)])
    order = np.argsort(times, kind="stable")
    times, labels = times[order], labels[order].astype(np.int64)
    if start is None:
        start = float(times[0]) if times.size else 0.0
    if stop is None:
        stop = float(times[-1]) + bin_width if times.size else start + bin_width
    states = bin_spikes(
        times,
        labels,
        bin_width=bin_width,
        start=start,
        stop=stop,
        num_units=len(ids),
    )
    return states, ids


BRUNEL_REGIMES = ("sr", "ai", "si")
"""The regimes of the shipped Brunel (2000) spike set: synchronous regular,
asynchronous irregular, slow synchronous irregular."""


class SpikeRecording(NamedTuple):
    """The spikes of recorded units in a time window, ready for :func:`bin_spikes`.

    Attributes:
        spike_times: ``(S,)`` spike times in ms, sorted.
        unit_ids: ``(S,)`` the unit of each spike, in [0, n).
        start: the window's start (ms).
        stop: the window's end (ms).
        num_units: n.
        excitatory: ``(n,)`` whether each unit is an excitatory neuron.
        provenance: how the data were made: the regime's parameters and network
            statistics, and the generating command, versions, seed and date.
    """

    spike_times: Float[np.ndarray, " S"]
    unit_ids: Integer[np.ndarray, " S"]
    start: float
    stop: float
    num_units: int
    excitatory: Bool[np.ndarray, " n"]
    provenance: dict[str, Any]


def load_brunel(regime: str) -> SpikeRecording:
    """The shipped Brunel (2000) spike set: 50 units of a 1000-neuron LIF network.

    Model A of Brunel (2000) at 1000 neurons, simulated with Brian2 in three regimes
    (``"sr"``: synchronous regular, g = 3, nu_ext / nu_thr = 2; ``"ai"``:
    asynchronous irregular, g = 5, 2; ``"si"``: slow synchronous irregular, g = 4.5,
    0.9) for 60 s; 50 randomly chosen neurons (the same in every regime) are the
    recorded units. Spike times lie on a 1 ms grid, at the centres of the grid's
    bins (k + 0.5 ms): binning at a multiple of 1 ms from ``start`` is exact. No
    unit spikes twice in a grid bin (the refractory period is 2 ms).
    :mod:`fluxjax.experiments.brunel_simulation` made the data; ``provenance`` says
    how (``fluxjax/recordings/brunel2000.json``).

    Args:
        regime: one of :data:`BRUNEL_REGIMES`.

    Returns:
        A :class:`SpikeRecording` (times in ms).

    Raises:
        ValueError: an unknown regime.
        TypeError: a regime that is not a string.

    Examples:
        >>> recording = load_brunel("ai")
        >>> states = bin_spikes(
        ...     recording.spike_times, recording.unit_ids, bin_width=5.0,
        ...     start=recording.start, stop=recording.stop,
        ...     num_units=recording.num_units,
        ... )
        >>> states.shape
        (12000, 50)
    """
    if not isinstance(regime, str):
        raise TypeError(f"regime must be a string, one of {BRUNEL_REGIMES}")
    if regime not in BRUNEL_REGIMES:
        raise ValueError(f"regime must be one of {BRUNEL_REGIMES}, got {regime!r}")
    folder = importlib.resources.files("fluxjax") / "recordings"
    provenance = json.loads((folder / "brunel2000.json").read_text())
    entry = provenance["regimes"][regime]
    with (folder / entry["file"]).open("rb") as file, np.load(file) as stored:
        num_bins = int(stored["num_bins"])
        raster = np.unpackbits(stored["raster"], axis=0, count=num_bins).astype(bool)
        excitatory = stored["excitatory"].astype(bool)
    resolution = float(provenance["config"]["resolution_ms"])
    bins, units = np.nonzero(raster)  # row-major: sorted by time
    return SpikeRecording(
        spike_times=(bins + 0.5) * resolution,
        unit_ids=units.astype(np.int64),
        start=0.0,
        stop=num_bins * resolution,
        num_units=raster.shape[1],
        excitatory=excitatory,
        provenance={
            **{k: v for k, v in provenance.items() if k != "regimes"},
            "regime": regime,
            **entry,
        },
    )
