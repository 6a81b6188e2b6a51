"""Forward and forward + backward of the n-qubit, 2-layer HQML circuit at one batch size,
through the connector the models use (``vjp``) or a plain ``TorchConnector`` (``jacobian``).

Usage: ``python benchmarks/bench_forward_backward.py QUBITS BATCH [vjp|jacobian] [REPEATS]``.
Runs on whatever ``qiskit_unlearn`` is importable, so the same command on a worktree of an
older commit (``PYTHONPATH=/path/to/worktree``) compares engines in one session; that is how
the speed guide's (docs/guides/speed.md) before/after numbers at 16 and 20 qubits were taken.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from qiskit_machine_learning.connectors import TorchConnector

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables


def main(argv: list[str]) -> None:
    qubits, batch = int(argv[0]), int(argv[1])
    mode = argv[2] if len(argv) > 2 else "vjp"
    repeats = int(argv[3]) if len(argv) > 3 else 1
    ansatz = hqml_ansatz(qubits, reps=2, entanglement="ring", entangler="cz")
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(qubits),
                   backend="statevector")
    init = np.random.default_rng(0).uniform(-np.pi, np.pi, qnn.num_weights)
    if mode == "vjp":
        from qiskit_unlearn.vjp import VJPConnector
        connector = VJPConnector(qnn, initial_weights=init)
    else:
        connector = TorchConnector(qnn, initial_weights=init)
    x = (torch.rand(batch, qubits, generator=torch.Generator().manual_seed(0)) * 2 - 1) * np.pi

    def forward_backward(i: int) -> None:
        inputs = (x + i).requires_grad_(True)
        connector(inputs).sum().backward()

    forward_backward(-1)  # compile; untimed
    both, forward = [], []
    for i in range(repeats):
        start = time.perf_counter()
        forward_backward(i)
        both.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            connector(x + 100 + i)
        forward.append(time.perf_counter() - start)
    print(f"{qubits} qubits, batch {batch}, {mode}: forward {np.median(forward):.4g} s, "
          f"forward + backward {np.median(both):.4g} s")


if __name__ == "__main__":
    main(sys.argv[1:])
