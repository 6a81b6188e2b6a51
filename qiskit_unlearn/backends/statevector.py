"""``statevector``: the exact, fast default backend.

Forward passes run on :class:`~qiskit_unlearn.engine.FastStatevectorEstimator`, backward
passes on :class:`~qiskit_unlearn.engine.AdjointEstimatorGradient`; both are exact, so the
QNN is built with ``default_precision=0`` (``EstimatorQNN``'s own default would otherwise add
sampling noise to the forward pass only).

Option ``memory_limit`` (bytes or a size such as ``"8GiB"``; default 75% of the available RAM)
bounds every batch. A circuit whose single parameter row cannot fit is refused here, at model
construction, before any ``2**n`` table is built. Option ``precision`` is ``"double"``
(complex128, default) or ``"single"`` (complex64: half the memory, for 20+ qubits).

Torch backward passes use the vector–Jacobian product (:mod:`qiskit_unlearn.vjp`): one
reverse sweep with a single co-state per row, whatever the number of outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.base import BackendError, QNNParts, check_options, register_backend
from qiskit_unlearn.engine import (
    AdjointEstimatorGradient,
    FastStatevectorEstimator,
    check_memory,
    parse_memory_limit,
)
from qiskit_unlearn.engine.statevector import DTYPES as PRECISIONS


@register_backend("statevector", exact=True)
def statevector_backend(
    circuit: QuantumCircuit, observables: Sequence[SparsePauliOp], options: dict[str, Any]
) -> QNNParts:
    check_options("statevector", options, {"memory_limit": None, "precision": "double"})
    limit = parse_memory_limit(options.get("memory_limit"))
    precision = options.get("precision", "double")
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise BackendError(
            f"statevector option 'precision' is the floating-point precision of the amplitudes, "
            f"one of {list(PRECISIONS)}, got {precision!r} (for sampling noise use backend "
            "'aer' with shots=N)")
    # fails early, at model construction, on unsupported instructions or a circuit too wide
    check_memory(circuit, observables, limit, adjoint=False, vjp=True, float_precision=precision)
    estimator = FastStatevectorEstimator(memory_limit=limit, float_precision=precision)
    return QNNParts(
        estimator=estimator,
        gradient=AdjointEstimatorGradient(estimator),
        circuit=circuit,
        observables=list(observables),
        default_precision=0.0,
        info={"exact": True, "simulator": "batched statevector (qiskit-unlearn engine)",
              "gradient": "adjoint (vector-Jacobian product)", "memory_limit": limit,
              "precision": precision},
        vjp=True,
    )
