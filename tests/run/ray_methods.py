"""Unlearning methods that misbehave on purpose, registered in every Ray worker of the run
tests (``worker_process_setup_hook``) so a test can make a unit fail or kill its worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from qiskit_unlearn.unlearn import METHODS, register

MARKER = "QUNLEARN_TEST_KILL_MARKER"


def _fails(model: Any, data: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Always raises."""
    raise RuntimeError("deliberate failure")


def _dies_once(model: Any, data: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Kills its own worker process the first time it runs (the marker file remembers), then
    does nothing: Ray must retry the unit on a new worker."""
    marker = Path(os.environ[MARKER])
    if not marker.exists():
        marker.write_text("killed once", encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)
    return {}


def register_all() -> None:
    """Register both methods (idempotent: a worker may run the hook and import this twice)."""
    for name, fn in (("fails-on-purpose", _fails), ("dies-once", _dies_once)):
        if name not in METHODS:
            register(name, defaults={"epochs": 1}, family="test", changes="nothing",
                     reference="a test double")(fn)


def unregister_all() -> None:
    for name in ("fails-on-purpose", "dies-once"):
        METHODS.pop(name, None)
