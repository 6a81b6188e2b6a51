"""Exceptions shared across layers.

``BackendError`` lives here, below every layer, so that the exact engine (which must not import
:mod:`qiskit_unlearn.backends`) can raise the same error the backends do, e.g. when a circuit
does not fit in memory. :mod:`qiskit_unlearn.backends.base` re-exports it.
"""

from __future__ import annotations


class BackendError(ValueError):
    """A backend name, option or device that cannot be used, with the fix in the message."""


class RunDirError(ValueError):
    """A run directory that cannot be used as asked; the message says why and what to do."""
