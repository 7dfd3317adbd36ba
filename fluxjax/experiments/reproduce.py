"""Runs the whole study: compute (cached, resumable), judge, render.

1. **Compute**: each part's typed result is written to ``DIR/parts/<part>.json`` as
   soon as it finishes, with the configuration it ran under and the code that
   computed it (:func:`provenance`: fluxjax's version and source hash, JAX's
   version); a re-run with the same configuration and code loads finished parts
   instead of recomputing them, so an interrupted full run resumes where it stopped.
   A part computed by other code is recomputed (or, with ``reuse_stale``, loaded and
   marked stale in the report); a part file whose content does not have the part's
   layout is reported by name and recomputed. A lock file ``DIR/.lock`` keeps two
   runs from writing into one directory. Long parts also store each finished unit
   of work (one seed) in ``DIR/parts/<part>/`` (:class:`UnitStore`), so a run that
   is killed in the middle of a part loses at most the unit in flight.
2. **Judge**: :func:`fluxjax.experiments.claims.judge` decides each claim.
3. **Render**: :mod:`fluxjax.experiments.report` writes ``report.md`` and the figures;
   ``results.json`` holds the headline table, the claims, every part and the metadata.
"""

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm import tqdm

import fluxjax as fj

from ..io import from_json, to_json
from . import (
    bars,
    brunel,
    controls,
    embedding,
    fluctuations,
    lesions,
    optimization,
    report,
    reservoir,
    resonance,
    scaling,
)
from ._common import Checkpoints, StudyConfig, git_commit
from .claims import Study, judge


class Part(NamedTuple):
    """One part of the study: how to compute it and the type of its result.

    ``run(config, done, checkpoints)`` gets the finished parts and the store of
    its finished units of work (parts that checkpoint pass it on).
    """

    run: Callable[[StudyConfig, dict, Checkpoints], Any]
    kind: type


