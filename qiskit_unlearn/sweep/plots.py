"""Figures of a noise sweep: metrics against noise strength, and per-device bars.

One figure per noise family and placement: rows are metrics, columns are scenarios, one line
per method (mean over seeds, ± std band), starting at the shared exact reference. Settings
without a strength (fake devices, explicit settings without ``level``) get grouped bars next
to the reference instead. Colours, markers and layouts are the run report's
(:mod:`qiskit_unlearn.report.style`), so a method looks the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from qiskit_unlearn.report.style import (
    STYLE,
    Plot,
    Styles,
    dodge,
    draw_bars,
    label_metric_grid,
    metric_grid,
    metric_line,
    metric_y_axis,
    save_figure,
    wrapped_title,
)
from qiskit_unlearn.report.tables import Group, Summary
from qiskit_unlearn.sweep.grid import REFERENCE

LINE_METRICS = ("forget_accuracy", "retain_accuracy", "test_accuracy", "uqi", "mia_auc",
                "js_test")
WHERE_TEXT = {"eval": "exact training, noisy evaluation",
              "train": "noisy training and unlearning, exact evaluation",
              "both": "noisy training, unlearning and evaluation"}
MITIGATION_TEXT = {"zne": "zero-noise extrapolation", "readout": "readout mitigation",
                   "zne+readout": "zero-noise extrapolation and readout mitigation"}


def where_text(where: str) -> str:
    """A placement in words (``eval+zne``: its placement, then the mitigation)."""
    base, _, mitigation = where.partition("+")
    text = WHERE_TEXT.get(base, base)
    return f"{text}, {MITIGATION_TEXT.get(mitigation, mitigation)}" if mitigation else text
KIND_TEXT = {"depolarizing": ("Depolarizing noise", "2-qubit depolarizing rate"),
             "readout": ("Readout error", "readout flip probability"),
             "thermal": ("Thermal relaxation", "T1 = T2 (µs); shorter to the right"),
             "shots": ("Shot noise", "shots; spacing ∝ 1/√shots")}
COMPARE_METRICS = ("forget_accuracy", "test_accuracy", "mia_auc", "js_test", "js_retain")
LINESTYLES = {"eval": "-", "both": "--", "train": ":"}
MITIGATION_STYLES = {"zne": "-.", "readout": ":", "zne+readout": (0, (5, 1, 1, 1, 1, 1))}


def linestyle_of(where: str) -> Any:
    """A placement's line style; mitigated placements by their mitigation (a mitigation
    figure shows one base placement, so those styles do not collide)."""
    base, _, mitigation = where.partition("+")
    return MITIGATION_STYLES.get(mitigation, "-.") if mitigation else LINESTYLES.get(base, "-")
SECTION = "Noise"


def where_of(g: Group) -> str:
    return g.key.get("noise_where", "")


def kind_of(g: Group) -> str:
    return g.key.get("noise_kind", "")


def level_of(g: Group) -> float:
    return g.stat("noise_level").mean


def is_reference(g: Group) -> bool:
    return kind_of(g) == REFERENCE


def placements(summary: Summary) -> list[str]:
    """Placements in the results' order, the reference's ``nowhere`` left out."""
    return list(dict.fromkeys(where_of(g) for g in summary.groups if not is_reference(g)))


def line_kinds(summary: Summary, where: str) -> list[str]:
    """Families at ``where`` whose settings have a strength."""
    return list(dict.fromkeys(kind_of(g) for g in summary.groups if where_of(g) == where
                              and not is_reference(g) and math.isfinite(level_of(g))))


def tick_label(kind: str, level: float) -> str:
    if level == 0:
        return "∞" if kind == "thermal" else "exact" if kind == "shots" else "0"
    if kind == "shots":
        return f"{round(1 / level**2):d}"
    if kind == "thermal":
        return f"{1 / level:.3g}"  # the level is 1/T1 in 1/µs
    return f"{level:g}"


def level_text(kind: str, level: float) -> str:
    """A level in the family's own terms, e.g. ``p = 0.01``, ``T1 = 20 µs``, ``256 shots``."""
    text = tick_label(kind, level)
    return {"thermal": f"T1 = {text} µs", "shots": f"{text} shots", "depolarizing": f"p = {text}",
            "readout": f"p = {text}"}.get(kind, f"level {text}")


def _x_axis(ax: Axes, kind: str, levels: Sequence[float]) -> None:
    """Ticks at the measured levels; a symlog scale when they span more than a decade."""
    nonzero = [v for v in levels if v > 0]
    if nonzero and max(nonzero) / min(nonzero) > 10:
        ax.set_xscale("symlog", linthresh=min(nonzero), linscale=0.6)
    ax.set_xticks(list(levels), [tick_label(kind, v) for v in levels])
    ax.minorticks_off()
    if len(levels) > 4:
        ax.tick_params(axis="x", labelrotation=45)


