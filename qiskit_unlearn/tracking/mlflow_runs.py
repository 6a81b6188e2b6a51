"""How a ``Tracked`` (a finished run or sweep) becomes MLflow runs, within MLflow's limits.

One run per run directory (parameters, tags, artifacts), one nested run per result row
(metrics; labels as tags), a sweep's settings nested under the sweep. Every run of one attempt
carries the attempt's root identity (``qunlearn.root``), so an interrupted attempt can be found
and deleted; the top run carries ``qunlearn.identity`` and is marked FINISHED last, once all
of it is stored. Keys are made valid for every store (characters, length, uniqueness), values
cut to the store's limits, and parameters and metrics sent in batches of the allowed size.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any, TypeVar

from qiskit_unlearn.tracking.records import Row, Tracked

V = TypeVar("V")
IDENTITY, ROOT = "qunlearn.identity", "qunlearn.root"
PARENT, NOTE = "mlflow.parentRunId", "mlflow.note.content"
#: Key characters every MLflow store accepts (no ``/``: keys must not read as paths; no ``:``,
#: refused on Windows).
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. ]")
_TRUNCATED = "...[truncated]"


def mlflow_keys(values: Mapping[str, V], limit: int = 250) -> dict[str, V]:
    """``values`` under keys every MLflow store accepts (config keys such as
    ``unlearn.params.neggrad+.lr`` hold characters MLflow refuses).

    Args:
        values: Key → value, in order.
        limit: The longest key allowed.

    Returns:
        The values with other characters in their keys replaced by ``_``, keys cut to
        ``limit``, and keys that collide after that suffixed ``_2``, ``_3``, ... (in order).
    """
    out: dict[str, V] = {}
    for key, value in values.items():
        safe = _KEY_UNSAFE.sub("_", key)[:limit]
        safe = safe if safe.strip(".") else f"_{safe}"[:limit]
        base, n = safe, 2
        while safe in out:
            safe, n = f"{base[:limit - len(str(n)) - 1]}_{n}", n + 1
        out[safe] = value
    return out


def _text(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - len(_TRUNCATED)] + _TRUNCATED


def _ms(stamp: str | None) -> int | None:
    """An ISO 8601 timestamp of the manifest in epoch milliseconds (None if absent)."""
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000) if stamp else None
    except ValueError:
        return None


class RunWriter:
    """Creates the runs of one logging attempt, every one tagged with its root identity (so an
    interrupted attempt can be found and deleted), within MLflow's limits."""

    def __init__(self, client: Any, experiment: str, root: str) -> None:
        from mlflow.utils import validation as limits

        self.client, self.experiment, self.root = client, experiment, root
        self.batch = getattr(limits, "MAX_PARAMS_TAGS_PER_BATCH", 100)
        self.metrics_batch = min(getattr(limits, "MAX_METRICS_PER_BATCH", 1000),
                                 getattr(limits, "MAX_ENTITIES_PER_BATCH", 1000))
        self.param_len = getattr(limits, "MAX_PARAM_VAL_LENGTH", 6000)
        self.tag_len = getattr(limits, "MAX_TAG_VAL_LENGTH", 8000)
        self.key_len = getattr(limits, "MAX_ENTITY_KEY_LENGTH", 250)

    def run(self, tracked: Tracked, parent: str | None = None) -> str:
        """Log ``tracked`` as one run with its rows, children and artifacts.

        Args:
            tracked: What to log.
            parent: The run to nest it under (None: a top run, tagged with its identity).

        Returns:
            The new run's id; the run is FINISHED only once everything in it is stored
            (FAILED if storing failed).
        """
        from mlflow.entities import Param

        tags = {**tracked.tags, ROOT: self.root,
                **({PARENT: parent} if parent else {IDENTITY: tracked.identity}),
                **({NOTE: tracked.description} if tracked.description else {})}
        start, end = _ms(tracked.started), _ms(tracked.finished)
        run_id = self._create(tracked.name, tags, start)
        try:
            params = [Param(k, _text(v, self.param_len))
                      for k, v in mlflow_keys(tracked.params, self.key_len).items()]
            for i in range(0, len(params), self.batch):
                self.client.log_batch(run_id, params=params[i:i + self.batch])
            for row in tracked.rows:
                self._row(row, run_id, start, end)
            for child in tracked.children:
                self.run(child, run_id)
            for artifact in tracked.artifacts:
                self.client.log_artifact(run_id, str(artifact.path), artifact.folder or None)
        except BaseException:
            with suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED", end_time=end)
        return run_id

    def _create(self, name: str, tags: Mapping[str, str], start: int | None) -> str:
        safe = {k: _text(v, self.tag_len) for k, v in mlflow_keys(tags, self.key_len).items()}
        return self.client.create_run(self.experiment, start_time=start, tags=safe,
                                      run_name=name).info.run_id

    def _row(self, row: Row, parent: str, start: int | None, end: int | None) -> None:
        from mlflow.entities import Metric

        run_id = self._create(row.name, {**row.tags, PARENT: parent, ROOT: self.root}, start)
        stamp = end or start or int(time.time() * 1000)
        metrics = [Metric(k, v, stamp, 0)
                   for k, v in mlflow_keys(row.metrics, self.key_len).items()]
        for i in range(0, len(metrics), self.metrics_batch):
            self.client.log_batch(run_id, metrics=metrics[i:i + self.metrics_batch])
        self.client.set_terminated(run_id, "FINISHED", end_time=end)
