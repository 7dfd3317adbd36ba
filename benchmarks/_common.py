"""What every benchmark table prints: the machine, the versions and a markdown table."""

import importlib.metadata
import os
import platform
import subprocess

import jax
import numpy as np

import fluxjax as fj


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_version() -> str:
    """The fluxjax version and git commit it was imported from (read-only git)."""
    where = os.path.dirname(fj.__file__)

    def git(*args):
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", where, *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return f"fluxjax {fj.__version__} from {where} (not a git checkout)"
    return f"fluxjax {fj.__version__} from {where}, git {commit}" + (
        " + uncommitted changes" if dirty else ""
    )


def load_average() -> float:
    """The 1-minute load average (other jobs on the machine distort CPU timings)."""
    return os.getloadavg()[0]


def header(title: str, *, dtype: str, threads: int, extra=()) -> str:
    """Device, versions, dtype and threads, one fact per line."""
    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    thread_text = (
        "1 (XLA intra-op and BLAS single-threaded)"
        if threads == 1
        else "library defaults"
        if threads == 0
        else f"{threads} BLAS threads"
    )
    lines = [
        f"# {title}",
        f"device: {len(devices)} x {jax.default_backend()} {', '.join(kinds)}; "
        f"{os.cpu_count()} CPUs ({cpu_model()})",
        f"jax {jax.__version__}, jaxlib {importlib.metadata.version('jaxlib')}, "
        f"numpy {np.__version__}, {source_version()}",
        f"dtype: {dtype}; threads: {thread_text}; "
        f"load average (1 min) {load_average():.2f}",
        *extra,
    ]
    return "\n".join(lines)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of ``rows`` (dicts) with the given column order."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---:|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)
