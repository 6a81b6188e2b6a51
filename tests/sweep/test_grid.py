"""The [sweep] section: validation errors name the key, and the grid expands as documented."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from qiskit_unlearn.config import ConfigError
from qiskit_unlearn.sweep import SweepError, expand_sweep, load_config, validate_sweep
from qiskit_unlearn.sweep.grid import REFERENCE_RUN
from qiskit_unlearn.sweep.run import eval_backend, run_config

BASE = """
[experiment]
name = "grid"
[data]
dataset = "iris"
preprocess = "pca-angles"
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
[[scenario]]
kind = "class"
"""


def test_families_expand_to_backend_tables_with_levels_and_a_shared_reference():
    sweep = validate_sweep({"where": "eval", "depolarizing": [0.01, 0.0, 1e-3],
                            "readout": [0.0, 0.05], "thermal_t1": [20e3], "shots": [0, 256],
                            "depolarizing_1q_ratio": 0.2, "seed": 3})
    assert sweep["where"] == ["eval"] and sweep["depolarizing"] == [0.0, 1e-3, 0.01]
    runs = expand_sweep(sweep)
    # zero levels and shots = 0 are the shared exact reference, not runs of their own
    assert [r.path for r in runs] == ["eval/depolarizing-0.001", "eval/depolarizing-0.01",
                                      "eval/readout-0.05", "eval/t1-20us", "eval/shots-256"]
    by = {r.setting.label: r.setting for r in runs}
    # exact noise runs on the density-matrix engine ('noisy'), shot noise on Aer
    assert by["depolarizing-0.01"].backend == {"name": "noisy", "depolarizing_2q": 0.01,
                                               "depolarizing_1q": 0.002, "seed": 3}
    assert by["readout-0.05"].backend == {"name": "noisy", "readout_error": 0.05, "seed": 3}
    assert by["t1-20us"].backend == {"name": "noisy", "t1": 20e3, "t2": 20e3, "seed": 3}
    assert by["t1-20us"].level == pytest.approx(1 / 20)  # 1/T1 in 1/µs
    shots = by["shots-256"]
    assert shots.backend == {"name": "aer", "shots": 256, "seed": 3}
    assert (shots.level, shots.shots) == (1 / 16, 256)
    assert shots.precision == pytest.approx(1 / 16)
    assert all((s.shots, s.precision) == (0, 0.0) for s in by.values() if s.kind != "shots")
    cols = runs[0].columns
    assert cols == {"noise": "depolarizing-0.001", "noise_kind": "depolarizing",
                    "noise_level": 1e-3, "noise_where": "eval", "shots": 0, "precision": 0.0,
                    "noise_device": "", "mitigation": ""}
    assert REFERENCE_RUN.path == "exact" and REFERENCE_RUN.setting.backend is None


def test_placement_tables_add_families_and_explicit_settings_keep_their_where():
    sweep = validate_sweep({
        "where": ["eval", "both"], "readout": [0.1], "noise_shots": 512,
        "train": {"depolarizing": [0.0, 0.05]}, "both": {"readout": [0.2]},
        "setting": [{"label": "custom", "kind": "depolarizing", "level": 0.3,
                     "where": "train", "backend": {"name": "aer-noisy",
                                                   "depolarizing_2q": 0.3}}]})
    runs = expand_sweep(sweep)
    assert [r.path for r in runs] == ["eval/readout-0.1", "both/readout-0.1", "both/readout-0.2",
                                      "train/depolarizing-0.05", "train/custom"]
    # noisy families sample noise_shots shots (on Aer) and state their precision
    assert runs[0].setting.backend["shots"] == 512 and runs[0].setting.shots == 512
    assert runs[0].setting.backend["name"] == "aer-noisy"
    assert validate_sweep(sweep) == sweep  # validating twice changes nothing
    custom = runs[-1].setting
    assert (custom.kind, custom.level, custom.shots) == ("depolarizing", 0.3, 0)


def test_where_decides_the_training_and_the_evaluation_backend():
    base = {"experiment": {"name": "x", "description": ""}, "backend": {"name": "statevector"},
            "model": {}, "sweep": {}}
    sweep = validate_sweep({"where": ["train", "eval", "both"], "depolarizing": [0.1]})
    runs = {r.where: r for r in expand_sweep(sweep)}
    noisy = runs["eval"].setting.backend
    assert run_config(base, runs["eval"])["backend"] == {"name": "statevector"}
    assert eval_backend(base, runs["eval"]) == noisy
    assert run_config(base, runs["train"])["backend"] == noisy
    assert eval_backend(base, runs["train"]) == {"name": "statevector"}
    assert run_config(base, runs["both"])["backend"] == noisy
    assert eval_backend(base, runs["both"]) is None
    assert "sweep" not in run_config(base, runs["both"])
    assert run_config(base, REFERENCE_RUN) == {k: v for k, v in base.items() if k != "sweep"}
    assert eval_backend(base, REFERENCE_RUN) is None


@pytest.mark.parametrize(("table", "message"), [
    ({"where": "everywhere", "readout": [0.1]}, "sweep.where: 'everywhere' is not a placement"),
    ({"readout": [0.5]}, "sweep.readout[0] = 0.5 is invalid: must be a number in [0, 0.5)"),
    ({"depolarizing": [1.5]}, "sweep.depolarizing[0] = 1.5 is invalid"),
    ({"depolarizing": 0.1}, "sweep.depolarizing must be a list of levels"),
    ({"shots": [128, 1.5]}, "sweep.shots[1] = 1.5 is invalid: must be an integer"),
    ({"thermal_t1": [0.0]}, "sweep.thermal_t1[0] = 0.0 is invalid"),
    ({"depolarizing": [0.5], "depolarizing_1q_ratio": 4.0}, "gives a 1-qubit rate above 1"),
    ({"readout": [0.1], "thermal_t2_ratio": 3.0}, "sweep.thermal_t2_ratio = 3 is invalid"),
    ({"readout": [0.1], "noise_shots": -1}, "sweep.noise_shots must be an integer >= 0"),
    ({"devices": ["nowhere_device"]}, "sweep.devices: unknown fake device(s) 'nowhere_device'"),
    ({"depolarizing": [0.1], "amplitude": [0.1]}, "unknown key(s) sweep.amplitude"),
    ({"both": {"depolarising": [0.1]}}, "unknown key(s) sweep.both.depolarising"),
    ({"depolarizing": [0.0], "shots": [0]}, "no noise setting besides the exact reference"),
    ({"setting": [{"label": "a b", "backend": {"name": "aer"}}]}, "sweep.setting[0].label"),
    ({"setting": [{"label": "x", "backend": {"name": "warp"}}]},
     "sweep.setting[0].backend: unknown backend 'warp'"),
    ({"readout": [0.1], "setting": [{"label": "readout-0.1", "backend": {"name": "aer"}}]},
     "sweep.setting[0].label = 'readout-0.1' is already used"),
])
def test_invalid_sweeps_name_the_key(table, message):
    with pytest.raises(SweepError) as info:
        validate_sweep(table)
    assert message in str(info.value)


def _write(path: Path, sweep: str) -> Path:
    path.write_text(BASE + sweep, encoding="utf-8")
    return path


def test_load_config_validates_the_sweep_and_names_the_file(tmp_path):
    cfg = load_config(_write(tmp_path / "ok.toml", '[sweep]\ndevices = ["manila"]\n'))
    (run,) = expand_sweep(cfg["sweep"])
    assert run.path == "eval/device-manila" and math.isnan(run.setting.level)
    assert run.setting.backend == {"name": "noisy", "device": "manila", "seed": 0}
    with pytest.raises(ConfigError, match=r"bad\.toml: sweep\.where"):
        load_config(_write(tmp_path / "bad.toml", '[sweep]\nwhere = 3\nreadout = [0.1]\n'))
    # --set reaches the sweep too
    cfg = load_config(_write(tmp_path / "ok2.toml", "[sweep]\nreadout = [0.1]\n"),
                      ["sweep.where=both"])
    assert [r.path for r in expand_sweep(cfg["sweep"])] == ["both/readout-0.1"]


def test_mitigation_adds_mitigated_twins_of_the_noisy_evaluations():
    from qiskit_unlearn.sweep.run import eval_backend, run_config

    sweep = validate_sweep({"where": ["eval", "both"], "depolarizing": [0.01],
                            "readout": [0.05], "devices": ["manila"],
                            "mitigation": ["zne", "readout"], "zne_factors": [3, 1, 2]})
    assert sweep["zne_factors"] == [1.0, 2.0, 3.0] and validate_sweep(sweep) == sweep
    runs = {r.path: r for r in expand_sweep(sweep)}
    # ZNE for rate-based gate noise, readout mitigation for readout error (devices included)
    assert {p for p in runs if "+" in p} == {
        "eval+zne/depolarizing-0.01", "both+zne/depolarizing-0.01",
        "eval+readout/readout-0.05", "both+readout/readout-0.05",
        "eval+readout/device-manila", "both+readout/device-manila"}
    zne = runs["eval+zne/depolarizing-0.01"]
    assert zne.columns["noise_where"] == "eval+zne" and zne.columns["mitigation"] == "zne"
    assert runs["eval/depolarizing-0.01"].columns["mitigation"] == ""
    cfg = {"backend": {"name": "statevector"}, "experiment": {"description": ""}}
    assert eval_backend(cfg, zne) == {**zne.setting.backend, "zne_factors": [1.0, 2.0, 3.0],
                                      "zne_fit": "richardson"}
    both = runs["both+readout/readout-0.05"]
    # trained on the unmitigated noisy backend (shared with 'both'), evaluated mitigated
    assert run_config(cfg, both)["backend"] == runs["both/readout-0.05"].setting.backend
    assert eval_backend(cfg, both)["mitigate_readout"] is True
    assert eval_backend(cfg, runs["both/readout-0.05"]) is None
    with pytest.raises(SweepError, match=r"sweep\.mitigation must be a list from"):
        validate_sweep({"readout": [0.1], "mitigation": ["magic"]})
