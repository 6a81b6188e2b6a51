"""A finished run's models on IBM quantum hardware (or a fake device): evaluate, unlearn.

``submit`` turns each (model, split) into one batched Estimator PUB on an ISA circuit
transpiled once, sends one job per model and records every job id in
``RUN_DIR/hardware/jobs.json`` before waiting on anything; ``status`` and ``fetch`` reconnect
from that file in another process, on another day, and ``fetch`` writes the simulation's
metric table for the measured models to ``RUN_DIR/hardware/results.csv``. Fake devices
(``fake_manila``) run in IBM Runtime local testing mode, offline. ``unlearn`` runs an
unlearning method on the device, priced first by an exact rehearsal and journaled job by job
(``hardware.unlearn``, ``hardware.journal``).

Names are imported on first use, so ``qunlearn --help`` does not load torch through here.
"""

from __future__ import annotations

import importlib
from typing import Any

from qiskit_unlearn.hardware.base import SPLITS, HardwareError

_LAZY = {
    "FetchResult": "fetch", "fetch_results": "fetch", "job_statuses": "fetch",
    "FinishedRun": "runs", "Target": "runs",
    "JobStore": "store",
    "CostRecorder": "journal", "JobBudgetReached": "journal", "JobCost": "journal",
    "JobJournal": "journal", "JournaledEstimator": "journal",
    "UnlearnPlan": "unlearn", "UnlearnRequest": "unlearn", "describe_unlearning": "unlearn",
    "execute_unlearning": "unlearn", "plan_unlearning": "unlearn",
    "DeviceRequest": "submit", "Plan": "submit", "SubmitRequest": "submit", "describe": "submit",
    "execute": "submit",
    "plan_submission": "submit",
}

#: Every split a model can be evaluated on (the accuracy splits and the membership-inference
#: non-members).
SPLITS = SPLITS

__all__ = ["SPLITS", "HardwareError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
