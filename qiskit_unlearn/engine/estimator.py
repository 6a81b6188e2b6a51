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

from collections.abc import Sequence

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.engine.lru import LRU
from qiskit_unlearn.engine.memory import Footprint, parse_memory_limit
from qiskit_unlearn.engine.observables import PauliTable, key_operator, observable_key
from qiskit_unlearn.engine.pubs import ExactEstimator
from qiskit_unlearn.engine.statevector import StatevectorProgram, state_dtype

__all__ = [
    "FastStatevectorEstimator",
    "cached_observable_key",
    "check_memory",
    "observable_key",
    "program_for",
    "table_for",
]


_PROGRAMS = LRU(64)
_TABLES = LRU(256)


def program_for(circuit: QuantumCircuit) -> StatevectorProgram:
    """The program of ``circuit`` (cached; the cache holds the circuit alive). Creating it only
    plans the circuit; the ``2**n`` tables are built by its first batch."""
    key = (id(circuit), len(circuit.data), circuit.num_parameters)
    entry = _PROGRAMS.get_or_make(key, lambda: (circuit, StatevectorProgram(circuit)))
    return entry[1]


_KEYS = LRU(1024)


def cached_observable_key(observable: SparsePauliOp) -> tuple:
    """:func:`observable_key`, memoized per object (QNNs pass the same operators every call)."""
    entry = _KEYS.get_or_make(id(observable), lambda: (observable, observable_key(observable)))
    if entry[0] is not observable:  # pragma: no cover - id reused after garbage collection
        entry = _KEYS[id(observable)] = (observable, observable_key(observable))
    return entry[1]


def table_for(keys: Sequence[tuple]) -> PauliTable:
    """A :class:`PauliTable` for observables given by :func:`observable_key` keys (cached)."""
    return _TABLES.get_or_make(
        tuple(keys), lambda: PauliTable([key_operator(k) for k in keys], keys[0][0]))


def check_memory(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                 memory_limit: int, *, adjoint: bool, vjp: bool = False,
                 float_precision: str = "double") -> Footprint:
    """Raise ``BackendError`` unless one parameter row of ``circuit`` fits ``memory_limit``.

    Only plans the circuit (instructions are checked too): nothing ``2**n``-sized is allocated.

    Args:
        circuit: The circuit to check.
        observables: The observables a batch evaluates.
        memory_limit: Bytes one batch may use.
        adjoint: Check an adjoint gradient (one co-state per observable) instead of a forward
            pass.
        vjp: Check a vector–Jacobian product (a single co-state) instead of a forward pass.
        float_precision: ``"double"`` (complex128 amplitudes) or ``"single"`` (complex64).

    Returns:
        The footprint of the task (bytes fixed plus bytes per row).

    Raises:
        ~qiskit_unlearn.errors.BackendError: If not even one parameter row fits; the message
            gives the bytes needed and the ways out.
        CircuitNotSupportedError: If the circuit has an instruction the engine cannot simulate.
    """
    table = PauliTable(list(observables), circuit.num_qubits)  # tables are built on first use
    footprint = program_for(circuit).footprint(table, adjoint=adjoint, vjp=vjp,
                                               dtype=state_dtype(float_precision))
    footprint.max_rows(memory_limit)
    return footprint


class FastStatevectorEstimator(ExactEstimator):
    """Exact batched statevector estimator (``precision > 0`` adds Gaussian noise, like
    ``StatevectorEstimator``, to emulate finite sampling).

    Args:
        default_precision: Precision used when a PUB or ``run`` gives none; 0 is exact.
        seed: Seed of the Gaussian sampling noise (None: unseeded).
        memory_limit: Bytes or a size such as ``"8GiB"`` that one batch may use; None is 75%
            of the available RAM (or ``$QUNLEARN_MEMORY_LIMIT``), read once here.
        float_precision: ``"double"`` (complex128 amplitudes, default) or ``"single"``
            (complex64: half the memory and traffic, about 1e-6 relative error on
            expectations).

    Raises:
        ~qiskit_unlearn.errors.BackendError: If ``memory_limit`` is not a positive size.
    """

    def __init__(self, *, default_precision: float = 0.0, seed: int | None = None,
                 memory_limit: int | str | None = None, float_precision: str = "double"):
        """Set up the estimator; the arguments are described in the class docstring."""
        super().__init__(default_precision, seed)
        self._seed = seed
        self.memory_limit = parse_memory_limit(memory_limit)
        self.float_precision = float_precision
        self.dtype = state_dtype(float_precision)

    def _expectations(self, circuit: QuantumCircuit, rows: np.ndarray,
                      keys: Sequence[tuple]) -> np.ndarray:
        return program_for(circuit).expectations(rows, table_for(keys), self.memory_limit,
                                                 self.dtype)
