"""``qunlearn track RUN_DIR``: log a finished run or sweep folder to an experiment tracker.

For a run finished without ``--track``, or whose logging failed (the run is saved either way):
the folder is only read, and one already logged is skipped, so retrying is always safe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qiskit_unlearn.cli import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="finished run or sweep folder (written by 'qunlearn run' or "
                             "'qunlearn sweep')")
    options.add_tracking_options(parser, default="mlflow")


def run_from_args(args: argparse.Namespace) -> int:
    tracker = options.tracker_from_args(args)
    options.track_finished(args, tracker, args.run_dir, options.echo, just_finished=False)
    return 0
