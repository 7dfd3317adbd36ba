"""Bad input, fuzzed: every public function's arguments get values of every kind.

Each generated case must either give a valid result (finite numbers of the documented
kind) or raise ValueError / TypeError whose message names the argument. An XLA error,
any other exception, a NaN or a hang fails the case. One argument is fuzzed at a time,
the others valid; ``pytest -m slow tests/test_fuzz.py --hypothesis-show-statistics``
reports the number of cases per function and argument.
"""

import os
import tempfile
import warnings

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fluxjax as fj
from fluxjax import reservoir as rc


pytestmark = pytest.mark.slow

CASES = settings(
    max_examples=60,
    deadline=None,  # the first call of a shape compiles
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,  # the same cases in every run (CI and here)
)

NET = fj.BinaryNetwork(
    [[0.0, 1.5, -1.0], [0.5, 0.0, 1.0], [-1.0, 2.0, 0.0]], [0.1, -0.5, 0.2]
)
NOISY = fj.BinaryNetwork(NET.weights, NET.biases, noise=0.5)
KEY = jax.random.key(0)
L5, GROUPS = fj.l5_microcircuit(42)
FEATURES = np.random.default_rng(0).normal(size=(60, 3))
INPUTS = np.random.default_rng(1).uniform(-0.8, 0.8, 60)
SPLIT = rc.Split(5, 30, 10, 15)
WEIGHTS_FILE = os.path.join(tempfile.mkdtemp(), "weights.npy")
np.save(WEIGHTS_FILE, np.eye(3))

KEYS = {
    "typed": lambda: jax.random.key(1),
    "legacy uint32": lambda: jax.random.PRNGKey(1),
    "a batch of keys": lambda: jax.random.split(jax.random.key(1), 2),
    "an int": lambda: 3,
    "uint32 of shape (3,)": lambda: np.zeros(3, np.uint32),
    "a float array": lambda: np.zeros(2),
}

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_, np.complex64, np.uint8]


def _arrays():
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return st.one_of(
        *(hnp.arrays(dtype, shapes) for dtype in DTYPES),
        st.just(np.array([None, 1.0], dtype=object)),
    )


def junk():
    """Any value an argument might wrongly (or rightly) be given."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-4, 40),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        st.complex_numbers(max_magnitude=4),
        st.text(max_size=3),
        st.lists(st.floats(-3, 3, width=32), max_size=4),
        st.lists(st.lists(st.integers(-2, 2), max_size=3), max_size=3),
        _arrays(),
        st.sampled_from(sorted(KEYS)).map(lambda name: KEYS[name]()),
    )


def _finite(result) -> None:
    """Every floating leaf of ``result`` is finite (a silent NaN fails the case)."""
    for leaf in jax.tree.leaves(result):
        values = np.asarray(leaf)
        if np.issubdtype(values.dtype, np.inexact):
            assert np.all(np.isfinite(values)), f"non-finite result {values}"


def check(call, *names: str) -> None:
    """``call()`` gives a finite result, or a ValueError/TypeError naming an argument."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # regime warnings are allowed
            result = call()
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(name in message for name in names), (
            f"{type(error).__name__} does not name {names}: {message}"
        )
        assert "XlaRuntimeError" not in message and "Traceback" not in message
        return
    _finite(result)


def _exact(net, key):
    return fj.exact_flux(net)


