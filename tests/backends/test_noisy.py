"""Backend ``noisy``: the same numbers as ``aer-noisy`` in exact mode, device noise on the qubits
a circuit uses, clear errors for bad noise input, and training through the VJP path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit_aer.noise import NoiseModel, amplitude_damping_error, pauli_error
from qiskit_aer.primitives import EstimatorV2 as AerEstimator

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.backends.base import BackendError
from qiskit_unlearn.vjp import VJPConnector, VJPEstimatorQNN

RATES = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.04, "t1": 30e3, "t2": 20e3,
         "readout_error": [0.02, 0.05]}


def _pair(n: int = 3, **options):
    ansatz = hqml_ansatz(n, reps=2, entanglement="ring", entangler="cz")
    kwargs = {"input_params": ansatz.input_params, "weight_params": ansatz.weight_params,
              "observables": z_observables(n)}
    ours = make_qnn(ansatz.circuit, backend="noisy", **kwargs, **options)
    aer = make_qnn(ansatz.circuit, backend="aer-noisy", **kwargs, **options)
    rng = np.random.default_rng(n)
    x = rng.uniform(-np.pi, np.pi, (3, ours.num_inputs))
    w = rng.uniform(-np.pi, np.pi, ours.num_weights)
    return ours, aer, x, w


@pytest.mark.parametrize("options", [
    RATES,
    {"depolarizing_2q": 0.05},
    {"t1": 10e3, "gate_time_1q": 100, "gate_time_2q": 500},
    {"readout_error": 0.1},
    {"device": "manila"},
], ids=["all-rates", "depolarizing", "thermal", "readout", "device-manila"])
def test_values_and_gradients_are_aer_noisy_exact(options):
    ours, aer, x, w = _pair(**options)
    assert isinstance(ours, VJPEstimatorQNN) and ours.backend_info["exact"]
    np.testing.assert_allclose(ours.forward(x, w), aer.forward(x, w), atol=1e-10, rtol=0)
    (gi, gw), (ri, rw) = ours.backward(x, w), aer.backward(x, w)
    np.testing.assert_allclose(gi, ri, atol=1e-8, rtol=0)
    np.testing.assert_allclose(gw, rw, atol=1e-8, rtol=0)


def test_any_aer_noise_model():
    model = NoiseModel(basis_gates=["rx", "ry", "rz", "cz"])
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.05), ["rx", "ry", "rz"])
    model.add_all_qubit_quantum_error(pauli_error([("ZZ", 0.05), ("II", 0.95)]), "cz")
    ours, aer, x, w = _pair(noise_model=model)
    np.testing.assert_allclose(ours.forward(x, w), aer.forward(x, w), atol=1e-10, rtol=0)


def test_a_larger_device_is_cut_to_the_qubits_the_circuit_uses():
    """A 4-qubit model on the 7-qubit nairobi (its ring fits without ancillas, so compact
    routing is the device-wide one ``aer-noisy`` uses): exact against Aer's full 7-qubit
    density matrix."""
    ours, aer, x, w = _pair(4, device="nairobi")
    assert len(ours.backend_info["simulated_qubits"]) == 4
    assert ours.backend_info["num_physical_qubits"] == 7
    np.testing.assert_allclose(ours.forward(x, w), aer.forward(x, w), atol=1e-10, rtol=0)


@pytest.mark.parametrize(("n", "device"), [(4, "kolkata"), (8, "guadalupe")])
def test_a_large_device_runs_on_its_used_qubits_with_their_own_errors(n, device):
    """Reference: Aer on the cut circuit with the device's errors of those qubits renumbered
    (a full 16- or 27-qubit density matrix is out of reach). A ring has no room on heavy-hex
    without ancillas, so compact routing must keep it on ``n`` connected physical qubits,
    with every two-qubit gate on a coupler of the device."""
    from qiskit_unlearn.backends.noise import fake_backend

    ansatz = hqml_ansatz(n, reps=1, entanglement="ring", entangler="cz")
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(n),
                   backend="noisy", device=device, readout_error=None)
    physical = qnn.backend_info["simulated_qubits"]
    assert len(physical) == n and qnn.backend_info["routing"] == "compact"
    backend = fake_backend(device)
    edges = set(backend.coupling_map.get_edges())
    for inst in qnn.circuit.data:
        if len(inst.qubits) == 2:
            pair = tuple(physical[qnn.circuit.find_bit(q).index] for q in inst.qubits)
            assert pair in edges, f"{inst.operation.name} on {pair} is not a coupler"
    device_model = NoiseModel.from_backend(backend)
    position = {p: i for i, p in enumerate(physical)}
    cut = NoiseModel(basis_gates=device_model.basis_gates)
    for name, errors in device_model._local_quantum_errors.items():
        for qubits, error in errors.items():
            if all(q in position for q in qubits):
                cut.add_quantum_error(error, name, [position[q] for q in qubits], warnings=False)
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, np.pi, (2, qnn.num_inputs))
    w = rng.uniform(-np.pi, np.pi, qnn.num_weights)
    values = np.hstack([x, np.broadcast_to(w, (2, len(w)))])
    bindings = {(*qnn.input_params, *qnn.weight_params): values}
    aer = AerEstimator(options={"default_precision": 0.0, "backend_options": {
        "method": "density_matrix", "noise_model": cut}})
    ref = np.asarray(aer.run([(qnn.circuit, [[o] for o in qnn.observables], bindings)])
                     .result()[0].data.evs).T
    np.testing.assert_allclose(qnn.forward(x, w), ref, atol=1e-10)


def test_device_wide_routing_borrows_ancillas_that_compact_routing_avoids():
    ansatz = hqml_ansatz(8, reps=1, entanglement="ring", entangler="cz")
    kwargs = {"input_params": ansatz.input_params, "weight_params": ansatz.weight_params,
              "observables": z_observables(8), "backend": "noisy", "device": "guadalupe"}
    wide = make_qnn(ansatz.circuit, routing="device", **kwargs)
    assert len(wide.backend_info["simulated_qubits"]) > 8  # an 8-ring is no heavy-hex cycle
    assert len(make_qnn(ansatz.circuit, **kwargs).backend_info["simulated_qubits"]) == 8


@pytest.mark.parametrize(("options", "match"), [
    ({}, "needs a noise source"),
    ({"depolarizing_1q": 0.1, "shots": 100}, "is exact and takes no 'shots'"),
    ({"depolarizing_1q": 1.5}, r"'depolarizing_1q' must be in \[0, 1\]"),
    ({"t1": 10e3, "t2": 30e3}, r"exceeds 2\*t1"),
    ({"depolarizing_1q": 0.1, "noise_model": NoiseModel()}, "either noise_model or the rate"),
    ({"noise_model": "depolarizing"}, "must be a qiskit_aer.noise.NoiseModel"),
    ({"depolarizing_1q": 0.1, "bogus": 1}, "does not take option"),
    ({"depolarizing_1q": 0.1, "memory_limit": "lots"}, "memory_limit"),
    ({"depolarizing_1q": 0.1, "optimization_level": 1}, "applies to device noise only"),
    ({"depolarizing_1q": 0.1, "routing": "device"}, "applies to device noise only"),
    ({"device": "manila", "routing": "wide"}, "option 'routing' must be one of"),
])
def test_bad_noise_input_is_a_clear_error(options, match):
    ansatz = hqml_ansatz(2, reps=1)
    with pytest.raises(BackendError, match=match):
        make_qnn(ansatz.circuit, input_params=ansatz.input_params, backend="noisy", **options)


def test_a_circuit_too_wide_for_an_exact_density_matrix_is_refused():
    ansatz = hqml_ansatz(13, reps=1)
    with pytest.raises(BackendError, match="limit is 12 qubits"):
        make_qnn(ansatz.circuit, input_params=ansatz.input_params, backend="noisy",
                 depolarizing_1q=0.01)


def test_training_under_noise_goes_through_the_vector_jacobian_product():
    from qiskit_unlearn.models import build_model

    torch.manual_seed(0)
    model = build_model("hybrid-pca", num_qubits=2, num_classes=2, layers=1, head_hidden=4,
                        backend="noisy", backend_options=RATES)
    layer = model.quantum
    assert isinstance(layer.connector, VJPConnector)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.uniform(-1.5, 1.5, (24, 2)), dtype=torch.float32)
    y = (x[:, 0] > 0).long()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1
    assert layer.qnn.num_vjp_calls == 12 and layer.qnn.gradient.num_calls == 0


def test_device_noise_runs_on_the_device_isa_circuit():
    qnn, _, _, _ = _pair(device="manila")
    assert set(qnn.circuit.count_ops()) <= {"rz", "sx", "x", "cx"}  # manila's basis
    assert qnn.backend_info["device"] == "fake_manila"


def test_a_torch_backward_pass_reuses_the_states_of_its_forward_pass():
    ours, _, x, w = _pair(**RATES)
    connector = VJPConnector(ours, initial_weights=w)
    program = ours.estimator.program(ours._circuit)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    out = connector(xt)
    assert program._tape is not None  # kept for the backward pass
    upstream = torch.arange(out.numel(), dtype=torch.float32).reshape(out.shape)
    (out * upstream).sum().backward()
    assert program._tape is None  # used once, then released
    gi, gw = ours.backward(xt.detach().numpy(), connector.weight.detach().numpy())
    np.testing.assert_allclose(connector.weight.grad.numpy(),
                               np.einsum("so,sop->p", upstream.numpy(), gw), atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), np.einsum("so,sop->sp", upstream.numpy(), gi),
                               atol=1e-5)
    with torch.no_grad():
        connector(xt)
    assert program._tape is None  # evaluation keeps nothing
