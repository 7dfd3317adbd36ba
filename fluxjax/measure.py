"""The flux of a network, one trusted answer: ``flux(net, key) -> FluxResult``.

:func:`flux` picks the validated method by size and structure, and returns the value
with everything needed to trust it:

- **exact** (:class:`FluxMethod.EXACT`) when every connected component of the weight
  graph has at most :data:`EXACT_NEURONS` neurons or is a permutation cycle
  (:func:`fluxjax.exact_flux`): no sampling error; the systematic error is the
  dtype's round-off, ``RESOLUTION_ULPS`` eps max(|I|, 1 bit) (float32: 3e-5 relative;
  the largest float32 error measured up to n = 14 is 6e-6 relative);
- **moments** (:class:`FluxMethod.MOMENTS`) otherwise: the large-n estimator
  U1 - TC_G from a simulation, its jackknife standard error and the bracket of the
  same samples (:func:`fluxjax.flux_bounds`): I(X; X'_B) <= I <= min(U1, U1 - the
  maximum spanning tree of pairwise informations), each bound widened by two of its
  standard errors. Its known systematic error, measured against exact references in
  its validated regime (``steps`` >= 100 n, weakly correlated neurons), is
  :data:`MOMENT_SYSTEMATIC`: the estimate lies between 1.2 % below and 1.5 % above
  the flux (benchmarks/README.md). Correlated neurons (strong inhibition,
  near-copies) make the estimate low: the Gaussian total correlation over-counts their
  pairwise information by an excess D (:attr:`fluxjax.FluxBounds.pairwise_excess`),
  and on the random block networks of ``benchmarks/front_door.py`` the flux lay
  between the estimate and the estimate + D. So the systematic error is value - flux
  in [-max(1.2 % of the value, D), +1.5 % of the value] (no cliff), and the result
  warns where D exceeds :data:`fluxjax.info.moments.PAIRWISE_EXCESS_LIMIT` of the
  value. An estimate outside its own bracket warns, and then only the bracket holds;
  any other regime problem of the estimator warns too.

The differentiable estimate for gradients is :func:`fluxjax.soft_flux`.
"""

import dataclasses
import enum
import warnings

import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ._checks import check_int, check_key
from .info._chains import VALIDATED_SAMPLES_PER_NEURON
from .info.exact import (
    FAST_EXACT_NEURONS as EXACT_NEURONS,
    MAX_EXACT_NEURONS,
    RESOLUTION_ULPS,
    enumerated_size,
    exact_flux,
)
from .info.moments import flux_bounds
from .network import BinaryNetwork, check_network


MOMENT_SYSTEMATIC = (-0.012, 0.015)
"""The moment estimator's known systematic error, (estimate - flux) / estimate, in its
validated regime: measured -0.93 ... +1.30 % on the unflagged random block networks of
``benchmarks/front_door.py`` and -0.3 ... +1.1 % in "Flux at large n"
(benchmarks/README.md)."""

DEFAULT_STEPS = 100_000
"""The sampled estimate's default number of transitions (at least 100 n)."""


class FluxMethod(enum.Enum):
    """How :func:`flux` computed the flux."""

    EXACT = "exact"
    """Enumeration of each component's Markov chain (closed form for cycles)."""
    MOMENTS = "moments"
    """U1 - TC_G from stationary moments of a simulation, with the bracket."""


@dataclasses.dataclass(frozen=True)
class FluxResult:
    """The flux of a network and everything needed to trust it, in bits.

    Attributes:
        value: the flux I(X_t; X_{t+1}).
        stderr: its standard error from sampling (0 for an exact value).
        lower: a lower bound on the flux: I(X; X'_B) for a subset B of at most 12
            neurons less twice its standard error (the value itself when exact).
        upper: an upper bound: the smaller of U1 = sum_i I(X; X'_i) and the tree
            bound (:attr:`fluxjax.FluxBounds.tree_upper`), plus twice its standard
            error (the value when exact).
        systematic: the known systematic error of the method in its validated
            regime, as an interval (low, high) of value - flux in bits: the flux lies
            in [value - high, value - low], up to the sampling error.
        method: the method used.
        num_neurons: the network's size n.
        samples: the transitions simulated (0 for an exact value).
        warnings: why the value may not be trusted (outside the validated regime),
            empty when it can be.
    """

    value: float
    stderr: float
    lower: float
    upper: float
    systematic: tuple[float, float]
    method: FluxMethod
    num_neurons: int
    samples: int
    warnings: tuple[str, ...] = ()

    @property
    def interval(self) -> tuple[float, float]:
        """Where the flux lies: value - systematic ± 2 SE, within the bracket."""
        low = self.value - self.systematic[1] - 2 * self.stderr
        high = self.value - self.systematic[0] + 2 * self.stderr
        low, high = max(low, self.lower), min(high, self.upper)
        return (low, high) if low <= high else (self.lower, self.upper)

    def __str__(self) -> str:
        """A readable summary, one quantity per line."""
        if self.method is FluxMethod.EXACT:
            how = "exact (enumeration of each component)"
            value = f"{self.value:.6g} bit"
        else:
            how = (
                f"large-n estimator U1 - TC_G from {self.samples:,} simulated "
                "transitions"
            )
            value = f"{self.value:.6g} ± {self.stderr:.2g} bit (SE)"
        low, high = self.systematic
        lines = [
            f"flux of a {self.num_neurons}-neuron network: {value}",
            f"  method      {how}",
            f"  bracket     {self.lower:.6g} <= flux <= {self.upper:.6g} bit",
            f"  systematic  value - flux in [{low:+.2g}, {high:+.2g}] bit",
            "  interval    {:.6g} ... {:.6g} bit".format(*self.interval),
        ]
        lines += [f"  warning     {w}" for w in self.warnings]
        return "\n".join(lines)


def flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    *,
    method: FluxMethod | None = None,
    steps: int | None = None,
    burn_in: int = 1000,
    num_chains: int = 20,
) -> FluxResult:
    """The flux I(X_t; X_{t+1}) of ``net`` by the validated method, with its errors.

    Exact when every component of the weight graph has at most
    :data:`EXACT_NEURONS` neurons or is a permutation cycle; otherwise the large-n
    estimate U1 - TC_G with its jackknife SE and the bracket
    I(X; X'_B) <= I <= U1 (module docstring). Warnings of the estimator (outside its
    validated regime) are issued and kept in the result.

    Args:
        net: the network (any n).
        key: PRNG key of the simulation (unused by an exact value).
        method: force a method; default by size and structure.
        steps: transitions to simulate; default max(10^5, 100 n), fewer if that
            does not fit in memory (below 100 n the result warns).
        burn_in: updates discarded at the start of every chain.
        num_chains: independent chains.

    Returns:
        A :class:`FluxResult`; ``print`` it for a summary.

    Raises:
        TypeError: ``net`` is not a BinaryNetwork, ``key`` not a PRNG key, or
            ``method`` not a :class:`FluxMethod`.
        ValueError: a non-finite network, bad ``steps``, an exact method asked of a
            network too large to enumerate, or a simulation that cannot fit in
            memory (the message names the size).

    Examples:
        >>> ring = BinaryNetwork(8.0 * jnp.roll(jnp.eye(6), 1, axis=1), -4.0)
        >>> result = flux(ring, jax.random.key(0))
        >>> result.method, round(result.value, 2), result.stderr
        (<FluxMethod.EXACT: 'exact'>, 5.22, 0.0)
    """
    check_network(net)
    check_key(key)
    if method is not None and not isinstance(method, FluxMethod):
        raise TypeError(f"method must be a FluxMethod or None, got {method!r}")
    if method is None:
        enumerable = enumerated_size(net) <= EXACT_NEURONS
        method = FluxMethod.EXACT if enumerable else FluxMethod.MOMENTS
    if method is FluxMethod.EXACT:
        return _exact(net)
    return _moments(net, key, steps, burn_in, num_chains)


def _exact(net: BinaryNetwork) -> FluxResult:
    size = max(enumerated_size(net), EXACT_NEURONS)
    value = float(exact_flux(net, max_neurons=min(size, MAX_EXACT_NEURONS)))
    resolution = (
        RESOLUTION_ULPS * float(jnp.finfo(net.weights.dtype).eps) * max(abs(value), 1)
    )
    if -resolution < value < 0:  # round-off of a zero flux
        value = 0.0
    return FluxResult(
        value=value,
        stderr=0.0,
        lower=value,
        upper=value,
        systematic=(-resolution, resolution),
        method=FluxMethod.EXACT,
        num_neurons=net.num_neurons,
        samples=0,
    )


def _moments(net, key, steps, burn_in, num_chains) -> FluxResult:
    n = net.num_neurons
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    if steps is None:  # memory does not grow with steps (the samples are streamed)
        steps = max(DEFAULT_STEPS, VALIDATED_SAMPLES_PER_NEURON * n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bounds = flux_bounds(net, key, steps, burn_in=burn_in, num_chains=num_chains)
    messages = [str(w.message) for w in caught]
    value = float(bounds.estimate)
    lower = float(bounds.lower - 2 * bounds.lower_stderr)
    upper = min(
        float(bounds.upper + 2 * bounds.upper_stderr),
        bounds.tree_upper + 2 * bounds.tree_upper_stderr,
    )
    low, high = MOMENT_SYSTEMATIC
    # biased low by up to the Gaussian pairwise excess (measured; module docstring)
    low = min(low * abs(value), -max(bounds.pairwise_excess, 0.0))
    systematic = (low, high * abs(value))
    if not lower <= value <= upper:
        messages.append(
            f"flux: the estimate {value:.4g} bit lies outside its own bracket "
            f"[{lower:.4g}, {upper:.4g}] bit (a bound is tighter here than the "
            "estimator's systematic error); the bracket holds"
        )
        systematic = (value - upper, value - lower)
    messages = tuple(dict.fromkeys(messages))
    for message in messages:
        warnings.warn(message, stacklevel=3)
    return FluxResult(
        value=value,
        stderr=float(bounds.estimate_stderr),
        lower=lower,
        upper=upper,
        systematic=systematic,
        method=FluxMethod.MOMENTS,
        num_neurons=n,
        samples=int(steps),
        warnings=messages,
    )
