"""Compile a ``QuantumCircuit`` into a short program of fused, batched operations.

Why: simulating gate by gate in Python is slow; what makes a batched statevector fast is
doing few, large array operations. The compiler therefore

* fuses every run of single-qubit gates on a qubit into one 2x2 block,
* fuses consecutive diagonal gates (CZ, RZZ, CP, ...) into one phase vector over all qubits,
* fuses consecutive permutation-with-phase gates (CX, SWAP, ...) into one index gather,
* keeps every other multi-qubit gate as a generic block,

and records, for each parameterized gate occurrence, its angle as a function of the circuit
parameters (:mod:`qiskit_unlearn.engine.angles`) so the adjoint sweep can apply the chain rule
exactly.

Compiling has two steps. :func:`plan_circuit` classifies and fuses the gates and keeps each
fused op's gates as small local factors: it is cheap at any width, so a backend can check the
instructions and the memory a circuit needs (:mod:`qiskit_unlearn.engine.memory`) at model
construction. :func:`materialize` then lifts the factors into the ``2**n``-sized tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.circuit import ParameterExpression, QuantumCircuit
from qiskit.quantum_info import Operator
from qiskit.transpiler.passes import TranslateParameterizedGates

from qiskit_unlearn.engine.angles import AngleModel, angle_model
from qiskit_unlearn.engine.generators import SUPPORTED_PARAMETERIZED, Generator, generator
from qiskit_unlearn.engine.lifting import (
    lift_diag,
    lift_perm,
    local_tensor,
    monomial_parts,
    multiply_diag,
)

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
    """Consecutive diagonal gates: a constant phase times ``exp(-i Σ_a θ_a h_a)``.

    ``fixed`` and ``terms`` (one per angle) are the gates' local diagonals ``(values, qubits)``;
    :func:`materialize` lifts them to ``fixed_phase`` ``(2**n,)`` and ``hdiag`` ``(angles, 2**n)``.
    """

    fixed: list = field(default_factory=list)
    angles: list[int] = field(default_factory=list)
    terms: list = field(default_factory=list)
    fixed_phase: np.ndarray | None = None
    hdiag: np.ndarray | None = None


@dataclass
class Monomial:
    """Consecutive constant permutation-with-phase gates: ``(Mψ)[k] = phase[k] ψ[perm[k]]``.

    ``factors`` are ``("diag", values, qubits)`` or ``("mono", matrix, qubits)`` in circuit
    order; :func:`materialize` composes them into ``perm`` and ``phase`` ``(2**n,)``.
    """

    factors: list = field(default_factory=list)
    perm: np.ndarray | None = None
    phase: np.ndarray | None = None


@dataclass
class Generic:
    """Any other gate on a few qubits: a fixed matrix, or ``exp(-iθH)`` with angle index."""

    qubits: tuple[int, ...]
    matrix: np.ndarray | None = None
    gen: Generator | None = None
    angle: int = -1


@dataclass
class CircuitPlan:
    """The fused ops of a circuit before their ``2**n`` tables are built (see the module)."""

    num_qubits: int
    parameters: list
    ops: list
    exprs: list  # the angle of every parameterized gate occurrence

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)


@dataclass
class CompiledCircuit:
    num_qubits: int
    parameters: list
    ops: list
    angles: AngleModel

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)


def _is_monomial(matrix: np.ndarray) -> bool:
    nz = np.abs(matrix) > 1e-12
    return bool(np.all(nz.sum(axis=1) == 1) and np.all(nz.sum(axis=0) == 1))


def check_supported(circuit: QuantumCircuit) -> None:
    for inst in circuit.data:
        op = inst.operation
        if op.name in _SKIPPED:
            continue
        if op.name in _NON_UNITARY or inst.clbits or op.num_clbits:
            raise CircuitNotSupportedError(
                f"instruction '{op.name}' is not allowed in an estimator circuit: remove "
                "measurements, resets and classical control (the estimator measures observables)"
            )


def plan_circuit(circuit: QuantumCircuit) -> CircuitPlan:
    """Check, classify and fuse the gates of ``circuit`` without building any full-space table.

    Parameters are in ``circuit.parameters`` order.
    """
    check_supported(circuit)
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
            last.fixed += op.fixed
            last.angles += op.angles
            last.terms += op.terms
            return
        if isinstance(op, Monomial) and isinstance(last, DiagRun) and not last.angles:
            last = ops[-1] = Monomial([("diag", *f) for f in last.fixed])
        if isinstance(op, DiagRun) and not op.angles and isinstance(last, Monomial):
            op = Monomial([("diag", *f) for f in op.fixed])
        if isinstance(op, Monomial) and isinstance(last, Monomial):
            last.factors += op.factors
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
                emit(DiagRun([], [a], [(gen.diagonal_h(), qubits)]))
            else:
                emit(Generic(qubits, gen=gen, angle=a))
            continue
        matrix = Operator(op).data
        if len(qubits) == 1:
            pending.setdefault(qubits[0], Block1Q(qubits[0])).items.append(("fixed", matrix))
            continue
        flush()
        if np.allclose(matrix, np.diag(np.diag(matrix))):
            emit(DiagRun([(np.diag(matrix), qubits)]))
        elif _is_monomial(matrix):
            emit(Monomial([("mono", matrix, qubits)]))
        else:
            emit(Generic(qubits, matrix=matrix))
    flush()
    return CircuitPlan(n, params, ops, exprs)


def _lift_diag_run(op: DiagRun, n: int) -> DiagRun:
    fixed_phase = None
    for values, qubits in op.fixed:
        if fixed_phase is None:
            fixed_phase = lift_diag(values.astype(complex), qubits, n)
        else:
            multiply_diag(fixed_phase, values, qubits, n)
    hdiag = None
    if op.terms:
        hdiag = np.empty((len(op.terms), 1 << n))
        for row, (values, qubits) in zip(hdiag, op.terms, strict=True):
            np.copyto(row.reshape((2,) * n), local_tensor(values, qubits, n))
    return DiagRun(op.fixed, op.angles, op.terms, fixed_phase, hdiag)


def _lift_monomial(op: Monomial, n: int) -> Monomial:
    """Compose the factors in order: ``(p, ph)`` after ``(perm, phase)`` is
    ``(perm[p], ph * phase[p])``; a diagonal factor only multiplies the phase."""
    perm = phase = None
    for kind, matrix, qubits in op.factors:
        if kind == "diag":
            if phase is None:
                phase = lift_diag(matrix.astype(complex), qubits, n)
            else:
                multiply_diag(phase, matrix, qubits, n)
            continue
        cols, values = monomial_parts(matrix)
        p = lift_perm(cols, qubits, n)
        perm = p if perm is None else perm[p]
        if phase is None:
            phase = lift_diag(values, qubits, n)
        else:
            phase = phase[p]
            multiply_diag(phase, values, qubits, n)
    return Monomial(op.factors, perm, phase)


def materialize(plan: CircuitPlan) -> CompiledCircuit:
    """Build the full-space tables of a plan and the angle model (SymPy for non-affine angles)."""
    n = plan.num_qubits
    ops = []
    for op in plan.ops:
        if isinstance(op, DiagRun):
            op = _lift_diag_run(op, n)
        elif isinstance(op, Monomial):
            op = _lift_monomial(op, n)
        ops.append(op)
    return CompiledCircuit(n, plan.parameters, ops, angle_model(plan.exprs, plan.parameters))


def compile_circuit(circuit: QuantumCircuit) -> CompiledCircuit:
    """Compile ``circuit`` for batched simulation (parameters in ``circuit.parameters`` order).

    Args:
        circuit: A unitary circuit (barriers are skipped; measurements, resets and classical
            control are refused).

    Returns:
        The compiled program, with its ``2**n``-sized tables built.

    Raises:
        CircuitNotSupportedError: If the circuit has an instruction the engine cannot simulate.
    """
    return materialize(plan_circuit(circuit))
