"""The grid part of a sweep report: per grid key, findings, figures and mean [95 % CI] tables.

Tables give, per scenario and headline metric, one row per method and one column per value of
the key, pooled over the other keys' values (the figures show them apart). Findings are plain
sentences computed from the same numbers, with whether the 95 % intervals separate the values,
so a reader can tell a trend from seed noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qiskit_unlearn.report.markdown import HEADERS
from qiskit_unlearn.report.style import Plot
from qiskit_unlearn.report.tables import ORACLE, ORIGINAL, method_label
from qiskit_unlearn.sweep.gridplots import MEMO, Axis, GridData, Stat3

TABLE_METRICS = ("forget_accuracy", "test_accuracy", "mia_auc", "forgetting_quality")
TEACHER, ORACLE_LABEL = method_label(ORIGINAL), method_label(ORACLE)


def fmt_ci(stat: Stat3) -> str:
    """``0.912 [0.880, 0.940]``; without a CI (one seed) the mean alone; ``—`` when missing."""
    mean, lo, hi = stat
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else f"{mean:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
                  for row in rows]


def _by_value(data: GridData, axis: Axis, scenario: str, series: str, metric: str
              ) -> dict[str, Stat3]:
    return {t: data.stat(data.values(scenario, series, metric, {axis.key: t}))
            for t in axis.texts}


def _separated(a: Stat3, b: Stat3) -> str:
    if not (math.isfinite(a[1]) and math.isfinite(b[1])):
        return "one seed: no interval"
    apart = a[2] < b[1] or b[2] < a[1]
    return "the 95 % intervals do not overlap" if apart else \
        "the 95 % intervals overlap, so the seeds do not separate them"


def _extremes(stats: Mapping[str, Stat3]) -> tuple[str, str] | None:
    """The values with the lowest and the highest mean; None unless they differ."""
    finite = {t: s for t, s in stats.items() if math.isfinite(s[0])}
    if len(finite) < 2:
        return None
    low = min(finite, key=lambda t: finite[t][0])
    high = max(finite, key=lambda t: finite[t][0])
    return (low, high) if finite[high][0] > finite[low][0] else None


def _range_sentence(subject: str, say: Callable[[str], str], stats: Mapping[str, Stat3], *,
                    high_first: bool = True) -> list[str]:
    """``<subject> is highest at … and lowest at …; <whether the seeds separate them>.``, as a
    one-item list; empty when all values have the same mean."""
    if (ext := _extremes(stats)) is None:
        return []
    low, high = ext
    ends = [f"highest at {say(high)} ({fmt_ci(stats[high])})",
            f"lowest at {say(low)} ({fmt_ci(stats[low])})"]
    first, second = ends if high_first else ends[::-1]
    return [f"{subject} is {first} and {second}; {_separated(stats[low], stats[high])}."]


def _title(metric: str) -> str:
    """``Forget accuracy``, ``MIA AUC``: a metric as a table heading."""
    return HEADERS.get(metric, metric).replace("acc.", "accuracy")


def _metric_name(metric: str) -> str:
    """A metric inside a sentence (``forget accuracy``, ``MIA AUC``)."""
    title = _title(metric)
    return title if title.isupper() or title[1:2].isupper() else title.lower()


def findings(data: GridData, axis: Axis, scenario: str) -> list[str]:
    """Plain sentences: the teacher's utility, the unlearning methods' average and most
    affected method per headline metric, and memorisation, across the key's values."""
    out = []
    say = axis.say
    out += _range_sentence("The teacher's test accuracy", say,
                           _by_value(data, axis, scenario, TEACHER, "test_accuracy"))
    methods = [m for m in data.methods() if m not in (TEACHER, ORACLE_LABEL)]
    first, last = axis.texts[0], axis.texts[-1]
    for metric in ("forget_accuracy", "mia_auc", "forgetting_quality"):
        if not data.has(metric) or not methods:
            continue
        per = {m: _by_value(data, axis, scenario, m, metric) for m in methods}
        per = {m: st for m, st in per.items() if any(math.isfinite(v[0]) for v in st.values())}
        if not per:
            continue
        means = {t: [st[t][0] for st in per.values() if math.isfinite(st[t][0])]
                 for t in axis.texts}
        if not means[first] or not means[last]:
            continue
        avg = {t: sum(v) / len(v) for t, v in means.items() if v}
        spread = {m: max(s[0] for s in per[m].values() if math.isfinite(s[0]))
                  - min(s[0] for s in per[m].values() if math.isfinite(s[0]))
                  for m in per if sum(math.isfinite(s[0]) for s in per[m].values()) >= 2}
        who = (f"averaged over the {len(per)} unlearning methods" if len(per) > 1
               else f"for {next(iter(per))}")
        name = _metric_name(metric)
        text = (f"{name[0].upper() + name[1:]}, {who}, goes from {avg[first]:.3f} at "
                f"{say(first)} to {avg[last]:.3f} at {say(last)}")
        top = max(spread, key=lambda m: spread[m]) if spread else None
        ext = _extremes(per[top]) if top is not None else None
        if top is not None and ext is not None:
            low, high = ext
            lead = f"it depends most on {axis.name} for {top}: " if len(per) > 1 else ""
            text += (f"; {lead}lowest {fmt_ci(per[top][low])} at {say(low)}, highest "
                     f"{fmt_ci(per[top][high])} at {say(high)} "
                     f"({_separated(per[top][low], per[top][high])})")
        elif top is not None:
            text += f" (no method's mean changes with {axis.name})"
        out.append(text + ".")
    out += _range_sentence("Memorisation", say,
                           _by_value(data, axis, scenario, MEMO, "memorisation"),
                           high_first=False)
    return out


