"""The density-matrix engine against Aer's density-matrix ``EstimatorV2`` (values, 1e-10) and
Qiskit's ``ParamShiftEstimatorGradient`` on it (gradients, 1e-8), channel by channel."""

from __future__ import annotations

import numpy as np
import pytest
from circuit_helpers import (
    ONE_Q_FIXED,
    ONE_Q_PARAM,
    TWO_Q_FIXED,
    TWO_Q_PARAM,
    random_circuit,
    random_observables,
)
from qiskit import transpile
from qiskit.quantum_info import Kraus, SparsePauliOp, SuperOp
from qiskit_aer.noise import (
    NoiseModel,
    QuantumError,
    amplitude_damping_error,
    depolarizing_error,
    pauli_error,
    phase_damping_error,
    thermal_relaxation_error,
)
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient

from qiskit_unlearn.ansatz import CATALOGUE
from qiskit_unlearn.engine.density import DensityObservables, DensityProgram
from qiskit_unlearn.engine.density_estimator import DensityMatrixEstimator, DensityMatrixGradient
from qiskit_unlearn.engine.density_plan import MAX_DENSITY_QUBITS
from qiskit_unlearn.engine.superop import NoiseNotSupportedError
from qiskit_unlearn.errors import BackendError

ONE_Q = [*ONE_Q_PARAM, *ONE_Q_FIXED, "u"]
TWO_Q = [*TWO_Q_PARAM, *TWO_Q_FIXED, "unitary", "rzx"]


def _aer(noise: NoiseModel) -> AerEstimator:
    return AerEstimator(options={"default_precision": 0.0, "backend_options": {
        "method": "density_matrix", "noise_model": noise}})


def _reference(circuit, observables, values, noise):
    """Aer values ``(S, O)`` and parameter-shift Jacobian ``(S, O, P)`` on Aer."""
    evs = np.asarray(_aer(noise).run([(circuit, [[o] for o in observables], values)])
                     .result()[0].data.evs).T
    items = [(o, row) for o in observables for row in values]
    grads = ParamShiftEstimatorGradient(_aer(noise)).run(
        [circuit] * len(items), [o for o, _ in items], [r for _, r in items]).result().gradients
    jac = np.asarray(grads).reshape(len(observables), len(values), -1).transpose(1, 0, 2)
    return evs, jac


def _ours(circuit, observables, values, noise, **kwargs):
    estimator = DensityMatrixEstimator(noise, **kwargs)
    table = estimator.observables([_key(o) for o in observables], circuit.num_qubits)
    return estimator.program(circuit).reverse(values, table, None, estimator.memory_limit)


def _key(observable):
    from qiskit_unlearn.engine.estimator import observable_key

    return observable_key(observable)


def _mixed_noise(seed: int) -> NoiseModel:
    """Every channel kind on some gate: depolarizing, thermal, amplitude and phase damping,
    Pauli, and errors given as Kraus operators and as a SuperOp."""
    rng = np.random.default_rng(seed)
    model = NoiseModel()
    one = [depolarizing_error(0.02, 1), thermal_relaxation_error(30e3, 20e3, 60),
           amplitude_damping_error(0.05), phase_damping_error(0.07),
           pauli_error([("X", 0.02), ("Y", 0.01), ("Z", 0.03), ("I", 0.94)]),
           QuantumError(Kraus(amplitude_damping_error(0.1))),
           QuantumError(SuperOp(phase_damping_error(0.2)))]
    for k, name in enumerate(ONE_Q):
        model.add_all_qubit_quantum_error(one[k % len(one)], name)
    two = [depolarizing_error(0.04, 2), thermal_relaxation_error(30e3, 25e3, 300).expand(
        amplitude_damping_error(0.03)), pauli_error([("XZ", 0.03), ("II", 0.97)])]
    for k, name in enumerate(TWO_Q):
        model.add_all_qubit_quantum_error(two[(k + seed) % len(two)], name)
    model.add_quantum_error(depolarizing_error(0.3, 1), "ry", [0])  # local beats all-qubit
    del rng
    return model


#: Gates Aer's density-matrix method runs and Qiskit's parameter-shift gradient differentiates
#: without translating them (a translated gate would carry other noise in the reference).
AER_DM_GATES = ["rx", "ry", "rz", "h", "s", "sdg", "t", "sx", "x", "y", "z", "rxx", "ryy",
                "rzz", "rzx", "cx", "cy", "cz", "swap"]


def _aer_runnable(qc):
    """The circuit in :data:`AER_DM_GATES` (``u``, controlled rotations and ``iswap``
    decomposed), so both simulators run the same instructions with the same errors."""
    return transpile(qc, basis_gates=AER_DM_GATES, optimization_level=0)


