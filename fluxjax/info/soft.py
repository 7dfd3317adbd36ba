"""A differentiable estimate of the flux from a simulation: the estimator for the job.

:func:`soft_flux` chooses among three sampled estimators, each in its own module and
each used where it is validated, and forwards its options (a typed object per
estimator):

- :class:`Subset` -> :func:`fluxjax.info.subset.subset_flux`: a subset of at most 12
  neurons, from the Rao-Blackwellised 2^k x 2^k joint table;
- :class:`Mixture` -> :func:`fluxjax.info.mixture.mixture_flux`: the whole network,
  n <= 12, from a mixture estimate of the output distribution (verified against
  exact enumeration);
- :class:`Moments` -> :func:`fluxjax.info.moments.moment_flux`: the whole network,
  n > 12, U1 - TC_G from the stationary moments.

All three are differentiated by the windowed score function of
:mod:`fluxjax.info._score` plus their own pathwise terms.
"""

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Shaped

from .._checks import check_neurons
from ..network import BinaryNetwork, check_network
from ._score import SCORE_WINDOW
from .mixture import MAX_MIXTURE_NEURONS, mixture_flux
from .moments import MOMENT_WINDOW, moment_flux
from .subset import subset_flux


@dataclasses.dataclass(frozen=True)
class Subset:
    """The flux of a subset of at most 12 neurons, from its joint table.

    Attributes:
        window: K, the transitions the score function credits (>= the mixing time).
        chunk_size: transitions per block (None: about 2^20 floats per temporary).
    """

    window: int = SCORE_WINDOW
    chunk_size: int | None = None


@dataclasses.dataclass(frozen=True)
class Mixture:
    """The whole network's flux at n <= 12, from a mixture of the output distribution.

    Attributes:
        num_components: S, the states of an independent chain in the mixture.
        window: K, the transitions the score function credits (>= the mixing time).
        chunk_size: transitions per block (None: about 2^20 floats per temporary).
    """

    num_components: int = 1000
    window: int = SCORE_WINDOW
    chunk_size: int | None = None


@dataclasses.dataclass(frozen=True)
class Moments:
    """The whole network's flux at any n, U1 - TC_G from stationary moments.

    Attributes:
        num_chains: independent chains (``steps`` is their total).
        window: K, the transitions the score function credits (>= the mixing time).
    """

    num_chains: int = 20
    window: int = MOMENT_WINDOW


SoftEstimator = Subset | Mixture | Moments
"""The options of one of :func:`soft_flux`'s estimators."""


def soft_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    estimator: SoftEstimator | None = None,
    burn_in: int = 1000,
) -> Float[Array, ""]:
    """A differentiable estimate of the flux I(X_t; X_{t+1}) from a simulation, in bits.

    Three estimators, each used where it is validated; ``estimator=None`` picks it
    with its default options:

    - :class:`Subset` (whenever ``neurons`` names a proper subset of at most 12):
      :func:`fluxjax.info.subset.subset_flux`, the Rao-Blackwellised 2^k x 2^k joint
      table I_S = sum J log(J / (J_row J_col));
    - :class:`Mixture` (the whole network, n <= 12):
      :func:`fluxjax.info.mixture.mixture_flux`, I ~ (1/T) sum_t [-sum_i h2(p_i(x_t))
      - log q^(x_{t+1})] with q^ a mixture over ``num_components`` states of an
      independent chain, verified against exact enumeration up to n = 12;
    - :class:`Moments` (the whole network, n > 12):
      :func:`fluxjax.info.moments.moment_flux`, U1 - TC_G from stationary moments,
      validated against exact references at n = 1000.

    Asked for the mixture above n = 12, it warns: once S << 2^H(X) its value is
    log S plus a cross-entropy, an upper bound rather than an estimate. The gradient
    (``jax.grad`` / ``eqx.filter_grad``, with respect to weights, biases, temperature
    and noise) is each estimator's pathwise term plus the windowed score function.
    Memory does not grow with ``steps`` (the chain is regenerated block by block); no
    2^n object is formed. Only first derivatives are estimated.

    Args:
        net: the network (any n).
        key: PRNG key of the chains.
        steps: the number of transitions T evaluated (> the score window + 1).
        neurons: a subset S of at most 12 neurons whose flux I(x_S(t); x_S(t+1)) is
            estimated; default all neurons.
        estimator: the estimator and its options, :class:`Subset` (with a proper
            subset), :class:`Mixture` or :class:`Moments` (the whole network); None
            chooses by size, as above.
        burn_in: updates discarded at the start of every chain.

    Returns:
        The estimate in bits, a scalar of the network's dtype.

    Raises:
        ValueError: steps <= window + 1, a subset larger than 12 neurons, bad indices,
            an estimator that does not fit ``neurons``, or a negative option.
        TypeError: ``net`` is not a BinaryNetwork, ``key`` is not a PRNG key, or
            ``estimator`` is not one of the three.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(3), -jnp.ones(3))
        >>> key = jax.random.key(0)
        >>> flux, grads = eqx.filter_value_and_grad(soft_flux)(net, key, 1000)
        >>> flux.shape, grads.biases.shape
        ((), (3,))
        >>> fewer = soft_flux(net, key, 1000, estimator=Mixture(num_components=200))
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    n = net.num_neurons
    subset = None if sorted(neurons) == list(range(n)) else neurons
    estimator = _estimator(estimator, subset, n)
    match estimator:
        case Subset(window, chunk_size):
            return subset_flux(
                net,
                key,
                steps,
                subset,
                burn_in=burn_in,
                window=window,
                chunk_size=chunk_size,
            )
        case Mixture(num_components, window, chunk_size):
            return mixture_flux(
                net,
                key,
                steps,
                burn_in=burn_in,
                window=window,
                num_components=num_components,
                chunk_size=chunk_size,
            )
        case Moments(num_chains, window):
            return moment_flux(
                net, key, steps, burn_in=burn_in, num_chains=num_chains, window=window
            )


def _estimator(estimator, subset, n: int) -> SoftEstimator:
    """The estimator to use (None: by size), checked against the subset."""
    if estimator is None:
        if subset is not None:
            return Subset()
        return Mixture() if n <= MAX_MIXTURE_NEURONS else Moments()
    if not isinstance(estimator, Subset | Mixture | Moments):
        hint = ""
        if isinstance(estimator, str):
            name = estimator.capitalize()
            hint = f" (for example fluxjax.{name}() in place of {estimator!r})"
        raise TypeError(
            "estimator must be fluxjax.Subset(...), fluxjax.Mixture(...), "
            f"fluxjax.Moments(...) or None, got {estimator!r}{hint}"
        )
    if subset is not None and not isinstance(estimator, Subset):
        raise ValueError(
            f"{type(estimator).__name__} estimates the whole network's flux; a subset "
            "(neurons=...) uses fluxjax.Subset()"
        )
    if subset is None and isinstance(estimator, Subset):
        raise ValueError("fluxjax.Subset() needs neurons= naming a proper subset")
    if isinstance(estimator, Mixture) and n > MAX_MIXTURE_NEURONS:
        warnings.warn(
            f"soft_flux: the Mixture estimator is validated for n <= "
            f"{MAX_MIXTURE_NEURONS}; at n = {n} the mixture of num_components states "
            "is far smaller than 2^H(X), so the value is log S plus a cross-entropy "
            "(an upper bound, not an estimate) and the gradient is that of the bound. "
            "Use estimator=None (the moments estimator).",
            stacklevel=3,
        )
    return estimator