def tables(data: GridData, axis: Axis, scenario: str) -> list[str]:
    """Mean [95 % CI] per method (rows) and value (columns) for each headline metric."""
    out: list[str] = []
    header = ["Method", *(axis.say(t) for t in axis.texts)]
    for metric in TABLE_METRICS:
        if not data.has(metric):
            continue
        rows = [[m, *(fmt_ci(s) for s in _by_value(data, axis, scenario, m, metric).values())]
                for m in data.methods()]
        rows = [r for r in rows if any(c != "—" for c in r[1:])]
        if rows:
            out += [f"**{_title(metric)}**", "", *_table(header, rows), ""]
    if data.has("memorisation"):
        row = [fmt_ci(s) for s in _by_value(data, axis, scenario, MEMO, "memorisation").values()]
        out += ["**Memorisation**", "", *_table(["", *header[1:]], [["memorisation", *row]]),
                ""]
    return out


def grid_sections(data: GridData, plots: Mapping[str, Sequence[Plot]]) -> list[str]:
    """One ``##`` section per grid key: findings and tables per scenario, then its figures."""
    lines: list[str] = []
    for axis in data.axes:
        _, pooled = data.facets(axis)
        others = [a.key for a in data.axes if a.key != axis.key]
        pooling = (f" Tables pool the values of {', '.join(others)} (n = seeds × their "
                   "values); the figures show them apart" +
                   (f", pooling {', '.join(a.key for a in pooled)}" if pooled else "") + "."
                   if others else "")
        lines += [f"## Grid: `{axis.key}`", "",
                  f"Values: {', '.join(axis.texts)}. Mean [95 % bootstrap CI over seeds] at "
                  f"the exact reference.{pooling}", ""]
        for scenario in data.scenarios:
            lines += [f"### {scenario}", ""]
            lines += [f"- {s}" for s in findings(data, axis, scenario)] + [""]
            lines += tables(data, axis, scenario)
        for p in plots.get(axis.key, []):
            lines += [f"### {p.title}", "", p.caption, "", f"![{p.title}]({p.file})", ""]
    return lines
