"""Group result rows over seeds (mean ± sample std, 95 % bootstrap interval of the mean) and
format numbers for humans.

A group is one (noise, scenario, method, variant, faithful) combination, restricted to the key
columns the run actually filled in. Groups keep a stable order: noise settings by level, then
scenarios and methods as the pipeline wrote them, with ``original`` and the oracle ``retrain``
first so every table and plot lists the references before the methods compared with them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qiskit_unlearn.evaluate.stats import bootstrap_ci
from qiskit_unlearn.report.inputs import Table
from qiskit_unlearn.storage import write_atomic

GROUP_KEYS = ("noise", "scenario", "method", "variant", "faithful")
ORACLE, ORIGINAL = "retrain", "original"
STUDY_MARK = "†"  # rows run with faithful = true (the HQML study's behaviour)


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation and 95 % bootstrap interval of one metric over seeds.

    Only the finite values count (a seed that did not log a metric is left out); the defaults
    are the statistics of no values.

    Attributes:
        mean: The mean (NaN without values).
        std: The sample standard deviation (``ddof=1``; NaN below two values).
        n: How many values went in.
        ci_low: Lower end of the 95 % percentile bootstrap interval of the mean
            (:func:`qiskit_unlearn.evaluate.bootstrap_ci`; NaN below two values).
        ci_high: Upper end of that interval.
    """

    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    ci_low: float = math.nan
    ci_high: float = math.nan


def mean_std(values: Iterable[float]) -> Stat:
    """:class:`Stat` of ``values`` ignoring NaN (a seed that did not log a metric)."""
    vals = np.array([v for v in values if not math.isnan(v)], dtype=float)
    if vals.size == 0:
        return Stat()
    std = float(vals.std(ddof=1)) if vals.size > 1 else math.nan
    low, high = bootstrap_ci(vals)
    return Stat(float(vals.mean()), std, int(vals.size), low, high)


def method_label(method: str, variant: str = "", faithful: str = "") -> str:
    """Display name: the method, its variant, the oracle / teacher role, and a † for the HQML
    study's behaviour (``faithful = true``)."""
    notes = [variant] if variant else []
    notes += ["oracle"] if method == ORACLE else ["teacher"] if method == ORIGINAL else []
    label = method or "?"
    if notes:
        label += f" ({', '.join(notes)})"
    return f"{label} {STUDY_MARK}" if faithful == "true" else label


@dataclass
class Group:
    """The seeds of one key combination, reduced to one :class:`Stat` per metric.

    Attributes:
        key: The group's value of each key column the run filled in (e.g. ``scenario``,
            ``method``, ``variant``, ``faithful``, ``noise``); ``""`` where a row left it empty.
        n_seeds: The number of rows in the group (one per seed by the run-directory contract).
        stats: One :class:`Stat` per numeric metric column.
        scenario_kind: The scenario's kind (``scenario_kind`` column), ``""`` if not recorded.
    """

    key: dict[str, str]
    n_seeds: int
    stats: dict[str, Stat]
    scenario_kind: str = ""

    @property
    def method(self) -> str:
        """The group's method (``original`` is the teacher, ``retrain`` the oracle)."""
        return self.key.get("method", "")

    @property
    def scenario(self) -> str:
        """The group's scenario name (``""`` if the table has no scenario column)."""
        return self.key.get("scenario", "")

    @property
    def noise(self) -> str:
        """The group's noise setting label (``""`` outside noise sweeps)."""
        return self.key.get("noise", "")

    @property
    def label(self) -> str:
        """The method's display label (variant, oracle / teacher role, † for faithful rows)."""
        return method_label(self.method, self.key.get("variant", ""),
                            self.key.get("faithful", ""))

    @property
    def is_oracle(self) -> bool:
        """Whether the group is the retrain oracle."""
        return self.method == ORACLE

    def stat(self, metric: str) -> Stat:
        """The statistics of one metric.

        Args:
            metric: A numeric column of the results.

        Returns:
            Its :class:`Stat`, or an empty one (NaN mean) if the group has no such metric.
        """
        return self.stats.get(metric, Stat())


