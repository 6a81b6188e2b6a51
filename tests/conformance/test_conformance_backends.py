"""Conformance of every registered QNN backend (``qiskit_unlearn.available_backends()``).

For each backend that runs locally without credentials, a QNN built by ``make_qnn`` on a small
2-qubit circuit (angle inputs, RY / RX / RZZ weights, Z and XX observables) must agree with the
exact reference computed independently with Qiskit's ``StatevectorEstimator`` (values) and the
parameter-shift rule on it (input and weight gradients):

* exact backends (and noisy ones configured without noise) to 1e-8, through ``qnn.forward`` /
  ``qnn.backward`` and through the torch connector every model uses (float32: 1e-6);
* shot backends within 5 standard errors of the shot budget (sigma <= 1/sqrt(shots) for a
  Pauli observable, 1/sqrt(2 shots) for a parameter-shift gradient); a backend that always
  carries device noise (``fake:<device>``) is compared with the exact *noisy* value of the same
  ISA circuit (``noisy`` with the device's noise model, itself checked against the reference);
* the two noisy simulators (``aer-noisy`` exact and ``noisy``) agree to 1e-8 under real noise.

Every backend names its allowed options when given an unknown one (a ``BackendError``);
``ibm`` is only checked offline: without an account it fails with a clear ``BackendError``.
A backend registered later is picked up automatically: with no options (prefix backends on the
5-qubit ``manila``), checked to 1e-8 if its ``backend_info`` says it is exact, else within the
shot tolerance of its ``backend_info["shots"]``.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hardware.ibm_stubs import without_ibm_account
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp

import qiskit_unlearn
from qiskit_unlearn.backends.base import BackendConfig, BackendError, resolve_backend

try:  # the connector every model uses (VJP on statevector / noisy)
    from qiskit_unlearn.vjp import connector_for
except ImportError:  # pragma: no cover - moved by a refactor: the plain connector still applies
    from qiskit_machine_learning.connectors import TorchConnector as connector_for

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore:.*resilience_level.*:UserWarning")

DEVICE = "manila"  # the 5-qubit fake device the backend tests use
#: Backends that need an IBM Quantum account: checked offline only.
NEEDS_ACCOUNT = {"ibm"}
EXACT_ATOL = 1e-8
TORCH_ATOL = 1e-6  # the connector returns float32
SIGMAS = 5.0

XS = [Parameter(f"x{i}") for i in range(2)]
WS = [Parameter(f"w{i}") for i in range(5)]
OBSERVABLES = [SparsePauliOp("IZ"), SparsePauliOp("ZI"), SparsePauliOp("XX")]
X = np.array([[0.3, -0.7], [1.1, 0.4]])
W = np.array([0.5, -0.3, 0.9, 0.2, -1.2])
NOISE = {"depolarizing_1q": 0.01, "depolarizing_2q": 0.05, "readout_error": 0.03}


def _circuit() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.rx(XS[0], 0)
    qc.rx(XS[1], 1)
    qc.ry(WS[0], 0)
    qc.ry(WS[1], 1)
    qc.cz(0, 1)
    qc.rx(WS[2], 0)
    qc.ry(WS[3], 1)
    qc.rzz(WS[4], 0, 1)
    return qc


CIRCUIT = _circuit()


def reference_forward(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact expectation values (rows, observables) from Qiskit's StatevectorEstimator."""
    x, w = np.atleast_2d(x), np.asarray(w)
    rows = np.hstack([x, np.tile(w, (len(x), 1))])
    order = [(XS + WS).index(p) for p in CIRCUIT.parameters]
    job = StatevectorEstimator().run([(CIRCUIT, obs, rows[:, order]) for obs in OBSERVABLES])
    return np.stack([r.data.evs for r in job.result()], axis=1)


