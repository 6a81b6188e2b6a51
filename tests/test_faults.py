"""Fault injection: ``qunlearn run`` killed (SIGKILL) at random points, then resumed, gives the
``results.csv`` of a run that was never interrupted (every column but wall times)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from run_helpers import TINY_IRIS

CONFIG = TINY_IRIS.replace('[[scenario]]\nkind = "class"', '[[scenario]]\nkind = "subset"\n'
                           'fraction = 0.1\n[[scenario]]\nkind = "class"').replace(
    'methods = ["retrain", "ga"]', 'methods = ["retrain", "ga", "finetune"]') + \
    "[unlearn.params.finetune]\nepochs = 2\n"
TIMES = {"seconds", "retrain_seconds", "rte"}


def _command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "qiskit_unlearn.cli.main", "run", str(config), "--out",
            str(out), "--no-cache", "--no-progress"]


def _env() -> dict[str, str]:
    # the same thread settings in every process: reduction order, hence the bits, depend on it
    return {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "results.csv").open(newline="") as fh:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(fh)]


def _start(config: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(_command(config, out), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_start(process: subprocess.Popen, out: Path) -> float:
    """Seconds until the run has claimed its folder (imports and checks are done)."""
    start = time.perf_counter()
    while not (out / "manifest.json").exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.stderr.read()}")
        time.sleep(0.02)
    return time.perf_counter() - start


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_results(tmp_path):
    config = tmp_path / "faults.toml"
    config.write_text(CONFIG, encoding="utf-8")
    reference = tmp_path / "reference"
    process = _start(config, reference)
    _wait_for_start(process, reference)
    began = time.perf_counter()
    assert process.wait(timeout=600) == 0, process.stderr.read()
    work = time.perf_counter() - began  # the part of the run a kill can interrupt
    expected = _rows(reference)
    assert len(expected) == 8 and all(int(r["circuit_evaluations"]) > 0 for r in expected)

    rng = np.random.default_rng(2026)
    outcomes = []
    for seed, fraction in enumerate(rng.uniform(0.05, 0.95, size=3)):
        out = tmp_path / f"killed-{seed}"
        process = _start(config, out)
        _wait_for_start(process, out)
        time.sleep(fraction * work)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        finished = (out / "results.csv").exists()
        resumed = subprocess.run(_command(config, out), env=_env(), capture_output=True,
                                 text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        assert _rows(out) == expected, f"kill at {fraction:.2f} of the run"
        outcomes.append("finished" if finished else
                        "resumed" if "resuming the unfinished run" in resumed.stdout else "?")
        assert not list(out.rglob("*.tmp[0-9]*"))  # no half-written file survives
    assert "resumed" in outcomes  # at least one kill really landed mid-run
