"""A sweep's ``summary.csv``, ``plots/`` and ``report.md``, rebuilt from its files.

Like the run report, everything comes from ``results.csv`` (and the optional
``forgetting_quality.csv`` / ``memorisation.csv``) and ``manifest.json`` of the sweep folder, so
re-running a finished sweep (every run is skipped) restyles the report for free. With a
``[sweep.grid]``, a section per grid key (:mod:`qiskit_unlearn.sweep.gridreport`) comes first,
then each grid point's noise figures and tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qiskit_unlearn.report.inputs import IDENTITY_COLUMNS, ReportError, load_manifest, read_table
from qiskit_unlearn.report.markdown import HEADERS, stat_table
from qiskit_unlearn.report.style import Plot, Styles
from qiskit_unlearn.report.tables import Group, Summary, fmt_duration, summarize, write_summary_csv
from qiskit_unlearn.storage import write_atomic
from qiskit_unlearn.sweep.axes import GRID_COLUMN
from qiskit_unlearn.sweep.grid import REFERENCE, expand_sweep
from qiskit_unlearn.sweep.plots import (
    is_reference,
    kind_of,
    level_of,
    level_text,
    line_kinds,
    placements,
    where_of,
    where_text,
    write_sweep_plots,
)

KEYS = (GRID_COLUMN, "noise_where", "noise_kind", "noise", "scenario", "method", "variant",
        "faithful")
IDENTITY = (*IDENTITY_COLUMNS, "noise_kind", "noise_where", "noise_device", GRID_COLUMN)
FINDINGS = ("forget_accuracy", "test_accuracy", "mia_auc", "js_test")
SUMMARY = ("forget_accuracy", "retain_accuracy", "test_accuracy", "uqi", "mia_auc", "js_test")


def load_sweep_summary(out_dir: Path, grid_keys: Sequence[str] = ()) -> Summary:
    """Mean ± std over seeds per (grid point, placement, setting, scenario, method) of
    ``results.csv`` (the grid's value columns are identity, not metrics)."""
    path = Path(out_dir) / "results.csv"
    if not path.is_file():
        raise ReportError(f"{path} not found: run 'qunlearn sweep CONFIG --out {out_dir}' first")
    table = read_table(path, (*IDENTITY, *grid_keys))
    if not table.rows:
        raise ReportError(f"{path} has no result rows; re-run the sweep")
    return summarize(table, KEYS)


def _chance(out_dir: Path) -> float | None:
    """1 / number of classes, from the data record of the reference run in ``out_dir``."""
    data = load_manifest(Path(out_dir) / REFERENCE).get("data", {})
    names = next(iter(data.values()), {}).get("class_names") if isinstance(data, dict) else None
    return 1 / len(names) if isinstance(names, list) and names else None


def write_sweep_report(out_dir: str | Path) -> Path:
    """Write ``summary.csv``, ``plots/*.png`` and ``report.md`` of a sweep.

    Everything is rebuilt from the sweep folder's combined ``results.csv`` and manifest; old
    figures are deleted first.

    Args:
        out_dir: A sweep folder written by :func:`run_sweep`.

    Returns:
        The path of ``report.md``.

    Raises:
        qiskit_unlearn.report.ReportError: If the folder has no ``results.csv`` or it has no
            rows.
    """
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    grid = manifest.get("sweep", {}).get("grid") or {}
    summary = load_sweep_summary(out_dir, list(grid))
    write_summary_csv(summary, out_dir / "summary.csv")
    for old in (out_dir / "plots").rglob("*.png"):
        old.unlink()
    title = "Sweep" if grid else "Noise sweep"
    lines = [f"# {title}: {manifest.get('experiment') or out_dir.name}", ""]
    if manifest.get("description"):
        lines += [str(manifest["description"]), ""]
    lines += _facts(manifest, summary)
    if grid:
        lines += _grid_sections(out_dir, summary, grid)
    lines += _settings(manifest)
    if not grid:
        plots = write_sweep_plots(out_dir, summary, _chance(out_dir))
        lines += _findings(summary)
        lines += ["## Figures", "", *_figures(plots)]
    else:
        for label, sub in _points(summary):
            if placements(sub):
                plots = write_sweep_plots(out_dir, sub, _chance(out_dir / "grid" / label), label)
                lines += [f"## Noise at `{label}`", "", *_findings(sub, "###"),
                          *_figures(plots, "###")]
    metrics = [m for m in SUMMARY if summary.has(m)]
    lines += ["## Full summary", "", "Mean ± std over seeds; every other metric is in "
              "`summary.csv`, every row in `results.csv`.", "",
              *stat_table(summary, metrics, names={"js_test": "JS to oracle"}), ""]
    lines += _methodology(manifest.get("sweep", {}))
    path = out_dir / "report.md"
    write_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


def _figures(plots: Sequence[Plot], level: str = "##") -> list[str]:
    out = []
    for p in plots:
        out += [f"{level}# {p.title}", "", p.caption, "", f"![{p.title}]({p.file})", ""]
    return out


def _points(summary: Summary) -> list[tuple[str, Summary]]:
    """Each grid point's part of the summary (its noise runs), in grid order."""
    labels = dict.fromkeys(g.key.get(GRID_COLUMN, "") for g in summary.groups)
    return [(label, Summary(summary.keys, summary.metrics,
                            [g for g in summary.groups if g.key.get(GRID_COLUMN, "") == label]))
            for label in labels]


def _grid_sections(out_dir: Path, summary: Summary, grid: Mapping[str, Any]) -> list[str]:
    from qiskit_unlearn.sweep.gridplots import GridData, write_grid_plots
    from qiskit_unlearn.sweep.gridreport import grid_sections

    data = GridData.load(out_dir, grid)
    first = next(iter(data.points), "")
    plots = write_grid_plots(out_dir, data, Styles(summary.groups),
                             _chance(out_dir / "grid" / first))
    return grid_sections(data, plots)


def _facts(manifest: Mapping[str, Any], summary: Summary) -> list[str]:
    facts = []
    total = manifest.get("timings", {}).get("total")
    if manifest.get("started"):
        when = f"{manifest['started']} → {manifest.get('finished', '?')}"
        if isinstance(total, (int, float)):
            when += f" ({fmt_duration(float(total))} wall time, {manifest.get('jobs', 1)} " \
                    f"job(s) on {manifest.get('cpu_count', '?')} CPU cores)"
        facts.append(("Run", when))
    if manifest.get("seeds"):
        facts.append(("Seeds", ", ".join(map(str, manifest["seeds"]))))
    facts.append(("Scenarios", ", ".join(summary.scenarios())))
    facts.append(("Methods", ", ".join(summary.labels())))
    if placements(summary):
        facts.append(("Placements", "; ".join(f"`{w}`: {where_text(w)}"
                                              for w in placements(summary))))
    grid = manifest.get("sweep", {}).get("grid") or {}
    if grid:
        n = math.prod(len(v) for v in grid.values())
        facts.append(("Grid", f"{n} points: " + " × ".join(
            f"`{k}` ({', '.join(map(str, v))})" for k, v in grid.items())))
    versions = manifest.get("versions")
    if isinstance(versions, dict):
        facts.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    layout = "`grid/<point>/exact/`, `grid/<point>/<where>/<setting>/`" if grid else \
        "`exact/`, `<where>/<setting>/`"
    facts.append(("Data", "`results.csv` (one row per " + ("grid point × " if grid else "")
                  + "setting × method × scenario × seed, with the " + (
                      "grid and " if grid else "") + "noise columns), `summary.csv` (mean and "
                  f"std over seeds), one ordinary run directory per setting ({layout}, each "
                  "with its own `report.md`)"))
    return [*(f"- **{k}:** {v}" for k, v in facts), ""]


def _settings(manifest: Mapping[str, Any]) -> list[str]:
    runs = manifest.get("runs", [])
    if not runs:
        return []
    rows = []
    for r in runs:
        backend = r.get("backend") or r.get("trained_on") or {}
        level = r.get("level")
        rows.append([f"`{r['dir']}`", r["where"], r["kind"],
                     "—" if not isinstance(level, (int, float)) or math.isnan(level)
                     else f"{level:g}",
                     ", ".join(f"{k}={v}" for k, v in backend.items() if k != "seed"),
                     r.get("shots") or "exact",
                     f"{r['precision']:.4g}" if r.get("precision") else "0",
                     fmt_duration(float(r.get("seconds", math.nan))), r.get("status", "")])
    header = ["Run", "Where", "Family", "Level", "Backend", "Shots", "Precision", "Time",
              "Status"]
    return ["## Settings", "",
            "Level: 2-qubit depolarizing rate, readout flip probability, 1/T1 (1/µs) or "
            "1/√shots. Precision is the standard error of one estimated expectation "
            "(1/√shots); 0 = exact. Time is wall time; `skipped` runs were finished earlier.",
            "", *_table(header, rows), ""]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
                  for row in rows]