@dataclass
class Summary:
    """A results table grouped over seeds: what ``summary.csv``, the figures and the report
    show (built by :func:`summarize`).

    Attributes:
        keys: The group key columns the table filled in, in the order they were asked for.
        metrics: The numeric columns with at least one value, in table order.
        groups: The groups in report order: noise settings by level, scenarios and methods as
            the run wrote them, the teacher (``original``) and the oracle (``retrain``) first.
    """

    keys: list[str]
    metrics: list[str]
    groups: list[Group] = field(default_factory=list)

    def _ordered(self, values: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(values))

    def scenarios(self) -> list[str]:
        """The scenarios of the groups.

        Returns:
            Distinct scenario names in group order (``""`` for a table without scenarios).
        """
        return self._ordered(g.scenario for g in self.groups)

    def noises(self) -> list[str]:
        """The noise settings of the groups.

        Returns:
            Distinct noise labels in group order (by level; ``""`` outside noise sweeps).
        """
        return self._ordered(g.noise for g in self.groups)

    def labels(self) -> list[str]:
        """The methods' display labels (:attr:`Group.label`).

        Returns:
            Distinct labels in group order, references first.
        """
        return self._ordered(g.label for g in self.groups)

    def has(self, metric: str) -> bool:
        """Whether any group has a finite mean of ``metric``.

        Args:
            metric: A column name, e.g. ``mia_auc``.

        Returns:
            ``True`` if at least one group logged a finite mean of it.
        """
        return any(math.isfinite(g.stat(metric).mean) for g in self.groups)

    def has_study_behaviour(self) -> bool:
        """Whether any group ran with ``faithful = true`` (the HQML study's behaviour).

        Returns:
            ``True`` if the report needs the † note.
        """
        return any(g.key.get("faithful") == "true" for g in self.groups)


def _rank(table: Table, key: str) -> dict[str, int]:
    values = table.unique(key)
    if key == "method":
        values.sort(key=lambda v: (v != ORIGINAL, v != ORACLE))
    elif key == "faithful":
        values.sort(key=lambda v: v != "true")
    elif key == "noise" and "noise_level" in table.numeric:
        levels = {v: mean_std(r["noise_level"] for r in table.rows if r.get("noise") == v).mean
                  for v in values}
        values.sort(key=lambda v: (math.isnan(levels[v]), levels[v]))
    return {"": -1} | {v: i for i, v in enumerate(values)}


def summarize(table: Table, keys: Iterable[str] = GROUP_KEYS) -> Summary:
    """Mean ± std of every non-empty numeric column per group of the ``keys`` that are filled.

    ``n_seeds`` counts the group's rows (one per seed by the run-directory contract); a metric's
    mean uses the seeds where it is not NaN.

    Args:
        table: A results table (:func:`load_results`, or any table with the same columns).
        keys: The candidate group key columns; those the table leaves empty are dropped. The
            default groups by noise, scenario, method, variant and faithful.

    Returns:
        The :class:`Summary`, groups in report order.
    """
    keys = [k for k in keys if table.has(k)]
    metrics = [c for c in table.numeric if table.has(c)]
    buckets: dict[tuple[str, ...], list[dict]] = {}
    for row in table.rows:
        buckets.setdefault(tuple(str(row.get(k, "")) for k in keys), []).append(row)
    ranks = {k: _rank(table, k) for k in keys}
    order = sorted(buckets, key=lambda kt: tuple(ranks[k][v]
                                                 for k, v in zip(keys, kt, strict=True)))
    groups = []
    for kt in order:
        rows = buckets[kt]
        kinds = [r.get("scenario_kind", "") for r in rows if r.get("scenario_kind", "")]
        groups.append(Group(dict(zip(keys, kt, strict=True)), len(rows),
                            {m: mean_std(r[m] for r in rows) for m in metrics},
                            kinds[0] if kinds else ""))
    return Summary(keys, metrics, groups)


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else format(value, ".12g")


