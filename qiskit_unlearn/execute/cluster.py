"""Units as Ray tasks (``--executor ray``): on a local cluster started here, on a running one
(``--address auto``) or through a Ray client (``--address ray://HOST:PORT``).

Ray is an optional extra, imported only here and only when this executor is made, so the rest
of the package never needs it. A unit starts once every unit it waits for has finished; its
:class:`~qiskit_unlearn.execute.units.Ref` arguments are those units' ``ObjectRef`` s, so
results travel through Ray's object store, not through the driver. Results still come back
to the driver (``on_result`` writes the run directory there). A worker that dies (killed, out
of memory, its node lost) is retried up to ``max_retries`` times; an exception raised by a unit
is not retried: it would raise again.

Large NumPy arrays arrive read-only (zero-copy from the object store), as arguments and as
results: units must not modify their arguments in place (in this process they are shared
objects anyway); torch tensors arrive as writable copies.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from qiskit_unlearn.execute.base import Executor, ResultHandler, Tracker, describe, thread_limit
from qiskit_unlearn.execute.units import Ref, Unit

INSTALL_HINT = ('install the Ray extra: pip install -e ".[ray]" in a checkout, or '
                'pip install "qiskit-unlearn[ray]"')


class ClusterError(ValueError):
    """Ray is missing or the cluster cannot be reached; the message says how to fix it."""


def _import_ray() -> Any:
    """``ray``, or a :class:`ClusterError` naming the extra to install (not a traceback)."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--executor ray needs Ray, which is not installed; "
                           f"{INSTALL_HINT}") from None
    return ray


def _call(fn: Any, threads: int, names: tuple[str, ...], *values: Any) -> Any:
    """The Ray task body. Arguments arrive flat (positional ones, then the values of the keyword
    arguments ``names``) because Ray resolves only top-level ``ObjectRef`` arguments."""
    split = len(values) - len(names)
    with thread_limit(threads):
        return fn(*values[:split], **dict(zip(names, values[split:], strict=True)))


def _driver_paths() -> list[str]:
    """The driver's own import folders (not the interpreter's): workers on this machine get
    them so they import what the driver imports, as spawned local workers do."""
    system = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    out = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.curdir)
        if os.path.isdir(path) and not any(path.startswith(s + os.sep) or path == s
                                           for s in system):
            out.append(path)
    return list(dict.fromkeys(out))