def _mean(g: Group | None, metric: str) -> str:
    value = g.stat(metric).mean if g is not None else math.nan
    return "—" if math.isnan(value) else f"{value:.3f}"


def _findings(summary: Summary, level: str = "##") -> list[str]:
    """Per placement and family: each headline metric at the reference → strongest level."""
    metrics = [m for m in FINDINGS if summary.has(m)]
    ref = {(g.scenario, g.label): g for g in summary.groups if is_reference(g)}
    out = [f"{level} Exact → strongest noise", "",
           "Mean over seeds at the exact reference and at the family's strongest level "
           "(figures below show every level).", ""]
    header = ["Scenario", "Method", *(HEADERS.get(m, m) if m != "js_test" else "JS to oracle"
                                      for m in metrics)]
    for where in placements(summary):
        for kind in line_kinds(summary, where):
            groups = [g for g in summary.groups if where_of(g) == where and kind_of(g) == kind
                      and math.isfinite(level_of(g))]
            top = max(level_of(g) for g in groups)
            strong = {(g.scenario, g.label): g for g in groups if level_of(g) == top}
            rows = [[sc, lab, *(f"{_mean(ref.get((sc, lab)), m)} → {_mean(g, m)}"
                               for m in metrics)] for (sc, lab), g in strong.items()]
            out += [f"{level}# {kind}, `{where}`: exact → {level_text(kind, top)}", "",
                    *_table(header, rows), ""]
        devices = list(dict.fromkeys(g.noise for g in summary.groups if where_of(g) == where
                                     and not math.isfinite(level_of(g))))
        if devices:
            pick = [m for m in ("forget_accuracy", "mia_auc") if m in metrics]
            cells = {(g.noise, g.scenario, g.label): g for g in summary.groups
                     if g.noise in devices and where_of(g) == where}
            rows = [[sc, lab, " / ".join(_mean(ref[(sc, lab)], m) for m in pick),
                     *(" / ".join(_mean(cells.get((d, sc, lab)), m) for m in pick)
                       for d in devices)] for sc, lab in ref]
            names = " / ".join(HEADERS.get(m, m) for m in pick)
            out += [f"{level}# devices, `{where}` ({names})", "",
                    *_table(["Scenario", "Method", REFERENCE, *devices], rows), ""]
    return out


