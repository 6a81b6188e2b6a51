"""Exact batched statevector engine: an ``EstimatorV2`` and an adjoint gradient for QNNs."""

from qiskit_unlearn.engine.compiler import CircuitNotSupportedError, compile_circuit
from qiskit_unlearn.engine.estimator import FastStatevectorEstimator, check_memory
from qiskit_unlearn.engine.gradient import AdjointEstimatorGradient
from qiskit_unlearn.engine.memory import default_memory_limit, parse_memory_limit
from qiskit_unlearn.engine.statevector import StatevectorProgram

__all__ = [
    "AdjointEstimatorGradient",
    "CircuitNotSupportedError",
    "FastStatevectorEstimator",
    "StatevectorProgram",
    "check_memory",
    "compile_circuit",
    "default_memory_limit",
    "parse_memory_limit",
]
