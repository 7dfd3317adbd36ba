"""The typed results of the information measures (bits)."""

from typing import NamedTuple

from jaxtyping import Array, Float


class Estimate(NamedTuple):
    """A sampled estimate and its standard error, in bits.

    Attributes:
        value: the estimate, ``(...)``.
        stderr: its standard error (sampling noise only, not the estimator's bias).
    """

    value: Float[Array, "*batch"]
    stderr: Float[Array, "*batch"]


class TripletFlux(NamedTuple):
    """The paper's triplet flux indicator (Metzner et al. 2026, Methods), in bits.

    Attributes:
        intra: mean_k I(c_k(t); c_k(t+1)) over the triplet codes c_k.
        inter: mean_{k != l} I(c_k(t); c_l(t+1)).
    """

    intra: Float[Array, "*batch"]
    inter: Float[Array, "*batch"]
