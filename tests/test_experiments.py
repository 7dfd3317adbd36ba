"""The study's experiments on small configurations, against independent references:
a plain numpy simulation of the same network and exact enumeration of the core."""

import dataclasses
import errno
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import jax
import numpy as np
import pytest
import reference as ref
from conftest import random_weights
from test_brunel import TINY as TINY_BRUNEL
from test_scaling import TINY as TINY_SCALING
from tqdm import tqdm

import fluxjax as fj
from fluxjax.experiments import embedding, optimization, report, reproduce, reservoir
from fluxjax.experiments._common import (
    TRIPLETS,
    ReservoirConfig,
    StudyConfig,
    exact_flux_objective,
    flux_indicator,
)
from fluxjax.io import from_json, to_json


FLUCTUATION_CONDITIONS = (
    "replay",
    "replay_fresh",
    "shifted",
    "shuffled",
    "gaussian_lag0",
    "gaussian_ar1",
    "independent",
    "biases_only",
)
"""The items of results.json's "fluctuations" entry (besides "scale_sweep")."""

TINY = StudyConfig(
    num_seeds=2,
    steps=4_000,
    burn_in=200,
    signal_steps=2_000,
    noise_levels=(0.0, 2.0, 8.0),
    uniform_biases=(-8.0, 0.0),
    inhibitory_scales=(-1.0, 0.0),
    core_densities=(0.35,),
    temperatures=(5.0,),
    fluctuation_scales=(0.0, 1.0, 2.0),
    gradient_steps=3,
    soft_samples=500,
    hill_iterations=3,
    self_organization_steps=2_000,
    optimization_seeds=1,
    reservoir=ReservoirConfig(
        num_seeds=2,
        networks=((30, 2.0, 4), (30, 2.0, None)),
        paper_network=False,
        split=(30, 200, 80, 100),
        max_delay=10,
        parity_delays=3,
        uniform_biases=(-1.0, 0.0, 1.0),
        gradient_steps=2,
        # 150 n = 4500 transitions: moment_flux needs 10 (K + 1) per chain
        flux_steps_per_neuron=150,
        adaptation_steps=1_000,
        ceiling_biases=(0.0,),
        noise_levels=(0.0, 1.0),
    ),
    scaling=TINY_SCALING,  # the scaling part's tiny sizes (tests/test_scaling.py)
    brunel=TINY_BRUNEL,  # the Brunel part's (tests/test_brunel.py)
    quick=True,
)


@pytest.mark.slow
def test_sampled_indicator_of_the_isolated_core_matches_exact_enumeration():
    """The experiments' sampled indicator (10^5 steps, 4 replicas) agrees with the
    reference enumeration of the 1024-state isolated core at noise 0 and 2, within
    the plug-in bias (~0.4e-3 bit for 63 bins) plus 4 SD of the replica mean."""
    config = StudyConfig(num_seeds=1, steps=100_000, burn_in=1_000)
    net, groups = config.networks()[0]
    core = fj.isolated_core(net, groups)
    W, b = np.asarray(core.weights, float), np.asarray(core.biases, float)
    for noise in (0.0, 2.0):
        noisy = fj.BinaryNetwork(W, b, 5.0, noise)
        intra, inter = flux_indicator([noisy] * 4, jax.random.key(1), config)
        expected = ref.triplet_indicator(W, b, TRIPLETS, 5.0, noise)
        for sampled, exact in zip((intra, inter), expected):
            tolerance = 0.5e-3 + 4 * sampled.std(ddof=1) / 2
            assert abs(sampled.mean() - exact) < tolerance


def test_embedding_signal_matches_a_plain_numpy_simulation():
    """Population firing rates and each core neuron's effective bias mu_i and
    fluctuation sigma_i from fluxjax agree with a plain numpy loop simulating the
    same 125-neuron network (independent random numbers), within 6 standard errors
    (the embedding signal's lag-1 autocorrelation is ~0.02, so samples are nearly
    independent)."""
    net, groups = fj.l5_microcircuit(42)
    W = np.asarray(net.weights, float)
    core, rest = (
        list(groups["core"]),
        [i for i in range(125) if i not in groups["core"]],
    )
    steps = 20_000
    rng = np.random.default_rng(0)
    x0 = rng.integers(0, 2, 125).astype(bool)
    numpy_states = ref.simulate_reference(
        W, np.zeros(125), 5.0, 0.0, x0, np.zeros((steps, 125)), rng.random((steps, 125))
    )[1_000:]
    jax_states = np.asarray(
        fj.simulate(net, jax.random.key(3), steps - 1_000, burn_in=1_000)
    )
    for name in ("core", "periphery", "interneurons"):
        idx = groups[name]
        a, b = numpy_states[:, idx].mean(), jax_states[:, idx].mean()
        se = np.sqrt(a * (1 - a) / (len(numpy_states) / 20))  # autocorrelated spikes
        assert abs(a - b) < 6 * se, name
    u_numpy = embedding.embedding_signal(numpy_states, W, core, rest)
    u_jax = embedding.embedding_signal(jax_states, W, core, rest)
    se = u_numpy.std(0) * np.sqrt(2 / len(u_numpy))
    np.testing.assert_array_less(np.abs(u_numpy.mean(0) - u_jax.mean(0)), 6 * se)
    np.testing.assert_allclose(u_numpy.std(0), u_jax.std(0), rtol=0.05)