def _metrics(summary: Summary) -> list[str]:
    js = "js_test" if summary.has("js_test") else "js_retain"
    return [m if m != "js_test" else js for m in LINE_METRICS if summary.has(
        m if m != "js_test" else js)]


def _lines(ax: Axes, groups: Sequence[Group], labels: Sequence[str], scenario: str,
           metric: str, styles: Styles, *, linestyle: str = "-", band: bool = True) -> None:
    """One line per method label over the groups' levels (± std band)."""
    for lab in labels:
        metric_line(ax, groups, scenario, lab, metric, level_of, styles, linewidth=1.2,
                    markersize=(7, 4), band_alpha=0.1 if band else None, linestyle=linestyle)


def _family_groups(summary: Summary, where: str, kind: str) -> list[Group]:
    """The reference and the family's settings with a strength at ``where``."""
    return [g for g in summary.groups if is_reference(g) or (
        where_of(g) == where and kind_of(g) == kind and math.isfinite(level_of(g)))]


def line_figure(summary: Summary, where: str, kind: str, styles: Styles, plots_dir: Path,
                chance: float | None = None) -> Plot | None:
    """Metrics against the strength of one family at one placement, from the exact reference."""
    groups = _family_groups(summary, where, kind)
    levels = sorted({level_of(g) for g in groups})
    metrics, scenarios = _metrics(summary), summary.scenarios()
    if len(levels) < 2 or not metrics:
        return None
    labels = [lab for lab in summary.labels() if any(g.label == lab for g in groups)]
    fig, axes = metric_grid(len(metrics), len(scenarios), (3.1, 1.9))
    seeds = max(g.n_seeds for g in groups)
    for c, scenario in enumerate(scenarios):
        for r, metric in enumerate(metrics):
            ax = axes[r, c]
            _lines(ax, groups, labels, scenario, metric, styles)
            _panel_axes(ax, kind, levels, metric, chance, bottom=r == len(metrics) - 1)
    label_metric_grid(fig, axes, labels, styles, scenarios, metrics, chance, line=True)
    title = KIND_TEXT.get(kind, (f"{kind} noise",))[0]
    wrapped_title(fig, f"{title} · {where_text(where)} (mean ± std over {seeds} seeds)")
    name = f"{where}_{kind}.png"
    file = save_figure(fig, plots_dir, name)
    caption = (f"{title} with {where_text(where)}: each metric against the noise "
               "strength, from the exact reference (left); one line per method, shaded ± std "
               "over seeds. Dotted: MIA chance (0.5); dashed: chance accuracy.")
    return Plot(file, SECTION, f"{title} ({where})", caption)


def _panel_axes(ax: Axes, kind: str, levels: Sequence[float], metric: str, chance: float | None,
                *, bottom: bool) -> None:
    """Noise-strength x axis, metric y axis and grid of one panel; x label on the bottom row."""
    _x_axis(ax, kind, levels)
    metric_y_axis(ax, metric, chance)
    ax.grid(alpha=0.3)
    if bottom:
        ax.set_xlabel(KIND_TEXT.get(kind, ("", f"{kind} level"))[1])


def compare_figure(summary: Summary, kind: str, styles: Styles, plots_dir: Path,
                   chance: float | None = None, base: str | None = None) -> Plot | None:
    """One family at several placements on shared axes (line style = placement).

    Without ``base``: the unmitigated placements (eval, both, train) — does noise act
    differently when the model is trained and unlearned under it? With ``base``: that
    placement and its mitigated twins (``eval``, ``eval+zne``, …) — does mitigation bring the
    metrics back to the exact reference (level 0)?
    """
    wheres = [w for w in placements(summary) if kind in line_kinds(summary, w)
              and (("+" not in w) if base is None else (w == base or
                                                        w.startswith(f"{base}+")))]
    metrics = [m for m in _metrics(summary) if m in COMPARE_METRICS]
    if len(wheres) < 2 or not metrics:
        return None
    scenarios = summary.scenarios()
    per_where = {w: _family_groups(summary, w, kind) for w in wheres}
    levels = sorted({level_of(g) for gs in per_where.values() for g in gs})
    labels = [lab for lab in summary.labels()
              if any(g.label == lab for gs in per_where.values() for g in gs)]
    fig, axes = metric_grid(len(metrics), len(scenarios), (3.3, 2.0))
    for c, scenario in enumerate(scenarios):
        for r, metric in enumerate(metrics):
            ax = axes[r, c]
            for w in wheres:
                _lines(ax, per_where[w], labels, scenario, metric, styles,
                       linestyle=linestyle_of(w), band=False)
            _panel_axes(ax, kind, levels, metric, chance, bottom=r == len(metrics) - 1)
    extra = [(Line2D([], [], color="0.3", linestyle=linestyle_of(w)), f"noise: {w}")
             for w in wheres]
    label_metric_grid(fig, axes, labels, styles, scenarios, metrics, chance, line=True,
                      extra=extra)
    title = KIND_TEXT.get(kind, (f"{kind} noise",))[0]
    if base is None:
        wrapped_title(fig, f"{title}: where the noise acts ({', '.join(wheres)}; "
                           "means over seeds)")
        name = f"compare_{kind}.png"
        caption = (f"{title} at each placement on shared axes (solid: eval, dashed: both, "
                   "dotted: train; means over seeds, bands omitted): the gap between line "
                   "styles is the effect of training and unlearning under the noise.")
        heading = f"{title}: eval vs both/train"
    else:
        wrapped_title(fig, f"{title}: mitigation ({', '.join(wheres)}; means over seeds)")
        name = f"mitigation_{base}_{kind}.png"
        caption = (f"{title} with {where_text(base)}, unmitigated (solid) and mitigated "
                   "(dash-dot: zero-noise extrapolation, dotted: readout mitigation); a "
                   "mitigated line back at its level-0 value means mitigation undid the "
                   "noise's effect on that metric.")
        heading = f"{title}: mitigation ({base})"
    file = save_figure(fig, plots_dir, name)
    return Plot(file, SECTION, heading, caption)


