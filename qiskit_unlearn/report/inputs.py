"""Read a finished run directory: ``results.csv``, ``manifest.json`` and the optional extras.

Only the csv module and numpy are used (pandas is not a dependency). Every optional input may be
missing or damaged: a report of a half-finished or older run should still render, so broken
optional files are logged and skipped instead of raised.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = "results.csv"
IDENTITY_COLUMNS = ("experiment", "scenario", "scenario_kind", "seed", "method", "variant",
                    "faithful", "noise", "mitigation")
_MISSING = {"", "na", "n/a", "nan", "none", "null"}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}

log = logging.getLogger(__name__)


class ReportError(ValueError):
    """The run directory cannot be reported on; the message says what to do."""


@dataclass
class Table:
    """Rows of a CSV file: text columns as ``str``, numeric ones as ``float`` (NaN = empty).

    A column is numeric when it is not an identity column (experiment, scenario, method, ...)
    and every non-empty cell is a number. Text cells that say nothing (``""``, ``nan``,
    ``none``, ...) are ``""``; ``faithful`` is normalised to ``"true"`` / ``"false"``.

    Attributes:
        columns: The column names, in file order.
        rows: One dict per row, column name to value.
        numeric: The numeric columns, in file order.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    numeric: list[str] = field(default_factory=list)

    def has(self, column: str) -> bool:
        """Whether ``column`` exists and holds at least one non-empty value.

        Args:
            column: A column name.

        Returns:
            ``True`` if some row has a non-NaN (numeric) or non-empty (text) value there.
        """
        if column in self.numeric:
            return any(not math.isnan(r[column]) for r in self.rows)
        return any(r.get(column, "") != "" for r in self.rows)

    def unique(self, column: str) -> list[str]:
        """Distinct non-empty values of a column, in order of first appearance.

        Args:
            column: A column name (absent columns give no values).

        Returns:
            The values as text.
        """
        seen: dict[str, None] = {}
        for r in self.rows:
            if r.get(column, ""):
                seen.setdefault(str(r[column]), None)
        return list(seen)


def _as_float(text: str) -> float | None:
    if text.strip().lower() in _MISSING:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None


def _normalise_flag(text: str) -> str:
    low = text.strip().lower()
    return "true" if low in _TRUE else "false" if low in _FALSE else text.strip()


def read_table(path: Path, identity: Iterable[str] = IDENTITY_COLUMNS) -> Table:
    """Parse a CSV file; a non-identity column is numeric when every non-empty cell is a number."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        raw = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
               for row in reader]
    identity = set(identity)
    numeric = [c for c in columns if c not in identity
               and all(_as_float(r.get(c, "")) is not None for r in raw)]
    rows = []
    for r in raw:
        row: dict[str, Any] = {}
        for c in columns:
            text = r.get(c, "")
            if c in numeric:
                row[c] = _as_float(text)
            else:
                row[c] = "" if text.lower() in _MISSING else text
        if "faithful" in row:
            row["faithful"] = _normalise_flag(row["faithful"])
        rows.append(row)
    return Table(columns, rows, numeric)


def load_results(run_dir: Path) -> Table:
    """Read the run's ``results.csv``.

    Args:
        run_dir: A run directory written by ``qunlearn run`` (or a folder holding a copied
            ``results.csv``).

    Returns:
        The results :class:`Table`, one row per (seed, scenario, method).

    Raises:
        ReportError: If ``results.csv`` is missing or has no rows.
    """
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise ReportError(f"{path} not found: {run_dir} is not a finished run directory; run "
                          f"'qunlearn run CONFIG --out {run_dir}' first")
    table = read_table(path)
    if not table.rows:
        raise ReportError(f"{path} has no result rows; re-run 'qunlearn run' to fill it")
    return table


def load_optional_table(path: Path) -> Table | None:
    """A CSV file that may be absent (e.g. ``forgetting_quality.csv``); None when unusable."""
    if not path.is_file():
        return None
    try:
        table = read_table(path, identity=("scenario", "method", "seed", "model", "split"))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    return table if table.rows else None


def load_manifest(run_dir: Path) -> dict[str, Any]:
    """``manifest.json`` as a dict ({} when missing or unreadable)."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("skipping %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Series:
    """One logged run (an unlearning curve or a training history) of one scenario and seed."""

    scenario: str
    seed: int
    name: str  # the method (curves) or the role, teacher / oracle (histories)
    records: list[dict[str, float]]

    def column(self, key: str) -> list[float]:
        return [_to_float(r.get(key)) for r in self.records]


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


_CURVE = re.compile(r"^(?P<scenario>.+?)__seed(?P<seed>\d+)__(?P<name>.+)$")
_HISTORY = re.compile(r"^(?P<scenario>.+)-seed(?P<seed>\d+)-(?P<name>teacher|oracle)$")


def _load_series(folder: Path, pattern: re.Pattern[str]) -> list[Series]:
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        match = pattern.match(path.stem)
        if not match:
            log.warning("skipping %s: its name does not follow the run-directory layout", path)
            continue
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            log.warning("skipping %s: expected a list of objects", path)
            continue
        if records:
            out.append(Series(match["scenario"], int(match["seed"]), match["name"], records))
    return out


def load_curves(run_dir: Path) -> list[Series]:
    """Unlearning curves ``curves/<scenario>__seed<k>__<method>.json`` (may be none)."""
    return _load_series(Path(run_dir) / "curves", _CURVE)


def load_histories(run_dir: Path) -> list[Series]:
    """Training histories ``history/<scenario>-seed<k>-<teacher|oracle>.json`` (may be none)."""
    return _load_series(Path(run_dir) / "history", _HISTORY)
