"""A differentiable estimate of the flux from a simulation: the estimator for the job.

:func:`soft_flux` chooses among three sampled estimators, each in its own module and
each used where it is validated:

- :func:`fluxjax.info.subset.subset_flux`: a subset of at most 12 neurons, from the
  Rao-Blackwellised 2^k x 2^k joint table;
- :func:`fluxjax.info.mixture.mixture_flux`: the whole network, n <= 12, from a mixture
  estimate of the output distribution (verified against exact enumeration);
- :func:`fluxjax.info.moments.moment_flux`: the whole network, n > 12, U1 - TC_G from
  the stationary moments.

All three are differentiated by the windowed score function of
:mod:`fluxjax.info._score` plus their own pathwise terms.
"""

import warnings
from collections.abc import Sequence

import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Shaped

from .._checks import check_choice, check_neurons
from ..network import BinaryNetwork, check_network
from ._score import SCORE_WINDOW
from .mixture import MAX_MIXTURE_NEURONS, mixture_flux
from .moments import MOMENT_WINDOW, moment_flux
from .subset import subset_flux


def soft_flux(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    neurons: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    method: str | None = None,
    burn_in: int = 1000,
    window: int | None = None,
    num_components: int = 1000,
    num_chains: int = 20,
    chunk_size: int | None = None,
) -> Float[Array, ""]:
    """A differentiable estimate of the flux I(X_t; X_{t+1}) from a simulation, in bits.

    Three estimators, each used where it is validated; ``method=None`` picks it:

    - ``"subset"`` (whenever ``neurons`` names a proper subset of at most 12):
      :func:`fluxjax.info.subset.subset_flux`, the Rao-Blackwellised 2^k x 2^k joint
      table I_S = sum J log(J / (J_row J_col));
    - ``"mixture"`` (the whole network, n <= 12):
      :func:`fluxjax.info.mixture.mixture_flux`, I ~ (1/T) sum_t [-sum_i h2(p_i(x_t))
      - log q^(x_{t+1})] with q^ a mixture over ``num_components`` states of an
      independent chain, verified against exact enumeration up to n = 12;
    - ``"moments"`` (the whole network, n > 12):
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
        steps: the number of transitions T evaluated (> ``window`` + 1).
        neurons: a subset S of at most 12 neurons whose flux I(x_S(t); x_S(t+1)) is
            estimated; default all neurons.
        method: None (choose by size, above), "subset", "mixture" or "moments".
        burn_in: updates discarded at the start of every chain.
        window: K, the number of past transitions the score function credits; it must
            cover the chain's mixing time. 0 drops the stationary term (biased).
            Default 8, and for ``"moments"`` that method's own default (16).
        num_components: S, the mixture size (``"mixture"`` only).
        num_chains: independent chains of ``"moments"`` (``steps`` is their total).
        chunk_size: transitions per block of ``"subset"`` and ``"mixture"`` (default:
            about 2^20 floats per temporary).

    Returns:
        The estimate in bits, a scalar of the network's dtype.

    Raises:
        ValueError: steps <= window + 1, a subset larger than 12 neurons, bad indices
            or a negative option.
        TypeError: ``net`` is not a BinaryNetwork or ``key`` is not a PRNG key.

    Examples:
        >>> net = BinaryNetwork(2.0 * jnp.eye(3), -jnp.ones(3))
        >>> key = jax.random.key(0)
        >>> flux, grads = eqx.filter_value_and_grad(soft_flux)(net, key, 1000)
        >>> flux.shape, grads.biases.shape
        ((), (3,))
    """
    check_network(net)
    neurons = check_neurons(neurons, net.num_neurons)
    n = net.num_neurons
    subset = None if sorted(neurons) == list(range(n)) else neurons
    method = _method(method, subset, n)
    options = dict(burn_in=burn_in, chunk_size=chunk_size)
    if method == "moments":
        window = MOMENT_WINDOW if window is None else window
        return moment_flux(
            net, key, steps, burn_in=burn_in, num_chains=num_chains, window=window
        )
    window = SCORE_WINDOW if window is None else window
    if method == "subset":
        return subset_flux(net, key, steps, subset, window=window, **options)
    return mixture_flux(
        net, key, steps, window=window, num_components=num_components, **options
    )


METHODS = ("subset", "mixture", "moments")


def _method(method, subset, n: int) -> str:
    """The estimator for ``method`` (None: by size), checked against the subset."""
    if method is not None:
        check_choice(method, "method", METHODS)
    if subset is not None:
        if method not in (None, "subset"):
            raise ValueError(
                f"method={method!r} estimates the whole network's flux; a subset "
                "(neurons=...) uses method='subset'"
            )
        return "subset"
    if method == "subset":
        raise ValueError("method='subset' needs neurons= naming a proper subset")
    if method is None:
        return "mixture" if n <= MAX_MIXTURE_NEURONS else "moments"
    if method == "mixture" and n > MAX_MIXTURE_NEURONS:
        warnings.warn(
            f"soft_flux(method='mixture') is validated for n <= {MAX_MIXTURE_NEURONS}; "
            f"at n = {n} the mixture of num_components states is far smaller than "
            "2^H(X), so the value is log S plus a cross-entropy (an upper bound, not "
            "an estimate) and the gradient is that of the bound. Use method=None "
            "(the moments estimator).",
            stacklevel=3,
        )
    return method
