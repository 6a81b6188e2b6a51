"""Import every built-in backend module so that it registers itself."""

from qiskit_unlearn.backends import aer, ibm, ideal, noisy, statevector  # noqa: F401
