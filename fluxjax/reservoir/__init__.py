"""Reservoir computing with binary stochastic networks.

Input drive (:class:`Reservoir`), intrinsic plasticity, linear readouts and the
standard benchmark tasks.
"""

from .driven import (
    Reservoir as Reservoir,
    random_input_weights as random_input_weights,
    run_ensemble as run_ensemble,
)
from .plasticity import intrinsic_plasticity as intrinsic_plasticity
from .readout import (
    RIDGES as RIDGES,
    Classifier as Classifier,
    Readout as Readout,
    fit_classifier as fit_classifier,
    fit_classifier_validated as fit_classifier_validated,
    fit_ridge as fit_ridge,
    fit_ridge_validated as fit_ridge_validated,
)
from .tasks import (
    NARMA_BOUND as NARMA_BOUND,
    NARMA_ORDER as NARMA_ORDER,
    Split as Split,
    TaskScore as TaskScore,
    memory_capacity as memory_capacity,
    memory_capacity_inputs as memory_capacity_inputs,
    narma10 as narma10,
    narma10_inputs as narma10_inputs,
    narma10_nrmse as narma10_nrmse,
    parity_bits as parity_bits,
    parity_inputs as parity_inputs,
)
