"""Rankings of a real (tiny) run: ranking.csv and report.md agree with results.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from run_helpers import TINY_IRIS, finished_tiny_run

from qiskit_unlearn.report import write_report

THREE_SEEDS = TINY_IRIS.replace("seeds = [0]", "seeds = [0, 1, 2]")
KEYS = ("retain_accuracy", "forget_accuracy", "test_accuracy", "mia_auc")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("ranked"), THREE_SEEDS)


def test_ranking_of_a_real_run(run: Path) -> None:
    before = {name: (run / name).read_bytes() for name in ("results.csv", "manifest.json")}
    report = write_report(run).read_text(encoding="utf-8")
    # a report only reads the run's record and derives its own files
    assert {name: (run / name).read_bytes() for name in before} == before
    results = _rows(run / "results.csv")
    by = {(r["seed"], r["method"]): {k: float(r[k]) for k in (*KEYS, "oracle_gap")}
          for r in results}
    seeds = ["0", "1", "2"]
    ranking = {(r["measure"], r["method"]): r for r in _rows(run / "ranking.csv")}
    assert set(ranking) == {("distance", "ga"), ("distance", "original"), ("balance", "ga"),
                            ("balance", "original"), ("balance", "retrain")}
    for method in ("ga", "original"):
        # distance: the oracle gap with the MIA AUC, against the oracle of the same seed
        distance = [np.mean([abs(by[s, method][k] - by[s, "retrain"][k]) for k in KEYS])
                    for s in seeds]
        for s in seeds:
            accuracies = np.mean([abs(by[s, method][k] - by[s, "retrain"][k])
                                  for k in KEYS[:3]])
            assert accuracies == pytest.approx(by[s, method]["oracle_gap"])
        row = ranking["distance", method]
        assert float(row["mean"]) == pytest.approx(np.mean(distance))
        assert float(row["ci_low"]) <= float(row["mean"]) <= float(row["ci_high"])
        assert row["n_seeds"] == "3" and row["mia"] == "true"
    best, other = sorted(("ga", "original"),
                         key=lambda m: float(ranking["distance", m]["mean"]))
    assert ranking["distance", best]["rank"] == "1" and ranking["distance", other]["rank"] == "2"
    # three seeds: the exact sign-flip test, which cannot reach p < 0.25
    assert ranking["distance", other]["test"] == "sign-flip"
    assert float(ranking["distance", other]["p_value"]) >= 0.25
    assert ranking["distance", other]["significant"] == "false"
    # the oracle forgets the class entirely and has no attack gap to itself
    oracle = ranking["balance", "retrain"]
    assert (float(oracle["forgetting"]), float(oracle["privacy"])) == (1.0, 1.0)
    assert oracle["rank"] == ""
    teacher = ranking["balance", "original"]
    assert float(teacher["utility"]) == 1.0  # the teacher is its own utility reference
    assert float(teacher["forgetting"]) == pytest.approx(
        1 - np.mean([by[s, "original"]["forget_accuracy"] for s in seeds]))
    # report.md: both sections, the per-scenario table and the honest verdict
    assert "## Distance to the oracle" in report and "## Balance ranking" in report
    assert report.count("### class-0") == 2
    assert f"| 1 | {'original (teacher)' if best == 'original' else 'ga'} | 3 |" in report
    assert "no (n too small)" in report and "at least 6 seeds" in report
    assert not math.isnan(float(ranking["balance", "ga"]["mean"]))
