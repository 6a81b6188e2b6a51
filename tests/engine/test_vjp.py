"""Vector–Jacobian products, tiled multi-core kernels and single precision of the statevector
engine, against the full Jacobian and Qiskit's reference primitives."""

from __future__ import annotations

import numpy as np
import pytest
from circuit_helpers import random_circuit, random_observables
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient

from qiskit_unlearn.ansatz import CATALOGUE, build_reference, hqml_ansatz, z_observables
from qiskit_unlearn.engine import AdjointEstimatorGradient, FastStatevectorEstimator, kernels
from qiskit_unlearn.engine.estimator import observable_key, program_for, table_for
from qiskit_unlearn.errors import BackendError


def _vjp_and_jacobian(qc, obs, values, upstream, **estimator_options):
    est = FastStatevectorEstimator(**estimator_options)
    grad = AdjointEstimatorGradient(est)
    evs, vjp = grad.vjp(qc, obs, values, upstream)
    rows = len(values)
    jac = grad.run([qc] * rows * len(obs), [o for o in obs for _ in range(rows)],
                   np.tile(values, (len(obs), 1))).result().gradients
    jac = np.asarray(jac).reshape(len(obs), rows, -1).transpose(1, 0, 2)  # (S, O, P)
    return evs, vjp, jac


@pytest.mark.parametrize("seed", range(6))
def test_vjp_is_the_jacobian_contracted_with_the_upstream_gradient(seed):
    n = 2 + seed % 3
    qc = random_circuit(n, depth=25, seed=300 + seed)
    obs = random_observables(n, 3, seed)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-np.pi, np.pi, (4, qc.num_parameters))
    upstream = rng.normal(size=(4, len(obs)))
    evs, vjp, jac = _vjp_and_jacobian(qc, obs, values, upstream)
    np.testing.assert_allclose(vjp, np.einsum("so,sop->sp", upstream, jac), atol=1e-12)
    ref_evs = StatevectorEstimator().run([(qc, [[o] for o in obs], values)]).result()[0].data.evs
    np.testing.assert_allclose(evs, ref_evs.T, atol=1e-10)
    # and against Qiskit's parameter shift directly
    ref = ParamShiftEstimatorGradient(StatevectorEstimator()).run(
        [qc] * 4 * len(obs), [o for o in obs for _ in range(4)],
        np.tile(values, (len(obs), 1))).result().gradients
    ref = np.asarray(ref).reshape(len(obs), 4, -1).transpose(1, 0, 2)
    np.testing.assert_allclose(vjp, np.einsum("so,sop->sp", upstream, ref), atol=1e-8)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_ansatz_vjp_is_its_contracted_jacobian(name):
    """The Jacobian itself is held against Qiskit's parameter shift for every catalogue ansatz
    in ``test_gradient.py``; here the VJP is held against it, inputs and weights together."""
    ansatz = build_reference(name)
    n = ansatz.num_qubits
    qc = ansatz.circuit
    obs = [*z_observables(n)[:2], SparsePauliOp("X" * n)]
    rng = np.random.default_rng(len(name))
    values = rng.uniform(-np.pi, np.pi, (3, qc.num_parameters))
    upstream = rng.normal(size=(3, len(obs)))
    evs, vjp, jac = _vjp_and_jacobian(qc, obs, values, upstream)
    np.testing.assert_allclose(vjp, np.einsum("so,sop->sp", upstream, jac), atol=1e-12, rtol=0)
    ref = StatevectorEstimator().run([(qc, [[o] for o in obs], values)]).result()[0].data.evs
    np.testing.assert_allclose(evs, ref.T, atol=1e-10, rtol=0)


def _wide_circuit(n: int) -> tuple[QuantumCircuit, list]:
    """HQML layers plus a CX chain (a gather) and an RZZ (a parameterized diagonal)."""
    ansatz = hqml_ansatz(n, reps=2, entanglement="ring", entangler="cz")
    qc = ansatz.circuit.copy()
    for q in range(n - 1):
        qc.cx(q, q + 1)
    qc.rzz(ansatz.weight_params[0] * 0.5, 0, n - 1)
    return qc, z_observables(n)


