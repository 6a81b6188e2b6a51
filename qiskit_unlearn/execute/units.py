"""Units of work: what an executor runs, and how units depend on each other.

A :class:`Unit` is a module-level function with plain, picklable arguments, so any executor
can run it anywhere (this process, a worker process, a Ray node). An argument that is another
unit's result is written :class:`Ref` ``(key)``: the executor waits for that unit and passes
its result in (through Ray's object store on a cluster). Every unit seeds itself from its
arguments (the config, the seed, an index), never from the order in which units run, so the
results are the same under every executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any


class ExecutionError(RuntimeError):
    """Units failed; the message names each one and why (the other units finished)."""

    def __init__(self, failures: Sequence[UnitFailure]) -> None:
        self.failures = list(failures)
        lines = [f"{f.label}: {f.reason}" for f in self.failures]
        super().__init__(f"{len(lines)} unit(s) of work failed (the others finished; run the "
                         "same command again to retry only these):\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Ref:
    """The result of the unit ``key``, as an argument of another unit.

    Attributes:
        key: the key of the unit whose result is passed in.
    """

    key: str


@dataclass(frozen=True)
class Unit:
    """One unit of work: ``fn(*args, **kwargs)`` once the units its :class:`Ref` arguments
    name have finished. ``key`` is unique in a plan; ``label`` names it to people.

    Attributes:
        key: the unit's key, unique in a plan.
        fn: a module-level (picklable) function.
        args: positional arguments: plain picklable values, or :class:`Ref` for another
            unit's result.
        kwargs: keyword arguments, likewise.
        label: the name shown in progress and error messages (empty: the key).
    """

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def name(self) -> str:
        """The label, or the key if there is none."""
        return self.label or self.key

    @property
    def deps(self) -> tuple[str, ...]:
        """Keys of the units this one waits for (its :class:`Ref` arguments)."""
        refs = [a.key for a in (*self.args, *self.kwargs.values()) if isinstance(a, Ref)]
        return tuple(dict.fromkeys(refs))

    def bind(self, results: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments with every :class:`Ref` replaced by ``results[ref.key]``.

        Args:
            results: the finished units' results by key; must hold every :attr:`deps` key.

        Returns:
            ``(args, kwargs)`` ready for ``fn``.
        """
        def value(a: Any) -> Any:
            return results[a.key] if isinstance(a, Ref) else a

        return tuple(value(a) for a in self.args), {k: value(v) for k, v in self.kwargs.items()}


@dataclass(frozen=True)
class UnitFailure:
    """A unit that raised (``reason``: the error), or was skipped because one it waits for
    failed.

    Attributes:
        key: the unit's key.
        label: the unit's name for people.
        reason: the error (type and message), or why the unit was skipped.
    """

    key: str
    label: str
    reason: str


def order(units: Sequence[Unit]) -> list[Unit]:
    """``units`` in an order where each comes after the units it waits for (stable: plan
    order wherever the dependencies allow).

    Args:
        units: the plan.

    Returns:
        The same units, dependencies first.

    Raises:
        ValueError: for duplicate keys, unknown or cyclic dependencies (programming errors).
    """
    by_key: dict[str, Unit] = {}
    for unit in units:
        if unit.key in by_key:
            raise ValueError(f"two units share the key {unit.key!r}")
        by_key[unit.key] = unit
    for unit in units:
        unknown = [d for d in unit.deps if d not in by_key]
        if unknown:
            raise ValueError(f"unit {unit.key!r} waits for unknown unit(s) {unknown}")
    sorter = TopologicalSorter({u.key: u.deps for u in units})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ValueError(f"units wait for each other in a cycle: {exc.args[1]}") from None
    position = {u.key: i for i, u in enumerate(units)}
    out: list[Unit] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        for key in ready:
            out.append(by_key[key])
            sorter.done(key)
    return out


def dependents(units: Iterable[Unit], failed: str) -> set[str]:
    """Keys of every unit that waits, directly or not, for the unit ``failed``."""
    units = list(units)
    out: set[str] = set()
    frontier = {failed}
    while frontier:
        frontier = {u.key for u in units if set(u.deps) & frontier} - out
        out |= frontier
    return out
