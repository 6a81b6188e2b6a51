"""``qunlearn demo``: train the 4-qubit HQML hybrid on Iris in well under a minute.

A smoke test a newcomer can run offline: scikit-learn's bundled Iris data, features scaled to
[-π, π] on the training split only, the HQML ansatz through ``make_qnn`` + ``VJPConnector``
(a ``TorchConnector``) and a linear head, Adam with the best epoch chosen on a validation
split. It proves the installation works and shows the speed of the chosen backend.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np


def _splits(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    x, y = load_iris(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_tr, x_va, y_tr, y_va = train_test_split(x_tr, y_tr, test_size=0.2, stratify=y_tr,
                                              random_state=seed)
    scaler = MinMaxScaler((-np.pi, np.pi)).fit(x_tr)  # fitted on training data only
    return {name: (np.clip(scaler.transform(a), -np.pi, np.pi), b)
            for name, (a, b) in {"train": (x_tr, y_tr), "val": (x_va, y_va),
                                 "test": (x_te, y_te)}.items()}


def train_iris(backend: str = "statevector", epochs: int = 30, seed: int = 0,
               batch_size: int = 16, lr: float = 0.05, progress: bool = True,
               **backend_options: Any) -> dict[str, Any]:
    """Train and evaluate; returns accuracies, the best epoch and timings."""
    import torch  # here, not at the top: 'qunlearn demo --help' should not load torch
    from tqdm import tqdm

    from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
    from qiskit_unlearn.qnn import make_qnn
    from qiskit_unlearn.vjp import connector_for

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = _splits(seed)
    ansatz = hqml_ansatz(4, reps=2, entanglement="ring", entangler="cz")
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(4),
                   backend=backend, **backend_options)
    model = torch.nn.Sequential(
        connector_for(qnn, rng.uniform(-np.pi, np.pi, ansatz.num_weights)),
        torch.nn.Linear(4, 3))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    tensors = {k: (torch.tensor(a, dtype=torch.float64).float(), torch.tensor(b))
               for k, (a, b) in data.items()}

    def accuracy(split: str) -> float:
        with torch.no_grad():
            x, y = tensors[split]
            return (model(x).argmax(1) == y).float().mean().item()

    x_tr, y_tr = tensors["train"]
    best = (-1.0, 0, None)
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc=f"training on {backend}", disable=not progress):
        order = torch.randperm(len(x_tr))
        for i in range(0, len(x_tr), batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        val = accuracy("val")
        if val > best[0]:
            best = (val, epoch, {k: v.clone() for k, v in model.state_dict().items()})
    seconds = time.perf_counter() - start
    model.load_state_dict(best[2])
    return {"backend": backend, "seed": seed, "epochs": epochs, "best_epoch": best[1],
            "train_accuracy": accuracy("train"), "val_accuracy": accuracy("val"),
            "test_accuracy": accuracy("test"), "train_seconds": seconds}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="statevector",
                        help="backend name (default: statevector); see 'qunlearn backends'")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run_from_args(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    result = train_iris(args.backend, epochs=args.epochs, seed=args.seed,
                        progress=sys.stderr.isatty())
    print(f"backend {result['backend']}: best validation epoch {result['best_epoch']} of "
          f"{result['epochs']}, {result['train_seconds']:.1f} s of training")
    print(f"accuracy  train {result['train_accuracy']:.3f}  validation "
          f"{result['val_accuracy']:.3f}  test {result['test_accuracy']:.3f}")
    return 0
