"""``statevector``: the exact, fast default backend.

Forward passes run on :class:`~qiskit_unlearn.engine.FastStatevectorEstimator`, backward
passes on :class:`~qiskit_unlearn.engine.AdjointEstimatorGradient`; both are exact, so the
QNN is built with ``default_precision=0`` (``EstimatorQNN``'s own default would otherwise add
sampling noise to the forward pass only).

Option ``memory_limit`` (bytes or a size such as ``"8GiB"``; default 75% of the available RAM)
bounds every batch. A circuit whose single parameter row cannot fit is refused here, at model
construction, before any ``2**n`` table is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.base import QNNParts, check_options, register_backend
from qiskit_unlearn.engine import (
    AdjointEstimatorGradient,
    FastStatevectorEstimator,
    check_memory,
    parse_memory_limit,
)


@register_backend("statevector")
def statevector_backend(
    circuit: QuantumCircuit, observables: Sequence[SparsePauliOp], options: dict[str, Any]
) -> QNNParts:
    check_options("statevector", options, {"memory_limit": None})
    limit = parse_memory_limit(options.get("memory_limit"))
    # fails early, at model construction, on unsupported instructions or a circuit too wide
    check_memory(circuit, observables, limit, adjoint=True)
    estimator = FastStatevectorEstimator(memory_limit=limit)
    return QNNParts(
        estimator=estimator,
        gradient=AdjointEstimatorGradient(estimator),
        circuit=circuit,
        observables=list(observables),
        default_precision=0.0,
        info={"exact": True, "simulator": "batched statevector (qiskit-unlearn engine)",
              "gradient": "adjoint", "memory_limit": limit},
    )
