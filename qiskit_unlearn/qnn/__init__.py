"""QNNs from (circuit, observables, backend): :func:`make_qnn`, the estimator routing hook
(:func:`routed_estimators`) and the job accounting routes use (``qiskit_unlearn.qnn.jobs``).
"""

from qiskit_unlearn.qnn.build import make_qnn
from qiskit_unlearn.qnn.routing import EstimatorRoute, current_route, routed_estimators

__all__ = ["EstimatorRoute", "current_route", "make_qnn", "routed_estimators"]