def test_embedding_signal_is_the_input_from_outside_the_core():
    """U = s_rest @ W[rest, core]: by hand on a 4-neuron example."""
    W = np.arange(16.0).reshape(4, 4)
    states = np.array([[1, 0, 1, 1], [0, 1, 0, 0]], bool)
    signal = embedding.embedding_signal(states, W, [0, 1], [2, 3])
    np.testing.assert_allclose(signal, [[W[2, 0] + W[3, 0], W[2, 1] + W[3, 1]], [0, 0]])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A whole reproduce at TINY sizes (2.5 minutes on two cores: its tests are slow)."""
    out = tmp_path_factory.mktemp("study")
    results = reproduce.reproduce(TINY, out, progress=False)
    return out, results


@pytest.mark.slow
def test_reproduce_writes_results_report_and_figures(tiny_run):
    out, results = tiny_run
    stored = json.loads((out / "results.json").read_text())
    for key in report.HEADLINE:
        assert key in stored
    for key in (
        "isolated",
        "embedded",
        "individual_biases",
        "uniform_optimal_bias",
        "optimized_biases",
        "self_organized_biases",
        "gradient_exact",
        "gradient_soft",
        "hill_climb",
    ):
        entry = stored[key]
        assert entry["intra"]["n"] >= 1 and entry["intra"]["mean"] > 0
    fluctuations = stored["fluctuations"]
    assert set(fluctuations) == {*FLUCTUATION_CONDITIONS, "scale_sweep"}
    for key in FLUCTUATION_CONDITIONS:
        for part in ("intra", "inter"):
            assert set(fluctuations[key][part]) == {"mean", "sd", "n"}
            assert fluctuations[key][part]["n"] == TINY.num_seeds
    assert fluctuations["scale_sweep"]["scales"] == list(TINY.fluctuation_scales)
    assert fluctuations == {
        **stored["parts"]["fluctuations"]["conditions"],
        "scale_sweep": stored["parts"]["fluctuations"]["scale_sweep"],
    }
    text = (out / "report.md").read_text()
    assert "Quick run" in text and "| claim |" in text and "Criteria:" in text
    assert "Verdict (claim 3):" in text
    for figure in report.FIGURES:
        assert (out / figure).stat().st_size > 10_000


@pytest.mark.slow
def test_headline_numbers_are_the_experiments_own(tiny_run):
    """The table repeats the parts' numbers; bar 1 is the embedded core and the
    isolated entry is the embedding experiment's isolated core."""
    _, results = tiny_run
    parts = results["parts"]
    assert results["embedded"] == parts["embedding"]["embedded"]
    assert results["isolated"] == parts["embedding"]["isolated"]
    assert results["uniform_optimal_bias"] == parts["bars"]["uniform_optimal_bias"]
    per_seed = parts["bars"]["per_seed_total"]
    np.testing.assert_allclose(
        np.mean(per_seed["embedded"]),
        results["embedded"]["intra"]["mean"] + results["embedded"]["inter"]["mean"],
    )


