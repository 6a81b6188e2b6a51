"""HQML ansatz: parameter layout, gate structure, encoding semantics; the Ansatz record."""

import numpy as np
import pytest
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.quantum_info import Statevector

from qiskit_unlearn.ansatz import (
    Ansatz,
    AnsatzError,
    dump_ansatz_qasm,
    entangling_pairs,
    hqml_ansatz,
    rebuild,
)


def _rot(gate: str, theta: float) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return {"rx": np.array([[c, -1j * s], [-1j * s, c]]),
            "ry": np.array([[c, -s], [s, c]]),
            "rz": np.diag([np.exp(-1j * theta / 2), np.exp(1j * theta / 2)])}[gate]


def test_parameters_are_split_into_x_inputs_and_w_weights():
    a = hqml_ansatz(4, reps=3)
    assert (a.num_qubits, a.num_inputs, a.num_weights) == (4, 4, 36)
    assert [p.name for p in a.input_params] == [f"x[{i}]" for i in range(4)]
    assert [p.name for p in a.weight_params] == [f"w[{i}]" for i in range(36)]
    assert a.metadata == {"builder": "hqml_ansatz", "encoding": "angle", "kwargs": {
        "num_qubits": 4, "reps": 3, "entanglement": "ring", "entangler": "cz",
        "reuploading": False}}
    assert a.name == "hqml-4q-3l-ring-cz"


@pytest.mark.parametrize(("n", "entanglement", "pairs"), [
    (4, "none", []),
    (4, "linear", [(0, 1), (1, 2), (2, 3)]),
    (4, "ring", [(0, 1), (1, 2), (2, 3), (3, 0)]),
    (4, "full", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
    (2, "ring", [(0, 1)]),
    (1, "ring", []),
    (1, "full", []),
])
def test_entangling_pairs(n, entanglement, pairs):
    assert entangling_pairs(n, entanglement) == pairs


@pytest.mark.parametrize("entangler", ["cz", "cx"])
def test_each_layer_ends_with_the_entangler_on_every_pair(entangler):
    a = hqml_ansatz(3, reps=2, entanglement="ring", entangler=entangler)
    ops = a.circuit.count_ops()
    assert ops[entangler] == 2 * 3
    assert ops["rx"] == ops["ry"] == ops["rz"] == 3 + 2 * 3
    two_qubit = [(a.circuit.find_bit(i.qubits[0]).index, a.circuit.find_bit(i.qubits[1]).index)
                 for i in a.circuit.data if i.operation.name == entangler]
    assert two_qubit == [(0, 1), (1, 2), (2, 0)] * 2


def test_weight_order_is_layer_qubit_gate():
    n, reps = 3, 2
    a = hqml_ansatz(n, reps=reps, entanglement="none")
    index = {p: i for i, p in enumerate(a.weight_params)}
    seen = []
    for inst in a.circuit.data:
        params = [p for p in inst.operation.params if p in index]
        if params:
            k = index[params[0]]
            rest = k % (3 * n)
            qubit, gate = divmod(rest, 3)
            assert a.circuit.find_bit(inst.qubits[0]).index == qubit
            assert inst.operation.name == ("rx", "ry", "rz")[gate]
            seen.append(k)
    assert seen == list(range(3 * n * reps))


def test_encoding_reuses_each_feature_three_times_and_reuploading_repeats_it():
    plain, again = hqml_ansatz(2, reps=3), hqml_ansatz(2, reps=3, reuploading=True)
    for ansatz, times in ((plain, 3), (again, 9)):
        x0 = ansatz.input_params[0]
        uses = [i.operation.name for i in ansatz.circuit.data if x0 in i.operation.params]
        assert len(uses) == times
        assert uses[:3] == ["rx", "ry", "rz"]
    assert again.name.endswith("-reupload")
    assert again.metadata["kwargs"]["reuploading"] is True


def test_encoding_state_is_rz_ry_rx_applied_to_zero_on_each_qubit():
    x = np.array([0.3, -1.2, 2.5])
    a = hqml_ansatz(3, reps=1, entanglement="none")
    state = Statevector(a.bind(x, np.zeros(a.num_weights))).data
    single = [_rot("rz", v) @ _rot("ry", v) @ _rot("rx", v) @ np.array([1, 0]) for v in x]
    expected = np.kron(np.kron(single[2], single[1]), single[0])  # qubit 0 least significant
    np.testing.assert_allclose(state, expected, atol=1e-12)


def test_rebuild_from_metadata_gives_the_same_circuit():
    a = hqml_ansatz(3, reps=2, entanglement="full", entangler="cx", reuploading=True)
    b = rebuild(a.metadata)
    assert b is not a
    assert dump_ansatz_qasm(b) == dump_ansatz_qasm(a)
    assert [p.name for p in b.circuit.parameters] == [p.name for p in a.circuit.parameters]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_qubits": 0}, "num_qubits must be an integer >= 1"),
    ({"num_qubits": 2, "reps": 0}, "reps must be an integer >= 1"),
    ({"num_qubits": 2.0}, "num_qubits must be an integer"),
    ({"num_qubits": 2, "entanglement": "star"}, "entanglement must be one of"),
    ({"num_qubits": 2, "entangler": "swap"}, "entangler must be one of ['cz', 'cx']"),
])
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(AnsatzError) as info:
        hqml_ansatz(**kwargs)
    assert message in str(info.value)


def _two_param_circuit():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(1)
    qc.rx(a, 0)
    qc.ry(b, 0)
    return qc, a, b


def test_ansatz_requires_inputs_and_weights_to_partition_the_parameters():
    qc, a, b = _two_param_circuit()
    assert Ansatz("ok", qc, [a], [b]).num_weights == 1
    with pytest.raises(AnsatzError, match=r"\['b'\] are neither inputs nor weights"):
        Ansatz("missing", qc, [a], [])
    with pytest.raises(AnsatzError, match=r"\['a'\] are both inputs and weights"):
        Ansatz("overlap", qc, [a], [a, b])
    with pytest.raises(AnsatzError, match=r"\['c'\] are not in the circuit"):
        Ansatz("extra", qc, [a], [b, Parameter("c")])
    with pytest.raises(AnsatzError, match="listed more than once"):
        Ansatz("twice", qc, [a, a], [b])


def test_bind_checks_lengths():
    qc, a, b = _two_param_circuit()
    ansatz = Ansatz("ok", qc, [a], [b])
    assert ansatz.bind([0.1], [0.2]).num_parameters == 0
    with pytest.raises(AnsatzError, match="takes 1 weights, got 2"):
        ansatz.bind([0.1], [0.2, 0.3])
