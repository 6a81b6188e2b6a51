"""Job accounting and the job journal of hardware training (``qunlearn hw unlearn``).

Training on a device is a chain of dependent jobs: each step's weights depend on the
previous job's results. The journal writes every job id to disk the moment IBM accepts the
job, before waiting on it, and stores each result once it is finished. Because an unlearning
method is deterministic given its seed and the estimator's results, running it again
*replays* the journal: finished jobs are answered from disk, a job that is still queued is
reconnected to by id (another process, another day), and only the jobs never sent are sent.
Each replayed job is checked against the journal by a digest of its PUBs, so a changed
model, data set or setting can never be answered with another job's results.

:class:`~qiskit_unlearn.hardware.CostRecorder` counts the same quantities (jobs, PUBs,
parameter sets, circuit executions) for any estimator: wrapped around the exact
``ideal:<device>`` simulation it prices a hardware run before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike

from qiskit_unlearn.hardware.base import FAILED, HardwareError, utc_now, write_atomic
from qiskit_unlearn.hardware.pubs import fingerprint
from qiskit_unlearn.hardware.store import read_result, write_result
from qiskit_unlearn.qnn.jobs import (  # noqa: F401  (CostRecorder, JobCost: hardware's API)
    CostRecorder,
    JobCost,
    coerce_pubs,
    pubs_cost,
)
from qiskit_unlearn.storage import read_json

FORMAT = 1


class _Fingerprints:
    """Circuit digests by object (each circuit is digested once; references keep ids unique)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Any, str]] = {}

    def __call__(self, circuit: Any) -> str:
        entry = self._known.get(id(circuit))
        if entry is None or entry[0] is not circuit:
            entry = self._known[id(circuit)] = (circuit, fingerprint(circuit, []))
        return entry[1]


def pubs_digest(pubs: Iterable[EstimatorPub], circuit_digest: Callable[[Any], str]) -> str:
    """Digest of what a job asks: circuits, observables, values (to 1e-9) and precisions."""
    h = hashlib.sha256()
    for pub in pubs:
        values = np.round(np.asarray(pub.parameter_values.as_array(), dtype=float), 9) + 0.0
        h.update(circuit_digest(pub.circuit).encode())
        h.update(repr(pub.observables.tolist()).encode())
        h.update(repr((values.shape, pub.precision)).encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


class _Finished:
    """A job whose result is already here (what the wrapped estimators return)."""

    def __init__(self, result: Any, job_id: str) -> None:
        self._result, self._job_id = result, job_id

    def result(self) -> Any:
        return self._result

    def job_id(self) -> str:
        return self._job_id

    def status(self) -> str:
        return "DONE"

    def done(self) -> bool:
        return True


class JobBudgetReached(HardwareError):
    """``--max-jobs`` new jobs were sent; the journal keeps them for the next run."""


def read_journal(path: Path) -> dict[str, Any]:
    """A ``journal.json``; a damaged one is a :class:`~qiskit_unlearn.storage.FileError` that
    names it and says what losing it costs."""
    path = Path(path)
    fix = (f"restore it from a backup, or delete its folder {path.parent} to run this "
           "unlearning again from scratch (its jobs are then sent, and paid for, again)")
    data = read_json(path, fix=fix)
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("jobs"), list):
        version = data.get("format") if isinstance(data, dict) else None
        raise HardwareError(f"{path} is not a format-{FORMAT} job journal (format "
                            f"{version!r}); {fix}")
    return data


