"""Reservoir computing with binary stochastic networks: input drive, plasticity."""

from .driven import (
    Reservoir as Reservoir,
    random_input_weights as random_input_weights,
    run_ensemble as run_ensemble,
)
from .plasticity import intrinsic_plasticity as intrinsic_plasticity
