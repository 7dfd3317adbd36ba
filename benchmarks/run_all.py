"""Regenerates every benchmark table: one command, one file per table.

Each benchmark runs in its own process (so that thread settings and memory
measurements do not leak between them) and writes ``benchmarks/results/<name>.md``;
the tables are also printed (``optimize.py`` writes ``optimize.txt`` and
``optimize.png`` into the directory). ``--quick`` passes ``--quick`` to every script
(minutes instead of about an hour on a 2-core CPU) and writes ``*_quick`` files.

Run:
    python benchmarks/run_all.py [--quick] [--only NAME ...] [--results DIR]
"""

import argparse
import os
import subprocess
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = {
    # name: (script, extra arguments, whether --out names a directory)
    "simulate_throughput": ("simulate_throughput.py", [], False),
    "simulate_throughput_noiseless": (
        "simulate_throughput.py",
        ["--noise", "0"],
        False,
    ),
    "streaming": ("streaming.py", [], False),
    "estimators": ("estimators.py", [], False),
    "study_work": ("study_work.py", [], False),
    "structure": ("structure.py", [], False),
    "plugin_bias": ("plugin_bias.py", [], False),
    "plugin_memory": ("plugin_memory.py", [], False),
    "optimize": ("optimize.py", [], True),  # writes optimize.txt and optimize.png
}


def main():
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="subset")
    parser.add_argument(
        "--results", default=os.path.join(HERE, "results"), help="output directory"
    )
    args = parser.parse_args()
    os.makedirs(args.results, exist_ok=True)
    failed = []
    for name in args.only or BENCHMARKS:
        script, extra, out_is_directory = BENCHMARKS[name]
        suffix = "_quick" if args.quick else ""
        out = os.path.join(args.results, f"{name}{suffix}.md")
        if out_is_directory:
            out = os.path.join(args.results, "quick") if args.quick else args.results
        command = [sys.executable, os.path.join(HERE, script), *extra, "--out", out]
        if args.quick:
            command.append("--quick")
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - start:.0f} s -> {out}\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
