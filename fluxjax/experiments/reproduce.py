"""Runs the whole study: compute (cached, resumable), judge, render.

1. **Compute**: each part's typed result is written to ``DIR/parts/<part>.json`` as
   soon as it finishes, with the configuration it ran under; a re-run with the same
   configuration loads finished parts instead of recomputing them, so an interrupted
   full run resumes where it stopped. A part file whose content does not have the
   part's layout is reported by name and recomputed.
2. **Judge**: :func:`fluxjax.experiments.claims.judge` decides each claim.
3. **Render**: :mod:`fluxjax.experiments.report` writes ``report.md`` and the figures;
   ``results.json`` holds the headline table, the claims, every part and the metadata.
"""

import dataclasses
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm import tqdm

import fluxjax as fj

from . import (
    bars,
    controls,
    embedding,
    fluctuations,
    lesions,
    optimization,
    report,
    reservoir,
    resonance,
)
from ._common import StudyConfig
from ._results import from_json, to_json
from .claims import Study, judge


class Part(NamedTuple):
    """One part of the study: how to compute it and the type of its result."""

    run: Callable[[StudyConfig, dict], Any]
    kind: type


PARTS: dict[str, Part] = {
    "resonance": Part(lambda c, done: resonance.run(c), resonance.ResonanceResult),
    "embedding": Part(lambda c, done: embedding.run(c), embedding.EmbeddingResult),
    "bars": Part(lambda c, done: bars.run(c, done["embedding"]), bars.BarsResult),
    "fluctuations": Part(
        lambda c, done: fluctuations.run(c), fluctuations.FluctuationsResult
    ),
    "lesions": Part(lambda c, done: lesions.run(c), lesions.LesionsResult),
    "controls": Part(lambda c, done: controls.run(c), controls.ControlsResult),
    "optimization": Part(
        lambda c, done: optimization.run(c), optimization.OptimizationResult
    ),
    "reservoir": Part(lambda c, done: reservoir.run(c), reservoir.ReservoirResult),
}

OPTIMIZATION_ONLY = (
    "gradient_steps",
    "soft_samples",
    "hill_iterations",
    "self_organization_steps",
    "optimization_seeds",
)
"""Settings that only the optimisation part reads: changing them keeps the others."""
PART_ONLY = {
    "optimization": OPTIMIZATION_ONLY,
    "fluctuations": ("fluctuation_scales",),
    "reservoir": ("reservoir",),
}
"""The settings that only one part reads, by part: changing them keeps the others."""


def _config_dict(config: StudyConfig, part: str | None = None) -> dict:
    """The settings (those a finished ``part`` must match to be reused)."""
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    if part is not None:
        for owner, names in PART_ONLY.items():
            if owner != part:
                for name in names:
                    settings.pop(name)
    return settings


def _write_json(path: Path, value) -> None:
    """Writes atomically, so an interrupted run never leaves a half-written part."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(to_json(value), indent=1))
    os.replace(temporary, path)


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _load_part(path: Path, part: Part, wanted: dict, bar) -> tuple[Any, float] | None:
    """A finished part's (result, seconds) if ``path`` holds one for ``wanted``."""
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
        settings = stored.get("config", {})
        if {k: settings.get(k) for k in wanted} != wanted:
            return None
        return from_json(part.kind, stored["result"]), float(stored["seconds"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        bar.write(f"{path}: not a readable part ({error}); computing it again")
        return None


def run_parts(
    config: StudyConfig, out_dir: Path, *, progress: bool = True
) -> tuple[Study, dict[str, float]]:
    """Runs (or loads) every part; returns the typed study and each part's seconds."""
    parts_dir = out_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    done, seconds = {}, {}
    bar = tqdm(PARTS.items(), disable=not progress, desc="fluxjax reproduce")
    for name, part in bar:
        bar.set_postfix_str(name)
        path = parts_dir / f"{name}.json"
        wanted = _config_dict(config, name)
        loaded = _load_part(path, part, wanted, bar)
        if loaded is not None:
            done[name], seconds[name] = loaded
            bar.write(f"{name}: loaded from {path} ({seconds[name]:.0f} s)")
            continue
        start = time.perf_counter()
        done[name] = part.run(config, done)
        seconds[name] = time.perf_counter() - start
        _write_json(
            path, {"config": wanted, "seconds": seconds[name], "result": done[name]}
        )
        bar.write(f"{name}: {seconds[name]:.0f} s")
        # Each part compiles its own programs; every XLA CPU executable holds memory
        # maps, and a long run would approach the kernel's limit (vm.max_map_count).
        jax.clear_caches()
    return Study(**done), seconds


def reproduce(
    config: StudyConfig, out_dir: str | os.PathLike, *, progress=True
) -> dict:
    """Runs the study, writes results.json, report.md and the figures into ``out_dir``.

    Returns:
        The content of ``results.json`` (plain JSON types).
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    study, seconds = run_parts(config, out_dir, progress=progress)
    claims = judge(study)
    table = report.headline(study)
    meta = {
        "config": _config_dict(config),
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - start,
        "fluxjax": fj.__version__,
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "dtype": str(np.asarray(fj.BinaryNetwork([[0.0]], [0.0]).weights).dtype),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "units": "bits",
    }
    report.write_figures(study, out_dir)
    found = study.fluctuations
    results = to_json(
        {
            **table,
            "fluctuations": {**found.conditions, "scale_sweep": found.scale_sweep},
            "reservoir": study.reservoir,
            "claims": claims,
            "parts": study._asdict(),
            "meta": meta,
        }
    )
    _write_json(out_dir / "results.json", results)
    (out_dir / "report.md").write_text(report.render(study, claims, table, meta))
    return results
