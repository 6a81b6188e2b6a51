"""The executor contract and the bookkeeping every executor shares.

An executor runs a plan of :class:`~qiskit_unlearn.execute.units.Unit` s, each after the units
it waits for, and hands every result to ``on_result`` *in the driver process* as it arrives:
the driver alone writes the run directory, so workers need no shared file system. A unit
that raises is reported with its name; the units that wait for it are skipped, every other
unit still runs, and :class:`~qiskit_unlearn.execute.units.ExecutionError` lists the failures
at the end. One progress bar counts done, running and failed units whatever runs them.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from qiskit_unlearn.execute.units import ExecutionError, Unit, UnitFailure, dependents, order

#: ``on_result(unit, result)``: called in the driver as each unit finishes.
ResultHandler = Callable[[Unit, Any], None]


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """torch and Numba use ``threads`` threads inside the block (restored after): floating-point
    reductions depend on the thread count, so every executor runs units with the same one.

    Args:
        threads: the thread count inside the block (Numba's is capped at its maximum).

    Yields:
        Nothing; the limit holds while the ``with`` block runs.
    """
    import numba
    import torch

    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def describe(exc: BaseException) -> str:
    """One line for an error: its type and message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class Tracker:
    """Done / running / failed counts, failures and the units to skip, with one progress bar
    (shown only on a terminal)."""

    def __init__(self, units: Sequence[Unit], progress: bool, what: str) -> None:
        self.units = list(units)
        self.failures: list[UnitFailure] = []
        self.skip: set[str] = set()
        self.running = 0
        self.bar = tqdm(total=len(self.units), desc=what, unit="unit", leave=False,
                        disable=not (progress and sys.stderr.isatty()))
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix_str(f"running {self.running}, failed {len(self.failures)}",
                                 refresh=False)
        self.bar.refresh()

    def started(self) -> None:
        self.running += 1
        self._show()

    def finished(self) -> None:
        self.running -= 1
        self.bar.update()
        self._show()

    def failed(self, unit: Unit, reason: str) -> None:
        """``unit`` failed: record it and skip (and count as failed) every unit waiting for it."""
        self.failures.append(UnitFailure(unit.key, unit.name, reason))
        for key in sorted(dependents(self.units, unit.key) - self.skip):
            self.skip.add(key)
            waiting = next(u for u in self.units if u.key == key)
            self.failures.append(UnitFailure(key, waiting.name, f"skipped: it needs {unit.name}"))
            self.bar.update()
        self.finished()

    def close(self) -> None:
        self.bar.close()
        if self.failures:
            raise ExecutionError(self.failures)


class Executor(ABC):
    """Runs plans of units; ``threads`` is every unit's torch / Numba thread count.

    Subclasses implement ``_run`` (run units already in dependency order, reporting each
    start, result and failure to the tracker) and set :attr:`name`.

    Args:
        threads: torch / Numba threads of every unit, at least 1.

    Raises:
        ValueError: if ``threads`` < 1.
    """

    #: The name users pick it by (``--executor``).
    name = ""

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads

    def run(self, units: Sequence[Unit], on_result: ResultHandler, *, progress: bool = False,
            what: str = "units") -> None:
        """Run every unit of ``units``, each after the units it waits for.

        A unit that raises is recorded; the units waiting for it are skipped and every other
        unit still runs.

        Args:
            units: the plan; keys must be unique and every :class:`Ref` must name a unit of it.
            on_result: called in this (driver) process as ``on_result(unit, result)`` as each
                unit finishes.
            progress: show a progress bar (only on a terminal).
            what: the progress bar's label.

        Raises:
            ExecutionError: at the end, listing every unit that failed or was skipped.
            ValueError: for duplicate keys or unknown or cyclic dependencies.
        """
        planned = order(units)
        tracker = Tracker(planned, progress, what)
        try:
            self._run(planned, on_result, tracker)
        finally:
            tracker.bar.close()
        tracker.close()

    @abstractmethod
    def _run(self, units: list[Unit], on_result: ResultHandler, tracker: Tracker) -> None:
        """Run ``units`` (already in dependency order), reporting through ``tracker``."""

    def describe(self) -> dict[str, Any]:
        """What the run records about how it was executed (not part of its results).

        Returns:
            ``{"executor": name, "threads": threads}`` plus the executor's own settings.
        """
        return {"executor": self.name, "threads": self.threads}
