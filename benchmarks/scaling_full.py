"""The scaling study at its full sizes, alone: ``scaling.run(StudyConfig())``.

Every finished network is stored at once in ``OUT/units/`` (a
:class:`fluxjax.experiments.reproduce.UnitStore`), so a killed run resumes after its
last finished network. Writes ``OUT/full_scaling.json`` (the result, the settings,
the code's provenance, the total and per-network seconds), ``OUT/summary.md`` (the
report's section) and ``OUT/fig_scaling_full.png``.

Run:
    python benchmarks/scaling_full.py [--out reproduction/scaling_full]
"""

import argparse
import dataclasses
import json
import time
import types
from pathlib import Path

from tqdm import tqdm

from fluxjax.experiments import report, scaling
from fluxjax.experiments._common import StudyConfig
from fluxjax.experiments.reproduce import UnitStore, provenance
from fluxjax.io import to_json


class TimedStore(UnitStore):
    """A UnitStore that also records how long each unit took to compute or load."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seconds: dict[str, float] = {}

    def __call__(self, name, kind, compute):
        start = time.perf_counter()
        value = super().__call__(name, kind, compute)
        self.seconds[name] = time.perf_counter() - start
        return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reproduction/scaling_full"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    config = StudyConfig()
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    store = TimedStore(out / "units", settings, tqdm)
    code = provenance()
    start = time.perf_counter()
    result = scaling.run(config, store)
    seconds = time.perf_counter() - start
    (out / "full_scaling.json").write_text(
        json.dumps(
            {
                "seconds": seconds,
                "unit_seconds": store.seconds,
                "provenance": code,
                "config": settings,
                "result": to_json(result),
            },
            indent=1,
        )
    )
    section = report._scaling(types.SimpleNamespace(scaling=result))
    section = section.replace("fig_scaling.png", "fig_scaling_full.png")
    (out / "summary.md").write_text(
        "# The scaling study, full sizes\n\n"
        f"`python benchmarks/scaling_full.py`: `scaling.run(StudyConfig())`, "
        f"{seconds:.0f} s ({seconds / 60:.1f} min) on this machine (units loaded "
        "from an earlier run of the same code count their loading time only); "
        f"fluxjax {code['fluxjax']}, source {code['source_sha256'][:12]}, "
        f"JAX {code['jax']}.\n\n" + section
    )
    scaling.plot(result).savefig(out / "fig_scaling_full.png", dpi=120)
    print(f"{seconds:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
