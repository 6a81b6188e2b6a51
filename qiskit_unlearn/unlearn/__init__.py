"""Unlearning methods: a registry (:data:`METHODS`) of functions with one signature.

``unlearn(name, teacher, data, params)`` returns an :class:`UnlearnOutcome` with the unlearned
copy of the teacher. The contract: every method is ``fn(model, data, params) -> dict``, where
``model`` is a fresh copy of the teacher that the method changes in place, ``data`` an
:class:`UnlearnData` (retain, forget and validation data only, so no method can read the test
split) and ``params`` the method's defaults overridden by the caller, validated by
:func:`resolve_params` before the method runs. New methods join with :func:`register`.
"""

# Importing the method modules registers their methods in METHODS.
from qiskit_unlearn.unlearn import (  # noqa: F401  (imported for registration)
    ascent,
    dampening,
    distillation,
    relabel,
    retraining,
)
from qiskit_unlearn.unlearn.base import (
    METHODS,
    Checked,
    Method,
    UnlearnData,
    UnlearnError,
    UnlearnOutcome,
    clone_model,
    fresh_model,
    register,
    resolve_params,
    unlearn,
)

__all__ = [
    "METHODS",
    "Checked",
    "Method",
    "UnlearnData",
    "UnlearnError",
    "UnlearnOutcome",
    "clone_model",
    "fresh_model",
    "register",
    "resolve_params",
    "unlearn",
]
