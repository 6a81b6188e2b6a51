"""What only the Ray executor does: connect (or start a cluster) and disconnect per run,
retry units whose worker died, cancel its tasks on Ctrl-C, and explain a missing Ray or an
unreachable cluster instead of raising ImportError."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import execute_helpers as h
import pytest

from qiskit_unlearn.execute import (
    ExecutionError,
    InProcessExecutor,
    ProcessExecutor,
    Ref,
    Unit,
    make_executor,
)
from qiskit_unlearn.execute.cluster import ClusterError


def run(executor: Any, units: list[Unit]) -> dict[str, Any]:
    got: dict[str, Any] = {}
    executor.run(units, lambda u, r: got.__setitem__(u.key, r))
    return got


def test_without_a_connection_each_run_starts_and_stops_its_own_cluster(
        tmp_path: Path) -> None:
    """In a fresh interpreter (this one may hold the tests' shared connection), which finds
    ``execute_helpers`` through ``sys.path`` alone: the workers find it as the driver does."""
    pytest.importorskip("ray")
    script = (f"import sys; sys.path.insert(0, {h.HERE!r}); import execute_helpers; "
              f"execute_helpers.own_cluster_runs({str(tmp_path)!r})")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert not out["connected_before"]
    assert out["runs"] == [{"same": True, "data": str(tmp_path), "connected_after": False}] * 2
    assert out["describe"] == {"executor": "ray", "threads": 1, "address": None,
                               "max_retries": 3}


@pytest.fixture
def ray_executor(ray_cluster: Any) -> type:
    from qiskit_unlearn.execute.cluster import RayExecutor

    return RayExecutor


def test_a_unit_whose_worker_was_killed_is_retried(ray_executor: type, tmp_path: Path) -> None:
    marker = str(tmp_path / "first-attempt")
    units = [Unit("dies", h.die_once, (marker, 21)),
             Unit("after", h.scale, (Ref("dies"),), {"factor": 0.5})]
    got = run(ray_executor(max_retries=1), units)
    assert os.path.exists(marker)  # the first attempt did die
    assert got == {"dies": 42, "after": 21.0}


def test_a_worker_that_keeps_dying_fails_its_unit(ray_executor: type, tmp_path: Path) -> None:
    units = [Unit("dies", h.die_once, (str(tmp_path / "first-attempt"), 21), label="doomed"),
             Unit("after", h.scale, (Ref("dies"),), {"factor": 0.5}),
             Unit("fine", h.draw, (1,))]
    got: dict[str, Any] = {}
    with pytest.raises(ExecutionError) as info:
        ray_executor(max_retries=0).run(units, lambda u, r: got.__setitem__(u.key, r))
    assert set(got) == {"fine"}
    assert [(f.key, f.reason) for f in info.value.failures] == [
        ("dies", "its worker process died 1 time (killed or out of memory); run the same "
                 "command again to retry"),
        ("after", "skipped: it needs doomed")]
    assert "doomed: its worker process died" in str(info.value)


def test_an_interrupt_cancels_the_running_tasks(ray_executor: type, tmp_path: Path) -> None:
    pid_file = str(tmp_path / "pid")
    units = [Unit("slow", h.sleeper, (pid_file, 120)),
             Unit("started", h.when_exists, (pid_file,))]

    def on_result(unit: Unit, result: Any) -> None:
        assert unit.key == "started" and result
        raise KeyboardInterrupt  # as Ctrl-C would, while "slow" runs

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ray_executor().run(units, on_result)
    assert time.monotonic() - start < 60
    pid = int(Path(pid_file).read_text())
    for _ in range(100):  # the worker running "slow" is killed
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the worker {pid} running the cancelled unit is still alive")


def test_describe_counts_the_nodes(ray_executor: type) -> None:
    assert ray_executor(threads=2).describe() == {
        "executor": "ray", "threads": 2, "address": None, "max_retries": 3, "nodes": 1}


def test_an_unreachable_cluster_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from qiskit_unlearn.execute.cluster import RayExecutor

    def refuse(**kwargs: Any) -> None:
        raise ConnectionError("ray client connection timeout")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ClusterError) as info:
        RayExecutor(address="ray://head.invalid:10001").run([Unit("a", h.draw, (1,))],
                                                            lambda u, r: None)
    message = str(info.value)
    assert "ray://head.invalid:10001" in message
    assert "ConnectionError: ray client connection timeout" in message
    assert "ray start --head" in message


def test_missing_ray_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.delitem(sys.modules, "qiskit_unlearn.execute.cluster")
    cluster = importlib.import_module("qiskit_unlearn.execute.cluster")  # imports without Ray

    for make in (cluster.RayExecutor, lambda: make_executor("ray", address="auto")):
        with pytest.raises(cluster.ClusterError) as info:
            make()
        assert not isinstance(info.value, ImportError)
        assert isinstance(info.value, ValueError)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert 'pip install -e ".[ray]"' in str(info.value)
        assert 'pip install "qiskit-unlearn[ray]"' in str(info.value)


def test_make_executor_picks_the_executor() -> None:
    assert type(make_executor()) is InProcessExecutor
    assert type(make_executor("local", jobs=1, threads=2)) is InProcessExecutor
    processes = make_executor("local", jobs=2)
    assert type(processes) is ProcessExecutor and processes.jobs == 2
    with pytest.raises(ValueError, match="--address names a Ray cluster; add --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        make_executor("dask")
    pytest.importorskip("ray")
    from qiskit_unlearn.execute.cluster import RayExecutor

    executor = make_executor("ray", address="auto", threads=2)
    assert type(executor) is RayExecutor
    assert (executor.address, executor.threads, executor.name) == ("auto", 2, "ray")
    with pytest.raises(ValueError, match="max_retries"):
        RayExecutor(max_retries=-1)
