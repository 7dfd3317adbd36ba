"""The ``fluxjax`` command: the flux of your network, its optimisation, the study.

fluxjax's weights are pre-post: ``W[j, i]`` is the synapse from neuron j to neuron i
(rows presynaptic); a post-pre file (``W[i, j]`` from j to i) is transposed on
reading. Every error is one line on stderr and exit status 2.
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings

from .io import WEIGHT_FORMATS


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block)."""

    def error(self, message):
        """Exits with ``prog: error: message`` alone."""
        self.exit(2, f"{self.prog}: error: {message}\n")


class CommandError(Exception):
    """A user's mistake: printed as one line, exit status 2."""


def _number(convert, noun: str, accepts, limits: str):
    """An argparse type: ``convert(text)``, refused unless ``accepts(value)``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {noun} {limits}, got {text}")
        return value

    return parse


_positive_int = _number(int, "an integer", lambda v: v >= 1, ">= 1")
_seed = _number(int, "an integer", lambda v: 0 <= v <= 2**32 - 1, "in 0 ... 4294967295")
_nonnegative_float = _number(
    float, "a number", lambda v: math.isfinite(v) and v >= 0, "finite and >= 0"
)
_positive_float = _number(
    float, "a number", lambda v: math.isfinite(v) and v > 0, "finite and > 0"
)


# --- the user's network -------------------------------------------------------------


def _network(args: argparse.Namespace):
    """The network of WEIGHTS, --orientation, --biases, --temperature, --noise."""
    import jax.numpy as jnp
    import numpy as np

    import fluxjax as fj

    if args.orientation is None:
        raise CommandError(
            "--orientation is required with WEIGHTS: pre-post (rows presynaptic, "
            "W[j, i] from j to i, fluxjax's own) or post-pre (W[i, j] from j to i)"
        )
    weights = fj.read_weights(args.weights, fj.Orientation(args.orientation))
    n = weights.shape[0]
    if args.biases == "zero":
        biases = 0.0
    elif args.biases == "half-firing":
        biases = -np.asarray(weights.sum(0)).ravel() / 2
    else:
        biases = fj.read_biases(args.biases)
        if biases.shape != (n,):
            raise CommandError(
                f"--biases {args.biases}: needs {n} values (one per neuron), got "
                f"{biases.size}"
            )
    dtype = jnp.float64 if args.x64 else jnp.float32
    return fj.BinaryNetwork(
        weights, biases, args.temperature, args.noise or None, dtype=dtype
    )


def _describe(args: argparse.Namespace, net) -> str:
    noise = "none" if net.noise is None else f"{args.noise:g}"
    return (
        f"{args.weights} ({net.num_neurons} neurons, {args.orientation}), "
        f"biases {args.biases}, temperature {args.temperature:g}, noise {noise}"
    )


def _flux(args: argparse.Namespace) -> None:
    """Prints the flux of the network in WEIGHTS (or of the demo network)."""
    if args.demo:
        if args.weights is not None:
            raise CommandError("give WEIGHTS or --demo, not both")
        _flux_demo(args)
        return
    if args.weights is None:
        raise CommandError("give a weights file (WEIGHTS), or --demo")
    import jax

    import fluxjax as fj

    net = _network(args)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the result carries them, and prints them
        result = fj.flux(net, jax.random.key(args.seed), steps=args.steps)
    seconds = time.perf_counter() - start
    if args.json:
        record = {"network": _describe(args, net), "seconds": seconds}
        print(json.dumps(record | fj.to_json(result), indent=1))
        return
    print(f"network: {_describe(args, net)}")
    print(result)
    print(f"({seconds:.1f} s)")


def _optimize(args: argparse.Namespace) -> None:
    """The 50 %-firing rule, then gradient ascent from it; writes the results."""
    import jax
    import jax.numpy as jnp
    import matplotlib
    import numpy as np

    import fluxjax as fj
    from fluxjax.plotting import plot_comparison

    matplotlib.use("Agg")
    net = _network(args)
    os.makedirs(args.out, exist_ok=True)
    key = jax.random.key(args.seed)
    ascent_key, rule_key, flux_key, rate_key = jax.random.split(key, 4)
    print(f"network: {_describe(args, net)}")
    with _warnings_as_lines():
        organized, _ = fj.self_organize(net, rule_key, args.rule_steps)
        ascended, history = fj.optimize_biases(
            organized, ascent_key, steps=args.ascent_steps
        )
        settings = {"start": net, "50 % rule": organized, "gradient ascent": ascended}
        results, rates = {}, {}
        for label, setting in settings.items():
            results[label] = fj.flux(setting, flux_key, steps=args.steps)
            states = fj.simulate(setting, rate_key, 2000, burn_in=1000)
            rates[label] = np.asarray(jnp.mean(states, axis=0))
    np.save(os.path.join(args.out, "biases_gradient.npy"), np.asarray(ascended.biases))
    np.save(os.path.join(args.out, "biases_rule.npy"), np.asarray(organized.biases))
    comparison = {
        "network": _describe(args, net),
        "results": {label: fj.to_json(r) for label, r in results.items()},
        "objective": np.asarray(history.objective).tolist(),
    }
    with open(os.path.join(args.out, "comparison.json"), "w") as file:
        json.dump(comparison, file, indent=1)
    figure = plot_comparison(
        results, traces={"gradient ascent": history.objective}, rates=rates
    )
    figure.savefig(os.path.join(args.out, "comparison.png"), dpi=120)
    for label, result in results.items():
        low, high = result.interval
        flag = "  (warning: see the JSON)" if result.warnings else ""
        print(
            f"{label:<16} {result.value:10.4f} ± {result.stderr:.2g} bit, interval "
            f"{low:.4g} ... {high:.4g} ({result.method.value}){flag}"
        )
    print(f"wrote {args.out}/biases_gradient.npy, biases_rule.npy, comparison.json, ")
    print("      comparison.png")


@contextlib.contextmanager
def _warnings_as_lines():
    """Prints each warning as one ``warning:`` line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"warning: {message}", file=sys.stderr)


