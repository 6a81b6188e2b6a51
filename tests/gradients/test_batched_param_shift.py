"""BatchedParamShiftEstimatorGradient must equal ParamShiftEstimatorGradient, in one job."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler.passes import TranslateParameterizedGates
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.gradients.utils import _assign_unique_parameters
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn.ansatz import hqml_ansatz
from qiskit_unlearn.gradients import BatchedParamShiftEstimatorGradient

ATOL = 1e-8


def _random_circuit() -> tuple[QuantumCircuit, list[Parameter]]:
    """rx/ry/rz/cx/rzz/crx with repeated parameters and expressions (2a+1, a*b)."""
    a, b, c, d = (Parameter(n) for n in "abcd")
    qc = QuantumCircuit(3)
    qc.h(range(3))  # so that leading rz gates are not mere phases on |0>
    qc.rx(a, 0)
    qc.ry(2 * a + 1, 1)
    qc.rz(a * b, 2)
    qc.rz(b * a, 1)
    qc.cx(0, 1)
    qc.rzz(b, 1, 2)
    qc.crx(c, 2, 0)
    qc.ry(c, 1)
    qc.rx(np.pi / 3, 2)
    qc.rzz(d - b, 0, 2)
    qc.rz(a, 0)
    qc.ry(b * b + 0.5 * c, 0)
    return qc, [a, b, c, d]


def _angle_encoded_ansatz(num_qubits: int, layers: int) -> tuple[QuantumCircuit, list, list]:
    """The catalogue's HQML ansatz: RX/RY/RZ(x) encoding, RX/RY/RZ layers, CZ ring."""
    ansatz = hqml_ansatz(num_qubits, reps=layers, entanglement="ring", entangler="cz")
    return ansatz.circuit, ansatz.input_params, ansatz.weight_params


def _observables() -> list[SparsePauliOp]:
    return [
        SparsePauliOp("ZII"),
        SparsePauliOp(["XYZ", "IZZ"], [0.3, -0.7]),
        SparsePauliOp("IXI"),
    ]


def _inputs(rng: np.random.Generator, num_params: int, num_samples: int = 3):
    """EstimatorQNN-style tiling (same circuit object, observables per sample), one duplicate."""
    qc, _ = _random_circuit()
    values = rng.uniform(-np.pi, np.pi, (num_samples, num_params))
    values[-1] = values[0]  # duplicated row exercises deduplication
    obs = _observables()
    circuits = [qc] * (len(obs) * num_samples)
    observables = [o for o in obs for _ in range(num_samples)]
    return qc, circuits, observables, np.tile(values, (len(obs), 1))


def _reference(circuits, observables, values, parameters=None) -> np.ndarray:
    ref = ParamShiftEstimatorGradient(StatevectorEstimator())
    result = ref.run(circuits, observables, values, parameters=parameters).result()
    return np.array(result.gradients)


def test_matches_param_shift_on_random_circuit_in_one_job():
    rng = np.random.default_rng(7)
    qc, circuits, observables, values = _inputs(rng, 4)
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    result = grad.run(circuits, observables, values).result()

    np.testing.assert_allclose(result.gradients, _reference(circuits, observables, values),
                               atol=ATOL)
    assert [m["parameters"] for m in result.metadata] == [qc.parameters] * len(circuits)
    assert (grad.num_jobs, grad.num_pubs) == (1, 1)
    # Broadcast size: 3 unique observables x 2 unique rows (one duplicate) x 2 shifts x K.
    unrolled = TranslateParameterizedGates(list(grad.SUPPORTED_GATES))(qc)
    num_k = _assign_unique_parameters(unrolled).gradient_circuit.num_parameters
    assert grad.num_circuit_evaluations == 3 * 2 * 2 * num_k
    # a*b coefficients are evaluated vectorised (sympy), not by the per-row ``bind`` fallback.
    (plan,) = grad._plans.values()
    assert plan.coeff_exprs
    assert all(fn.__name__ == "vectorised" for *_, fn in plan.coeff_exprs + plan.value_exprs)


