"""The job store: ``RUN_DIR/hardware/jobs.json`` plus the finished results of every job.

IBM jobs are reconnected by id (``QiskitRuntimeService().job(job_id)``) from any process.
Local-testing-mode jobs (fake devices) live only in the process that submitted them, so that
process stores their ``PrimitiveResult`` right after the job finishes; a local job whose process
ended first, or whose stored result was deleted, is ``LOST`` (and can be resubmitted). Finished
IBM results are cached the same way on first fetch, so later fetches need no network. Results
use IBM Runtime's own JSON encoding (``RuntimeEncoder`` / ``RuntimeDecoder``); files are
written atomically, and a damaged file is an error that names it and says what to do.

``jobs.json`` (``{"format": 2, "submissions": [...]}``): each submission records the device,
date, shots / precision, resilience and transpiler settings, the ISA layout of each circuit and
its jobs. A job measures one distinct model (``hardware.submit``): ``pubs``
lists its PUBs (``index``, ``circuit``, ``model_sha256``, ``num_rows``) and ``groups`` every
(seed, scenario, model, split) it measures: the ``pub`` and the ``rows`` of that PUB holding
the split's samples in order, with the checkpoint's and the data's digests. Format-1 files
(one PUB per group, all of its rows) are read, and rewritten as format 2 on the next change.
No credentials or account details are ever written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qiskit_unlearn.hardware.base import (
    FAILED,
    FINISHED,
    HardwareError,
    write_atomic,
)
from qiskit_unlearn.storage import FileError, read_json

FORMAT = 2
Submission = dict[str, Any]
Job = dict[str, Any]
_FIX = ("restore it from a backup, or move it aside to start a new job record (moving it aside "
        "forgets the ids of the jobs already sent: results of IBM jobs not yet fetched must "
        "then be found by hand in IBM Quantum)")


def status_name(status: Any) -> str:
    """IBM jobs report strings, local jobs ``JobStatus`` members: both become ``"DONE"`` etc."""
    return str(getattr(status, "name", status)).upper()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class JobStore:
    """The submitted jobs of one run directory: ``RUN_DIR/hardware/jobs.json`` and results.

    Every change re-reads the file and rewrites it atomically, so commands in other processes
    (``status``, ``fetch``) see a consistent record.

    Args:
        run_dir: The run directory; the store lives in its ``hardware/`` folder.
        channel: Picks the saved IBM account's channel (no credentials are read here or
            written anywhere); ``None`` uses the default account.
        instance: Picks the saved account's instance; ``None`` uses the account's default.
    """

    def __init__(self, run_dir: Path, *, channel: str | None = None,
                 instance: str | None = None) -> None:
        self.root = Path(run_dir) / "hardware"
        self.path = self.root / "jobs.json"
        self._account = (channel, instance)
        self._service: Any = None

    # --- jobs.json ----------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """Read ``jobs.json`` in the current format (format-1 files are upgraded in memory).

        Returns:
            ``{"format": 2, "submissions": [...]}``; an empty record if the file does not
            exist yet.

        Raises:
            qiskit_unlearn.storage.FileError: If the file is unreadable or not a job record.
            HardwareError: If it was written in a newer format.
        """
        if not self.path.is_file():
            return {"format": FORMAT, "submissions": []}
        data = read_json(self.path, fix=_FIX)
        version = data.get("format") if isinstance(data, dict) else None
        if version == 1:
            data = _upgrade_v1(data)
        elif isinstance(version, int) and version > FORMAT:
            raise HardwareError(f"{self.path} has format {version}; this version of "
                                f"qiskit-unlearn reads formats 1 and {FORMAT}: use the version "
                                "that wrote it, or a newer one")
        problem = "no known 'format'" if version not in (1, FORMAT) else _shape_problem(data)
        if problem:
            raise FileError(f"{self.path} is not a job record ({problem}); {_FIX}", self.path)
        return data

    def update(self, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Re-read, change and atomically rewrite ``jobs.json`` (another process may have
        written since this one last read it).

        Args:
            mutate: Changes the freshly read record in place.

        Returns:
            The record as written.
        """
        data = self.load()
        mutate(data)
        write_atomic(self.path, json.dumps(data, indent=1))
        return data

    def jobs(self, data: dict[str, Any] | None = None) -> Iterator[tuple[Submission, Job]]:
        """Every job with its submission.

        Args:
            data: A record already read (:meth:`load`); ``None`` reads ``jobs.json``.

        Yields:
            ``(submission, job)`` pairs of dictionaries, in submission order.
        """
        for sub in (data or self.load())["submissions"]:
            for job in sub["jobs"]:
                yield sub, job

    def add_submission(self, submission: Submission) -> None:
        """Record a new submission (with no jobs yet) before any job is sent.

        Args:
            submission: Its record: ``id``, device, date, settings, ``settings_key``, ISA
                circuit layouts, versions (any ``jobs`` key is replaced by an empty list).
        """
        self.update(lambda data: data["submissions"].append({**submission, "jobs": []}))

    def add_job(self, submission_id: str, job: Job) -> None:
        """Record a sent job under its submission (as soon as IBM returns its id).

        Args:
            submission_id: The submission's ``id``.
            job: The job's record: ``job_id``, ``status``, ``error``, ``pubs``, ``groups``.

        Raises:
            HardwareError: If no submission has that id.
        """
        def add(data: dict[str, Any]) -> None:
            self._submission(data, submission_id)["jobs"].append(job)

        self.update(add)

    def set_fields(self, submission_id: str, **fields: Any) -> None:
        """Set fields of a submission's record.

        Args:
            submission_id: The submission's ``id``.
            **fields: The fields to set (e.g. ``batch_id``).

        Raises:
            HardwareError: If no submission has that id.
        """
        self.update(lambda data: self._submission(data, submission_id).update(fields))

    def set_status(self, job_id: str, status: str, error: str | None = None) -> None:
        """Set a job's status and error message.

        Args:
            job_id: The job's id.
            status: The new status (``DONE``, ``ERROR``, ``LOST``, ...).
            error: The error message, or ``None`` to clear it.
        """
        def change(data: dict[str, Any]) -> None:
            for _, job in self.jobs(data):
                if job["job_id"] == job_id:
                    job["status"] = status
                    job["error"] = error

        self.update(change)

    @staticmethod
    def _submission(data: dict[str, Any], submission_id: str) -> Submission:
        for sub in data["submissions"]:
            if sub["id"] == submission_id:
                return sub
        raise HardwareError(f"submission {submission_id} is not in jobs.json")

    # --- statuses -----------------------------------------------------------------------------

    def refresh(self, *, network: bool = True, device: str | None = None) -> dict[str, Any]:
        """Bring the statuses of unfinished jobs up to date and store them back.

        Local jobs are ``LOST`` once the process that submitted them has ended without storing
        a result, or once their stored result was deleted (they cannot be downloaded again);
        IBM jobs are asked for their status (and error message when they failed).

        Args:
            network: Whether IBM may be asked; ``False`` (dry runs) leaves IBM jobs at their
                last stored status.
            device: Only refresh the jobs of this device; ``None`` refreshes all.

        Returns:
            The record after the update.
        """
        changes: dict[str, tuple[str, str | None]] = {}
        for sub, job in self.jobs():
            if device not in (None, sub["device"]) or job["status"] in FAILED:
                continue
            if job["status"] in FINISHED:
                path = self.result_path(job["job_id"])
                if sub["local_testing_mode"] and not path.is_file():
                    changes[job["job_id"]] = ("LOST", f"its stored result {path} is gone and a "
                                              "local job cannot be downloaded again")
                continue
            if sub["local_testing_mode"]:
                if not _process_alive(sub["pid"]):
                    changes[job["job_id"]] = ("LOST", "the process that ran this local-testing-"
                                              "mode job ended before storing its result")
            elif network:
                remote = self.remote_job(job["job_id"])
                status = status_name(remote.status())
                error = remote.error_message() if status == "ERROR" else None
                if status != job["status"]:
                    changes[job["job_id"]] = (status, error)
        if changes:
            def apply(data: dict[str, Any]) -> None:
                for _, job in self.jobs(data):
                    if job["job_id"] in changes:
                        job["status"], job["error"] = changes[job["job_id"]]

            return self.update(apply)
        return self.load()

    # --- results ------------------------------------------------------------------------------

    def result_path(self, job_id: str) -> Path:
        """Where a job's result is stored.

        Args:
            job_id: The job's id.

        Returns:
            ``RUN_DIR/hardware/results/<job_id>.json``.
        """
        return self.root / "results" / f"{job_id}.json"

    def save_result(self, job_id: str, result: Any) -> None:
        """Store a job's ``PrimitiveResult`` (IBM Runtime's JSON encoding, atomically).

        Args:
            job_id: The job's id.
            result: The job's result.
        """
        write_result(self.result_path(job_id), result)

    def finish_local(self, job_id: str, handle: Any) -> str:
        """Wait for a local-testing-mode job, store its result and status.

        Args:
            job_id: The job's id.
            handle: The job handle returned by the Estimator.

        Returns:
            ``"DONE"``, or ``"ERROR"`` if the job failed (its error is recorded).
        """
        try:
            result = handle.result()
        except Exception as exc:  # the job's own error, reported like an IBM job's
            self.set_status(job_id, "ERROR", f"{type(exc).__name__}: {exc}")
            return "ERROR"
        self.save_result(job_id, result)
        self.set_status(job_id, "DONE")
        return "DONE"

    def result(self, submission: Submission, job: Job) -> Any:
        """The ``PrimitiveResult`` of a finished job: stored, or downloaded once and stored.

        Args:
            submission: The job's submission record.
            job: The job's record.

        Returns:
            The job's ``PrimitiveResult``.

        Raises:
            HardwareError: If a local job's result was never stored.
            qiskit_unlearn.storage.FileError: If the stored result is unreadable.
        """
        path = self.result_path(job["job_id"])
        if path.is_file():
            fix = ("delete it and run 'qunlearn hw fetch' again to download it again"
                   if not submission["local_testing_mode"] else
                   "delete it (a local job's result cannot be downloaded again): 'qunlearn hw "
                   "status' then lists the job as LOST with the command that sends it again")
            return read_result(path, fix=fix)
        if submission["local_testing_mode"]:
            raise HardwareError(f"the result of local job {job['job_id']} was never stored; "
                                "resubmit it with 'submit --resubmit-failed'")
        result = self.remote_job(job["job_id"]).result()
        self.save_result(job["job_id"], result)
        return result

    @property
    def account(self) -> dict[str, str]:
        """The ``channel`` / ``instance`` given to pick the saved account (no credentials)."""
        return {k: v for k, v in zip(("channel", "instance"), self._account, strict=True)
                if v is not None}

    def remote_job(self, job_id: str) -> Any:
        """Reconnect to an IBM job by id.

        Args:
            job_id: The job's id.

        Returns:
            The ``RuntimeJobV2`` handle from the saved account's service.
        """
        return self.service().job(job_id)

    def service(self) -> Any:
        """The ``QiskitRuntimeService`` of the saved account (opened once, on first use).

        Returns:
            The service.
        """
        if self._service is None:
            from qiskit_unlearn.backends.ibm import runtime_service

            self._service = runtime_service(*self._account)
        return self._service


