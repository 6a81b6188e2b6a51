"""A run on a real local Ray cluster (started here, 2 CPUs): the same bytes as in-process, a
worker killed mid-unit is retried, and a method that raises is named while the others finish."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import ray_methods
from test_execution import CONFIG, _cfg, _rows

from qiskit_unlearn.execute import ExecutionError
from qiskit_unlearn.execute.cluster import RayExecutor
from qiskit_unlearn.run import run_experiment

ray = pytest.importorskip("ray")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    marker = tmp_path_factory.mktemp("kill") / "marker"
    path = os.pathsep.join([str(Path(__file__).parent), *sys.path])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, ray_methods.MARKER: str(marker)},
                          "worker_process_setup_hook": "ray_methods.register_all"})
    ray_methods.register_all()  # the driver validates configs naming them
    try:
        yield marker
    finally:
        ray.shutdown()
        ray_methods.unregister_all()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, cluster):
    root = tmp_path_factory.mktemp("in-process")
    return run_experiment(_cfg(root), root / "run", cache_dir=None, progress=False,
                          echo=lambda *_: None)


def _run(tmp_path, text=CONFIG):
    return run_experiment(_cfg(tmp_path, text), tmp_path / "run", cache_dir=None,
                          progress=False, echo=lambda *_: None, executor=RayExecutor())


def test_ray_gives_the_same_results_as_one_process(in_process, tmp_path):
    run = _run(tmp_path)
    assert _rows(run / "results.csv") == _rows(in_process / "results.csv")
    manifest = (run / "manifest.json").read_text()
    assert '"executor": "ray"' in manifest and '"nodes": 1' in manifest


def test_a_worker_killed_during_a_unit_is_retried_and_changes_nothing(cluster, in_process,
                                                                       tmp_path):
    text = CONFIG.replace('"finetune", "scrub"]', '"finetune", "dies-once", "scrub"]')
    run = _run(tmp_path, text)
    assert cluster.read_text() == "killed once"  # the unit's first worker really died
    rows = _rows(run / "results.csv")
    assert [r for r in rows if r["method"] != "dies-once"] == _rows(in_process / "results.csv")
    assert {r["scenario"] for r in rows if r["method"] == "dies-once"} == {"class-0",
                                                                          "subset-0.1"}


def test_a_method_that_raises_is_named_and_the_others_finish(tmp_path):
    text = CONFIG.replace('"finetune", "scrub"]', '"finetune", "fails-on-purpose", "scrub"]')
    with pytest.raises(ExecutionError) as err:
        _run(tmp_path, text)
    message = str(err.value)
    assert "fails-on-purpose (seed 0, class-0): RuntimeError: deliberate failure" in message
    assert len(err.value.failures) == 2  # one per scenario; nothing waits for a method
    done = sorted(p.name for p in (tmp_path / "run" / "unlearned").glob("*.pt"))
    assert len(done) == 2 * 3  # ga, finetune and scrub in both scenarios
