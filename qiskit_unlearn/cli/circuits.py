"""``qunlearn circuits``: export, check or list the reference ansatz circuits (OpenQASM 3)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CIRCUITS_DIR = Path("circuits")


def add_arguments(p: argparse.ArgumentParser) -> None:
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


def run_from_args(args: argparse.Namespace) -> int:
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
