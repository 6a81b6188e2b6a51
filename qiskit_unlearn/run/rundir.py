"""A run directory is a record: one process at a time, one config for life, files with digests.

* **Lock.** :class:`~qiskit_unlearn.locks.RunLock` holds the folder for the length of a
  command (exclusive for ``run``, ``sweep``, ``report``; shared for the ``hw`` readers). The
  kernel drops it when the process dies, so a killed run never leaves a stale lock; a second
  process is refused with the holders' commands, PIDs and hosts.
* **One config.** :func:`claim` accepts a config for a folder: a new (empty) folder gets
  ``config.json``; a folder that already holds a run accepts only the same config (and the same
  run options, e.g. a sweep's evaluation backend) and otherwise refuses, naming the keys that
  differ, *before* writing anything. A non-empty folder that is not a run is refused too.
* **Manifest and file index.** :class:`Manifest` is written when the run starts and rewritten
  atomically as files appear; it records the config's fingerprint and the SHA-256 of every
  result and model file, so a truncated or edited file is detected before it is parsed.
  Consumers (``report``, ``hw``) open a run with :func:`open_run`, which refuses a run whose
  ``config.json`` no longer matches the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.locks import LOCK_FILE, LOCK_FILES, RunLock
from qiskit_unlearn.storage import (
    FileError,
    canonical,
    json_safe,
    read_json,
    sha256_file,
    write_json,
)

__all__ = ["CONFIG_FILE", "LOCK_FILE", "MANIFEST_FILE", "Claim", "Manifest", "RunDirError",
           "RunLock", "RunRecord", "check_record", "claim", "config_diff", "config_fingerprint",
           "locked", "open_run", "prepare_folder", "read_manifest", "remove_stale_temporaries",
           "verify_file"]

CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
FINISHED, RUNNING = "finished", "running"


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def prepare_folder(directory: Path, what: str = "run directory") -> Path:
    """Create ``directory`` (and parents), turning every OS failure into a clear error."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise RunDirError(f"the {what} {directory} is a file, not a folder; pass a folder path "
                          "with --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the {what} {directory} ({_cause(exc)}); pass a "
                          "folder you can write to with --out") from None
    return directory


# --- the lock ---------------------------------------------------------------------------------

@contextmanager
def locked(directory: Path, command: str) -> Iterator[RunLock]:
    """``prepare_folder`` + :class:`RunLock` for the block."""
    prepare_folder(directory)
    with RunLock(directory, command) as lock:
        yield lock


def remove_stale_temporaries(directory: Path) -> int:
    """Delete ``*.tmp<pid>`` files a killed writer left behind (safe under the lock: nobody
    else writes into the folder)."""
    removed = 0
    for path in Path(directory).rglob("*.tmp*"):
        suffix = path.name.rsplit(".tmp", 1)[-1]
        if suffix.isdigit() and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- one config per folder --------------------------------------------------------------------

def config_fingerprint(cfg: Mapping[str, Any]) -> str:
    """SHA-256 of a config's canonical JSON form."""
    import hashlib

    return hashlib.sha256(canonical(json_safe(cfg)).encode()).hexdigest()


def config_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ, each as ``key: old -> new`` (``scenario[0].fraction``)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append(f"{path}: (absent) -> {json.dumps(new[key])}")
            elif key not in new:
                out.append(f"{path}: {json.dumps(old[key])} -> (absent)")
            else:
                out += config_diff(old[key], new[key], path)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and \
            any(isinstance(v, Mapping) for v in old):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in config_diff(a, b, f"{prefix}[{i}]")]
    if canonical(json_safe(old)) != canonical(json_safe(new)):
        return [f"{prefix or '(config)'}: {json.dumps(json_safe(old))} -> "
                f"{json.dumps(json_safe(new))}"]
    return []


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in LOCK_FILES)


@dataclass
class Claim:
    """What :func:`claim` found: a ``new`` folder, a run to ``resume`` or a ``finished`` one."""

    status: str
    manifest: dict[str, Any]


def claim(directory: Path, cfg: Mapping[str, Any], options: Mapping[str, Any] | None = None
          ) -> Claim:
    """Accept ``cfg`` (and run ``options``) for ``directory``, which the caller has locked.

    Nothing is written unless the config is accepted; see the module docstring.
    """
    directory = Path(directory)
    options = json_safe(dict(options or {}))
    config_path = directory / CONFIG_FILE
    fix = (f"delete it, or pass another folder with --out (the run in {directory} cannot be "
           "trusted without it)")
    if not config_path.is_file():
        leftover = _listing(directory)
        if leftover:
            raise RunDirError(
                f"{directory} is not empty ({', '.join(leftover[:5])}"
                f"{', ...' if len(leftover) > 5 else ''}) and holds no run (no {CONFIG_FILE}); "
                "pass an empty or new folder with --out")
        write_json(config_path, cfg)
        return Claim("new", {})
    old = read_json(config_path, fix=fix)
    manifest = read_manifest(directory) if (directory / MANIFEST_FILE).is_file() else {}
    differences = config_diff(old, json_safe(cfg))
    differences += config_diff(manifest.get("run_options", options), options, "run options")
    if differences:
        shown = "\n  ".join(differences[:12])
        more = f"\n  ... and {len(differences) - 12} more" if len(differences) > 12 else ""
        raise RunDirError(
            f"{directory} holds a run of a different config; nothing was changed. Differences "
            f"(this folder -> now):\n  {shown}{more}\nPass another folder with --out to run "
            "this config, or repeat the folder's own config to resume it")
    if manifest.get("status") == FINISHED:
        return Claim(FINISHED, manifest)
    return Claim("resume" if manifest else "new", manifest)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST_FILE
    data = read_json(path, fix=f"restore it, or delete {Path(directory)} and run again")
    if not isinstance(data, dict):
        raise FileError(f"{path} is not a manifest (expected a JSON object); restore it, or "
                        f"delete {Path(directory)} and run again", path)
    return data