PARTS: dict[str, Part] = {
    "resonance": Part(lambda c, done, _: resonance.run(c), resonance.ResonanceResult),
    "embedding": Part(lambda c, done, _: embedding.run(c), embedding.EmbeddingResult),
    "bars": Part(lambda c, done, _: bars.run(c, done["embedding"]), bars.BarsResult),
    "fluctuations": Part(
        lambda c, done, _: fluctuations.run(c), fluctuations.FluctuationsResult
    ),
    "lesions": Part(lambda c, done, _: lesions.run(c), lesions.LesionsResult),
    "controls": Part(lambda c, done, _: controls.run(c), controls.ControlsResult),
    "optimization": Part(
        lambda c, done, units: optimization.run(c, units),
        optimization.OptimizationResult,
    ),
    "reservoir": Part(lambda c, done, _: reservoir.run(c), reservoir.ReservoirResult),
    "scaling": Part(
        lambda c, done, units: scaling.run(c, units), scaling.ScalingResult
    ),
    "brunel": Part(lambda c, done, units: brunel.run(c, units), brunel.BrunelResult),
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
    "scaling": ("scaling",),
    "brunel": ("brunel",),
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


@functools.cache
def provenance() -> dict[str, str]:
    """What computes a part: fluxjax's version, a hash of its source, JAX's version.

    The hash is SHA-256 over every ``.py`` file of the installed package (relative
    path and bytes, in sorted order), so any edit or upgrade of the code changes it.
    """
    package = Path(fj.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return {
        "fluxjax": fj.__version__,
        "source_sha256": digest.hexdigest(),
        "jax": jax.__version__,
    }


class Loaded(NamedTuple):
    """A finished part read back.

    ``stale``: other code computed it (it is reused only with ``reuse_stale``).
    """

    result: Any
    seconds: float
    stale: bool


def _load_part(
    path: Path, part: Part, wanted: dict, bar, reuse_stale: bool = False
) -> Loaded | None:
    """The finished part in ``path`` if it ran under ``wanted`` (and this code)."""
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
        settings = stored.get("config", {})
        if {k: settings.get(k) for k in wanted} != wanted:
            return None
        computed_by = stored.get("provenance")
        stale = computed_by != provenance()
        if stale and not reuse_stale:
            bar.write(
                f"{path}: computed by other code ({_describe(computed_by)}, now "
                f"{_describe(provenance())}); computing it again (--reuse-stale "
                "keeps it, marked stale)"
            )
            return None
        result = from_json(part.kind, stored["result"])
        return Loaded(result, float(stored["seconds"]), stale)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        bar.write(f"{path}: not a readable part ({error}); computing it again")
        return None


class UnitStore:
    """The finished units of work of one part, one file each in ``directory``.

    Called as ``store(name, kind, compute)`` (a :data:`Checkpoints`): the stored
    unit ``name`` if it was computed under ``settings`` by this code, else
    ``compute()``, written at once. A unit file from other settings or code, or one
    that cannot be read back as ``kind``, is computed again (a unit of other code
    is never reused, even with ``--reuse-stale``). :func:`run_parts` removes the
    directory once the whole part is written.
    """

    def __init__(self, directory: Path, settings: dict, bar):
        self.directory, self.settings, self.bar = directory, settings, bar

    def __call__(self, name: str, kind, compute: Callable[[], Any]) -> Any:
        """The unit ``name`` (a ``kind``): stored, or computed and stored."""
        path = self.directory / f"{name}.json"
        if path.exists():
            try:
                stored = json.loads(path.read_text())
                if (
                    stored.get("config") == self.settings
                    and stored.get("provenance") == provenance()
                ):
                    return from_json(kind, stored["result"])
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                self.bar.write(f"{path}: not a readable unit ({error}); computing it")
        value = compute()
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_json(
            path,
            {"config": self.settings, "provenance": provenance(), "result": value},
        )
        return value


def _describe(computed_by) -> str:
    if not isinstance(computed_by, dict):
        return "unrecorded code"
    return (
        f"fluxjax {computed_by.get('fluxjax')}, source "
        f"{str(computed_by.get('source_sha256'))[:12]}, JAX {computed_by.get('jax')}"
    )


@contextlib.contextmanager
def _locked(out_dir: Path):
    """Holds ``out_dir/.lock`` (our pid) while a run writes into ``out_dir``.

    Raises RuntimeError if a live process holds it; a lock left by a killed run
    (its pid no longer exists) is taken over.
    """
    lock = out_dir / ".lock"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None and _alive(holder):
                raise RuntimeError(
                    f"another fluxjax run (pid {holder}) is writing into {out_dir}; "
                    f"wait for it, or remove {lock} if it is gone"
                ) from None
            lock.unlink(missing_ok=True)  # left by a killed run
            continue
        with os.fdopen(descriptor, "w") as f:
            f.write(str(os.getpid()))
        break
    else:
        raise RuntimeError(f"could not take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_parts(
    config: StudyConfig,
    out_dir: Path,
    *,
    progress: bool = True,
    reuse_stale: bool = False,
) -> tuple[Study, dict[str, float], list[str]]:
    """Runs (or loads) every part.

    Returns the typed study, each part's seconds and the parts reused although other
    code computed them (only with ``reuse_stale``).
    """
    parts_dir = out_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    done, seconds, stale = {}, {}, []
    bar = tqdm(PARTS.items(), disable=not progress, desc="fluxjax reproduce")
    for name, _ in bar:
        bar.set_postfix_str(name)
        done[name], seconds[name], is_stale = _run_part(
            name, config, done, parts_dir, bar, reuse_stale
        )
        if is_stale:
            stale.append(name)
    return Study(**done), seconds, stale


def _run_part(
    name: str, config: StudyConfig, done: dict, parts_dir: Path, bar, reuse_stale
) -> tuple[Any, float, bool]:
    """The part ``name``, loaded or computed and written: (result, seconds, stale)."""
    part = PARTS[name]
    path = parts_dir / f"{name}.json"
    wanted = _config_dict(config, name)
    loaded = _load_part(path, part, wanted, bar, reuse_stale)
    if loaded is not None:
        bar.write(
            f"{name}: loaded from {path} ({loaded.seconds:.0f} s"
            + (", STALE: computed by other code)" if loaded.stale else ")")
        )
        return loaded
    start = time.perf_counter()
    units = UnitStore(parts_dir / name, wanted, bar)
    result = part.run(config, done, units)
    seconds = time.perf_counter() - start
    _write_json(
        path,
        {
            "config": wanted,
            "provenance": provenance(),
            "seconds": seconds,
            "result": result,
        },
    )
    shutil.rmtree(units.directory, ignore_errors=True)
    bar.write(f"{name}: {seconds:.0f} s")
    if _memory_maps_in_use() > MAX_MAP_FRACTION:
        jax.clear_caches()
    return Loaded(result, seconds, False)


def run_part(name: str, config: StudyConfig, out_dir: str | os.PathLike) -> Loaded:
    """One part that reads no other part, alone, into ``out_dir/parts/<name>.json``.

    Resumable and reused as in :func:`reproduce` (which, run later into the same
    directory, loads it instead of computing it again).
    """
    if name not in PARTS:
        raise ValueError(f"name must be one of {sorted(PARTS)}, got {name!r}")
    out_dir = Path(out_dir)
    parts_dir = out_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):  # tqdm.write prints (the part's own bar shows progress)
        return _run_part(name, config, {}, parts_dir, tqdm, reuse_stale=False)


MAX_MAP_FRACTION = 0.25
"""Compiled programs are dropped between parts once the process holds this fraction
of the kernel's memory-map limit: every XLA CPU executable holds memory maps, and a
long run would approach ``vm.max_map_count``. Below it, later parts reuse the programs
of earlier ones (the same simulations of the same networks)."""


def _memory_maps_in_use() -> float:
    """The fraction of ``vm.max_map_count`` this process uses (1 if unknown)."""
    try:
        limit = int(Path("/proc/sys/vm/max_map_count").read_text())
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps) / limit
    except (OSError, ValueError):
        return 1.0


