"""The scaling study at its full sizes, alone: ``scaling.run(StudyConfig())``.

Every finished network is stored at once in ``OUT/units/`` (a
:class:`fluxjax.experiments.reproduce.UnitStore`), so a killed run resumes after its
last finished network. Writes ``OUT/full_scaling.json`` (the result, the settings,
the code's provenance, the total and per-network seconds), ``OUT/summary.md`` (the
report's section) and ``OUT/fig_scaling_full.png``. ``--sizes``, ``--seeds``,
``--gradient-steps`` and ``--no-paper-network`` reduce the run (the other settings
stay the full run's).

Run:
    python benchmarks/scaling_full.py [--out reproduction/scaling_full]
        [--sizes 10 100 300] [--seeds 2] [--gradient-steps 20] [--no-paper-network]
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from fluxjax.experiments import report, scaling
from fluxjax.experiments._common import ScalingConfig, StudyConfig
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
    parser.add_argument("--sizes", type=int, nargs="+", help="network sizes N")
    parser.add_argument("--seeds", type=int, help="seeds per class and size")
    parser.add_argument("--gradient-steps", type=int, help="Adam steps of gradient")
    parser.add_argument("--no-paper-network", action="store_true")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    changes = dict(
        sizes=None if args.sizes is None else tuple(args.sizes),
        num_seeds=args.seeds,
        gradient_steps=args.gradient_steps,
        paper_network=False if args.no_paper_network else None,
    )
    scaling_config = dataclasses.replace(
        ScalingConfig(), **{k: v for k, v in changes.items() if v is not None}
    )
    config = StudyConfig(scaling=scaling_config)
    command = " ".join(["python benchmarks/scaling_full.py", *sys.argv[1:]])
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
    section = report.scaling_section(result)
    section = section.replace("fig_scaling.png", "fig_scaling_full.png")
    (out / "summary.md").write_text(
        "# The scaling study, full sizes\n\n"
        f"`{command}`: `scaling.run(StudyConfig(scaling={scaling_config}))`, "
        f"{seconds:.0f} s ({seconds / 60:.1f} min) on this machine (units loaded "
        "from an earlier run of the same code count their loading time only); "
        f"fluxjax {code['fluxjax']}, source {code['source_sha256'][:12]}, "
        f"JAX {code['jax']}.\n\n" + section
    )
    scaling.plot(result).savefig(out / "fig_scaling_full.png", dpi=120)
    print(f"{seconds:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
