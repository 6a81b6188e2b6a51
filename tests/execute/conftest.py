"""A real local Ray cluster for the executor tests, started once per module that asks for it
(start-up takes seconds) and shut down after that module, so no idle cluster outlives these
tests in a full run. Its workers get this folder on their path, so they import
``execute_helpers`` as the driver does.

Every Ray cluster these tests start (here or inside a ``RayExecutor``) listens on the loopback
address only: Ray's single-machine mode, read when ``ray`` is first imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from execute_helpers import HERE

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    path = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield ray
    finally:
        ray.shutdown()
