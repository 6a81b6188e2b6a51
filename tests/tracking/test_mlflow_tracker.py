"""``mlflow``: a finished run logged to a real local MLflow store and read back."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tracking_helpers import all_runs, children, client, csv_rows, leaves, snapshot, top_runs

from qiskit_unlearn.tracking import TrackingError, read_directory
from qiskit_unlearn.tracking.mlflow_tracker import MlflowTracker, default_uri

pytest.importorskip("mlflow")
LABELS = ("experiment", "scenario", "scenario_kind", "seed", "faithful", "method", "variant")


def _log(uri: str, run: Path, experiment: str | None = None) -> tuple[str, list[str]]:
    tracker = MlflowTracker(uri, experiment)
    tracker.check()
    lines: list[str] = []
    return tracker.log(read_directory(run), lines.append), lines


@pytest.fixture
def logged(tiny_run, store):
    before = snapshot(tiny_run)
    run_id, lines = _log(store, tiny_run)
    assert snapshot(tiny_run) == before  # the run directory is a record: not a byte written
    assert not Path("mlruns").exists()  # an explicit store only: nothing in the current folder
    runs = all_runs(store, "tiny-hw")
    return store, run_id, lines, runs, next(r for r in runs if r.info.run_id == run_id)


def test_the_parent_run_holds_the_resolved_config_as_parameters(logged, tiny_run):
    _, _, lines, runs, parent = logged
    config = json.loads((tiny_run / "config.json").read_text())
    expected = {k: v if isinstance(v, str) else json.dumps(v) for k, v in leaves(config).items()}
    assert parent.data.params == expected
    assert parent.data.params["model.kind"] == "hybrid-pca"
    assert parent.data.params["train.epochs"] == "3"
    assert parent.data.params["scenario.0.classes"] == "[0]"
    assert parent.data.params["unlearn.methods"] == '["retrain", "ga"]'
    assert top_runs(runs) == [parent] and parent.info.status == "FINISHED"
    assert lines[0].startswith(f"mlflow: logged {tiny_run.resolve()} as run ")


def test_the_parent_run_is_tagged_with_config_folder_version_seeds_and_backend(logged, tiny_run):
    import qiskit_unlearn

    tags = logged[4].data.tags
    assert tags["qunlearn.config_name"] == "tiny-hw"
    assert tags["qunlearn.run_dir"] == str(tiny_run.resolve())
    assert tags["qunlearn.version"] == qiskit_unlearn.__version__
    assert tags["qunlearn.seeds"] == "[0]" and tags["qunlearn.backend"] == "statevector"
    assert tags["qunlearn.identity"] == read_directory(tiny_run).identity
    assert tags["mlflow.runName"] == tiny_run.name


def test_every_result_row_is_a_nested_run_with_its_labels_and_metrics(logged, tiny_run):
    _, _, _, runs, parent = logged
    rows = csv_rows(tiny_run / "results.csv")
    nested = children(runs, parent)
    assert len(nested) == len(rows) == len(runs) - 1
    by_key = {(r.data.tags["scenario"], r.data.tags["seed"], r.data.tags["method"]): r
              for r in nested}
    numeric = [c for c in rows[0] if c not in LABELS and all(_number(r[c]) for r in rows)]
    assert {"forget_accuracy", "uqi", "mia_auc", "circuit_evaluations"} <= set(numeric)
    for cells in rows:
        run = by_key.pop((cells["scenario"], cells["seed"], cells["method"]))
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {c: float(cells[c]) for c in numeric if cells[c] != ""}
        assert run.data.tags["scenario_kind"] == cells["scenario_kind"]
        assert run.data.params == {}
    assert by_key == {}


def _number(text: str) -> bool:
    try:
        float(text or "0")
    except ValueError:
        return False
    return True


def test_the_report_plots_manifest_and_tables_are_artifacts(logged, tiny_run, tmp_path):
    store, run_id, *_ = logged
    c = client(store)
    names = {a.path for a in c.list_artifacts(run_id)}
    assert {"report.md", "manifest.json", "config.json", "results.csv", "summary.csv",
            "plots"} <= names
    plots = {Path(a.path).name for a in c.list_artifacts(run_id, "plots")}
    assert plots == {p.name for p in (tiny_run / "plots").glob("*.png")} != set()
    got = Path(c.download_artifacts(run_id, "report.md", str(tmp_path)))
    assert got.read_bytes() == (tiny_run / "report.md").read_bytes()
    # a SQLite store keeps artifacts beside its database, not in the current folder
    db = Path(store.removeprefix("sqlite:///"))
    assert (db.parent / "artifacts" / run_id / "artifacts" / "report.md").is_file()


def test_logging_the_same_run_again_is_skipped(logged, tiny_run):
    store, run_id, _, runs, _ = logged
    again, lines = _log(store, tiny_run)
    assert again == run_id
    assert lines == [f"mlflow: {tiny_run.resolve()} is already logged (run {run_id} in "
                     "experiment 'tiny-hw'); nothing was logged"]
    assert len(all_runs(store, "tiny-hw")) == len(runs)


def test_an_interrupted_attempt_is_deleted_and_the_run_logged_again(tiny_run, store):
    identity = read_directory(tiny_run).identity
    c = client(store)
    db = Path(store.removeprefix("sqlite:///"))
    experiment = c.create_experiment("tiny-hw", (db.parent / "artifacts").as_uri())
    top = c.create_run(experiment, tags={"qunlearn.identity": identity,
                                         "qunlearn.root": identity})  # left RUNNING
    row = c.create_run(experiment, tags={"mlflow.parentRunId": top.info.run_id,
                                         "qunlearn.root": identity})
    run_id, lines = _log(store, tiny_run)
    assert lines[0] == (f"mlflow: deleted 2 runs left by an interrupted attempt to log "
                        f"{tiny_run.resolve()}")
    deleted = {r.info.run_id for r in all_runs(store, "tiny-hw", deleted=True)
               if r.info.lifecycle_stage == "deleted"}
    assert deleted == {top.info.run_id, row.info.run_id}
    assert [r.info.run_id for r in top_runs(all_runs(store, "tiny-hw"))] == [run_id]


def test_another_experiment_gets_its_own_copy(logged, tiny_run):
    store, run_id, *_ = logged
    other, _ = _log(store, tiny_run, experiment="elsewhere")
    assert other != run_id and len(top_runs(all_runs(store, "elsewhere"))) == 1


def test_the_default_store_is_sqlite_under_mlruns_here(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = MlflowTracker()
    db = tmp_path.resolve() / "mlruns" / "mlflow.db"
    assert tracker.uri == default_uri() == f"sqlite:///{db.as_posix()}"
    run_id, lines = _log(tracker.uri, tiny_run)  # creates the store
    assert db.is_file()
    assert (tmp_path / "mlruns" / "artifacts" / run_id / "artifacts" / "report.md").is_file()
    assert lines[-1] == f"mlflow: view it with: mlflow ui --backend-store-uri {tracker.uri}"


def test_mlflow_tracking_uri_is_honoured_unless_an_uri_is_given(monkeypatch, store):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    assert (MlflowTracker().uri, MlflowTracker().source) == (store, "MLFLOW_TRACKING_URI")
    assert MlflowTracker("sqlite:////elsewhere/x.db").uri == "sqlite:////elsewhere/x.db"


@pytest.mark.parametrize(("uri", "message"), [
    ("mlruns", r"--tracking-uri mlruns is a plain file store, which MLflow 3 refuses"),
    ("file:///tmp/mlruns", "is a plain file store"),
    ("ftp://bob:hunter2@host/x", r"--tracking-uri ftp://\*\*\*@host/x: MLflow has no tracking "
                                 r"store for this scheme; use one of: .*http, https, .*sqlite"),
    ("", "--tracking-uri is empty"),
])
def test_unusable_uris_are_refused_by_the_check(uri, message, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(TrackingError, match=message) as info:
        MlflowTracker(uri).check()
    assert "hunter2" not in str(info.value)


def test_the_file_store_is_accepted_when_mlflow_allows_it(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    MlflowTracker(str(tmp_path / "mlruns")).check()


def test_a_sqlite_uri_naming_a_folder_is_refused(tmp_path):
    with pytest.raises(TrackingError, match=r"names a folder, not a database file; use "
                                            r"sqlite:///.*/mlflow.db"):
        MlflowTracker(f"sqlite:///{tmp_path}").check()


def test_a_failure_says_why_in_one_line_without_credentials(tiny_run, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    tracker = MlflowTracker(f"http://alice:s3cret@127.0.0.1:{port}")
    tracker.check()
    with pytest.raises(TrackingError) as info:
        tracker.log(read_directory(tiny_run), print)
    text = str(info.value)
    assert "s3cret" not in text and "alice" not in text and "\n" not in text
    assert f"http://***@127.0.0.1:{port}" in text
