"""Backends: where a model's circuits run, chosen by name.

Each backend is one module that registers a factory with :func:`register_backend`; the
:data:`BACKENDS` registry records what callers need to know about it (whether it sends jobs,
whether it is exact). :func:`qiskit_unlearn.qnn.make_qnn` resolves a :class:`BackendConfig` through
it, so the same model switches between exact simulation, Aer, noisy simulation and IBM Runtime
by changing one name.
"""

from qiskit_unlearn.backends.base import (
    BACKENDS,
    BackendConfig,
    BackendEntry,
    BackendError,
    QNNParts,
    available_backends,
    backend_entries,
    backend_entry,
    backend_sends_jobs,
    register_backend,
    resolve_backend,
)
from qiskit_unlearn.backends.noise import (
    build_noise_model,
    device_noise_model,
    fake_device_names,
    precision_for_shots,
    shots_for_precision,
)

# An annotation only (no new value): it gives the re-exported registry its reference entry.
#: The registry of backends, name -> :class:`BackendEntry` (filled by
#: :func:`register_backend`; the built-in backends are loaded on first lookup).
BACKENDS: dict

__all__ = [
    "BACKENDS",
    "BackendConfig",
    "BackendEntry",
    "BackendError",
    "QNNParts",
    "available_backends",
    "backend_entries",
    "backend_entry",
    "backend_sends_jobs",
    "build_noise_model",
    "device_noise_model",
    "fake_device_names",
    "precision_for_shots",
    "register_backend",
    "resolve_backend",
    "shots_for_precision",
]
