"""The report's figures of logged series: unlearning curves and the training histories.

Series are logged per seed; when every seed logged the same x values they are drawn as a mean
with a ± std band, otherwise the lowest seed alone, and the figure title says which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qiskit_unlearn.report.inputs import Series
from qiskit_unlearn.report.style import Plot, Styles, draw_line, figure, save_figure, side_legend
from qiskit_unlearn.report.tables import ORACLE, ORIGINAL, method_label


def _aggregate(runs: list[Series], x_key: str, y_key: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int | None]:
    """Mean and std over seeds when all seeds logged the same x values, else the lowest seed
    (returned as the last item, None for the mean)."""
    runs = sorted(runs, key=lambda s: s.seed)
    xs = [np.array(s.column(x_key)) for s in runs]
    ys = [np.array(s.column(y_key)) for s in runs]
    same = len(runs) > 1 and all(x.shape == xs[0].shape and np.allclose(x, xs[0], equal_nan=True)
                                 for x in xs)
    if not same:
        return xs[0], ys[0], None, runs[0].seed
    stack = np.vstack(ys)
    finite = np.isfinite(stack)
    count = finite.sum(axis=0)
    mean = np.where(finite, stack, 0).sum(axis=0) / np.maximum(count, 1)
    var = np.where(finite, (stack - mean) ** 2, 0).sum(axis=0) / np.maximum(count - 1, 1)
    return xs[0], np.where(count > 0, mean, np.nan), np.where(count > 1, np.sqrt(var), 0), None


def series_figure(series: list[Series], rows: Sequence[tuple[str, Sequence[tuple[str, str]]]],
                  x_key: str, styles: Styles, label_of: dict[str, str], title: str,
                  order: Sequence[str] = ()) -> tuple[Figure, list[str]] | None:
    """Panels (rows: quantities, columns: scenarios) of logged series, one colour per name.

    ``rows`` lists (y label, [(key, line style)]); scenarios follow ``order`` (the results'
    order), the rest alphabetically; the title notes how seeds were aggregated.
    Returns the figure and the labels drawn, or None when nothing was logged.
    """
    rows = [(ylabel, [(k, ls) for k, ls in keys if any(
        math.isfinite(v) for s in series for v in s.column(k))]) for ylabel, keys in rows]
    rows = [r for r in rows if r[1]]
    scenarios = sorted({s.scenario for s in series},
                       key=lambda sc: (order.index(sc) if sc in order else len(order), sc))
    if not rows or not scenarios:
        return None
    fig, axes = figure(len(rows), len(scenarios), (3.4, 2.4))
    notes: set[str] = set()
    drawn: list[str] = []
    names = list(dict.fromkeys(s.name for s in series))
    for c, scenario in enumerate(scenarios):
        for r, (ylabel, keys) in enumerate(rows):
            ax = axes[r, c]
            for name in names:
                runs = [s for s in series if s.scenario == scenario and s.name == name]
                if not runs:
                    continue
                colour = styles.style(label_of[name]).colour
                for key, linestyle in keys:
                    x, y, std, seed = _aggregate(runs, x_key, key)
                    if not np.isfinite(y).any():
                        continue
                    draw_line(ax, x, y, None if std is None else (y - std, y + std),
                              colour=colour, linestyle=linestyle, linewidth=1.4)
                    notes.add(f"seed {seed}" if seed is not None
                              else f"mean ± std over {len(runs)} seeds")
                    drawn.append(label_of[name])
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(scenario)
            if r == len(rows) - 1:
                ax.set_xlabel(x_key)
    if not drawn:
        return None
    fig.suptitle(f"{title}\n({'; '.join(sorted(notes))})")  # two lines: panels may be narrow
    return fig, list(dict.fromkeys(drawn))


def curves(series: list[Series], styles: Styles, plots_dir: Path, order: Sequence[str] = ()
           ) -> Plot | None:
    """Validation and forget accuracy against unlearning step, per scenario."""
    label_of = {s.name: styles.label(s.name) for s in series}
    built = series_figure(series, [("Validation accuracy", [("val_accuracy", "-")]),
                                   ("Forget accuracy", [("forget_accuracy", "-")])],
                          "step", styles, label_of, "Unlearning curves", order)
    if built is None:
        return None
    fig, drawn = built
    side_legend(fig, drawn, styles, line=True)
    caption = ("Validation and forget accuracy logged during unlearning, per method: how fast "
               "each method forgets and what it costs in validation accuracy.")
    return Plot(save_figure(fig, plots_dir, "curves.png"), "Unlearning curves",
                "Unlearning curves", caption)


def histories(series: list[Series], styles: Styles, plots_dir: Path, order: Sequence[str] = ()
              ) -> Plot | None:
    """Training loss and validation accuracy of the teacher and the oracle, per scenario."""
    label_of = {}
    for role, method in (("teacher", ORIGINAL), ("oracle", ORACLE)):
        label_of[role] = method_label(method)
        styles.style(label_of[role], method)  # the teacher grey, the oracle black
    built = series_figure(series, [("Loss", [("train_loss", "-"), ("val_loss", "--")]),
                                   ("Validation accuracy", [("val_accuracy", "-")])],
                          "epoch", styles, label_of, "Training histories", order)
    if built is None:
        return None
    fig, drawn = built
    extra = [(Line2D([], [], color="0.4", linestyle=ls), text)
             for ls, text in (("-", "train loss"), ("--", "validation loss"))]
    side_legend(fig, drawn, styles, line=True, extra=extra, title="model")
    caption = ("Training of the teacher (on all training data) and of the oracle (on the retain "
               "set only): loss and validation accuracy per epoch.")
    return Plot(save_figure(fig, plots_dir, "history.png"), "Training histories",
                "Training histories", caption)
