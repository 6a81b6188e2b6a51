"""What estimator jobs cost, and routes that count or log them (:func:`routed_estimators`).

They sit beside the routing hook, below every consumer: ``qunlearn run`` logs the jobs of
models on job-sending backends, ``qunlearn hw`` prices and journals hardware training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import PauliList

from qiskit_unlearn.backends.base import backend_sends_jobs
from qiskit_unlearn.storage import utc_now


@dataclass
class JobCost:
    """What a sequence of estimator jobs asks a device for.

    Attributes:
        jobs: Estimator jobs sent.
        pubs: PUBs in those jobs.
        parameter_sets: Parameter-value rows over all PUBs.
        circuit_executions: Parameter sets times measurement bases (qubit-wise commuting
            groups of the observables): the circuits a device actually runs.
    """

    jobs: int = 0
    pubs: int = 0
    parameter_sets: int = 0
    circuit_executions: int = 0

    def add(self, other: JobCost) -> None:
        """Add another cost to this one, in place.

        Args:
            other: The costs to add.
        """
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def shots(self, shots_per_execution: int) -> int:
        """Total shots at a given number of shots per circuit execution.

        Args:
            shots_per_execution: Shots per circuit execution.

        Returns:
            ``circuit_executions * shots_per_execution``.
        """
        return self.circuit_executions * shots_per_execution


_BASES: dict[tuple[str, ...], int] = {}


def measurement_bases(labels: Iterable[str]) -> int:
    """Qubit-wise commuting groups of Pauli ``labels``: the circuits a device runs per
    parameter set to estimate them all (cached; order and repeats do not matter)."""
    key = tuple(sorted(set(labels)))
    if key not in _BASES:
        _BASES[key] = len(PauliList(list(key)).group_qubit_wise_commuting())
    return _BASES[key]


def _bases(pub: EstimatorPub) -> int:
    return measurement_bases(label for obs in pub.observables.ravel().tolist() for label in obs)


def pubs_cost(pubs: Iterable[EstimatorPub]) -> JobCost:
    """The cost of one job holding ``pubs``: a device runs every parameter set in every
    measurement basis of its PUB's observables."""
    cost = JobCost(jobs=1)
    for pub in pubs:
        sets = int(np.prod(pub.parameter_values.shape, dtype=int))
        cost.pubs += 1
        cost.parameter_sets += sets
        cost.circuit_executions += sets * _bases(pub)
    return cost


def coerce_pubs(pubs: Iterable[EstimatorPubLike], precision: float | None) -> list[EstimatorPub]:
    return [EstimatorPub.coerce(pub, precision) for pub in pubs]


class RecordingEstimator(BaseEstimatorV2):
    """Passes jobs to ``estimator`` and adds their cost to ``cost``."""

    def __init__(self, estimator: BaseEstimatorV2, cost: JobCost) -> None:
        self.estimator, self.cost = estimator, cost

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> Any:
        coerced = coerce_pubs(pubs, precision)
        self.cost.add(pubs_cost(coerced))
        return self.estimator.run(coerced)


class CostRecorder:
    """A route for :func:`qiskit_unlearn.qnn.routed_estimators` that counts every job."""

    def __init__(self) -> None:
        self.cost = JobCost()

    def __call__(self, estimator: BaseEstimatorV2, backend: str) -> BaseEstimatorV2:
        return RecordingEstimator(estimator, self.cost)


class LoggingEstimator(BaseEstimatorV2):
    """Passes jobs to ``estimator`` and logs each job's id the moment it is accepted."""

    def __init__(self, estimator: BaseEstimatorV2, log: JobLog, backend: str) -> None:
        self.estimator, self.log, self.backend = estimator, log, backend

    @property
    def mode(self) -> Any:  # so backends.ibm.close_execution_mode finds the batch / session
        return getattr(self.estimator, "mode", None)

    @property
    def options(self) -> Any:
        return getattr(self.estimator, "options", None)

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> Any:
        coerced = coerce_pubs(pubs, precision)
        handle = self.estimator.run(coerced)
        self.log.record(handle.job_id(), self.backend, pubs_cost(coerced))
        return handle


class JobLog:
    """A route that appends every job's id and cost to a JSON-lines file before anyone waits
    on the job: ``qunlearn run`` on ``ibm`` / ``fake:`` backends keeps ``RUN_DIR/hardware/
    run-jobs.jsonl`` this way, so no hardware job of a run is ever unaccounted for."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __call__(self, estimator: BaseEstimatorV2, backend: str) -> BaseEstimatorV2 | None:
        if not backend_sends_jobs(backend):
            return None  # e.g. an exact evaluation backend: no hardware jobs to account for
        return LoggingEstimator(estimator, self, backend)

    def record(self, job_id: str, backend: str, cost: JobCost) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"job_id": job_id, "date": utc_now(), "backend": backend,
                           **asdict(cost)})
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
