"""The look shared by every figure: palette, metric names, figure layouts and drawing helpers.

Run reports (:mod:`qiskit_unlearn.report.plots`) and sweep figures (:mod:`qiskit_unlearn.sweep`)
draw through this module, so a method keeps one colour and marker, a metric one name and one
axis, and a mean ± spread one look in every figure. Every method keeps its colour and marker in
all figures (Okabe–Ito palette, readable with colour-vision deficiencies); the oracle
``retrain`` is always black and the teacher ``original`` grey.

Figures are built on :class:`matplotlib.figure.Figure` and rendered with the Agg canvas instead
of pyplot, so drawing never switches the caller's backend and leaves no open figures behind.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qiskit_unlearn.report.tables import ORACLE, ORIGINAL, method_label
from qiskit_unlearn.storage import write_bytes_atomic

if TYPE_CHECKING:
    from qiskit_unlearn.report.tables import Group

DPI = 150
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
MARKERS = "osD^vP<>h"
HATCHES = ("", "//", "..", "xx")
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "legend.title_fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
         "figure.titlesize": 11, "axes.spines.top": False, "axes.spines.right": False,
         "savefig.facecolor": "white"}

# metric -> (axis label, what the figure shows: one sentence for the report)
METRICS: dict[str, tuple[str, str]] = {
    "forget_accuracy": ("Forget accuracy",
                        "Accuracy on the forget set: good unlearning lands near the oracle "
                        "(retrain), which never saw these samples."),
    "retain_accuracy": ("Retain accuracy",
                        "Accuracy on the retained training data, which unlearning should "
                        "preserve."),
    "test_accuracy": ("Test accuracy",
                      "Accuracy on the held-out test split: the utility left after unlearning."),
    "uqi": ("UQI", "The unlearning quality index of each method, as computed by the metrics "
                   "module."),
    "mia_auc": ("MIA AUC", "AUC of a membership-inference attack telling forget samples from "
                           "unseen ones; 0.5 (dotted) means it cannot tell them apart."),
    "mia_loss_auc": ("MIA AUC (loss attack)",
                     "AUC of a loss-threshold membership-inference attack on the forget set; "
                     "0.5 (dotted) is chance."),
    "mia_efficacy": ("MIA efficacy", "Share of forget samples a membership-inference attack "
                                     "classifies as non-members; higher means more forgotten."),
    "oracle_gap": ("Oracle gap", "Distance of each method from the retrained oracle; 0 means it "
                                 "behaves like retraining from scratch."),
    "js_test": ("JS divergence to oracle (test)",
                "Jensen–Shannon divergence between the method's and the oracle's predicted "
                "class distributions on the test split; 0 = identical predictions."),
    "js_retain": ("JS divergence to oracle (retain)",
                  "Jensen–Shannon divergence between the method's and the oracle's predicted "
                  "class distributions on the retain set; 0 = identical predictions."),
    "rte": ("RTE (retrain time / method time)",
            "Run-time efficiency: how many times faster than retraining from scratch the "
            "method is; above 1 (dotted) is faster."),
    "forgetting_quality": ("Forgetting quality",
                           "Forgetting quality per method: how hard unlearned models are to "
                           "tell from retrained ones (higher is closer to retraining)."),
}
UNIT_INTERVAL = {"forget_accuracy", "retain_accuracy", "test_accuracy", "val_accuracy",
                 "mia_auc", "mia_loss_auc", "mia_efficacy", "agreement_retain",
                 "agreement_test", "forgetting_quality"}
REFERENCE_LINES = {"mia_auc": 0.5, "mia_loss_auc": 0.5, "rte": 1.0}


def metric_name(metric: str) -> str:
    """The metric's axis label (the column name for a metric without one)."""
    return METRICS.get(metric, (metric,))[0]


def or_zero(value: float) -> float:
    """``value``, or 0 where it is NaN: a one-seed std draws no spread instead of failing."""
    return value if math.isfinite(value) else 0.0


@dataclass(frozen=True)
class Plot:
    """A written figure: its path relative to the run directory and what the report says."""

    file: str
    section: str
    title: str
    caption: str


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str
    hatch: str


