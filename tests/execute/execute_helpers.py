"""Unit functions for the executor tests: module-level, so spawned and Ray workers import them
(``execute_helpers``: a unique name, as every test folder's helper module has)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

HERE = str(Path(__file__).resolve().parent)


def draw(seed: int, n: int = 16) -> np.ndarray:
    """A random matrix seeded from the arguments alone."""
    return np.random.default_rng(seed).standard_normal((n, n))


def torch_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``tanh(a @ b)`` through torch (its thread count is the executor's)."""
    import torch

    return torch.tanh(torch.from_numpy(a) @ torch.from_numpy(b)).numpy()


def scale(x: np.ndarray, *, factor: float, shift: np.ndarray | None = None) -> np.ndarray:
    return x * factor + (0.0 if shift is None else shift)


def total(*parts: np.ndarray) -> float:
    """Fan-in: one number from many results."""
    return float(sum(np.sum(p**2) for p in parts))


def boom(x: object) -> None:
    raise ValueError("boom: this unit always fails")


def worker_pid(x: object = None) -> int:
    return os.getpid()


def threads() -> tuple[int, int]:
    """The torch and Numba thread counts inside the unit."""
    import numba
    import torch

    return torch.get_num_threads(), numba.get_num_threads()


def logged(log: str, key: str, *deps: object) -> str:
    """Writes ``start``/``end`` lines for ``key`` to ``log`` (order checks across processes)."""
    with open(log, "a") as f:
        f.write(f"start {key}\n")
    time.sleep(0.05)
    with open(log, "a") as f:
        f.write(f"end {key}\n")
    return key


def die_once(marker: str, value: int) -> int:
    """SIGKILLs its own worker on the first attempt (``marker`` absent), then returns."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 2


def env(name: str) -> str | None:
    """An environment variable as the worker sees it."""
    return os.environ.get(name)


def sleeper(pid_file: str, seconds: float) -> str:
    """Writes its worker's pid to ``pid_file``, then sleeps (an interruptible long unit)."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "slept"


def when_exists(path: str, timeout: float = 60.0) -> bool:
    """Waits until ``path`` exists (another unit has started)."""
    end = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.05)
    return os.path.exists(path)


def own_cluster_runs(data_dir: str) -> None:
    """Two RayExecutor runs without a connection (in a fresh interpreter, for the tests):
    each starts a local cluster and stops it again. Prints what the test checks as JSON."""
    import json

    import ray

    from qiskit_unlearn.execute import InProcessExecutor, Ref, Unit
    from qiskit_unlearn.execute.cluster import RayExecutor

    os.environ["QUNLEARN_DATA_DIR"] = data_dir
    units = [Unit("a", draw, (1,)), Unit("p", torch_product, (Ref("a"), Ref("a"))),
             Unit("data", env, ("QUNLEARN_DATA_DIR",))]
    want: dict[str, object] = {}
    InProcessExecutor().run(units, lambda u, r: want.__setitem__(u.key, r))
    executor = RayExecutor()
    out: dict[str, object] = {"connected_before": ray.is_initialized(), "runs": []}
    for _ in range(2):
        got: dict[str, object] = {}
        executor.run(units, lambda u, r, got=got: got.__setitem__(u.key, r))
        out["runs"].append({"same": bool((got["p"] == want["p"]).all()), "data": got["data"],
                            "connected_after": ray.is_initialized()})
    out["describe"] = executor.describe()
    print(json.dumps(out))
