"""What a finished run directory gives a tracker, read without writing into it."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from tracking_helpers import csv_rows, leaves, snapshot

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.storage import FileError
from qiskit_unlearn.tracking import flatten, read_directory


def test_flatten_names_keys_as_set_and_the_grid_do():
    cfg = {"model": {"kind": "hybrid-pca", "layers": 2, "head_hidden": [16, 8]},
           "scenario": [{"kind": "class", "classes": [0]}, {"kind": "random", "fraction": 0.1}],
           "data": {"options": {}, "data_dir": None, "use_official_test": False},
           "unlearn": {"methods": ["ga", "scrub"]}}
    assert flatten(cfg) == {
        "model.kind": "hybrid-pca", "model.layers": "2", "model.head_hidden": "[16, 8]",
        "scenario.0.kind": "class", "scenario.0.classes": "[0]", "scenario.1.kind": "random",
        "scenario.1.fraction": "0.1", "data.options": "{}", "data.data_dir": "null",
        "data.use_official_test": "false", "unlearn.methods": '["ga", "scrub"]'}


def test_a_finished_run_gives_its_config_rows_files_and_identity(tiny_run):
    before = snapshot(tiny_run)
    tracked = read_directory(tiny_run)
    config = json.loads((tiny_run / "config.json").read_text())
    assert tracked.kind == "run" and tracked.children == []
    assert tracked.directory == tiny_run.resolve()
    assert set(tracked.params) == set(leaves(config))
    assert tracked.tags["qunlearn.config_name"] == "tiny-hw"
    rows = csv_rows(tiny_run / "results.csv")
    assert len(tracked.rows) == len(rows) == 3
    for row, cells in zip(tracked.rows, rows, strict=True):
        assert {k: row.tags[k] for k in ("scenario", "seed", "method")} == {
            k: cells[k] for k in ("scenario", "seed", "method")}
        assert row.metrics and all(v == float(cells[k]) for k, v in row.metrics.items())
        assert "seed" not in row.metrics  # the seed is a label, not a measurement
    names = {a.path.relative_to(tracked.directory).as_posix() for a in tracked.artifacts}
    assert {"report.md", "manifest.json", "config.json", "results.csv", "summary.csv"} <= names
    assert {f"plots/{p.name}" for p in (tiny_run / "plots").glob("*.png")} <= names
    assert not any(n.startswith(("checkpoints/", "unlearned/")) for n in names)
    assert read_directory(tiny_run).identity == tracked.identity
    assert snapshot(tiny_run) == before


def test_the_identity_follows_the_folder_and_its_results(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    assert read_directory(copy).identity != read_directory(tiny_run).identity


def test_unfinished_or_edited_runs_and_other_folders_are_refused(tiny_run, tmp_path):
    with pytest.raises(RunDirError, match="not a folder"):
        read_directory(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"no config\.json"):
        read_directory(tmp_path)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_run, unfinished)
    manifest = json.loads((unfinished / "manifest.json").read_text())
    (unfinished / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    with pytest.raises(RunDirError, match="has not finished"):
        read_directory(unfinished)
    edited = tmp_path / "edited"
    shutil.copytree(tiny_run, edited)
    with (edited / "results.csv").open("a") as fh:
        fh.write("\n")
    with pytest.raises(FileError, match=r"results\.csv is corrupt or was changed"):
        read_directory(edited)


def test_empty_cells_are_left_out_of_the_metrics(tiny_run):
    for row in read_directory(tiny_run).rows:
        assert all(not math.isnan(v) for v in row.metrics.values())
        assert "variant" not in row.tags  # empty labels are not tags either
