"""Ensembles sharded over several devices give the results of one device.

Runs a child process with four CPU devices (``--xla_force_host_platform_device_count``
must be set before JAX starts) and compares its results with one device in the child
and with this process (one CPU device).
"""

import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax.random as jr
import numpy as np
import pytest
from conftest import random_weights

import fluxjax as fj


def networks():
    """Six 5-neuron networks (six is not a multiple of four: the ensemble is padded)."""
    nets = []
    for seed in range(6):
        W, b = random_weights(np.random.default_rng(seed), 5)
        nets.append(fj.BinaryNetwork(W, b, 1.0, 0.25 * seed))
    return nets


CHILD = textwrap.dedent(
    """
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    import jax.random as jr
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from test_sharding import networks
    import fluxjax as fj

    assert jax.device_count() == 4, jax.devices()
    simulate_module = sys.modules["fluxjax.simulate"]
    nets, key, one = networks(), jr.key(7), jax.devices()[:1]
    results = {}
    for name, kwargs in [
        ("states", dict(burn_in=10)),
        ("counts", dict(record=fj.PairCounts([[0, 1], [2, 3, 4]]))),
    ]:
        sharded = fj.simulate_ensemble(nets, key, 300, **kwargs)
        single = fj.simulate_ensemble(nets, key, 300, devices=one, **kwargs)
        np.testing.assert_array_equal(sharded, single)
        results["ensemble_" + name] = np.asarray(sharded)
    replicas = fj.simulate(nets[3], key, 300, batch=6, burn_in=5)
    np.testing.assert_array_equal(
        replicas, fj.simulate(nets[3], key, 300, batch=6, burn_in=5, devices=one)
    )
    results["replicas"] = np.asarray(replicas)

    # Driven: one drive per network (probabilities) and one per replica (states).
    drives = np.random.default_rng(0).normal(0, 1, (6, 300, 5))
    driven = fj.simulate_ensemble(nets, key, 300, drive=drives, record=fj.Probabilities())
    np.testing.assert_array_equal(
        driven,
        fj.simulate_ensemble(
            nets, key, 300, drive=drives, record=fj.Probabilities(), devices=one
        ),
    )
    results["driven_ensemble"] = np.asarray(driven)
    driven = fj.simulate(nets[3], key, 295, batch=6, burn_in=5, drive=drives)
    np.testing.assert_array_equal(
        driven,
        fj.simulate(nets[3], key, 295, batch=6, burn_in=5, drive=drives, devices=one),
    )
    results["driven_replicas"] = np.asarray(driven)

    # Eight networks on four devices: each device holds and computes two of them.
    out = fj.simulate_ensemble(nets + nets[:2], key, 300)
    assert len(out.sharding.device_set) == 4, out.sharding
    assert {shard.data.shape for shard in out.addressable_shards} == {(2, 300, 5)}
    stacked, axes = fj.stack_networks(nets + nets[:2])
    plan = simulate_module._plan(nets[0], 300, 0, fj.States(), 8, None)
    mesh = simulate_module._mesh(None, 8)
    keys = jax.vmap(lambda k: jr.fold_in(key, k))(jax.numpy.arange(8))
    hlo = simulate_module._simulate_ensemble.lower(
        stacked, axes, keys, None, 8, 8, plan, mesh
    )
    text = hlo.compile().compiled.as_text()
    assert "pred[2,5]" in text  # the carried state of two networks per device
    for collective in ("all-gather", "all-reduce", "all-to-all", "collective-permute"):
        assert collective not in text, collective  # no communication in the loop
    np.savez(sys.argv[1], **results)
    """
)


@pytest.mark.slow
@pytest.mark.float64  # the child process runs in float64 too
def test_sharded_ensembles_equal_one_device(tmp_path):
    out = tmp_path / "sharded.npz"
    flags = f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags)
    env["JAX_PLATFORMS"] = "cpu"
    here = os.path.dirname(__file__)
    subprocess.run(
        [sys.executable, "-c", CHILD, str(out), here],
        env=env,
        check=True,
        timeout=600,
    )
    sharded = np.load(out)
    nets, key = networks(), jr.key(7)
    np.testing.assert_array_equal(
        sharded["ensemble_states"], fj.simulate_ensemble(nets, key, 300, burn_in=10)
    )
    counts = fj.simulate_ensemble(
        nets, key, 300, record=fj.PairCounts([[0, 1], [2, 3, 4]])
    )
    np.testing.assert_array_equal(sharded["ensemble_counts"], counts)
    np.testing.assert_array_equal(
        sharded["replicas"], fj.simulate(nets[3], key, 300, batch=6, burn_in=5)
    )
    drives = np.random.default_rng(0).normal(0, 1, (6, 300, 5))
    np.testing.assert_array_equal(
        sharded["driven_ensemble"],
        fj.simulate_ensemble(nets, key, 300, drive=drives, record=fj.Probabilities()),
    )
    np.testing.assert_array_equal(
        sharded["driven_replicas"],
        fj.simulate(nets[3], key, 295, batch=6, burn_in=5, drive=drives),
    )


ESTIMATOR_CHILD = textwrap.dedent(
    """
    import sys
    import jax
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from test_sharding import estimates
    assert jax.device_count() == 4, jax.devices()
    sharded = estimates()
    with jax.default_device(jax.devices()[0]):
        single = estimates()
    for a, b in zip(sharded, single):
        np.testing.assert_array_equal(a, b)
    np.savez(sys.argv[1], *sharded)
    """
)


def estimates():
    """soft_flux's value and gradient (the moments estimator: 20 chains, sharded over
    the devices) and moment_flux_stderr of the paper's 125-neuron network, float32."""
    net, _ = fj.l5_microcircuit(42)
    value, grads = eqx.filter_value_and_grad(fj.soft_flux)(net, jr.key(0), 20_000)
    flux, stderr = fj.moment_flux_stderr(net, jr.key(0), 20_000)
    return [np.asarray(a) for a in (value, grads.biases, grads.weights, flux, stderr)]


@pytest.mark.slow
def test_flux_estimates_on_four_devices_equal_one_device(tmp_path):
    """In the child, chains sharded over four devices give the bits of the same chains
    on one of them (``jax.default_device``): every sum over samples runs in a fixed
    order (the gradient's innovation regression once was one contraction over all
    samples, which a mesh splits). Against this process (one CPU device) the results
    agree to float32 rounding only: XLA's CPU matrix products cut their work by the
    threads per device, which the device count changes, and so does their rounding."""
    out = tmp_path / "estimates.npz"
    flags = f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    subprocess.run(
        [sys.executable, "-c", ESTIMATOR_CHILD, str(out), os.path.dirname(__file__)],
        env=env,
        check=True,
        timeout=600,
    )
    sharded = np.load(out)
    for i, expected in enumerate(estimates()):
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(sharded[f"arr_{i}"], expected, atol=1e-5 * scale)
