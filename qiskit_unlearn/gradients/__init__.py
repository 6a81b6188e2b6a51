"""Fast estimator gradients: batched parameter shift, one primitive job per backward pass."""

from qiskit_unlearn.gradients.batched_param_shift import (
    BatchedParamShiftEstimatorGradient,
    PreparedGradient,
)

__all__ = ["BatchedParamShiftEstimatorGradient", "PreparedGradient"]
