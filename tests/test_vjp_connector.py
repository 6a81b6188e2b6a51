"""The torch VJP path: ``VJPConnector`` gradients equal ``TorchConnector``'s, the QNN keeps its
``EstimatorQNN`` contract, and every model the toolkit builds on an exact engine uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.models import MODELS, build_model
from qiskit_unlearn.models.base import QuantumLayer
from qiskit_unlearn.vjp import VJPConnector, VJPEstimatorQNN


def _qnn(input_gradients: bool, **options) -> VJPEstimatorQNN:
    ansatz = hqml_ansatz(3, reps=2, entanglement="ring", entangler="cz")
    return make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                    weight_params=ansatz.weight_params, observables=z_observables(3),
                    input_gradients=input_gradients, **options)


def _grads(connector: torch.nn.Module, x: torch.Tensor, upstream: torch.Tensor):
    x = x.clone().requires_grad_(True)
    connector.zero_grad(set_to_none=True)
    out = connector(x)
    (out * upstream).sum().backward()
    return out.detach(), None if x.grad is None else x.grad.clone(), connector.weight.grad.clone()


@pytest.mark.parametrize("input_gradients", [True, False])
def test_vjp_connector_matches_torch_connector(input_gradients):
    qnn = _qnn(input_gradients)
    assert isinstance(qnn, VJPEstimatorQNN)
    weights = np.random.default_rng(0).uniform(-np.pi, np.pi, qnn.num_weights)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(7, 3, generator=gen) * 6 - 3
    upstream = torch.randn(7, 3, generator=gen)
    fast = _grads(VJPConnector(qnn, initial_weights=weights), x, upstream)
    calls = qnn.num_vjp_calls
    slow = _grads(TorchConnector(qnn, initial_weights=weights), x, upstream)  # old path works
    assert qnn.num_vjp_calls == calls  # TorchConnector stayed on the Jacobian path
    torch.testing.assert_close(fast[0], slow[0])
    torch.testing.assert_close(fast[2], slow[2], atol=1e-5, rtol=1e-5)
    if input_gradients:
        torch.testing.assert_close(fast[1], slow[1], atol=1e-5, rtol=1e-5)
    else:
        assert fast[1] is None and slow[1] is None


def test_one_vjp_call_per_backward_and_backward_keeps_full_jacobians():
    qnn = _qnn(True)
    weights = np.random.default_rng(2).uniform(-np.pi, np.pi, qnn.num_weights)
    connector = VJPConnector(qnn, initial_weights=weights)
    x = torch.rand(5, 3)
    calls = qnn.gradient.num_calls
    connector(x).sum().backward()
    assert qnn.num_vjp_calls == 1 and qnn.gradient.num_calls == calls + 1
    gi, gw = qnn.backward(x.numpy(), weights)  # EstimatorQNN's contract: full Jacobians
    assert gi.shape == (5, 3, 3) and gw.shape == (5, 3, qnn.num_weights)
    with torch.no_grad():
        connector(x)  # no backward follows: no VJP either
    assert qnn.num_vjp_calls == 1


def test_single_element_input_and_no_input_gradients_in_autograd():
    qnn = _qnn(False)
    connector = VJPConnector(qnn, initial_weights=np.zeros(qnn.num_weights))
    out = connector(torch.rand(3))
    assert out.shape == (3,)
    out.sum().backward()
    assert connector.weight.grad is not None and connector.weight.grad.shape == (qnn.num_weights,)
    with pytest.raises(ValueError, match="invalid input dimension"):
        connector(torch.rand(2, 4))


def test_single_precision_backend_trains_like_double():
    ref = _qnn(True)
    single = _qnn(True, precision="single")
    assert single.backend_info["precision"] == "single"
    weights = np.random.default_rng(3).uniform(-np.pi, np.pi, ref.num_weights)
    x = torch.rand(6, 3) * 2
    upstream = torch.randn(6, 3)
    a = _grads(VJPConnector(ref, initial_weights=weights), x, upstream)
    b = _grads(VJPConnector(single, initial_weights=weights), x, upstream)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(v, u, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_every_model_on_an_exact_engine_uses_the_vjp_path(kind):
    kwargs = {
        "hybrid-pca": {"num_qubits": 2, "num_classes": 3, "layers": 1},
        "hybrid-cnn": {"num_qubits": 2, "num_classes": 2, "image_shape": (1, 6, 6),
                       "channels": (2,), "layers": 1},
        "vqc-amplitude": {"num_qubits": 2, "num_classes": 2, "layers": 1},
        "mlp": {"input_dim": 4, "num_classes": 3},
    }[kind]
    model = build_model(kind, **kwargs, seed=0)
    layers = [m for m in model.modules() if isinstance(m, QuantumLayer)]
    assert bool(layers) == (kind != "mlp")
    for layer in layers:
        assert isinstance(layer.connector, VJPConnector)
        assert isinstance(layer.qnn, EstimatorQNN) and isinstance(layer.qnn, VJPEstimatorQNN)