def write_result(path: Path, result: Any) -> None:
    """Store a ``PrimitiveResult`` atomically in IBM Runtime's JSON encoding."""
    from qiskit_ibm_runtime import RuntimeEncoder

    write_atomic(path, json.dumps(result, cls=RuntimeEncoder))


def read_result(path: Path, *, fix: str) -> Any:
    """A ``PrimitiveResult`` stored with ``RuntimeEncoder``; a missing, truncated or foreign
    file is a :class:`FileError` naming it and ``fix``."""
    from qiskit.primitives import PrimitiveResult
    from qiskit_ibm_runtime import RuntimeDecoder

    try:
        result = json.loads(path.read_text(encoding="utf-8"), cls=RuntimeDecoder)
    except FileNotFoundError:
        raise FileError(f"{path} is missing; {fix}", path) from None
    except Exception as exc:  # the decoder fails with many exception types
        cause = (str(exc).strip().splitlines() or [""])[0]
        raise FileError(f"{path} is unreadable or corrupt ({type(exc).__name__}: {cause}); "
                        f"{fix}", path) from None
    if not isinstance(result, PrimitiveResult):
        raise FileError(f"{path} holds a {type(result).__name__}, not an Estimator result; "
                        f"{fix}", path)
    return result


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 had one PUB per (seed, scenario, model, split), all of its rows in order."""
    for sub in data.get("submissions", []) if isinstance(data.get("submissions"), list) else []:
        for job in sub.get("jobs", []) if isinstance(sub, dict) else []:
            if not isinstance(job, dict) or "groups" in job:
                continue
            try:
                old = job.get("pubs", [])
                job["pubs"] = [{"index": p["index"], "circuit": p["circuit"],
                                "model_sha256": None,  # not recorded by format 1
                                "num_rows": p["num_samples"]} for p in old]
                job["groups"] = [{**{k: v for k, v in p.items() if k != "index"},
                                  "pub": p["index"], "rows": list(range(p["num_samples"]))}
                                 for p in old]
            except (KeyError, TypeError):
                job["groups"] = None  # reported by _shape_problem with the file's name
    return {**data, "format": FORMAT}


_SUBMISSION = ("id", "device", "local_testing_mode", "settings_key", "jobs")
_JOB = ("job_id", "status", "pubs", "groups")
_GROUP = ("seed", "scenario", "model", "split", "checkpoint", "checkpoint_sha256",
          "data_sha256", "num_samples", "pub", "rows")


def _shape_problem(data: Any) -> str:
    """What a parsed ``jobs.json`` lacks that the code relies on ('' when nothing)."""
    if not isinstance(data, dict) or not isinstance(data.get("submissions"), list):
        return "no 'submissions' list"
    for i, sub in enumerate(data["submissions"]):
        if not isinstance(sub, dict) or not isinstance(sub.get("jobs"), list):
            return f"submission {i} has no 'jobs' list"
        missing = [k for k in _SUBMISSION if k not in sub]
        for job in sub["jobs"]:
            if not isinstance(job, dict) or not isinstance(job.get("groups"), list):
                return f"a job of submission {i} has no 'groups' list"
            missing += [k for k in _JOB if k not in job]
            missing += [k for g in job["groups"] for k in _GROUP
                        if not isinstance(g, dict) or k not in g]
        if missing:
            return f"submission {i} lacks {', '.join(sorted(set(missing)))}"
    return ""
