"""Figures of a config grid: each metric against each swept value, with 95 % confidence bands.

Per grid key and scenario one figure: rows are metrics, columns are the values of the other grid
keys (one panel per combination, so a depth × entanglement grid reads as "depth, at each
entanglement"), one line per method. Bands are the 95 % percentile-bootstrap interval of the
mean over seeds (:func:`qiskit_unlearn.evaluate.stats.bootstrap_ci`). Numeric values (depth, a
learning rate) get a numeric axis, logarithmic when they span a decade; others (entanglement
names) a categorical one with error bars. Points are compared at the exact reference; each
point's noise figures are drawn as in a plain noise sweep.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qiskit_unlearn.evaluate.stats import bootstrap_ci
from qiskit_unlearn.report.style import (
    OKABE_ITO,
    STYLE,
    Plot,
    Styles,
    dodge,
    draw_line,
    label_metric_grid,
    metric_grid,
    metric_name,
    metric_y_axis,
    save_figure,
    wrapped_title,
)
from qiskit_unlearn.report.tables import method_label
from qiskit_unlearn.sweep.axes import GRID_COLUMN, short_names, value_text
from qiskit_unlearn.sweep.grid import REFERENCE

GRID_METRICS = ("forget_accuracy", "test_accuracy", "uqi", "mia_auc", "oracle_gap", "js_test",
                "forgetting_quality")
MEMO_METRICS = ("memorisation", "memorisation_prob")
MEMO = "memorisation"  # the series name of memorisation rows (one per scenario, no method)
#: More panels than this (three or more keys): facet by the next key only, pool the rest.
MAX_PANELS = 8
SECTION = "Grid"
Stat3 = tuple[float, float, float]  # mean, CI low, CI high


@dataclass(frozen=True)
class Axis:
    """One grid key: its values as the results columns hold them, and where they are drawn."""

    key: str
    name: str
    texts: tuple[str, ...]
    numbers: tuple[float, ...] | None  # None: categorical

    @classmethod
    def of(cls, key: str, values: Sequence[Any], name: str) -> Axis:
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        return cls(key, name, tuple(value_text(v) for v in values),
                   tuple(float(v) for v in values) if numeric else None)

    def x(self, text: str) -> float:
        i = self.texts.index(text)
        return self.numbers[i] if self.numbers is not None else float(i)

    @property
    def log(self) -> bool:
        nums = self.numbers
        return nums is not None and min(nums) > 0 and max(nums) / min(nums) >= 10

    def say(self, text: str) -> str:
        """``layers = 2``: a value in words, for titles, tables and findings."""
        return f"{self.name} = {text}"


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _label(row: Mapping[str, str]) -> str:
    faithful = "true" if str(row.get("faithful", "")).strip().lower() in ("true", "1") else ""
    return method_label(row.get("method", ""), row.get("variant", ""), faithful)


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


@dataclass
class GridData:
    """Per-seed values of the reference runs, by (point, scenario, series) and metric; series
    are method labels (results and forgetting quality) or :data:`MEMO`."""

    axes: list[Axis]
    points: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> key -> text
    cells: dict[tuple[str, str, str], dict[str, list[float]]] = field(default_factory=dict)
    scenarios: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    seeds: set[str] = field(default_factory=set)
    _ci: dict[tuple[float, ...], tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: Path, grid: Mapping[str, Sequence[Any]]) -> GridData:
        names = short_names(list(grid))
        data = cls([Axis.of(k, v, names[k]) for k, v in grid.items()])
        for name, metrics in (("results.csv", None), ("forgetting_quality.csv",
                                                       ("forgetting_quality",)),
                              ("memorisation.csv", MEMO_METRICS)):
            for row in _read(Path(out_dir) / name):
                data._add(row, metrics)
        return data

    def _add(self, row: Mapping[str, str], metrics: Sequence[str] | None) -> None:
        if row.get("noise_kind", REFERENCE) != REFERENCE or not row.get(GRID_COLUMN):
            return
        point, scenario = row[GRID_COLUMN], row.get("scenario", "")
        self.points.setdefault(point, {a.key: row.get(a.key, "") for a in self.axes})
        series = MEMO if metrics == MEMO_METRICS else _label(row)
        self.scenarios += [scenario] if scenario not in self.scenarios else []
        self.series += [series] if series not in self.series else []
        self.seeds.add(row.get("seed", ""))
        cell = self.cells.setdefault((point, scenario, series), {})
        for m in metrics or GRID_METRICS:
            value = _number(row.get(m))
            if math.isfinite(value):
                cell.setdefault(m, []).append(value)

    def has(self, metric: str) -> bool:
        return any(metric in c for c in self.cells.values())

    def methods(self) -> list[str]:
        return [s for s in self.series if s != MEMO]

    def values(self, scenario: str, series: str, metric: str, select: Mapping[str, str]
               ) -> list[float]:
        """The seeds' values at every point matching ``select`` (other keys pooled)."""
        out: list[float] = []
        for point, texts in self.points.items():
            if all(texts.get(k) == t for k, t in select.items()):
                out += self.cells.get((point, scenario, series), {}).get(metric, [])
        return out

    def stat(self, values: Sequence[float]) -> Stat3:
        """Mean and 95 % bootstrap CI (NaN bounds below two values)."""
        if not values:
            return math.nan, math.nan, math.nan
        key = tuple(values)
        if key not in self._ci:
            self._ci[key] = bootstrap_ci(values)
        return float(np.mean(values)), *self._ci[key]

    def facets(self, axis: Axis) -> tuple[list[tuple[str, dict[str, str]]], list[Axis]]:
        """Panels of ``axis``'s figures (title, selection) and the keys pooled within them."""
        others = [a for a in self.axes if a.key != axis.key]
        shown = others if math.prod(len(a.texts) for a in others) <= MAX_PANELS else others[:1]
        panels = [(", ".join(a.say(t) for a, t in zip(shown, combo, strict=True)),
                   {a.key: t for a, t in zip(shown, combo, strict=True)})
                  for combo in itertools.product(*(a.texts for a in shown))]
        return panels, [a for a in others if a not in shown]