def test_parameter_subsets_follow_requested_order():
    rng = np.random.default_rng(3)
    qc, circuits, observables, values = _inputs(rng, 4)
    a, b, c, _ = sorted(qc.parameters, key=lambda p: p.name)
    subset = [c, a]
    parameters = [subset] * (len(circuits) - 1) + [[b]]
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    result = grad.run(circuits, observables, values, parameters=parameters).result()

    n = len(circuits) - 1
    expected = _reference(circuits[:n], observables[:n], values[:n], [subset] * n)
    np.testing.assert_allclose(result.gradients[:-1], expected, atol=ATOL)
    full = _reference(circuits[-1:], observables[-1:], values[-1:])[0]
    np.testing.assert_allclose(result.gradients[-1], full[[1]], atol=ATOL)
    assert result.metadata[0]["parameters"] == subset
    assert grad.num_jobs == 1


def test_only_descendants_of_requested_parameters_are_shifted():
    qc, params = _random_circuit()
    d = params[3]  # appears only in rzz(d - b)
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    values = np.linspace(0.1, 0.4, 4)
    result = grad.run([qc], [_observables()[1]], [values], parameters=[[d]]).result()
    np.testing.assert_allclose(
        result.gradients[0],
        _reference([qc], [_observables()[1]], [values], [[d]])[0],
        atol=ATOL,
    )
    assert grad.num_circuit_evaluations == 2  # one observable, one row, one shifted gate


def test_distinct_circuits_one_pub_each_and_equal_copies_merge():
    qc, _ = _random_circuit()
    other, x, w = _angle_encoded_ansatz(3, 1)
    rng = np.random.default_rng(11)
    v1, v2 = rng.uniform(-1, 1, (2, 4)), rng.uniform(-1, 1, (2, len(x) + len(w)))
    circuits = [qc, other, qc.copy(), other]
    obs = _observables()
    observables = [obs[0], obs[1], obs[2], obs[0]]
    values = [v1[0], v2[0], v1[1], v2[1]]
    parameters = [None, w[:2], None, None]
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    result = grad.run(circuits, observables, values, parameters=parameters).result()

    expected = ParamShiftEstimatorGradient(StatevectorEstimator()).run(
        circuits, observables, values, parameters=parameters
    ).result()
    for got, want in zip(result.gradients, expected.gradients, strict=True):
        np.testing.assert_allclose(got, want, atol=ATOL)
    assert (grad.num_jobs, grad.num_pubs) == (1, 2)


def test_no_requested_parameters_sends_no_job():
    qc, _ = _random_circuit()
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator())
    result = grad.run([qc], [_observables()[0]], [np.zeros(4)], parameters=[[]]).result()
    assert result.gradients[0].shape == (0,)
    assert grad.num_jobs == 0


def test_global_phase_only_parameter_has_zero_gradient():
    # ParamShiftEstimatorGradient raises KeyError on this circuit; the phase is unobservable.
    a, p = Parameter("a"), Parameter("p")
    qc = QuantumCircuit(1, global_phase=p + a)
    qc.ry(a, 0)
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    result = grad.run([qc], [SparsePauliOp("Z")], [[0.3, 1.2]]).result()
    np.testing.assert_allclose(result.gradients[0], [-np.sin(0.3), 0.0], atol=ATOL)


@pytest.mark.parametrize("input_gradients", [True, False])
def test_inside_estimator_qnn_matches_default_gradient(input_gradients):
    qc, x, w = _angle_encoded_ansatz(3, 2)
    obs = [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], 3) for q in range(3)]
    estimator = StatevectorEstimator()

    def qnn(gradient=None) -> EstimatorQNN:
        return EstimatorQNN(circuit=qc, estimator=estimator, observables=obs, input_params=x,
                            weight_params=w, gradient=gradient, input_gradients=input_gradients,
                            default_precision=0.0)

    rng = np.random.default_rng(5)
    inputs, weights = rng.uniform(-1, 1, (4, len(x))), rng.uniform(-1, 1, len(w))
    grad = BatchedParamShiftEstimatorGradient(estimator, precision=0.0)
    got_in, got_w = qnn(grad).backward(inputs, weights)
    want_in, want_w = qnn().backward(inputs, weights)

    np.testing.assert_allclose(got_w, want_w, atol=ATOL)
    if input_gradients:
        np.testing.assert_allclose(got_in, want_in, atol=ATOL)
    else:
        assert got_in is None
    assert (grad.num_jobs, grad.num_pubs) == (1, 1)
    # 3 observables x 4 rows x 2 x (shifted g-params: 9 encoding gates if inputs, + 18 weights).
    num_k = 18 + (9 if input_gradients else 0)
    assert grad.num_circuit_evaluations == 3 * 4 * 2 * num_k


