"""Exceptions shared across layers.

``ConfigError`` lives here so that every layer validating a part of a config (the config
schema, the sweep section, the run's preflight) raises the same error without importing each
other.

``BackendError`` lives here, below every layer, so that the exact engine (which must not import
:mod:`qiskit_unlearn.backends`) can raise the same error the backends do, e.g. when a circuit
does not fit in memory. :mod:`qiskit_unlearn.backends` re-exports it.
"""

from __future__ import annotations

__all__ = ["BackendError", "ConfigError", "RunDirError"]


class BackendError(ValueError):
    """A backend name, option or device that cannot be used, with the fix in the message."""


class RunDirError(ValueError):
    """A run directory that cannot be used as asked; the message says why and what to do."""


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and the fix."""
