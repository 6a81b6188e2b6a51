"""qunlearn run: the whole data → model → teacher/oracle pipeline on a tiny config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qiskit_unlearn.cli.main import main
from qiskit_unlearn.config import load_config
from qiskit_unlearn.run import prepare_data, run_experiment
from qiskit_unlearn.run.context import build_scenario

CONFIG = """
[experiment]
name = "tiny"
seeds = [0]
[data]
dataset = "iris"
val_size = 0.2
preprocess = "pca-angles"
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
head_hidden = 8
[train]
epochs = 4
lr = 0.1
batch_size = 16
patience = 3
[[scenario]]
kind = "subset"
fraction = 0.1
[[scenario]]
kind = "class"
classes = [0]
"""


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_run_writes_a_complete_run_directory_and_reuses_the_teacher(tmp_path):
    cfg = load_config(_config(tmp_path))
    cache = tmp_path / "cache"
    run = run_experiment(cfg, tmp_path / "run", cache_dir=cache, progress=False,
                         echo=lambda *_: None, report=None)
    for name in ("config.json", "manifest.json", "results.csv", "results.json", "log.txt"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert [(r["scenario"], r["method"]) for r in rows] == [
        ("subset-0.1", "original"), ("subset-0.1", "retrain"),
        ("class-0", "original"), ("class-0", "retrain")]
    manifest = json.loads((run / "manifest.json").read_text())
    models = manifest["models"]
    # subset and class scenarios share the teacher: trained once, then shared within the run
    assert [models[f"{s}-seed0-teacher"]["cache"] for s in ("subset-0.1", "class-0")] == [
        "miss", "shared"]
    # the oracle of the class scenario never saw class 0: it cannot predict it
    class_oracle = next(r for r in rows if r["scenario"] == "class-0" and r["method"] == "retrain")
    assert float(class_oracle["forget_accuracy"]) == 0.0
    assert manifest["seeds"] == [0] and "qiskit" in manifest["versions"]
    assert manifest["data"]["0"]["sizes"]["train"] > 0
    assert all(m["best_epoch"] >= 1 for m in manifest["models"].values())
    # a second run is served from the cache entirely, with the same results
    run2 = run_experiment(cfg, tmp_path / "run2", cache_dir=cache, progress=False,
                          echo=lambda *_: None, report=None)
    manifest2 = json.loads((run2 / "manifest.json").read_text())
    assert [m["cache"] for m in manifest2["models"].values()] == ["hit", "hit", "shared", "hit"]
    rows2 = list(csv.DictReader((run2 / "results.csv").open()))
    assert [r["test_accuracy"] for r in rows2] == [r["test_accuracy"] for r in rows]


def test_cli_run_with_overrides(tmp_path, capsys):
    code = main(["run", str(_config(tmp_path)), "--out", str(tmp_path / "out"), "--no-cache",
                 "--no-progress", "--set", "train.epochs=2", "--set", "scenario.0.fraction=0.2"])
    assert code == 0
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["scenario"][0]["name"] == "subset-0.2"
    assert "results.csv" in capsys.readouterr().out


def test_cli_reports_config_errors(tmp_path, capsys):
    code = main(["run", str(_config(tmp_path)), "--set", "train.epochs=0"])
    assert code == 2
    assert "train.epochs = 0 is invalid" in capsys.readouterr().err


METHODS_CONFIG = CONFIG.replace('[[scenario]]\nkind = "subset"\nfraction = 0.1\n', "") + """
[unlearn]
methods = ["retrain", "ga", "scrub"]
[unlearn.params.ga]
epochs = 2
[evaluation]
hessian = true
hessian_top_k = 1
hessian_samples = 2
hessian_max_samples = 16
forgetting_quality = true
fq_models = 6
fq_methods = ["ga"]
"""


def test_methods_are_evaluated_reported_and_resumed(tmp_path, monkeypatch):
    import qiskit_unlearn.unlearn as unlearn_pkg

    seen = []
    real = unlearn_pkg.unlearn

    def spy(method, teacher, data, params=None):
        seen.append((method, data))
        return real(method, teacher, data, params)

    monkeypatch.setattr(unlearn_pkg, "unlearn", spy)
    cfg = load_config(_config(tmp_path, METHODS_CONFIG))
    from qiskit_unlearn.report import write_report

    run = run_experiment(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False,
                         echo=lambda *_: None, report=write_report)
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert [r["method"] for r in rows] == ["original", "retrain", "ga", "scrub"]
    by = {r["method"]: r for r in rows}
    # gradient ascent on the forgotten class really forgets it; the oracle agrees with itself
    assert float(by["ga"]["forget_accuracy"]) < float(by["original"]["forget_accuracy"])
    assert float(by["retrain"]["js_test"]) == 0.0 and float(by["retrain"]["agreement_test"]) == 1
    for r in rows:
        assert 0.0 <= float(r["mia_auc"]) <= 1.0 and float(r["seconds"]) > 0
        assert float(r["hessian_trace_retain"]) == float(r["hessian_trace_retain"])  # not NaN
    assert int(by["ga"]["circuit_evaluations"]) > 0
    # methods got validation data, never the test split
    prepared = prepare_data(cfg, 0)
    for _, data in seen:
        np.testing.assert_array_equal(data.val[0], prepared["val"][0])
        assert not hasattr(data, "test")
    fq = list(csv.DictReader((run / "forgetting_quality.csv").open()))
    assert {r["method"] for r in fq} == {"retrain", "ga"}
    assert all(0.0 <= float(r["forgetting_quality"]) <= 1.0 for r in fq)
    # memorisation from the same models: the teacher in, the 6 retrained models out
    with (run / "memorisation.csv").open() as fh:
        assert fh.readline().strip() == ("scenario,seed,memorisation,memorisation_prob,"
                                         "num_out_models,num_examples")
    mem = list(csv.DictReader((run / "memorisation.csv").open()))
    assert len(mem) == 1 and (mem[0]["scenario"], mem[0]["seed"]) == ("class-0", "0")
    sc = build_scenario(cfg["scenario"][0], prepared, 0)
    assert int(mem[0]["num_out_models"]) == 6
    assert int(mem[0]["num_examples"]) == len(sc.forget_idx) > 0
    # class forgetting: models without the class never predict it, so "memorisation" is the
    # teacher's accuracy on the class (the README's caveat), and its confidence is higher
    assert float(mem[0]["memorisation"]) == pytest.approx(
        float(by["original"]["forget_accuracy"]))
    assert 0.0 < float(mem[0]["memorisation_prob"]) <= 1.0
    manifest = json.loads((run / "manifest.json").read_text())
    assert {"memorisation.csv", "forgetting_quality.csv"} <= set(manifest["files"])
    assert (run / "report.md").is_file() and (run / "summary.csv").is_file()
    report = (run / "report.md").read_text()
    assert "## Memorisation" in report and "| class-0 | 1 |" in report
    assert "## Distance to the oracle" in report and (run / "ranking.csv").is_file()
    mem_bytes = (run / "memorisation.csv").read_bytes()
    assert list((run / "curves").glob("*ga.json"))
    # a finished run is a record: running it again changes nothing and computes nothing
    seen.clear()
    before = {p: p.read_bytes() for p in run.rglob("*")
              if p.is_file() and not p.name.startswith(".qunlearn.")}
    run_experiment(cfg, run, cache_dir=tmp_path / "cache", progress=False,
                   echo=lambda *_: None, report=None)
    assert {p: p.read_bytes() for p in run.rglob("*")
            if p.is_file() and not p.name.startswith(".qunlearn.")} == before
    assert seen == []
    # killed after its last method (manifest still "running"): the resumed run reuses every
    # finished method instead of recomputing it
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    del manifest["finished"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "results.csv").unlink()
    lines: list[str] = []
    run_experiment(cfg, run, cache_dir=tmp_path / "cache", progress=False, echo=lines.append,
                   report=None)
    manifest = json.loads((run / "manifest.json").read_text())
    assert all(m["resumed"] for m in manifest["methods"].values())
    assert [m for m, _ in seen] == ["ga"] * 6  # only forgetting-quality models are rebuilt
    assert any(line.startswith("resuming the unfinished run") for line in lines)
    assert any("scrub: reused the finished result unlearned/" in line for line in lines)
    assert list(csv.DictReader((run / "results.csv").open())) == rows
    assert (run / "memorisation.csv").read_bytes() == mem_bytes  # recomputed identically


def test_faithful_mode_selects_on_test_and_draws_nonmembers_from_retain(tmp_path):
    from qiskit_unlearn.run.context import eval_sets
    from qiskit_unlearn.scenarios import make_scenario

    cfg = load_config(_config(tmp_path), ["unlearn.faithful=true"])
    data = prepare_data(cfg, 0)
    sc = make_scenario("class", data["train"], data["test"], seed=0, classes=[0])
    retain_rows = {tuple(x) for x in sc.retain[0]}
    faithful = eval_sets(sc, data, True, 0)
    assert all(tuple(x) in retain_rows for x in faithful.nonmember[0])
    corrected = eval_sets(sc, data, False, 0)
    assert not any(tuple(x) in retain_rows for x in corrected.nonmember[0])


def test_faithful_switch_selects_the_study_versions_of_methods(tmp_path):
    from qiskit_unlearn.run.context import method_params

    methods = "unlearn.methods=['cf-k', 'scrub+r', 'ga']"
    study = load_config(_config(tmp_path), [methods, "unlearn.faithful=true"])
    from qiskit_unlearn.unlearn import METHODS

    assert method_params(study, "cf-k") == METHODS["cf-k"].study
    assert method_params(study, "cf-k")["variant"] == "hqml"
    assert method_params(study, "scrub+r")["faithful"] is True
    assert method_params(study, "ga") == METHODS["ga"].study
    explicit = load_config(_config(tmp_path), [methods, "unlearn.faithful=true",
                                               "unlearn.params.cf-k.variant='goel'"])
    assert method_params(explicit, "cf-k") == {**METHODS["cf-k"].study, "variant": "goel"}
    corrected = load_config(_config(tmp_path), [methods])
    assert method_params(corrected, "scrub+r") == {}


def test_runs_on_an_ibm_backend_log_every_job_id_before_waiting(tmp_path, monkeypatch):
    """``[backend] name = "fake:manila"``: training on the device (local testing mode)."""
    from qiskit_ibm_runtime.fake_provider.local_runtime_job import LocalRuntimeJob
    from run_helpers import TINY_IRIS, finished_tiny_run

    log = tmp_path / "run" / "hardware" / "run-jobs.jsonl"
    real, waited = LocalRuntimeJob.result, []

    def result(self):
        assert self.job_id() in log.read_text()  # on disk before anyone waits
        waited.append(self.job_id())
        return real(self)

    monkeypatch.setattr(LocalRuntimeJob, "result", result)
    config = TINY_IRIS.replace("epochs = 3", "epochs = 1") + \
        '[backend]\nname = "fake:manila"\nshots = 500\nseed = 3\n'
    with pytest.warns(DeprecationWarning):  # IBM Runtime's EstimatorV2 deprecation notice
        run = finished_tiny_run(tmp_path, config)
    jobs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [j["job_id"] for j in jobs] == waited and len(set(waited)) == len(waited)
    assert {j["backend"] for j in jobs} == {"fake:manila"}
    # teacher (90 samples) and oracle (60) for one epoch at batch 16, and ga's 2 steps: each
    # training step is one job carrying its forward and its gradient PUB
    assert sum(j["pubs"] == 2 for j in jobs) == 6 + 4 + 2
    rows = {r["method"]: r for r in csv.DictReader((run / "results.csv").open())}
    assert float(rows["retrain"]["forget_accuracy"]) == 0.0


def test_forgetting_quality_is_measured_on_the_evaluation_backend(tmp_path, monkeypatch):
    """Noise studies evaluate on a noisy backend: forgetting quality's confidences too. In
    faithful mode its unlearning runs select on the test split, like the main run's."""
    import qiskit_unlearn.run.units as pipeline
    import qiskit_unlearn.unlearn as unlearn_pkg

    config = METHODS_CONFIG.replace("hessian = true\n", "").replace('"ga", "scrub"', '"ga"')
    cfg = load_config(_config(tmp_path, config), ["unlearn.faithful=true"])
    real, backends = pipeline.predict_logits, []
    real_unlearn, selection = unlearn_pkg.unlearn, []

    def unlearn_spy(method, teacher, data, params=None):
        selection.append(data.val[0])
        return real_unlearn(method, teacher, data, params)

    monkeypatch.setattr(unlearn_pkg, "unlearn", unlearn_spy)

    def spy(model, x, *args, **kwargs):
        backends.append(model.spec["kwargs"]["backend"])
        return real(model, x, *args, **kwargs)

    monkeypatch.setattr(pipeline, "predict_logits", spy)
    noisy = {"name": "aer-noisy", "depolarizing_2q": 0.01}
    run = run_experiment(cfg, tmp_path / "run", cache_dir=None, progress=False,
                         echo=lambda *_: None, report=None, eval_backend=noisy)
    assert backends == ["aer-noisy"] * 12  # 6 retrained + 6 unlearned models, forget set
    fq = list(csv.DictReader((run / "forgetting_quality.csv").open()))
    assert {r["method"] for r in fq} == {"retrain", "ga"}
    test_x = prepare_data(cfg, 0)["test"][0]
    assert len(selection) == 1 + 6  # the run's ga and forgetting quality's six
    for x in selection:
        np.testing.assert_array_equal(x, test_x)