def _flux_demo(args: argparse.Namespace) -> None:
    """Prints one random network's flux three ways: exact, plug-in and corrected."""
    import jax
    import numpy as np

    import fluxjax as fj

    rng = np.random.default_rng(args.seed)
    n = args.neurons
    if n > 12:
        raise CommandError(f"--neurons must be 1 ... 12 for the demo, got {n}")
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
    steps = args.steps or 200_000
    states = fj.simulate(net, sim_key, steps, burn_in=1000)
    with _warnings_as_lines():
        value, stderr = fj.plugin_flux_stderr(states)
        print(f"{'plug-in, T = ' + format(steps, ','):<40}", end="")
        print(f"{float(value):9.4f} ± {float(stderr):.4f}")
        for correction in ("miller-madow", "shuffle", "extrapolate"):
            estimate = fj.plugin_flux(states, correction, key=shuffle_key)
            print(f"{'plug-in, ' + correction:<40}{float(estimate):9.4f} bits")
    print(f"({time.perf_counter() - start:.1f} s)")


# --- the study ----------------------------------------------------------------------


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
        raise CommandError(str(error)) from None
    except OSError as error:  # --out cannot be created or written, or a full disk
        if error.errno is None:
            raise
        where = error.filename or args.out
        raise CommandError(
            f"cannot write {where}: {error.strerror} (finished parts are kept; fix "
            "it and run again to resume)"
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


# --- the parser ---------------------------------------------------------------------


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "weights",
        nargs="?",
        metavar="WEIGHTS",
        help=f"the weight matrix, n x n: {', '.join(WEIGHT_FORMATS)} (.mtx: Matrix "
        "Market, sparse)",
    )
    parser.add_argument(
        "--orientation",
        choices=("pre-post", "post-pre"),
        help="required with WEIGHTS: pre-post = rows presynaptic, W[j, i] from j to i "
        "(fluxjax's internal convention, x' = f(x @ W)); post-pre = W[i, j] from j to "
        "i (x' = f(W @ x)), transposed on reading",
    )
    parser.add_argument(
        "--biases",
        default="zero",
        help="zero, half-firing (b = -column sums / 2, the 50 %%-firing point), or a "
        "file of n numbers (.npy, .csv, .txt); in the units of the weights "
        "(default: zero)",
    )
    parser.add_argument(
        "--temperature",
        type=_positive_float,
        default=1.0,
        help="divides each neuron's summed input, > 0 (default: 1)",
    )
    parser.add_argument(
        "--noise",
        type=_nonnegative_float,
        default=0.0,
        help="SD of the Gaussian noise added to each input after dividing, >= 0 "
        "(default: 0, none)",
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        help="transitions simulated for a sampled estimate (default: max(10^5, "
        "100 n), fewer if that does not fit in memory; unused when exact)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="random seed of the simulation, >= 0 (default: 0)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fluxjax",
        description="Information flux I(X_t; X_t+1) of networks of stochastic binary "
        "neurons, in bits.",
    )
    parser.add_argument(
        "--x64", action="store_true", help="compute in float64 (default: float32)"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )
    flux = commands.add_parser(
        "flux",
        help="the flux of your network: value ± SE, bracket, method",
        description="The flux of the network in WEIGHTS: exact when every connected "
        "component has at most 12 neurons, else the large-n estimate with its "
        "standard error, bracket and known systematic error.",
    )
    _network_options(flux)
    flux.add_argument("--json", action="store_true", help="print the result as JSON")
    flux.add_argument(
        "--demo",
        action="store_true",
        help="instead of WEIGHTS, a random network's flux three ways: exact, plug-in, "
        "corrected plug-in",
    )
    flux.add_argument(
        "--neurons",
        type=_positive_int,
        default=6,
        help="--demo: the random network's size, 1 ... 12 (default: 6)",
    )
    optimize = commands.add_parser(
        "optimize",
        help="the 50 %% rule, then gradient ascent on the flux from its biases",
        description="Optimises the biases of the network in WEIGHTS by the local "
        "50 %-firing rule, then by gradient ascent on the flux from the rule's biases "
        "(what the rule leaves on the table); writes both biases, a JSON of the "
        "comparison with standard errors, and a figure.",
    )
    _network_options(optimize)
    optimize.add_argument(
        "--ascent-steps",
        type=_positive_int,
        default=100,
        help="Adam steps of the gradient ascent (default: 100; it stops earlier on a "
        "plateau)",
    )
    optimize.add_argument(
        "--rule-steps",
        type=_positive_int,
        default=20_000,
        help="network updates of the 50 %% rule (default: 20000)",
    )
    optimize.add_argument(
        "--out",
        default="fluxjax-optimize",
        help="output directory (default: fluxjax-optimize)",
    )
    study = commands.add_parser(
        "reproduce", help="the paper's study: results.json, report.md, figures"
    )
    study.add_argument("--quick", action="store_true", help="reduced sizes (minutes)")
    study.add_argument(
        "--out",
        default="fluxjax-results",
        help="output directory (default: fluxjax-results)",
    )
    study.add_argument(
        "--seeds", type=_positive_int, help="network seeds (default: 10; --quick: 3)"
    )
    study.add_argument(
        "--steps",
        type=_positive_int,
        help="steps per simulation (default: 10^6; --quick: 10^5)",
    )
    study.add_argument(
        "--optimization-seeds",
        type=_positive_int,
        help="seeds of the optimisation study (default: 5; --quick: 1)",
    )
    study.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse finished parts computed by other code (marked stale in the report)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fluxjax`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.x64:
        import jax

        jax.config.update("jax_enable_x64", True)
    run = {"flux": _flux, "optimize": _optimize, "reproduce": _reproduce}
    try:
        run[args.command](args)
    except (CommandError, ValueError, TypeError) as error:
        print(f"fluxjax {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(
            f"fluxjax {args.command}: error: {where}{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
