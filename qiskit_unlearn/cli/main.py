"""``qunlearn``: the command-line entry point.

Every subcommand is a module with ``add_arguments(parser)`` and ``run_from_args(args)``,
listed once in :data:`COMMANDS` (name → help, module); the module is imported only when its
command is chosen, so ``qunlearn --help`` never waits on torch or Qiskit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from types import ModuleType

from qiskit_unlearn import __version__

#: name → (help, module with ``add_arguments`` and ``run_from_args``).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("train teacher and oracle, run every unlearning method on every scenario, "
            "evaluate and report", "qiskit_unlearn.cli.run"),
    "report": ("rebuild summary.csv, report.md and the plots of a finished run",
               "qiskit_unlearn.cli.report"),
    "sweep": ("repeat an experiment over the noise and config-value grids of its [sweep] "
              "section; one combined table, figures and report", "qiskit_unlearn.cli.sweep"),
    "track": ("log a finished run or sweep folder to an experiment tracker (MLflow); "
              "already logged folders are skipped", "qiskit_unlearn.cli.track"),
    "hw": ("evaluate a finished run's models on IBM quantum hardware or a fake device, or "
           "unlearn there (submit, unlearn, status, fetch)", "qiskit_unlearn.cli.hardware"),
    "methods": ("list the unlearning methods, or show one's hyperparameters",
                "qiskit_unlearn.cli.methods"),
    "demo": ("train the 4-qubit HQML hybrid on Iris (offline smoke test)", "qiskit_unlearn.demo"),
    "circuits": ("export, check or list the reference ansatz circuits (OpenQASM 3)",
                 "qiskit_unlearn.cli.circuits"),
    "backends": ("list the backend names make_qnn accepts", "qiskit_unlearn.cli.backends"),
    "bench": ("time a training step against qiskit-machine-learning's defaults",
              "qiskit_unlearn.bench"),
}


def command_module(name: str) -> ModuleType:
    """The module implementing command ``name``."""
    return import_module(COMMANDS[name][1])


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``qunlearn`` parser; given ``argv``, only the chosen command gets its options (a
    command's option definitions may import heavy modules; ``--help`` should not wait)."""
    parser = argparse.ArgumentParser(
        prog="qunlearn",
        description="Machine unlearning for hybrid quantum-classical neural networks.")
    parser.add_argument("--version", action="version", version=f"qiskit-unlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (help_text, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if chosen is None or chosen == name:
            command_module(name).add_arguments(p)
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
        return command_module(args.command).run_from_args(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue where it stopped",
              file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        from qiskit_unlearn.execute.units import ExecutionError

        if isinstance(exc, (ValueError, ExecutionError)):  # they carry the fix in the message
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