class Styles:
    """One colour, marker and hatch per method label, shared by every figure of a report."""

    def __init__(self, groups: Iterable[Group]) -> None:
        self._styles: dict[str, Style] = {}
        self._labels: dict[str, str] = {}  # bare method name -> a label (curves name methods)
        for g in groups:
            self._labels.setdefault(g.method, g.label)
            self.style(g.label, g.method)
        self._labels |= {g.method: g.label for g in groups
                         if g.label == method_label(g.method)}  # the plain variant wins

    def label(self, method: str) -> str:
        return self._labels.get(method, method)

    def style(self, label: str, method: str | None = None) -> Style:
        """The label's style; a new label (``method`` defaults to the label) gets the next one."""
        if label not in self._styles:
            method = label if method is None else method
            if method == ORACLE:
                style = Style("#000000", "*", "")
            elif method == ORIGINAL:
                style = Style("#999999", "X", "")
            else:
                i = sum(1 for st in self._styles.values() if st.marker not in "*X")
                style = Style(OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)],
                              HATCHES[(i // len(OKABE_ITO)) % len(HATCHES)])
            self._styles[label] = style
        return self._styles[label]

    def handle(self, label: str, *, line: bool = False) -> Line2D:
        s = self.style(label)
        return Line2D([], [], color=s.colour, marker=None if line else s.marker,
                      linestyle="-" if line else "none", markersize=8 if s.marker == "*" else 6)


def figure(rows: int, cols: int, panel: tuple[float, float], *,
           pad: tuple[float, float] = (1.9, 0.4), sharex: bool | str = False,
           ) -> tuple[Figure, np.ndarray]:
    """A ``rows`` × ``cols`` grid of ``panel``-sized axes; ``pad`` (width, height) leaves room
    for a legend (by default one on the right) and the title."""
    fig = Figure(figsize=(cols * panel[0] + pad[0], rows * panel[1] + pad[1]),
                 layout="constrained")
    return fig, np.asarray(fig.subplots(rows, cols, squeeze=False, sharex=sharex))


def metric_grid(rows: int, cols: int, panel: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """Rows of metrics sharing each column's x axis, with room for a legend below."""
    return figure(rows, cols, panel, pad=(0.6, 1.4), sharex="col")


def wrapped_title(fig: Figure, text: str) -> None:
    """A suptitle wrapped to the figure's width (narrow one-scenario figures included)."""
    fig.suptitle(textwrap.fill(text, width=int(fig.get_figwidth() * 11)))


def side_legend(fig: Figure, labels: Sequence[str], styles: Styles, *, line: bool = False,
                extra: Sequence[tuple[Line2D, str]] = (), title: str = "method") -> None:
    """The methods' legend (then ``extra`` entries) to the right of all panels."""
    handles = [styles.handle(lab, line=line) for lab in labels] + [h for h, _ in extra]
    fig.legend(handles, list(labels) + [t for _, t in extra], loc="outside right upper",
               frameon=False, title=title)


def label_metric_grid(fig: Figure, axes: np.ndarray, labels: Sequence[str], styles: Styles,
                      columns: Sequence[str], metrics: Sequence[str], chance: float | None,
                      line: bool, extra: Sequence[tuple[Line2D, str]] = ()) -> None:
    """Column titles, one metric name per row and the methods' legend below the panels."""
    for c, title in enumerate(columns):
        axes[0, c].set_title(title)
    for r, metric in enumerate(metrics):
        axes[r, 0].set_ylabel(metric_name(metric).replace(" to oracle", "\nto oracle"))
    handles = [styles.handle(lab, line=line) for lab in labels] + [h for h, _ in extra]
    texts = list(labels) + [t for _, t in extra]
    if chance is not None:
        handles.append(Line2D([], [], color="0.5", linestyle="--", linewidth=0.8))
        texts.append("chance")
    ncol = min(len(texts), max(1, int(fig.get_figwidth() // 1.6)))
    fig.legend(handles, texts, loc="outside lower center", frameon=False, ncol=ncol)


def reference_line(ax: Axes, metric: str) -> bool:
    """A dotted line at the metric's no-effect value (MIA chance, RTE 1); False if it has none."""
    if metric not in REFERENCE_LINES:
        return False
    ax.axhline(REFERENCE_LINES[metric], color="0.3", linestyle=":", linewidth=1)
    return True


def metric_y_axis(ax: Axes, metric: str, chance: float | None) -> None:
    """A fixed [0, 1] range for accuracy-like metrics, the reference line and, for accuracies,
    a dashed chance level, so panels of one metric compare at a glance."""
    if metric in UNIT_INTERVAL:
        ax.set_ylim(-0.03, 1.05)
    reference_line(ax, metric)
    if chance is not None and metric.endswith("_accuracy"):
        ax.axhline(chance, color="0.5", linestyle="--", linewidth=0.8)


def draw_line(ax: Axes, x: np.ndarray, y: np.ndarray,
              band: tuple[np.ndarray, np.ndarray] | None = None, *, colour: str,
              linewidth: float, marker: str | None = None, markersize: float | None = None,
              linestyle: Any = "-", alpha: float = 0.15, zorder: float | None = None) -> None:
    """A line and, given ``band`` (low, high), its shaded spread; points without an x or y
    value are left out of the band."""
    ax.plot(x, y, color=colour, marker=marker, markersize=markersize, linewidth=linewidth,
            linestyle=linestyle, zorder=zorder)
    if band is not None:
        ok = np.isfinite(x) & np.isfinite(y)
        ax.fill_between(x[ok], band[0][ok], band[1][ok], color=colour, alpha=alpha,
                        linewidth=0)


def metric_line(ax: Axes, groups: Iterable[Group], scenario: str, label: str, metric: str,
                x_of: Callable[[Group], float], styles: Styles, *, linewidth: float,
                markersize: tuple[float, float], band_alpha: float | None = 0.15,
                linestyle: Any = "-") -> bool:
    """One method's mean ``metric`` in ``scenario`` against ``x_of`` of its groups, with a
    ± std band unless ``band_alpha`` is None; ``markersize`` is (oracle, others), the oracle
    drawn on top. False (and no style taken) when the method has no finite value there."""
    pts = sorted((x_of(g), g.stat(metric)) for g in groups
                 if g.scenario == scenario and g.label == label
                 and math.isfinite(g.stat(metric).mean))
    if not pts:
        return False
    x = np.array([p[0] for p in pts])
    y = np.array([p[1].mean for p in pts])
    e = np.array([or_zero(p[1].std) for p in pts])
    s = styles.style(label)
    oracle = s.marker == "*"
    draw_line(ax, x, y, None if band_alpha is None else (y - e, y + e), colour=s.colour,
              marker=s.marker, markersize=markersize[0] if oracle else markersize[1],
              linewidth=linewidth, linestyle=linestyle,
              alpha=0.15 if band_alpha is None else band_alpha, zorder=3 if oracle else 2)
    return True


def dodge(j: int, n: int, width: float) -> float:
    """Offset of the ``j``-th of ``n`` side-by-side marks ``width`` apart, centred on their
    category, so methods sit next to each other instead of on top."""
    return (j - (n - 1) / 2) * width


def draw_bars(ax: Axes, xs: Sequence[float], heights: Sequence[float],
              errors: Sequence[float], style: Style, width: float, *, linewidth: float,
              capsize: float, elinewidth: float, label: str | None = None) -> None:
    """One method's bars: its colour and hatch, black edges (hatches stay readable in grey
    print) and ± ``errors`` whiskers (NaN draws none)."""
    extra = {} if label is None else {"label": label}
    ax.bar(xs, heights, width * 0.95, yerr=errors, color=style.colour, hatch=style.hatch,
           edgecolor="black", linewidth=linewidth, capsize=capsize,
           error_kw={"elinewidth": elinewidth}, **extra)


def save_figure(fig: Figure, plots_dir: Path, name: str) -> str:
    """Render ``fig`` with Agg and write it to ``plots_dir/name`` atomically (a reader never
    sees half a PNG); returns its path from the enclosing ``plots`` folder on (``plots/...``),
    as the reports link it."""
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=DPI)
    path = Path(plots_dir) / name
    write_bytes_atomic(path, buf.getvalue())
    root = next(p for p in path.parents if p.name == "plots").parent
    return path.relative_to(root).as_posix()
