"""Shared vocabulary of hardware runs: splits, job statuses, errors and atomic writes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

#: Every split a model can be evaluated on: ``evaluate.suite.ACCURACY_SPLITS`` and the
#: membership-inference non-members (spelled out so the CLI parser does not import torch).
SPLITS: tuple[str, ...] = ("retain", "forget", "val", "test", "nonmember")
#: Names of the run's reference models (the teacher and the retrain oracle).
ORIGINAL, RETRAIN = "original", "retrain"

FINISHED = frozenset({"DONE"})
FAILED = frozenset({"ERROR", "CANCELLED", "LOST"})
#: ``LOST``: a local-testing-mode job whose submitting process ended before it stored the result.


class HardwareError(ValueError):
    """A hardware request that cannot be carried out; the message says what to change."""


def status_kind(status: str) -> str:
    """``finished``, ``failed`` or ``pending`` (queued, running, validating, ...)."""
    if status in FINISHED:
        return "finished"
    return "failed" if status in FAILED else "pending"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_csv(path: Path, rows: Sequence[dict[str, Any]], last: Sequence[str] = ()) -> None:
    """Rows as CSV, atomically: the union of their columns in first-seen order, with the
    columns named in ``last`` (those present) at the end."""
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields and k not in last]
    fields += [k for k in last if any(k in row for row in rows)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, out.getvalue())


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha256_arrays(*arrays: np.ndarray) -> str:
    """Digest of arrays' shapes, dtypes and bytes: detects a changed split at fetch time."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(json.dumps([array.shape, str(array.dtype)]).encode())
        h.update(array.tobytes())
    return h.hexdigest()


def canonical(value: Any) -> str:
    """A stable string form of JSON data (sorted keys) for comparing settings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
