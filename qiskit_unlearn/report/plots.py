"""The report's figures: metric bars, the forgetting/utility trade-off and noise sweeps.

:func:`write_plots` draws every figure the data supports (the logged curves and histories come
from :mod:`qiskit_unlearn.report.curves`) in the shared look of
:mod:`qiskit_unlearn.report.style`. A figure whose data is absent is skipped; NaN values are
left out, never plotted as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qiskit_unlearn.report.curves import curves, histories
from qiskit_unlearn.report.inputs import Series
from qiskit_unlearn.report.style import (
    METRICS,
    STYLE,
    UNIT_INTERVAL,
    Plot,
    Styles,
    dodge,
    draw_bars,
    figure,
    metric_line,
    metric_name,
    or_zero,
    reference_line,
    save_figure,
    side_legend,
)
from qiskit_unlearn.report.tables import Summary

__all__ = ["bar_chart", "noise_sweep", "tradeoff", "write_plots"]

PREFIXES = ("bar_", "tradeoff", "curves", "history", "noise_")
BAR_METRICS = ("forget_accuracy", "retain_accuracy", "test_accuracy", "uqi", "mia_auc",
               "mia_efficacy", "oracle_gap", "js_test", "rte")
NOISE_METRICS = ("forget_accuracy", "retain_accuracy", "test_accuracy", "uqi", "mia_auc",
                 "js_test", "oracle_gap")


def _panels(n: int, panel: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """``n`` panels in one row up to 3, else in a near-square grid (unused cells hidden)."""
    cols = n if n <= 3 else math.ceil(math.sqrt(n))
    fig, axes = figure(math.ceil(n / cols), cols, panel)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _categories(summary: Summary) -> list[tuple[str, str]]:
    """(noise, scenario) bar groups, scenario-major so one scenario's noise settings sit
    side by side."""
    scenarios, noises = summary.scenarios(), summary.noises()
    cats = {(g.noise, g.scenario) for g in summary.groups}
    return sorted(cats, key=lambda c: (scenarios.index(c[1]), noises.index(c[0])))


def _axis_limits(ax: Axes, metric: str, values: Sequence[float]) -> None:
    if metric in UNIT_INTERVAL:
        ax.set_ylim(0, max(1.05, *(v * 1.05 for v in values)) if values else 1.05)
    if not reference_line(ax, metric) and values and min(values) < 0 < max(values):
        ax.axhline(0, color="0.3", linewidth=0.8)


def _clamp_unit(ax: Axes, x_metric: str, y_metric: str) -> None:
    """Keep accuracy-like axes within [-0.05, 1.05] even when an error bar pokes out."""
    for metric, get, set_ in ((x_metric, ax.get_xlim, ax.set_xlim),
                              (y_metric, ax.get_ylim, ax.set_ylim)):
        if metric in UNIT_INTERVAL:
            lo, hi = get()
            set_(max(lo, -0.05), min(hi, 1.05))


def bar_chart(summary: Summary, metric: str, styles: Styles, plots_dir: Path,
              section: str = "Metrics by method") -> Plot | None:
    """Grouped bars (mean ± std over seeds): x = scenario (and noise), one bar per method."""
    groups = [g for g in summary.groups if math.isfinite(g.stat(metric).mean)]
    if not groups:
        return None
    cats = _categories(summary)
    labels = list(dict.fromkeys(g.label for g in groups))
    lookup = {(g.noise, g.scenario, g.label): g for g in groups}
    width = 0.8 / len(labels)
    fig, axes = figure(1, 1, (max(4.0, len(cats) * (0.22 * len(labels) + 0.5)), 3.4))
    ax = axes[0, 0]
    tops = []
    for j, lab in enumerate(labels):
        style = styles.style(lab)
        xs, hs, es = [], [], []
        for i, cat in enumerate(cats):
            g = lookup.get((*cat, lab))
            if g is not None:
                s = g.stat(metric)
                xs.append(i + dodge(j, len(labels), width))
                hs.append(s.mean)
                es.append(s.std)  # NaN (one seed) draws no error bar
                tops.append(s.mean + or_zero(s.std))
        draw_bars(ax, xs, hs, es, style, width, linewidth=0.5, capsize=2, elinewidth=0.8,
                  label=lab)
    multi_noise = len({c[0] for c in cats}) > 1
    ax.set_xticks(range(len(cats)), [f"{s}\n{n}" if multi_noise else s for n, s in cats])
    ax.set_xlim(-0.6, len(cats) - 0.4)
    ax.set_xlabel("scenario · noise setting" if multi_noise else "scenario")
    name, caption = METRICS.get(metric, (metric, f"Mean {metric} per method and scenario."))
    ax.set_ylabel(name)
    ax.set_title(f"{name} by method (mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    means = [g.stat(metric).mean for g in groups]
    if metric == "rte" and min(means) > 0 and max(means) / min(means) >= 100:
        ax.set_yscale("log")
    _axis_limits(ax, metric, tops + means)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title="method")
    return Plot(save_figure(fig, plots_dir, f"bar_{metric}.png"), section, name, caption)


def tradeoff(summary: Summary, styles: Styles, plots_dir: Path) -> Plot | None:
    """Forgetting (x) against utility (y), one panel per scenario (and noise setting)."""
    x_metric = next((m for m in ("forget_accuracy", "forget_drop") if summary.has(m)), None)
    if x_metric is None or not summary.has("test_accuracy"):
        return None
    noises, scenarios = summary.noises(), summary.scenarios()
    if len(noises) > 1:  # rows: noise settings, columns: scenarios
        panels = [(n, sc) for n in noises for sc in scenarios]
        fig, axes = figure(len(noises), len(scenarios), (3.4, 3.0))
    else:
        panels = [(noises[0], sc) for sc in scenarios]
        fig, axes = _panels(len(panels), (3.4, 3.0))
    x_name = METRICS.get(x_metric, ("Forget-accuracy drop",))[0]
    shown: list[str] = []
    for ax, (noise, scenario) in zip(axes.flat, panels, strict=False):
        for g in summary.groups:
            if (g.noise, g.scenario) != (noise, scenario):
                continue
            x, y = g.stat(x_metric), g.stat("test_accuracy")
            if not (math.isfinite(x.mean) and math.isfinite(y.mean)):
                continue
            s = styles.style(g.label)
            ax.errorbar(x.mean, y.mean, xerr=x.std, yerr=y.std,
                        marker=s.marker, color=s.colour, markersize=13 if g.is_oracle else 7,
                        markeredgecolor="black" if g.is_oracle else s.colour,
                        capsize=2, elinewidth=0.8, linestyle="none",
                        zorder=3 if g.is_oracle else 2)
            if g.is_oracle:
                ax.axvline(x.mean, color="black", linestyle=":", linewidth=0.8, zorder=1)
                ax.axhline(y.mean, color="black", linestyle=":", linewidth=0.8, zorder=1)
            shown.append(g.label)
        ax.set_title(f"{scenario} · {noise}" if len(noises) > 1 else scenario)
        ax.set_xlabel(x_name)
        ax.set_ylabel("Test accuracy")
        ax.grid(alpha=0.3)
        ax.margins(0.15)
        _clamp_unit(ax, x_metric, "test_accuracy")
    if not shown:
        return None
    side_legend(fig, list(dict.fromkeys(shown)), styles)
    fig.suptitle("Forgetting vs utility (mean ± std; dotted lines: oracle)")
    caption = (f"Each marker is a method's mean {x_name.lower()} against its test accuracy; "
               "the best methods sit on the oracle's crossing (matching forgetting, high "
               "utility).")
    return Plot(save_figure(fig, plots_dir, "tradeoff.png"), "Forgetting vs utility",
                "Forgetting vs utility", caption)


def noise_sweep(summary: Summary, metric: str, styles: Styles, plots_dir: Path) -> Plot | None:
    """``metric`` against noise level, one line (± std band) per method, panels per scenario."""
    noises = summary.noises()
    if len(noises) < 2 or not summary.has(metric):
        return None
    levels = {n: [g.stat("noise_level").mean for g in summary.groups if g.noise == n]
              for n in noises}
    numeric = all(v and all(math.isfinite(x) for x in v) for v in levels.values())
    xpos = {n: float(np.mean(levels[n])) if numeric else float(i) for i, n in enumerate(noises)}
    scenarios = summary.scenarios()
    fig, axes = _panels(len(scenarios), (3.4, 3.0))
    drawn: list[str] = []
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        for lab in summary.labels():
            if metric_line(ax, summary.groups, scenario, lab, metric, lambda g: xpos[g.noise],
                           styles, linewidth=1.4, markersize=(9, 5)):
                drawn.append(lab)
        ax.set_title(scenario)
        ax.set_xlabel("noise level" if numeric else "noise setting")
        if not numeric:
            ax.set_xticks(range(len(noises)), noises)
        ax.set_ylabel(metric_name(metric))
        ax.grid(alpha=0.3)
        _axis_limits(ax, metric, [])
    if not drawn:
        return None
    side_legend(fig, list(dict.fromkeys(drawn)), styles)
    name = metric_name(metric)
    fig.suptitle(f"{name} vs noise (mean ± std over seeds)")
    return Plot(save_figure(fig, plots_dir, f"noise_{metric}.png"), "Noise", f"{name} vs noise",
                f"How {name.lower()} changes with the noise level, per method.")


def _clear(plots_dir: Path) -> None:
    for path in plots_dir.glob("*.png"):
        if path.name.startswith(PREFIXES):
            path.unlink()


def write_plots(run_dir: Path, summary: Summary, curve_series: list[Series],
                history_series: list[Series], quality: Summary | None = None) -> list[Plot]:
    """Write every figure the data supports into ``run_dir/plots``; returns what was written."""
    plots_dir = Path(run_dir) / "plots"
    plots_dir.mkdir(exist_ok=True)
    _clear(plots_dir)
    styles = Styles(summary.groups)
    js = "js_test" if summary.has("js_test") else "js_retain"
    bars = [m if m != "js_test" else js for m in BAR_METRICS]
    out: list[Plot | None] = []
    with mpl.rc_context(STYLE):
        out += [bar_chart(summary, m, styles, plots_dir) for m in bars]
        if quality is not None:
            out.append(bar_chart(quality, "forgetting_quality", styles, plots_dir,
                                 section="Forgetting quality"))
        out.append(tradeoff(summary, styles, plots_dir))
        out.append(curves(curve_series, styles, plots_dir, summary.scenarios()))
        out.append(histories(history_series, styles, plots_dir, summary.scenarios()))
        out += [noise_sweep(summary, m, styles, plots_dir) for m in NOISE_METRICS]
    return [p for p in out if p is not None]
