"""What a run writes besides its models: the manifest (started, then finished) and the result
tables. Every file goes through :mod:`qiskit_unlearn.storage`'s atomic writers and is indexed
in the manifest by its digest, the results last, so a run directory is a record."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from qiskit_unlearn.run.rundir import (
    CONFIG_FILE,
    FINISHED,
    RUNNING,
    Manifest,
    config_fingerprint,
)
from qiskit_unlearn.storage import json_safe, utc_now, write_csv, write_json

PACKAGES = ("qiskit-unlearn", "qiskit", "qiskit-aer", "qiskit-machine-learning",
            "qiskit-ibm-runtime", "torch", "numpy", "scipy", "scikit-learn", "numba")
#: The run's tables, in the order they are written and indexed.
RESULT_FILES = ("results.csv", "results.json", "forgetting_quality.csv", "memorisation.csv")


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages a result depends on (for manifests).

    Returns:
        ``{"python": "3.x.y", "<package>": "<version>", ...}`` for qiskit-unlearn, Qiskit, Aer,
        qiskit-machine-learning, qiskit-ibm-runtime, torch, numpy, scipy, scikit-learn and
        numba; a missing package is ``"not installed"``.
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def start_manifest(out_dir: Path, cfg: Mapping[str, Any], previous: Mapping[str, Any],
                   options: Mapping[str, Any]) -> Manifest:
    """A new run's manifest (config, seeds, versions, options), or the unfinished run's own
    with the resumption noted."""
    now = utc_now()
    if previous:
        manifest = Manifest(out_dir, previous)
        for key in ("data", "timings", "models", "methods"):
            manifest.data.setdefault(key, {})
        manifest.data.setdefault("resumed", []).append(now)
        return manifest
    manifest = Manifest(out_dir, {
        "experiment": cfg["experiment"]["name"],
        "description": cfg["experiment"]["description"], "status": RUNNING,
        "started": now, "seeds": cfg["experiment"]["seeds"], "versions": package_versions(),
        "config": cfg, "config_sha256": config_fingerprint(cfg),
        "run_options": json_safe(dict(options)), "data": {}, "timings": {}, "models": {},
        "methods": {}, "files": {}})
    manifest.record(CONFIG_FILE)
    return manifest


def write_record(out_dir: Path, manifest: Manifest, relative: str, value: Any) -> None:
    """A JSON record of the run (a history, a curve), written and indexed."""
    write_json(out_dir / relative, value, indent=1)
    manifest.record(relative)


def finish(out_dir: Path, manifest: Manifest, rows: Sequence[Mapping[str, Any]],
           fq_rows: Sequence[Mapping[str, Any]], seconds: float,
           mem_rows: Sequence[Mapping[str, Any]] = ()) -> None:
    """Results files (indexed), then the manifest marked finished: the run's last write."""
    write_csv(out_dir / "results.csv", rows)
    write_json(out_dir / "results.json", list(rows))
    if fq_rows:
        write_csv(out_dir / "forgetting_quality.csv", fq_rows)
    if mem_rows:
        write_csv(out_dir / "memorisation.csv", mem_rows)
    for name in RESULT_FILES:
        if (out_dir / name).is_file():
            manifest.record(name)
    manifest.data["timings"]["total"] = manifest.data["timings"].get("total", 0.0) + seconds
    manifest.data["finished"] = utc_now()
    manifest.data["status"] = FINISHED
    manifest.save()