def bar_figure(summary: Summary, where: str, styles: Styles, plots_dir: Path,
               chance: float | None = None) -> Plot | None:
    """Grouped bars for settings without a strength (devices), next to the exact reference."""
    cats = [REFERENCE, *dict.fromkeys(
        g.noise for g in summary.groups if where_of(g) == where and not is_reference(g)
        and not math.isfinite(level_of(g)))]
    metrics, scenarios = _metrics(summary), summary.scenarios()
    if len(cats) < 2 or not metrics:
        return None
    groups = {(g.noise, g.scenario, g.label): g for g in summary.groups
              if g.noise in cats and (is_reference(g) or where_of(g) == where)}
    labels = [lab for lab in summary.labels() if any(k[2] == lab for k in groups)]
    width = 0.8 / len(labels)
    fig, axes = metric_grid(len(metrics), len(scenarios),
                            (max(3.2, len(cats) * (0.14 * len(labels) + 0.35)), 1.9))
    seeds = max(g.n_seeds for g in groups.values())
    for c, scenario in enumerate(scenarios):
        for r, metric in enumerate(metrics):
            ax = axes[r, c]
            for j, lab in enumerate(labels):
                s = styles.style(lab)
                xs, hs, es = [], [], []
                for i, cat in enumerate(cats):
                    g = groups.get((cat, scenario, lab))
                    if g is not None and math.isfinite(g.stat(metric).mean):
                        xs.append(i + dodge(j, len(labels), width))
                        hs.append(g.stat(metric).mean)
                        es.append(g.stat(metric).std)
                draw_bars(ax, xs, hs, es, s, width, linewidth=0.4, capsize=1.5,
                          elinewidth=0.7)
            ax.set_xticks(range(len(cats)), [c.removeprefix("device-") for c in cats])
            metric_y_axis(ax, metric, chance)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
    label_metric_grid(fig, axes, labels, styles, scenarios, metrics, chance, line=False)
    wrapped_title(fig, f"Device noise models · {where_text(where)} "
                       f"(mean ± std over {seeds} seeds)")
    name = f"{where}_devices.png"
    file = save_figure(fig, plots_dir, name)
    caption = (f"Noise models of fake IBM devices with {where_text(where)}, next "
               "to the exact reference: bars are means over seeds, whiskers ± std.")
    return Plot(file, SECTION, f"Devices ({where})", caption)


def write_sweep_plots(out_dir: Path, summary: Summary, chance: float | None = None,
                      sub: str = "") -> list[Plot]:
    """Every line and bar figure the sweep's results support, into ``out_dir/plots`` (or its
    folder ``sub``: one grid point's noise figures)."""
    plots_dir = Path(out_dir) / "plots" / sub if sub else Path(out_dir) / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for old in plots_dir.glob("*.png"):
        old.unlink()
    styles = Styles(summary.groups)
    out: list[Plot | None] = []
    with mpl.rc_context(STYLE):
        for where in placements(summary):
            out += [line_figure(summary, where, kind, styles, plots_dir, chance)
                    for kind in line_kinds(summary, where)]
            out.append(bar_figure(summary, where, styles, plots_dir, chance))
        kinds = dict.fromkeys(k for w in placements(summary) for k in line_kinds(summary, w))
        out += [compare_figure(summary, kind, styles, plots_dir, chance) for kind in kinds]
        bases = dict.fromkeys(w.partition("+")[0] for w in placements(summary) if "+" in w)
        out += [compare_figure(summary, kind, styles, plots_dir, chance, base)
                for base in bases for kind in kinds]
    return [p for p in out if p is not None]
