"""Experiment tracking: log a finished run or sweep directory to a tracking service.

``qunlearn run --track mlflow`` and ``qunlearn sweep --track mlflow`` log the folder once it
has finished; ``qunlearn track RUN_DIR`` logs one later (or again, after a failure). A tracker
only reads the folder: a run directory is a record, and tracking never rewrites it.

* ``tracking.records``: what a finished folder gives any tracker (:func:`read_directory` →
  :class:`Tracked`);
* ``tracking.base``: the :class:`Tracker` contract, the :data:`TRACKERS` registry and
  credential redaction (:func:`redact`);
* ``tracking.mlflow_tracker`` and ``tracking.mlflow_runs``: the ``mlflow`` entry (where to log
  and the checks; how a folder becomes MLflow runs).

A new tracker is one module with a ``@register_tracker("name")`` :class:`Tracker` subclass,
imported below. Tracking packages are imported only by :meth:`Tracker.check` and
:meth:`Tracker.log`, so this package loads without them.
"""

from qiskit_unlearn.tracking import mlflow_tracker  # noqa: F401  (registers "mlflow")
from qiskit_unlearn.tracking.base import (
    TRACKERS,
    Tracker,
    TrackingError,
    make_tracker,
    redact,
    register_tracker,
)
from qiskit_unlearn.tracking.records import Artifact, Row, Tracked, flatten, read_directory

__all__ = ["TRACKERS", "Artifact", "Row", "Tracked", "Tracker", "TrackingError", "flatten",
           "make_tracker", "read_directory", "redact", "register_tracker"]
