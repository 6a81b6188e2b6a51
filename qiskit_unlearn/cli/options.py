"""Command-line options shared by the commands that run an experiment config (run, sweep)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_experiment_options(parser: argparse.ArgumentParser, *, config_help: str,
                           out_help: str, no_cache_help: str) -> None:
    """CONFIG, --out, --set, --cache-dir, --no-cache and --no-progress."""
    parser.add_argument("config", type=Path, help=config_help)
    parser.add_argument("--out", type=Path, default=None, help=out_help)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="trained-model cache (default: ~/.cache/qiskit-unlearn/models)")
    parser.add_argument("--no-cache", action="store_true", help=no_cache_help)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    group = parser.add_argument_group(
        "execution", "where the units of work run; results are the same bytes under every "
                     "executor (each unit seeds itself from the config and uses --threads)")
    group.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="run units in N local worker processes (default 1: this process)")
    group.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local (this machine; with --jobs) or ray (a Ray cluster; needs "
                            "pip install -e \".[ray]\")")
    group.add_argument("--address", default=None,
                       help="Ray cluster to join: auto (a cluster started with 'ray start' on "
                            "this machine) or ray://HOST:PORT (default: start a local one)")
    group.add_argument("--threads", type=int, default=1, metavar="N",
                       help="torch and Numba threads of every unit (default 1; also the CPUs "
                            "each Ray task asks for)")


def executor_from_args(args: argparse.Namespace) -> Any:
    """The executor the execution options ask for (errors name the option to fix)."""
    from qiskit_unlearn.execute import make_executor

    for option in ("jobs", "threads"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option} must be >= 1, got {getattr(args, option)}")
    return make_executor(args.executor, jobs=args.jobs, threads=args.threads,
                         address=args.address)


def load_experiment(args: argparse.Namespace) -> tuple[dict[str, Any], Path | None]:
    """The validated config (with ``--set`` overrides) and the model cache to use."""
    from qiskit_unlearn.run.modelstore import default_cache_dir
    from qiskit_unlearn.sweep import load_config

    cfg = load_config(args.config, args.overrides)
    return cfg, None if args.no_cache else (args.cache_dir or default_cache_dir())


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``--no-progress`` or their stream is not a terminal (a log file
    would fill with carriage-return lines)."""
    return not args.no_progress and sys.stderr.isatty()
