"""Time one EstimatorQNN backward pass on Aer: ParamShiftEstimatorGradient vs the batched one.

Usage: ``python benchmarks/bench_batched_gradient_aer.py [--batch 8] [--skip-reference]``.
The reference sends one PUB per (sample, observable, shift); the batched gradient one PUB.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn.ansatz import hqml_ansatz
from qiskit_unlearn.gradients import BatchedParamShiftEstimatorGradient


def build(num_qubits: int, layers: int) -> tuple[QuantumCircuit, list, list]:
    """The catalogue's HQML ansatz: RX/RY/RZ(x) encoding, RX/RY/RZ layers, CZ ring."""
    ansatz = hqml_ansatz(num_qubits, reps=layers, entanglement="ring", entangler="cz")
    return ansatz.circuit, ansatz.input_params, ansatz.weight_params


def time_backward(gradient, qc, x, w, obs, inputs, weights, estimator) -> tuple[float, tuple]:
    qnn = EstimatorQNN(circuit=qc, estimator=estimator, observables=obs, input_params=x,
                       weight_params=w, gradient=gradient, input_gradients=True,
                       default_precision=0.0)
    start = time.perf_counter()
    out = qnn.backward(inputs, weights)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    qc, x, w = build(args.qubits, args.layers)
    n = args.qubits
    obs = [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], n) for q in range(n)]
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (args.batch, len(x)))
    weights = rng.uniform(-1, 1, len(w))
    estimator = EstimatorV2()  # default precision 0.0: exact expectation values

    batched = BatchedParamShiftEstimatorGradient(estimator)
    t_new, (gi_new, gw_new) = time_backward(batched, qc, x, w, obs, inputs, weights, estimator)
    print(f"batched: {t_new:.2f} s  jobs={batched.num_jobs} pubs={batched.num_pubs} "
          f"evaluations={batched.num_circuit_evaluations}")
    if args.skip_reference:
        return
    reference = ParamShiftEstimatorGradient(estimator)
    t_ref, (gi_ref, gw_ref) = time_backward(reference, qc, x, w, obs, inputs, weights, estimator)
    err = max(np.abs(gi_new - gi_ref).max(), np.abs(gw_new - gw_ref).max())
    num_pubs = args.batch * n * 2 * (3 * n + 3 * n * args.layers)
    print(f"param-shift: {t_ref:.2f} s  pubs={num_pubs}")
    print(f"speed-up: {t_ref / t_new:.1f}x  max |difference| = {err:.2e}")


if __name__ == "__main__":
    main()