def reference_gradients(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact input and weight Jacobians (rows, observables, parameters) by parameter shift
    (exact here: every parameter is the angle of one Pauli rotation)."""
    gx = np.zeros((len(x), len(OBSERVABLES), x.shape[1]))
    gw = np.zeros((len(x), len(OBSERVABLES), len(w)))
    for i in range(x.shape[1]):
        shift = np.zeros_like(x)
        shift[:, i] = np.pi / 2
        gx[:, :, i] = (reference_forward(x + shift, w) - reference_forward(x - shift, w)) / 2
    for j in range(len(w)):
        shift = np.zeros_like(w)
        shift[j] = np.pi / 2
        gw[:, :, j] = (reference_forward(x, w + shift) - reference_forward(x, w - shift)) / 2
    return gx, gw


@dataclass(frozen=True)
class Case:
    """A backend configuration that runs locally, and what it must match."""

    registered: str  # the name available_backends() lists
    name: str  # what make_qnn gets
    options: dict[str, Any] = field(default_factory=dict)
    #: "reference" (noise-free StatevectorEstimator) or options of a ``noisy`` QNN whose exact
    #: noisy values the backend's shot estimates must match.
    against: str | dict[str, Any] = "reference"
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.registered}{'-' + self.label if self.label else ''}"


#: Local configurations of the known backends: exact where an option allows it (no shots, zero
#: noise), shots with a seed otherwise.
KNOWN_CASES: dict[str, list[Case]] = {
    "statevector": [Case("statevector", "statevector")],
    "aer": [Case("aer", "aer", label="exact"),
            Case("aer", "aer", {"shots": 4000, "seed": 3}, label="shots")],
    "aer-noisy": [Case("aer-noisy", "aer-noisy", {"depolarizing_1q": 0.0}, label="noise-free")],
    "noisy": [Case("noisy", "noisy", {"depolarizing_1q": 0.0}, label="noise-free")],
    "ideal:<device>": [Case("ideal:<device>", f"ideal:{DEVICE}")],
    "fake:<device>": [Case("fake:<device>", f"fake:{DEVICE}", {"shots": 4000, "seed": 11},
                           against={"device": DEVICE, "seed": 11, "routing": "device"})],
}


#: Some options each known backend documents (docs/guides/backends.md, "Backend options"): an
#: unknown option's error must name them.
DOCUMENTED_OPTIONS: dict[str, tuple[str, ...]] = {
    "statevector": ("memory_limit", "precision"),
    "aer": ("shots", "precision", "seed", "memory_limit"),
    "aer-noisy": ("shots", "seed", "method", "depolarizing_1q", "readout_error", "device",
                  "noise_model"),
    "noisy": ("depolarizing_1q", "t1", "device", "noise_model", "zne_factors", "routing",
              "mitigate_readout"),
    "ideal:<device>": ("optimization_level", "seed", "memory_limit"),
    "fake:<device>": ("shots", "seed", "optimization_level", "mode", "resilience_level"),
    "ibm": ("device", "instance", "channel", "mode", "shots"),
}


def _default_case(registered: str) -> Case:
    name = registered.replace("<device>", DEVICE) if registered.endswith(":<device>") \
        else registered
    return Case(registered, name, label="defaults")


def local_cases() -> list[Case]:
    cases = []
    for registered in qiskit_unlearn.available_backends():
        if registered in NEEDS_ACCOUNT:
            continue
        cases += KNOWN_CASES.get(registered) or [_default_case(registered)]
    return cases


CASES = local_cases()


def _concrete(registered: str) -> str:
    return registered.replace("<device>", DEVICE)


def _qnn(name: str, **options: Any):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qiskit_unlearn.make_qnn(CIRCUIT, input_params=XS, weight_params=WS,
                                       observables=OBSERVABLES, backend=name,
                                       input_gradients=True, **options)


def _tolerances(qnn) -> tuple[float, float]:
    """(value, gradient) tolerance of a QNN from what its backend says about itself."""
    info = qnn.backend_info
    if info.get("exact"):
        return EXACT_ATOL, EXACT_ATOL
    shots = info.get("shots")
    assert shots, (f"backend {info.get('backend')!r} is neither exact nor reports its shots in "
                   "backend_info; give it a conformance case in KNOWN_CASES")
    sigma = 1.0 / math.sqrt(shots)  # a Pauli observable: sigma <= 1/sqrt(shots)
    return SIGMAS * sigma, SIGMAS * sigma / math.sqrt(2)


def _target(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if case.against == "reference":
        return (reference_forward(X, W), *reference_gradients(X, W))
    return _noisy_target(tuple(sorted(case.against.items())))


@functools.cache
def _noisy_target(options: tuple[tuple[str, Any], ...]) -> tuple[np.ndarray, ...]:
    exact = _qnn("noisy", **dict(options))
    assert exact.backend_info["exact"]
    return exact.forward(X, W), *exact.backward(X, W)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_qnn_values_and_gradients_match_the_exact_reference(case):
    qnn = _qnn(case.name, **case.options)
    assert qnn.backend_info["backend"] == case.name
    value_tol, grad_tol = _tolerances(qnn)
    if case.against != "reference":
        assert value_tol > EXACT_ATOL, "a noisy-reference case must be a shot backend"
    want, want_gx, want_gw = _target(case)
    got = qnn.forward(X, W)
    gx, gw = qnn.backward(X, W)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=value_tol)
    assert gx is not None and gw is not None
    np.testing.assert_allclose(np.asarray(gx).reshape(want_gx.shape), want_gx, rtol=0,
                               atol=grad_tol)
    np.testing.assert_allclose(np.asarray(gw).reshape(want_gw.shape), want_gw, rtol=0,
                               atol=grad_tol)
    if "shots" in case.options:
        assert qnn.backend_info["shots"] == case.options["shots"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_connector_matches_the_exact_reference(case):
    """The path every model takes: the connector's forward and its backward (a vector-Jacobian
    product on statevector / noisy) with a random cotangent."""
    qnn = _qnn(case.name, **case.options)
    value_tol, grad_tol = _tolerances(qnn)
    connector = connector_for(qnn, W.astype(np.float32))
    x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    w = connector.weight.detach().double().numpy()
    xr = x.detach().double().numpy()
    if case.against == "reference":
        want, want_gx, want_gw = reference_forward(xr, w), *reference_gradients(xr, w)
    else:
        want, want_gx, want_gw = _target(case)
    cotangent = torch.tensor(np.random.default_rng(7).normal(size=want.shape))
    out = connector(x)
    assert out.shape == want.shape
    (out.double() * cotangent).sum().backward()
    tol = max(value_tol, TORCH_ATOL)
    np.testing.assert_allclose(out.detach().double().numpy(), want, rtol=0, atol=tol)
    c = cotangent.numpy()
    scale = np.abs(c).sum(axis=1).max()  # |sum_k c_k g_k| <= sum_k |c_k| * tol
    np.testing.assert_allclose(x.grad.double().numpy(), np.einsum("bo,boi->bi", c, want_gx),
                               rtol=0, atol=scale * max(grad_tol, TORCH_ATOL))
    np.testing.assert_allclose(connector.weight.grad.double().numpy(),
                               np.einsum("bo,bow->w", c, want_gw), rtol=0,
                               atol=len(X) * scale * max(grad_tol, TORCH_ATOL))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_backend_is_reproducible(case):
    """Exact backends give the same values every time; shot backends with the same seed too."""
    first = _qnn(case.name, **case.options).forward(X, W)
    np.testing.assert_array_equal(_qnn(case.name, **case.options).forward(X, W), first)


def test_the_two_noisy_simulators_agree_under_the_same_noise():
    """``aer-noisy`` (Aer density matrix + parameter shift) and ``noisy`` (the project's density
    engine + reverse mode) are independent implementations of the same exact noisy values."""
    a, b = _qnn("aer-noisy", **NOISE), _qnn("noisy", **NOISE)
    assert a.backend_info["exact"] and b.backend_info["exact"]
    fa, fb = a.forward(X, W), b.forward(X, W)
    assert np.abs(fa - reference_forward(X, W)).max() > 1e-3  # the noise is really there
    np.testing.assert_allclose(fa, fb, rtol=0, atol=EXACT_ATOL)
    for ga, gb in zip(a.backward(X, W), b.backward(X, W), strict=True):
        np.testing.assert_allclose(ga, gb, rtol=0, atol=EXACT_ATOL)


# --- options ------------------------------------------------------------------------------------

@pytest.mark.parametrize("registered", qiskit_unlearn.available_backends())
def test_unknown_option_is_a_backend_error_naming_the_allowed_ones(registered, no_ibm_account):
    """Checked before anything else (for ``ibm``: before any account or network lookup)."""
    with pytest.raises(BackendError, match=r"no_such_option") as err:
        _qnn(_concrete(registered), no_such_option=1)
    message = str(err.value)
    expected = set(DOCUMENTED_OPTIONS.get(registered, ()))
    for case in KNOWN_CASES.get(registered, []):  # and every option the suite passes it
        expected |= set(case.options)
    missing = sorted(o for o in expected if o not in message)
    assert not missing, f"{registered}: the error does not name {missing}: {message!r}"


@pytest.mark.parametrize("registered", qiskit_unlearn.available_backends())
def test_every_registered_name_resolves(registered):
    factory, options = resolve_backend(BackendConfig(_concrete(registered)))
    assert callable(factory)
    if registered.endswith(":<device>"):
        assert options == {"device": DEVICE}
        with pytest.raises(BackendError, match="device"):
            resolve_backend(BackendConfig(registered.split(":")[0] + ":"))


def test_an_unknown_backend_lists_every_registered_one():
    with pytest.raises(BackendError) as err:
        resolve_backend(BackendConfig("no-such-backend"))
    for registered in qiskit_unlearn.available_backends():
        assert registered in str(err.value)


# --- credentials --------------------------------------------------------------------------------

@pytest.fixture
def no_ibm_account(tmp_path, monkeypatch):
    """No saved IBM account and no IBM environment variables (nothing can reach the network)."""
    home = tmp_path / "home"
    home.mkdir()
    without_ibm_account(monkeypatch, home)
    return home


ACCOUNT_NAMES = [*sorted(NEEDS_ACCOUNT & set(qiskit_unlearn.available_backends())),
                 "ideal:ibm_brisbane"]


@pytest.mark.parametrize("name", ACCOUNT_NAMES)
def test_account_backends_fail_clearly_without_credentials(name, no_ibm_account):
    with pytest.raises(BackendError, match=r"save_account") as err:
        _qnn(name)
    assert "fake:" in str(err.value), "the error should point at the offline alternative"
    assert list(no_ibm_account.iterdir()) == [], "a failed account lookup left files behind"



def _flagged_exact() -> list[Any]:
    try:
        from qiskit_unlearn.backends.base import backend_entries
    except ImportError:  # a registry without per-entry facts: nothing to check
        return []
    return [e for e in backend_entries() if getattr(e, "exact", False)]


@pytest.mark.parametrize("entry", _flagged_exact(), ids=lambda e: e.display_name)
def test_a_backend_flagged_exact_is_exact_and_noiseless_with_its_defaults(entry):
    """The registry's ``exact`` flag (a noise study's reference): with no options the values
    are the noise-free reference."""
    qnn = _qnn(_concrete(entry.display_name))
    assert qnn.backend_info.get("exact") is True
    np.testing.assert_allclose(qnn.forward(X, W), reference_forward(X, W), rtol=0,
                               atol=EXACT_ATOL)