class RayExecutor(Executor):
    """Units as Ray tasks, each asking for ``threads`` CPUs; worker deaths are retried
    ``max_retries`` times. ``address``: None starts a local cluster for each run (stopped
    after it; its workers get the driver's import path), ``auto`` joins the one started on
    this machine with ``ray start --head`` (or named by ``RAY_ADDRESS``),
    ``ray://HOST:PORT`` connects a Ray client. An existing connection (``ray.init`` done by the
    caller) is used as it is and left open."""

    name = "ray"

    def __init__(self, address: str | None = None, threads: int = 1,
                 max_retries: int = 3) -> None:
        super().__init__(threads)
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.ray = _import_ray()  # fail while the command line is read, not mid-run
        self.address = address
        self.max_retries = max_retries
        self._remote: Any = None

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "address": self.address, "max_retries": self.max_retries}
        if self.ray.is_initialized():
            try:
                out["nodes"] = sum(1 for n in self.ray.nodes() if n.get("Alive"))
            except Exception:  # a client connection may not list nodes: leave it out
                pass
        return out

    def _env_vars(self) -> dict[str, str]:
        """Environment of the workers of a connection made here: the driver's data folder and
        the thread count. (Set once per connection, not per task: every distinct task
        environment would need a fresh pool of workers, each importing torch again.)"""
        env = {"OMP_NUM_THREADS": str(self.threads)}
        if os.environ.get("QUNLEARN_DATA_DIR"):
            env["QUNLEARN_DATA_DIR"] = os.environ["QUNLEARN_DATA_DIR"]
        return env

    def _connect(self) -> bool:
        """Connect unless connected already; True if this call made the connection (the run
        then closes it, so a later run in the same process connects afresh)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        env = self._env_vars()
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:  # a local cluster: workers import what the driver imports
            paths = [*_driver_paths(), *filter(None, [os.environ.get("PYTHONPATH")])]
            if paths:
                env["PYTHONPATH"] = os.pathsep.join(paths)
            kwargs["include_dashboard"] = False
        where = self.address or "a new local cluster"
        try:  # "local": a new cluster even where RAY_ADDRESS or `ray start` name another
            ray.init(address=self.address or "local", runtime_env={"env_vars": env}, **kwargs)
        except Exception as exc:
            hint = ("start one first with `ray start --head` (then use --address auto), or leave "
                    "--address out to start a local cluster" if self.address else
                    "check that this machine can run Ray (`ray start --head` shows why not)")
            raise ClusterError(f"cannot connect to the Ray cluster at {where}: "
                               f"{describe(exc)}; {hint}") from None
        return True

    def _failure(self, exc: BaseException) -> str:
        """Why a task failed, in the user's terms: the unit's own error, or its worker's death."""
        ex = self.ray.exceptions
        died = (ex.WorkerCrashedError, ex.NodeDiedError, ex.LocalRayletDiedError,
                ex.OutOfMemoryError, ex.ObjectLostError)
        cause = exc.cause if isinstance(exc, ex.RayTaskError) else exc
        if isinstance(cause, died):
            times = self.max_retries + 1
            return (f"its worker process died {times} time{'s' * (times > 1)} (killed or out of "
                    "memory); run the same command again to retry")
        return describe(cause)

    def _run(self, units: list[Unit], on_result: ResultHandler, tracker: Tracker) -> None:
        ray = self.ray
        started = self._connect()
        try:
            self._schedule(units, on_result, tracker)
        finally:
            if started:
                ray.shutdown()

    def _schedule(self, units: list[Unit], on_result: ResultHandler, tracker: Tracker) -> None:
        """Submit each unit once its dependencies have succeeded (so a failure skips its
        dependents rather than failing them again inside Ray), then hand results over as they
        arrive."""
        ray = self.ray
        if self._remote is None:
            self._remote = ray.remote(_call)
        options = {"num_cpus": self.threads, "max_retries": self.max_retries,
                   "retry_exceptions": False}
        # A finished unit's ObjectRef is kept only while an unsubmitted unit still needs it.
        needed = {u.key: sum(u.key in w.deps for w in units) for u in units}
        done: dict[str, Any] = {}
        waiting = list(units)
        pending: dict[Any, Unit] = {}

        def release(unit: Unit) -> None:
            for dep in unit.deps:
                needed[dep] -= 1
                if not needed[dep]:
                    done.pop(dep, None)

        try:
            while waiting or pending:
                for unit in list(waiting):
                    if unit.key in tracker.skip:
                        waiting.remove(unit)
                        release(unit)
                    elif all(d in done for d in unit.deps):
                        waiting.remove(unit)
                        tracker.started()
                        try:
                            pending[self._submit(unit, done, options)] = unit
                        except Exception as exc:  # e.g. an argument Ray cannot serialise
                            tracker.failed(unit, describe(exc))
                        release(unit)
                if not pending:
                    break
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    tracker.failed(unit, self._failure(exc))
                    continue
                if needed[unit.key]:
                    done[unit.key] = ref
                on_result(unit, result)
                tracker.finished()
        except BaseException:  # Ctrl-C or on_result raised: stop what is still queued/running
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            raise

    def _submit(self, unit: Unit, done: dict[str, Any], options: dict[str, Any]) -> Any:
        """Start ``unit`` as a Ray task, its :class:`Ref` arguments replaced by ObjectRefs."""
        def value(a: Any) -> Any:
            return done[a.key] if isinstance(a, Ref) else a

        names = tuple(unit.kwargs)
        values = [*map(value, unit.args), *(value(unit.kwargs[k]) for k in names)]
        task = self._remote.options(name=unit.key, **options)
        return task.remote(unit.fn, self.threads, names, *values)
