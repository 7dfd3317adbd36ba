"""fluxjax: information flux in recurrent networks of stochastic binary neurons."""

import importlib.metadata

from .builders import (
    L5Sizes as L5Sizes,
    degree_preserving_shuffle as degree_preserving_shuffle,
    ei_network as ei_network,
    isolated_core as isolated_core,
    l5_microcircuit as l5_microcircuit,
    lesion as lesion,
    random_network as random_network,
    shuffle_core_structure as shuffle_core_structure,
    subnetwork as subnetwork,
)
from .data import (
    BRUNEL_REGIMES as BRUNEL_REGIMES,
    SpikeRecording as SpikeRecording,
    Transitions as Transitions,
    as_transitions as as_transitions,
    bin_spikes as bin_spikes,
    load_brunel as load_brunel,
    read_nwb_units as read_nwb_units,
)
from .fit import (
    FitDiagnostics as FitDiagnostics,
    FluxBootstrap as FluxBootstrap,
    FluxOptimality as FluxOptimality,
    bootstrap_flux as bootstrap_flux,
    data_flux as data_flux,
    fit_network as fit_network,
    flux_optimality as flux_optimality,
)
from .info.correlation import correlation_proxy as correlation_proxy
from .info.exact import (
    exact_conditional_entropy as exact_conditional_entropy,
    exact_entropy as exact_entropy,
    exact_flux as exact_flux,
    exact_transfer_entropy as exact_transfer_entropy,
    exact_triplet_flux as exact_triplet_flux,
    stationary_distribution as stationary_distribution,
    transition_matrix as transition_matrix,
    weight_components as weight_components,
)
from .info.gaussian import (
    exact_gaussian_flux as exact_gaussian_flux,
    exact_moment_flux as exact_moment_flux,
    gaussian_flux as gaussian_flux,
    gaussian_flux_stderr as gaussian_flux_stderr,
    gaussian_information as gaussian_information,
)
from .info.moments import (
    FluxBounds as FluxBounds,
    flux_bounds as flux_bounds,
    moment_flux as moment_flux,
    moment_flux_stderr as moment_flux_stderr,
)
from .info.nsb import (
    nsb_entropy as nsb_entropy,
    nsb_flux as nsb_flux,
    nsb_flux_stderr as nsb_flux_stderr,
)
from .info.plugin import (
    plugin_entropy as plugin_entropy,
    plugin_flux as plugin_flux,
    plugin_flux_stderr as plugin_flux_stderr,
    plugin_transfer_entropy as plugin_transfer_entropy,
    plugin_triplet_flux as plugin_triplet_flux,
    plugin_triplet_flux_from_counts as plugin_triplet_flux_from_counts,
)
from .info.results import Estimate as Estimate, TripletFlux as TripletFlux
from .info.soft import (
    Mixture as Mixture,
    Moments as Moments,
    SoftEstimator as SoftEstimator,
    Subset as Subset,
    soft_flux as soft_flux,
)
from .io import (
    Orientation as Orientation,
    from_json as from_json,
    load as load,
    read_biases as read_biases,
    read_weights as read_weights,
    save as save,
    to_json as to_json,
)
from .measure import FluxMethod as FluxMethod, FluxResult as FluxResult, flux as flux
from .network import (
    NOISE_NODE_COUNTS as NOISE_NODE_COUNTS,
    NOISE_NODE_LIMITS as NOISE_NODE_LIMITS,
    NUM_NOISE_NODES as NUM_NOISE_NODES,
    BinaryNetwork as BinaryNetwork,
)
from .optimize import (
    INFOMAX_TARGET_RATE as INFOMAX_TARGET_RATE,
    FluxObjective as FluxObjective,
    HillClimbHistory as HillClimbHistory,
    History as History,
    SelfOrganizationHistory as SelfOrganizationHistory,
    hill_climb as hill_climb,
    optimize_biases as optimize_biases,
    self_organize as self_organize,
    single_bias_gains as single_bias_gains,
)
from .simulate import (
    Codes as Codes,
    PairCounts as PairCounts,
    Probabilities as Probabilities,
    Record as Record,
    States as States,
    simulate as simulate,
    simulate_ensemble as simulate_ensemble,
    stack_networks as stack_networks,
    state_codes as state_codes,
)


__version__ = importlib.metadata.version("fluxjax")
