"""``qunlearn report RUN_DIR``: rebuild a finished run's summary, figures and Markdown report."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="run directory written by 'qunlearn run' (holds results.csv)")


def run_from_args(args: argparse.Namespace) -> int:
    from qiskit_unlearn.locks import RunLock
    from qiskit_unlearn.report import ReportError, write_report

    if not args.run_dir.is_dir():
        raise ReportError(f"{args.run_dir} is not a folder; pass a run directory written by "
                          "'qunlearn run'")
    with RunLock(args.run_dir, "qunlearn report"):  # errors go to the CLI's one handler
        path = write_report(args.run_dir)
    print(f"report: {path}")
    print(f"summary: {path.parent / 'summary.csv'}, figures: {path.parent / 'plots'}")
    return 0
