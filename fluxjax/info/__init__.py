"""Information measures: exact, Gaussian, plug-in and NSB estimators, in bits."""

from .._codes import all_states as all_states
from .correlation import correlation_proxy as correlation_proxy
from .exact import (
    exact_conditional_entropy as exact_conditional_entropy,
    exact_entropy as exact_entropy,
    exact_flux as exact_flux,
    exact_transfer_entropy as exact_transfer_entropy,
    exact_triplet_flux as exact_triplet_flux,
    stationary_distribution as stationary_distribution,
    transition_matrix as transition_matrix,
    weight_components as weight_components,
)
from .gaussian import (
    exact_gaussian_flux as exact_gaussian_flux,
    exact_moment_flux as exact_moment_flux,
    gaussian_flux as gaussian_flux,
    gaussian_flux_stderr as gaussian_flux_stderr,
    gaussian_information as gaussian_information,
)
from .mixture import mixture_flux as mixture_flux
from .moments import (
    FluxBounds as FluxBounds,
    flux_bounds as flux_bounds,
    moment_flux as moment_flux,
    moment_flux_stderr as moment_flux_stderr,
)
from .nsb import (
    nsb_entropy as nsb_entropy,
    nsb_flux as nsb_flux,
    nsb_flux_stderr as nsb_flux_stderr,
)
from .plugin import (
    plugin_entropy as plugin_entropy,
    plugin_flux as plugin_flux,
    plugin_flux_stderr as plugin_flux_stderr,
    plugin_transfer_entropy as plugin_transfer_entropy,
    plugin_triplet_flux as plugin_triplet_flux,
    plugin_triplet_flux_from_counts as plugin_triplet_flux_from_counts,
)
from .results import Estimate as Estimate, TripletFlux as TripletFlux
from .soft import (
    Mixture as Mixture,
    Moments as Moments,
    SoftEstimator as SoftEstimator,
    Subset as Subset,
    soft_flux as soft_flux,
)
from .subset import subset_flux as subset_flux