@pytest.mark.slow
def test_reproduce_resumes_finished_parts(tiny_run, monkeypatch):
    out, results = tiny_run

    def fail(*args):
        raise AssertionError("a finished part was recomputed")

    failing = {
        name: reproduce.Part(fail, part.kind) for name, part in reproduce.PARTS.items()
    }
    monkeypatch.setattr(reproduce, "PARTS", failing)
    again = reproduce.reproduce(TINY, out, progress=False)
    assert again["embedded"] == results["embedded"]
    # A different configuration recomputes; optimisation settings only that part.
    with pytest.raises(AssertionError, match="recomputed"):
        reproduce.reproduce(
            TINY.__class__(**{**TINY.__dict__, "steps": 5_000}), out, progress=False
        )
    ran = []
    parts = {
        name: reproduce.Part(lambda c, d, u, n=name: ran.append(n) or {}, part.kind)
        for name, part in reproduce.PARTS.items()
    }
    monkeypatch.setattr(reproduce, "PARTS", parts)
    changed = dataclasses.replace(TINY, hill_iterations=4)
    reproduce.run_parts(changed, out / "changed", progress=False)
    assert ran == list(reproduce.PARTS)  # a new directory: everything runs
    ran.clear()
    for name in reproduce.PARTS:  # the finished parts of the tiny run, copied
        (out / "changed" / "parts" / f"{name}.json").write_text(
            (out / "parts" / f"{name}.json").read_text()
        )
    reproduce.run_parts(changed, out / "changed", progress=False)
    assert ran == ["optimization"]


def _record_computed_parts(monkeypatch) -> list[str]:
    """The names of the parts computed from now on, in order (they still run)."""
    ran = []
    parts = {
        name: reproduce.Part(
            (lambda c, d, u, run=part.run, n=name: ran.append(n) or run(c, d, u)),
            part.kind,
        )
        for name, part in reproduce.PARTS.items()
    }
    monkeypatch.setattr(reproduce, "PARTS", parts)
    return ran


@pytest.mark.slow
def test_a_stale_part_is_marked_in_the_report_or_recomputed(tiny_run, monkeypatch):
    out, _ = tiny_run
    path = out / "parts" / "lesions.json"
    good = path.read_text()
    stored = json.loads(good)
    stored["provenance"]["source_sha256"] = "0" * 64
    ran = _record_computed_parts(monkeypatch)
    try:
        path.write_text(json.dumps(stored))
        results = reproduce.reproduce(TINY, out, progress=False, reuse_stale=True)
        assert ran == []
        assert results["meta"]["stale_parts"] == ["lesions"]
        assert "**Stale parts**: lesions" in (out / "report.md").read_text()
        results = reproduce.reproduce(TINY, out, progress=False)
        assert ran == ["lesions"]
        assert results["meta"]["stale_parts"] == []
        assert "Stale parts" not in (out / "report.md").read_text()
    finally:
        path.write_text(good)


@pytest.mark.slow
def test_typed_parts_round_trip_through_json(tiny_run):
    """Every part's JSON (results.json) rebuilds the typed result, and back."""
    _, results = tiny_run
    for name, part in reproduce.PARTS.items():
        typed = from_json(part.kind, results["parts"][name])
        assert isinstance(typed, part.kind)
        assert to_json(typed) == results["parts"][name]
    with pytest.raises(ValueError, match="lacks"):
        from_json(reproduce.PARTS["lesions"].kind, {"lesions": {}})


@pytest.mark.slow
def test_a_damaged_part_is_reported_and_recomputed(tiny_run, monkeypatch, capsys):
    out, _ = tiny_run
    path = out / "parts" / "lesions.json"
    good = path.read_text()
    ran = _record_computed_parts(monkeypatch)
    try:
        path.write_text(good[: len(good) // 2])  # truncated JSON
        reproduce.run_parts(TINY, out, progress=True)
        assert ran == ["lesions"]
        printed = capsys.readouterr()
        assert "lesions.json: not a readable part" in printed.out + printed.err
        assert json.loads(path.read_text())["result"] == json.loads(good)["result"]
    finally:
        path.write_text(good)


def _without_timings(value):
    """``value`` without the entries that hold wall-clock times (they differ per run):
    the parts' seconds, the metadata, and claim 5's evidence, which quotes seconds."""
    if isinstance(value, dict):
        if value.get("claim", "").startswith("5."):
            value = {k: v for k, v in value.items() if k != "evidence"}
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if k not in ("seconds", "meta")
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_a_run_killed_in_a_part_resumes_to_the_uninterrupted_results(
    tiny_run, tmp_path
):
    """SIGKILL in the middle of the scaling part (after its first finished unit);
    the re-run keeps the finished parts and units and writes the same results.json
    as the uninterrupted run with the same keys."""
    out = tmp_path / "killed"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from test_experiments import TINY; "
        "from fluxjax.experiments import reproduce; "
        "reproduce.reproduce(TINY, sys.argv[2], progress=False)"
    )
    tests = os.path.dirname(__file__)
    process = subprocess.Popen([sys.executable, "-c", code, tests, str(out)])
    units = out / "parts" / "scaling"
    try:
        for _ in range(6000):  # at most 10 minutes
            if process.poll() is not None or any(units.glob("*.json")):
                break
            time.sleep(0.1)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert not (out / "results.json").exists()
    assert not (out / "parts" / "scaling.json").exists()
    finished = {p.name for p in units.glob("*.json")}
    assert finished and (out / ".lock").exists()  # left by the killed run
    ran = []
    original = reproduce.UnitStore.__call__

    def counting(self, name, kind, compute):
        return original(self, name, kind, lambda: ran.append(name) or compute())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reproduce.UnitStore, "__call__", counting)
        results = reproduce.reproduce(TINY, out, progress=False)
    assert not {f"{name}.json" for name in ran} & finished  # finished units kept
    assert ran  # and the rest computed
    _, expected = tiny_run
    assert _without_timings(results) == _without_timings(expected)
    assert not units.exists()  # the part is written: its units are removed


