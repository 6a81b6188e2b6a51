"""Compile a ``QuantumCircuit`` into a short program of fused, batched operations.

Why: simulating gate by gate in Python is slow; what makes a batched statevector fast is
doing few, large array operations. The compiler therefore

* fuses every run of single-qubit gates on a qubit into one 2x2 block,
* fuses consecutive diagonal gates (CZ, RZZ, CP, ...) into one phase vector over all qubits,
* fuses consecutive permutation-with-phase gates (CX, SWAP, ...) into one index gather,
* keeps every other multi-qubit gate as a generic block,

and records, for each parameterized gate occurrence, its angle as a function of the circuit
parameters (affine fast path, SymPy for general expressions) so the adjoint sweep can apply
the chain rule exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.circuit import ParameterExpression, QuantumCircuit
from qiskit.quantum_info import Operator
from qiskit.transpiler.passes import TranslateParameterizedGates

from qiskit_unlearn.engine.generators import SUPPORTED_PARAMETERIZED, Generator, generator

_SKIPPED = {"barrier", "delay"}
_NON_UNITARY = {"measure", "reset", "if_else", "while_loop", "for_loop", "switch_case", "box"}


class CircuitNotSupportedError(ValueError):
    """The circuit contains something an expectation-value estimator cannot simulate."""


@dataclass
class Block1Q:
    """A fused run of single-qubit gates.

    ``items`` are ``("fixed", 2x2 matrix)`` or ``("param", generator, angle index)``.
    """

    qubit: int
    items: list = field(default_factory=list)


@dataclass
class DiagRun:
    """Consecutive diagonal gates: a constant phase times ``exp(-i Σ_a θ_a h_a)``."""

    fixed_phase: np.ndarray | None
    angles: list[int] = field(default_factory=list)
    hdiag: list[np.ndarray] = field(default_factory=list)


@dataclass
class Monomial:
    """Consecutive constant permutation-with-phase gates: ``(Mψ)[k] = phase[k] ψ[perm[k]]``."""

    perm: np.ndarray
    phase: np.ndarray


@dataclass
class Generic:
    """Any other gate on a few qubits: a fixed matrix, or ``exp(-iθH)`` with angle index."""

    qubits: tuple[int, ...]
    matrix: np.ndarray | None = None
    gen: Generator | None = None
    angle: int = -1


@dataclass
class AngleModel:
    """Angles of all parameterized gate occurrences as functions of the circuit parameters.

    ``angles = offset + values @ linear.T`` for affine expressions; ``nonlinear`` holds
    ``(angle_index, f, [(param_index, df/dparam)], param_indices)`` for the rest.
    """

    offset: np.ndarray
    linear: np.ndarray
    nonlinear: list = field(default_factory=list)

    @property
    def num_angles(self) -> int:
        return self.offset.shape[0]

    def evaluate(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``angles (S, A)`` and the Jacobian ``(A, P)`` or ``(S, A, P)``."""
        angles = self.offset + values @ self.linear.T
        if not self.nonlinear:
            return angles, self.linear
        jac = np.broadcast_to(self.linear, (values.shape[0], *self.linear.shape)).copy()
        for a, fn, dfns, pidx in self.nonlinear:
            args = [values[:, i] for i in pidx]
            angles[:, a] = np.broadcast_to(np.real(fn(*args)), values.shape[0])
            for p, dfn in dfns:
                jac[:, a, p] = np.broadcast_to(np.real(dfn(*args)), values.shape[0])
        return angles, jac


@dataclass
class CompiledCircuit:
    num_qubits: int
    parameters: list
    ops: list
    angles: AngleModel

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)


def _lift_monomial(matrix: np.ndarray, qubits: tuple[int, ...], n: int):
    """Lift a monomial (one non-zero per row) gate matrix to a full-space gather + phase."""
    dim = 1 << n
    k = np.arange(dim)
    local = np.zeros(dim, dtype=np.int64)
    for pos, q in enumerate(qubits):
        local |= ((k >> q) & 1) << pos
    cols = np.argmax(np.abs(matrix) > 1e-12, axis=1)  # row l reads column cols[l]
    src_local = cols[local]
    perm = k.copy()
    for pos, q in enumerate(qubits):
        bit = (src_local >> pos) & 1
        perm = (perm & ~(1 << q)) | (bit << q)
    phase = matrix[local, src_local]
    return perm, phase.astype(complex)


