"""``qunlearn methods [NAME]``: the unlearning registry, listed without importing torch.

The registry lives in the method modules (their ``@register`` calls), which import torch: a
listing would take seconds. The listing is therefore kept in the user cache as JSON, keyed by
the package version and the size and modification time of every module of
:mod:`qiskit_unlearn.unlearn`, so it is rebuilt whenever a method file changes (and a damaged
cache file is simply rebuilt).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from qiskit_unlearn import __version__


def _cache_file() -> Path:
    import qiskit_unlearn

    folder = Path(qiskit_unlearn.__file__).parent / "unlearn"
    h = hashlib.sha256(__version__.encode())
    for path in [*sorted(folder.glob("*.py")), Path(__file__)]:  # the listing's format too
        stat = path.stat()
        h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qiskit-unlearn" / "cli" / f"methods-{h.hexdigest()[:16]}.json"


def _from_registry() -> list[dict[str, Any]]:
    from qiskit_unlearn.unlearn import METHODS

    return [{"name": m.name, "family": m.family, "summary": m.summary, "changes": m.changes,
             "reference": m.reference,
             "defaults": [[k, repr(v), m.rules.get(k, "")] for k, v in m.defaults.items()],
             "study": [[k, repr(v)] for k, v in m.study.items()]}
            for m in METHODS.values()]


def method_table() -> list[dict[str, Any]]:
    """Every registered method's description (from the cache when it is current)."""
    from qiskit_unlearn.storage import FileError, read_json, write_json

    path = _cache_file()
    try:
        table = read_json(path, fix="")
        if isinstance(table, list) and all(isinstance(m, dict) and "name" in m for m in table):
            return table
    except FileError:
        pass
    table = _from_registry()
    try:
        for old in path.parent.glob("methods-*.json"):  # listings of older sources
            old.unlink(missing_ok=True)
        write_json(path, table, indent=None)
    except OSError:
        pass  # a read-only home only costs the next call the import time
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show one method's hyperparameters and reference")


def run_from_args(args: argparse.Namespace) -> int:
    table = {m["name"]: m for m in method_table()}
    if not args.name:
        for m in table.values():
            print(f"{m['name']:14s} {m['family']:20s} {m['summary']}")
        return 0
    if args.name not in table:
        print(f"error: unknown method {args.name!r}; choose one of "
              f"{', '.join(sorted(table))}", file=sys.stderr)
        return 2
    m = table[args.name]
    name = m["name"]
    section = name if name.replace("-", "").isalnum() else f'"{name}"'  # a TOML bare key?
    print(f"{name} ({m['family']}): {m['summary']}\nchanges: {m['changes']}\n"
          f"reference: {m['reference']}\nhyperparameters (set in [unlearn.params.{section}]):")
    width = max((len(f"{k} = {v}") for k, v, _ in m["defaults"]), default=0)
    for key, value, rule in m["defaults"]:
        text = f"{key} = {value}"
        print(f"  {text:{width}s}  ({rule})" if rule else f"  {text}")
    if m.get("study"):
        print("with unlearn.faithful = true (the HQML study's settings, under the config's own):")
        print("  " + ", ".join(f"{k} = {v}" for k, v in m["study"]))
    return 0
