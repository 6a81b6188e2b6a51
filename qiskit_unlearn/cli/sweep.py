"""``qunlearn sweep CONFIG``: repeat an experiment over the noise settings of its ``[sweep]``
and the config values of its ``[sweep.grid]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from qiskit_unlearn.cli import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_experiment_options(
        parser, config_help="TOML experiment config with a [sweep] section: noise settings "
                            "and/or a [sweep.grid] of config values (see experiments/"
                            "noise-iris.toml, experiments/hqml-depth-entanglement.toml)",
        out_help="sweep folder (default: runs/<experiment name>-sweep); re-running into it "
                 "skips finished settings and grid points",
        no_cache_help="keep trained models in OUT/models only (runs still share them)")
    parser.add_argument("--no-run-reports", action="store_true",
                        help="skip each setting's own report.md (the sweep report is written)")
    options.add_tracking_options(parser)


def run_from_args(args: argparse.Namespace) -> int:
    tracker = options.tracker_from_args(args)  # a missing package fails at once
    from qiskit_unlearn.sweep.run import run_sweep

    cfg, cache = options.load_experiment(args)
    out = args.out or Path("runs") / f"{cfg['experiment']['name']}-sweep"
    run_sweep(cfg, out, cache_dir=cache, progress=options.show_progress(args),
              executor=options.executor_from_args(args),
              run_reports=not args.no_run_reports, echo=options.echo)
    print(f"results: {out / 'results.csv'}  report: {out / 'report.md'}  "
          f"figures: {out / 'plots'}", flush=True)
    if tracker is not None:
        options.track_finished(args, tracker, out, options.echo)
    return 0
