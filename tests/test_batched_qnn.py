"""BatchedEstimatorQNN: EstimatorQNN's values and gradients, in fewer PUBs and jobs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from circuit_helpers import random_circuit, random_observables, small_qnn_circuit
from qiskit.primitives import StatevectorEstimator
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn import make_qnn
from qiskit_unlearn.batched_qnn import BatchedEstimatorQNN
from qiskit_unlearn.gradients import BatchedParamShiftEstimatorGradient
from qiskit_unlearn.vjp import VJPEstimatorQNN


class _Counting(StatevectorEstimator):
    """The reference estimator, remembering how many PUBs each job had."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[int] = []

    def run(self, pubs, *, precision=None):
        pubs = list(pubs)
        self.jobs.append(len(pubs))
        return super().run(pubs, precision=precision)


def _pair(input_gradients: bool, circuit=None, observables=None, num_inputs: int = 2):
    """(ours on a counting estimator, EstimatorQNN + ParamShift on the reference estimator)."""
    if circuit is None:
        circuit, xs, ws = small_qnn_circuit(3)
        observables = random_observables(3, 3, seed=5)
    else:
        params = list(circuit.parameters)
        xs, ws = params[:num_inputs], params[num_inputs:]
    counting = _Counting()
    ours = BatchedEstimatorQNN(
        circuit=circuit, estimator=counting, observables=observables, input_params=xs,
        weight_params=ws, input_gradients=input_gradients, default_precision=0.0,
        gradient=BatchedParamShiftEstimatorGradient(counting, precision=0.0))
    reference_estimator = StatevectorEstimator()
    reference = EstimatorQNN(
        circuit=circuit, estimator=reference_estimator, observables=observables,
        input_params=xs, weight_params=ws, input_gradients=input_gradients,
        default_precision=0.0, gradient=ParamShiftEstimatorGradient(reference_estimator))
    return ours, reference, counting


@pytest.mark.parametrize("input_gradients", [True, False])
def test_values_and_gradients_match_estimator_qnn(input_gradients):
    ours, reference, counting = _pair(input_gradients)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (5, ours.num_inputs))
    w = rng.uniform(-2, 2, ours.num_weights)
    np.testing.assert_allclose(ours.forward(x, w), reference.forward(x, w), atol=1e-12)
    assert counting.jobs == [1]  # three observables, one broadcast PUB
    for got, want in zip(ours.backward(x, w), reference.backward(x, w), strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("input_gradients", [True, False])
def test_fused_step_is_one_job_with_the_reference_gradients(input_gradients):
    circuit = random_circuit(3, 14, seed=3, num_params=5)  # repeated and non-linear parameters
    ours, reference, counting = _pair(input_gradients, circuit, random_observables(3, 2, 9))
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (4, ours.num_inputs))
    w = rng.uniform(-2, 2, ours.num_weights)
    ours.expect_backward = True
    np.testing.assert_allclose(ours.forward(x, w), reference.forward(x, w), atol=1e-12)
    assert len(counting.jobs) == 1 and counting.jobs[0] == 2  # forward PUB + gradient PUB
    assert not ours.expect_backward  # armed for one forward pass only
    got = ours.backward(x, w)
    assert len(counting.jobs) == 1  # the backward pass sent nothing
    for g, want in zip(got, reference.backward(x, w), strict=True):
        if want is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, want, atol=1e-10)
    ours.backward(x, w)  # a second backward on the same step is computed again, correctly
    assert len(counting.jobs) == 2
    assert (ours.num_jobs, ours.num_fused) == (1, 1)


def test_torch_training_steps_of_a_quantum_layer_are_one_job_each():
    """Two forwards with grad (as NegGrad+ does) and one backward: two jobs, exact gradients."""
    from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
    from qiskit_unlearn.models.base import QuantumLayer

    ansatz = hqml_ansatz(2, reps=1, entanglement="linear", entangler="cz")
    layers = {}
    for backend in ("aer", "statevector"):
        torch.manual_seed(0)
        layers[backend] = QuantumLayer(ansatz, z_observables(2), backend=backend)
    aer = layers["aer"]
    assert isinstance(aer.qnn, BatchedEstimatorQNN)
    jobs = []
    inner_run = aer.qnn.estimator.run
    aer.qnn.estimator.run = lambda pubs, **kw: jobs.append(len(list(pubs))) or inner_run(pubs, **kw)
    grad_jobs_before = aer.qnn.gradient.num_jobs
    x1 = torch.tensor([[0.3, -0.2], [0.1, 0.9]])
    x2 = torch.tensor([[-0.5, 0.4]])
    grads = {}
    for name, layer in layers.items():
        layer.zero_grad()
        loss = layer(x1).pow(2).sum() - 0.5 * layer(x2).sum()
        loss.backward()
        grads[name] = layer.connector.weight.grad.clone()
    np.testing.assert_allclose(grads["aer"], grads["statevector"], atol=1e-6)
    assert len(jobs) == 2 and aer.qnn.gradient.num_jobs == grad_jobs_before
    with torch.no_grad():  # evaluation: forward PUB only
        aer(x1)
    assert jobs[-1] == 1


def test_make_qnn_picks_the_batched_qnn_for_parameter_shift_backends():
    qc, xs, ws = small_qnn_circuit(2)
    assert type(make_qnn(qc, input_params=xs, weight_params=ws)) is VJPEstimatorQNN
    qnn = make_qnn(qc, input_params=xs, weight_params=ws, backend="aer")
    assert isinstance(qnn, BatchedEstimatorQNN)
    exact = make_qnn(qc, input_params=xs, weight_params=ws)
    x = np.random.default_rng(2).uniform(-3, 3, (6, 2))
    w = np.random.default_rng(3).uniform(-3, 3, 4)
    np.testing.assert_allclose(qnn.forward(x, w), exact.forward(x, w), atol=1e-10)
    connector = TorchConnector(qnn, initial_weights=w)
    assert connector(torch.tensor(x, dtype=torch.float32)).shape == (6, 2)


def test_needs_the_batched_gradient():
    qc, xs, ws = small_qnn_circuit(2)
    with pytest.raises(TypeError, match="BatchedParamShiftEstimatorGradient"):
        BatchedEstimatorQNN(circuit=qc, estimator=StatevectorEstimator(), input_params=xs,
                            weight_params=ws,
                            gradient=ParamShiftEstimatorGradient(StatevectorEstimator()))
