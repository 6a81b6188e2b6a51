"""Hardware-efficient ansatz on amplitude-encoded inputs: layout, weight order, semantics."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qiskit_unlearn.ansatz import (
    AnsatzError,
    amplitude_encode,
    amplitude_encoding_angles,
    dump_ansatz_qasm,
    hardware_efficient_ansatz,
    rebuild,
)


@pytest.mark.parametrize(("n", "reps", "ring", "pairs"), [
    (4, 2, True, 4), (3, 1, True, 3), (2, 3, True, 1), (1, 2, True, 0), (4, 2, False, 0),
])
def test_parameter_and_gate_counts(n, reps, ring, pairs):
    a = hardware_efficient_ansatz(n, reps=reps, rzz_ring=ring)
    assert a.num_inputs == 2**n - 1
    assert a.num_weights == reps * (3 * n + pairs)
    assert [p.name for p in a.input_params] == [f"x[{i}]" for i in range(2**n - 1)]
    assert [p.name for p in a.weight_params] == [f"w[{i}]" for i in range(a.num_weights)]
    ops = a.circuit.count_ops()
    assert ops["rx"] == 2 * n * reps
    assert ops["ry"] == (2**n - 1) + n * reps
    assert ops.get("rzz", 0) == pairs * reps
    assert ops.get("cx", 0) == 2**n - 2
    assert a.metadata["encoding"] == "amplitude"
    assert a.metadata["input_dim"] == 2**n


def test_weight_order_rotations_by_qubit_then_rzz_ring():
    n = 3
    a = hardware_efficient_ansatz(n, reps=2)
    index = {p: i for i, p in enumerate(a.weight_params)}
    per_layer = 3 * n + 3
    ring = [(0, 1), (1, 2), (2, 0)]
    seen = []
    for inst in a.circuit.data:
        params = [p for p in inst.operation.params if p in index]
        if not params:
            continue
        k = index[params[0]]
        offset = k % per_layer
        qubits = tuple(a.circuit.find_bit(q).index for q in inst.qubits)
        if offset < 3 * n:
            assert qubits == (offset // 3,)
            assert inst.operation.name == ("rx", "ry", "rx")[offset % 3]
        else:
            assert inst.operation.name == "rzz"
            assert qubits == ring[offset - 3 * n]
        seen.append(k)
    assert seen == list(range(2 * per_layer))


def test_zero_weights_leave_the_amplitude_encoded_data():
    a = hardware_efficient_ansatz(3, reps=2)
    data = np.array([0.5, -1.0, 0.0, 2.0, -0.25, 0.0])
    state = Statevector(a.bind(amplitude_encoding_angles(data, 3), np.zeros(a.num_weights)))
    np.testing.assert_allclose(state.data, amplitude_encode(data, 3), atol=1e-10)


def test_weights_change_the_state_and_rebuild_matches():
    a = hardware_efficient_ansatz(2, reps=1)
    x = amplitude_encoding_angles([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(0)
    moved = Statevector(a.bind(x, rng.uniform(-1, 1, a.num_weights))).data
    assert not np.allclose(moved, amplitude_encode([1.0, 2.0, 3.0, 4.0]))
    assert dump_ansatz_qasm(rebuild(a.metadata)) == dump_ansatz_qasm(a)
    assert a.name == "hea-amp-2q-1l"
    assert hardware_efficient_ansatz(2, rzz_ring=False).name == "hea-amp-2q-2l-norzz"


def test_bad_arguments_are_rejected():
    with pytest.raises(AnsatzError, match="reps must be an integer >= 1"):
        hardware_efficient_ansatz(2, reps=-1)
    with pytest.raises(AnsatzError, match="num_qubits must be an integer >= 1"):
        hardware_efficient_ansatz(0)
