"""The executor contract, the same for every executor: in this process, in local worker
processes and on a (local) Ray cluster. Plans are small; what matters is that results,
ordering, failure reports and thread limits do not depend on what runs the units."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import execute_helpers as h
import numpy as np
import pytest

from qiskit_unlearn.execute import (
    ExecutionError,
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    Ref,
    Unit,
)

KINDS = ["in-process", "processes", "ray"]
MakeExecutor = Callable[..., Executor]


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest) -> MakeExecutor:
    """``make(threads=1)``: a fresh executor of the parametrised kind."""
    if request.param == "in-process":
        return lambda threads=1: InProcessExecutor(threads)
    if request.param == "processes":
        return lambda threads=1: ProcessExecutor(2, threads)
    request.getfixturevalue("ray_cluster")  # the running connection every RayExecutor uses
    from qiskit_unlearn.execute.cluster import RayExecutor

    return lambda threads=1: RayExecutor(threads=threads)


def collect(executor: Executor, units: list[Unit]) -> dict[str, Any]:
    got: dict[str, Any] = {}

    def on_result(unit: Unit, result: Any) -> None:
        assert unit.key not in got, f"{unit.key} handed over twice"
        got[unit.key] = result

    executor.run(units, on_result)
    return got


def dag() -> list[Unit]:
    """Fan-out from two seeded draws, torch in the middle, keyword Refs, fan-in at the end
    (listed out of dependency order on purpose)."""
    return [
        Unit("sum", h.total, (Ref("scaled-0"), Ref("scaled-1"), Ref("scaled-2"), Ref("a"))),
        Unit("a", h.draw, (1,)),
        Unit("b", h.draw, (2,)),
        *(Unit(f"product-{i}", h.torch_product, (Ref("a"), Ref("b") if i else Ref("a")))
          for i in range(3)),
        *(Unit(f"scaled-{i}", h.scale, (Ref(f"product-{i}"),),
               {"factor": i + 0.5, "shift": Ref("b")}, label=f"scaled {i}") for i in range(3)),
    ]


def test_results_are_the_same_under_every_executor(make: MakeExecutor) -> None:
    want = collect(InProcessExecutor(), dag())
    got = collect(make(), dag())
    assert got.keys() == want.keys() == {u.key for u in dag()}
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    assert got["sum"] == want["sum"]


def test_units_start_after_the_units_they_wait_for(make: MakeExecutor, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    units = [Unit("d", h.logged, (log, "d", Ref("b"), Ref("c"))),
             Unit("a", h.logged, (log, "a")),
             Unit("b", h.logged, (log, "b", Ref("a"))),
             Unit("c", h.logged, (log, "c", Ref("a"))),
             Unit("e", h.logged, (log, "e"))]
    got = collect(make(), units)
    assert got == {k: k for k in "abcde"}
    lines = Path(log).read_text().splitlines()
    at = {line: i for i, line in enumerate(lines)}
    assert len(at) == 10
    for unit in units:
        for dep in unit.deps:
            assert at[f"end {dep}"] < at[f"start {unit.key}"], (unit.key, dep)


def test_a_failing_unit_is_named_its_dependents_skipped_the_rest_finish(
        make: MakeExecutor) -> None:
    units = [Unit("a", h.draw, (1,)),
             Unit("bad", h.boom, (Ref("a"),), label="the bad unit"),
             Unit("after-bad", h.draw, (3,), {"n": Ref("bad")}),
             Unit("after-after", h.total, (Ref("after-bad"),)),
             Unit("fine", h.torch_product, (Ref("a"), Ref("a"))),
             Unit("also-fine", h.total, (Ref("fine"),))]
    got: dict[str, Any] = {}
    with pytest.raises(ExecutionError) as info:
        make().run(units, lambda u, r: got.__setitem__(u.key, r))
    assert set(got) == {"a", "fine", "also-fine"}
    failures = {f.key: f for f in info.value.failures}
    assert set(failures) == {"bad", "after-bad", "after-after"}
    assert len(info.value.failures) == 3  # each reported once
    assert failures["bad"].reason == "ValueError: boom: this unit always fails"
    assert failures["after-bad"].reason == "skipped: it needs the bad unit"
    assert failures["after-after"].reason == "skipped: it needs the bad unit"
    message = str(info.value)
    assert "the bad unit: ValueError: boom" in message
    assert "3 unit(s) of work failed" in message


def test_on_result_runs_in_the_driver(make: MakeExecutor) -> None:
    seen: list[tuple[int, int]] = []
    units = [Unit(f"pid-{i}", h.worker_pid, (i,)) for i in range(3)]
    executor = make()
    executor.run(units, lambda unit, pid: seen.append((os.getpid(), pid)))
    assert len(seen) == 3
    assert all(driver == os.getpid() for driver, _ in seen)
    workers = {pid for _, pid in seen}
    if isinstance(executor, InProcessExecutor):
        assert workers == {os.getpid()}
    else:  # the units themselves ran elsewhere
        assert os.getpid() not in workers


def test_the_thread_limit_holds_inside_units(make: MakeExecutor) -> None:
    import numba
    import torch

    before = torch.get_num_threads()
    got = collect(make(threads=2), [Unit("threads", h.threads)])
    assert got["threads"] == (2, min(2, numba.config.NUMBA_NUM_THREADS))
    assert torch.get_num_threads() == before  # the driver's own setting is left alone


@pytest.mark.parametrize(("units", "error"), [
    ([Unit("a", h.draw, (1,)), Unit("a", h.draw, (2,))], "two units share the key 'a'"),
    ([Unit("a", h.total, (Ref("nope"),))], "waits for unknown unit"),
    ([Unit("a", h.total, (Ref("b"),)), Unit("b", h.total, (Ref("a"),))], "cycle"),
])
def test_malformed_plans_are_value_errors(make: MakeExecutor, units: list[Unit],
                                          error: str) -> None:
    with pytest.raises(ValueError, match=error):
        make().run(units, lambda u, r: None)