def test_tiled_kernels_split_one_large_state_and_match_qiskit():
    """14 qubits: 8192 amplitude pairs, two tiles per row, so a single row is split between
    tasks (and therefore threads); values and gradients must not notice."""
    n = 14
    qc, obs = _wide_circuit(n)
    assert (1 << (n - 1)) > kernels.TILE
    rng = np.random.default_rng(7)
    values = rng.uniform(-np.pi, np.pi, (1, qc.num_parameters))
    program = program_for(qc)
    state = program.states(values)[0]
    ref = Statevector(qc.assign_parameters(values[0])).data
    np.testing.assert_allclose(state, ref, atol=1e-10)
    upstream = rng.normal(size=(1, n))
    grad = AdjointEstimatorGradient()
    _, vjp = grad.vjp(qc, obs, values, upstream)
    # central differences of the exact values (step 1e-5: error ~1e-9 on these magnitudes)
    table = table_for([observable_key(o) for o in obs])
    fd = np.empty(qc.num_parameters)
    for p in range(qc.num_parameters):
        shift = np.zeros_like(values)
        shift[0, p] = 1e-5
        plus = program.expectations(values + shift, table) @ upstream[0]
        minus = program.expectations(values - shift, table) @ upstream[0]
        fd[p] = (plus[0] - minus[0]) / 2e-5
    np.testing.assert_allclose(vjp[0], fd, atol=1e-6)


def test_chunked_batches_give_the_same_vjp():
    qc, obs = _wide_circuit(6)
    rng = np.random.default_rng(3)
    values = rng.uniform(-np.pi, np.pi, (9, qc.num_parameters))
    upstream = rng.normal(size=(9, len(obs)))
    whole = AdjointEstimatorGradient(FastStatevectorEstimator()).vjp(qc, obs, values, upstream)
    footprint = program_for(qc).footprint(table_for([observable_key(o) for o in obs]), vjp=True)
    tight = FastStatevectorEstimator(memory_limit=footprint.total(2))  # two rows per chunk
    chunked = AdjointEstimatorGradient(tight).vjp(qc, obs, values, upstream)
    np.testing.assert_allclose(chunked[0], whole[0], atol=1e-13)
    np.testing.assert_allclose(chunked[1], whole[1], atol=1e-13)


#: Single precision: complex64 amplitudes carry ~6e-8 relative rounding per operation; these
#: bounds hold for the circuits here with a wide margin and are the documented guarantee.
SINGLE_VALUE_ATOL = 1e-5
SINGLE_GRADIENT_ATOL = 1e-4


@pytest.mark.parametrize("seed", range(3))
def test_single_precision_is_within_its_stated_tolerance(seed):
    n = 3 + seed
    qc = random_circuit(n, depth=30, seed=500 + seed)
    obs = random_observables(n, 2, seed)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-np.pi, np.pi, (5, qc.num_parameters))
    upstream = rng.normal(size=(5, len(obs)))
    double = _vjp_and_jacobian(qc, obs, values, upstream)
    single = _vjp_and_jacobian(qc, obs, values, upstream, float_precision="single")
    for d, s, tol in zip(double, single, (SINGLE_VALUE_ATOL, SINGLE_GRADIENT_ATOL,
                                          SINGLE_GRADIENT_ATOL), strict=True):
        np.testing.assert_allclose(s, d, atol=tol, rtol=0)
        assert np.abs(s - d).max() > 0  # it really ran in single precision
    est = FastStatevectorEstimator(float_precision="single")
    evs = est.run([(qc, obs[0], values)]).result()[0].data.evs
    np.testing.assert_allclose(evs, double[0][:, 0], atol=SINGLE_VALUE_ATOL)


def test_single_precision_halves_the_memory_it_plans_for():
    qc, obs = _wide_circuit(22)  # planned only: nothing 2**22-sized is allocated
    table = table_for([observable_key(o) for o in obs])
    program = program_for(qc)
    double = program.footprint(table, vjp=True)
    single = program.footprint(table, vjp=True, dtype=np.dtype(np.complex64))
    assert single.per_row < 0.6 * double.per_row


def test_a_state_that_cannot_fit_is_refused_with_the_memory_it_needs():
    qc, obs = _wide_circuit(12)
    est = FastStatevectorEstimator(memory_limit="1MiB")
    with pytest.raises(BackendError) as info:
        AdjointEstimatorGradient(est).vjp(qc, obs, np.zeros((1, qc.num_parameters)),
                                          np.ones((1, len(obs))))
    message = str(info.value)
    assert "vector-Jacobian product of this 12-qubit circuit" in message
    assert "1.0 MiB" in message and "needs" in message


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        FastStatevectorEstimator(float_precision="half")
