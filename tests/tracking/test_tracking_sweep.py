"""A sweep logged by ``qunlearn sweep --track mlflow``: the sweep's run, each setting's run
nested under it, and each setting's result rows nested under that, tagged with the setting."""

from __future__ import annotations

import json

import pytest
from run_helpers import TINY_IRIS
from tracking_helpers import (
    all_runs,
    children,
    client,
    csv_rows,
    fresh_store,
    leaves,
    snapshot,
    top_runs,
)

from qiskit_unlearn.cli.main import main

pytest.importorskip("mlflow")
# The tiny run's config as a grid of two points, each on the config's own exact backend: two
# runs sharing a teacher through the model cache (no noise: the cheapest sweep that has setting
# values to tag).
SWEEP = (TINY_IRIS.replace('name = "tiny-hw"', 'name = "tiny-sweep"')
         .replace('methods = ["retrain", "ga"]', 'methods = ["ga"]')
         + '[sweep.grid]\n"unlearn.params.ga.lr" = [0.01, 0.1]\n')
assert 'name = "tiny-sweep"' in SWEEP and 'methods = ["ga"]' in SWEEP


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, store_template):
    tmp = tmp_path_factory.mktemp("sweep")
    uri = fresh_store(store_template, tmp)
    (tmp / "sweep.toml").write_text(SWEEP, encoding="utf-8")
    out = tmp / "out"
    code = main(["sweep", str(tmp / "sweep.toml"), "--out", str(out), "--cache-dir",
                 str(tmp / "cache"), "--no-progress", "--track", "mlflow", "--tracking-uri",
                 uri])
    assert code == 0
    return out, uri, all_runs(uri, "tiny-sweep")


def test_the_sweep_is_one_top_run_with_its_config_and_files(sweep):
    out, uri, runs = sweep
    [top] = top_runs(runs)
    manifest = json.loads((out / "manifest.json").read_text())
    config = {**json.loads((out / "config.json").read_text()), "sweep": manifest["sweep"]}
    expected = {k: v if isinstance(v, str) else json.dumps(v) for k, v in leaves(config).items()}
    assert top.data.params == expected
    assert top.data.params["sweep.grid.unlearn.params.ga.lr"] == "[0.01, 0.1]"
    assert top.data.tags["qunlearn.kind"] == "sweep" and top.info.status == "FINISHED"
    names = {a.path for a in client(uri).list_artifacts(top.info.run_id)}
    assert {"report.md", "manifest.json", "results.csv", "summary.csv", "plots"} <= names


def test_each_setting_is_nested_under_the_sweep_with_its_rows_under_it(sweep):
    out, _, runs = sweep
    [top] = top_runs(runs)
    manifest = json.loads((out / "manifest.json").read_text())
    settings = {r.info.run_name: r for r in children(runs, top)}
    assert sorted(settings) == sorted(r["dir"] for r in manifest["runs"]) == [
        "grid/lr=0.01/exact", "grid/lr=0.1/exact"]
    total = 0
    for name, setting in settings.items():
        assert setting.data.tags["qunlearn.kind"] == "setting"
        assert setting.data.tags["qunlearn.run_dir"] == str((out / name).resolve())
        assert setting.data.params["unlearn.params.ga.lr"] == name.split("=")[1].split("/")[0]
        rows = csv_rows(out / name / "results.csv")
        nested = children(runs, setting)
        assert len(nested) == len(rows)
        for run in nested:
            cells = next(r for r in rows if r["method"] == run.data.tags["method"])
            for column in ("unlearn.params.ga.lr", "grid", "noise", "noise_where", "seed"):
                assert run.data.tags[column] == cells[column]  # filterable setting values
            assert run.data.metrics["forget_accuracy"] == float(cells["forget_accuracy"])
            assert "noise_level" not in run.data.metrics  # a setting value, not a metric
        total += len(rows)
    assert total == len(csv_rows(out / "results.csv"))
    assert len(runs) == 1 + len(settings) + total


def test_logging_the_sweep_again_is_skipped(sweep, capsys):
    out, uri, runs = sweep
    before = snapshot(out)
    assert main(["track", str(out), "--tracking-uri", uri]) == 0
    assert "is already logged" in capsys.readouterr().out
    assert len(all_runs(uri, "tiny-sweep")) == len(runs)
    assert snapshot(out) == before
