"""``ideal:<device>``: the device's ISA circuit, exact and noiseless, against Qiskit's reference."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn import BackendError, make_qnn
from qiskit_unlearn.ansatz import CATALOGUE, build_reference, z_observables
from qiskit_unlearn.backends.ideal import compact
from qiskit_unlearn.batched_qnn import BatchedEstimatorQNN


def _reference(ansatz) -> EstimatorQNN:
    estimator = StatevectorEstimator()
    return EstimatorQNN(circuit=ansatz.circuit, estimator=estimator,
                        observables=z_observables(ansatz.num_qubits),
                        input_params=ansatz.input_params, weight_params=ansatz.weight_params,
                        input_gradients=True, default_precision=0.0,
                        gradient=ParamShiftEstimatorGradient(estimator))


@pytest.mark.parametrize(("name", "device"), [
    ("hqml-4q-2l-ring-cz", "fake_manila"),  # 5 qubits, CX, linear coupling: routing
    ("hqml-4q-2l-ring-cz-reupload", "fake_brisbane"),  # 127 qubits (ECR): cut to 4
    ("hea-amp-2q-2l", "fake_manila"),
])
def test_values_and_gradients_are_the_logical_circuits(name, device):
    ansatz = build_reference(name)
    assert name in CATALOGUE
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(ansatz.num_qubits),
                   backend=f"ideal:{device}", seed=3)
    assert isinstance(qnn, BatchedEstimatorQNN)
    info = qnn.backend_info
    assert info["device"] == device and info["exact"]
    assert qnn.circuit.num_qubits == len(info["simulated_qubits"]) <= 6
    assert set(qnn.circuit.count_ops()) <= {"rz", "sx", "x", "cx", "ecr", "cz"}  # ISA gates
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, ansatz.num_inputs))
    w = rng.uniform(-np.pi, np.pi, ansatz.num_weights)
    ref = _reference(ansatz)
    np.testing.assert_allclose(qnn.forward(x, w), ref.forward(x, w), atol=1e-10)
    for got, want in zip(qnn.backward(x, w), ref.backward(x, w), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_compact_keeps_the_used_qubits_and_refuses_observables_on_idle_ones():
    qc = QuantumCircuit(5)
    qc.h(1)
    qc.cx(1, 3)
    small, (obs,), kept = compact(qc, [SparsePauliOp("IXIZI")])  # X on 3, Z on 1
    assert kept == [1, 3] and small.num_qubits == 2
    assert obs == SparsePauliOp("XZ")
    with pytest.raises(BackendError, match="never touches"):
        compact(qc, [SparsePauliOp("ZIIII")])


def test_options_are_checked():
    ansatz = build_reference("hea-amp-2q-2l")
    kwargs = {"input_params": ansatz.input_params, "weight_params": ansatz.weight_params}
    with pytest.raises(BackendError, match="allowed options: channel, device, instance"):
        make_qnn(ansatz.circuit, backend="ideal:fake_manila", shots=100, **kwargs)
    with pytest.raises(BackendError, match="unknown fake device"):
        make_qnn(ansatz.circuit, backend="ideal:fake_atlantis", **kwargs)
    with pytest.raises(BackendError, match="optimization_level"):
        make_qnn(ansatz.circuit, backend="ideal:fake_manila", optimization_level=7, **kwargs)
