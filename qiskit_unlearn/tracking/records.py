"""What a finished run or sweep directory gives a tracker, read without writing a byte into it.

A run directory is a record (see ``run.rundir``): it is opened the way every
consumer opens one (refused if unfinished or if ``config.json`` no longer matches the
manifest), its indexed files are checked against their digests, and it becomes a
tracker-neutral :class:`Tracked`: the resolved config flattened to dotted parameters, tags,
one :class:`Row` per ``results.csv`` row (numeric columns as metrics, labels as tags), the
files to attach, and a stable identity so a tracker can tell it already holds the run. A sweep
is a :class:`Tracked` whose children are its settings' runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.sweep.axes import value_text

#: Files of a run that are attached, when present (models, checkpoints and curves are not).
RUN_FILES = ("config.json", "manifest.json", "results.csv", "results.json", "summary.csv",
             "ranking.csv", "forgetting_quality.csv", "memorisation.csv", "landscape.csv",
             "report.md", "log.txt")
#: Files of a sweep folder that are attached (each setting's run attaches its own).
SWEEP_FILES = ("config.json", "manifest.json", "results.csv", "summary.csv",
               "forgetting_quality.csv", "memorisation.csv", "report.md")
PLOTS = "plots"


@dataclass(frozen=True)
class Row:
    """One ``results.csv`` row: its numeric cells (metrics) and its labels (tags).

    Attributes:
        name: A readable name (``"ga / class-0 / seed 0"``).
        tags: Its non-numeric cells (scenario, seed, method, a sweep's setting values) by
            column, and ``qunlearn.kind = "row"``.
        metrics: Its numeric cells by column (empty cells left out).
    """

    name: str
    tags: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class Artifact:
    """A file to attach.

    Attributes:
        path: The file.
        folder: Where it goes among the attachments (``""``: the top, ``"plots"``).
    """

    path: Path
    folder: str = ""


@dataclass
class Tracked:
    """A finished run, sweep or sweep setting, as a tracker logs it.

    Attributes:
        kind: ``"run"``, ``"sweep"`` or ``"setting"`` (a run of a sweep).
        name: The run's name (the folder's name; a setting's path in its sweep).
        directory: The folder, absolute.
        identity: Stable for the folder's content (its absolute path, the config's fingerprint
            and the digest of ``results.csv``): logging the same finished folder twice gives
            the same identity, a re-run with other results a new one.
        config_name: The config's ``experiment.name``.
        description: The config's ``experiment.description``.
        params: The resolved config, flattened (:func:`flatten`).
        tags: What the run is (``qunlearn.kind``, config name, folder, version, seeds,
            backend; a setting's noise and grid values).
        rows: One per ``results.csv`` row (none for a sweep: its settings hold them).
        artifacts: The report, plots, tables, config and manifest present in the folder.
        started: When the run started (ISO 8601, from the manifest).
        finished: When it finished.
        children: A sweep's settings.
    """

    kind: str
    name: str
    directory: Path
    identity: str
    config_name: str
    description: str
    params: dict[str, str]
    tags: dict[str, str]
    rows: list[Row]
    artifacts: list[Artifact]
    started: str | None = None
    finished: str | None = None
    children: list[Tracked] = field(default_factory=list)

    def count(self) -> tuple[int, int]:
        """Count what logging this creates.

        Returns:
            (runs, result rows), this one and every child included.
        """
        runs, rows = 1, len(self.rows)
        for child in self.children:
            r, n = child.count()
            runs, rows = runs + r, rows + n
        return runs, rows


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A config as dotted keys and text values, the way ``--set`` and ``[sweep.grid]`` name them.

    Tables nest with dots (``model.kind``), lists of tables by index (``scenario.0.kind``);
    every other value is a leaf: strings as they are, the rest as TOML/JSON (``3``, ``true``,
    ``[0, 1]``, ``null``, ``{}``).

    Args:
        value: A resolved config (or any JSON value).
        prefix: The key of ``value`` itself (``""`` at the top).

    Returns:
        Dotted key → text value, in config order.
    """
    if isinstance(value, Mapping) and value:
        items: Sequence[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list) and value and all(
            isinstance(v, Mapping) and v for v in value):
        items = list(enumerate(value))
    else:
        return {prefix: value_text(value)}
    out: dict[str, str] = {}
    for key, item in items:
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def read_directory(directory: str | Path) -> Tracked:
    """A finished run or sweep directory as a :class:`Tracked` (a sweep with its settings).

    Args:
        directory: Written by ``qunlearn run`` or ``qunlearn sweep``.

    Returns:
        What a tracker logs.

    Raises:
        RunDirError: The folder is not a finished run or sweep, or its config was changed.
        FileError: An indexed file is missing or its digest changed.
    """
    from qiskit_unlearn.run.rundir import open_run  # the run layer loads torch: only when used

    directory = Path(directory)
    if not directory.is_dir():
        raise RunDirError(f"{directory} is not a folder; pass a run or sweep directory written "
                          "by 'qunlearn run' or 'qunlearn sweep'")
    record = open_run(directory)
    if "sweep" not in record.manifest:
        return _run(record, "run", directory.resolve().name)
    children = []
    for entry in record.manifest.get("runs", []):
        child = directory / str(entry["dir"])
        if not child.is_dir():
            raise RunDirError(f"{child} is missing (the sweep's manifest lists it); restore it, "
                              f"or run the sweep again into {directory} to recompute it")
        children.append(_run(open_run(child), "setting", str(entry["dir"])))
    sweep = _run(record, "sweep", directory.resolve().name, rows=False,
                 params={**record.config, "sweep": record.manifest["sweep"]})
    sweep.children = children
    return sweep


def _run(record: Any, kind: str, name: str, *, rows: bool = True,
         params: Mapping[str, Any] | None = None) -> Tracked:
    from qiskit_unlearn.storage import digest, sha256_file

    manifest, cfg = record.manifest, record.config
    files = SWEEP_FILES if kind == "sweep" else RUN_FILES
    for file in files:
        if file in record.files:
            record.verify(file)  # what is logged is what the run recorded
    results = record.directory / "results.csv"
    if not results.is_file():
        raise RunDirError(f"{results} is missing; run the experiment again into "
                          f"{record.directory} to finish it")
    options = manifest.get("run_options") or {}
    setting = dict(options.get("extra_columns") or {})
    table = _rows(results, setting) if rows else []
    directory = record.directory.resolve()
    identity = digest({"dir": str(directory), "config": manifest.get("config_sha256"),
                       "results": record.files.get("results.csv") or sha256_file(results)})
    tags = {"qunlearn.kind": kind, "qunlearn.config_name": str(cfg["experiment"]["name"]),
            "qunlearn.run_dir": str(directory),
            "qunlearn.version": _version(manifest),
            "qunlearn.seeds": value_text(manifest.get("seeds", cfg["experiment"]["seeds"])),
            "qunlearn.backend": str(cfg["backend"]["name"]),
            "qunlearn.config_sha256": str(manifest.get("config_sha256", ""))}
    if options.get("eval_backend"):
        tags["qunlearn.eval_backend"] = str(options["eval_backend"]["name"])
    if table:  # a sweep's setting: the columns its rows share (noise, grid values)
        tags.update({c: table[0].tags[c] for c in setting if c in table[0].tags})
    return Tracked(kind=kind, name=name, directory=directory, identity=identity[:32],
                   config_name=str(cfg["experiment"]["name"]),
                   description=str(cfg["experiment"].get("description") or ""),
                   params=flatten(params if params is not None else cfg), tags=tags,
                   rows=table, artifacts=_artifacts(directory, files),
                   started=manifest.get("started"), finished=manifest.get("finished"))


def _version(manifest: Mapping[str, Any]) -> str:
    """The qiskit-unlearn version that made the run (the manifest's), else this one."""
    from qiskit_unlearn import __version__

    versions = manifest.get("versions")
    found = versions.get("qiskit-unlearn") if isinstance(versions, Mapping) else None
    return str(found or __version__)


def _rows(path: Path, setting: Mapping[str, Any]) -> list[Row]:
    """Numeric columns become metrics (empty cells are left out); labels, the seed and the
    setting's columns (a sweep's noise and grid values) become tags."""
    from qiskit_unlearn.report.inputs import IDENTITY_COLUMNS, read_table

    table = read_table(path, (*IDENTITY_COLUMNS, *setting))
    out = []
    for row in table.rows:
        metrics = {c: float(row[c]) for c in table.numeric if not math.isnan(row[c])}
        tags = {c: str(row[c]) for c in table.columns if c not in table.numeric and row[c] != ""}
        method = tags.get("method", "?") + (f" ({tags['variant']})" if tags.get("variant")
                                            else "")
        name = f"{method} / {tags.get('scenario', '?')} / seed {tags.get('seed', '?')}"
        out.append(Row(name, {"qunlearn.kind": "row", **tags}, metrics))
    return out


def _artifacts(directory: Path, files: Sequence[str]) -> list[Artifact]:
    found = [Artifact(directory / f) for f in files if (directory / f).is_file()]
    plots = directory / PLOTS
    if plots.is_dir():
        found += [Artifact(p, p.parent.relative_to(directory).as_posix())
                  for p in sorted(plots.rglob("*")) if p.is_file()]
    return found
