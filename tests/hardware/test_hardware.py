"""``qunlearn hw``: submit / status / fetch on fake devices (IBM Runtime local testing mode).

No network, no credentials: a tiny Iris run (2 qubits, 3 epochs, one ``ga`` step) is evaluated
on ``fake_manila``; IBM devices are exercised through a stub ``QiskitRuntimeService``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ibm_stubs import (
    SECRET_INSTANCE,
    SECRET_TOKEN,
    DeviceService,
    StubJob,
    StubService,
    without_ibm_account,
)
from run_helpers import finished_tiny_run

from qiskit_unlearn.cli.main import main as qunlearn
from qiskit_unlearn.hardware.runs import FinishedRun, Target
from qiskit_unlearn.run import RunContext
from qiskit_unlearn.storage import sha256_file

pytestmark = pytest.mark.filterwarnings(
    "ignore:The EstimatorV2 class is deprecated:DeprecationWarning")


def main(argv: list[str]) -> int:
    """``qunlearn hw ARGV`` through the real entry point (its one error handler included)."""
    return qunlearn(["hw", *argv])

FAKE = ["--device", "fake_manila", "--shots", "1000", "--seed", "3"]
MODELS = ["original", "retrain", "ga"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def submitted_run(finished_run, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("submitted") / "run"
    shutil.copytree(finished_run, run)
    assert main(["submit", str(run), *FAKE, "--yes"]) == 0
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def _jobs(run: Path) -> list[dict]:
    data = json.loads((run / "hardware" / "jobs.json").read_text())
    return [job for sub in data["submissions"] for job in sub["jobs"]]


def _rows(path: Path) -> dict[str, dict[str, str]]:
    return {r["method"]: r for r in csv.DictReader(path.open())}


def test_dry_run_prints_the_cost_and_sends_nothing(finished_run, tmp_path, capsys,
                                                   monkeypatch):
    from qiskit_ibm_runtime import EstimatorV2

    monkeypatch.setattr(EstimatorV2, "run", lambda *a, **k: pytest.fail("a job was sent"))
    run = _copy(finished_run, tmp_path)
    assert main(["submit", str(run), *FAKE, "--dry-run"]) == 0
    out = capsys.readouterr().out
    # 3 models x 5 splits: 60 retain + 30 forget + 30 val + 30 test + 10 non-members each,
    # but the non-members are test samples and Iris repeats one flower: 149 distinct samples
    assert "3 jobs, 3 PUBs on 1 distinct circuit(s), 447 parameter sets" in out
    assert "894 expectation values" in out  # two Z observables, one measurement basis
    assert "15 model/split evaluations of 480 samples on 3 distinct model(s)" in out
    assert "saves 33 parameter sets (7%)" in out
    assert "447 circuit executions x 1000 shots = 447,000 shots" in out
    assert "nothing was sent" in out and not (run / "hardware" / "jobs.json").exists()

    assert main(["submit", str(run), "--device", "fake:manila", "--models", "ga",
                 "--splits", "forget,test", "--dry-run"]) == 0
    assert "1 jobs, 1 PUBs on 1 distinct circuit(s), 60 parameter sets" in \
        capsys.readouterr().out


def test_submit_refuses_without_a_terminal_or_yes(finished_run, tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    run = _copy(finished_run, tmp_path)
    assert main(["submit", str(run), *FAKE]) == 2
    assert "stdin is not a terminal; pass --yes" in capsys.readouterr().err
    assert not (run / "hardware" / "jobs.json").exists()


def test_bad_requests_name_the_fix(finished_run, capsys):
    assert main(["submit", str(finished_run), *FAKE, "--models", "scrub", "--dry-run"]) == 2
    assert "unknown models ['scrub']; this run has: original, retrain, ga" in \
        capsys.readouterr().err
    assert main(["submit", str(finished_run), *FAKE, "--splits", "train", "--dry-run"]) == 2
    assert "unknown splits ['train']" in capsys.readouterr().err
    assert main(["submit", str(finished_run), "--device", "fake_atlantis", "--dry-run"]) == 2
    assert "unknown fake device" in capsys.readouterr().err


def test_job_ids_are_recorded_before_any_result_is_read(finished_run, tmp_path, monkeypatch):
    from qiskit_ibm_runtime.fake_provider.local_runtime_job import LocalRuntimeJob

    run = _copy(finished_run, tmp_path)
    real, seen = LocalRuntimeJob.result, []

    def result(self):
        assert self.job_id() in (run / "hardware" / "jobs.json").read_text()
        assert not (run / "hardware" / "results" / f"{self.job_id()}.json").exists()
        seen.append(self.job_id())
        return real(self)

    monkeypatch.setattr(LocalRuntimeJob, "result", result)
    assert main(["submit", str(run), *FAKE, "--models", "ga", "--splits", "test",
                 "--yes"]) == 0
    (job,) = _jobs(run)
    assert seen == [job["job_id"]] and job["status"] == "DONE"
    assert [(g["model"], g["split"], g["num_samples"], g["pub"], g["rows"])
            for g in job["groups"]] == [("ga", "test", 30, 0, list(range(30)))]
    assert [(p["index"], p["num_rows"]) for p in job["pubs"]] == [(0, 30)]
    sub = json.loads((run / "hardware" / "jobs.json").read_text())["submissions"][0]
    assert sub["device"] == "fake_manila" and sub["shots"] == 1000
    assert sub["optimization_level"] == 2 and sub["mode"] == "batch"
    (circuit,) = sub["circuits"].values()
    assert len(circuit["layout"]) == 2 and circuit["num_physical_qubits"] == 5


def test_measured_expectations_match_the_exact_circuit(submitted_run):
    """Every PUB measured what the model computes: inputs, weights and layout line up."""
    from qiskit_ibm_runtime import RuntimeDecoder

    run = FinishedRun(submitted_run)
    jobs = _jobs(submitted_run)
    assert {g["model"] for job in jobs for g in job["groups"]} == set(MODELS)
    for job in jobs:
        text = (submitted_run / "hardware" / "results" / f"{job['job_id']}.json").read_text()
        result = json.loads(text, cls=RuntimeDecoder)
        assert len(result) == len(job["pubs"]) == 1 and len(job["groups"]) == 5
        for group in job["groups"]:
            target = Target(group["seed"], group["scenario"], group["model"],
                            group["checkpoint"])
            model = run.model(target)
            x, _ = run.split(0, "class-0", group["split"])
            with torch.no_grad():
                exact = model.quantum(model.encode(torch.as_tensor(x))).double().numpy().T
            diff = np.abs(result[group["pub"]].data.evs[:, group["rows"]] - exact)
            assert diff.mean() < 0.06 and diff.max() < 0.25, (group["model"], group["split"])


def test_fetch_in_a_fresh_process_gives_the_simulation_metrics(submitted_run, tmp_path):
    run = _copy(submitted_run, tmp_path)
    code = ("import sys; from qiskit_unlearn.cli.main import main; "
            "sys.exit(main(['hw', *sys.argv[1:]]))")
    done = subprocess.run([sys.executable, "-c", code, "fetch", str(run)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "jobs: 3 finished, 0 pending, 0 failed" in done.stdout
    hardware = _rows(run / "hardware" / "results.csv")
    simulation = _rows(run / "results.csv")
    assert list(hardware) == MODELS
    job_ids = {job["job_id"] for job in _jobs(run)}
    for method, row in hardware.items():
        assert row["device"] == "fake_manila" and row["shots"] == "1000"
        assert row["local_testing_mode"] == "True" and row["resilience_level"] == ""
        assert row["job_id"] in job_ids and row["reference"] == "hardware"
        assert row["date"].startswith("20")
        for split in ("retain", "forget", "val", "test"):
            hw, sim = float(row[f"{split}_accuracy"]), float(simulation[method][
                f"{split}_accuracy"])
            assert abs(hw - sim) <= 0.1, (method, split, hw, sim)
        for column in ("uqi", "mia_auc", "kl_forget", "oracle_gap"):
            assert np.isfinite(float(row[column]))
        assert row["mia_auc"] == row["mia_label_auc"]  # the run's own score (not faithful)
    assert float(hardware["retrain"]["forget_accuracy"]) == 0.0  # never saw class 0
    assert FinishedRun(run).mia_score == "true-label"


def test_device_rows_score_membership_like_their_run(finished_run, tmp_path):
    """A faithful run scores ``mia_auc`` by the top probability; device rows must agree."""
    import json

    run = _copy(finished_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["unlearn"]["faithful"] = True
    view = FinishedRun(run)
    view.context = RunContext(config, run)  # the run as if it had been faithful
    assert view.mia_score == "top"


def test_resubmitting_sends_nothing_twice(submitted_run, tmp_path, capsys):
    run = _copy(submitted_run, tmp_path)
    before = _jobs(run)
    assert main(["submit", str(run), *FAKE, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "nothing to submit" in out
    assert "15 finished, 0 pending, 0 failed model/split evaluations" in out
    assert _jobs(run) == before
    # other settings are another measurement: all 15 model/split evaluations would be sent
    assert main(["submit", str(run), "--device", "fake_manila", "--shots", "500",
                 "--dry-run"]) == 0
    assert "3 jobs, 3 PUBs" in capsys.readouterr().out


def test_failed_and_lost_jobs_are_reported_and_resubmitted(submitted_run, tmp_path, capsys):
    run = _copy(submitted_run, tmp_path)
    path = run / "hardware" / "jobs.json"
    data = json.loads(path.read_text())
    cancelled = data["submissions"][0]["jobs"][0]  # the teacher ("original")
    cancelled["status"] = "CANCELLED"
    path.write_text(json.dumps(data))

    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    assert "CANCELLED" in out and "2 finished, 0 pending, 1 failed" in out
    assert ("--models original --splits forget,nonmember,retain,test,val --seeds 0 "
            "--scenarios class-0 --resubmit-failed") in out

    assert main(["fetch", str(run)]) == 0  # the teacher falls back to its simulation
    rows = _rows(run / "hardware" / "results.csv")
    assert list(rows) == ["retrain", "ga"]
    assert rows["ga"]["reference"] == "original: simulation, retrain: hardware"

    assert main(["submit", str(run), *FAKE, "--yes"]) == 0
    assert "5 failed" in capsys.readouterr().out and len(_jobs(run)) == 3
    assert main(["submit", str(run), *FAKE, "--yes", "--resubmit-failed"]) == 0
    jobs = _jobs(run)
    assert len(jobs) == 4 and {g["model"] for g in jobs[-1]["groups"]} == {"original"}
    assert main(["fetch", str(run)]) == 0
    rows = _rows(run / "hardware" / "results.csv")
    assert list(rows) == MODELS and rows["original"]["job_id"] == jobs[-1]["job_id"]
    assert {r["reference"] for r in rows.values()} == {"hardware"}

    # a local job whose submitting process died before storing its result is LOST
    data = json.loads(path.read_text())
    data["submissions"][0]["pid"] = _dead_pid()
    data["submissions"][0]["jobs"][1]["status"] = "RUNNING"
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["status", str(run), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "LOST" in out and "ended before storing its result" in out


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_splits_give_accuracies_only(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    assert main(["submit", str(run), *FAKE, "--models", "ga", "--splits", "forget,test",
                 "--yes"]) == 0
    assert main(["fetch", str(run)]) == 0
    (row,) = _rows(run / "hardware" / "results.csv").values()
    assert row["splits"] == "forget,test" and row["reference"] == ""
    assert float(row["test_accuracy"]) > 0.5 and row.get("retain_accuracy", "") == ""
    assert row.get("uqi", "") == ""


def test_missing_ibm_account_says_how_to_save_one(finished_run, tmp_path, capsys,
                                                  monkeypatch):
    without_ibm_account(monkeypatch, tmp_path)
    run = _copy(finished_run, tmp_path)
    assert main(["submit", str(run), "--device", "ibm_brisbane", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "QiskitRuntimeService.save_account(channel='ibm_quantum_platform'" in err
    assert not (run / "hardware" / "jobs.json").exists()
    # a dry run needs no account
    assert main(["submit", str(run), "--device", "ibm_brisbane", "--dry-run"]) == 0
    assert "resilience level 1" in capsys.readouterr().out


def test_ibm_jobs_reconnect_by_id_and_no_credentials_are_written(submitted_run, tmp_path,
                                                                 capsys, monkeypatch):
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime import RuntimeDecoder

    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", SECRET_INSTANCE)
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", StubService)
    StubService.opened = []
    run = _copy(submitted_run, tmp_path)
    # turn the local submission into one made on an IBM device, results not yet downloaded
    path = run / "hardware" / "jobs.json"
    data = json.loads(path.read_text())
    sub = data["submissions"][0]
    sub.update(device="ibm_fakeland", local_testing_mode=False, resilience_level=1)
    results = {}
    for job in sub["jobs"]:
        job["status"] = "QUEUED"
        stored = run / "hardware" / "results" / f"{job['job_id']}.json"
        results[job["job_id"]] = json.loads(stored.read_text(), cls=RuntimeDecoder)
        stored.unlink()
    path.write_text(json.dumps(data))
    first, second, third = (job["job_id"] for job in sub["jobs"])
    StubService.jobs = {first: StubJob("DONE", results[first]),
                         second: StubJob("RUNNING"), third: StubJob("ERROR")}

    assert main(["status", str(run), "--instance", "my-instance"]) == 0
    out = capsys.readouterr().out
    assert "1 finished, 1 pending, 1 failed" in out and "Error code 1517" in out
    assert ("--device ibm_fakeland --shots 1000 --optimization-level 2 --resilience-level 1 "
            "--models ga") in out
    assert StubService.opened == [(None, "my-instance")]  # the saved account, once

    StubService.jobs[second] = StubJob("DONE", results[second])
    assert main(["fetch", str(run)]) == 0
    rows = _rows(run / "hardware" / "results.csv")
    assert list(rows) == ["original", "retrain"]
    assert rows["original"]["device"] == "ibm_fakeland" and rows["original"][
        "resilience_level"] == "1"
    assert (run / "hardware" / "results" / f"{second}.json").is_file()  # downloaded once
    StubService.jobs.clear()  # later fetches need no network for finished jobs
    assert main(["fetch", str(run)]) == 0

    for file in run.rglob("*"):
        if file.is_file():
            blob = file.read_bytes()
            assert SECRET_TOKEN.encode() not in blob and b"DO-NOT-WRITE" not in blob, file


def test_split_names_match_the_evaluation_suite():
    from qiskit_unlearn.evaluate.suite import ACCURACY_SPLITS
    from qiskit_unlearn.hardware import SPLITS

    assert SPLITS == (*ACCURACY_SPLITS, "nonmember")


def test_changed_checkpoints_are_not_mixed_with_old_measurements(submitted_run, tmp_path,
                                                                 capsys):
    run = _copy(submitted_run, tmp_path)
    path = run / "unlearned" / "class-0__seed0__ga.pt"
    state = torch.load(path, weights_only=True)
    state["model"]["head.1.bias"] += 1.0  # as if 'qunlearn run' had produced another model
    torch.save(state, path)
    manifest = run / "manifest.json"  # which records the new file's digest
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        data["files"]["unlearned/class-0__seed0__ga.pt"] = sha256_file(path)
        manifest.write_text(json.dumps(data))
    assert main(["fetch", str(run)]) == 0
    assert "skipped 5 model/split measurements of models whose checkpoints have changed" in \
        capsys.readouterr().out
    assert list(_rows(run / "hardware" / "results.csv")) == ["original", "retrain"]
    assert main(["submit", str(run), *FAKE, "--dry-run"]) == 0
    assert "1 jobs, 1 PUBs" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:The resilience_level option has no effect:UserWarning")
def test_submit_to_an_ibm_device_records_the_job_and_returns(finished_run, tmp_path, capsys,
                                                             monkeypatch):
    import qiskit_ibm_runtime

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", DeviceService)
    run = _copy(finished_run, tmp_path)
    assert main(["submit", str(run), "--device", "ibm_fakeland", "--models", "ga", "--splits",
                 "test", "--precision", "0.05", "--resilience-level", "0", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "IBM Quantum hardware: billed by QPU time" in out
    assert "400 shots per circuit execution" in out and "qunlearn hw status" in out
    sub = json.loads((run / "hardware" / "jobs.json").read_text())["submissions"][0]
    assert sub["local_testing_mode"] is False and sub["resilience_level"] == 0
    assert sub["estimator_options"] == {"default_precision": 0.05, "resilience_level": 0}
    assert [job["status"] for job in sub["jobs"]] == ["QUEUED"] and "pid" not in sub
    assert not (run / "hardware" / "results").exists()  # IBM keeps results until fetched
