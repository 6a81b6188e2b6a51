"""A small, fast unlearning setup shared by the method tests: Iris on 2-qubit models.

Teachers are trained once per session; the ``class`` scenario forgets every training sample of
class 0. Tests get a fresh :class:`UnlearnData` each time (methods log into it) and the test
split only for their assertions (methods never see it). Plain helpers live in
``unlearn_helpers.py`` (a unique module name: several test folders have a conftest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from qiskit_unlearn.data import load_dataset, make_preprocessor, split_dataset
from qiskit_unlearn.models import build_model
from qiskit_unlearn.scenarios import Scenario, make_scenario
from qiskit_unlearn.train import TrainConfig, evaluate, train
from qiskit_unlearn.unlearn import UnlearnData

SEED = 0


@dataclass
class Setup:
    teacher: torch.nn.Module
    scenario: Scenario
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    num_classes: int

    def data(self) -> UnlearnData:
        return UnlearnData(self.scenario.retain, self.scenario.forget, self.val,
                           self.num_classes, seed=SEED)

    def accuracy(self, model: torch.nn.Module, split: str) -> float:
        xy = {"retain": self.scenario.retain, "forget": self.scenario.forget,
              "val": self.val, "test": self.test}[split]
        return evaluate(model, xy)["accuracy"]


def _prepare(kind: str, *, classes: list[int] | None, preprocessor: tuple[str, dict],
             model: tuple[str, dict], config: TrainConfig) -> Setup:
    """Split Iris, fit the preprocessor on the training split, build the scenario, train."""
    splits = split_dataset(load_dataset("iris", classes=classes), test_size=0.2, val_size=0.2,
                           seed=SEED)
    pre = make_preprocessor(preprocessor[0], **preprocessor[1])
    pre.fit(splits.train[0])
    tr, va, te = ((pre.transform(x).astype(np.float32), y)
                  for x, y in (splits.train, splits.val, splits.test))
    sc = make_scenario(kind, tr, te, seed=SEED, **{"subset": {"fraction": 0.1},
                                                    "class": {"classes": [0]}}[kind])
    teacher = build_model(model[0], **model[1], seed=SEED)
    train(teacher, (sc.train_x, sc.train_y), va, config, progress=False)
    return Setup(teacher, sc, va, te, model[1]["num_classes"])


def _hybrid(kind: str) -> Setup:
    return _prepare(kind, classes=None,
                    preprocessor=("pca-angles", {"n_components": 2,
                                                 "feature_range": (-np.pi / 2, np.pi / 2)}),
                    model=("hybrid-pca", {"num_qubits": 2, "num_classes": 3, "layers": 1,
                                          "head_hidden": 8}),
                    config=TrainConfig(epochs=25, lr=0.05, batch_size=16, patience=None,
                                       seed=SEED))


@pytest.fixture(scope="session")
def class_setup() -> Setup:
    """Hybrid teacher trained on all of Iris' training split; forget set = every class-0 sample."""
    return _hybrid("class")


@pytest.fixture(scope="session")
def subset_setup() -> Setup:
    """Same teacher recipe; forget set = a stratified 10 % random subset."""
    return _hybrid("subset")


@pytest.fixture(scope="session")
def vqc_setup() -> Setup:
    """A pure amplitude-encoded VQC on Iris classes 0 and 1; forget set = every class-0 sample."""
    return _prepare("class", classes=[0, 1], preprocessor=("amplitude", {"num_qubits": 2}),
                    model=("vqc-amplitude", {"num_qubits": 2, "num_classes": 2, "layers": 1}),
                    config=TrainConfig(epochs=15, lr=0.1, batch_size=16, patience=None,
                                       seed=SEED))
