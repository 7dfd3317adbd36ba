"""Which pathways of the embedding carry the effect: lesions and inhibition strength.

Each lesion sets every weight of one pathway to zero in the embedded network (the six
single cuts and the double cut core -> interneurons + core -> periphery); the sweep
varies the inhibitory weight w_inh from -2 t0 to 0 (Metzner et al. 2026, Fig. 7).
"""

from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

import fluxjax as fj

from ._common import StudyConfig, flux_indicator, indicator_summary
from ._results import IndicatorSummary


LESIONS = {
    "core->interneurons": [("core", "interneurons")],
    "interneurons->core": [("interneurons", "core")],
    "periphery->interneurons": [("periphery", "interneurons")],
    "interneurons->periphery": [("interneurons", "periphery")],
    "core->periphery": [("core", "periphery")],
    "periphery->core": [("periphery", "core")],
    "core->interneurons + core->periphery": [
        ("core", "interneurons"),
        ("core", "periphery"),
    ],
}


def _core_temperature(net: fj.BinaryNetwork, groups) -> float:
    temperature = np.broadcast_to(np.asarray(net.temperature), (net.num_neurons,))
    return float(temperature[groups["core"][0]])


class LesionsResult(NamedTuple):
    """The embedded core's indicator under each lesion and along the w_inh sweep."""

    lesions: dict[str, IndicatorSummary]
    relative_to_intact: dict[str, float]
    inhibitory_scales: list[float]
    inhibitory_sweep: list[IndicatorSummary]


def run(config: StudyConfig) -> LesionsResult:
    """Flux indicator of the embedded core: intact, each lesion, and vs w_inh."""
    networks = config.networks()
    conditions = {"intact": [net for net, _ in networks]}
    for name, cuts in LESIONS.items():
        conditions[name] = [fj.lesion(net, groups, cuts) for net, groups in networks]
    scales = list(config.inhibitory_scales)
    for scale in scales:
        conditions[f"w_inh={scale}"] = [
            config.networks(
                [seed], inhibitory_weight=scale * _core_temperature(net, groups)
            )[0][0]
            for seed, (net, groups) in zip(config.seeds, networks, strict=True)
        ]
    nets = sum(conditions.values(), [])
    intra, inter = flux_indicator(nets, config.key("lesions"), config)
    shape = (len(conditions), len(networks))
    intra, inter = intra.reshape(shape), inter.reshape(shape)
    results = {
        name: indicator_summary(intra[k], inter[k]) for k, name in enumerate(conditions)
    }
    intact = (intra[0] + inter[0]).mean()
    return LesionsResult(
        lesions={name: results[name] for name in ["intact", *LESIONS]},
        relative_to_intact={
            name: float((intra[k] + inter[k]).mean() / intact)
            for k, name in enumerate(conditions)
            if not name.startswith("w_inh")
        },
        inhibitory_scales=scales,
        inhibitory_sweep=[results[f"w_inh={s}"] for s in scales],
    )


def plot(result: LesionsResult) -> Figure:
    """Lesion bars and the inhibitory-weight sweep (intra + inter, mean ± sd)."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]}
    )
    names = list(result.lesions)
    total = np.array([1e3 * result.lesions[n].total for n in names])
    sd = np.array(
        [
            1e3 * np.hypot(result.lesions[n].intra.sd, result.lesions[n].inter.sd)
            for n in names
        ]
    )
    left.barh(
        range(len(names)), total, xerr=sd, color=["k"] + ["C3"] * (len(names) - 1)
    )
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.invert_yaxis()
    left.set(
        xlabel="flux indicator (10$^{-3}$ bit)", title="lesions of the embedded network"
    )
    scales = np.asarray(result.inhibitory_scales)
    for part, color in (("intra", "C0"), ("inter", "C1")):
        mean = 1e3 * np.array([getattr(e, part).mean for e in result.inhibitory_sweep])
        err = 1e3 * np.array([getattr(e, part).sd for e in result.inhibitory_sweep])
        right.errorbar(scales, mean, err, marker="o", ms=3, color=color, label=part)
    right.set(
        xlabel="w_inh / t0",
        ylabel="flux indicator (10$^{-3}$ bit)",
        title="inhibitory weight",
    )
    right.legend()
    fig.tight_layout()
    return fig
