"""``qunlearn``: the command-line entry point.

Subcommands register themselves in :data:`COMMANDS` (name → (help, add_arguments, run)) so
new ones slot in without touching the dispatcher.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qiskit_unlearn import __version__
from qiskit_unlearn.cli.options import add_experiment_options, load_experiment, show_progress

DEFAULT_CIRCUITS_DIR = Path("circuits")


def _circuits_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = sub.add_parser("export", help="write circuits/<name>.qasm for every catalogue entry",
                         description="Write the reference ansatz instances as OpenQASM 3 files.")
    exp.add_argument("--out", type=Path, default=DEFAULT_CIRCUITS_DIR,
                     help="output directory (default: ./circuits)")
    chk = sub.add_parser("check", help="fail if circuits/*.qasm differ from the builders",
                         description="Compare the OpenQASM 3 files with a fresh export.")
    chk.add_argument("--dir", type=Path, default=DEFAULT_CIRCUITS_DIR,
                     help="directory holding the files (default: ./circuits)")
    sub.add_parser("list", help="list the catalogue entries")


def _circuits_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.ansatz import CATALOGUE, check_catalogue, export_catalogue

    if args.action == "export":
        for path in export_catalogue(args.out):
            print(f"wrote {path}")
        return 0
    if args.action == "check":
        if not args.dir.is_dir():
            print(f"error: {args.dir} is not a directory; run 'qunlearn circuits export' first",
                  file=sys.stderr)
            return 2
        stale = check_catalogue(args.dir)
        if stale:
            print("out of date: " + ", ".join(stale) + "; run 'qunlearn circuits export'",
                  file=sys.stderr)
            return 1
        print(f"{len(CATALOGUE)} circuits up to date in {args.dir}")
        return 0
    for name, entry in CATALOGUE.items():
        print(f"{name:32s} {entry.get('description', '')}")
    return 0


def _backends_args(p: argparse.ArgumentParser) -> None:
    del p


def _backends_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn import available_backends

    for name in available_backends():
        print(name)
    return 0


def _bench_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.bench import add_arguments

    add_arguments(p)


def _bench_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.bench import run_from_args

    return run_from_args(args)


def _demo_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.demo import add_arguments

    add_arguments(p)


def _demo_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.demo import run_from_args

    return run_from_args(args)


def _run_args(p: argparse.ArgumentParser) -> None:
    add_experiment_options(
        p, config_help="TOML experiment config (see experiments/)",
        out_help="run directory (default: runs/<experiment name>); re-running into the same "
                 "directory resumes from its checkpoints",
        no_cache_help="do not read or write the cache")


def _run_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.pipeline import run_experiment

    cfg, cache = load_experiment(args)
    out = args.out or Path("runs") / cfg["experiment"]["name"]
    run_dir = run_experiment(cfg, out, cache_dir=cache, progress=show_progress(args),
                             echo=lambda line: print(line, flush=True))
    print(f"results: {run_dir / 'results.csv'}  report: {run_dir / 'report.md'}")
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.report.cli import add_arguments

    add_arguments(p)


def _report_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.report.cli import run_from_args

    return run_from_args(args)


def _sweep_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.sweep.cli import add_arguments

    add_arguments(p)


def _sweep_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.sweep.cli import run_from_args

    return run_from_args(args)


def _hw_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.hardware.cli import add_arguments

    add_arguments(p)


def _hw_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.hardware.cli import run_from_args

    return run_from_args(args)


def _methods_args(p: argparse.ArgumentParser) -> None:
    from qiskit_unlearn.cli.methods import add_arguments

    add_arguments(p)


def _methods_run(args: argparse.Namespace) -> int:
    from qiskit_unlearn.cli.methods import run_from_args

    return run_from_args(args)


Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: dict[str, Command] = {
    "run": ("train teacher and oracle, run every unlearning method on every scenario, "
            "evaluate and report", _run_args, _run_run),
    "report": ("rebuild summary.csv, report.md and the plots of a finished run",
               _report_args, _report_run),
    "sweep": ("repeat an experiment over the noise and config-value grids of its [sweep] "
              "section; one combined table, figures and report", _sweep_args, _sweep_run),
    "hw": ("evaluate a finished run's models on IBM quantum hardware or a fake device, or "
           "unlearn there (submit, unlearn, status, fetch)", _hw_args, _hw_run),
    "methods": ("list the unlearning methods, or show one's hyperparameters", _methods_args,
                _methods_run),
    "demo": ("train the 4-qubit HQML hybrid on Iris (offline smoke test)", _demo_args, _demo_run),
    "circuits": ("export, check or list the reference ansatz circuits (OpenQASM 3)",
                 _circuits_args, _circuits_run),
    "backends": ("list the backend names make_qnn accepts", _backends_args, _backends_run),
    "bench": ("time a training step against qiskit-machine-learning's defaults",
              _bench_args, _bench_run),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``qunlearn`` parser; given ``argv``, only the chosen command gets its options (a
    command's option definitions may import heavy modules; ``--help`` should not wait)."""
    parser = argparse.ArgumentParser(
        prog="qunlearn",
        description="Machine unlearning for hybrid quantum-classical neural networks.")
    parser.add_argument("--version", action="version", version=f"qiskit-unlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (help_text, add_args, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if chosen is None or chosen == name:
            add_args(p)
    return parser


def _os_error(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    also = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
    return (f"cannot access{where}{also}: {exc.strerror or exc}; check that the path exists, is "
            "a folder where one is expected, and is writable (or pass another --out)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error is printed once, as one line with its fix, exit code 2.

    ``QUNLEARN_DEBUG=1`` shows the traceback instead (for bug reports).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    debug = os.environ.get("QUNLEARN_DEBUG", "") not in ("", "0")
    try:
        return COMMANDS[args.command][2](args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue where it stopped",
              file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, ValueError):  # validation errors carry the fix in their message
            message = str(exc)
        elif isinstance(exc, OSError):
            message = _os_error(exc)
        elif isinstance(exc, MemoryError):
            message = ("out of memory; use fewer qubits, smaller batches or a backend's "
                       "memory_limit option")
        else:
            message = (f"unexpected {type(exc).__name__}: {exc}. This is a bug: please report "
                       "it with the traceback shown by QUNLEARN_DEBUG=1")
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
