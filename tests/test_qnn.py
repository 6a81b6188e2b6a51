"""make_qnn: argument validation and end-to-end training through TorchConnector."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn import BackendConfig, BackendError, available_backends, make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.engine import AdjointEstimatorGradient, FastStatevectorEstimator


def test_statevector_is_the_default_and_exact():
    a = hqml_ansatz(2, reps=1)
    qnn = make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params)
    assert isinstance(qnn, EstimatorQNN)
    assert isinstance(qnn.estimator, FastStatevectorEstimator)
    assert isinstance(qnn.gradient, AdjointEstimatorGradient)
    assert qnn.default_precision == 0.0
    assert qnn.output_shape == (2,)  # default observables: Z on every qubit
    assert qnn.input_gradients


def test_weights_default_to_every_non_input_parameter():
    a = hqml_ansatz(2, reps=1)
    qnn = make_qnn(a.circuit, input_params=a.input_params)
    assert qnn.num_weights == a.num_weights


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "nope"}, "unknown backend 'nope'; choose one of"),
        ({"backend": "statevector", "shots": 10}, "does not take option"),
        ({"backend": {"shots": 1}}, "needs a 'name' key"),
        ({"backend": "fake:"}, "needs a device"),
        ({"observables": ["ZZZ"]}, "acts on 3 qubits but the circuit has 2"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, match):
    a = hqml_ansatz(2, reps=1)
    with pytest.raises(BackendError, match=match):
        make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params, **kwargs)


def test_parameters_must_be_declared_once():
    a = hqml_ansatz(2, reps=1)
    with pytest.raises(BackendError, match="neither inputs nor weights"):
        make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params[:-1])
    with pytest.raises(BackendError, match="not in the circuit"):
        make_qnn(a.circuit, input_params=[*a.input_params, Parameter("stray")],
                 weight_params=a.weight_params)


def test_backend_config_objects_and_listing():
    cfg = BackendConfig.coerce({"name": "statevector"})
    assert cfg == BackendConfig("statevector", {})
    assert "statevector" in available_backends() and "fake:<device>" in available_backends()
    qc = QuantumCircuit(1)
    qc.ry(Parameter("w"), 0)
    qnn = make_qnn(qc, backend=cfg, observables=["Z"])
    assert qnn.forward(None, [0.0]) == pytest.approx(1.0)


def test_torch_connector_training_reduces_loss_on_statevector():
    """A hybrid classifier (Linear -> VQC -> Linear) learns a separable 2-class problem."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    a = hqml_ansatz(2, reps=2)
    qnn = make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params,
                   observables=z_observables(2))
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), TorchConnector(
        qnn, initial_weights=rng.uniform(-1, 1, a.num_weights)), torch.nn.Linear(2, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
    accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    assert accuracy >= 0.9
    # the first layer received gradients through the quantum layer's input gradients
    assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0


def test_routed_estimators_reach_every_qnn_built_in_the_block():
    from qiskit_unlearn.qnn import routed_estimators

    a = hqml_ansatz(2, reps=1)
    kwargs = {"input_params": a.input_params, "weight_params": a.weight_params}
    seen = []

    def route(estimator, backend):
        assert backend in ("aer", "statevector")
        seen.append(estimator)
        return estimator

    with routed_estimators(route):
        inside = make_qnn(a.circuit, backend="aer", **kwargs)
        with pytest.raises(BackendError, match="cannot be routed"):
            make_qnn(a.circuit, **kwargs)  # statevector's adjoint gradient bypasses estimators
    outside = make_qnn(a.circuit, backend="aer", **kwargs)
    assert len(seen) == 2 and inside.estimator is seen[0]  # aer, then statevector (refused)
    assert inside.gradient._estimator is seen[0]  # the gradient's jobs take the same route
    assert outside.estimator is not seen[0]
    with routed_estimators(lambda estimator, backend: None):  # a route may leave a QNN alone
        assert isinstance(make_qnn(a.circuit, **kwargs).estimator, FastStatevectorEstimator)
