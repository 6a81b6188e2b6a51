"""``aer`` and ``aer-noisy``: exactness, shot statistics, noise that really acts, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from circuit_helpers import small_qnn_circuit
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.connectors import TorchConnector

from qiskit_unlearn.backends.base import BackendError
from qiskit_unlearn.qnn import make_qnn

X = np.array([[1.0, 0.3], [0.8, -0.5], [-1.0, 0.2], [-0.7, -0.6], [1.2, 0.9], [-1.1, -0.1]])
W = np.array([0.4, -0.3, 0.7, 0.2])


def _circuit(num_qubits: int = 2) -> tuple[QuantumCircuit, list[Parameter], list[Parameter]]:
    return small_qnn_circuit(num_qubits)


def _qnn(backend: str, **options):
    qc, xs, ws = _circuit()
    return make_qnn(qc, input_params=xs, weight_params=ws, backend=backend, **options)


def _exact() -> np.ndarray:
    """Reference Z0, Z1 expectations from ``StatevectorEstimator``."""
    qc, xs, ws = _circuit()
    values = [dict(zip(xs + ws, [*x, *W], strict=True)) for x in X]
    rows = np.array([[v[p] for p in qc.parameters] for v in values])
    pubs = [(qc, SparsePauliOp(label), rows) for label in ("IZ", "ZI")]
    return np.stack([r.data.evs for r in StatevectorEstimator().run(pubs).result()], axis=1)


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("aer", {"noise": 0.1}, "allowed options: memory_limit, precision, seed, shots"),
        ("aer", {"shots": 0}, "'shots'"),
        ("aer", {"shots": 100, "precision": 0.1}, "both"),
        ("aer", {"seed": -1}, "'seed'"),
        ("aer-noisy", {}, "needs a noise source"),
        ("aer-noisy", {"depolarizing_1q": 1.5}, "depolarizing_1q"),
        ("aer-noisy", {"depolarizing_1q": 0.1, "method": "mps"}, "'method'"),
        ("aer-noisy", {"depolarizing_1q": 0.1, "method": "density_matrix", "shots": 10}, "exact"),
        ("aer-noisy", {"t1": 100.0, "t2": 300.0}, "t2 <= 2"),
        ("aer-noisy", {"device": "atlantis"}, "unknown fake device 'atlantis'"),
        ("aer-noisy", {"depolarizing": 0.1}, "allowed options: .*depolarizing_1q"),
    ],
)
def test_invalid_options_name_the_problem(backend: str, options: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        _qnn(backend, **options)


def test_exact_aer_matches_statevector_estimator() -> None:
    qnn = _qnn("aer")
    assert qnn.default_precision == 0.0
    assert qnn.gradient.precision == 0.0
    np.testing.assert_allclose(qnn.forward(X, W), _exact(), atol=1e-10, rtol=0)


def test_aer_decomposes_gates_it_cannot_run() -> None:
    qc, xs, ws = _circuit()
    wrapped = QuantumCircuit(2)
    wrapped.append(qc.to_gate(label="block"), [0, 1])
    qnn = make_qnn(wrapped, input_params=xs, weight_params=ws, backend="aer")
    np.testing.assert_allclose(qnn.forward(X, W), _exact(), atol=1e-10, rtol=0)


def test_shot_based_aer_is_within_a_few_standard_errors() -> None:
    qnn = _qnn("aer", shots=4000, seed=11)
    assert qnn.backend_info["shots"] == 4000
    assert qnn.default_precision == pytest.approx(1 / np.sqrt(4000))
    out = qnn.forward(X, W)
    error = np.abs(out - _exact())
    assert error.max() < 5 / np.sqrt(4000)
    assert error.max() > 0  # really sampled, not exact
    np.testing.assert_array_equal(_qnn("aer", shots=4000, seed=11).forward(X, W), out)


def test_precision_option_sets_the_shot_count() -> None:
    assert _qnn("aer", precision=0.05).backend_info["shots"] == 400


def test_depolarizing_noise_shrinks_expectations() -> None:
    exact = _exact()
    noisy = _qnn("aer-noisy", depolarizing_1q=0.2, depolarizing_2q=0.2).forward(X, W)
    assert np.all(np.abs(noisy) <= np.abs(exact) + 1e-12)
    big = np.abs(exact) > 0.1
    assert np.all(np.abs(noisy[big]) < 0.8 * np.abs(exact[big]))


def test_exact_readout_error_agrees_with_measured_readout_error() -> None:
    exact = _exact()
    folded = _qnn("aer-noisy", readout_error=(0.05, 0.15))
    assert folded.backend_info["readout_error"] == "folded into the observables"
    sampled = _qnn("aer-noisy", readout_error=(0.05, 0.15), shots=20_000, seed=5).forward(X, W)
    expected = folded.forward(X, W)
    assert np.abs(sampled - expected).max() < 5 / np.sqrt(20_000)
    assert np.abs(expected - exact).max() > 0.05


def test_device_noise_model_runs_on_the_device_layout() -> None:
    qnn = _qnn("aer-noisy", device="manila")
    info = qnn.backend_info
    assert info["device"] == "fake_manila" and info["num_physical_qubits"] == 5
    assert len(info["layout"]) == 2 and info["method"] == "density_matrix"
    out = qnn.forward(X, W)
    assert 0 < np.abs(out - _exact()).max() < 0.2


def test_exact_density_matrix_has_a_size_limit() -> None:
    qc, xs, ws = _circuit(13)
    with pytest.raises(BackendError, match=r"13-qubit density matrix.*shots="):
        make_qnn(qc, input_params=xs, weight_params=ws, backend="aer-noisy", depolarizing_1q=0.01)
    with pytest.raises(BackendError, match="127-qubit density matrix"):
        _qnn("aer-noisy", device="brisbane")


def train(qnn, steps: int = 6) -> list[float]:
    """A few Adam steps of a TorchConnector model on a 6-sample, 2-output toy task."""
    torch.manual_seed(0)
    model = TorchConnector(qnn, initial_weights=np.full(qnn.num_weights, 0.1))
    inputs = torch.tensor(X, dtype=torch.float32)
    targets = torch.where(inputs[:, :1] > 0, torch.tensor([0.6, -0.6]), torch.tensor([-0.6, 0.6]))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("aer", {"shots": 2000, "seed": 1}),
        ("aer-noisy", {"depolarizing_1q": 0.02, "depolarizing_2q": 0.05}),
        ("aer-noisy", {"device": "manila"}),
    ],
)
def test_torch_training_loss_falls(backend: str, options: dict) -> None:
    losses = train(_qnn(backend, **options))
    assert losses[-1] < 0.75 * losses[0]
