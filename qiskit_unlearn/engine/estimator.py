"""``FastStatevectorEstimator``: an exact ``BaseEstimatorV2`` vectorized over parameter sets.

Drop-in for ``qiskit.primitives.StatevectorEstimator`` (same PUB semantics, broadcasting and
``precision`` behaviour) but it simulates all bindings of a PUB in one batched pass, compiles
each circuit once, and simulates PUBs that have the same circuit and parameter values once,
for all their observables together — ``EstimatorQNN`` sends one such PUB per observable.

Each batch stays under ``memory_limit`` (:mod:`~.memory`): rows are simulated in chunks that
fit, and a circuit whose single row cannot fit is refused with ``BackendError`` before any
``2**n`` array exists — at model construction already, through :func:`check_memory`.
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

from qiskit_unlearn.engine.memory import Footprint, parse_memory_limit
from qiskit_unlearn.engine.observables import PauliTable
from qiskit_unlearn.engine.statevector import StatevectorProgram, state_dtype


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
    """The program of ``circuit`` (cached; the cache holds the circuit alive). Creating it only
    plans the circuit; the ``2**n`` tables are built by its first batch."""
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


def check_memory(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                 memory_limit: int, *, adjoint: bool, vjp: bool = False,
                 float_precision: str = "double") -> Footprint:
    """Raise ``BackendError`` unless one parameter row of a forward pass (or, if ``adjoint``, an
    adjoint gradient; if ``vjp``, a vector–Jacobian product) of ``circuit`` for
    ``observables`` fits ``memory_limit`` bytes.

    Only plans the circuit (instructions are checked too): nothing ``2**n``-sized is allocated.
    """
    table = PauliTable(list(observables), circuit.num_qubits)  # tables are built on first use
    footprint = program_for(circuit).footprint(table, adjoint=adjoint, vjp=vjp,
                                               dtype=state_dtype(float_precision))
    footprint.max_rows(memory_limit)
    return footprint


def _observable_index(pub: EstimatorPub) -> tuple[list[tuple], np.ndarray]:
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


class FastStatevectorEstimator(BaseEstimatorV2):
    """Exact batched statevector estimator (``precision > 0`` adds Gaussian noise, like
    ``StatevectorEstimator``, to emulate finite sampling).

    ``memory_limit``: bytes or a size such as ``"8GiB"`` that one batch may use; ``None`` is
    75% of the available RAM (or ``$QUNLEARN_MEMORY_LIMIT``), read once here.
    ``float_precision``: ``"double"`` (complex128 amplitudes, default) or ``"single"``
    (complex64: half the memory and traffic, about 1e-6 relative error on expectations).
    """

    def __init__(self, *, default_precision: float = 0.0, seed: int | None = None,
                 memory_limit: int | str | None = None, float_precision: str = "double"):
        self._default_precision = default_precision
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self.memory_limit = parse_memory_limit(memory_limit)
        self.float_precision = float_precision
        self.dtype = state_dtype(float_precision)

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
        flats, indices, groups = [], [], {}
        for i, pub in enumerate(pubs):
            values = pub.parameter_values.as_array(pub.circuit.parameters)
            pshape = values.shape[:-1]
            flat = values.reshape(-1, values.shape[-1]) if values.size else np.zeros(
                (int(np.prod(pshape, dtype=int)), 0))
            flats.append((flat, pshape))
            indices.append(_observable_index(pub))
            groups.setdefault((id(pub.circuit), flat.shape, flat.tobytes()), []).append(i)
        evs_of: dict[int, np.ndarray] = {}
        for members in groups.values():  # one simulation per circuit and parameter values
            union: dict[tuple, int] = {}
            for i in members:
                for key in indices[i][0]:
                    union.setdefault(key, len(union))
            program = program_for(pubs[members[0]].circuit)
            evs_all = program.expectations(flats[members[0]][0], table_for(list(union)),
                                           self.memory_limit, self.dtype)
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