FUNCTIONS = {
    # constructors
    "BinaryNetwork.weights": lambda v: fj.BinaryNetwork(v, [0.0, 0.0]),
    "BinaryNetwork.biases": lambda v: fj.BinaryNetwork(np.eye(2), v),
    "BinaryNetwork.temperature": lambda v: fj.BinaryNetwork(np.eye(2), [0.0, 0.0], v),
    "BinaryNetwork.noise": lambda v: fj.BinaryNetwork(np.eye(2), [0.0, 0.0], 1.0, v),
    "BinaryNetwork.from_bipolar.weights": lambda v: fj.BinaryNetwork.from_bipolar(
        v, [0.0, 0.0]
    ),
    "ei_network.num_neurons": lambda v: fj.ei_network(v, key=KEY),
    "ei_network.key": lambda v: fj.ei_network(4, key=v),
    "ei_network.strength": lambda v: fj.ei_network(4, key=KEY, strength=v),
    "ei_network.in_degree": lambda v: fj.ei_network(4, key=KEY, in_degree=v),
    "ei_network.excitatory_fraction": lambda v: fj.ei_network(
        4, key=KEY, excitatory_fraction=v
    ),
    "random_network.num_neurons": lambda v: fj.random_network(v, key=KEY),
    "random_network.density": lambda v: fj.random_network(3, key=KEY, density=v),
    "random_network.weight_scale": lambda v: fj.random_network(
        3, key=KEY, weight_scale=v
    ),
    "l5_microcircuit.seed": lambda v: fj.l5_microcircuit(v),
    "l5_microcircuit.core_density": lambda v: fj.l5_microcircuit(42, core_density=v),
    "l5_microcircuit.t0": lambda v: fj.l5_microcircuit(42, t0=v),
    "isolated_core.groups": lambda v: fj.isolated_core(L5, v),
    "lesion.source": lambda v: fj.lesion(L5, GROUPS, v),
    "subnetwork.neurons": lambda v: fj.subnetwork(NET, v),
    "degree_preserving_shuffle.seed": lambda v: fj.degree_preserving_shuffle(
        L5, GROUPS, v
    ),
    "shuffle_core_structure.seed": lambda v: fj.shuffle_core_structure(L5, GROUPS, v),
    "stack_networks.nets": lambda v: fj.stack_networks(v),
    # simulation
    "simulate_ensemble.nets": lambda v: fj.simulate_ensemble(v, KEY, 5),
    "simulate_ensemble.key": lambda v: fj.simulate_ensemble([NET, NET], v, 5),
    "simulate.net": lambda v: fj.simulate(v, KEY, 5),
    "simulate.key": lambda v: fj.simulate(NET, v, 5),
    "simulate.steps": lambda v: fj.simulate(NET, KEY, v),
    "simulate.batch": lambda v: fj.simulate(NET, KEY, 5, batch=v),
    "simulate.burn_in": lambda v: fj.simulate(NET, KEY, 5, burn_in=v),
    "simulate.x0": lambda v: fj.simulate(NET, KEY, 5, x0=v),
    "simulate.neurons": lambda v: fj.simulate(NET, KEY, 5, record=fj.States(v)),
    "simulate.record": lambda v: fj.simulate(NET, KEY, 5, record=v),
    "simulate.drive": lambda v: fj.simulate(NET, KEY, 5, drive=v),
    # exact
    "transition_matrix.net": lambda v: fj.transition_matrix(v),
    "stationary_distribution.max_neurons": lambda v: fj.stationary_distribution(
        NET, max_neurons=v
    ),
    "exact_conditional_entropy.net": lambda v: fj.exact_conditional_entropy(v),
    "exact_transfer_entropy.target": lambda v: fj.exact_transfer_entropy(NET, v),
    "weight_components.net": lambda v: fj.weight_components(v),
    "exact_flux.net": lambda v: fj.exact_flux(v),
    "exact_flux.neurons": lambda v: fj.exact_flux(NET, v),
    "exact_flux.max_neurons": lambda v: fj.exact_flux(NET, max_neurons=v),
    "exact_entropy.components": lambda v: fj.exact_entropy(NET, components=v),
    "exact_triplet_flux.triplets": lambda v: fj.exact_triplet_flux(NET, v),
    "exact_gaussian_flux.net": lambda v: fj.exact_gaussian_flux(v),
    "exact_moment_flux.max_neurons": lambda v: fj.exact_moment_flux(NET, max_neurons=v),
    "gaussian_information.covariance": lambda v: fj.gaussian_information(
        v, np.zeros((2, 2))
    ),
    "gaussian_information.lagged_covariance": lambda v: fj.gaussian_information(
        np.eye(2), v
    ),
    "gaussian_information.base": lambda v: fj.gaussian_information(
        np.eye(2), 0.5 * np.eye(2), base=v
    ),
    # plug-in
    "plugin_flux.states": lambda v: fj.plugin_flux(v),
    "plugin_flux.correction": lambda v: fj.plugin_flux(
        np.eye(3, dtype=bool)[np.arange(30) % 3], v, key=KEY
    ),
    "plugin_flux_stderr.num_blocks": lambda v: fj.plugin_flux_stderr(
        np.eye(3, dtype=bool)[np.arange(400) % 3], num_blocks=v
    ),
    "nsb_entropy.counts": lambda v: fj.nsb_entropy(v, 64),
    "nsb_entropy.alphabet_size": lambda v: fj.nsb_entropy(np.array([3, 1, 2]), v),
    "nsb_flux.states": lambda v: fj.nsb_flux(v),
    "nsb_flux.num_states": lambda v: fj.nsb_flux(np.arange(40) % 3, num_states=v),
    "nsb_flux_stderr.num_blocks": lambda v: fj.nsb_flux_stderr(
        np.eye(3, dtype=bool)[np.arange(400) % 3], num_blocks=v
    ),
    "state_codes.states": lambda v: fj.state_codes(v),
    "plugin_entropy.states": lambda v: fj.plugin_entropy(v),
    "plugin_transfer_entropy.source": lambda v: fj.plugin_transfer_entropy(
        np.arange(40) % 2 == 0, v
    ),
    "plugin_triplet_flux.triplets": lambda v: fj.plugin_triplet_flux(
        np.eye(3, dtype=bool)[np.arange(30) % 3], v
    ),
    "plugin_triplet_flux_from_counts.counts": lambda v: (
        fj.plugin_triplet_flux_from_counts(v)
    ),
    # differentiable estimates
    "soft_flux.key": lambda v: fj.soft_flux(NET, v, 200, burn_in=10),
    "soft_flux.steps": lambda v: fj.soft_flux(NET, KEY, v, burn_in=10),
    "soft_flux.window": lambda v: fj.soft_flux(
        NET, KEY, 200, burn_in=10, estimator=fj.Mixture(window=v)
    ),
    "soft_flux.num_components": lambda v: fj.soft_flux(
        NET, KEY, 200, burn_in=10, estimator=fj.Mixture(num_components=v)
    ),
    "soft_flux.neurons": lambda v: fj.soft_flux(NET, KEY, 200, burn_in=10, neurons=v),
    "soft_flux.estimator": lambda v: fj.soft_flux(
        NET, KEY, 200, burn_in=10, estimator=v
    ),
    "correlation_proxy.steps": lambda v: fj.correlation_proxy(NET, KEY, v, burn_in=10),
    "moment_flux_stderr.steps": lambda v: fj.moment_flux_stderr(
        NET, KEY, v, burn_in=10, num_chains=2
    ),
    "moment_flux_stderr.num_chains": lambda v: fj.moment_flux_stderr(
        NET, KEY, 600, burn_in=10, num_chains=v
    ),
    "flux_bounds.subset_size": lambda v: fj.flux_bounds(
        NET, KEY, 600, burn_in=10, num_chains=2, subset_size=v
    ),
    "flux_bounds.neurons": lambda v: fj.flux_bounds(
        NET, KEY, 600, burn_in=10, num_chains=2, neurons=v
    ),
    # the front door and io
    "flux.key": lambda v: fj.flux(NET, v),
    "flux.method": lambda v: fj.flux(NET, KEY, method=v),
    "flux.steps": lambda v: fj.flux(NET, KEY, method=fj.FluxMethod.MOMENTS, steps=v),
    "moment_flux.steps": lambda v: fj.moment_flux(
        NET, KEY, v, burn_in=10, num_chains=2
    ),
    "gaussian_flux.steps": lambda v: fj.gaussian_flux(
        NET, KEY, v, burn_in=10, num_chains=2
    ),
    "gaussian_flux_stderr.num_chains": lambda v: fj.gaussian_flux_stderr(
        NET, KEY, 600, burn_in=10, num_chains=v
    ),
    "save.net": lambda v: fj.save(os.devnull, v),
    "read_weights.orientation": lambda v: fj.read_weights(WEIGHTS_FILE, v),
    "from_json.result": lambda v: fj.from_json(fj.Estimate, v),
    "load_brunel.regime": lambda v: fj.load_brunel(v),
    # optimisers
    "optimize_biases.objective": lambda v: fj.optimize_biases(NET, KEY, v, steps=2),
    "optimize_biases.steps": lambda v: fj.optimize_biases(NET, KEY, _exact, steps=v),
    "optimize_biases.tol": lambda v: fj.optimize_biases(
        NET, KEY, _exact, steps=2, tol=v
    ),
    "optimize_biases.trainable": lambda v: fj.optimize_biases(
        NET, KEY, _exact, steps=2, trainable=v
    ),
    "optimize_biases.fields": lambda v: fj.optimize_biases(
        NOISY, KEY, _exact, steps=2, fields=v
    ),
    "optimize_biases.optimizer": lambda v: fj.optimize_biases(
        NET, KEY, _exact, steps=2, optimizer=v
    ),
    "hill_climb.iterations": lambda v: fj.hill_climb(
        NET, KEY, _exact, iterations=v, halve_at=None
    ),
    "hill_climb.step_size": lambda v: fj.hill_climb(
        NET, KEY, _exact, iterations=2, step_size=v
    ),
    "single_bias_gains.delta": lambda v: fj.single_bias_gains(
        NET, fj.exact_flux, delta=v
    ),
    "single_bias_gains.objective": lambda v: fj.single_bias_gains(NET, v),
    "self_organize.steps": lambda v: fj.self_organize(NET, KEY, v),
    "self_organize.rate": lambda v: fj.self_organize(NET, KEY, 20, rate=v),
    "self_organize.target": lambda v: fj.self_organize(NET, KEY, 20, target=v),
    "self_organize.neurons": lambda v: fj.self_organize(NET, KEY, 20, neurons=v),
    "self_organize.snapshots": lambda v: fj.self_organize(NET, KEY, 20, snapshots=v),
    # reservoirs
    "Reservoir.input_weights": lambda v: rc.Reservoir(NET, v).input_weights,
    "Reservoir.run.inputs": lambda v: rc.Reservoir(NET, np.ones((1, 3))).run(KEY, v),
    "random_input_weights.num_inputs": lambda v: rc.random_input_weights(KEY, v, 3),
    "memory_capacity.features": lambda v: rc.memory_capacity(
        v, INPUTS, SPLIT, max_delay=3
    ),
    "memory_capacity.split": lambda v: rc.memory_capacity(
        FEATURES, INPUTS, v, max_delay=3
    ),
    "memory_capacity.max_delay": lambda v: rc.memory_capacity(
        FEATURES, INPUTS, SPLIT, max_delay=v
    ),
    "fit_ridge.targets": lambda v: rc.fit_ridge(FEATURES, v, 1.0),
    "fit_ridge.ridge": lambda v: rc.fit_ridge(FEATURES, INPUTS, v),
    "narma10.inputs": lambda v: rc.narma10(v),
}


