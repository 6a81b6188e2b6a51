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
    """Make the executor the command line asks for.

    ``local`` with ``jobs = 1`` runs in this process, with ``jobs > 1`` in that many worker
    processes; ``ray`` runs on a Ray cluster (an optional extra).

    Args:
        executor: ``"local"`` or ``"ray"`` (see :data:`EXECUTORS`).
        jobs: worker processes of the local executor (ignored by ``ray``).
        threads: torch / Numba threads of every unit.
        address: the Ray cluster: ``auto``, ``ray://HOST:PORT``, or None for a local one
            started here; only with ``ray``.

    Returns:
        An :class:`InProcessExecutor`, a :class:`ProcessExecutor` or a Ray executor.

    Raises:
        ValueError: for an unknown executor, an ``address`` without ``ray``, or an invalid
            ``jobs`` or ``threads``.
    """
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
