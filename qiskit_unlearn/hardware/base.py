"""Shared vocabulary of hardware runs: splits, job statuses and errors.

File utilities (atomic writes, digests, timestamps) live in :mod:`qiskit_unlearn.storage`;
they are re-exported here because every hardware module uses them.
"""

from __future__ import annotations

from qiskit_unlearn.storage import (  # noqa: F401  (re-exported for the hardware modules)
    canonical,
    sha256_arrays,
    sha256_file,
    utc_now,
    utc_stamp,
    write_atomic,
    write_csv,
)

#: Every split a model can be evaluated on: ``evaluate.suite.ACCURACY_SPLITS`` and the
#: membership-inference non-members (spelled out so the CLI parser does not import torch).
SPLITS: tuple[str, ...] = ("retain", "forget", "val", "test", "nonmember")
#: Names of the run's reference models (the teacher and the retrain oracle).
ORIGINAL, RETRAIN = "original", "retrain"

FINISHED = frozenset({"DONE"})
FAILED = frozenset({"ERROR", "CANCELLED", "LOST"})
#: ``LOST``: a local-testing-mode job whose submitting process ended before it stored the result.


class HardwareError(ValueError):
    """A hardware request that cannot be carried out; the message says what to change."""


def status_kind(status: str) -> str:
    """``finished``, ``failed`` or ``pending`` (queued, running, validating, ...)."""
    if status in FINISHED:
        return "finished"
    return "failed" if status in FAILED else "pending"
