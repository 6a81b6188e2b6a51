"""qiskit-unlearn: machine unlearning for hybrid quantum-classical neural networks.

The quantum part of every model is a qiskit-machine-learning ``EstimatorQNN`` (wrapped in
``TorchConnector``) built by :func:`make_qnn`, which picks the estimator, gradient and
transpilation for the chosen backend.
"""

from qiskit_unlearn.backends.base import BackendConfig, BackendError, available_backends
from qiskit_unlearn.qnn import make_qnn

__version__ = "0.1.0"

__all__ = ["BackendConfig", "BackendError", "__version__", "available_backends", "make_qnn"]
