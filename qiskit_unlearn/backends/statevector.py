"""``statevector``: the exact, fast default backend.

Forward passes run on :class:`~qiskit_unlearn.engine.FastStatevectorEstimator`, backward
passes on :class:`~qiskit_unlearn.engine.AdjointEstimatorGradient`; both are exact, so the
QNN is built with ``default_precision=0`` (``EstimatorQNN``'s own default would otherwise add
sampling noise to the forward pass only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.base import QNNParts, check_options, register_backend
from qiskit_unlearn.engine import AdjointEstimatorGradient, FastStatevectorEstimator
from qiskit_unlearn.engine.compiler import compile_circuit


@register_backend("statevector")
def statevector_backend(
    circuit: QuantumCircuit, observables: Sequence[SparsePauliOp], options: dict[str, Any]
) -> QNNParts:
    check_options("statevector", options, {})
    compile_circuit(circuit)  # fail early, at model construction, on unsupported instructions
    estimator = FastStatevectorEstimator()
    return QNNParts(
        estimator=estimator,
        gradient=AdjointEstimatorGradient(estimator),
        circuit=circuit,
        observables=list(observables),
        default_precision=0.0,
        info={"exact": True, "simulator": "batched statevector (qiskit-unlearn engine)",
              "gradient": "adjoint"},
    )
