"""Import every built-in backend module so that it registers itself."""

from qiskit_unlearn.backends import statevector  # noqa: F401

try:  # modules written alongside; each registers its names on import
    from qiskit_unlearn.backends import aer  # noqa: F401
except ImportError as exc:  # pragma: no cover - only when the module is missing
    if "qiskit_unlearn.backends.aer" not in str(exc):
        raise
try:
    from qiskit_unlearn.backends import ibm  # noqa: F401
except ImportError as exc:  # pragma: no cover
    if "qiskit_unlearn.backends.ibm" not in str(exc):
        raise
