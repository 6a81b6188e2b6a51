"""Reports from synthetic run directories: summary numbers, Markdown, figures and the CLI."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from qiskit_unlearn.cli.main import main
from qiskit_unlearn.report import ReportError, write_report
from qiskit_unlearn.report.tables import fmt_duration, fmt_stat, mean_std

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METHODS = (("retrain", "false"), ("ascent", "false"), ("dampening", "true"))
BASE = {  # (scenario, method) -> (forget accuracy, test accuracy, seconds) of seed 0
    ("subset", "retrain"): (0.83, 0.90, 40.0),
    ("subset", "ascent"): (0.60, 0.88, 2.0),
    ("subset", "dampening"): (0.75, 0.86, 1.0),
    ("class", "retrain"): (0.00, 0.62, 35.0),
    ("class", "ascent"): (0.10, 0.55, 2.5),
    ("class", "dampening"): (0.20, 0.60, 1.2),
}
NOISES = (("ideal", 0.0), ("low", 0.01), ("high", 0.05))


def _row(scenario: str, method: str, faithful: str, seed: int, noise: tuple[str, float] | None
         ) -> dict[str, object]:
    forget, test, seconds = BASE[scenario, method]
    level = noise[1] if noise else 0.0
    oracle = method == "retrain"
    row: dict[str, object] = {
        "experiment": "synthetic", "scenario": scenario, "scenario_kind": scenario,
        "seed": seed, "method": method, "variant": "", "faithful": faithful,
        "retain_accuracy": 0.95 - 0.01 * seed - level,
        "forget_accuracy": forget + 0.1 * seed, "val_accuracy": 0.9,
        "test_accuracy": test - 0.04 * seed - 2 * level,
        "original_forget_accuracy": 0.97, "original_test_accuracy": 0.92 - 0.04 * seed,
        "forget_drop": 0.97 - forget - 0.1 * seed,
        "uqi": "" if oracle else 0.5 + 0.1 * seed,  # undefined for the oracle: all NaN
        # one seed without an attack result: its mean is the other seed's value, no std
        "mia_auc": "" if (scenario, method, seed) == ("subset", "ascent", 1)
        else 0.55 + 0.05 * seed,
        "js_test": 0.0 if oracle else 0.02 + 0.01 * seed + level,
        "seconds": seconds * (1 + 0.5 * seed), "retrain_seconds": 40.0,
        "rte": 40.0 / (seconds * (1 + 0.5 * seed)),
        "custom_score": 1.0 + seed, "notes": "free text",  # unknown extra columns
    }
    if noise:
        row |= {"noise": noise[0], "noise_level": level}
    return row


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def make_run(root: Path, *, noise: bool = False) -> Path:
    """2 scenarios × 3 methods × 2 seeds (× 3 noise settings) with curves and histories."""
    root.mkdir(parents=True, exist_ok=True)
    settings = NOISES if noise else (None,)
    rows = [_row(sc, m, f, seed, n) for n in settings for sc in ("subset", "class")
            for m, f in METHODS for seed in (0, 1)]
    _write_csv(root / "results.csv", rows)
    (root / "manifest.json").write_text(json.dumps({
        "experiment": "synthetic", "started": "2025-01-01T10:00:00+00:00",
        "finished": "2025-01-01T10:12:30+00:00", "seeds": [0, 1],
        "versions": {"python": "3.11.2", "qiskit": "2.1.0"},
        "config": {"experiment": {"description": "A made-up study for the report tests"}},
        "timings": {"total": 750.0}}), encoding="utf-8")
    (root / "curves").mkdir(exist_ok=True)
    (root / "history").mkdir(exist_ok=True)
    for sc in ("subset", "class"):
        for seed in (0, 1):
            for k, (m, _) in enumerate(METHODS[1:], start=1):
                curve = [{"step": float(s), "val_accuracy": 0.9 - 0.02 * k * s,
                          "forget_accuracy": 0.95 - 0.08 * k * s - 0.02 * seed, "loss": 1.0}
                         for s in range(6)]
                (root / "curves" / f"{sc}__seed{seed}__{m}.json").write_text(json.dumps(curve))
            for k, role in enumerate(("teacher", "oracle")):
                epochs = 8 - seed  # early stopping: seeds differ in length
                hist = [{"epoch": e, "train_loss": (1.2 + k) / e, "val_loss": (1.3 + k) / e,
                         "val_accuracy": 0.9 - (0.4 + 0.2 * k) / e}
                        for e in range(1, epochs + 1)]
                (root / "history" / f"{sc}-seed{seed}-{role}.json").write_text(json.dumps(hist))
    (root / "curves" / "subset__seed0__broken.json").write_text("{not json")
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_run(tmp_path_factory.mktemp("run"))
    _write_csv(root / "forgetting_quality.csv", [
        {"scenario": "subset", "method": m, "seed": s, "forgetting_quality": 0.2 + 0.1 * s,
         "ulira_accuracy": 0.6, "num_unlearned_models": 4, "num_retrained_models": 4}
        for m in ("ascent", "dampening") for s in (0, 1)])
    _write_csv(root / "memorisation.csv", [
        {"scenario": "subset", "seed": s, "memorisation": 0.2 + 0.2 * s,
         "memorisation_prob": 0.1 + 0.2 * s, "num_out_models": 6, "num_examples": 12}
        for s in (0, 1)])
    _write_csv(root / "landscape.csv", [
        {"scenario": "subset", "seed": s, "model": "teacher", "split": "forget",
         "hessian_top": 2.0 + s, "hessian_trace": 5.0} for s in (0, 1)])
    write_report(root)
    return root


def _summary(root: Path) -> list[dict[str, str]]:
    with (root / "summary.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _linked_pngs(report: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", report)


def test_summary_means_stds_and_columns(run_dir: Path) -> None:
    rows = _summary(run_dir)
    assert len(rows) == 6
    assert [r["method"] for r in rows[:3]] == ["retrain", "ascent", "dampening"]
    g = next(r for r in rows if (r["scenario"], r["method"]) == ("subset", "ascent"))
    assert g["n_seeds"] == "2" and g["scenario_kind"] == "subset" and g["faithful"] == "false"
    assert float(g["forget_accuracy_mean"]) == pytest.approx(0.65)
    assert float(g["forget_accuracy_std"]) == pytest.approx(math.sqrt(0.005))  # (0.6, 0.7)
    # two seeds: the bootstrap interval of the mean is their range
    assert float(g["forget_accuracy_ci_low"]) == pytest.approx(0.6)
    assert float(g["forget_accuracy_ci_high"]) == pytest.approx(0.7)
    assert float(g["test_accuracy_mean"]) == pytest.approx(0.86)
    assert float(g["test_accuracy_std"]) == pytest.approx(math.sqrt(0.0008))  # (0.88, 0.84)
    assert float(g["mia_auc_mean"]) == pytest.approx(0.55) and g["mia_auc_std"] == ""
    assert g["mia_auc_ci_low"] == "" and g["mia_auc_ci_high"] == ""  # one seed: no interval
    assert float(g["custom_score_mean"]) == pytest.approx(1.5)
    oracle = next(r for r in rows if (r["scenario"], r["method"]) == ("subset", "retrain"))
    assert oracle["uqi_mean"] == "" and oracle["uqi_std"] == ""
    assert "notes_mean" not in g and "seed_mean" not in g and "noise" not in g


def test_report_headline_sections_and_pngs(run_dir: Path) -> None:
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# Unlearning report: synthetic\n")
    assert "A made-up study for the report tests" in report
    assert "python 3.11.2, qiskit 2.1.0" in report and "(12.5 min)" in report
    assert ("| Scenario | Method | Forget acc. | Retain acc. | Test acc. | UQI | MIA AUC "
            "| JS to oracle | Time |") in report
    # headline: mean [95 % interval]; times keep ± std; one seed (MIA) shows the mean only
    assert ("| subset | ascent | 0.650 [0.600, 0.700] | 0.945 [0.940, 0.950] "
            "| 0.860 [0.840, 0.880] | 0.550 [0.500, 0.600] | 0.550 | 0.025 [0.020, 0.030] "
            "| 2.50 ± 0.71 s |") in report
    assert "| class | retrain (oracle) | 0.050 [0.000, 0.100] |" in report
    # the full summary keeps mean ± std
    assert "| subset | ascent | 2 | 0.945 ± 0.007 |" in report
    assert "| subset | dampening † |" in report and "`faithful = true`" in report
    for heading in ("## Forgetting quality", "## Loss landscape", "## Full summary",
                    "## Distance to the oracle", "## Balance ranking", "## Memorisation",
                    "## Methodology", "## Unlearning curves", "## Training histories"):
        assert heading in report
    assert "| subset | dampening † | 2 | 0.250 ± 0.071 | 0.600 ± 0.000 | 4 ± 0 |" in report
    assert ("| Scenario | Seeds | Memorisation (acc.) | Memorisation (prob.) | Out-models "
            "| Examples |\n|---|---:|---:|---:|---:|---:|\n"
            "| subset | 2 | 0.300 [0.200, 0.400] | 0.200 [0.100, 0.300] | 6 ± 0 | 12 ± 0 |"
            ) in report
    assert "validation split only" in report
    links = _linked_pngs(report)
    expected = {"plots/bar_forget_accuracy.png", "plots/bar_mia_auc.png", "plots/bar_rte.png",
                "plots/bar_forgetting_quality.png", "plots/tradeoff.png", "plots/curves.png",
                "plots/history.png"}
    assert expected <= set(links) and not any("noise_" in p for p in links)
    for rel in links:
        data = (run_dir / rel).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, rel
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == sorted(
        Path(p).name for p in links)


def test_noise_sweep(tmp_path: Path) -> None:
    root = make_run(tmp_path / "noisy", noise=True)
    write_report(root)
    rows = _summary(root)
    assert len(rows) == 18
    assert list(dict.fromkeys(r["noise"] for r in rows)) == ["ideal", "low", "high"]
    high = next(r for r in rows if (r["noise"], r["scenario"], r["method"])
                == ("high", "class", "ascent"))
    assert float(high["test_accuracy_mean"]) == pytest.approx(0.55 - 0.02 - 0.1)
    report = (root / "report.md").read_text(encoding="utf-8")
    assert "| Noise | Scenario | Method |" in report
    assert "| high | subset | ascent | 0.650 [0.600, 0.700] |" in report
    # rankings per noise setting and scenario
    assert "### class (high)" in report and "### subset (ideal)" in report
    ranking = list(csv.DictReader((root / "ranking.csv").open(encoding="utf-8")))
    assert {(r["noise"], r["scenario"]) for r in ranking} == {
        (n, s) for n, _ in NOISES for s in ("subset", "class")}
    links = _linked_pngs(report)
    assert {"plots/noise_forget_accuracy.png", "plots/noise_test_accuracy.png"} <= set(links)
    assert all((root / p).read_bytes()[:8] == PNG_MAGIC for p in links)


def test_minimal_run_skips_missing_inputs(tmp_path: Path) -> None:
    _write_csv(tmp_path / "results.csv", [
        {"scenario": "s", "seed": s, "method": m, "forget_accuracy": v, "test_accuracy": ""}
        for s, (m, v) in enumerate([("retrain", 0.3), ("ascent", 0.5), ("ascent", "nan")])])
    report = write_report(tmp_path).read_text(encoding="utf-8")
    assert report.startswith(f"# Unlearning report: {tmp_path.name}\n")
    assert "| s | ascent | 0.500 |" in report  # one finite seed: no ±
    assert _linked_pngs(report) == ["plots/bar_forget_accuracy.png"]  # no y for a trade-off
    assert "## Unlearning curves" not in report and "## Forgetting quality" not in report
    # the oracle ran on another seed than the method: nothing to pair, no ranking
    assert "## Distance to the oracle" not in report and not (tmp_path / "ranking.csv").exists()


def test_rankings_without_mia_by_hand(tmp_path: Path) -> None:
    accs = {  # (seed, method) -> retain, forget, test accuracy; evaluation.mia = false
        (0, "original"): (0.95, 0.97, 0.90), (0, "retrain"): (0.94, 0.80, 0.88),
        (0, "ga"): (0.90, 0.70, 0.85), (1, "original"): (0.96, 0.98, 0.91),
        (1, "retrain"): (0.95, 0.82, 0.89), (1, "ga"): (0.92, 0.76, 0.87)}
    _write_csv(tmp_path / "results.csv", [
        {"scenario": "s", "seed": seed, "method": m, "retain_accuracy": a[0],
         "forget_accuracy": a[1], "test_accuracy": a[2]} for (seed, m), a in accs.items()])
    report = write_report(tmp_path).read_text(encoding="utf-8")
    rows = {(r["measure"], r["method"]): r
            for r in csv.DictReader((tmp_path / "ranking.csv").open(encoding="utf-8"))}
    assert set(rows) == {("distance", "ga"), ("distance", "original"), ("balance", "ga"),
                         ("balance", "original"), ("balance", "retrain")}
    assert {r["mia"] for r in rows.values()} == {"false"}

    def gap(seed: int, m: str) -> float:
        return float(np.mean(np.abs(np.subtract(accs[seed, m], accs[seed, "retrain"]))))

    def balance(seed: int, m: str) -> float:
        forgetting = 1 - abs(accs[seed, m][1] - accs[seed, "retrain"][1])
        utility = min(1.0, accs[seed, m][2] / accs[seed, "original"][2])
        return 2 / (1 / forgetting + 1 / utility)  # no privacy term without MIA

    ga, teacher = rows["distance", "ga"], rows["distance", "original"]
    assert float(ga["mean"]) == pytest.approx(np.mean([gap(0, "ga"), gap(1, "ga")]))
    assert float(teacher["mean"]) == pytest.approx(0.065)
    assert (ga["rank"], teacher["rank"]) == ("1", "2")
    assert ga["p_value"] == "" and ga["significant"] == ""
    # teacher worse on both seeds: the exact sign-flip test's smallest p with two pairs
    assert (teacher["test"], float(teacher["p_value"]), teacher["significant"]) == (
        "sign-flip", 0.5, "false")
    for m in ("ga", "original", "retrain"):
        assert float(rows["balance", m]["mean"]) == pytest.approx(
            np.mean([balance(0, m), balance(1, m)]))
    assert rows["balance", "retrain"]["rank"] == "" and rows["balance", "ga"]["rank"] == "1"
    assert float(rows["balance", "retrain"]["forgetting"]) == 1.0
    assert rows["balance", "ga"]["privacy"] == ""
    # the report says what it left out and that two seeds cannot separate methods
    assert "Membership inference was not measured" in report
    assert "| Rank | Method | Seeds | Balance | 95 % CI | Forgetting | Utility | p vs best |" \
        in report
    assert "| 2 | original (teacher) | 2 | 0.065 |" in report
    assert "| ref. | retrain (oracle) | 2 |" in report and "no (n too small)" in report
    assert "these seeds cannot separate the methods (at least 6 seeds" in report


def test_cli_builds_report_and_explains_missing_results(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "results.csv" in err and "qunlearn run" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(ReportError, match="qunlearn run"):
        write_report(empty)
    _write_csv(tmp_path / "results.csv", [{"scenario": "s", "seed": 0, "method": "retrain"}])
    assert main(["report", str(tmp_path)]) == 0
    assert str(tmp_path / "report.md") in capsys.readouterr().out
    assert (tmp_path / "summary.csv").read_text(encoding="utf-8").splitlines() == [
        "scenario,method,n_seeds", "s,retrain,1"]


def test_formatting() -> None:
    assert fmt_duration(0.25) == "250 ms"
    assert fmt_duration(12.34, 0.5) == "12.3 ± 0.5 s"
    assert fmt_duration(750.0) == "12.5 min"
    assert fmt_duration(math.nan) == "—"
    assert fmt_stat(mean_std([0.6, 0.7])) == "0.650 ± 0.071"
    assert fmt_stat(mean_std([1234.0, 1300.0])) == "1,267 ± 47"
    assert fmt_stat(mean_std([math.nan])) == "—"
    assert fmt_stat(mean_std([0.6, 0.7]), ci=True) == "0.650 [0.600, 0.700]"
    assert fmt_stat(mean_std([0.6]), ci=True) == "0.600"
    assert fmt_stat(mean_std([4.0, 4.0]), "num_examples", ci=True) == "4 ± 0"  # counts: ± std
    stat = mean_std([0.1, 0.2, 0.4])
    assert (stat.mean, stat.n) == (pytest.approx(7 / 30), 3)
    assert 0.1 <= stat.ci_low < stat.mean < stat.ci_high <= 0.4
