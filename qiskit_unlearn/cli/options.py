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
