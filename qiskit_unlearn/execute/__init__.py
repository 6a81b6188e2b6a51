"""One execution layer for every unit of work: in this process (the default), in local worker
processes (``--jobs N``) or on a Ray cluster (``--executor ray``), with the same results.

Plans are lists of :class:`Unit` (a module-level function and plain arguments; :class:`Ref`
arguments wait for other units). :func:`make_executor` picks the executor from the command
line's words.
"""

from __future__ import annotations

from qiskit_unlearn.execute.base import Executor, ResultHandler, thread_limit
from qiskit_unlearn.execute.local import InProcessExecutor, ProcessExecutor
from qiskit_unlearn.execute.units import ExecutionError, Ref, Unit, UnitFailure, order

#: ``--executor`` choices.
EXECUTORS = ("local", "ray")


def make_executor(executor: str = "local", *, jobs: int = 1, threads: int = 1,
                  address: str | None = None) -> Executor:
    """``local`` with ``jobs = 1``: this process; ``jobs > 1``: that many worker processes;
    ``ray``: a Ray cluster (``address``: ``auto``, ``ray://HOST:PORT``, or None for a local
    one started here)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "ray":
        from qiskit_unlearn.execute.cluster import RayExecutor

        return RayExecutor(address=address, threads=threads)
    if address is not None:
        raise ValueError("--address names a Ray cluster; add --executor ray")
    return ProcessExecutor(jobs, threads) if jobs > 1 else InProcessExecutor(threads)


__all__ = ["EXECUTORS", "ExecutionError", "Executor", "InProcessExecutor", "ProcessExecutor",
           "Ref", "ResultHandler", "Unit", "UnitFailure", "make_executor", "order",
           "thread_limit"]
