"""qunlearn sweep end to end on a tiny Iris config: table, sharing, resume, plots, and that each
noise family really moves the metrics at strong noise (evaluation-time placement, for speed)."""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from qiskit_unlearn.cli.sweep import add_arguments, run_from_args
from qiskit_unlearn.models import build_model
from qiskit_unlearn.run.models import evaluated_on
from qiskit_unlearn.sweep import (
    SweepError,
    expand_sweep,
    load_config,
    run_sweep,
    write_sweep_report,
)
from qiskit_unlearn.sweep.run import eval_backend


def _tiny(name: str, seeds: str, epochs: int) -> str:
    """The 2-qubit Iris experiment both sweep configs here start from."""
    return f"""
[experiment]
name = "{name}"
seeds = {seeds}
[data]
dataset = "iris"
val_size = 0.2
preprocess = "pca-angles"
angle_range = [-1.5707963, 1.5707963]
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
head_hidden = 8
[train]
epochs = {epochs}
lr = 0.1
batch_size = 16
patience = {epochs}
"""


CONFIG = _tiny("tiny-sweep", "[0, 1]", 8) + """[[scenario]]
kind = "class"
classes = [0]
[unlearn]
methods = ["retrain", "finetune"]
[sweep]
where = "eval"
# fully depolarizing (1-qubit rate = 2-qubit rate = 1), near-total readout error, T1 = 1 ns
# against 50 ns gates (everything relaxes to |0>), and a 4-shot budget
depolarizing = [0.0, 1.0]
depolarizing_1q_ratio = 1.0
readout = [0.49]
thermal_t1 = [1.0]
shots = [0, 4]
"""
CHANCE = 1 / 3  # the stratified Iris test split holds 10 samples of each class


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    cfg = load_config(_write(tmp, CONFIG))
    lines: list[str] = []
    out = run_sweep(cfg, tmp / "out", cache_dir=tmp / "cache", progress=False,
                    echo=lines.append, run_reports=False)
    return cfg, out, lines


