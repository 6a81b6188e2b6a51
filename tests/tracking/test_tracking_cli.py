"""``--track mlflow`` through the real ``qunlearn`` entry point: logging after the run, checks
before any training, a failed logging that leaves the run saved and says how to retry, and
``qunlearn track``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from run_helpers import TINY_IRIS
from tracking_helpers import all_runs, children, top_runs

from qiskit_unlearn.cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_IRIS, encoding="utf-8")
    return path


def _run(config: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(config), "--out", str(out), "--no-cache", "--no-progress", *extra]


def test_run_with_track_logs_the_finished_run(config, tmp_path, store, capsys):
    out = tmp_path / "run"
    assert main(_run(config, out, "--track", "mlflow", "--tracking-uri", store)) == 0
    lines = capsys.readouterr().out.splitlines()
    results = next(i for i, line in enumerate(lines) if line.startswith("results: "))
    assert lines[results + 1].startswith(f"mlflow: logged {out.resolve()} as run ")
    runs = all_runs(store, "tiny-hw")
    [parent] = top_runs(runs)
    assert parent.data.tags["qunlearn.run_dir"] == str(out.resolve())
    assert len(children(runs, parent)) == 3
    # the same command again: the run is finished and already logged, nothing is duplicated
    assert main(_run(config, out, "--track", "mlflow", "--tracking-uri", store,
                     "--experiment", "tiny-hw")) == 0
    assert "is already logged" in capsys.readouterr().out
    assert len(all_runs(store, "tiny-hw")) == len(runs)


def test_a_failed_logging_leaves_the_run_saved_and_says_how_to_retry(config, tmp_path, store,
                                                                     capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's folder would go")
    bad = f"sqlite:///{blocker}/store/mlflow.db"
    out = tmp_path / "run"
    assert main(_run(config, out, "--track", "mlflow", "--tracking-uri", bad)) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: the run finished and is saved in {out}, but logging it to "
                          f"mlflow ({bad}) failed: ")
    assert err.rstrip().endswith(f"retry with: qunlearn track {out} --track mlflow "
                                 f"--tracking-uri {bad}")
    assert (out / "results.csv").is_file() and "results: " in captured.out
    # the retry, into a working store
    assert main(["track", str(out), "--tracking-uri", store]) == 0
    assert capsys.readouterr().out.startswith(f"mlflow: logged {out.resolve()} as run ")
    assert len(top_runs(all_runs(store, "tiny-hw"))) == 1


@pytest.mark.parametrize(("options", "message"), [
    (["--track", "wandb"], "error: unknown tracker 'wandb'; choose one of: mlflow\n"),
    (["--track", "mlflow", "--tracking-uri", "ftp://bob:hunter2@host/x"],
     "error: --tracking-uri ftp://***@host/x: MLflow has no tracking store for this scheme"),
    (["--tracking-uri", "sqlite:///x.db"],
     "error: --tracking-uri applies only with --track; add --track mlflow\n"),
])
def test_tracking_options_are_checked_before_any_training(config, tmp_path, capsys, options,
                                                          message):
    if "mlflow" in options:
        pytest.importorskip("mlflow")
    out = tmp_path / "run"
    assert main(_run(config, out, *options)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1
    assert "hunter2" not in captured.err
    assert captured.out == "" and not out.exists()


def test_track_refuses_a_folder_that_holds_no_finished_run(tmp_path, capsys):
    pytest.importorskip("mlflow")
    assert main(["track", str(tmp_path), "--tracking-uri", f"sqlite:///{tmp_path}/s.db"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path} has no config.json: it is not a run directory written "
                   "by 'qunlearn run'; pass one\n")
    assert not (tmp_path / "s.db").exists()


def _env(tmp_path: Path) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")])), "QUNLEARN_DEBUG": "",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/never.db"}


@pytest.mark.parametrize("command", ["run", "sweep", "track"])
def test_without_mlflow_track_fails_at_once_naming_the_extra(config, tmp_path, command):
    """A real import failure (``sys.modules['mlflow'] = None`` makes every import of it fail),
    in a fresh interpreter: one line, exit code 2, no run directory, no training."""
    out = tmp_path / "out"
    target = str(out) if command == "track" else str(config)
    argv = [command, target, "--track", "mlflow"] + ([] if command == "track" else [
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    code = textwrap.dedent(f"""
        import sys
        sys.modules["mlflow"] = None
        from qiskit_unlearn.cli.main import main
        sys.exit(main({argv!r}))
        """)
    if command == "sweep":
        config.write_text(TINY_IRIS + '[sweep]\nwhere = "eval"\ndepolarizing = [0.1]\n')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(tmp_path), cwd=tmp_path, timeout=600)
    assert done.returncode == 2, done.stderr
    assert done.stderr == ('error: --track mlflow needs the mlflow package; install it with: '
                           'pip install "qiskit-unlearn[mlflow]" (from a source checkout: '
                           'pip install -e ".[mlflow]")\n')
    assert done.stdout == ""  # not even the plan ("N units of work ...") was printed
    assert not out.exists() and not (tmp_path / "cache").exists()
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("argv", [["track", "--help"], ["run", "--help"], ["sweep", "--help"]])
def test_help_loads_no_tracking_package_nor_torch(argv, tmp_path):
    code = textwrap.dedent(f"""
        import contextlib, io, sys
        from qiskit_unlearn.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as text:
            try:
                main({argv!r})
            except SystemExit:
                pass
        assert "--tracking-uri" in text.getvalue(), text.getvalue()
        print("LOADED", [m for m in ("torch", "qiskit", "mlflow") if m in sys.modules])
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=300, check=True)
    assert ast.literal_eval(done.stdout.split("LOADED", 1)[1].strip()) == []