def test_cli_rejects_bad_sizes(capsys):
    from fluxjax.cli import main

    with pytest.raises(SystemExit):
        main(["reproduce", "--seeds", "0"])
    assert "must be an integer >= 1" in capsys.readouterr().err


class _Tiny(NamedTuple):
    value: float


def _part_file(path, provenance, value=1.0):
    path.write_text(
        json.dumps(
            {
                "config": {"steps": 10},
                "provenance": provenance,
                "seconds": 2.0,
                "result": {"value": value},
            }
        )
    )


def test_a_part_from_other_code_is_recomputed_unless_reuse_stale(tmp_path, capsys):
    """A part file records the code that computed it; another fluxjax source, version
    or JAX version makes it stale: recomputed, or loaded and marked with reuse_stale."""
    part = reproduce.Part(None, _Tiny)
    path = tmp_path / "tiny.json"
    bar = tqdm(disable=True)
    current = reproduce.provenance()
    assert set(current) == {"fluxjax", "source_sha256", "jax"}
    assert len(current["source_sha256"]) == 64
    _part_file(path, current)
    assert reproduce._load_part(path, part, {"steps": 10}, bar) == (
        _Tiny(1.0),
        2.0,
        False,
    )
    assert reproduce._load_part(path, part, {"steps": 20}, bar) is None  # settings
    for changed in (
        {**current, "source_sha256": "0" * 64},
        {**current, "jax": "0.1"},
        None,
    ):
        _part_file(path, changed)
        assert reproduce._load_part(path, part, {"steps": 10}, bar) is None
        assert "computed by other code" in capsys.readouterr().out
        loaded = reproduce._load_part(path, part, {"steps": 10}, bar, reuse_stale=True)
        assert loaded == (_Tiny(1.0), 2.0, True)


def test_the_source_hash_changes_with_any_edit(tmp_path, monkeypatch):
    package = tmp_path / "fluxjax"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(reproduce.fj, "__file__", str(package / "__init__.py"))
    hashes = []
    for text in ("x = 1\n", "x = 2\n"):
        (package / "sub" / "a.py").write_text(text)
        reproduce.provenance.cache_clear()
        hashes.append(reproduce.provenance()["source_sha256"])
    reproduce.provenance.cache_clear()
    assert hashes[0] != hashes[1]


def test_two_runs_into_one_directory_fail_cleanly(tmp_path, capsys):
    with reproduce._locked(tmp_path):
        with pytest.raises(RuntimeError, match=f"pid {os.getpid()}"):
            with reproduce._locked(tmp_path):
                pass
        from fluxjax.cli import main

        assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 2
        assert "another fluxjax run" in capsys.readouterr().err
    assert not (tmp_path / ".lock").exists()
    # a lock left by a killed run (its process is gone) is taken over
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / ".lock").write_text(str(gone.pid))
    with reproduce._locked(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())


