"""qiskit-unlearn: machine unlearning for hybrid quantum-classical neural networks.

The quantum part of every model is a qiskit-machine-learning ``EstimatorQNN`` (wrapped in
``TorchConnector``) built by :func:`make_qnn`, which picks the estimator, gradient and
transpilation for the chosen backend.
"""

import os

# torch's and Numba's OpenMP thread pools share the cores; with the default active waiting the
# idle pool spins and steals them from the busy one (on 2 cores: several times slower CNN
# training). Passive waiting must be set before either runtime starts; users can override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Any

__version__ = "0.2.0"

__all__ = ["BackendConfig", "BackendError", "__version__", "available_backends", "make_qnn"]

_LAZY = {"BackendConfig": "qiskit_unlearn.backends.base",
         "BackendError": "qiskit_unlearn.backends.base",
         "available_backends": "qiskit_unlearn.backends.base",
         "make_qnn": "qiskit_unlearn.qnn"}


def __getattr__(name: str) -> Any:
    # Qiskit and torch load on first use, so 'qunlearn --help' starts at once.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
