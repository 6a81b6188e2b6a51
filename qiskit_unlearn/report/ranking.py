"""Per-scenario rankings of a run: distance to the oracle and balance score, with paired tests.

Composes :mod:`qiskit_unlearn.evaluate.ranking` on the rows of ``results.csv``: every method
row is scored against the ``retrain`` (oracle) and ``original`` (teacher) rows of the same
seed, scenario and noise setting (falling back to the row's own ``oracle_*`` / ``original_*``
columns), then ranked per scenario. The result goes to ``ranking.csv`` and two tables of
``report.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiskit_unlearn.evaluate.ranking import (
    ACCURACY_KEYS,
    ALPHA,
    BALANCE_TERMS,
    DISTANCE_KEYS,
    RankedMethod,
    balance_score,
    oracle_distance,
    rank_methods,
)
from qiskit_unlearn.report.inputs import Table
from qiskit_unlearn.report.tables import ORACLE, ORIGINAL, Stat, mean_std, method_label
from qiskit_unlearn.storage import write_csv

BLOCK_KEYS = ("noise", "scenario")
MEASURES = {"distance": "Distance to the oracle", "balance": "Balance ranking"}


@dataclass
class Ranking:
    """One measure ranked within one block (scenario, and noise setting if the run has one)."""

    key: dict[str, str]
    measure: str  # "distance" (lower is better) or "balance" (higher is better)
    privacy: bool  # whether the MIA AUC entered the score
    entries: list[RankedMethod]
    methods: dict[str, dict[str, str]]  # display label -> method, variant, faithful
    terms: dict[str, dict[str, Stat]] = field(default_factory=dict)  # balance terms
    reference: RankedMethod | None = None  # the oracle's balance (not ranked)

    @property
    def scenario(self) -> str:
        return self.key.get("scenario", "")


def _value(row: Mapping[str, Any] | None, metric: str) -> float:
    value = row.get(metric, math.nan) if row is not None else math.nan
    return float(value) if isinstance(value, (int, float)) else math.nan


def _reference(row: Mapping[str, Any], other: Mapping[str, Any] | None, prefix: str,
               metric: str) -> float:
    """``metric`` of the oracle / teacher row of the same seed, else the row's own copy."""
    value = _value(other, metric)
    return value if math.isfinite(value) else _value(row, f"{prefix}_{metric}")


def _blocks(table: Table) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    keys = [k for k in BLOCK_KEYS if k in table.columns]
    out: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in table.rows:
        out.setdefault(tuple(str(row.get(k, "")) for k in keys), []).append(row)
    return out


def _scores(rows: list[dict[str, Any]], privacy: bool
            ) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, str]]]:
    """Per label and seed: distance, balance and the balance terms."""
    by_seed: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_seed.setdefault(str(row.get("seed", "")), {}).setdefault(row.get("method", ""), row)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    methods: dict[str, dict[str, str]] = {}
    keys = DISTANCE_KEYS if privacy else ACCURACY_KEYS
    for row in rows:
        seed, method = str(row.get("seed", "")), row.get("method", "")
        oracle_row, teacher_row = by_seed[seed].get(ORACLE), by_seed[seed].get(ORIGINAL)
        model = {k: _value(row, k) for k in (*keys, "mia_auc")}
        oracle = {k: _reference(row, oracle_row, "oracle", k) for k in keys}
        oracle["mia_auc"] = _value(oracle_row, "mia_auc")
        teacher_test = _reference(row, teacher_row, "original", "test_accuracy")
        bal = balance_score(model, oracle, teacher_test, privacy=privacy)
        label = method_label(method, row.get("variant", ""), row.get("faithful", ""))
        methods[label] = {k: str(row.get(k, "")) for k in ("method", "variant", "faithful")}
        per = scores.setdefault(label, {})
        per.setdefault("distance", {})[seed] = oracle_distance(model, oracle, keys)
        per.setdefault("balance", {})[seed] = bal.balance
        for term in BALANCE_TERMS:
            per.setdefault(term, {})[seed] = getattr(bal, term)
    return scores, methods


def build_rankings(table: Table, alpha: float = ALPHA) -> list[Ranking]:
    """Both rankings of every block of ``results.csv`` that holds a method to rank.

    The oracle is the target: its distance is 0 by definition and it is not ranked; its
    balance is kept as the reference. The MIA AUC enters both scores when the oracle rows of
    the block have one (``evaluation.mia = true``).
    """
    out = []
    key_names = [k for k in BLOCK_KEYS if k in table.columns]
    for key, rows in _blocks(table).items():
        privacy = any(math.isfinite(_value(r, "mia_auc")) for r in rows
                      if r.get("method") == ORACLE)
        scores, methods = _scores(rows, privacy)
        ranked = {label: s for label, s in scores.items() if methods[label]["method"] != ORACLE}
        if not ranked:
            continue
        block = dict(zip(key_names, key, strict=True))
        for measure in MEASURES:
            entries = rank_methods({m: s[measure] for m, s in ranked.items()},
                                   lower_is_better=measure == "distance", alpha=alpha)
            if not entries:  # e.g. no teacher test accuracy to score utility against
                continue
            ranking = Ranking(block, measure, privacy, entries, methods)
            if measure == "balance":
                ranking.terms = {m: {t: mean_std(s[t].values()) for t in BALANCE_TERMS}
                                 for m, s in scores.items()}
                oracles = [m for m in scores if methods[m]["method"] == ORACLE]
                if oracles:
                    st = mean_std(scores[oracles[0]]["balance"].values())
                    ranking.reference = RankedMethod(oracles[0], st.n, st.mean, st.ci_low,
                                                     st.ci_high, 0)
            out.append(ranking)
    return out


def _num(value: float) -> str:
    return "" if not math.isfinite(value) else format(value, ".12g")


def ranking_rows(rankings: Sequence[Ranking]) -> list[dict[str, Any]]:
    """The rows of ``ranking.csv``: one per block, measure and method (oracle reference with
    an empty rank)."""
    rows = []
    for r in rankings:
        entries = [*r.entries, *([r.reference] if r.reference else [])]
        for e in entries:
            terms = r.terms.get(e.name, {})
            rows.append({
                **r.key, "measure": r.measure, "rank": e.rank or "", **r.methods[e.name],
                "label": e.name, "n_seeds": e.n, "mean": _num(e.mean),
                "ci_low": _num(e.ci_low), "ci_high": _num(e.ci_high), "test": e.test,
                "p_value": _num(e.p_value), "p_holm": _num(e.p_holm),
                "significant": "" if e.significant is None else str(e.significant).lower(),
                **{t: _num(terms[t].mean) if t in terms else "" for t in BALANCE_TERMS},
                "mia": str(r.privacy).lower()})
    return rows


def write_ranking_csv(rankings: Sequence[Ranking], path: Path) -> Path | None:
    """``ranking.csv`` (atomically); nothing when no block has a method to rank."""
    rows = ranking_rows(rankings)
    if not rows:
        return None
    write_csv(path, rows)
    return Path(path)
