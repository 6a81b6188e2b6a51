"""Reports of a finished run: ``summary.csv``, ``ranking.csv``, ``plots/*.png`` and
``report.md``.

Everything is rebuilt from the run directory's files (``results.csv``, ``manifest.json`` and
the optional curves, histories, forgetting-quality, memorisation and landscape files), so a
report can be regenerated or restyled at any time without re-running an experiment. Report
files are derived: they are not indexed in the manifest and are rewritten (atomically) by
every ``qunlearn report``; the run's own result files are only read.
"""

from __future__ import annotations

from pathlib import Path

from qiskit_unlearn.report.inputs import (
    ReportError,
    Table,
    load_curves,
    load_histories,
    load_manifest,
    load_optional_table,
    load_results,
)
from qiskit_unlearn.report.markdown import experiment_name, render
from qiskit_unlearn.report.ranking import build_rankings, write_ranking_csv
from qiskit_unlearn.report.tables import Group, Stat, Summary, summarize, write_summary_csv
from qiskit_unlearn.storage import write_atomic

__all__ = ["Group", "ReportError", "Stat", "Summary", "Table", "load_results", "summarize",
           "write_report"]


def _inherit_labels(table: Table, results: Table) -> None:
    """Copy ``variant``/``faithful`` from the results where a method has one value of them, so
    a method keeps its label and colour in the forgetting-quality table and figure."""
    for column in ("variant", "faithful"):
        if column in table.columns or column not in results.columns:
            continue
        values: dict[str, set[str]] = {}
        for r in results.rows:
            values.setdefault(r.get("method", ""), set()).add(r[column])
        table.columns.append(column)
        for r in table.rows:
            found = values.get(r.get("method", ""), set())
            r[column] = next(iter(found)) if len(found) == 1 else ""


def _optional_summary(table: Table | None, keys: tuple[str, ...],
                      results: Table | None = None) -> Summary | None:
    if table is None:
        return None
    if results is not None:
        _inherit_labels(table, results)
    summary = summarize(table, keys)
    return summary if summary.metrics and summary.groups else None


def write_report(run_dir: str | Path) -> Path:
    """Write ``summary.csv``, ``ranking.csv``, ``plots/`` and ``report.md`` into ``run_dir``.

    Optional inputs (curves, histories, ``forgetting_quality.csv``, ``landscape.csv``,
    ``memorisation.csv``) add their sections and figures when present; damaged optional files
    are skipped with a logged warning. Every file is rewritten atomically, so the report can be
    rebuilt at any time.

    Args:
        run_dir: A finished (or partly finished) run directory.

    Returns:
        The path of ``report.md``.

    Raises:
        ReportError: If ``run_dir`` has no ``results.csv``, or it has no rows (run
            ``qunlearn run``).
        qiskit_unlearn.errors.RunDirError: If the run's ``config.json`` no longer matches its
            manifest.
        qiskit_unlearn.storage.FileError: If ``results.csv`` differs from the digest the
            manifest recorded.
    """
    from qiskit_unlearn.report.plots import write_plots  # matplotlib only when drawing
    from qiskit_unlearn.run.rundir import check_record

    run_dir = Path(run_dir)
    check_record(run_dir)  # a run's config.json must still be the one it was made with
    table = load_results(run_dir)
    manifest = load_manifest(run_dir)
    summary = summarize(table)
    write_summary_csv(summary, run_dir / "summary.csv")
    rankings = build_rankings(table)
    write_ranking_csv(rankings, run_dir / "ranking.csv")
    quality = _optional_summary(load_optional_table(run_dir / "forgetting_quality.csv"),
                                ("scenario", "method", "variant", "faithful"), table)
    landscape = _optional_summary(load_optional_table(run_dir / "landscape.csv"),
                                  ("scenario", "model", "split"))
    memorisation = _optional_summary(load_optional_table(run_dir / "memorisation.csv"),
                                     ("scenario",))
    plots = write_plots(run_dir, summary, load_curves(run_dir), load_histories(run_dir),
                        quality)
    text = render(manifest, summary, plots,
                  experiment=experiment_name(manifest, table.unique("experiment"), run_dir),
                  n_rows=len(table.rows), quality=quality, landscape=landscape,
                  rankings=rankings, memorisation=memorisation)
    path = run_dir / "report.md"
    write_atomic(path, text)
    return path
