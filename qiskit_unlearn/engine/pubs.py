"""The PUB handling both exact estimators share (statevector and density matrix).

A PUB's bindings are simulated as one batch of rows, and PUBs with the same circuit and
values — ``EstimatorQNN`` sends one per observable — are simulated once for the union of their
observables. The values are then broadcast back to each PUB's shape, with Gaussian noise of
width ``precision`` when it is positive, like Qiskit's reference estimators. Subclasses only
say how to simulate one batch (:meth:`ExactEstimator._expectations`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, PrimitiveJob, PrimitiveResult, PubResult
from qiskit.primitives.containers import DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike

from qiskit_unlearn.engine.observables import observable_key

__all__ = ["ExactEstimator", "observable_index"]


def observable_index(pub: EstimatorPub) -> tuple[list[tuple], np.ndarray]:
    """The PUB's distinct observable keys and, per observable entry, its index among them."""
    obs = pub.observables.sparse_observables_array()
    keys: list[tuple] = []
    seen: dict[tuple, int] = {}
    index = np.empty(obs.shape, dtype=np.int64)
    for idx, o in np.ndenumerate(obs):
        key = observable_key(o)
        index[idx] = seen.setdefault(key, len(seen))
        if index[idx] == len(keys):
            keys.append(key)
    return keys, index


class ExactEstimator(BaseEstimatorV2):
    """A ``BaseEstimatorV2`` over an exact batched simulator (``precision > 0`` adds Gaussian
    noise of that width, seeded by ``seed``, to emulate finite sampling)."""

    def __init__(self, default_precision: float = 0.0, seed: int | None = None) -> None:
        self._default_precision = default_precision
        self._rng = np.random.default_rng(seed)

    @property
    def default_precision(self) -> float:
        return self._default_precision

    @abstractmethod
    def _expectations(self, circuit: QuantumCircuit, rows: np.ndarray, keys: Sequence[tuple],
                      **simulate: Any) -> np.ndarray:
        """Exact values ``(rows, observables)`` of ``circuit`` at parameter ``rows`` for the
        observables of ``keys`` (:func:`~.observables.observable_key`)."""

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
            ) -> PrimitiveJob[PrimitiveResult[PubResult]]:
        if precision is None:
            precision = self._default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        for i, pub in enumerate(coerced):
            if pub.precision < 0:
                raise ValueError(f"pub {i} has negative precision {pub.precision}")
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[EstimatorPub], **simulate: Any) -> PrimitiveResult[PubResult]:
        """One simulation per circuit and parameter values; ``simulate`` goes to each."""
        flats, indices, groups = [], [], {}
        for i, pub in enumerate(pubs):
            values = pub.parameter_values.as_array(pub.circuit.parameters)
            pshape = values.shape[:-1]
            flat = values.reshape(-1, values.shape[-1]) if values.size else np.zeros(
                (int(np.prod(pshape, dtype=int)), 0))
            flats.append((flat, pshape))
            indices.append(observable_index(pub))
            groups.setdefault((id(pub.circuit), flat.shape, flat.tobytes()), []).append(i)
        evs_of: dict[int, np.ndarray] = {}
        for members in groups.values():
            union: dict[tuple, int] = {}
            for i in members:
                for key in indices[i][0]:
                    union.setdefault(key, len(union))
            evs_all = self._expectations(pubs[members[0]].circuit, flats[members[0]][0],
                                         list(union), **simulate)
            for i in members:
                evs_of[i] = evs_all[:, [union[key] for key in indices[i][0]]]
        return PrimitiveResult(
            [self._result(pub, evs_of[i], flats[i][1], indices[i][1])
             for i, pub in enumerate(pubs)], metadata={"version": 2})

    def _result(self, pub: EstimatorPub, evs_all: np.ndarray, pshape: tuple,
                obs_index: np.ndarray) -> PubResult:
        """Broadcast ``evs_all`` (bindings, distinct observables) to the PUB's shape."""
        bind_index = np.arange(evs_all.shape[0]).reshape(pshape)
        b_idx, o_idx = np.broadcast_arrays(bind_index, obs_index)
        evs = evs_all[b_idx, o_idx]
        stds = np.zeros_like(evs)
        if pub.precision > 0:
            evs = self._rng.normal(evs, pub.precision)
            stds[...] = pub.precision
        data = DataBin(evs=evs, stds=stds, shape=evs.shape)
        return PubResult(data, metadata={"target_precision": pub.precision,
                                         "circuit_metadata": pub.circuit.metadata})
