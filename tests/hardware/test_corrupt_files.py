"""A damaged hardware file is an error that names it and says what to do, never a traceback.

``jobs.json`` (the only record of the ids of jobs sent), a stored job result, and an on-device
unlearning's ``journal.json`` and results: garbage, truncated, or valid JSON of the wrong
shape. Runs on ``fake_manila`` in IBM Runtime local testing mode (no network).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from run_helpers import finished_tiny_run

from qiskit_unlearn.cli.main import main as qunlearn

pytestmark = pytest.mark.filterwarnings(
    "ignore:The EstimatorV2 class is deprecated:DeprecationWarning")

FAKE = ["--device", "fake_manila", "--shots", "1000", "--seed", "3"]
UNLEARN = ["--device", "fake_manila", "--method", "ga", "--param", "lr=0.1", "--shots", "1000",
           "--seed", "3"]


def hw(*args: str) -> int:
    return qunlearn(["hw", *args])


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> Path:
    run = finished_tiny_run(tmp_path_factory.mktemp("run"))
    assert hw("submit", str(run), *FAKE, "--models", "ga", "--splits", "forget,test",
              "--yes") == 0
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def _error(capsys, path: Path) -> str:
    """The one-line error of a failed command: it names ``path``; no traceback, no 'bug'."""
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err and "unexpected" not in err, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not a record", "no format"])
@pytest.mark.parametrize("command", [["status"], ["status", "--offline"], ["fetch"],
                                     ["submit", *FAKE, "--dry-run"]])
def test_a_damaged_jobs_json_is_named_with_the_fix(submitted, tmp_path, capsys, damage,
                                                   command):
    run = _copy(submitted, tmp_path)
    path = run / "hardware" / "jobs.json"
    text = path.read_text()
    path.write_text({"garbage": "\x00{ not json at all",
                     "truncated": text[:len(text) // 2],
                     "not a record": json.dumps({"format": 2, "submissions": [{"id": 1}]}),
                     "no format": json.dumps([1, 2, 3])}[damage])
    assert hw(command[0], str(run), *command[1:]) == 2
    err = _error(capsys, path)
    assert "restore it from a backup, or move it aside" in err
    assert "forgets the ids of the jobs already sent" in err


def test_a_jobs_json_from_a_newer_version_says_so(submitted, tmp_path, capsys):
    run = _copy(submitted, tmp_path)
    path = run / "hardware" / "jobs.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 9}))
    assert hw("status", str(run)) == 2
    assert "has format 9; this version of qiskit-unlearn reads formats 1 and 2" in \
        _error(capsys, path)


@pytest.mark.parametrize("content", ["{\"__type__\": \"PrimitiveResult\", \"__val", "[1, 2]"])
def test_a_damaged_local_result_is_named_then_resubmitted(submitted, tmp_path, capsys,
                                                          content):
    run = _copy(submitted, tmp_path)
    (job_id,) = [p.stem for p in (run / "hardware" / "results").glob("*.json")]
    path = run / "hardware" / "results" / f"{job_id}.json"
    path.write_text(content)
    assert hw("fetch", str(run)) == 2
    err = _error(capsys, path)
    assert "delete it (a local job's result cannot be downloaded again)" in err

    path.unlink()  # the fix: the job is then LOST, and resubmitting sends it again
    assert hw("status", str(run)) == 0
    out = capsys.readouterr().out
    assert "LOST" in out and "is gone" in out and "--resubmit-failed" in out
    assert hw("submit", str(run), *FAKE, "--models", "ga", "--splits", "forget,test", "--yes",
              "--resubmit-failed") == 0
    assert hw("fetch", str(run)) == 0
    assert "jobs: 1 finished, 0 pending, 1 failed" in capsys.readouterr().out


def test_a_damaged_ibm_result_says_fetch_downloads_it_again(submitted, tmp_path, capsys):
    run = _copy(submitted, tmp_path)
    jobs = run / "hardware" / "jobs.json"
    data = json.loads(jobs.read_text())
    data["submissions"][0].update(device="ibm_fakeland", local_testing_mode=False)
    jobs.write_text(json.dumps(data))
    (path,) = (run / "hardware" / "results").glob("*.json")
    path.write_text("{")
    assert hw("fetch", str(run)) == 2
    assert "delete it and run 'qunlearn hw fetch' again to download it again" in \
        _error(capsys, path)


def _journal(run: Path) -> Path:
    (path,) = (run / "hardware" / "unlearn" / "ga@fake_manila").glob("*/journal.json")
    return path


@pytest.fixture(scope="module")
def half_unlearned(submitted, tmp_path_factory) -> Path:
    """One job of an on-device unlearning sent and journaled, the rest not."""
    run = _copy(submitted, tmp_path_factory.mktemp("half"))
    assert hw("unlearn", str(run), *UNLEARN, "--yes", "--max-jobs", "1") == 3
    return run


def test_a_damaged_journal_is_named_by_unlearn(half_unlearned, tmp_path, capsys):
    run = _copy(half_unlearned, tmp_path)
    path = _journal(run)
    path.write_text(path.read_text()[:40])
    assert hw("unlearn", str(run), *UNLEARN, "--dry-run") == 2
    err = _error(capsys, path)
    assert f"delete its folder {path.parent} to run this unlearning again" in err


def test_a_damaged_journal_is_named_by_status(half_unlearned, tmp_path, capsys):
    run = _copy(half_unlearned, tmp_path)
    path = _journal(run)
    path.write_text("not json")
    assert hw("status", str(run), "--offline") == 2
    _error(capsys, path)


def test_a_damaged_journal_result_is_named(half_unlearned, tmp_path, capsys):
    run = _copy(half_unlearned, tmp_path)
    path = _journal(run).parent / "results" / "00000.json"
    path.write_text("[]")
    assert hw("unlearn", str(run), *UNLEARN, "--yes") == 2
    err = _error(capsys, path)
    assert "not an Estimator result" in err and "to run this unlearning again from scratch" in err
