"""``qunlearn run CONFIG``: one experiment into one run directory, then its report (and, with
``--track``, its record in an experiment tracker)."""

from __future__ import annotations

import argparse
from pathlib import Path

from qiskit_unlearn.cli.options import (
    add_experiment_options,
    add_tracking_options,
    echo,
    executor_from_args,
    load_experiment,
    show_progress,
    track_finished,
    tracker_from_args,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_options(
        parser, config_help="TOML experiment config (see experiments/)",
        out_help="run directory (default: runs/<experiment name>); re-running into the same "
                 "directory resumes from its checkpoints",
        no_cache_help="do not read or write the cache")
    add_tracking_options(parser)


def run_from_args(args: argparse.Namespace) -> int:
    tracker = tracker_from_args(args)  # a missing package fails at once, before any training
    from qiskit_unlearn.report import write_report
    from qiskit_unlearn.run import run_experiment

    cfg, cache = load_experiment(args)
    executor = executor_from_args(args)
    out = args.out or Path("runs") / cfg["experiment"]["name"]
    run_dir = run_experiment(cfg, out, cache_dir=cache, progress=show_progress(args),
                             echo=echo, report=write_report, executor=executor)
    print(f"results: {run_dir / 'results.csv'}  report: {run_dir / 'report.md'}", flush=True)
    if tracker is not None:
        track_finished(args, tracker, run_dir, echo)
    return 0