@pytest.mark.parametrize("seed", range(4))
def test_random_circuits_under_every_channel_kind(seed):
    n = 2 + seed % 2
    qc = _aer_runnable(random_circuit(n, depth=18, seed=300 + seed))
    obs = random_observables(n, 2, seed)
    values = np.random.default_rng(seed).uniform(-np.pi, np.pi, (3, qc.num_parameters))
    noise = _mixed_noise(seed)
    evs, jac = _ours(qc, obs, values, noise)
    ref_evs, ref_jac = _reference(qc, obs, values, noise)
    np.testing.assert_allclose(evs, ref_evs, atol=1e-10, rtol=0)
    np.testing.assert_allclose(jac, ref_jac, atol=1e-8, rtol=0)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_ansatz_matches_aer(name):
    from qiskit_unlearn.ansatz import build_reference
    from qiskit_unlearn.backends.noise import build_noise_model

    ansatz = build_reference(name)
    noise = build_noise_model(depolarizing_1q=0.01, depolarizing_2q=0.03, t1=40e3, t2=30e3)
    qc = transpile(ansatz.circuit, basis_gates=noise.basis_gates, optimization_level=0)
    n = qc.num_qubits
    obs = [SparsePauliOp.from_sparse_list([("Z", [0], 1.0)], n), SparsePauliOp("X" * n)]
    obs = obs if n <= 4 else obs[1:]  # the reference's parameter shift is the cost
    values = np.random.default_rng(len(name)).uniform(-np.pi, np.pi, (1, qc.num_parameters))
    evs, jac = _ours(qc, obs, values, noise)
    ref_evs, ref_jac = _reference(qc, obs, values, noise)
    np.testing.assert_allclose(evs, ref_evs, atol=1e-10, rtol=0)
    np.testing.assert_allclose(jac, ref_jac, atol=1e-8, rtol=0)


def test_the_vjp_is_the_weighted_jacobian_and_checkpoints_change_nothing():
    qc = _aer_runnable(random_circuit(3, depth=30, seed=11))
    obs = random_observables(3, 3, 2)
    values = np.random.default_rng(3).uniform(-np.pi, np.pi, (4, qc.num_parameters))
    noise = _mixed_noise(1)
    estimator = DensityMatrixEstimator(noise)
    program = estimator.program(qc)
    table = estimator.observables([_key(o) for o in obs], 3)
    evs, jac = program.reverse(values, table, None)
    weights = np.random.default_rng(4).normal(size=(4, 3))
    evs2, vjp = DensityMatrixGradient(estimator).vjp(qc, obs, values, weights)
    np.testing.assert_allclose(evs2, evs, atol=1e-14)
    np.testing.assert_allclose(vjp, np.einsum("so,sop->sp", weights, jac), atol=1e-12)
    blocks = len(program.plan.blocks)
    assert blocks > 6  # deep enough that checkpointing keeps fewer states than blocks
    # room for everything but one kept state: the sweep must checkpoint and recompute
    limit = (1 << 20) + (2 + 3 + blocks - 1) * program.state_bytes
    _, segment = program._segment(4, limit, 3)
    assert segment < blocks
    evs3, jac3 = program.reverse(values, table, None, limit)
    np.testing.assert_allclose(jac3, jac, atol=1e-13)
    np.testing.assert_allclose(evs3, evs, atol=1e-14)
    with pytest.raises(BackendError, match=r"for a single parameter row .* over the memory limit"):
        program.reverse(values, table, None, 1 << 20)


def test_gates_and_noise_fuse_into_few_blocks():
    from qiskit_unlearn.ansatz import hqml_ansatz
    from qiskit_unlearn.backends.noise import build_noise_model

    ansatz = hqml_ansatz(4, reps=2, entanglement="ring", entangler="cz")
    noise = build_noise_model(depolarizing_1q=0.01, depolarizing_2q=0.03, t1=40e3)
    qc = transpile(ansatz.circuit, basis_gates=noise.basis_gates, optimization_level=0)
    program = DensityProgram(qc, noise)
    cz = sum(1 for inst in qc.data if inst.operation.name == "cz")
    assert len(program.plan.blocks) == cz  # every rotation and error rides in a CZ block


def test_noise_the_engine_cannot_simulate_exactly_is_refused():
    qc = random_circuit(2, depth=6, seed=1)
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), "delay")
    qc.delay(100, 0)
    with pytest.raises(NoiseNotSupportedError, match="errors on 'delay'"):
        DensityProgram(qc, noise)
    wide = random_circuit(MAX_DENSITY_QUBITS + 1, depth=3, seed=2)
    with pytest.raises(NoiseNotSupportedError, match=f"limit is {MAX_DENSITY_QUBITS} qubits"):
        DensityProgram(wide, None)
    bad = NoiseModel()
    bad.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), "cx")
    bad._local_quantum_errors["rx"] = {(0,): depolarizing_error(0.1, 2)}  # wrong width
    circuit = random_circuit(2, depth=2, seed=3)
    circuit.rx(0.3, 0)
    with pytest.raises(NoiseNotSupportedError, match="acts on 2 qubits"):
        DensityProgram(circuit, bad)


def test_precision_adds_gaussian_noise_like_the_reference_estimators():
    qc = random_circuit(2, depth=8, seed=4)
    values = np.random.default_rng(0).uniform(-1, 1, (50, qc.num_parameters))
    obs = [SparsePauliOp("ZI")]
    exact = DensityMatrixEstimator(None).run([(qc, obs, values)]).result()[0].data.evs
    noisy = DensityMatrixEstimator(None, seed=1).run([(qc, obs, values)], precision=0.1)
    evs = noisy.result()[0].data.evs
    assert 0.05 < np.std(evs - exact) < 0.2


def test_observables_must_be_hermitian():
    with pytest.raises(ValueError, match="not Hermitian"):
        DensityObservables([SparsePauliOp(["XY"], [1j])], 2)