def _x_axis(ax: Axes, axis: Axis) -> None:
    if axis.numbers is None:
        ax.set_xticks(range(len(axis.texts)), axis.texts)
        ax.set_xlim(-0.5, len(axis.texts) - 0.5)
    else:
        if axis.log:
            ax.set_xscale("log")
        ax.set_xticks(list(axis.numbers), axis.texts)
        ax.minorticks_off()
    if len(axis.texts) > 8 or max(len(t) for t in axis.texts) > 6:
        ax.tick_params(axis="x", labelrotation=45)


def draw_points(ax: Axes, axis: Axis, pts: Sequence[tuple[float, float, float, float]],
                colour: str, marker: str, offset: float, alpha: float) -> None:
    """A line with its 95 % band (numeric axis) or dodged points with error bars (categorical)."""
    x, y, lo, hi = (np.array(c, dtype=float) for c in zip(*pts, strict=True))
    if axis.numbers is None:
        err = np.vstack([y - lo, hi - y])
        err[~np.isfinite(err)] = 0.0
        err = np.clip(err, 0.0, None)  # equal seeds: the mean may round past its interval
        ax.errorbar(x + offset, y, yerr=err, color=colour, marker=marker, markersize=4,
                    linewidth=0.8, elinewidth=0.9, capsize=1.5)
        return
    draw_line(ax, x, y, (lo, hi) if np.isfinite(lo).any() else None, colour=colour,
              marker=marker, markersize=4, linewidth=1.2, alpha=alpha)


def _panel(ax: Axes, data: GridData, axis: Axis, scenario: str, metric: str,
           select: Mapping[str, str], lines: Sequence[tuple[str, str, str, str]]) -> None:
    """``lines``: (series, scenario, colour, marker) per line."""
    for i, (series, sc, colour, marker) in enumerate(lines):
        pts = []
        for text in axis.texts:
            mean, lo, hi = data.stat(data.values(sc or scenario, series, metric,
                                                 {**select, axis.key: text}))
            if math.isfinite(mean):
                pts.append((axis.x(text), mean, lo, hi))
        if pts:
            offset = dodge(i, len(lines), min(0.08, 0.6 / len(lines)))
            draw_points(ax, axis, pts, colour, marker, offset, 0.15 if len(lines) <= 4 else 0.07)
    _x_axis(ax, axis)
    ax.grid(alpha=0.3)


def _layout(data: GridData, axis: Axis, metrics: Sequence[str]) -> tuple[Figure, np.ndarray,
                                                                         list, list[Axis]]:
    facets, pooled = data.facets(axis)
    width = 2.9 if len(axis.texts) <= 6 else 3.4
    fig, axes = metric_grid(len(metrics), len(facets), (width, 1.9))
    for row in axes:  # one scale per metric, so panels compare at a glance
        for ax in row[1:]:
            ax.sharey(row[0])
    for c, (title, _) in enumerate(facets):
        if title:
            axes[0, c].set_title(title)
    for c in range(len(facets)):
        axes[-1, c].set_xlabel(axis.key)
    return fig, axes, facets, pooled


