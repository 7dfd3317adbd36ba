"""The ``fluxjax`` command."""

import argparse
import sys
import time


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _flux_demo(args: argparse.Namespace) -> None:
    """Prints one random network's flux three ways: exact, plug-in and corrected."""
    import jax
    import numpy as np

    import fluxjax as fj

    rng = np.random.default_rng(args.seed)
    n = args.neurons
    weights = rng.normal(0.0, 1.5, (n, n))
    np.fill_diagonal(weights, 0.0)
    net = fj.BinaryNetwork(weights, rng.normal(0.0, 1.0, n), noise=args.noise)
    key = jax.random.key(args.seed)
    sim_key, shuffle_key = jax.random.split(key)
    print(f"random network: n = {n}, weights N(0, 1.5^2), biases N(0, 1), ", end="")
    print(f"noise = {args.noise}, seed = {args.seed}, dtype = {net.weights.dtype}")
    start = time.perf_counter()
    exact = float(fj.exact_flux(net))
    print(f"{'exact (2^n-state enumeration)':<40}{exact:9.4f} bits")
    states = fj.simulate(net, sim_key, args.steps, burn_in=1000)
    value, stderr = fj.plugin_flux_stderr(states)
    print(
        f"{'plug-in, T = ' + format(args.steps, ','):<40}{float(value):9.4f} ± {float(stderr):.4f}"
    )
    for correction in ("miller-madow", "shuffle", "extrapolate"):
        estimate = fj.plugin_flux(states, correction, key=shuffle_key)
        print(f"{'plug-in, ' + correction:<40}{float(estimate):9.4f} bits")
    print(f"({time.perf_counter() - start:.1f} s)")


def _reproduce(args: argparse.Namespace) -> None:
    """Runs the study (``--quick``: reduced sizes) and writes the report."""
    from .experiments.reproduce import StudyConfig, reproduce

    overrides = {}
    if args.seeds is not None:
        overrides["num_seeds"] = args.seeds
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.optimization_seeds is not None:
        overrides["optimization_seeds"] = args.optimization_seeds
    if args.quick:
        config = StudyConfig.quick_config(**overrides)
    else:
        config = StudyConfig(**overrides)
    try:
        results = reproduce(config, args.out, reuse_stale=args.reuse_stale)
    except RuntimeError as error:  # another run holds the output directory
        raise SystemExit(f"fluxjax reproduce: {error}") from None
    except OSError as error:  # --out cannot be created or written, or a full disk
        if error.errno is None:
            raise
        where = error.filename or args.out
        raise SystemExit(
            f"fluxjax reproduce: cannot write {where}: {error.strerror} (finished "
            "parts are kept; fix it and run again to resume)"
        ) from None
    print(f"wrote {args.out}/results.json, report.md and figures")
    for claim in results["claims"]:
        verdict = {
            True: "reproduced",
            False: "NOT reproduced",
            None: "pending",
            "partly": "partly reproduced",
        }
        print(f"  {claim['claim']}: {verdict[claim['reproduced']]}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fluxjax`` command."""
    parser = argparse.ArgumentParser(prog="fluxjax", description=__doc__)
    parser.add_argument(
        "--x64", action="store_true", help="compute in float64 (default float32)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    flux = commands.add_parser("flux", help="a small network's flux, three ways")
    flux.add_argument("--demo", action="store_true", help="use a random network")
    flux.add_argument("--neurons", type=int, default=6)
    flux.add_argument("--noise", type=float, default=0.5)
    flux.add_argument("--steps", type=int, default=200_000)
    flux.add_argument("--seed", type=int, default=0)
    study = commands.add_parser(
        "reproduce", help="the paper's study: results.json, report.md, figures"
    )
    study.add_argument("--quick", action="store_true", help="reduced sizes (minutes)")
    study.add_argument("--out", default="fluxjax-results", help="output directory")
    study.add_argument("--seeds", type=_positive_int, help="number of network seeds")
    study.add_argument("--steps", type=_positive_int, help="steps per simulation")
    study.add_argument(
        "--optimization-seeds",
        type=_positive_int,
        help="seeds of the optimisation study (default 5; --quick: 1)",
    )
    study.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse finished parts computed by other code (marked stale in the report)",
    )
    args = parser.parse_args(argv)
    if args.x64:
        import jax

        jax.config.update("jax_enable_x64", True)
    if args.command == "flux":
        _flux_demo(args)
    elif args.command == "reproduce":
        _reproduce(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
