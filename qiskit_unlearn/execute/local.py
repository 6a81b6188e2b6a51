"""Executors on this machine: in this process (the default) and in local worker processes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from qiskit_unlearn.execute.base import Executor, ResultHandler, Tracker, describe, thread_limit
from qiskit_unlearn.execute.units import ExecutionError, Unit, UnitFailure


class InProcessExecutor(Executor):
    """Every unit in this process, one after the other, in plan order.

    Args:
        threads: torch / Numba threads of every unit, at least 1.
    """

    name = "in-process"

    def _run(self, units: list[Unit], on_result: ResultHandler, tracker: Tracker) -> None:
        results: dict[str, Any] = {}
        for unit in units:
            if unit.key in tracker.skip:
                continue
            tracker.started()
            args, kwargs = unit.bind(results)
            try:
                with thread_limit(self.threads):
                    result = unit.fn(*args, **kwargs)
            except Exception as exc:  # reported with the unit's name; the others go on
                tracker.failed(unit, describe(exc))
                continue
            results[unit.key] = result
            on_result(unit, result)
            tracker.finished()


def _call(fn: Any, threads: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    with thread_limit(threads):
        return fn(*args, **kwargs)


class ProcessExecutor(Executor):
    """Units in ``jobs`` local worker processes (spawned: no state leaks from the driver).

    A unit starts as soon as the units it waits for have finished; results come back to this
    process. If a worker process dies, the run stops with an :class:`ExecutionError`.

    Args:
        jobs: the number of worker processes, at least 1.
        threads: torch / Numba threads of every unit, at least 1.

    Raises:
        ValueError: if ``jobs`` or ``threads`` < 1.
    """

    name = "processes"

    def __init__(self, jobs: int, threads: int = 1) -> None:
        super().__init__(threads)
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def describe(self) -> dict[str, Any]:
        """What the run records about how it was executed (not part of its results).

        Returns:
            ``{"executor": "processes", "threads": threads, "jobs": jobs}``.
        """
        return {**super().describe(), "jobs": self.jobs}

    def _run(self, units: list[Unit], on_result: ResultHandler, tracker: Tracker) -> None:
        results: dict[str, Any] = {}
        waiting = list(units)
        pending: dict[Future[Any], Unit] = {}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            try:
                while waiting or pending:
                    for unit in list(waiting):
                        if unit.key in tracker.skip:
                            waiting.remove(unit)
                        elif all(d in results for d in unit.deps):
                            waiting.remove(unit)
                            args, kwargs = unit.bind(results)
                            pending[pool.submit(_call, unit.fn, self.threads, args, kwargs)] = unit
                            tracker.started()
                    if not pending:
                        break
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: units.index(pending[f])):
                        unit = pending.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            raise ExecutionError([UnitFailure(
                                unit.key, unit.name, "its worker process died (killed, or out "
                                "of memory); the units that finished are kept")]) from None
                        except Exception as exc:
                            tracker.failed(unit, describe(exc))
                            continue
                        results[unit.key] = result
                        on_result(unit, result)
                        tracker.finished()
            except BaseException:
                for future in pending:
                    future.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
