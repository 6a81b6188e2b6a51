"""Fixtures of the tracking tests: a finished tiny run (with its report) and real local MLflow
stores (SQLite files in the test's temporary folder; never the project's ``mlruns/``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_helpers import finished_tiny_run
from tracking_helpers import fresh_store


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder: a default store (``./mlruns``) or an experiment
    created with MLflow's default artifact root (``./mlruns/<id>``) lands there, never in the
    project."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite store: creating one runs MLflow's migrations (seconds), a
    copy of it is a fresh store at once."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def store(tmp_path: Path, store_template: Path) -> str:
    """The URI of a fresh SQLite store in ``tmp_path/store`` (artifacts go beside it)."""
    return fresh_store(store_template, tmp_path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-qubit Iris run (3 result rows) with its report, plots and summary.
    Shared by every tracking test: tracking only reads it, which the tests check."""
    from qiskit_unlearn.report import write_report

    run = finished_tiny_run(tmp_path_factory.mktemp("tiny"))
    write_report(run)
    return run
