"""The fluctuation study: a recorded embedding replayed into the isolated core (bit for
bit), the surrogates' statistics on that recorded signal, the study's own closed-form
identities, and claim 3's decision rule on constructed data."""

import dataclasses

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from test_surrogates import Ar1Errors, Z, iid_errors, lag_cov, np_stats

import fluxjax as fj
from fluxjax.experiments import claims, fluctuations
from fluxjax.experiments._common import StudyConfig
from fluxjax.io import from_json, to_json
from fluxjax.surrogates import (
    circular_shift,
    gaussian_ar1,
    gaussian_lag0,
    independent_gaussian,
    shuffle_time,
)


@pytest.mark.float64
def test_replayed_input_reproduces_the_embedded_core_bit_for_bit(getkey):
    """The paper's network (seed 42, float64): the isolated core driven by the
    recorded U(t) = x_t[rest] @ W[rest, core], from x_0[core] and with the recording's
    run key (the core neurons' own random numbers), repeats the core's trajectory in
    the network, burn-in or not; a drive without the fluctuations does not."""
    net, groups = fj.l5_microcircuit(42, dtype=jnp.float64)
    updates, burn_in = 3000, 500
    recording = fluctuations.record_signal(net, groups, getkey(), updates)
    assert recording.signal.dtype == np.float64
    # The recording against the public simulate and U by hand.
    full = np.asarray(fj.simulate(net, recording.key, updates, x0=recording.x0))
    assert (full[:, :10] == recording.core_states).all()
    before = np.concatenate([recording.x0[None], full[:-1]]).astype(float)
    W = np.asarray(net.weights)
    np.testing.assert_allclose(
        recording.signal, before[:, 10:] @ W[10:, :10], rtol=0, atol=1e-12
    )
    core = fj.isolated_core(net, groups)
    mean = np.broadcast_to(recording.signal.mean(0), recording.signal.shape)
    for skip in (0, burn_in):
        replay, biased = fluctuations.drive_core(
            core,
            jnp.stack([recording.key] * 2),
            recording.x0[:10],
            jnp.stack([recording.signal, mean]),
            steps=updates - skip,
            burn_in=skip,
        )
        assert (replay == recording.core_states[skip:]).all()
        assert not (biased == recording.core_states[skip:]).all()


def test_record_signal_needs_the_core_first():
    net, groups = fj.l5_microcircuit(42)
    moved = {**groups, "core": groups["core"] + 1}
    with pytest.raises(ValueError, match="neurons 0..k-1"):
        fluctuations.record_signal(net, moved, jr.key(0), 10)


@pytest.fixture(scope="module")
def recorded():
    """Seed 42's recorded embedding signal, 20 000 updates (float32)."""
    net, groups = fj.l5_microcircuit(42)
    return fluctuations.record_signal(net, groups, jr.key(7), 20_000).signal


def test_surrogates_keep_their_statistics_on_the_recorded_signal(recorded, getkey):
    """What each surrogate claims to keep, measured on the series it generates from
    the recorded embedding signal (Z = 5 standard errors, as tests/test_surrogates.py):
    shifted: marginals and autocovariance exactly, cross-correlations gone;
    shuffled: the lag-0 covariance exactly, lag-1 autocorrelation gone; Gaussian
    lag 0 and AR(1), independent: their moments within sampling error."""
    x = recorded
    T = len(x)
    mean, C0, C1 = np_stats(x)
    off = ~np.eye(10, dtype=bool)
    assert np.corrcoef(x.T)[off].mean() > 0.05  # a cross-correlation to break

    shifted = np.asarray(circular_shift(getkey(), x))
    np.testing.assert_array_equal(np.sort(shifted, 0), np.sort(x, 0))
    d_in, d_out = x - x.mean(0, dtype=np.float64), shifted - shifted.mean(0, np.float64)
    for k in (1, 2):  # circular autocovariance, neuron by neuron
        np.testing.assert_allclose(
            np.mean(d_out * np.roll(d_out, -k, 0), 0),
            np.mean(d_in * np.roll(d_in, -k, 0), 0),
            rtol=1e-10,
        )
    # After the shifts, corr(i, j) is the circular cross-correlation r_ij(k) of the
    # input at a random lag difference k: mean 0 over k, spread sd_ij (by FFT).
    f = np.fft.rfft(d_in, axis=0)
    norm = np.sqrt(np.outer((d_in**2).sum(0), (d_in**2).sum(0)))
    r = np.fft.irfft(np.conj(f)[:, :, None] * f[:, None, :], n=T, axis=0) / norm
    sd = np.sqrt(np.mean(r**2, axis=0))
    assert np.all(np.abs(np.corrcoef(shifted.T)[off]) < Z * sd[off])

    shuffled = np.asarray(shuffle_time(getkey(), x))
    np.testing.assert_allclose(lag_cov(shuffled, 0), lag_cov(x, 0), rtol=1e-10)
    r1 = np.diag(lag_cov(shuffled, 1)) / np.diag(lag_cov(shuffled, 0))
    assert np.all(np.abs(r1 + 1 / T) < Z / np.sqrt(T))

    se_mean, se_cov, se_lag1 = iid_errors(x)
    lag0 = np_stats(gaussian_lag0(getkey(), x))
    assert np.all(np.abs(lag0[0] - mean) < Z * se_mean)
    assert np.all(np.abs(lag0[1] - C0) < Z * se_cov)
    assert np.all(np.abs(lag0[2]) < Z * se_lag1)
    independent = np.asarray(independent_gaussian(getkey(), x))
    assert np.all(np.abs(independent.mean(0) - mean) < Z * se_mean)
    sd_x = np.sqrt(np.diag(C0))
    assert np.all(np.abs(independent.std(0) - sd_x) < Z * sd_x / np.sqrt(2 * T))
    assert np.all(np.abs(np_stats(independent)[1][off]) < Z * se_lag1[off])

    # Gaussian AR(1): its true statistics are the recorded ones, with the errors of
    # the VAR(1) A = C1^T C0^-1 (Bartlett's formula; A is small, so 20 lags suffice).
    errors = Ar1Errors(C1.T @ np.linalg.inv(C0), C0)
    se = (
        errors.mean_se(T),
        errors.bartlett_se(0, T, H=20),
        errors.bartlett_se(1, T, H=20),
    )
    for got, want, s in zip(np_stats(gaussian_ar1(getkey(), x)), (mean, C0, C1), se):
        assert np.all(np.abs(got - want) < Z * s)


