"""OpenQASM 3 import/export of ansätze, with a naming rule that tells inputs from weights.

OpenQASM 3 has no notion of "data input" versus "trainable weight": every free angle is just an
``input float[64]`` variable. The split is therefore carried by the names:

* an input (data feature or encoding angle) is ``x_<i>``, a weight is ``w_<i>``;
* ``<i>`` is a decimal index without leading zeros, and the indices of each kind run 0, 1, 2, ...
  with no gaps: i is the position in the QNN's input (or weight) vector;
* ``_x_<i>_`` / ``_w_<i>_`` are accepted as the same names: that is how ``qiskit.qasm3.dump``
  spells the elements ``x[i]`` / ``w[i]`` of ``ParameterVector("x")`` / ``ParameterVector("w")``,
  so a circuit built in Qiskit with those two vectors exports to a valid file as is.

:func:`dump_ansatz_qasm` writes ``x_<i>`` / ``w_<i>`` from the ansatz's own input and weight
order (whatever its parameters are called). :func:`load_ansatz_qasm` orders parameters by index
(numerically: x_10 after x_9), maps them onto ``ParameterVector("x")`` / ``ParameterVector("w")``
and raises :class:`QasmAnsatzError` when the rule is broken, the file does not parse, has no
parameters, or measures, resets or branches (an estimator ansatz must be unitary).
Gates the importer only knows through their ``gate`` definition (e.g. ``rzz``, which is not in
``stdgates.inc``) are turned back into Qiskit's standard gate when the definition matches it.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from qiskit import qasm3
from qiskit.circuit import (
    ControlFlowOp,
    Gate,
    Parameter,
    ParameterExpression,
    ParameterVector,
    QuantumCircuit,
)
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator

from qiskit_unlearn.ansatz.base import Ansatz, AnsatzError

INPUT_PREFIX, WEIGHT_PREFIX = "x", "w"
NAMING_RULE = (
    "every free parameter is declared `input float[64] NAME;` with NAME = x_<i> for the i-th "
    "input or w_<i> for the i-th weight (Qiskit's export spelling _x_<i>_ / _w_<i>_ is accepted "
    "too); i is a decimal index without leading zeros and each kind runs 0, 1, 2, ... with no gaps"
)
_NAME = re.compile(r"(?:(?P<kind>[xw])_(?P<index>0|[1-9]\d*))"
                   r"|(?:_(?P<qkind>[xw])_(?P<qindex>0|[1-9]\d*)_)")
_DECLARATION = re.compile(r"input float\[64\] ([xw])_(\d+);")
_NON_UNITARY = {"measure", "reset", "store"}
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_EOF = -1  # antlr4.Token.EOF


class QasmAnsatzError(AnsatzError):
    """An OpenQASM 3 file that cannot be used as an ansatz; the message names file and cause."""


def dump_ansatz_qasm(ansatz: Ansatz, header: Iterable[str] = ()) -> str:
    """OpenQASM 3 text of ``ansatz`` with parameters renamed ``x_<i>`` / ``w_<i>`` by role.

    Args:
        ansatz: The ansatz to export; its input and weight order give the indices.
        header: Lines written first, each as a ``//`` comment (before a summary line naming
            the ansatz and its parameter ranges).

    Returns:
        The program text, ending with a newline; :func:`load_ansatz_qasm` reads it back.
    """
    renamed = ansatz.circuit.assign_parameters(
        {p: Parameter(f"{INPUT_PREFIX}_{i}") for i, p in enumerate(ansatz.input_params)}
        | {p: Parameter(f"{WEIGHT_PREFIX}_{i}") for i, p in enumerate(ansatz.weight_params)}
    )
    lines = qasm3.dumps(renamed).splitlines()
    # The exporter declares inputs in Qiskit's name order (w before x, x_10 before x_2); list
    # them inputs first, by index, so the file reads in vector order. Order has no semantics.
    decl = [i for i, line in enumerate(lines) if _DECLARATION.fullmatch(line)]
    if decl:
        block = sorted(lines[decl[0]:decl[-1] + 1], key=_declaration_key)
        lines[decl[0]:decl[-1] + 1] = block
    summary = (f"ansatz {ansatz.name}: inputs {_span(INPUT_PREFIX, ansatz.num_inputs)}, "
               f"weights {_span(WEIGHT_PREFIX, ansatz.num_weights)} (qiskit-unlearn naming rule)")
    comments = [f"// {line}".rstrip() for line in [*header, summary]]
    return "\n".join([*comments, *lines]) + "\n"


def _span(prefix: str, count: int) -> str:
    return {0: "none", 1: f"{prefix}_0"}.get(count, f"{prefix}_0..{prefix}_{count - 1}")


def _declaration_key(line: str) -> tuple[int, int]:
    kind, index = _DECLARATION.fullmatch(line).groups()
    return (0 if kind == INPUT_PREFIX else 1, int(index))


def load_ansatz_qasm(path_or_text: str | Path) -> Ansatz:
    """Load an ansatz from an OpenQASM 3 file or program text.

    Args:
        path_or_text: A ``Path``, or a ``str`` with no ``;`` and no newline, is a file; any
            other ``str`` is the program itself (reported as ``<string>`` in errors).

    Returns:
        The ansatz, with inputs ``ParameterVector("x")`` and weights ``ParameterVector("w")``
        ordered by index.

    Raises:
        QasmAnsatzError: If the file is missing, does not parse, is not unitary, or breaks the
            naming rule (:data:`NAMING_RULE`).
    """
    text, source = _read(path_or_text)
    if not _COMMENT.sub("", text).strip():  # the importer fails on these with an AttributeError
        raise QasmAnsatzError(
            f"{source}: not a valid OpenQASM 3 program: it is empty (only whitespace or "
            "comments); write `OPENQASM 3.0;`, the qubit and `input float[64]` declarations "
            "and the gates"
        )
    try:
        with contextlib.redirect_stderr(io.StringIO()) as parser_log:
            circuit = qasm3.loads(text)
    except Exception as exc:  # the importer raises several unrelated types; all mean "bad file"
        syntax = _syntax_error(exc, text)
        if syntax is not None:
            raise QasmAnsatzError(f"{source}: not a valid OpenQASM 3 program: {syntax}") from exc
        detail = " ".join(filter(None, [str(exc).strip(), parser_log.getvalue().strip()])) or (
            "the parser gave no details; check the syntax: every statement ends with ';', "
            "brackets and parentheses are balanced, gates are applied as `name(args) qubits;`"
        )
        raise QasmAnsatzError(
            f"{source}: not a valid OpenQASM 3 program ({type(exc).__name__}: {detail})"
        ) from exc
    _check_unitary(circuit, source)
    inputs, weights = _split_parameters(circuit, source)
    x = ParameterVector(INPUT_PREFIX, len(inputs))
    w = ParameterVector(WEIGHT_PREFIX, len(weights))
    circuit = circuit.assign_parameters(dict(zip(inputs, x, strict=True))
                                        | dict(zip(weights, w, strict=True)))
    circuit = _restore_standard_gates(circuit)
    name = Path(source).stem if source != "<string>" else "qasm"
    circuit.name = name
    return Ansatz(name, circuit, list(x), list(w),
                  {"builder": "load_ansatz_qasm", "kwargs": {"path_or_text": str(path_or_text)},
                   "encoding": "unknown"})


def _syntax_error(exc: BaseException, text: str) -> str | None:
    """Where and what the parser choked on, from antlr's exception, or None if it says nothing.

    The OpenQASM parser bails out on the first syntax error with an *empty*
    ``QASM3ParsingError``; the antlr ``RecognitionException`` that knows the offending token
    hides in the cause chain (inside ``ParseCancellationException.args`` for mismatches).
    """
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        err = pending.pop(0)
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        if getattr(err, "offendingToken", None) is not None:
            try:
                return _describe_recognition_error(err, text)
            except Exception:  # antlr internals vary across versions: fall back to the generic
                return None
        pending.extend([err.__cause__, err.__context__, *err.args])
    return None


def _describe_recognition_error(err: BaseException, text: str) -> str:
    token = err.offendingToken
    eof = token.type == _EOF
    what = "end of program" if eof else f"{_clip(token.text)!r}"
    # The statement (rule) being parsed up to the bad token: "after 'h q[0]'" locates a missing
    # ';' that antlr only notices at the start of the next line.
    ctx = getattr(err, "ctx", None)
    start = getattr(ctx, "start", None)
    before = ""
    if start is not None and type(ctx).__name__ != "ProgramContext" and start.start < token.start:
        before = " ".join(text[start.start:token.start].split())
    after = f" after {_clip(before, tail=True)!r}" if before else ""
    return f"line {token.line}, column {token.column}: unexpected {what}{after}{_expected(err)}"


def _expected(err: BaseException) -> str:
    """`` (expected ';')`` when antlr names a few tokens; a statement start has dozens: skip."""
    try:
        expected = err.getExpectedTokens()
        recognizer = err.recognizer
        tokens = [t for interval in expected.intervals for t in interval]
        if not 0 < len(tokens) <= 4:
            return ""
        names = ["end of program" if t == _EOF
                 else expected.elementName(recognizer.literalNames, recognizer.symbolicNames, t)
                 for t in tokens]
    except Exception:  # optional detail: the location alone is still a useful message
        return ""
    return f" (expected {' or '.join(names)})"


def _clip(snippet: str, limit: int = 40, *, tail: bool = False) -> str:
    if len(snippet) <= limit:
        return snippet
    return "..." + snippet[-limit:] if tail else snippet[:limit] + "..."


def _read(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (";" not in path_or_text and "\n" not in path_or_text):
        path = Path(path_or_text)
        if not path.is_file():
            raise QasmAnsatzError(f"{path}: no such OpenQASM 3 file")
        return path.read_text(encoding="utf-8"), str(path)
    return path_or_text, "<string>"


def _check_unitary(circuit: QuantumCircuit, source: str) -> None:
    bad = sorted({op.name for op in (inst.operation for inst in circuit.data)
                  if op.name in _NON_UNITARY or isinstance(op, ControlFlowOp)})
    if bad or circuit.num_vars:
        what = ", ".join(bad) if bad else "classical variables"
        raise QasmAnsatzError(
            f"{source}: contains {what}; an estimator ansatz must be a unitary circuit without "
            "measurements, resets or classical control (the estimator measures the observables)"
        )


def _split_parameters(circuit: QuantumCircuit,
                      source: str) -> tuple[list[Parameter], list[Parameter]]:
    """Input and weight parameters in index order, checked against the naming rule."""
    if not circuit.parameters:
        raise QasmAnsatzError(f"{source}: the circuit has no parameters; {NAMING_RULE}")
    found: dict[str, dict[int, Parameter]] = {INPUT_PREFIX: {}, WEIGHT_PREFIX: {}}
    for param in circuit.parameters:
        match = _NAME.fullmatch(param.name)
        if match is None:
            raise QasmAnsatzError(
                f"{source}: parameter {param.name!r} is neither an input nor a weight; "
                f"{NAMING_RULE}"
            )
        kind = match["kind"] or match["qkind"]
        index = int(match["index"] or match["qindex"])
        if index in found[kind]:
            raise QasmAnsatzError(f"{source}: parameters {found[kind][index].name!r} and "
                                  f"{param.name!r} both name {kind}_{index}; {NAMING_RULE}")
        found[kind][index] = param
    for kind, by_index in found.items():
        missing = sorted(set(range(len(by_index))) - set(by_index))
        if missing:
            top = by_index[max(by_index)]
            raise QasmAnsatzError(
                f"{source}: parameter {top.name!r} has index {max(by_index)} but {kind}_"
                f"{missing[0]} is missing; {NAMING_RULE}"
            )
    return ([found[INPUT_PREFIX][i] for i in range(len(found[INPUT_PREFIX]))],
            [found[WEIGHT_PREFIX][i] for i in range(len(found[WEIGHT_PREFIX]))])


def _restore_standard_gates(circuit: QuantumCircuit) -> QuantumCircuit:
    out = circuit.copy_empty_like()
    for inst in circuit.data:
        standard = _as_standard_gate(inst.operation)
        out.append(inst.replace(operation=standard) if standard is not None else inst, copy=False)
    return out


def _as_standard_gate(op: object) -> Gate | None:
    """Qiskit's standard gate of the same name if ``op`` is a custom gate equal to it."""
    template = get_standard_gate_name_mapping().get(getattr(op, "name", ""))
    if (type(op) is not Gate or template is None or op.definition is None
            or template.num_qubits != op.num_qubits or len(template.params) != len(op.params)):
        return None
    candidate = template.base_class(*op.params)
    return candidate if _same_unitary(op, candidate, op.params) else None


def _same_unitary(a: Gate, b: Gate, params: Sequence[object]) -> bool:
    """Compare the two gates' matrices at two random bindings of their free parameters."""
    free = sorted({p for e in params if isinstance(e, ParameterExpression) for p in e.parameters},
                  key=lambda p: p.name)
    rng = np.random.default_rng(1234)
    for _ in range(2):
        values = dict(zip(free, rng.uniform(-np.pi, np.pi, len(free)).tolist(), strict=True))
        ops = []
        for gate in (a, b):
            qc = QuantumCircuit(gate.num_qubits)
            qc.append(gate, range(gate.num_qubits))
            ops.append(Operator(qc.assign_parameters(values)))
        if ops[0] != ops[1]:
            return False
    return True
