"""The Brunel (2000) balanced network of LIF neurons in Brian2: a spike source we did not write.

Model A of Brunel (2000): N_E excitatory and N_I = N_E / 4 inhibitory leaky
integrate-and-fire neurons,

    tau dV/dt = -V,   V > theta: spike, V -> V_r, refractory for tau_rp,

with delta synapses: a spike of an excitatory neuron adds J to each target's V after
the delay D, an inhibitory one -g J. Every neuron receives exactly C_E = eps N_E
excitatory and C_I = eps N_I inhibitory connections (a fixed in-degree, as in the
paper; Brian2's own example draws each synapse with probability eps instead, which at
N = 1000 leaves a quarter of the neurons silent) and C_E external Poisson inputs of
rate nu_ext = (nu_ext / nu_thr) nu_thr, nu_thr = theta / (J C_E tau), each adding J.

Parameters are those of Brunel's Fig. 8 (tau = 20 ms, theta = 20 mV, V_r = 10 mV,
tau_rp = 2 ms, D = 1.5 ms, eps = 0.1; Brian2's ``examples/frompapers/Brunel_2000.py``)
at 1000 instead of 12,500 neurons. The network is scaled so that the mean recurrent
input is Brunel's: J C_E = 100 mV as with J = 0.1 mV and C_E = 1000, so J = 1.25 mV
at C_E = 80, and nu_thr = 10 Hz as in the paper. The input fluctuations are larger
than Brunel's (they scale as J sqrt(C_E)), and the statistics that name each regime
(:func:`regime_statistics`) are measured and stored with the data rather than
assumed.

The regimes of Fig. 8 (:data:`REGIMES`): synchronous regular (A: g = 3,
nu_ext / nu_thr = 2), asynchronous irregular (C: g = 5, 2) and slow synchronous
irregular (D: g = 4.5, 0.9).

:func:`write_dataset` simulates each regime, keeps a random subset of the neurons as
the "recorded units" on a 1 ms grid, and writes the data set that
:func:`fluxjax.data.load_brunel` reads, with its provenance::

    pip install 'fluxjax[brian2]'
    python -m fluxjax.experiments.brunel_simulation --out fluxjax/recordings

Brian2 is needed only here; the shipped data set is read without it.

References:
    N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory
    spiking neurons", J. Comput. Neurosci. 8, 183-208 (2000).
    D. Golomb, "Neuronal synchrony measures", Scholarpedia 2(1), 1347 (2007).
    M. Stimberg, R. Brette, D. F. M. Goodman, "Brian 2, an intuitive and efficient
    neural simulator", eLife 8, e47314 (2019).
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.signal

from ._common import git_commit


class Regime(NamedTuple):
    """One point of Brunel's phase diagram.

    Attributes:
        g: the relative strength of inhibition.
        nu_ratio: nu_ext / nu_thr, the external rate in units of the threshold rate.
        description: the regime's name and Brunel's figure panel.
    """

    g: float
    nu_ratio: float
    description: str


REGIMES = {
    "sr": Regime(3.0, 2.0, "synchronous regular (Brunel 2000, Fig. 8A)"),
    "ai": Regime(5.0, 2.0, "asynchronous irregular (Brunel 2000, Fig. 8C)"),
    "si": Regime(4.5, 0.9, "slow synchronous irregular (Brunel 2000, Fig. 8D)"),
}
"""The simulated regimes, by name."""


@dataclasses.dataclass(frozen=True)
class BrunelConfig:
    """Sizes and constants of the simulated network and of the recording.

    Attributes:
        num_excitatory: N_E (N_I = N_E / 4).
        connection_probability: eps: in-degrees C_E = eps N_E, C_I = eps N_I.
        weight_mv: J in mV (J C_E = 100 mV, Brunel's mean input scale).
        membrane_ms: tau.
        threshold_mv: theta.
        reset_mv: V_r.
        refractory_ms: tau_rp.
        delay_ms: D.
        dt_ms: the integration step.
        warmup_s: simulated before the recording starts (discarded).
        duration_s: the recording's length.
        recorded_units: how many neurons are recorded (drawn at random among all).
        resolution_ms: the grid of the recorded spike times (one spike per unit
            and grid bin at most, as tau_rp > resolution_ms).
        target: Brian2's code generation target ("cython" or "numpy").
    """

    num_excitatory: int = 800
    connection_probability: float = 0.1
    weight_mv: float = 1.25
    membrane_ms: float = 20.0
    threshold_mv: float = 20.0
    reset_mv: float = 10.0
    refractory_ms: float = 2.0
    delay_ms: float = 1.5
    dt_ms: float = 0.1
    warmup_s: float = 1.0
    duration_s: float = 60.0
    recorded_units: int = 50
    resolution_ms: float = 1.0
    target: str = "cython"

    @property
    def num_inhibitory(self) -> int:
        """N_I = N_E / 4."""
        return self.num_excitatory // 4

    @property
    def num_neurons(self) -> int:
        """N = N_E + N_I."""
        return self.num_excitatory + self.num_inhibitory

    @property
    def in_degrees(self) -> tuple[int, int]:
        """(C_E, C_I)."""
        eps = self.connection_probability
        return round(eps * self.num_excitatory), round(eps * self.num_inhibitory)

    @property
    def threshold_rate_hz(self) -> float:
        """nu_thr = theta / (J C_E tau), the external rate that alone reaches theta."""
        return self.threshold_mv / (
            self.weight_mv * self.in_degrees[0] * self.membrane_ms * 1e-3
        )


class NetworkSpikes(NamedTuple):
    """Every spike of the simulated network during the recording window.

    Attributes:
        times_ms: ``(S,)`` spike times in ms from the recording's start, sorted.
        neurons: ``(S,)`` the neuron of each spike (0 ... N_E - 1 excitatory).
        num_neurons: N.
        duration_ms: the window's length.
    """

    times_ms: np.ndarray
    neurons: np.ndarray
    num_neurons: int
    duration_ms: float


def import_brian2():
    """Brian2, or an ImportError saying how to install a version that works."""
    try:
        import brian2
    except (ImportError, AttributeError) as error:  # 2.9.0 fails on numpy >= 2.4
        raise ImportError(
            "the Brunel simulation needs Brian2: pip install 'fluxjax[brian2]' "
            f"(Brian2 2.9.0 needs numpy < 2.4); importing it failed: {error}"
        ) from None
    return brian2


def connectivity(config: BrunelConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The synapses ``(pre, post)``: C_E excitatory and C_I inhibitory inputs each.

    Presynaptic neurons are drawn without replacement per postsynaptic neuron (no
    neuron is its own input); ``pre`` indexes the whole network (inhibitory neurons
    are N_E ... N - 1).
    """
    rng = np.random.default_rng([seed, 0])
    c_e, c_i = config.in_degrees
    n_e, n = config.num_excitatory, config.num_neurons
    pre = []
    for post in range(n):
        others = np.delete(np.arange(n), post)  # no autapse
        pre.append(rng.choice(others[others < n_e], c_e, replace=False))
        pre.append(rng.choice(others[others >= n_e], c_i, replace=False))
    pre = np.concatenate(pre)
    post = np.repeat(np.arange(n), c_e + c_i)
    return pre, post


def simulate_brunel(
    regime: str, *, seed: int, config: BrunelConfig = BrunelConfig()
) -> NetworkSpikes:
    """Simulates one regime with Brian2; the spikes of all neurons after the warm-up.

    Args:
        regime: a key of :data:`REGIMES`.
        seed: seeds the connectivity (numpy), the initial potentials and the
            external Poisson input (``brian2.seed``): the same seed gives the same
            network in every regime.
        config: sizes and constants.

    Returns:
        :class:`NetworkSpikes`.

    Raises:
        ValueError: an unknown regime.
        ImportError: Brian2 is missing or cannot be imported.
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {sorted(REGIMES)}, got {regime!r}")
    b2 = import_brian2()
    g, nu_ratio, _ = REGIMES[regime]
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    b2.start_scope()
    b2.prefs.codegen.target = config.target
    b2.seed(seed)
    b2.defaultclock.dt = config.dt_ms * ms
    n_e, n = config.num_excitatory, config.num_neurons
    namespace = dict(
        tau=config.membrane_ms * ms,
        theta=config.threshold_mv * mV,
        V_r=config.reset_mv * mV,
        J=config.weight_mv * mV,
        g=g,
    )
    neurons = b2.NeuronGroup(
        n,
        "dv/dt = -v / tau : volt (unless refractory)",
        threshold="v > theta",
        reset="v = V_r",
        refractory=config.refractory_ms * ms,
        method="exact",
        namespace=namespace,
    )
    neurons.v = "theta * rand()"
    pre, post = connectivity(config, seed)
    excitatory = pre < n_e
    synapses = []
    for mask, source, offset, effect in (
        (excitatory, neurons[:n_e], 0, "v += J"),
        (~excitatory, neurons[n_e:], n_e, "v += -g * J"),
    ):
        synapse = b2.Synapses(
            source,
            neurons,
            on_pre=effect,
            delay=config.delay_ms * ms,
            namespace=namespace,
        )
        synapse.connect(i=pre[mask] - offset, j=post[mask])
        synapses.append(synapse)
    external = b2.PoissonInput(
        neurons,
        "v",
        N=config.in_degrees[0],
        rate=nu_ratio * config.threshold_rate_hz * Hz,
        weight=config.weight_mv * mV,
    )
    monitor = b2.SpikeMonitor(neurons)
    network = b2.Network(neurons, *synapses, external, monitor)
    network.run(
        (config.warmup_s + config.duration_s) * b2.second,
        report="text",
        report_period=10 * b2.second,
    )
    times = np.asarray(monitor.t / ms) - 1e3 * config.warmup_s
    ids = np.asarray(monitor.i)
    keep = times >= 0
    order = np.argsort(times[keep], kind="stable")
    return NetworkSpikes(
        times[keep][order], ids[keep][order], n, 1e3 * config.duration_s
    )


def regime_statistics(spikes: NetworkSpikes) -> dict[str, float]:
    """What names a regime, from all neurons' spikes (Brunel 2000, Sec. 5).

    Returns:
        ``rate_hz``: the mean rate; ``cv_isi``: the mean over neurons (with >= 3
        spikes) of the coefficient of variation of their interspike intervals (0:
        regular, 1: Poisson); ``synchrony``: Golomb's chi, sqrt(Var_t(mean_i s_i) /
        mean_i Var_t(s_i)) of the spike counts s_i in 5 ms bins (about 1 / sqrt(N)
        for independent neurons, 1 for identical ones); ``peak_hz``: the frequency
        of the population rate's largest spectral peak above 1 Hz (Welch, 1 ms
        bins, 1 s segments): the global oscillation; ``silent``: neurons without
        a spike.
    """
    times, neurons, n, duration = spikes
    counts = np.bincount(neurons, minlength=n)
    cvs = []
    for i in range(n):
        intervals = np.diff(times[neurons == i])
        if intervals.size >= 2:
            cvs.append(intervals.std() / intervals.mean())
    coarse = np.zeros((int(duration // 5), n))
    index = (times // 5).astype(int)
    inside = index < coarse.shape[0]
    np.add.at(coarse, (index[inside], neurons[inside]), 1.0)
    chi = np.sqrt(coarse.mean(1).var() / coarse.var(0).mean())
    population = np.bincount(
        np.floor(times).astype(int), minlength=int(duration)
    ).astype(float)
    frequencies, power = scipy.signal.welch(population, fs=1000.0, nperseg=1000)
    above = frequencies > 1.0
    return dict(
        rate_hz=float(counts.sum() / n / (duration * 1e-3)),
        cv_isi=float(np.mean(cvs)) if cvs else float("nan"),
        synchrony=float(chi),
        peak_hz=float(frequencies[above][np.argmax(power[above])]),
        silent=int(np.sum(counts == 0)),
    )


def record(
    spikes: NetworkSpikes, units: np.ndarray, resolution_ms: float
) -> np.ndarray:
    """The recorded units' spikes on a grid: ``(T, len(units))`` bool.

    Bin t is [t r, (t + 1) r), r = ``resolution_ms``, T = duration / r. Raises
    ValueError if a unit spikes twice in one bin (the grid would lose a spike).
    """
    num_bins = int(round(spikes.duration_ms / resolution_ms))
    column = np.full(spikes.num_neurons, -1)
    column[units] = np.arange(len(units))
    chosen = column[spikes.neurons] >= 0
    rows = np.floor(spikes.times_ms[chosen] / resolution_ms).astype(int)
    cols = column[spikes.neurons[chosen]]
    keep = rows < num_bins
    raster = np.zeros((num_bins, len(units)), bool)
    raster[rows[keep], cols[keep]] = True
    if raster.sum() != keep.sum():
        raise ValueError(
            f"a unit spiked twice within {resolution_ms} ms: use a finer resolution"
        )
    return raster


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_dataset(
    out_dir: Path,
    *,
    seed: int,
    config: BrunelConfig = BrunelConfig(),
    regimes: tuple[str, ...] = tuple(REGIMES),
    command: str = "",
) -> dict:
    """Simulates each regime and writes ``brunel2000_<regime>.npz`` and the provenance.

    Each file holds ``raster``: the recorded units' spikes on the ``resolution_ms``
    grid (:func:`record`), bit-packed along time (``np.packbits(raster, axis=0)``);
    ``num_bins``; ``units``: the recorded neurons' indices in the network (the same
    in every regime); ``excitatory``: whether each is excitatory. ``brunel2000.json``
    records the command, versions, date, configuration, seed, and per regime the
    parameters, the network's :func:`regime_statistics`, the recorded units' spike
    counts (from Brian2's own spike times) and the file's SHA-256.

    Returns:
        The provenance written to ``brunel2000.json``.
    """
    b2 = import_brian2()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 1])
    units = np.sort(
        rng.choice(config.num_neurons, config.recorded_units, replace=False)
    )
    provenance = dict(
        description=(
            "Brunel (2000) model A, scaled to 1000 neurons, simulated with Brian2; "
            f"{config.recorded_units} randomly chosen neurons recorded on a "
            f"{config.resolution_ms:g} ms grid"
        ),
        command=command,
        fluxjax_commit=git_commit(),
        date=datetime.date.today().isoformat(),
        brian2=b2.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
        platform=platform.platform(),
        seed=seed,
        config=dataclasses.asdict(config),
        in_degrees=list(config.in_degrees),
        threshold_rate_hz=config.threshold_rate_hz,
        units=units.tolist(),
        regimes={},
    )
    for name in regimes:
        print(f"simulating {name}: {REGIMES[name].description}", flush=True)
        spikes = simulate_brunel(name, seed=seed, config=config)
        raster = record(spikes, units, config.resolution_ms)
        path = out_dir / f"brunel2000_{name}.npz"
        np.savez_compressed(
            path,
            raster=np.packbits(raster, axis=0),
            num_bins=np.asarray(raster.shape[0]),
            units=units,
            excitatory=units < config.num_excitatory,
        )
        counts = np.bincount(spikes.neurons, minlength=spikes.num_neurons)[units]
        regime = REGIMES[name]
        provenance["regimes"][name] = dict(
            file=path.name,
            sha256=_sha256(path),
            g=regime.g,
            nu_ratio=regime.nu_ratio,
            description=regime.description,
            statistics=regime_statistics(spikes),
            spike_counts=counts.tolist(),
            num_bins=int(raster.shape[0]),
        )
        print(f"  {provenance['regimes'][name]['statistics']}", flush=True)
    (out_dir / "brunel2000.json").write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


def main(argv: list[str] | None = None) -> int:
    """``python -m fluxjax.experiments.brunel_simulation --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m fluxjax.experiments.brunel_simulation",
        description="Simulate the Brunel (2000) network with Brian2 and write the "
        "recorded spike set that fluxjax.data.load_brunel reads.",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=BrunelConfig.duration_s)
    parser.add_argument("--units", type=int, default=BrunelConfig.recorded_units)
    parser.add_argument("--regimes", nargs="+", choices=sorted(REGIMES))
    parser.add_argument("--target", choices=("cython", "numpy"), default="cython")
    args = parser.parse_args(argv)
    config = BrunelConfig(
        duration_s=args.duration, recorded_units=args.units, target=args.target
    )
    command = "python -m fluxjax.experiments.brunel_simulation " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    write_dataset(
        args.out,
        seed=args.seed,
        config=config,
        regimes=tuple(args.regimes or REGIMES),
        command=command,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
