"""Exact batched engines: statevector and density-matrix ``EstimatorV2`` primitives with
reverse-mode (adjoint) gradients for QNNs, and zero-noise extrapolation over them."""

from qiskit_unlearn.engine.compiler import CircuitNotSupportedError, compile_circuit
from qiskit_unlearn.engine.density import DensityProgram
from qiskit_unlearn.engine.density_estimator import DensityMatrixEstimator, DensityMatrixGradient
from qiskit_unlearn.engine.estimator import FastStatevectorEstimator, check_memory
from qiskit_unlearn.engine.gradient import AdjointEstimatorGradient
from qiskit_unlearn.engine.memory import default_memory_limit, parse_memory_limit
from qiskit_unlearn.engine.statevector import StatevectorProgram
from qiskit_unlearn.engine.superop import NoiseNotSupportedError
from qiskit_unlearn.engine.zne import ZNEEstimator, ZNEGradient, extrapolation_weights

__all__ = [
    "AdjointEstimatorGradient",
    "CircuitNotSupportedError",
    "DensityMatrixEstimator",
    "DensityMatrixGradient",
    "DensityProgram",
    "FastStatevectorEstimator",
    "NoiseNotSupportedError",
    "StatevectorProgram",
    "ZNEEstimator",
    "ZNEGradient",
    "check_memory",
    "compile_circuit",
    "default_memory_limit",
    "extrapolation_weights",
    "parse_memory_limit",
]
