"""The job store: ``RUN_DIR/hardware/jobs.json`` plus the finished results of every job.

IBM jobs are reconnected by id (``QiskitRuntimeService().job(job_id)``) from any process.
Local-testing-mode jobs (fake devices) live only in the process that submitted them, so that
process stores their ``PrimitiveResult`` right after the job finishes; a local job whose process
ended first is ``LOST`` (and can be resubmitted). Finished IBM results are cached the same way on
first fetch, so later fetches need no network. Results use IBM Runtime's own JSON encoding
(``RuntimeEncoder`` / ``RuntimeDecoder``); files are written atomically.

``jobs.json`` (``{"format": 1, "submissions": [...]}``): each submission records the device,
date, shots / precision, resilience and transpiler settings, the ISA layout of each circuit and
its jobs; each job lists its PUBs (seed, scenario, model, split, sample count and digests of
the checkpoint and the data). No credentials or account details are ever written.
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

FORMAT = 1
Submission = dict[str, Any]
Job = dict[str, Any]


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
    """Jobs of one run directory; ``channel``/``instance`` only pick the saved IBM account."""

    def __init__(self, run_dir: Path, *, channel: str | None = None,
                 instance: str | None = None) -> None:
        self.root = Path(run_dir) / "hardware"
        self.path = self.root / "jobs.json"
        self._account = (channel, instance)
        self._service: Any = None

    # --- jobs.json ----------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {"format": FORMAT, "submissions": []}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise HardwareError(f"{self.path} has format {data.get('format')!r}; this version "
                                f"of qiskit-unlearn reads format {FORMAT}")
        return data

    def update(self, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Re-read, change and atomically rewrite ``jobs.json`` (another process may have
        written since this one last read it)."""
        data = self.load()
        mutate(data)
        write_atomic(self.path, json.dumps(data, indent=1))
        return data

    def jobs(self, data: dict[str, Any] | None = None) -> Iterator[tuple[Submission, Job]]:
        for sub in (data or self.load())["submissions"]:
            for job in sub["jobs"]:
                yield sub, job

    def add_submission(self, submission: Submission) -> None:
        self.update(lambda data: data["submissions"].append({**submission, "jobs": []}))

    def add_job(self, submission_id: str, job: Job) -> None:
        def add(data: dict[str, Any]) -> None:
            self._submission(data, submission_id)["jobs"].append(job)

        self.update(add)

    def set_fields(self, submission_id: str, **fields: Any) -> None:
        self.update(lambda data: self._submission(data, submission_id).update(fields))

    def set_status(self, job_id: str, status: str, error: str | None = None) -> None:
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
        """Current statuses of unfinished jobs (of ``device``, or all), stored back;
        ``network=False`` asks IBM nothing.

        Local jobs are ``LOST`` once the process that submitted them has ended without storing
        a result; IBM jobs are asked for their status (and error message when they failed).
        """
        changes: dict[str, tuple[str, str | None]] = {}
        for sub, job in self.jobs():
            if job["status"] in FINISHED or job["status"] in FAILED or \
                    device not in (None, sub["device"]):
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
        return self.root / "results" / f"{job_id}.json"

    def save_result(self, job_id: str, result: Any) -> None:
        from qiskit_ibm_runtime import RuntimeEncoder

        write_atomic(self.result_path(job_id), json.dumps(result, cls=RuntimeEncoder))

    def finish_local(self, job_id: str, handle: Any) -> str:
        """Wait for a local-testing-mode job, store its result and status; returns the status."""
        try:
            result = handle.result()
        except Exception as exc:  # the job's own error, reported like an IBM job's
            self.set_status(job_id, "ERROR", f"{type(exc).__name__}: {exc}")
            return "ERROR"
        self.save_result(job_id, result)
        self.set_status(job_id, "DONE")
        return "DONE"

    def result(self, submission: Submission, job: Job) -> Any:
        """The ``PrimitiveResult`` of a finished job: stored, or downloaded once and stored."""
        from qiskit_ibm_runtime import RuntimeDecoder

        path = self.result_path(job["job_id"])
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"), cls=RuntimeDecoder)
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
        return self.service().job(job_id)

    def service(self) -> Any:
        """The ``QiskitRuntimeService`` of the saved account (opened once, on first use)."""
        if self._service is None:
            from qiskit_unlearn.backends.ibm import runtime_service

            self._service = runtime_service(*self._account)
        return self._service