ALSO_NAMED = {
    "BinaryNetwork.weights": ("biases",),  # n from the weights, against 2 biases
    "BinaryNetwork.from_bipolar.weights": ("biases",),
}
"""Cases where a valid value of the fuzzed argument can make another one wrong."""


@pytest.mark.parametrize("case", sorted(FUNCTIONS))
@CASES
@given(value=junk())
def test_bad_input_is_rejected_by_name_or_gives_a_valid_result(case, value):
    names = (case.rsplit(".", 1)[-1], *ALSO_NAMED.get(case, ()))
    check(lambda: FUNCTIONS[case](value), *names)


NOT_YET_FUZZED = {
    # added in session 13 and tested by name elsewhere (tests/test_io.py,
    # tests/test_data.py, tests/test_fit.py); their file paths and data arguments
    # still need generators of their own here
    "load",
    "read_biases",
    "to_json",
    "as_transitions",
    "bin_spikes",
    "read_nwb_units",
    "fit_network",
    "bootstrap_flux",
    "data_flux",
    "flux_optimality",
}


def test_the_fuzzed_table_covers_the_public_api():
    """Every public function and constructor of fluxjax has a fuzzed argument."""
    fuzzed = {case.split(".")[0] for case in FUNCTIONS} | NOT_YET_FUZZED
    public = {
        name
        for name in dir(fj)
        if not name.startswith("_")
        and callable(getattr(fj, name))
        and (name == "BinaryNetwork" or not isinstance(getattr(fj, name), type))
    }
    assert public - fuzzed == set()