class JobJournal:
    """``DIR/journal.json`` (the ordered jobs) and ``DIR/results/<index>.json`` (results).

    Every change is written atomically at once, so the journal survives a killed process.

    Args:
        root: The journal's folder (``DIR``).
        header: What the journal is of (device, method, settings, seed, scenario, key), written
            into a new ``journal.json``; ignored when the journal already exists.

    Raises:
        HardwareError: If an existing ``journal.json`` is not a journal of this format.
        qiskit_unlearn.storage.FileError: If it is unreadable.
    """

    def __init__(self, root: Path, header: dict[str, Any]) -> None:
        self.root = Path(root)
        self.path = self.root / "journal.json"
        if self.path.is_file():
            self.data = read_journal(self.path)
        else:
            self.data = {"format": FORMAT, **header, "created": utc_now(), "jobs": []}
            self._write()

    def _write(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1))

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The journal's job entries in the order they were sent (the live list)."""
        return self.data["jobs"]

    def entry(self, index: int) -> dict[str, Any] | None:
        """The entry of the ``index``-th job.

        Args:
            index: The job's position in the method's sequence of jobs (from 0).

        Returns:
            The entry (``job_id``, ``digest``, ``status``, ``error``, ``date`` and the job's
            cost counts), or ``None`` if that job was never sent.
        """
        return self.jobs[index] if index < len(self.jobs) else None

    def put(self, index: int, entry: dict[str, Any]) -> None:
        """Write the entry of the ``index``-th job (replacing one, or appending the next).

        Args:
            index: The job's position; at most one past the last entry.
            entry: The job's entry.

        Raises:
            HardwareError: If ``index`` would leave a gap.
        """
        if index < len(self.jobs):
            self.jobs[index] = entry
        elif index == len(self.jobs):
            self.jobs.append(entry)
        else:  # pragma: no cover - jobs are sent in order
            raise HardwareError(f"journal {self.path} has no job {index - 1}")
        self._write()

    def update(self, index: int, **fields: Any) -> None:
        """Change fields of the ``index``-th job's entry and save.

        Args:
            index: The job's position.
            **fields: The fields to set (e.g. ``status``, ``error``, ``seconds``).
        """
        self.jobs[index].update(fields)
        self._write()

    def result_path(self, index: int) -> Path:
        """Where the ``index``-th job's result is stored.

        Args:
            index: The job's position.

        Returns:
            ``DIR/results/<index, 5 digits>.json``.
        """
        return self.root / "results" / f"{index:05d}.json"

    def save_result(self, index: int, result: Any) -> None:
        """Store a job's ``PrimitiveResult`` (IBM Runtime's JSON encoding, atomically).

        Args:
            index: The job's position.
            result: The job's result.
        """
        write_result(self.result_path(index), result)

    def load_result(self, index: int) -> Any:
        """A finished job's stored result.

        Args:
            index: The job's position.

        Returns:
            The job's ``PrimitiveResult``.

        Raises:
            HardwareError: If the result file is missing.
            qiskit_unlearn.storage.FileError: If it is unreadable or not an Estimator result.
        """
        path = self.result_path(index)
        again = f"delete {self.root} to run this unlearning again from scratch"
        if not path.is_file():
            raise HardwareError(f"the journal says job {index} finished but {path} is missing; "
                                f"{again}")
        fix = (again + " (a local job's result cannot be downloaded again)"
               if self.data.get("local_testing_mode", True) else
               "delete it and run the same command again: the result is downloaded again "
               "from IBM by the job's id")
        return read_result(path, fix=fix)

    def cost(self) -> JobCost:
        """What the journal's jobs asked of the device.

        Returns:
            The summed :class:`JobCost` of every journaled job (sent in any run).
        """
        total = JobCost()
        for entry in self.jobs:
            total.add(JobCost(**{k: entry[k] for k in asdict(JobCost())}))
        return total