# --- the manifest and its file index ----------------------------------------------------------

class Manifest:
    """``manifest.json`` of a run in progress: rewritten atomically whenever it changes.

    It records the config and its fingerprint, package versions, timings, models and methods,
    and the SHA-256 of every result and model file (``files``), so consumers detect a
    truncated or edited file before parsing it.

    Args:
        directory: The run directory holding ``manifest.json``.
        data: The manifest's content (a new run's, or the unfinished run's to resume); it is
            copied, and given an empty ``files`` index if it has none.
    """

    def __init__(self, directory: Path, data: Mapping[str, Any]) -> None:
        self.directory = Path(directory)
        self.data: dict[str, Any] = dict(data)
        self.data.setdefault("files", {})

    @property
    def files(self) -> dict[str, str]:
        """The file index, run-relative path to SHA-256 (the live dictionary)."""
        return self.data["files"]

    def save(self) -> None:
        """Write ``manifest.json`` atomically."""
        write_json(self.directory / MANIFEST_FILE, self.data)

    def record(self, relative: str, sha256: str | None = None) -> None:
        """Index a file of the run by its SHA-256 and save.

        Args:
            relative: The file's path relative to the run directory.
            sha256: Its digest if already known (e.g. returned by the writer); ``None``
                computes it from the file.
        """
        self.files[relative] = sha256 or sha256_file(self.directory / relative)
        self.save()

    def expected(self, relative: str) -> str | None:
        """The digest the manifest recorded for a file.

        Args:
            relative: The file's path relative to the run directory.

        Returns:
            Its SHA-256, or ``None`` if the file is not indexed.
        """
        return self.files.get(relative)


def verify_file(directory: Path, relative: str, files: Mapping[str, str], fix: str) -> None:
    """Raise :class:`FileError` if an indexed file is missing or its digest changed."""
    path = Path(directory) / relative
    expected = files.get(relative)
    if expected is None:
        return
    if not path.is_file():
        raise FileError(f"{path} is missing (the run's manifest lists it); {fix}", path)
    if sha256_file(path) != expected:
        raise FileError(f"{path} is corrupt or was changed: its SHA-256 differs from the one "
                        f"in {MANIFEST_FILE}; {fix}", path)


# --- consumers --------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """A run directory opened by a consumer: its config, manifest and file index."""

    directory: Path
    config: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, str]:
        return self.manifest.get("files", {})

    @property
    def finished(self) -> bool:
        # manifests of runs written before the status field have "finished" as a timestamp
        return self.manifest.get("status", FINISHED if "finished" in self.manifest
                                 else RUNNING) == FINISHED

    def verify(self, relative: str, fix: str | None = None) -> Path:
        verify_file(self.directory, relative, self.files, fix or (
            "restore it, or run the experiment again into a new folder (--out) to "
            "recompute it"))
        return self.directory / relative


def open_run(directory: Path, *, require_finished: bool = True) -> RunRecord:
    """Open a run directory for reading; refuses a config that no longer matches the manifest.

    The manifest stores the config's fingerprint (older versions: the config itself), so a
    ``config.json`` rewritten after the run (by hand, or by an older version's refused rerun)
    cannot silently change which data splits a consumer rebuilds.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise RunDirError(f"{directory} has no {CONFIG_FILE}: it is not a run directory "
                          "written by 'qunlearn run'; pass one")
    config = read_json(config_path, fix="restore it from the manifest's 'config' entry, or "
                                         "run the experiment again into a new folder")
    if not (directory / MANIFEST_FILE).is_file():
        raise RunDirError(f"{directory} has no {MANIFEST_FILE}: the run never started or its "
                          "record was removed; run 'qunlearn run' into it to finish it")
    manifest = read_manifest(directory)
    expected = manifest.get("config_sha256")
    if expected is None and "config" in manifest:
        expected = config_fingerprint(manifest["config"])
    if expected is not None and config_fingerprint(config) != expected:
        differences = config_diff(manifest["config"], config) if "config" in manifest else []
        detail = ("; differences (manifest -> config.json): " + "; ".join(differences[:6])
                  if differences else "")
        raise RunDirError(
            f"{config_path} does not match the config the run was made with (its fingerprint "
            f"differs from {MANIFEST_FILE}){detail}. Restore the original config.json (the "
            "manifest's 'config' entry holds it); the run's models were trained on that one")
    record = RunRecord(directory, config, manifest)
    if require_finished and not record.finished:
        raise RunDirError(f"the run in {directory} has not finished; run the same "
                          "'qunlearn run' command again to resume it, then retry")
    return record


def check_record(directory: Path) -> RunRecord | None:
    """For consumers that also read results without a run (e.g. reports of copied tables):
    ``None`` when ``directory`` holds no ``config.json``, else :func:`open_run` (finished or
    not) with ``results.csv`` verified against the manifest when it is indexed."""
    if not (Path(directory) / CONFIG_FILE).is_file():
        return None
    record = open_run(directory, require_finished=False)
    record.verify("results.csv")
    return record
