"""Files of runs and caches: atomic writes, digests, and reads that name the file at fault.

The one home for these small utilities. Writers go through a temporary file in the same folder
and ``os.replace``, so a reader (or a resumed run) sees the old file or the new one, never half
of one, even when the writer is killed. Readers turn every way a file can be bad (missing,
unreadable, truncated, not JSON, not a checkpoint, a digest that does not match) into a
:class:`FileError` that names the file and says what to do, instead of a parser's traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np


class FileError(ValueError):
    """A file that cannot be read or written; the message names it and says the fix."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


def utc_now() -> str:
    """The current UTC time, to the second, in ISO 8601 (every record's timestamp)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def utc_stamp() -> str:
    """The current UTC time as a compact, sortable, file-name-safe stamp (20261202T061500Z)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# --- digests ----------------------------------------------------------------------------------

def sha256_file(path: Path | str) -> str:
    """SHA-256 of a file's bytes, read in blocks (model files can be large).

    Args:
        path: The file.

    Returns:
        The digest as 64 lowercase hex digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_arrays(*arrays: np.ndarray) -> str:
    """Digest of arrays' shapes, dtypes and bytes (a changed data split changes it)."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(json.dumps([array.shape, str(array.dtype)]).encode())
        h.update(array.tobytes())
    return h.hexdigest()


def digest(*parts: Any) -> str:
    """Digest of JSON-able values and arrays, in order: the key of a cached computation."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(repr((part.shape, str(part.dtype))).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def canonical(value: Any) -> str:
    """A stable string form of JSON data (sorted keys) for comparing settings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def json_safe(value: Any) -> Any:
    """Plain JSON types (numpy scalars and arrays become numbers and lists)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist()
                                 if hasattr(v, "tolist") else str(v)))


# --- atomic writes ----------------------------------------------------------------------------

def _temporary(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp{os.getpid()}")


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path | str, text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: Path | str, value: Any, indent: int | None = 2) -> None:
    """``value`` as JSON (numpy values converted), atomically."""
    write_atomic(path, json.dumps(json_safe(value), indent=indent))


def write_csv(path: Path | str, rows: Sequence[Mapping[str, Any]], last: Sequence[str] = ()
              ) -> None:
    """Rows as CSV, atomically: the union of their columns in first-seen order, with the
    columns named in ``last`` (those present) at the end."""
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields and k not in last]
    fields += [k for k in last if any(k in row for row in rows)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, out.getvalue())


def save_torch(obj: Any, path: Path | str) -> str:
    """``torch.save`` atomically; returns the file's SHA-256 (for a manifest's file index)."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


# --- reads that name the file -----------------------------------------------------------------

def read_json(path: Path | str, *, fix: str) -> Any:
    """Parse a JSON file; any failure is a :class:`FileError` naming the file and ``fix``."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileError(f"{path} is missing; {fix}", path) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FileError(f"{path} is unreadable or corrupt ({_cause(exc)}); {fix}", path) \
            from None


def load_torch(path: Path | str, *, fix: str, sha256: str | None = None) -> Any:
    """``torch.load(weights_only=True)`` of a checkpoint, checked against ``sha256`` first.

    The digest catches truncation and damage before torch parses anything; without one,
    torch's own failure is reported with the file's name. Either way: :class:`FileError`.
    """
    import torch

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileError(f"{path} is missing; {fix}", path) from None
    except OSError as exc:
        raise FileError(f"{path} cannot be read ({_cause(exc)}); {fix}", path) from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise FileError(f"{path} is corrupt: its SHA-256 does not match the one recorded when "
                        f"it was written ({len(data):,} bytes now); {fix}", path)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle and zip errors alike
        raise FileError(f"{path} is not a readable checkpoint ({_cause(exc)}); {fix}", path) \
            from None


def quarantine(path: Path | str) -> Path:
    """Move a bad file aside to ``<name>.corrupt`` (numbered if taken); returns the new path.

    Kept rather than deleted, so the damage can be inspected.
    """
    path = Path(path)
    target = path.with_name(path.name + ".corrupt")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt{n}")
    os.replace(path, target)
    return target


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