def _pooled_text(pooled: Sequence[Axis]) -> str:
    return (f"; pooled over {', '.join(a.key for a in pooled)}" if pooled else "")


def method_figure(data: GridData, axis: Axis, scenario: str, styles: Styles,
                  chance: float | None = None) -> Figure | None:
    """Every metric against ``axis`` for one scenario: one line per method, 95 % bands."""
    metrics = [m for m in GRID_METRICS if data.has(m)]
    labels = data.methods()
    if not metrics or not labels:
        return None
    fig, axes, facets, pooled = _layout(data, axis, metrics)
    lines = [(lab, "", styles.style(lab).colour, styles.style(lab).marker) for lab in labels]
    for c, (_, select) in enumerate(facets):
        for r, metric in enumerate(metrics):
            _panel(axes[r, c], data, axis, scenario, metric, select, lines)
            metric_y_axis(axes[r, c], metric, chance)
    label_metric_grid(fig, axes, labels, styles, [t for t, _ in facets], metrics, chance,
                      line=True)
    wrapped_title(fig, f"{scenario}: metrics against {axis.key} (mean and 95 % bootstrap CI "
                       f"over {len(data.seeds)} seeds{_pooled_text(pooled)})")
    return fig


def memorisation_figure(data: GridData, axis: Axis) -> Figure | None:
    """Memorisation against ``axis``: one line per scenario, 95 % bands."""
    metrics = [m for m in MEMO_METRICS if data.has(m)]
    if not metrics:
        return None
    fig, axes, facets, pooled = _layout(data, axis, metrics)
    lines = [(MEMO, sc, OKABE_ITO[i % len(OKABE_ITO)], "o")
             for i, sc in enumerate(data.scenarios)]
    for c, (_, select) in enumerate(facets):
        for r, metric in enumerate(metrics):
            _panel(axes[r, c], data, axis, "", metric, select, lines)
    for r, metric in enumerate(metrics):
        axes[r, 0].set_ylabel(metric.replace("_", " ").capitalize())
    handles = [Line2D([], [], color=colour) for _, _, colour, _ in lines]
    fig.legend(handles, data.scenarios, loc="outside lower center", frameon=False,
               ncol=min(4, len(lines)))
    wrapped_title(fig, f"Memorisation against {axis.key} (mean and 95 % bootstrap CI over "
                       f"{len(data.seeds)} seeds{_pooled_text(pooled)})")
    return fig


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


def write_grid_plots(out_dir: Path, data: GridData, styles: Styles,
                     chance: float | None = None) -> dict[str, list[Plot]]:
    """Every grid figure into ``out_dir/plots``; the written plots per grid key."""
    plots_dir = Path(out_dir) / "plots"
    out: dict[str, list[Plot]] = {}
    with mpl.rc_context(STYLE):
        for axis in data.axes:
            plots = out.setdefault(axis.key, [])
            _, pooled = data.facets(axis)
            for scenario in data.scenarios:
                fig = method_figure(data, axis, scenario, styles, chance)
                if fig is None:
                    continue
                file = save_figure(fig, plots_dir, f"grid_{_safe(axis.name)}_{_safe(scenario)}"
                                                   ".png")
                metrics = ", ".join(metric_name(m) for m in GRID_METRICS if data.has(m))
                plots.append(Plot(file, SECTION, f"{scenario}: metrics against {axis.key}",
                                  f"{metrics} against {axis.key} for "
                                  f"{scenario}, one line per method; "
                                  + _caption(axis, pooled)))
            fig = memorisation_figure(data, axis)
            if fig is not None:
                file = save_figure(fig, plots_dir, f"grid_{_safe(axis.name)}_memorisation.png")
                plots.append(Plot(file, SECTION, f"Memorisation against {axis.key}",
                                  f"Memorisation of the training data against {axis.key}, one "
                                  "line per scenario; " + _caption(axis, pooled)))
    return out


def _caption(axis: Axis, pooled: Sequence[Axis]) -> str:
    band = ("shaded: 95 % bootstrap CI of the mean over seeds" if axis.numbers is not None
            else "bars: 95 % bootstrap CI of the mean over seeds")
    panels = "panels: the other grid keys' values" + (
        f" (pooled over {', '.join(a.key for a in pooled)})" if pooled else "")
    return f"{band}; {panels}. Exact reference runs only."