def write_summary_csv(summary: Summary, path: Path) -> Path:
    """``summary.csv``: key columns, ``scenario_kind``, ``n_seeds``, then per metric
    ``<metric>_mean``, ``_std``, ``_ci_low`` and ``_ci_high`` (95 % bootstrap interval)."""
    kind = any(g.scenario_kind for g in summary.groups)
    header = [*summary.keys, *(["scenario_kind"] if kind else []), "n_seeds"]
    for m in summary.metrics:
        header += [f"{m}_mean", f"{m}_std", f"{m}_ci_low", f"{m}_ci_high"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for g in summary.groups:
        row = [g.key[k] for k in summary.keys] + ([g.scenario_kind] if kind else [])
        row.append(g.n_seeds)
        for m in summary.metrics:
            s = g.stat(m)
            row += [_csv_number(v) for v in (s.mean, s.std, s.ci_low, s.ci_high)]
        writer.writerow(row)
    write_atomic(path, out.getvalue())
    return path


def is_time(metric: str) -> bool:
    return metric == "seconds" or metric.endswith("_seconds")


def is_count(metric: str) -> bool:
    return metric.startswith("num_") or metric.endswith(("_evaluations", "_count"))


def _decimals(value: float) -> int:
    size = abs(value)
    return 0 if size >= 1000 else 1 if size >= 100 else 3


def fmt_number(value: float, decimals: int | None = None) -> str:
    """3 decimals for metrics in [0, ~100), fewer for large counts, '—' for missing."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    d = _decimals(value) if decimals is None else decimals
    return f"{value:,.{d}f}"


_UNITS = ((1.0, 1e3, "ms"), (120.0, 1.0, "s"), (7200.0, 1 / 60, "min"), (math.inf, 1 / 3600, "h"))


def fmt_duration(seconds: float, std: float = math.nan) -> str:
    """``850 ms``, ``12.3 ± 0.4 s``, ``4.2 min``: one unit, chosen by the mean."""
    if not math.isfinite(seconds):
        return "—"
    _, scale, unit = next(u for u in _UNITS if abs(seconds) < u[0])
    value = seconds * scale
    d = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 or unit != "s" else 2
    text = f"{value:.{d}f}"
    if math.isfinite(std):
        text += f" ± {std * scale:.{d}f}"
    return f"{text} {unit}"


def fmt_stat(stat: Stat, metric: str = "", *, ci: bool = False) -> str:
    """``mean ± std`` (std left out for one seed), or with ``ci`` ``mean [low, high]`` (the
    95 % interval of the mean); durations get a unit and counts no decimals unless their mean
    is fractional, and both keep ``± std`` (an interval of a cost or a count says little)."""
    if is_time(metric):
        return fmt_duration(stat.mean, stat.std)
    if math.isnan(stat.mean):
        return "—"
    if not math.isfinite(stat.mean):
        d = 3
    elif is_count(metric):
        d = 0 if stat.mean == round(stat.mean) else 1
    else:
        d = _decimals(stat.mean)
    text = fmt_number(stat.mean, d)
    if ci and not is_count(metric):
        return f"{text} {fmt_ci(stat, d)}" if math.isfinite(stat.ci_low) else text
    return f"{text} ± {fmt_number(stat.std, d)}" if math.isfinite(stat.std) else text


def fmt_ci(stat: Stat, decimals: int | None = None) -> str:
    """``[low, high]`` of the 95 % interval, '—' below two seeds."""
    if not (math.isfinite(stat.ci_low) and math.isfinite(stat.ci_high)):
        return "—"
    d = _decimals(stat.mean if math.isfinite(stat.mean) else stat.ci_high) \
        if decimals is None else decimals
    return f"[{fmt_number(stat.ci_low, d)}, {fmt_number(stat.ci_high, d)}]"
