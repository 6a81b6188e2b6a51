"""Reading an MLflow store back, for the tracking tests (imported as ``tracking_helpers``)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path
from typing import Any


def fresh_store(template: Path, folder: Path) -> str:
    """Copy the migrated empty store ``template`` to ``folder/store`` and return its URI."""
    db = folder / "store" / "mlflow.db"
    db.parent.mkdir()
    shutil.copyfile(template, db)
    return f"sqlite:///{db}"


def client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def all_runs(uri: str, experiment: str, deleted: bool = False) -> list[Any]:
    """Every run of ``experiment`` (active ones; with ``deleted``, deleted ones too)."""
    from mlflow.entities import ViewType

    c = client(uri)
    found = c.get_experiment_by_name(experiment)
    if found is None:
        return []
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return list(c.search_runs([found.experiment_id], run_view_type=view, max_results=50000))


def top_runs(runs: list[Any]) -> list[Any]:
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def children(runs: list[Any], parent: Any) -> list[Any]:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def snapshot(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``directory``: size, modification time and SHA-256."""
    return {p.relative_to(directory).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns,
                                                  hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(directory.rglob("*")) if p.is_file()}


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """The config's leaves by dotted key, written independently of the code under test:
    tables by key, lists of tables by index, anything else is a leaf."""
    if isinstance(value, dict) and value:
        pairs = value.items()
    elif isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value):
        pairs = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in pairs:
        out.update(leaves(item, f"{prefix}.{key}" if prefix else key))
    return out
