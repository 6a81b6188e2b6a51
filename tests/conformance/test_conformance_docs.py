"""The guides' reference tables (``docs/guides/*.md``) list exactly what the registries hold.

Tables are found by their header row (first column ``method``, ``backend``, ``model.kind``,
``kind`` of the forget scenarios, ``data.dataset``); the names are the backticked words of the
first column. The method table's family column must also match each registry entry's family.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import qiskit_unlearn
from qiskit_unlearn.data import DATASETS
from qiskit_unlearn.data.preprocess import PREPROCESSORS
from qiskit_unlearn.models import MODELS
from qiskit_unlearn.scenarios import SCENARIOS
from qiskit_unlearn.unlearn import METHODS

GUIDES = sorted((Path(__file__).resolve().parents[2] / "docs" / "guides").glob("*.md"))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(first_header: str, second_header: str | None = None) -> list[list[str]]:
    """Body rows of the first guide table whose header starts with these column titles."""
    lines = [line for guide in GUIDES for line in guide.read_text(encoding="utf-8").splitlines()]
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            continue
        head = _cells(line)
        if head[0] != first_header or (second_header and head[1:2] != [second_header]):
            continue
        rows = []
        for body in lines[i + 2:]:
            if not body.lstrip().startswith("|"):
                break
            rows.append(_cells(body))
        return rows
    pytest.fail("no guide in docs/guides/ has a table with header "
                f"| {first_header} | {second_header or ''}")


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _first_column(rows: list[list[str]]) -> set[str]:
    return {name for row in rows for name in _names(row[0])}


def test_method_table_lists_exactly_the_registered_methods():
    rows = _table("method", "family")
    assert _first_column(rows) == set(METHODS)


def test_method_table_families_match_the_registry():
    rows = _table("method", "family")
    wrong = {name: (row[1], METHODS[name].family) for row in rows for name in _names(row[0])
             if name in METHODS and row[1] != METHODS[name].family}
    assert not wrong, f"guide family != registry family: {wrong}"


def test_backend_table_lists_exactly_the_registered_backends():
    rows = _table("backend", "what runs")
    assert _first_column(rows) == set(qiskit_unlearn.available_backends())


def test_model_table_lists_exactly_the_registered_kinds():
    assert _first_column(_table("`model.kind`")) == set(MODELS)


def test_scenario_table_lists_exactly_the_registered_kinds():
    assert _first_column(_table("`kind`", "forget set")) == set(SCENARIOS)


def test_dataset_table_lists_exactly_the_registered_datasets():
    assert _first_column(_table("`data.dataset`")) == set(DATASETS)


def test_config_reference_names_every_preprocessor():
    rows = [row for row in _table("key", "type") if _names(row[0]) == ["data.preprocess"]]
    assert rows, "the config reference has no data.preprocess row"
    documented = {n for cell in rows[0][1:] for n in _names(cell)}
    assert set(PREPROCESSORS) <= documented
