"""Fast estimator gradients: batched parameter shift, one primitive job per backward pass.

Modules, bottom up: ``validation`` (argument checks, shared with the engines' gradients),
``base`` (the shared ``run``), ``expressions`` and ``plan`` (the shift plan of a circuit),
``grouping`` (items to PUBs) and ``batched_param_shift`` (the gradient itself).
"""

from qiskit_unlearn.gradients.batched_param_shift import (
    BatchedParamShiftEstimatorGradient,
    PreparedGradient,
)

__all__ = ["BatchedParamShiftEstimatorGradient", "PreparedGradient"]