TINY = dataclasses.replace(
    StudyConfig.quick_config(),
    num_seeds=2,
    steps=3_000,
    burn_in=200,
    fluctuation_scales=(0.0, 1.0, 2.0),
)


@pytest.mark.slow
@pytest.mark.float64
def test_study_identities_and_json_round_trip():
    """On a tiny float64 run: the replay is the embedded core (every step, so the
    same indicator and full flux); scale 0 of the sweep is biases_only and scale 1 is
    replay_fresh (the same drive, to rounding of the mean, and the same random
    numbers); the exact values belong to the cores with biases mu (and noise
    sigma / t0); the typed result survives JSON."""
    result = fluctuations.run(TINY)
    total = result.per_seed_total
    assert result.replay_identical.mean == 1.0
    assert total["replay"] == total["embedded"]
    assert result.conditions["replay"] == result.embedded
    assert result.full_flux["replay"] == result.full_flux["embedded"]
    sweep = result.scale_sweep.per_seed_total
    assert sweep[0] == total["biases_only"] and sweep[1] == total["replay_fresh"]
    assert total["replay_fresh"] != total["replay"]  # fresh random numbers
    for name in fluctuations.CONDITIONS:
        assert result.conditions[name].intra.n == 2
    assert (
        set(result.exact) == set(result.exact_full_flux) == {*fluctuations.AUTONOMOUS}
    )
    data = to_json(result)
    assert to_json(from_json(fluctuations.FluctuationsResult, data)) == data


def test_autonomous_cores_put_the_drive_before_the_temperature():
    """A drive N(mu_i, sigma_i^2) added before the division by T is noise sigma_i / T
    after it; a constant drive mu is the bias mu; the core's own noise adds in
    variance."""
    core = fj.BinaryNetwork(np.zeros((2, 2)), [0.5, -0.5], temperature=4.0, noise=0.3)
    signal = np.array([[1.0, 2.0], [3.0, 2.0], [1.0, 6.0], [3.0, 6.0]])
    cores = fluctuations.autonomous_cores(core, signal)
    np.testing.assert_allclose(cores["biases_only"].biases, [2.5, 3.5])
    assert cores["biases_only"].noise == pytest.approx(0.3)
    np.testing.assert_allclose(cores["independent"].biases, [2.5, 3.5])
    np.testing.assert_allclose(
        np.asarray(cores["independent"].noise),
        np.sqrt(0.3**2 + (np.array([1.0, 2.0]) / 4) ** 2),
    )


def _totals(**means):
    """Per-seed totals: each condition's mean plus seed-to-seed jitter shared by all."""
    jitter = np.random.default_rng(0).normal(0, 5, 10)
    base = dict.fromkeys(fluctuations.CONDITIONS, 100.0)
    return {k: (v + jitter).tolist() for k, v in {**base, **means}.items()}


@pytest.mark.parametrize(
    "means, effect, kept, carriers",
    [
        ({}, "none", [], []),
        (  # temporal structure: the surrogates that keep memory keep the benefit
            dict(replay=110, replay_fresh=109, shifted=108, gaussian_ar1=106),
            "helps",
            ["replay_fresh", "shifted", "gaussian_ar1"],
            ["size", "memory"],
        ),
        (  # size alone: even independent noise keeps it
            dict(replay=110, replay_fresh=110, shifted=109, shuffled=109,
                 gaussian_lag0=108, gaussian_ar1=108, independent=107),
            "helps",
            ["replay_fresh", "shifted", "shuffled", "gaussian_lag0", "gaussian_ar1",
             "independent"],
            ["size"],
        ),
        (  # only the closed loop
            dict(replay=110, replay_fresh=101, shifted=100.5),
            "helps",
            [],
            list(fluctuations.PROPERTIES),
        ),
        (  # a harm, kept by the surrogates without cross-correlations
            dict(replay=95, replay_fresh=95, shifted=90, independent=91),
            "hurts",
            ["replay_fresh", "shifted", "independent"],
            ["size"],
        ),
        (  # a third of the replay's gain is not enough
            dict(replay=112, replay_fresh=112, shifted=104, gaussian_ar1=111),
            "helps",
            ["replay_fresh", "gaussian_ar1"],
            ["size", "correlation", "memory"],
        ),
    ],
)  # fmt: skip
def test_fluctuation_verdict_follows_the_stated_rule(means, effect, kept, carriers):
    found = claims.fluctuation_verdict(_totals(**means))
    assert found == claims.FluctuationVerdict(effect, kept, carriers)


def test_fluctuation_verdict_needs_most_seeds():
    """8 of 10 seeds (FLUCTUATION_WIN_FRACTION = 0.8) decide; 7 do not."""
    totals = _totals()
    for wins, effect in ((8, "helps"), (7, "none")):
        replay = np.array(totals["biases_only"]) - 1.0
        replay[:wins] += 2.0
        found = claims.fluctuation_verdict({**totals, "replay": replay.tolist()})
        assert found.effect == effect
