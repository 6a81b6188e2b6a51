"""What one training step and one evaluation cost on a device: ours vs qiskit-machine-learning.

On hardware the bill is circuit executions (shots) and the wall time is mostly queue waits,
one per job. This script runs the 4-qubit, 2-layer HQML circuit of the Iris hybrid (CZ ring,
Z on every qubit, weights trained) on a fake IBM device in IBM Runtime local testing mode and
counts, for the same step in the same run:

* ``qiskit-ml``: ``EstimatorQNN`` + ``ParamShiftEstimatorGradient`` on IBM Runtime's
  ``EstimatorV2`` (the library's default path, given an ISA circuit);
* ``batched``: our ``BatchedParamShiftEstimatorGradient`` and one-PUB forward pass, forward
  and backward as separate jobs;
* ``fused``: the same with the step's gradient in its forward job (``qunlearn hw unlearn``).

Every job is counted by the project's own accounting (a device runs each parameter set of a
PUB once per measurement basis of its observables) and timed in local testing mode. Example:
``python benchmarks/bench_hardware_step.py --batch 8 16 --device fake_manila``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.backends.isa import to_isa
from qiskit_unlearn.backends.noise import fake_backend
from qiskit_unlearn.batched_qnn import BatchedEstimatorQNN
from qiskit_unlearn.gradients import BatchedParamShiftEstimatorGradient
from qiskit_unlearn.qnn.jobs import JobCost, RecordingEstimator

warnings.filterwarnings("ignore", category=DeprecationWarning)

QUBITS, LAYERS = 4, 2


def _qnn(kind: str, device: str, shots: int, seed: int) -> tuple[EstimatorQNN, JobCost]:
    from qiskit_ibm_runtime import EstimatorV2

    backend = fake_backend(device)
    ansatz = hqml_ansatz(QUBITS, reps=LAYERS, entanglement="ring", entangler="cz")
    isa, observables = to_isa(ansatz.circuit, z_observables(QUBITS), backend, seed=seed)
    precision = 1 / np.sqrt(shots)
    cost = JobCost()
    estimator = RecordingEstimator(EstimatorV2(mode=backend, options={
        "default_precision": precision, "simulator": {"seed_simulator": seed}}), cost)
    common = {"circuit": isa, "estimator": estimator, "observables": observables,
              "input_params": ansatz.input_params, "weight_params": ansatz.weight_params,
              "default_precision": precision}
    if kind == "qiskit-ml":
        return EstimatorQNN(**common, gradient=ParamShiftEstimatorGradient(estimator)), cost
    return BatchedEstimatorQNN(**common, gradient=BatchedParamShiftEstimatorGradient(
        estimator, precision=precision)), cost


def _step(qnn: EstimatorQNN, batch: int, fused: bool, seed: int) -> None:
    torch.manual_seed(seed)
    layer = TorchConnector(qnn, initial_weights=np.random.default_rng(seed).uniform(
        -np.pi, np.pi, qnn.num_weights))
    x = torch.rand(batch, QUBITS) * np.pi - np.pi / 2
    if isinstance(qnn, BatchedEstimatorQNN):
        qnn.expect_backward = fused  # what QuantumLayer sets during training
    layer(x).pow(2).sum().backward()


def _evaluate(qnn: EstimatorQNN, batch: int, seed: int) -> None:
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, qnn.num_weights)
    qnn.forward(np.random.default_rng(seed + 1).uniform(-1, 1, (batch, QUBITS)), w)


def measure(kind: str, work: Callable[[EstimatorQNN], None], device: str, shots: int,
            seed: int) -> tuple[JobCost, float]:
    qnn, cost = _qnn(kind, device, shots, seed)
    start = time.perf_counter()
    work(qnn)
    return cost, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--device", default="fake_manila")
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for batch in args.batch:
        cases = {
            ("training step", "qiskit-ml"): lambda q, b=batch: _step(q, b, False, args.seed),
            ("training step", "batched"): lambda q, b=batch: _step(q, b, False, args.seed),
            ("training step", "fused"): lambda q, b=batch: _step(q, b, True, args.seed),
            ("evaluation", "qiskit-ml"): lambda q, b=batch: _evaluate(q, b, args.seed),
            ("evaluation", "batched"): lambda q, b=batch: _evaluate(q, b, args.seed),
        }
        base: dict[str, tuple[JobCost, float]] = {}
        for (what, kind), work in cases.items():
            cost, seconds = measure("qiskit-ml" if kind == "qiskit-ml" else "ours", work,
                                    args.device, args.shots, args.seed)
            base.setdefault(what, (cost, seconds))
            ref, ref_seconds = base[what]
            rows.append((what, kind, batch, cost, seconds, ref, ref_seconds))
            print(f"  {what}, {kind}, batch {batch}: {asdict(cost)}, {seconds:.2f} s",
                  file=sys.stderr)
    print(f"device {args.device} (local testing mode), {args.shots} shots per execution, "
          f"{QUBITS}-qubit {LAYERS}-layer HQML, weights differentiated\n")
    print("| work | path | batch | jobs | PUBs | circuit executions | shots | local s "
          "| fewer jobs | fewer shots | faster |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, kind, batch, c, s, ref, ref_s in rows:
        print(f"| {what} | {kind} | {batch} | {c.jobs} | {c.pubs:,} | {c.circuit_executions:,} "
              f"| {c.shots(args.shots):,} | {s:.2f} | {ref.jobs / c.jobs:.0f}× "
              f"| {ref.circuit_executions / c.circuit_executions:.1f}× | {ref_s / s:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