def _by(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def test_one_row_per_setting_method_scenario_and_seed_with_the_noise_columns(sweep):
    _, out, lines = sweep
    rows = _rows(out / "results.csv")
    settings = ["exact", "depolarizing-1", "readout-0.49", "t1-0.001us", "shots-4"]
    keys = [(r["noise"], r["method"], r["scenario"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(settings) * 3 * 1 * 2
    assert {r["noise"] for r in rows} == set(settings)
    assert {r["method"] for r in rows} == {"original", "retrain", "finetune"}
    ref = _by(rows, noise="exact")[0]
    assert (ref["noise_kind"], ref["noise_where"], float(ref["noise_level"])) == (
        "exact", "nowhere", 0.0)
    shots = _by(rows, noise="shots-4")[0]
    assert (shots["noise_where"], int(shots["shots"]), float(shots["precision"])) == (
        "eval", 4, pytest.approx(0.5))
    assert float(_by(rows, noise="t1-0.001us")[0]["noise_level"]) == pytest.approx(1000.0)
    assert lines[0].startswith("sweep: 5 runs (1 trained, 4 reusing trained models)")
    # the summary is over seeds: one line per (setting, scenario, method)
    assert len(_rows(out / "summary.csv")) == len(settings) * 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["ran"] * 5
    assert manifest["rows"] == len(rows) and "qiskit" in manifest["versions"]


def test_evaluation_only_noise_reuses_the_exact_models(sweep):
    _, out, _ = sweep
    run = json.loads((out / "eval" / "readout-0.49" / "manifest.json").read_text())
    assert {m["cache"] for m in run["models"].values()} == {"hit"}
    assert [m["resumed"] for m in run["methods"].values()] == [True, True]  # finetune, 2 seeds
    rows = _rows(out / "results.csv")
    # the same unlearned weights: timings (stored with the model) agree with the exact run
    for seed in ("0", "1"):
        exact = _by(rows, noise="exact", method="finetune", seed=seed)[0]
        noisy = _by(rows, noise="readout-0.49", method="finetune", seed=seed)[0]
        assert noisy["seconds"] == exact["seconds"]


@pytest.mark.parametrize("setting", ["depolarizing-1", "t1-0.001us"])
def test_total_noise_makes_every_model_guess_one_class(sweep, setting):
    # fully depolarized (<Z> = 0) or fully relaxed (<Z> = 1) circuits give every input the same
    # logits: the balanced test split is then exactly at chance and membership is unreadable
    _, out, _ = sweep
    rows = _rows(out / "results.csv")
    exact = {(r["method"], r["seed"]): r for r in _by(rows, noise="exact")}
    assert min(float(r["test_accuracy"]) for r in exact.values()) > 0.5
    for r in _by(rows, noise=setting):
        assert float(r["test_accuracy"]) == pytest.approx(CHANCE)
        assert float(r["mia_auc"]) == pytest.approx(0.5)
        assert float(r["forget_accuracy"]) in (0.0, 1.0)


def test_heavy_readout_error_pushes_accuracy_to_chance(sweep):
    _, out, _ = sweep
    rows = _rows(out / "results.csv")
    teacher = [float(r["test_accuracy"]) for r in _by(rows, noise="exact", method="original")]
    noisy = [float(r["test_accuracy"]) for r in _by(rows, noise="readout-0.49")]
    assert min(teacher) > 0.8
    assert max(noisy) <= 0.5 and abs(np.mean(noisy) - CHANCE) < 0.1


def test_fewer_shots_spread_the_quantum_outputs_as_1_over_sqrt_shots(sweep):
    cfg, out, _ = sweep
    state = torch.load(out / "exact" / "checkpoints" / "class-0-seed0-teacher.pt",
                       weights_only=True)
    model = build_model(state["spec"]["kind"], **state["spec"]["kwargs"])
    model.load_state_dict(state["model"])
    x = torch.tensor(np.random.default_rng(0).uniform(-1.5, 1.5, (64, 2)), dtype=torch.float32)
    with torch.no_grad():
        exact = model.quantum(x)
        errors = {}
        for shots in (4, 1024):
            sweep_cfg = dict(cfg["sweep"], shots=[shots])
            (run,) = [r for r in expand_sweep(sweep_cfg) if r.setting.kind == "shots"]
            noisy = evaluated_on(model, run.setting.backend).quantum(x)
            errors[shots] = float(torch.sqrt(torch.mean((noisy - exact) ** 2)))
    # sampling error of a ±1 observable: sqrt((1 - <Z>²) / shots) <= 1/sqrt(shots)
    assert errors[1024] < 2 / math.sqrt(1024)
    assert 0.1 < errors[4] <= 1 / math.sqrt(4) + 0.05
    assert errors[4] > 5 * errors[1024]


def test_plots_and_report(sweep):
    _, out, _ = sweep
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs == ["eval_depolarizing.png", "eval_readout.png", "eval_shots.png",
                    "eval_thermal.png"]
    for name in pngs:
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    for name in pngs:
        assert f"(plots/{name})" in report
    assert "### depolarizing, `eval`: exact → p = 1" in report
    assert "`eval/shots-4`" in report


def test_a_family_at_two_placements_gets_a_comparison_figure(sweep, tmp_path):
    # the report is rebuilt from results.csv alone: relabel one setting's rows as `both`
    _, out, _ = sweep
    rows = _rows(out / "results.csv")
    extra = [dict(r, noise_where="both") for r in _by(rows, noise="depolarizing-1")]
    with (tmp_path / "results.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + extra)
    report = write_sweep_report(tmp_path).read_text()
    pngs = {p.name for p in (tmp_path / "plots").glob("*.png")}
    assert {"both_depolarizing.png", "compare_depolarizing.png", "eval_depolarizing.png"} <= pngs
    assert "### depolarizing, `both`: exact → p = 1" in report
    assert len(_rows(tmp_path / "summary.csv")) == len(_rows(out / "summary.csv")) + 3


def test_rerunning_skips_finished_settings_and_runs_only_new_ones(sweep, tmp_path):
    cfg, out, _ = sweep
    before = (out / "results.csv").read_text()
    lines: list[str] = []
    run_sweep(cfg, out, cache_dir=out.parent / "cache", progress=False, echo=lines.append,
              run_reports=False)
    assert all(": skipped (" in line for line in lines[1:]) and len(lines) == 6
    assert (out / "results.csv").read_text() == before
    # a new level runs alone; through the command line, its units in worker processes
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = _write(tmp_path, CONFIG)
    args = parser.parse_args([str(config), "--out", str(out), "--cache-dir",
                              str(out.parent / "cache"), "--no-progress", "--jobs", "2",
                              "--no-run-reports", "--set", "sweep.readout=[0.2, 0.49]"])
    assert run_from_args(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    status = {r["dir"]: r["status"] for r in manifest["runs"]}
    assert status.pop("eval/readout-0.2") == "ran"
    assert set(status.values()) == {"skipped"}
    assert len(_by(_rows(out / "results.csv"), noise="readout-0.2")) == 6
    # the run found the shared teachers, oracles and unlearned models
    run = json.loads((out / "eval" / "readout-0.2" / "manifest.json").read_text())
    assert {m["cache"] for m in run["models"].values()} == {"hit"}
    assert all(m["resumed"] for m in run["methods"].values())


def test_preflight_rejects_a_device_too_small_and_an_inexact_reference(tmp_path):
    text = CONFIG.replace('where = "eval"', 'where = "eval"\ndevices = ["armonk"]')
    cfg = load_config(_write(tmp_path, text))
    with pytest.raises(SweepError, match=r"device-armonk.*cannot run the 2-qubit model"):
        run_sweep(cfg, tmp_path / "out", progress=False, echo=lambda *_: None)
    cfg = load_config(_write(tmp_path, CONFIG + '[backend]\nname = "aer"\nshots = 64\n'))
    with pytest.raises(SweepError, match="is not exact"):
        run_sweep(cfg, tmp_path / "out", progress=False, echo=lambda *_: None)
    assert not (tmp_path / "out").exists()


MITIGATED = _tiny("tiny-mitigation", "[0]", 6) + """[[scenario]]
kind = "class"
classes = [0]
[unlearn]
methods = ["finetune"]
[sweep]
where = "eval"
depolarizing = [0.2]
readout = [0.3]
mitigation = ["zne", "readout"]
zne_factors = [1.0, 2.0]
zne_fit = "linear"
"""


def test_mitigated_runs_share_the_models_and_undo_the_noise_they_invert(tmp_path):
    cfg = load_config(_write(tmp_path, MITIGATED))
    lines: list[str] = []
    out = run_sweep(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
                    echo=lines.append, run_reports=False)
    rows = _rows(out / "results.csv")
    assert {(r["noise"], r["noise_where"], r["mitigation"]) for r in rows} == {
        ("exact", "nowhere", ""), ("depolarizing-0.2", "eval", ""),
        ("depolarizing-0.2", "eval+zne", "zne"), ("readout-0.3", "eval", ""),
        ("readout-0.3", "eval+readout", "readout")}
    # mitigation repeats only the evaluation: every mitigated run reuses the exact models
    for path in ("eval+zne/depolarizing-0.2", "eval+readout/readout-0.3"):
        run = json.loads((out / path / "manifest.json").read_text())
        assert {m["cache"] for m in run["models"].values()} == {"hit"}
    # symmetric readout error scales each <Z> by (1 - 2p); inverting it restores the exact
    # metrics, which the unmitigated 30 % error does not
    exact = {r["method"]: r for r in _by(rows, noise="exact")}
    fixed = {r["method"]: r for r in _by(rows, noise_where="eval+readout")}
    noisy = {r["method"]: r for r in _by(rows, noise_where="eval", noise="readout-0.3")}
    for method in exact:
        for metric in ("test_accuracy", "forget_accuracy", "mia_auc"):
            assert float(fixed[method][metric]) == pytest.approx(
                float(exact[method][metric]), abs=1e-6)
        assert float(fixed[method]["js_test"]) == pytest.approx(
            float(exact[method]["js_test"]), abs=1e-5)
    assert any(float(noisy[m]["js_test"]) != pytest.approx(float(exact[m]["js_test"]),
                                                           abs=1e-5) for m in exact)
    # a 2-qubit, 1-layer circuit under depolarizing noise: <Z> shrinks by the same factor
    # at every input, which a linear fit over x1, x2 undoes to first order — the mitigated
    # quantum outputs sit much closer to the exact ones than the noisy outputs
    state = torch.load(out / "exact" / "checkpoints" / "class-0-seed0-teacher.pt",
                       weights_only=True)
    model = build_model(state["spec"]["kind"], **state["spec"]["kwargs"])
    model.load_state_dict(state["model"])
    runs = {r.placement: r for r in expand_sweep(cfg["sweep"]) if r.setting.kind ==
            "depolarizing"}
    x = torch.tensor(np.random.default_rng(0).uniform(-1.5, 1.5, (32, 2)), dtype=torch.float32)
    with torch.no_grad():
        ref = model.quantum(x)
        err = {p: float((evaluated_on(model, eval_backend(cfg, run)).quantum(x) - ref).abs()
                        .max()) for p, run in runs.items()}
    assert err["eval"] > 0.05 and err["eval+zne"] < err["eval"] / 3
    pngs = {p.name for p in (out / "plots").glob("*.png")}
    assert {"mitigation_eval_depolarizing.png", "mitigation_eval_readout.png"} <= pngs
