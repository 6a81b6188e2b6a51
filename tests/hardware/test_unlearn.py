"""``qunlearn hw unlearn``: unlearning with the circuit on a (fake) device, priced first.

No network, no credentials: the tiny Iris run's teacher runs gradient ascent on
``fake_manila`` in IBM Runtime local testing mode (and on a stub IBM device whose jobs run
there too). Checked: the rehearsal's cost is the cost of the device run, the model really
forgets on the noisy device, an interrupted run continues (in a fresh process) without
sending a finished job again and ends with the same model, and a queued IBM job is
reconnected to by id.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ibm_stubs import (
    SECRET_INSTANCE,
    SECRET_TOKEN,
    DeviceService,
    StubJob,
    without_ibm_account,
)
from run_helpers import finished_tiny_run

from qiskit_unlearn.cli.main import main as qunlearn
from qiskit_unlearn.hardware.base import HardwareError
from qiskit_unlearn.hardware.journal import JobCost
from qiskit_unlearn.hardware.runs import FinishedRun
from qiskit_unlearn.hardware.store import JobStore
from qiskit_unlearn.hardware.unlearn import UnlearnRequest, execute_unlearning, plan_unlearning

pytestmark = pytest.mark.filterwarnings(
    "ignore:The EstimatorV2 class is deprecated:DeprecationWarning",
    "ignore:The resilience_level option has no effect:UserWarning")


def main(argv: list[str]) -> int:
    """``qunlearn hw ARGV`` through the real entry point (its one error handler included)."""
    return qunlearn(["hw", *argv])

ARGS = ["--device", "fake_manila", "--method", "ga", "--param", "lr=0.1", "--shots", "1000",
        "--seed", "3"]
NAME = "ga@fake_manila"
CHECKPOINT = f"unlearned/class-0__seed0__{NAME}.pt"
REQUEST = UnlearnRequest(device="fake_manila", method="ga", params={"lr": 0.1}, shots=1000,
                         seed=3)
# gradient ascent, 1 epoch on the 30 forget samples in batches of 16 (2 training steps, each
# forward + gradient in one job), then one evaluation job each on validation and forget
JOBS, TRAINING_JOBS = 4, 2


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("run"))


def _copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    out = tmp_path / name
    shutil.copytree(run, out)
    return out


@pytest.fixture(scope="module")
def unlearned(finished_run, tmp_path_factory):
    """The run after one uninterrupted ``hw unlearn`` through the API: (run dir, plan, rows)."""
    run_dir = _copy(finished_run, tmp_path_factory.mktemp("unlearned"))
    run, store = FinishedRun(run_dir), JobStore(run_dir)
    plan = plan_unlearning(run, store, REQUEST, echo=lambda _: None)
    rows = execute_unlearning(plan, run, store, echo=lambda _: None)
    return run_dir, plan, rows


def _journal(run: Path) -> tuple[Path, dict]:
    (path,) = (run / "hardware" / "unlearn" / NAME).glob("*/journal.json")
    return path, json.loads(path.read_text())


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / CHECKPOINT, weights_only=True)["model"]


def _simulated(run: Path, method: str) -> dict[str, str]:
    return next(r for r in csv.DictReader((run / "results.csv").open()) if r["method"] == method)


def test_dry_run_prices_the_run_and_sends_nothing(finished_run, tmp_path, capsys, monkeypatch):
    from qiskit_ibm_runtime import EstimatorV2

    monkeypatch.setattr(EstimatorV2, "run", lambda *a, **k: pytest.fail("a job was sent"))
    run = _copy(finished_run, tmp_path)
    assert main(["unlearn", str(run), "--device", "fake_manila", "--method", "ga", "--shots",
                 "1000", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"method ga -> model '{NAME}': epochs=1, lr=0.01" in out  # the run's ga settings
    # 2 fused steps (16 + 14 forget samples, each with its 6 weights shifted both ways:
    # 16 x 13 + 14 x 13 parameter sets) + val (30) + forget (30) evaluations
    assert (f"{JOBS} jobs, 6 PUBs, 450 parameter sets, 450 circuit executions = 450,000 shots"
            in out)
    # the noiseless rehearsal is the exact simulation of the same method: the run's own result
    ga = _simulated(run, "ga")
    assert (f"noiseless result: retain {float(ga['retain_accuracy']):.3f}  forget "
            f"{float(ga['forget_accuracy']):.3f}  test {float(ga['test_accuracy']):.3f}") in out
    assert "dry run: nothing was sent" in out and not (run / "hardware").exists()


def test_the_device_run_costs_what_the_rehearsal_said_and_forgets(unlearned):
    run_dir, plan, rows = unlearned
    (task,) = plan.tasks
    _, journal = _journal(run_dir)
    jobs = journal["jobs"]
    assert [j["status"] for j in jobs] == ["DONE"] * JOBS
    actual = JobCost(**{k: sum(j[k] for j in jobs) for k in
                        ("jobs", "pubs", "parameter_sets", "circuit_executions")})
    assert actual == task.cost == JobCost(JOBS, 6, 450, 450)
    assert sum(j["pubs"] == 2 for j in jobs) == TRAINING_JOBS  # forward + gradient, one job

    (row,) = rows
    teacher = _simulated(run_dir, "original")
    assert float(teacher["forget_accuracy"]) > 0.9
    assert row["forget_accuracy"] < 0.3  # forgotten on the noisy device, 1000 shots
    assert row["retain_accuracy"] >= float(teacher["retain_accuracy"]) - 0.15
    assert row["noiseless_forget_accuracy"] < 0.3 and row["forget_drop"] > 0.6
    assert (row["device"], row["shots"], row["jobs"], row["jobs_sent"]) == \
        ("fake_manila", 1000, JOBS, JOBS)
    assert row["total_shots"] == 450_000 and row["evaluated_on"] == "statevector (exact)"
    table = list(csv.DictReader((run_dir / "hardware" / "unlearn-results.csv").open()))
    assert [(r["method"], r["base_method"]) for r in table] == [(NAME, "ga")]
    state = torch.load(run_dir / CHECKPOINT, weights_only=True)
    assert state["result"]["cost"]["jobs"] == JOBS and state["key"] == task.key


def test_the_unlearned_model_can_be_measured_and_is_not_run_twice(unlearned, tmp_path, capsys):
    run = _copy(unlearned[0], tmp_path)
    assert NAME in FinishedRun(run).methods()
    assert main(["submit", str(run), "--device", "fake_manila", "--models", NAME, "--splits",
                 "forget", "--dry-run"]) == 0
    assert "1 jobs, 1 PUBs on 1 distinct circuit(s), 30 parameter sets" in \
        capsys.readouterr().out
    assert main(["unlearn", str(run), *ARGS, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "already unlearned with these settings" in out and "nothing to run" in out


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = ("import sys; from qiskit_unlearn.cli.main import main; "
            "sys.exit(main(['hw', *sys.argv[1:]]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


def test_an_interrupted_run_continues_in_a_fresh_process(finished_run, unlearned, tmp_path,
                                                         capsys):
    run = _copy(finished_run, tmp_path)
    first = _cli("unlearn", str(run), *ARGS, "--yes", "--max-jobs", "2")
    assert first.returncode == 3, first.stderr
    assert "stopped: --max-jobs 2" in first.stdout and not (run / CHECKPOINT).exists()
    _, journal = _journal(run)
    sent = [j["job_id"] for j in journal["jobs"]]
    assert len(sent) == 2
    assert main(["status", str(run), "--offline"]) == 0
    assert f"{NAME:20s} seed 0 / class-0      2 of 2 jobs done, unfinished, last job " \
        f"{sent[1]} DONE" in capsys.readouterr().out

    second = _cli("unlearn", str(run), *ARGS, "--yes")
    assert second.returncode == 0, second.stderr
    assert "2 of these jobs finished in an earlier run" in second.stdout
    assert "(4 jobs, 2 sent now, 2 replayed" in second.stdout
    _, journal = _journal(run)
    assert [j["job_id"] for j in journal["jobs"]][:2] == sent and len(journal["jobs"]) == JOBS
    # the same model as the uninterrupted run (same seeds, same device results)
    for key, value in _weights(unlearned[0]).items():
        torch.testing.assert_close(_weights(run)[key], value, rtol=0, atol=0)
    assert main(["status", str(run), "--offline"]) == 0
    assert "4 of 4 jobs done, finished" in capsys.readouterr().out


def test_a_journal_that_no_longer_matches_is_refused(unlearned, tmp_path, capsys):
    run = _copy(unlearned[0], tmp_path)
    (run / CHECKPOINT).unlink()
    path, journal = _journal(run)
    journal["jobs"][0]["digest"] = "0" * 64  # as if the model or data had changed
    path.write_text(json.dumps(journal))
    assert main(["unlearn", str(run), *ARGS, "--yes"]) == 2
    assert "was sent with other circuits, observables or values" in capsys.readouterr().err


def test_a_queued_ibm_job_is_reconnected_by_id(finished_run, tmp_path, capsys, monkeypatch):
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime import EstimatorV2, RuntimeDecoder

    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", SECRET_INSTANCE)
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", DeviceService)
    DeviceService.opened = []
    run = _copy(finished_run, tmp_path)
    name = "ga@ibm_fakeland"
    ibm = ["--device", "ibm_fakeland", "--method", "ga", "--param", "lr=0.1", "--shots", "1000",
           "--resilience-level", "0", "--instance", SECRET_INSTANCE, "--yes"]
    assert main(["unlearn", str(run), *ibm, "--max-jobs", "2"]) == 3
    out = capsys.readouterr().out
    assert "IBM Quantum hardware: billed by QPU time" in out and "resilience level 0" in out
    (path,) = (run / "hardware" / "unlearn" / name).glob("*/journal.json")
    journal = json.loads(path.read_text())
    queued = journal["jobs"][1]
    stored = path.parent / "results" / "00001.json"
    result = json.loads(stored.read_text(), cls=RuntimeDecoder)
    stored.unlink()
    queued["status"] = "QUEUED"  # the process died while IBM still had the job
    path.write_text(json.dumps(journal))
    DeviceService.jobs = {queued["job_id"]: StubJob("RUNNING", result)}
    capsys.readouterr()
    assert main(["status", str(run), "--instance", SECRET_INSTANCE]) == 0  # asks IBM
    assert f"1 of 2 jobs done, unfinished, last job {queued['job_id']} RUNNING" in \
        capsys.readouterr().out

    real_run, sent = EstimatorV2.run, []
    monkeypatch.setattr(EstimatorV2, "run",
                        lambda self, pubs, **kw: sent.append(1) or real_run(self, pubs, **kw))
    assert main(["unlearn", str(run), *ibm]) == 0
    out = capsys.readouterr().out
    assert f"reconnecting to {queued['job_id']}" in out
    assert len(sent) == JOBS - 2  # the queued job was waited for, not sent again
    assert stored.is_file() and (run / f"unlearned/class-0__seed0__{name}.pt").is_file()
    assert set(DeviceService.opened) == {(None, SECRET_INSTANCE)}  # the saved account only
    for file in run.rglob("*"):
        if file.is_file():
            blob = file.read_bytes()
            assert SECRET_TOKEN.encode() not in blob and b"DO-NOT-WRITE" not in blob, file


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "forget-everything"], "unknown unlearning method 'forget-everything'"),
    (["--method", "ga", "--param", "momentum=0.9"], "has no hyperparameter 'momentum'"),
    (["--method", "ga", "--param", "lr=fast"], "ga.lr must be of type float"),
    (["--method", "ga", "--name", "ga"], "is a model of the simulated run"),
    (["--method", "ga", "--name", "a__b"], "must be letters, digits"),
    (["--method", "ga", "--max-jobs", "0"], "--max-jobs must be at least 1"),
    (["--method", "ga", "--scenarios", "class-9"], "unknown scenarios ['class-9']"),
])
def test_bad_requests_name_the_fix(finished_run, capsys, args, message):
    assert main(["unlearn", str(finished_run), "--device", "fake_manila", *args,
                 "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_nothing_is_sent_without_confirmation(finished_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    run = _copy(finished_run, tmp_path)
    assert main(["unlearn", str(run), *ARGS]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert not (run / "hardware").exists()


def test_a_missing_ibm_account_fails_before_the_rehearsal(finished_run, tmp_path, capsys,
                                                          monkeypatch):
    without_ibm_account(monkeypatch, tmp_path)
    assert main(["unlearn", str(finished_run), "--device", "ibm_brisbane", "--method", "ga",
                 "--yes"]) == 2
    out, err = capsys.readouterr()
    assert "QiskitRuntimeService.save_account(channel='ibm_quantum_platform'" in err
    assert "rehearsing" not in out


def test_journal_replay_refuses_a_result_file_that_went_missing(unlearned, tmp_path):
    run = _copy(unlearned[0], tmp_path)
    (run / CHECKPOINT).unlink()
    path, _ = _journal(run)
    (path.parent / "results" / "00000.json").unlink()
    finished, store = FinishedRun(run), JobStore(run)
    plan = plan_unlearning(finished, store, REQUEST, echo=lambda _: None)
    with pytest.raises(HardwareError, match="is missing; delete"):
        execute_unlearning(plan, finished, store, echo=lambda _: None)


def test_a_failed_job_is_reported_and_sent_again_on_the_next_run(finished_run, unlearned,
                                                                  tmp_path, capsys,
                                                                  monkeypatch):
    from qiskit_ibm_runtime.fake_provider.local_runtime_job import LocalRuntimeJob

    run = _copy(finished_run, tmp_path)
    real, calls = LocalRuntimeJob.result, []

    def result(self):
        calls.append(self.job_id())
        if len(calls) == 2:
            raise RuntimeError("device calibration in progress")
        return real(self)

    monkeypatch.setattr(LocalRuntimeJob, "result", result)
    assert main(["unlearn", str(run), *ARGS, "--yes"]) == 2
    err = capsys.readouterr().err
    assert "job 2/4" in err and "device calibration in progress" in err
    assert "run the same command again to send it again" in err
    _, journal = _journal(run)
    assert [j["status"] for j in journal["jobs"]] == ["DONE", "ERROR"]
    assert main(["unlearn", str(run), *ARGS, "--yes"]) == 0
    _, journal = _journal(run)
    assert [j["status"] for j in journal["jobs"]] == ["DONE"] * JOBS
    assert journal["jobs"][1]["job_id"] == calls[-3] != calls[1]  # sent again, new id
    for key, value in _weights(unlearned[0]).items():
        torch.testing.assert_close(_weights(run)[key], value, rtol=0, atol=0)


def test_copies_a_method_makes_inside_are_priced_and_journaled_too(finished_run, tmp_path):
    """SCRUB distils from a frozen copy of the teacher: that copy's forward passes are device
    jobs as well, and the rehearsal counts them."""
    run_dir = _copy(finished_run, tmp_path)
    run, store = FinishedRun(run_dir), JobStore(run_dir)
    request = UnlearnRequest(device="fake_manila", method="scrub", shots=500, seed=3,
                             params={"epochs": 1, "msteps": 1})
    plan = plan_unlearning(run, store, request, echo=lambda _: None)
    (row,) = execute_unlearning(plan, run, store, echo=lambda _: None)
    (task,) = plan.tasks
    (path,) = (run_dir / "hardware" / "unlearn" / "scrub@fake_manila").glob("*/journal.json")
    jobs = json.loads(path.read_text())["jobs"]
    assert row["jobs"] == len(jobs) == task.cost.jobs > 0
    assert (row["pubs"], row["parameter_sets"], row["circuit_executions"]) == \
        (task.cost.pubs, task.cost.parameter_sets, task.cost.circuit_executions)
    # teacher-copy and evaluation forwards (one PUB) beside the student's fused steps (two)
    assert {j["pubs"] for j in jobs} == {1, 2}
