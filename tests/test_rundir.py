"""A run directory is a record: refusals change nothing, one process at a time, corrupt files
are named, caches heal, costs survive resumes, and consumers refuse a changed config."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from run_helpers import TINY_IRIS, finished_tiny_run

from qiskit_unlearn.cli.main import main
from qiskit_unlearn.config import load_config
from qiskit_unlearn.run import run_experiment
from qiskit_unlearn.run.modelstore import CacheWarning
from qiskit_unlearn.run.rundir import RunDirError, RunLock, config_diff, open_run
from qiskit_unlearn.storage import FileError


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and not p.name.startswith(".qunlearn.")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("finished"))


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


def _config(tmp_path: Path, text: str = TINY_IRIS) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_refused_rerun_leaves_the_record_byte_identical_and_names_the_keys(
        finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    before = _files(run)
    code = main(["run", str(_config(tmp_path)), "--out", str(run), "--no-cache",
                 "--set", "data.test_size=0.4", "--set", "train.lr=0.2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "data.test_size: 0.2 -> 0.4" in err and "train.lr: 0.1 -> 0.2" in err
    assert "train.epochs" not in err  # only what differs
    assert _files(run) == before
    # the same config again: a finished run is reported, not rewritten
    assert main(["run", str(_config(tmp_path)), "--out", str(run), "--no-cache"]) == 0
    assert "already holds this finished run" in capsys.readouterr().out
    assert _files(run) == before


def test_config_diff_names_nested_and_listed_keys():
    old = {"data": {"test_size": 0.2}, "scenario": [{"kind": "class", "classes": [0]}]}
    new = {"data": {"test_size": 0.4, "val_size": 0.1},
           "scenario": [{"kind": "class", "classes": [1]}]}
    assert config_diff(old, new) == ["data.test_size: 0.2 -> 0.4",
                                     "data.val_size: (absent) -> 0.1",
                                     "scenario[0].classes: [0] -> [1]"]


def test_a_second_process_gets_the_lock_holders_pid_and_host(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from qiskit_unlearn.locks import RunLock
            with RunLock({str(folder)!r}, "qunlearn run"):
                print("locked", flush=True)
                sys.stdin.read()
            """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["run", str(_config(tmp_path)), "--out", str(folder), "--no-cache"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"PID {holder.pid} on host {socket.gethostname()}" in err
        assert "is in use by another process ('qunlearn run'" in err
        assert not (folder / "config.json").exists()
        # 'hw' readers are refused too while a run holds the folder
        with pytest.raises(RunDirError, match=f"PID {holder.pid}"):
            RunLock(folder, "qunlearn hw status", shared=True).acquire()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with RunLock(folder, "qunlearn run"):  # released when its holder ended
        pass


@pytest.mark.parametrize("name", ["../x", "../../etc", "/some/abs/path", "..", "", ".", "a/b",
                                  "-x", ".hidden"])
def test_experiment_names_are_plain_folder_names(tmp_path, capsys, name):
    code = main(["run", str(_config(tmp_path)), "--set", f"experiment.name={name!r}"])
    err = capsys.readouterr().err
    assert code == 2 and "experiment.name" in err and "plain folder name" in err
    assert "--out" in err  # the way to pick any folder


def test_out_at_a_file_or_below_one_is_a_clean_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out in (blocker, blocker / "below"):
        assert main(["run", str(_config(tmp_path)), "--out", str(out), "--no-cache"]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "Traceback" not in err and "--out" in err


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None,
                    reason="needs chattr as root")
def test_an_unwritable_out_folder_is_a_clean_error(tmp_path, capsys):
    folder = tmp_path / "frozen"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("the file system does not support chattr +i")
    try:
        assert main(["run", str(_config(tmp_path)), "--out", str(folder), "--no-cache"]) == 2
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    err = capsys.readouterr().err
    assert f"cannot write to {folder}" in err and "Traceback" not in err


def test_a_folder_that_is_not_a_run_is_not_written_into(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert main(["run", str(_config(tmp_path)), "--out", str(folder), "--no-cache"]) == 2
    assert "is not empty (notes.txt) and holds no run" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == [".qunlearn.holders", ".qunlearn.lock",
                                                        "notes.txt"]


def test_a_corrupt_cache_entry_is_moved_aside_and_recomputed(tmp_path):
    cfg = load_config(_config(tmp_path))
    cache = tmp_path / "cache"
    first = run_experiment(cfg, tmp_path / "a", cache_dir=cache, progress=False,
                           echo=lambda *_: None, report=None)
    entries = sorted(cache.glob("*.pt"))
    assert len(entries) == 2  # teacher and oracle
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # truncated
    with pytest.warns(CacheWarning, match="model cache entry .* is unusable") as caught:
        second = run_experiment(cfg, tmp_path / "b", cache_dir=cache, progress=False,
                                echo=lambda *_: None, report=None)
    named = " ".join(str(w.message) for w in caught)
    assert all(str(entry) in named for entry in entries)
    assert all(entry.with_name(entry.name + ".corrupt").is_file() for entry in entries)
    assert all(entry.is_file() for entry in entries)  # healed: written again
    keep = ("method", "retain_accuracy", "forget_accuracy", "test_accuracy",
            "circuit_evaluations")
    a, b = ([{k: r[k] for k in keep} for r in csv.DictReader((run / "results.csv").open())]
            for run in (first, second))
    assert a == b


def test_a_truncated_model_file_of_an_unfinished_run_is_named(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"  # as if killed before its last write
    (run / "manifest.json").write_text(json.dumps(manifest))
    bad = run / "unlearned" / "class-0__seed0__ga.pt"
    bad.write_bytes(bad.read_bytes()[:100])
    code = main(["run", str(_config(tmp_path)), "--out", str(run), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "SHA-256 does not match" in err
    assert "delete it and run the same command again" in err and "Traceback" not in err


def test_a_truncated_checkpoint_without_its_model_file_is_named(tmp_path, capsys,
                                                                monkeypatch):
    import qiskit_unlearn.train as train_module

    cfg_path = _config(tmp_path)
    run = tmp_path / "run"
    real, calls = train_module.evaluate, []

    def interrupted(model, data):  # Ctrl-C during the teacher's second epoch
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(model, data)

    monkeypatch.setattr(train_module, "evaluate", interrupted)
    assert main(["run", str(cfg_path), "--out", str(run), "--no-cache"]) == 130
    monkeypatch.undo()
    assert "run the same command again" in capsys.readouterr().err
    assert not (run / "checkpoints" / "class-0-seed0-teacher.pt").exists()
    ckpt = run / "checkpoints" / "class-0-seed0-teacher.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:64])
    code = main(["run", str(cfg_path), "--out", str(run), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and str(ckpt) in err and "not a readable checkpoint" in err
    assert "delete it to restart this model's training" in err and "Traceback" not in err
    ckpt.unlink()  # the fix the message gives
    assert main(["run", str(cfg_path), "--out", str(run), "--no-cache"]) == 0


def test_consumers_refuse_a_config_json_that_no_longer_matches(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["test_size"] = 0.4  # what an older version's refused rerun left behind
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunDirError, match="does not match the config the run was made with"):
        open_run(run)
    for command in (["hw", "submit", str(run), "--device", "fake_manila", "--dry-run"],
                    ["report", str(run)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "data.test_size: 0.2 -> 0.4" in err and "Traceback" not in err


def test_a_changed_model_file_is_caught_by_its_digest_before_parsing(finished, tmp_path,
                                                                   capsys):
    run = _copy(finished, tmp_path)
    bad = run / "checkpoints" / "class-0-seed0-teacher.pt"
    bad.write_bytes(bad.read_bytes()[:-10])
    assert main(["hw", "submit", str(run), "--device", "fake_manila", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "SHA-256 does not match" in err
    with pytest.raises(FileError):
        from qiskit_unlearn.hardware.runs import FinishedRun

        FinishedRun(run).load("checkpoints/class-0-seed0-teacher.pt")


def test_an_interrupted_run_reports_the_uninterrupted_cost(tmp_path, monkeypatch):
    """Circuit evaluations survive a resume from a per-epoch checkpoint and a re-run."""
    import qiskit_unlearn.train as train_module

    cfg = load_config(_config(tmp_path))
    whole = run_experiment(cfg, tmp_path / "whole", cache_dir=None, progress=False,
                           echo=lambda *_: None, report=None)
    expected = list(csv.DictReader((whole / "results.csv").open()))
    # interrupt during the oracle's second epoch (the teacher trains 3 epochs first)
    real, calls = train_module.evaluate, []

    def interrupted(model, data):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(model, data)

    monkeypatch.setattr(train_module, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "part", cache_dir=None, progress=False,
                       echo=lambda *_: None, report=None)
    monkeypatch.undo()
    assert json.loads((tmp_path / "part" / "manifest.json").read_text())["status"] == "running"
    lines: list[str] = []
    part = run_experiment(cfg, tmp_path / "part", cache_dir=None, progress=False,
                          echo=lines.append, report=None)
    assert any("teacher: reused the finished model checkpoints/" in line for line in lines)
    assert any("oracle: resumed training after epoch 1" in line for line in lines)
    got = list(csv.DictReader((part / "results.csv").open()))
    times = {"seconds", "retrain_seconds", "rte"}
    assert [{k: v for k, v in r.items() if k not in times} for r in got] == \
        [{k: v for k, v in r.items() if k not in times} for r in expected]
    assert int(got[1]["circuit_evaluations"]) > 0


def test_a_run_on_a_backend_that_cannot_work_fails_before_the_folder_is_touched(tmp_path,
                                                                               capsys):
    out = tmp_path / "never"
    text = TINY_IRIS + '[backend]\nname = "aer"\nbogus = 1\n'
    assert main(["run", str(_config(tmp_path, text)), "--out", str(out), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "[backend] 'aer' cannot run this model" in err and "'bogus'" in err
    assert not out.exists()
    text = TINY_IRIS.replace("num_qubits = 2", "num_qubits = 40")
    assert main(["run", str(_config(tmp_path, text)), "--out", str(out), "--no-cache"]) == 2
    assert "memory" in capsys.readouterr().err.lower() and not out.exists()


def test_hw_status_works_while_a_device_run_holds_the_run(finished, tmp_path, capsys):
    """``hw unlearn`` shares the run's lock and locks its own journal folder, so status and
    fetch stay usable while it waits in a queue; ``qunlearn run`` cannot touch the folder."""
    run = _copy(finished, tmp_path)
    task = run / "hardware" / "unlearn" / "ga@fake_manila" / "seed0-class-0-0123"
    task.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from qiskit_unlearn.locks import RunLock
            with RunLock({str(run)!r}, "qunlearn hw unlearn", shared=True), \\
                    RunLock({str(task)!r}, "qunlearn hw unlearn ga"):
                print("locked", flush=True)
                sys.stdin.read()
            """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["hw", "status", str(run), "--offline"]) == 0
        assert "no jobs in" in capsys.readouterr().out
        with pytest.raises(RunDirError, match=f"PID {holder.pid}"):
            RunLock(task, "qunlearn hw unlearn ga").acquire()  # the same task twice: refused
        assert main(["run", str(_config(tmp_path)), "--out", str(run), "--no-cache"]) == 2
        assert "is in use by another process ('qunlearn hw unlearn'" in capsys.readouterr().err
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
