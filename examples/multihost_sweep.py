"""A `simulate_ensemble` sweep over several processes with `jax.distributed`.

The README's multi-host recipe as a script, runnable on one machine: ::

    python examples/multihost_sweep.py --processes 4 --split slices --out counts.npy

starts 4 processes here (the coordinator on 127.0.0.1, CPU collectives over gloo),
each with one CPU device, and writes the streamed triplet counts of every network of
the sweep, ``(networks, 3, 3, 8, 8)`` int32, in network order. ``--processes 1`` is
the one-process reference; ``tests/test_multihost.py`` checks that 2 and 4 processes
give it bit for bit, for both splits:

- ``slices``: each process simulates its own slice ``nets[i::P]`` on its local
  devices (one key per network, so the numbers do not depend on the split) and
  writes it; the launcher puts the slices together;
- ``global``: every process makes the same call over all processes' devices (the
  default ``devices=jax.devices()``); the result is a global array whose shards live
  on their processes, gathered with ``multihost_utils.process_allgather``.

On a real cluster, run the worker part (``--process-id``) once per host with the
coordinator's address instead of letting this script start the processes.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


TRIPLETS = ((0, 1, 2), (3, 4, 5), (6, 7, 8))
NUM_NETWORKS = 12
STEPS = 2_000


def _sweep():
    """The sweep: 12 random 9-neuron networks and one key per network."""
    import jax
    import jax.numpy as jnp

    import fluxjax as fj

    nets = [
        fj.random_network(9, key=jax.random.key(k), weight_scale=2.0, bias_scale=1.0)
        for k in range(NUM_NETWORKS)
    ]
    keys = jax.vmap(lambda k: jax.random.fold_in(jax.random.key(0), k))(
        jnp.arange(NUM_NETWORKS)
    )
    return nets, keys


def worker(args: argparse.Namespace) -> None:
    """One process of the sweep: ``args.process_id`` of ``args.processes``."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.processes,
        process_id=args.process_id,
        local_device_ids=[0],
    )
    from jax.experimental import multihost_utils

    import fluxjax as fj

    nets, keys = _sweep()
    options = dict(record=fj.PairCounts(TRIPLETS), burn_in=100)
    out = Path(args.out)
    if args.split == "slices":
        mine = slice(jax.process_index(), NUM_NETWORKS, jax.process_count())
        counts = fj.simulate_ensemble(
            nets[mine], keys[mine], STEPS, devices=jax.local_devices(), **options
        )
        np.save(out.with_suffix(f".part{jax.process_index()}.npy"), np.asarray(counts))
    else:
        counts = fj.simulate_ensemble(nets, keys, STEPS, **options)
        gathered = multihost_utils.process_allgather(counts, tiled=True)
        if jax.process_index() == 0:
            np.save(out, np.asarray(gathered))
    jax.distributed.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(processes: int, split: str, out: Path, timeout: float = 600) -> np.ndarray:
    """Runs the sweep in ``processes`` local processes; returns (and saves) the counts."""
    if processes == 1:  # the reference: one process, no jax.distributed
        nets, keys = _sweep()
        import fluxjax as fj

        counts = np.asarray(
            fj.simulate_ensemble(
                nets,
                keys,
                STEPS,
                record=fj.PairCounts(TRIPLETS),
                burn_in=100,
            )
        )
        np.save(out, counts)
        return counts
    coordinator = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "1"}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--processes",
                str(processes),
                "--split",
                split,
                "--out",
                str(out),
                "--coordinator",
                coordinator,
                "--process-id",
                str(i),
            ],
            env=env,
        )
        for i in range(processes)
    ]
    try:
        codes = [child.wait(timeout=timeout) for child in children]
    finally:
        for child in children:
            child.kill()
    if any(codes):
        raise RuntimeError(f"multihost_sweep: worker exit codes {codes}")
    if split == "slices":
        counts = np.zeros((NUM_NETWORKS, 3, 3, 8, 8), np.int32)
        for i in range(processes):
            counts[i::processes] = np.load(out.with_suffix(f".part{i}.npy"))
        np.save(out, counts)
    return np.load(out)


def main(argv=None) -> None:
    """The command line: a launcher, or (with ``--process-id``) one worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--split", choices=("slices", "global"), default="slices")
    parser.add_argument("--out", default=None, help="where to save the counts (.npy)")
    parser.add_argument("--coordinator", help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.process_id is not None:
        worker(args)
        return
    out = Path(args.out or Path(tempfile.mkdtemp()) / "counts.npy")
    counts = launch(args.processes, args.split, out)
    print(
        f"{args.processes} process(es), split {args.split}: counts {counts.shape} "
        f"(total {int(counts.sum())}) written to {out}"
    )


if __name__ == "__main__":
    main()