def test_cli_reports_an_unwritable_out_or_a_full_disk_in_one_line(
    tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxjax.cli",
            "reproduce",
            "--quick",
            "--out",
            str(blocker / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0], done.stderr
    assert str(blocker) in lines[0]
    from fluxjax.cli import main

    def full_disk(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results.json")

    monkeypatch.setattr(reproduce, "_reproduce", full_disk)
    assert main(["reproduce", "--quick", "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert "No space left on device" in message and message.count("\n") == 1
    assert not (tmp_path / "out" / ".lock").exists()


def _single_bias_changes(biases, delta=0.01):
    for i in range(len(biases)):
        for sign in (1.0, -1.0):
            moved = np.array(biases, dtype=float)
            moved[i] += sign * delta
            yield i, moved


def test_gradient_optimum_is_a_local_maximum_of_the_reference_flux():
    """The study's exact-gradient optimum (Adam, then Newton) of a 6-neuron net's full
    flux: no ±0.01 change of one bias raises the numpy reference's exact flux, and it
    is at least as good as a 500-step hill climb's best."""
    W, _ = random_weights(np.random.default_rng(11), 6)
    net = fj.BinaryNetwork(W, np.zeros(6), 1.0, 0.0)
    config = dataclasses.replace(TINY, gradient_steps=150)
    optimum, _, _ = optimization._gradient_optimum(
        net,
        jax.random.key(3),
        exact_flux_objective,
        config,
        (fj.exact_flux, range(6)),
        optimization._exact_full_fluxes,
    )
    biases = np.asarray(optimum.biases)
    best = ref.flux(W, biases)
    for _, moved in _single_bias_changes(biases):
        assert ref.flux(W, moved) <= best + 1e-12
    climbed, _ = fj.hill_climb(
        net, jax.random.key(4), exact_flux_objective, iterations=500
    )
    assert best >= ref.flux(W, np.asarray(climbed.biases)) - 1e-12
    assert best > ref.flux(W, np.zeros(6)) + 0.01


@pytest.mark.slow
def test_isolated_core_indicator_optimum_is_a_local_maximum():
    """Seed 42's isolated core, the triplet indicator (issue claim 4's check): after
    the study's Adam + Newton, no ±0.01 change of a measured neuron's bias raises the
    reference indicator (numpy enumeration of the 1024-state chain); the unmeasured
    neuron's bias keeps gaining by going down; and the optimum beats the hill climb."""
    net, groups = fj.l5_microcircuit(42)
    core = fj.isolated_core(net, groups)
    config = dataclasses.replace(TINY, gradient_steps=200, hill_iterations=500)
    optimum, _, _ = optimization._gradient_optimum(
        core,
        jax.random.key(0),
        optimization._indicator,
        config,
        (optimization._indicator, optimization.MEASURED),
        optimization._exact_totals,
    )
    W, T = np.asarray(core.weights), float(core.temperature)
    biases = np.asarray(optimum.biases)

    def indicator(b):
        return sum(ref.triplet_indicator(W, b, TRIPLETS, T, 0.0))

    best = indicator(biases)
    for i, moved in _single_bias_changes(biases):
        if i in optimization.MEASURED:
            assert indicator(moved) <= best + 1e-12
    lower = biases.copy()
    lower[9] -= 0.01
    assert indicator(lower) > best
    climbed, _ = optimization._hill_climb_restarts(core, jax.random.key(1), config)
    assert best > indicator(np.asarray(climbed.biases))


@pytest.mark.slow
def test_results_hold_the_reservoir_entry(tiny_run):
    """results.json["reservoir"]: one row per network and setting with the four
    scores as {mean, sd, n}, the echo-state reference rows (ReservoirPy installed),
    and each task's rank correlation with flux."""
    out, _ = tiny_run
    entry = json.loads((out / "results.json").read_text())["reservoir"]
    rows = entry["rows"]
    settings = {r["setting"] for r in rows}
    assert set(reservoir.SETTINGS) | {reservoir.CEILING} <= settings
    for row in rows:
        assert {"network", "n", "setting"} <= set(row)
        for task in ("memory_capacity", "narma10_nrmse", "parity_bits"):
            assert set(row[task]) == {"mean", "sd", "n"} and row[task]["n"] == 2
        if row["setting"] in reservoir.SETTINGS:
            assert row["flux"]["n"] == 2 and row["flux"]["mean"] > 0
    if importlib.util.find_spec("reservoirpy") is not None:
        esn = [r for r in rows if r["setting"] == "esn_reservoirpy"]
        assert [r["n"] for r in esn] == [30] and esn[0]["flux"] is None
    assert set(entry["rank_correlation"]) == set(reservoir.TASKS)
    for row in rows:  # MC <= n (Dambre et al.), NRMSE >= 0, bits in [0, delays]
        assert 0 <= row["memory_capacity"]["mean"] <= row["n"]
        assert row["narma10_nrmse"]["mean"] >= 0
        assert 0 <= row["parity_bits"]["mean"] <= 4


def test_spearman_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(size=40)
    x[:5] = x[0]  # ties
    expected = scipy_stats.spearmanr(x, y).statistic
    assert abs(reservoir.spearman(x, y) - expected) < 1e-12