def _methodology(sweep: Mapping[str, Any]) -> list[str]:
    grid = [] if not sweep.get("grid") else [
        "- **Grid.** Each grid point is the config with the point's values set (as `--set` "
        "would; every point was validated before the sweep started) and runs the whole noise "
        "plan in `grid/<point>/`. Grid figures and tables compare the points' exact reference "
        "runs: mean and 95 % percentile-bootstrap interval of the mean over seeds (10,000 "
        "resamples, fixed seed; no interval with one seed). Different points never share a "
        "trained model unless it is the same model (the cache keys on the model, data and "
        "training settings)."]
    try:
        noisy = bool(expand_sweep(sweep))
    except (KeyError, TypeError, ValueError):  # an older or hand-edited manifest
        noisy = True
    if not noisy:
        return ["## Methodology", "", *grid,
                "- **Seeds.** Mean ± sample standard deviation over the experiment's seeds in "
                "`summary.csv`.", "",
                "Rebuild this report by re-running the sweep command: finished runs are "
                "skipped.", ""]
    ratio = sweep.get("depolarizing_1q_ratio", 0.1)
    t2 = sweep.get("thermal_t2_ratio", 1.0)
    shots = sweep.get("noise_shots", 0)
    estimate = (f"sampled with {shots} shots per measured Pauli group" if shots else
                "exact noisy expectation values (Aer density matrix; readout error folded "
                "into the observables)")
    return [
        "## Methodology", "", *grid,
        "- **Placement.** `train`: teacher, oracle and every unlearning method run on the "
        "noisy backend, metrics on the exact one. `eval`: models are trained and unlearned "
        "exactly (the same models as the reference run, reused) and evaluated on the noisy "
        "backend, attacker included. `both`: noise everywhere.",
        f"- **Estimation.** Gate and readout noise: {estimate}. Shot-noise settings sample "
        "each measured Pauli group with the stated number of shots on a noiseless Aer "
        "simulator (standard error ≤ precision = 1/√shots). Device settings use "
        "`NoiseModel.from_backend` of the fake IBM device and its transpiled circuit.",
        f"- **Levels.** Depolarizing: the 2-qubit rate p on every 2-qubit gate, {ratio:g}·p on "
        f"every 1-qubit gate. Readout: symmetric flip probability. Thermal: T1 with T2 = "
        f"{t2:g}·T1 on every gate (gate times 50 ns / 300 ns unless set).",
        "- **Reference.** The config's exact `[backend]` is run once and is the zero point of "
        "every family.",
        "- **Seeds.** Mean ± sample standard deviation over the experiment's seeds.",
        "", "Rebuild this report by re-running the sweep command: finished runs are skipped.",
        "",
    ]
