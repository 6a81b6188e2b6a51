"""``ibm`` and ``fake:<device>`` without network or credentials (IBM Runtime local testing mode)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from circuit_helpers import small_qnn_circuit
from hardware.ibm_stubs import without_ibm_account
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.providers.exceptions import QiskitBackendNotFoundError
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.connectors import TorchConnector

from qiskit_unlearn.backends import ibm, isa
from qiskit_unlearn.backends.base import BackendError
from qiskit_unlearn.backends.noise import fake_backend
from qiskit_unlearn.hardware.store import JobStore
from qiskit_unlearn.qnn import make_qnn

X = np.array([[1.0, 0.3], [0.8, -0.5], [-1.0, 0.2], [-0.7, -0.6]])
W = np.array([0.4, -0.3, 0.7, 0.2])

pytestmark = pytest.mark.filterwarnings(
    "ignore:The EstimatorV2 class is deprecated:DeprecationWarning",
    "ignore:The resilience_level option has no effect:UserWarning",
)


def _circuit(num_qubits: int = 2) -> tuple[QuantumCircuit, list[Parameter], list[Parameter]]:
    return small_qnn_circuit(num_qubits)


def _qnn(backend: str = "fake:manila", num_qubits: int = 2, **options):
    qc, xs, ws = _circuit(num_qubits)
    return make_qnn(qc, input_params=xs, weight_params=ws, backend=backend, **options)


def _assert_isa(qnn, device: str = "manila") -> None:
    target = fake_backend(device).target
    circuit = qnn.circuit
    for inst in circuit.data:
        qargs = tuple(circuit.find_bit(q).index for q in inst.qubits)
        assert target.instruction_supported(inst.operation.name, qargs), inst.operation.name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"noise": 1}, "allowed options: .*optimization_level"),
        ({"mode": "stream"}, "'mode' must be one of job, batch, session"),
        ({"resilience_level": 3}, "'resilience_level'"),
        ({"optimization_level": 4}, "'optimization_level'"),
        ({"options": [1]}, "dict of EstimatorV2 options"),
        ({"options": {"default_shots": 10}}, "'shots' or 'precision' option"),
        ({"options": {"simulator": {"seed_simulator": 1}}, "seed": 2}, "conflicts"),
        ({"seed": 0}, "positive seed"),
        ({"shots": 100, "precision": 0.1}, "both"),
        ({"options": {"no_such_option": 1}}, "invalid IBM Runtime EstimatorV2 options"),
    ],
)
def test_invalid_options_name_the_problem(options: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        _qnn(**options)


def test_unknown_fake_device_lists_the_valid_ones() -> None:
    with pytest.raises(BackendError, match=r"unknown fake device 'atlantis'.*manila"):
        _qnn("fake:atlantis")


def test_too_many_qubits_for_the_device() -> None:
    with pytest.raises(BackendError, match="needs 6 qubits but device 'fake_manila' has 5"):
        _qnn(num_qubits=6)


@pytest.fixture
def no_account(tmp_path, monkeypatch) -> Path:
    """A fake HOME with no saved IBM account and no IBM environment variables."""
    home = tmp_path / "home"
    home.mkdir()
    without_ibm_account(monkeypatch, home)
    return home


@pytest.mark.parametrize("open_ibm", [
    lambda run_dir: _qnn("ibm"),
    lambda run_dir: _qnn("ideal:ibm_brisbane"),
    lambda run_dir: JobStore(run_dir).service(),
], ids=["ibm", "ideal-ibm-device", "job-store"])
def test_missing_ibm_account_says_how_to_save_one_and_writes_nothing(no_account, tmp_path,
                                                                     open_ibm) -> None:
    with pytest.raises(BackendError, match=r"save_account\(channel='ibm_quantum_platform'"):
        open_ibm(tmp_path / "run")
    assert not (no_account / ".qiskit").exists()
    assert [p.name for p in no_account.iterdir()] == []


def test_a_failed_lookup_removes_only_what_it_created(no_account, monkeypatch) -> None:
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime.accounts import AccountManager, AccountNotFoundError

    account_file = no_account / ".qiskit" / "qiskit-ibm.json"
    with pytest.raises(AccountNotFoundError):  # the library's side effect that is undone below
        AccountManager.get(name="default-ibm-quantum-platform")
    assert account_file.read_text() == "{}"
    shutil.rmtree(account_file.parent)
    calls = []

    def failing_service(channel=None, instance=None):
        # The real lookup by name: reads (and so creates) the account file, then finds nothing.
        calls.append((channel, instance))
        return AccountManager.get(name="default-ibm-quantum-platform")

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", failing_service)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "not-a-real-token")  # so the service is asked
    with pytest.raises(BackendError, match="found no saved IBM Quantum account"):
        ibm.runtime_service(None, None)
    assert calls == [(None, None)]
    assert not (no_account / ".qiskit").exists()

    (no_account / ".qiskit").mkdir()
    (no_account / ".qiskit" / "settings.conf").write_text("[default]\n")
    with pytest.raises(BackendError, match="found no saved IBM Quantum account"):
        ibm.runtime_service(None, None)
    assert sorted(p.name for p in (no_account / ".qiskit").iterdir()) == ["settings.conf"]


def test_an_existing_account_file_is_read_and_kept(no_account) -> None:
    account_file = no_account / ".qiskit" / "qiskit-ibm.json"
    account_file.parent.mkdir()
    account_file.write_text("{}")  # the real service finds no account in it, without network
    with pytest.raises(BackendError, match="found no saved IBM Quantum account"):
        ibm.runtime_service("ibm_cloud", None)
    assert account_file.read_text() == "{}"


class _StubService:
    """Stands in for ``QiskitRuntimeService``: fake devices, no network."""

    calls: ClassVar[list] = []

    def __init__(self, channel=None, instance=None) -> None:
        self.calls.append(("init", channel, instance))

    def least_busy(self, **filters):
        self.calls.append(("least_busy", filters))
        return fake_backend("manila")

    def backend(self, name):
        if name != "ibm_manila":
            raise QiskitBackendNotFoundError("no such backend")
        return fake_backend("manila")

    def backends(self):
        return [fake_backend("manila")]


@pytest.fixture
def stub_service(monkeypatch):
    import qiskit_ibm_runtime

    _StubService.calls = []
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", _StubService)
    return _StubService


def test_ibm_picks_the_least_busy_device_that_fits(stub_service) -> None:
    qnn = _qnn("ibm", shots=1000, seed=5, resilience_level=1, channel="ibm_cloud",
               options={"dynamical_decoupling": {"enable": True}})
    assert ("least_busy", {"operational": True, "simulator": False, "min_num_qubits": 2}) \
        in stub_service.calls
    assert ("init", "ibm_cloud", None) in stub_service.calls
    options = qnn.estimator.options
    assert options.seed_estimator == 5 and options.resilience_level == 1
    assert options.dynamical_decoupling.enable is True
    info = qnn.backend_info
    assert info["device"] == "fake_manila" and info["shots"] == 1000
    assert info["local_testing_mode"] is False
    _assert_isa(qnn)


def test_ibm_unknown_device_lists_the_account_devices(stub_service) -> None:
    with pytest.raises(BackendError, match=r"device 'ibm_nowhere'.*fake_manila"):
        _qnn("ibm", device="ibm_nowhere")


def test_ibm_rejects_bad_channel_before_touching_the_network(stub_service) -> None:
    with pytest.raises(BackendError, match="'channel'"):
        _qnn("ibm", channel="ibm_quantum")
    assert stub_service.calls == []


def test_to_isa_maps_observables_through_layout_and_routing() -> None:
    qc = _circuit(3)[0]
    qc.cz(0, 2)  # not adjacent on manila's line: forces a swap
    observables = [SparsePauliOp("IIZ"), SparsePauliOp("XZI"), SparsePauliOp("ZIY")]
    isa, mapped = ibm.to_isa(qc, observables, fake_backend("manila"), optimization_level=1)
    assert isa.num_qubits == 5
    assert isa.layout.final_index_layout() != isa.layout.initial_index_layout()  # routed
    rows = np.random.default_rng(3).uniform(-1, 1, (4, qc.num_parameters))
    estimator = StatevectorEstimator()
    logical = estimator.run([(qc, obs, rows) for obs in observables]).result()
    physical = estimator.run([(isa, obs, rows) for obs in mapped]).result()
    for want, got in zip(logical, physical, strict=True):
        np.testing.assert_allclose(got.data.evs, want.data.evs, atol=1e-10)


def test_fake_device_transpiles_once_and_defaults_to_shots(monkeypatch) -> None:
    calls = []
    real = isa.generate_preset_pass_manager
    monkeypatch.setattr(isa, "generate_preset_pass_manager",
                        lambda **kw: calls.append(kw) or real(**kw))
    qnn = _qnn(seed=7)
    assert qnn.default_precision == pytest.approx(1 / 64) and qnn.backend_info["shots"] == 4096
    assert qnn.gradient.precision == qnn.default_precision
    out = qnn.forward(X, W)
    qnn.backward(X, W)
    assert len(calls) == 1
    np.testing.assert_array_equal(_qnn(seed=7).forward(X, W), out)
    _assert_isa(qnn)


def test_fake_device_in_batch_mode(recwarn) -> None:
    qnn = _qnn(mode="batch", shots=500, seed=1)
    assert qnn.backend_info["mode"] == "batch"
    assert qnn.forward(X, W).shape == (4, 2)
    ibm.close_execution_mode(qnn)


def test_fake_manila_training_loss_falls() -> None:
    qnn = _qnn(shots=2000, seed=3)
    _assert_isa(qnn)
    assert qnn.backend_info["layout"] and qnn.backend_info["local_testing_mode"] is True
    torch.manual_seed(0)
    model = TorchConnector(qnn, initial_weights=np.full(qnn.num_weights, 0.1))
    inputs = torch.tensor(X, dtype=torch.float32)
    targets = torch.where(inputs[:, :1] > 0, torch.tensor([0.6, -0.6]), torch.tensor([-0.6, 0.6]))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.2)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(6):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]