def test_run_precision_overrides_default():
    qc, _ = _random_circuit()
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator(), precision=0.0)
    values = [np.full(4, 0.2)]
    exact = grad.run([qc], [_observables()[0]], values).result()
    noisy = grad.run([qc], [_observables()[0]], values, precision=0.5).result()
    assert exact.options.precision == 0.0 and noisy.options.precision == 0.5
    assert not np.allclose(exact.gradients[0], noisy.gradients[0], atol=1e-3)


def test_validation_errors_match_base_class():
    qc, _ = _random_circuit()
    grad = BatchedParamShiftEstimatorGradient(StatevectorEstimator())
    z = SparsePauliOp("ZII")
    cases = [
        (([qc], [z, z], [np.zeros(4)]), "number of observables"),
        (([qc], [z], [np.zeros(3)]), r"number of values \(3\) does not match .* \(4\) for the 0"),
        (([qc], [SparsePauliOp("Z")], [np.zeros(4)]), "number of qubits of the 0-th circuit"),
        (([qc, qc], [z, z], [np.zeros(4)] * 2, [None, [Parameter("zz")]]),
         "1-th parameters contains parameters not present"),
        (([qc, qc], [z, z], [np.zeros(4)]), "number of parameter value sets"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            grad.run(*args)
        with pytest.raises(ValueError, match=message):
            ParamShiftEstimatorGradient(StatevectorEstimator()).run(*args)


def test_aer_estimator_v2_is_exact_by_default():
    aer = pytest.importorskip("qiskit_aer.primitives")
    rng = np.random.default_rng(2)
    _, circuits, observables, values = _inputs(rng, 4)
    grad = BatchedParamShiftEstimatorGradient(aer.EstimatorV2())
    result = grad.run(circuits, observables, values).result()
    np.testing.assert_allclose(result.gradients, _reference(circuits, observables, values),
                               atol=ATOL)
    assert (grad.num_jobs, grad.num_pubs) == (1, 1)


@pytest.mark.filterwarnings("ignore:The EstimatorV2 class is deprecated:DeprecationWarning")
def test_ibm_runtime_local_mode_on_isa_circuit():
    runtime = pytest.importorskip("qiskit_ibm_runtime")
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend = FakeManilaV2()
    qc, _, w = _angle_encoded_ansatz(2, 1)
    qc.ry(2 * w[0] + 1, 1)
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(qc)
    obs = [SparsePauliOp(p).apply_layout(isa.layout) for p in ("IZ", "ZZ")]
    values = np.random.default_rng(0).uniform(-1, 1, (2, isa.num_parameters))
    circuits, observables = [isa] * 4, [obs[0], obs[0], obs[1], obs[1]]
    values = np.tile(values, (2, 1))

    estimator = runtime.EstimatorV2(mode=backend)
    estimator.options.simulator.seed_simulator = 42
    grad = BatchedParamShiftEstimatorGradient(estimator)
    result = grad.run(circuits, observables, values).result()

    gradients = np.array(result.gradients)
    assert gradients.shape == (4, isa.num_parameters)
    assert np.all(np.isfinite(gradients))
    assert (grad.num_jobs, grad.num_pubs) == (1, 1)
    # Noisy hardware model + shots: only a loose agreement with the exact gradient.
    np.testing.assert_allclose(gradients, _reference(circuits, observables, values), atol=0.35)
    # The gradient circuit is the ISA circuit with renamed parameters: same gates, same qubits.
    (plan,) = grad._plans.values()
    g_ops = [(i.operation.name, i.qubits) for i in plan.gradient_circuit.data]
    assert g_ops == [(i.operation.name, i.qubits) for i in isa.data]
    assert set(plan.gradient_circuit.count_ops()) <= set(backend.target.operation_names)
