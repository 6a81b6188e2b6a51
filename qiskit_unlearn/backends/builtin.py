"""Import every built-in backend module so that it registers itself."""

import importlib

for _name in ("statevector", "aer", "ibm"):
    try:
        importlib.import_module(f"qiskit_unlearn.backends.{_name}")
    except ModuleNotFoundError as exc:  # TEMP while modules are written
        if exc.name != f"qiskit_unlearn.backends.{_name}":
            raise
