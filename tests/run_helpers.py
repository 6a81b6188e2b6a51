"""A tiny finished Iris run for the tests that work on run directories (hardware, sweeps).

Imported as ``from run_helpers import ...`` (the root ``conftest.py`` puts this folder on
``sys.path``). Two qubits, one layer, three epochs: seconds to train, yet a real run.
"""

from __future__ import annotations

from pathlib import Path

TINY_IRIS = """
[experiment]
name = "tiny-hw"
seeds = [0]
[data]
dataset = "iris"
val_size = 0.2
preprocess = "pca-angles"
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
head_hidden = 8
[train]
epochs = 3
lr = 0.1
batch_size = 16
patience = 3
[[scenario]]
kind = "class"
classes = [0]
[unlearn]
methods = ["retrain", "ga"]
[unlearn.params.ga]
epochs = 1
"""


def finished_tiny_run(root: Path, config: str = TINY_IRIS) -> Path:
    """Run ``config`` into ``root/run`` (no cache, no report) and return the run directory."""
    from qiskit_unlearn.config import load_config
    from qiskit_unlearn.run import run_experiment

    (root / "tiny.toml").write_text(config, encoding="utf-8")
    return run_experiment(load_config(root / "tiny.toml"), root / "run", cache_dir=None,
                          progress=False, echo=lambda *_: None, report=None)
