"""``qunlearn backends``: the backend names ``make_qnn`` and ``[backend]`` accept."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run_from_args(args: argparse.Namespace) -> int:
    from qiskit_unlearn.backends.base import backend_entries

    for entry in backend_entries():
        facts = [word for word, on in (("exact without shots", entry.exact),
                                                  ("sends IBM jobs", entry.sends_jobs)) if on]
        print(f"{entry.display_name:18s} {', '.join(facts)}".rstrip())
    return 0
