"""``FastStatevectorEstimator``: an exact ``BaseEstimatorV2`` vectorized over parameter sets.

Drop-in for ``qiskit.primitives.StatevectorEstimator`` (same PUB semantics, broadcasting and
``precision`` behaviour) but it simulates all bindings of a PUB in one batched pass, compiles
each circuit once, and shares the simulated states between PUBs that have the same circuit
and parameter values — ``EstimatorQNN`` sends one such PUB per observable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, PrimitiveJob, PrimitiveResult, PubResult
from qiskit.primitives.containers import DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import SparseObservable, SparsePauliOp

from qiskit_unlearn.engine.observables import PauliTable
from qiskit_unlearn.engine.statevector import StatevectorProgram


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or_make(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


_PROGRAMS = _LRU(64)
_TABLES = _LRU(256)


def program_for(circuit: QuantumCircuit) -> StatevectorProgram:
    """The compiled program of ``circuit`` (cached; the cache holds the circuit alive)."""
    key = (id(circuit), len(circuit.data), circuit.num_parameters)
    entry = _PROGRAMS.get_or_make(key, lambda: (circuit, StatevectorProgram(circuit)))
    return entry[1]


def observable_key(observable: SparsePauliOp | SparseObservable) -> tuple:
    """A hashable key that is equal for equal Pauli sums."""
    if isinstance(observable, SparseObservable):
        observable = observable.as_paulis()
        terms = observable.to_sparse_list()
    else:
        terms = observable.simplify(atol=0).to_sparse_list()
    return (observable.num_qubits, tuple(sorted(
        (label, tuple(int(q) for q in qubits), complex(c)) for label, qubits, c in terms)))


_KEYS = _LRU(1024)


def cached_observable_key(observable: SparsePauliOp) -> tuple:
    """:func:`observable_key`, memoized per object (QNNs pass the same operators every call)."""
    entry = _KEYS.get_or_make(id(observable), lambda: (observable, observable_key(observable)))
    if entry[0] is not observable:  # pragma: no cover - id reused after garbage collection
        entry = _KEYS[id(observable)] = (observable, observable_key(observable))
    return entry[1]


def table_for(keys: Sequence[tuple]) -> PauliTable:
    """A :class:`PauliTable` for observables given by :func:`observable_key` keys (cached)."""

    def make() -> PauliTable:
        ops = [
            SparsePauliOp.from_sparse_list(
                [(label, list(qubits), c) for label, qubits, c in terms] or [("", [], 0.0)], n)
            for n, terms in keys
        ]
        return PauliTable(ops, keys[0][0])

    return _TABLES.get_or_make(tuple(keys), make)


class FastStatevectorEstimator(BaseEstimatorV2):
    """Exact batched statevector estimator (``precision > 0`` adds Gaussian noise, like
    ``StatevectorEstimator``, to emulate finite sampling)."""

    def __init__(self, *, default_precision: float = 0.0, seed: int | None = None):
        self._default_precision = default_precision
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def default_precision(self) -> float:
        return self._default_precision

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

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult[PubResult]:
        states: dict = {}
        return PrimitiveResult([self._run_pub(pub, states) for pub in pubs],
                               metadata={"version": 2})

    def _run_pub(self, pub: EstimatorPub, states: dict) -> PubResult:
        program = program_for(pub.circuit)
        values = pub.parameter_values.as_array(pub.circuit.parameters)
        pshape = values.shape[:-1]
        flat = values.reshape(-1, values.shape[-1]) if values.size else np.zeros(
            (int(np.prod(pshape, dtype=int)), 0))
        obs = pub.observables.sparse_observables_array()
        keys, obs_index = [], np.empty(obs.shape, dtype=np.int64)
        seen: dict = {}
        for idx, o in np.ndenumerate(obs):
            k = observable_key(o)
            obs_index[idx] = seen.setdefault(k, len(seen))
            if obs_index[idx] == len(keys):
                keys.append(k)
        table = table_for(keys)
        state_key = (id(pub.circuit), flat.shape, flat.tobytes())
        if state_key not in states:
            states[state_key] = program.states(flat)
        psi = states[state_key]
        evs_all = table.expectations(psi)  # (bindings, distinct observables)
        bind_index = np.arange(flat.shape[0]).reshape(pshape)
        b_idx, o_idx = np.broadcast_arrays(bind_index, obs_index)
        evs = evs_all[b_idx, o_idx]
        stds = np.zeros_like(evs)
        if pub.precision > 0:
            evs = self._rng.normal(evs, pub.precision)
            stds[...] = pub.precision
        data = DataBin(evs=evs, stds=stds, shape=evs.shape)
        return PubResult(data, metadata={"target_precision": pub.precision,
                                         "circuit_metadata": pub.circuit.metadata})
