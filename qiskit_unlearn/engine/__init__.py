"""Exact batched statevector engine: an ``EstimatorV2`` and an adjoint gradient for QNNs."""

from qiskit_unlearn.engine.compiler import CircuitNotSupportedError, compile_circuit
from qiskit_unlearn.engine.estimator import FastStatevectorEstimator
from qiskit_unlearn.engine.gradient import AdjointEstimatorGradient
from qiskit_unlearn.engine.statevector import StatevectorProgram

__all__ = [
    "AdjointEstimatorGradient",
    "CircuitNotSupportedError",
    "FastStatevectorEstimator",
    "StatevectorProgram",
    "compile_circuit",
]