def _lift_diag(diag: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    k = np.arange(1 << n)
    local = np.zeros_like(k)
    for pos, q in enumerate(qubits):
        local |= ((k >> q) & 1) << pos
    return diag[local]


def _is_monomial(matrix: np.ndarray) -> bool:
    nz = np.abs(matrix) > 1e-12
    return bool(np.all(nz.sum(axis=1) == 1) and np.all(nz.sum(axis=0) == 1))


def _angle_model(exprs: list, params: list) -> AngleModel:
    import sympy

    index = {p: i for i, p in enumerate(params)}
    by_name = {p.name: i for i, p in enumerate(params)}
    offset = np.zeros(len(exprs))
    linear = np.zeros((len(exprs), len(params)))
    nonlinear = []
    for a, expr in enumerate(exprs):
        grads = {p: expr.gradient(p) for p in expr.parameters}
        if all(not isinstance(g, ParameterExpression) for g in grads.values()):
            for p, g in grads.items():
                linear[a, index[p]] = float(np.real(complex(g)))
            offset[a] = float(np.real(complex(expr.bind({p: 0.0 for p in expr.parameters}))))
            continue
        sexpr = sympy.sympify(expr.sympify())
        symbols = sorted(sexpr.free_symbols, key=lambda s: s.name)
        pidx = [by_name[s.name] for s in symbols]
        fn = sympy.lambdify(symbols, sexpr, modules="numpy", dummify=True)
        dfns = [
            (pi, sympy.lambdify(symbols, sympy.diff(sexpr, s), modules="numpy", dummify=True))
            for s, pi in zip(symbols, pidx, strict=False)
        ]
        nonlinear.append((a, fn, dfns, pidx))
    return AngleModel(offset, linear, nonlinear)


def _check_supported(circuit: QuantumCircuit) -> None:
    for inst in circuit.data:
        op = inst.operation
        if op.name in _SKIPPED:
            continue
        if op.name in _NON_UNITARY or inst.clbits or op.num_clbits:
            raise CircuitNotSupportedError(
                f"instruction '{op.name}' is not allowed in an estimator circuit: remove "
                "measurements, resets and classical control (the estimator measures observables)"
            )


def compile_circuit(circuit: QuantumCircuit) -> CompiledCircuit:
    """Compile ``circuit`` for batched simulation (parameters in ``circuit.parameters`` order)."""
    _check_supported(circuit)
    params = list(circuit.parameters)
    needs_translation = any(
        inst.operation.name not in SUPPORTED_PARAMETERIZED
        and any(isinstance(p, ParameterExpression) and p.parameters for p in inst.operation.params)
        for inst in circuit.data
    )
    if needs_translation:
        circuit = TranslateParameterizedGates(list(SUPPORTED_PARAMETERIZED))(circuit)
    n = circuit.num_qubits
    ops: list = []
    pending: dict[int, Block1Q] = {}
    exprs: list = []

    def flush() -> None:
        for q in sorted(pending):
            ops.append(pending[q])
        pending.clear()

    def emit(op) -> None:
        last = ops[-1] if ops else None
        if isinstance(op, DiagRun) and isinstance(last, DiagRun):
            if op.fixed_phase is not None:
                last.fixed_phase = op.fixed_phase if last.fixed_phase is None else (
                    last.fixed_phase * op.fixed_phase)
            last.angles += op.angles
            last.hdiag += op.hdiag
            return
        if isinstance(op, Monomial) and isinstance(last, DiagRun) and not last.angles:
            last = Monomial(np.arange(1 << n), last.fixed_phase)
            ops[-1] = last
        if isinstance(op, DiagRun) and not op.angles and isinstance(last, Monomial):
            op = Monomial(np.arange(1 << n), op.fixed_phase)
        if isinstance(op, Monomial) and isinstance(last, Monomial):
            # apply last, then op: (op·last ψ)[k] = ph_op[k] ph_last[p_op[k]] ψ[p_last[p_op[k]]]
            ops[-1] = Monomial(last.perm[op.perm], op.phase * last.phase[op.perm])
            return
        ops.append(op)

    for inst in circuit.data:
        op = inst.operation
        if op.name in _SKIPPED:
            continue
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
        if symbolic:
            gen = generator(op.name)
            a = len(exprs)
            exprs.append(op.params[0])
            if len(qubits) == 1:
                pending.setdefault(qubits[0], Block1Q(qubits[0])).items.append(("param", gen, a))
                continue
            flush()
            if gen.diagonal:
                emit(DiagRun(None, [a], [_lift_diag(gen.diagonal_h(), qubits, n)]))
            else:
                emit(Generic(qubits, gen=gen, angle=a))
            continue
        matrix = Operator(op).data
        if len(qubits) == 1:
            pending.setdefault(qubits[0], Block1Q(qubits[0])).items.append(("fixed", matrix))
            continue
        flush()
        if np.allclose(matrix, np.diag(np.diag(matrix))):
            emit(DiagRun(_lift_diag(np.diag(matrix), qubits, n)))
        elif _is_monomial(matrix):
            emit(Monomial(*_lift_monomial(matrix, qubits, n)))
        else:
            emit(Generic(qubits, matrix=matrix))
    flush()
    for op in ops:
        if isinstance(op, DiagRun) and op.hdiag:
            op.hdiag = np.stack(op.hdiag)
    return CompiledCircuit(n, params, ops, _angle_model(exprs, params))
