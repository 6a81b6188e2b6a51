"""A run's units under every local executor: the same bytes, failures named, resumable.

(The Ray executor runs the same contract in ``tests/execute/``.)
"""

from __future__ import annotations

import csv
import json

import pytest
from run_helpers import TINY_IRIS

from qiskit_unlearn.config import load_config
from qiskit_unlearn.execute import ExecutionError, InProcessExecutor, ProcessExecutor
from qiskit_unlearn.run import run_experiment
from qiskit_unlearn.unlearn import METHODS, register

TIMING = {"seconds", "retrain_seconds", "rte"}
CONFIG = (TINY_IRIS.replace('methods = ["retrain", "ga"]',
                            'methods = ["retrain", "ga", "finetune", "scrub"]')
          .replace('kind = "class"\nclasses = [0]',
                   'kind = "class"\nclasses = [0]\n[[scenario]]\nkind = "subset"\nfraction = 0.1')
          .replace("[unlearn.params.ga]", "[unlearn.params.finetune]\nepochs = 1\n"
                                          "[unlearn.params.scrub]\nepochs = 1\n"
                                          "[unlearn.params.ga]"))


def _rows(path):
    with path.open(newline="") as fh:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(fh)]


def _cfg(tmp_path, text=CONFIG):
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "c.toml")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    root = tmp_path_factory.mktemp("in-process")
    return run_experiment(_cfg(root), root / "run", cache_dir=None, progress=False,
                          echo=lambda *_: None)


def test_two_worker_processes_give_the_same_results_as_one_process(in_process, tmp_path):
    run = run_experiment(_cfg(tmp_path), tmp_path / "run", cache_dir=None, progress=False,
                         echo=lambda *_: None, executor=ProcessExecutor(2))
    assert _rows(run / "results.csv") == _rows(in_process / "results.csv")
    assert len(_rows(run / "results.csv")) == 2 * 5  # two scenarios: teacher + 4 methods
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["execution"] == {"executor": "processes", "threads": 1, "jobs": 2}
    # the driver wrote every model file (the workers wrote nothing)
    assert sorted(p.name for p in (run / "unlearned").glob("*.pt")) == sorted(
        p.name for p in (in_process / "unlearned").glob("*.pt"))


def test_the_shared_teacher_is_trained_once(in_process):
    manifest = json.loads((in_process / "manifest.json").read_text())
    models = manifest["models"]
    teachers = [m for tag, m in models.items() if tag.endswith("-teacher")]
    assert [m["source"] for m in teachers] == ["trained", "shared"]
    assert len({m["cache_key"] for m in teachers}) == 1


def test_a_failing_method_is_named_the_others_finish_and_a_rerun_resumes(in_process, tmp_path):
    failed: list[bool] = []

    def flaky(model, data, params):
        """Fails the first time it runs, then does nothing."""
        if not failed:
            failed.append(True)
            raise RuntimeError("deliberate failure")
        return {}

    register("flaky-test-method", defaults={"epochs": 1}, family="test", changes="nothing",
             reference="a test double")(flaky)
    try:
        text = CONFIG.replace('"finetune", "scrub"]', '"finetune", "flaky-test-method", "scrub"]')
        text = text.replace("[[scenario]]\nkind = \"subset\"\nfraction = 0.1", "")
        cfg = _cfg(tmp_path, text)
        with pytest.raises(ExecutionError) as err:
            run_experiment(cfg, tmp_path / "run", cache_dir=None, progress=False,
                           echo=lambda *_: None, executor=InProcessExecutor())
        assert "flaky-test-method (seed 0, class-0): RuntimeError: deliberate failure" in \
            str(err.value)
        assert len(err.value.failures) == 1  # nothing waits for a method
        run = tmp_path / "run"
        done = sorted(p.name for p in (run / "unlearned").glob("*.pt"))
        assert done == [f"class-0__seed0__{m}.pt" for m in ("finetune", "ga", "scrub")]
        assert not (run / "results.csv").exists()
        lines: list[str] = []
        run_experiment(cfg, run, cache_dir=None, progress=False, echo=lines.append)
        assert any("resuming the unfinished run" in line for line in lines)
        manifest = json.loads((run / "manifest.json").read_text())
        resumed = {tag.split("__")[-1]: m["resumed"] for tag, m in manifest["methods"].items()}
        assert resumed == {"ga": True, "finetune": True, "flaky-test-method": False,
                           "scrub": True}
        rows = {r["method"]: r for r in _rows(run / "results.csv")}
        clean = {r["method"]: r for r in _rows(in_process / "results.csv")
                 if r["scenario"] == "class-0"}
        for method in ("original", "retrain", "ga", "finetune", "scrub"):
            assert rows[method] == clean[method]
    finally:
        METHODS.pop("flaky-test-method", None)
