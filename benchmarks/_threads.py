"""Thread settings, applied before numpy and JAX start (import this module first)."""

import os


def set_threads(argv: list[str]) -> int:
    """Reads ``--threads T`` from ``argv`` (default 1) and sets the thread variables.

    1: XLA intra-op and the BLAS single-threaded (a like-for-like comparison that other
    jobs on the machine disturb least); 0: library defaults; T > 1: T BLAS threads.
    """
    threads = 1
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    if threads > 0:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " " + flags
        ).strip()
    return threads
