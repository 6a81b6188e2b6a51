"""OpenQASM 3 exchange: round trips, the naming rule, and the errors for files that break it."""

import re
from pathlib import Path

import numpy as np
import pytest
from qiskit import qasm3
from qiskit.circuit import Gate, ParameterVector, QuantumCircuit
from qiskit.circuit.library import RZZGate
from qiskit.quantum_info import Operator

from qiskit_unlearn.ansatz import (
    NAMING_RULE,
    Ansatz,
    QasmAnsatzError,
    dump_ansatz_qasm,
    hardware_efficient_ansatz,
    hqml_ansatz,
    load_ansatz_qasm,
)

HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _same_operator(a: Ansatz, b: Ansatz, seed: int = 0) -> bool:
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-np.pi, np.pi, a.num_inputs), rng.uniform(-np.pi, np.pi, a.num_weights)
    return Operator(a.bind(x, w)) == Operator(b.bind(x, w))


def _body(text: str) -> str:
    """The program without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("//"))


@pytest.mark.parametrize("ansatz", [
    hqml_ansatz(3, reps=2, entanglement="full", entangler="cx"),
    hqml_ansatz(2, reps=2, entanglement="none", reuploading=True),
    hqml_ansatz(4, reps=1, entanglement="ring", entangler="cz"),
    hardware_efficient_ansatz(3, reps=2),
    hardware_efficient_ansatz(1, reps=1),
], ids=lambda a: a.name)
def test_round_trip_is_equivalent_and_stable(ansatz):
    text = dump_ansatz_qasm(ansatz)
    loaded = load_ansatz_qasm(text)
    assert (loaded.num_qubits, loaded.num_inputs, loaded.num_weights) == \
        (ansatz.num_qubits, ansatz.num_inputs, ansatz.num_weights)
    assert [p.name for p in loaded.input_params] == [f"x[{i}]" for i in range(ansatz.num_inputs)]
    assert [p.name for p in loaded.weight_params] == [f"w[{i}]" for i in range(ansatz.num_weights)]
    assert loaded.circuit.count_ops() == ansatz.circuit.count_ops()
    assert _same_operator(ansatz, loaded)
    assert _body(dump_ansatz_qasm(loaded)) == _body(text)


def test_rzz_comes_back_as_qiskit_standard_gate():
    loaded = load_ansatz_qasm(dump_ansatz_qasm(hardware_efficient_ansatz(2, reps=1)))
    rzz = [i.operation for i in loaded.circuit.data if i.operation.name == "rzz"]
    assert rzz and all(isinstance(op, RZZGate) for op in rzz)


def test_dump_names_parameters_by_role_and_declares_them_in_index_order():
    ansatz = hardware_efficient_ansatz(4, reps=1)  # 15 inputs, 16 weights
    text = dump_ansatz_qasm(ansatz, header=["hello", "world"])
    assert text.startswith("// hello\n// world\n// ansatz hea-amp-4q-1l: inputs x_0..x_14, "
                           "weights w_0..w_15")
    declared = re.findall(r"^input float\[64\] (\w+);$", text, flags=re.M)
    assert declared == [f"x_{i}" for i in range(15)] + [f"w_{i}" for i in range(16)]
    assert "_x_" not in text and "x[" not in text


def test_qiskit_exported_parameter_vectors_load_in_numeric_index_order():
    # qiskit.qasm3.dumps spells x[i] as _x_i_ and sorts nothing numerically for us.
    x, w = ParameterVector("x", 12), ParameterVector("w", 2)
    qc = QuantumCircuit(2)
    for i in range(12):
        (qc.rx if i % 2 else qc.ry)(x[i] * (i + 1), i % 2)
    qc.rzz(w[0], 0, 1)
    qc.ry(w[1], 1)
    text = qasm3.dumps(qc)
    assert "input float[64] _x_10_;" in text
    loaded = load_ansatz_qasm(text)
    original = Ansatz("own", qc, list(x), list(w))
    assert [p.name for p in loaded.input_params][9:11] == ["x[9]", "x[10]"]
    assert _same_operator(original, loaded, seed=3)


def test_hand_written_file_with_shuffled_declarations(tmp_path):
    lines = [f"input float[64] x_{i};" for i in (10, 2, 0, 9, 1, 3, 4, 5, 6, 7, 8)]
    body = "".join(f"rx({(i + 1)} * x_{i}) q[0];\n" for i in range(11))
    path = tmp_path / "my_ansatz.qasm"
    path.write_text(HEAD + "\n".join(lines) + "\ninput float[64] w_0;\nqubit[1] q;\n" + body
                    + "ry(w_0) q[0];\n")
    loaded = load_ansatz_qasm(path)
    assert loaded.name == "my_ansatz"
    assert (loaded.num_inputs, loaded.num_weights) == (11, 1)
    values = np.zeros(11)
    values[10] = 0.1
    # only x_10 is non-zero: the circuit is RX(11 * 0.1), so the index order is numeric
    expected = QuantumCircuit(1)
    expected.rx(1.1, 0)
    assert Operator(loaded.bind(values, [0.0])) == Operator(expected)
    assert load_ansatz_qasm(str(path)).num_inputs == 11


def test_custom_gates_stay_custom_unless_they_match_the_standard_gate():
    text = HEAD + (
        "gate rzz(t) a, b { rx(t) a; }\n"       # not Qiskit's rzz: must not be swapped for it
        "gate twist(t) a { rx(t) a; rz(t) a; }\n"
        "input float[64] w_0;\nqubit[2] q;\nrzz(w_0) q[0], q[1];\ntwist(w_0) q[1];\n"
    )
    loaded = load_ansatz_qasm(text)
    ops = [i.operation for i in loaded.circuit.data]
    assert [type(op) for op in ops] == [Gate, Gate]
    expected = QuantumCircuit(2)
    expected.rx(0.7, 0)
    expected.rx(0.7, 1)
    expected.rz(0.7, 1)
    assert Operator(loaded.bind([], [0.7])) == Operator(expected)
    assert loaded.num_inputs == 0


@pytest.mark.parametrize(("program", "message"), [
    ("input float[64] theta;\nqubit[1] q;\nrx(theta) q[0];\n",
     "parameter 'theta' is neither an input nor a weight"),
    ("input float[64] x_01;\nqubit[1] q;\nrx(x_01) q[0];\n",
     "parameter 'x_01' is neither an input nor a weight"),
    ("input float[64] w_0;\ninput float[64] w_2;\nqubit[1] q;\nrx(w_0) q[0];\nrx(w_2) q[0];\n",
     "parameter 'w_2' has index 2 but w_1 is missing"),
    ("input float[64] x_1;\nqubit[1] q;\nrx(x_1) q[0];\n",
     "parameter 'x_1' has index 1 but x_0 is missing"),
    ("input float[64] x_0;\ninput float[64] _x_0_;\nqubit[1] q;\nrx(x_0) q[0];\nry(_x_0_) q[0];\n",
     "both name x_0"),
    ("qubit[1] q;\nh q[0];\n", "the circuit has no parameters"),
])
def test_naming_rule_violations_are_explained(program, message):
    with pytest.raises(QasmAnsatzError) as info:
        load_ansatz_qasm(HEAD + program)
    assert message in str(info.value)
    assert NAMING_RULE in str(info.value)
    assert str(info.value).startswith("<string>: ")


@pytest.mark.parametrize(("program", "what"), [
    ("bit[1] c;\nc[0] = measure q[0];\n", "measure"),
    ("reset q[0];\n", "reset"),
    ("bit[1] c;\nif (c[0]) x q[0];\n", "if_else"),
])
def test_non_unitary_files_are_rejected(program, what):
    text = HEAD + "input float[64] x_0;\nqubit[1] q;\nrx(x_0) q[0];\n" + program
    with pytest.raises(QasmAnsatzError, match=f"contains {what}; an estimator ansatz must be"):
        load_ansatz_qasm(text)


@pytest.mark.parametrize(("program", "where", "what"), [
    ("hello\nworld", "line 2, column 5",
     "unexpected end of program after 'hello world' (expected ';')"),
    (HEAD + "qubit[2] q;\nh q[0]\ncx q[0], q[1];\n", "line 5, column 0",
     "unexpected 'cx' after 'h q[0]' (expected ';')"),
    (HEAD + "qubit[1] q;\nrx(0.5 q[0];\n", "line 4, column 7", "unexpected 'q' after 'rx(0.5'"),
    (HEAD + "qubit[1] q;\nh q[0];\n}\n", "line 5, column 0",
     "unexpected '}' (expected end of program)"),
    (HEAD + "qubit[1] q;\nh q[", "line 4, column 4", "unexpected end of program after '['"),
    (HEAD + "float y = 1 +;\n", "line 3, column 13", "unexpected ';'"),
], ids=["two-words", "missing-semicolon", "unclosed-paren", "stray-brace", "truncated",
        "dangling-operator"])
def test_syntax_errors_say_where_and_what(program, where, what):
    with pytest.raises(QasmAnsatzError) as info:
        load_ansatz_qasm(program)
    assert str(info.value) == f"<string>: not a valid OpenQASM 3 program: {where}: {what}"


def test_a_parser_error_without_details_still_says_something(monkeypatch):
    from openqasm3.parser import QASM3ParsingError

    def bail(_text):
        raise QASM3ParsingError()  # what openqasm3 raises, minus antlr's cause

    monkeypatch.setattr("qiskit_unlearn.ansatz.qasm.qasm3.loads", bail)
    with pytest.raises(QasmAnsatzError, match=r"\(QASM3ParsingError: the parser gave no details; "
                                              "check the syntax: every statement ends with ';'"):
        load_ansatz_qasm(HEAD + "qubit[1] q;\n")


def test_empty_program_is_named_as_such():
    for program in ("\n\n", "// nothing here\n/* nor\n here */\n"):
        with pytest.raises(QasmAnsatzError, match=r"^<string>: .* it is empty \(only whitespace"):
            load_ansatz_qasm(program)


def test_parse_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.qasm"
    path.write_text(HEAD + "qubit[1] q;\nrx( q[0];\n")
    with pytest.raises(QasmAnsatzError) as info:
        load_ansatz_qasm(path)
    assert str(info.value) == (f"{path}: not a valid OpenQASM 3 program: line 4, column 8: "
                               "unexpected ';' after 'rx( q[0]'")
    path.write_text("hello\nworld\n")
    with pytest.raises(QasmAnsatzError) as info:
        load_ansatz_qasm(str(path))
    assert str(info.value).startswith(f"{path}: not a valid OpenQASM 3 program: line 3, column 0")
    assert "after 'hello world'" in str(info.value)
    path.write_text(HEAD + "qubit[1] q;\nh q[0]; `\n")  # a lexer error: antlr's own message
    with pytest.raises(QasmAnsatzError, match=r"\(QASM3ParsingError: L4:C8: token recognition"):
        load_ansatz_qasm(path)
    path.write_text(HEAD + "qubit[1] q;\nfoo q[0];\n")
    with pytest.raises(QasmAnsatzError, match="gate 'foo' is not defined"):
        load_ansatz_qasm(path)
    with pytest.raises(QasmAnsatzError, match="no such OpenQASM 3 file"):
        load_ansatz_qasm(Path(tmp_path / "missing.qasm"))
