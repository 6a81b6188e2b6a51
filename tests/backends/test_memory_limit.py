"""``memory_limit`` on ``statevector``, ``ideal:<device>``, ``aer`` and ``aer-noisy``: passed to
the engine, checked at model construction with the bytes in the message, never changing values."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from circuit_helpers import small_qnn_circuit
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.neural_networks import EstimatorQNN

import qiskit_unlearn
import qiskit_unlearn.backends.base
import qiskit_unlearn.errors
from qiskit_unlearn import BackendError, make_qnn
from qiskit_unlearn.ansatz import build_reference, z_observables
from qiskit_unlearn.engine.estimator import program_for
from qiskit_unlearn.engine.memory import ENV_VAR
from qiskit_unlearn.engine.observables import PauliTable


@pytest.fixture(autouse=True)
def _no_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _qnn(num_qubits: int, backend: str, **options):
    qc, xs, ws = small_qnn_circuit(num_qubits)
    return make_qnn(qc, input_params=xs, weight_params=ws, backend=backend, **options)


def test_backend_error_has_one_home():
    assert qiskit_unlearn.BackendError is qiskit_unlearn.backends.base.BackendError
    assert qiskit_unlearn.BackendError is qiskit_unlearn.errors.BackendError


@pytest.mark.parametrize(("backend", "options"), [
    ("statevector", {}), ("ideal:fake_manila", {}), ("aer", {}), ("aer", {"shots": 64}),
    ("aer-noisy", {"depolarizing_1q": 0.01}),
])
def test_the_option_is_validated_and_recorded(backend, options):
    with pytest.raises(BackendError, match="option 'memory_limit' must be a positive number"):
        _qnn(2, backend, memory_limit="lots", **options)
    qnn = _qnn(2, backend, memory_limit="256MiB", **options)
    assert qnn.backend_info["memory_limit"] == 256 << 20


@pytest.mark.parametrize("backend", ["statevector", "ideal:fake_manila"])
def test_the_engine_backends_pass_the_limit_to_estimator_and_gradient(backend):
    qnn = _qnn(2, backend, memory_limit=123_456_789)
    assert qnn.estimator.memory_limit == 123_456_789
    if backend == "statevector":
        assert qnn.gradient.memory_limit == 123_456_789


def test_construction_builds_no_table():
    qc, xs, ws = small_qnn_circuit(22)  # its CZ table alone would be 64 MiB
    gc.collect()
    tracemalloc.start()
    try:
        # a limit the first batch fits on any machine: construction must allocate nothing
        make_qnn(qc, input_params=xs, weight_params=ws, backend="statevector",
                 memory_limit="64GiB")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_a_qnn_chunked_by_its_limit_matches_the_reference():
    qc, xs, ws = small_qnn_circuit(3)
    obs = z_observables(3)
    limit = program_for(qc).footprint(PauliTable(obs, 3), adjoint=True).total(2)
    kwargs = dict(input_params=xs, weight_params=ws, observables=obs)
    chunked = make_qnn(qc, backend="statevector", memory_limit=limit, **kwargs)
    whole = make_qnn(qc, backend="statevector", **kwargs)
    reference = EstimatorQNN(circuit=qc, estimator=StatevectorEstimator(), input_gradients=True,
                             default_precision=0.0, **kwargs)
    rng = np.random.default_rng(7)
    x, w = rng.uniform(-np.pi, np.pi, (9, 3)), rng.uniform(-np.pi, np.pi, len(ws))
    np.testing.assert_allclose(chunked.forward(x, w), whole.forward(x, w), atol=1e-12, rtol=0)
    np.testing.assert_allclose(chunked.forward(x, w), reference.forward(x, w), atol=1e-10)
    for got, exact, ref in zip(chunked.backward(x, w), whole.backward(x, w),
                               reference.backward(x, w), strict=True):
        np.testing.assert_allclose(got, exact, atol=1e-12, rtol=0)
        np.testing.assert_allclose(got, ref, atol=1e-8)


def test_ideal_refuses_a_limit_its_circuit_cannot_fit():
    ansatz = build_reference("hea-amp-2q-2l")
    with pytest.raises(BackendError, match=r"forward pass of this 2-qubit circuit .* needs "
                                           r"\d+ bytes .* memory limit of 1000 bytes"):
        make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                 weight_params=ansatz.weight_params, backend="ideal:fake_manila",
                 memory_limit=1000)


def test_aer_refuses_a_statevector_over_the_limit():
    with pytest.raises(BackendError, match=r"17-qubit statevector of 2097152 bytes \(2\.0 MiB\), "
                                           r"over the memory limit of 1048576 bytes"):
        _qnn(17, "aer", memory_limit="1MiB")
    assert _qnn(16, "aer", memory_limit="1MiB").backend_info["memory_limit"] == 1 << 20
    with pytest.raises(BackendError, match=r"40-qubit statevector of 17592186044416 bytes "
                                           r"\(16\.0 TiB\).*hardware"):
        _qnn(40, "aer", shots=100)


def test_aer_counts_only_the_qubits_it_simulates():
    """Aer drops qubits no gate and no observable touches: a 40-qubit register is fine."""
    qc = QuantumCircuit(40)
    a, b = Parameter("a"), Parameter("b")
    qc.ry(a, 0)
    qc.cx(0, 1)
    qc.ry(b, 1)
    obs = [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], 40) for q in (0, 1)]
    qnn = make_qnn(qc, weight_params=[a, b], observables=obs, backend="aer", memory_limit="1MiB")
    np.testing.assert_allclose(qnn.forward(None, [0.3, 0.5]),
                               [[np.cos(0.3), np.cos(0.3) * np.cos(0.5)]], atol=1e-12)


def test_aer_noisy_refuses_a_density_matrix_over_the_limit_but_not_shots():
    noise = {"depolarizing_1q": 0.01, "memory_limit": "1MiB"}
    with pytest.raises(BackendError, match=r"9-qubit density matrix of 4194304 bytes "
                                           r"\(4\.0 MiB\).*shots="):
        _qnn(9, "aer-noisy", **noise)
    assert _qnn(8, "aer-noisy", **noise).backend_info["method"] == "density_matrix"  # 1 MiB
    assert _qnn(9, "aer-noisy", shots=64, **noise).backend_info["method"] == "shots"
    with pytest.raises(BackendError, match=r"17-qubit statevector of 2097152 bytes"):
        _qnn(17, "aer-noisy", shots=64, **noise)