class JournaledEstimator(BaseEstimatorV2):
    """An Estimator that sends jobs to ``estimator`` in order, journaled.

    The ``i``-th call of :meth:`run` is the journal's ``i``-th job. A job the journal has
    finished is answered from disk; a pending one is reconnected to by id; only jobs never
    sent are sent. Every replayed job must ask exactly what the journal recorded (a digest of
    its PUBs), so a changed model, data set or setting cannot be answered with another job's
    results.

    Args:
        journal: The journal of this unlearning task.
        estimator: The device's Estimator that sends new jobs.
        reconnect: Returns a handle of a job sent by an earlier process, given its id (IBM
            jobs); ``None`` when jobs cannot be reconnected to (local-testing-mode jobs die
            with their process and are sent again).
        budget: Shared by every journal of one command: ``{"left": N}`` allows ``N`` more new
            jobs (decremented as jobs are sent); ``None`` sets no limit.
        echo: Called with one line of progress per job.
        expected_jobs: The number of jobs the rehearsal counted, shown as ``job i/N``;
            ``None`` shows ``job i``.
    """

    def __init__(self, journal: JobJournal, estimator: BaseEstimatorV2, *,
                 reconnect: Callable[[str], Any] | None, budget: dict[str, int] | None = None,
                 echo: Callable[[str], None] = print, expected_jobs: int | None = None) -> None:
        self.journal, self.estimator = journal, estimator
        self.reconnect, self.budget, self.echo = reconnect, budget, echo
        self.expected = expected_jobs
        self.position = 0
        self.sent = self.replayed = 0
        self._digests = _Fingerprints()

    def _label(self, index: int) -> str:
        return f"job {index + 1}" + (f"/{self.expected}" if self.expected else "")

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> Any:
        """Answer the next job from the journal, or send it and wait for it.

        Args:
            pubs: The job's Estimator PUBs.
            precision: The default precision for PUBs without their own.

        Returns:
            A finished job handle (``result()``, ``job_id()``, ``status()``, ``done()``).

        Raises:
            HardwareError: If the journal's job at this position asked for other circuits,
                observables or values, or the job failed (it is recorded as ``ERROR`` and sent
                again by the next run).
            JobBudgetReached: If a new job must be sent but the budget is used up.
        """
        coerced = coerce_pubs(pubs, precision)
        index, self.position = self.position, self.position + 1
        digest = pubs_digest(coerced, self._digests)
        entry = self.journal.entry(index)
        if entry is not None:
            if entry["digest"] != digest:
                raise HardwareError(
                    f"job {index} of {self.journal.path} was sent with other circuits, "
                    "observables or values than this run computes now: the model, data or "
                    "settings changed since; delete that folder to start this unlearning over")
            if entry["status"] == "DONE":
                if self.reconnect is not None and \
                        not self.journal.result_path(index).is_file():
                    self.echo(f"  {self._label(index)}: downloading {entry['job_id']} again")
                    return self._wait(index, entry["job_id"], self.reconnect(entry["job_id"]))
                self.replayed += 1
                return _Finished(self.journal.load_result(index), entry["job_id"])
            if entry["status"] not in FAILED and self.reconnect is not None:
                self.echo(f"  {self._label(index)}: reconnecting to {entry['job_id']}")
                return self._wait(index, entry["job_id"], self.reconnect(entry["job_id"]))
        if self.budget is not None:
            if self.budget["left"] <= 0:
                raise JobBudgetReached("the --max-jobs budget is used up")
            self.budget["left"] -= 1
        handle = self.estimator.run(coerced)
        job_id = handle.job_id()
        self.journal.put(index, {"index": index, "job_id": job_id, "digest": digest,
                                 "status": "QUEUED", "error": None, "date": utc_now(),
                                 **asdict(pubs_cost(coerced))})
        self.sent += 1
        return self._wait(index, job_id, handle)

    def _wait(self, index: int, job_id: str, handle: Any) -> _Finished:
        start = time.perf_counter()
        try:
            result = handle.result()
        except Exception as exc:
            self.journal.update(index, status="ERROR", error=f"{type(exc).__name__}: {exc}")
            raise HardwareError(
                f"{self._label(index)} ({job_id}) failed: {type(exc).__name__}: {exc}; run the "
                "same command again to send it again (finished jobs are not sent twice)") from exc
        self.journal.save_result(index, result)
        self.journal.update(index, status="DONE", seconds=round(time.perf_counter() - start, 3))
        self.echo(f"  {self._label(index)}: {job_id} done ({time.perf_counter() - start:.1f} s)")
        return _Finished(result, job_id)
