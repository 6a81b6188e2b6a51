"""Command-line options shared by the commands that run an experiment config (run, sweep) and
log finished runs to a tracker (run, sweep, track)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
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


def echo(line: str) -> None:
    """Print a line at once (flushed: it must precede a long step, or an error, in logs)."""
    print(line, flush=True)


def add_tracking_options(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """--track, --tracking-uri and --experiment (``default``: the tracker used without
    --track; None means no tracking unless asked)."""
    from qiskit_unlearn.tracking import TRACKERS  # the registry only; no tracking package

    group = parser.add_argument_group(
        "tracking", "log the finished run to an experiment tracker (the run directory itself "
                    "is never changed; 'qunlearn track RUN_DIR' logs it later or retries)")
    group.add_argument("--track", metavar="TRACKER", default=default,
                       help=f"tracker to log to: {', '.join(TRACKERS.names())}"
                            + (f"; default {default}" if default else "")
                            + "; each needs its extra, e.g. pip install -e \".[mlflow]\"")
    group.add_argument("--tracking-uri", metavar="URI", default=None,
                       help="where to log (default: $MLFLOW_TRACKING_URI, else "
                            "sqlite:///mlruns/mlflow.db in the current folder)")
    group.add_argument("--experiment", metavar="NAME", default=None,
                       help="experiment to log into (default: the config's experiment name)")


def tracker_from_args(args: argparse.Namespace) -> Any:
    """The tracker ``--track`` asks for (None without it), checked now: a missing package or a
    malformed URI must fail before any training, not after it.

    Args:
        args: Parsed options of a command with :func:`add_tracking_options`.

    Returns:
        The checked tracker, or None when no tracking was asked for.

    Raises:
        TrackingError: Unknown tracker (the choices listed), package missing (the install
            command), unusable URI, or --tracking-uri / --experiment without --track.
    """
    from qiskit_unlearn.tracking import TrackingError, make_tracker

    if args.track is None:
        given = [o for o, v in (("--tracking-uri", args.tracking_uri),
                                ("--experiment", args.experiment)) if v is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise TrackingError(f"{' and '.join(given)} {verb} only with --track; add "
                                "--track mlflow")
        return None
    tracker = make_tracker(args.track, uri=args.tracking_uri, experiment=args.experiment)
    tracker.check()
    return tracker


def retry_command(args: argparse.Namespace, directory: Path) -> str:
    """The ``qunlearn track`` command that logs ``directory`` with the same options
    (credentials in the URI redacted)."""
    import shlex

    from qiskit_unlearn.tracking import redact

    parts = ["qunlearn", "track", str(directory), "--track", args.track]
    if args.tracking_uri is not None:
        parts += ["--tracking-uri", redact(args.tracking_uri)]
    if args.experiment is not None:
        parts += ["--experiment", args.experiment]
    return shlex.join(parts)


def track_finished(args: argparse.Namespace, tracker: Any, directory: Path,
                   echo: Callable[[str], Any], *, just_finished: bool = True) -> None:
    """Log a finished run or sweep folder; a logging failure says the results are safe where
    they are and how to retry.

    Args:
        args: The command's options (for the retry command).
        tracker: From :func:`tracker_from_args`.
        directory: The finished run or sweep folder.
        echo: Receives the tracker's lines.
        just_finished: The command has just produced the folder (the message says so).

    Raises:
        TrackingError: Logging failed (one line: where the results are, the cause, the retry).
        RunDirError: The folder is not a finished run or sweep.
    """
    from qiskit_unlearn.tracking import TrackingError, read_directory

    tracked = read_directory(directory)
    try:
        tracker.log(tracked, echo)
    except TrackingError as exc:
        failed = f"logging it to {tracker.name} ({tracker.describe()}) failed: {exc}"
        text = (f"the {tracked.kind} finished and is saved in {directory}, but {failed}"
                if just_finished else f"nothing in {directory} was changed, but {failed}")
        raise TrackingError(f"{text}; retry with: {retry_command(args, directory)}") from exc