def reproduce(
    config: StudyConfig,
    out_dir: str | os.PathLike,
    *,
    progress=True,
    reuse_stale: bool = False,
) -> dict:
    """Runs the study, writes results.json, report.md and the figures into ``out_dir``.

    Args:
        config: the sizes and settings.
        out_dir: the output directory (created; finished parts in it are reused).
        progress: show progress bars.
        reuse_stale: load finished parts that other code (another fluxjax version or
            source, or JAX version) computed, instead of recomputing them; the report
            and ``meta["stale_parts"]`` name them.

    Returns:
        The content of ``results.json`` (plain JSON types).

    Raises:
        RuntimeError: another live run holds ``out_dir``'s lock.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        return _reproduce(config, out_dir, progress, reuse_stale)


def _reproduce(config, out_dir: Path, progress: bool, reuse_stale: bool) -> dict:
    start = time.perf_counter()
    study, seconds, stale = run_parts(
        config, out_dir, progress=progress, reuse_stale=reuse_stale
    )
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
        "git_commit": git_commit(),
        "source_sha256": provenance()["source_sha256"],
        "stale_parts": stale,
        "units": "bits",
    }
    report.write_figures(study, out_dir)
    found = study.fluctuations
    results = to_json(
        {
            **table,
            "fluctuations": {**found.conditions, "scale_sweep": found.scale_sweep},
            "reservoir": study.reservoir,
            "scaling": study.scaling,
            "claims": claims,
            "parts": study._asdict(),
            "meta": meta,
        }
    )
    _write_json(out_dir / "results.json", results)
    (out_dir / "report.md").write_text(report.render(study, claims, table, meta))
    return results
