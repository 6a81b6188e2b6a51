"""Compile a circuit and its noise into a few local superoperator blocks on ``vec(ρ)``.

Why: on a density matrix every operation is a pass over ``4ⁿ`` amplitudes, so the number of
passes decides the speed. Channels compose exactly, so gates *and their noise* fuse:

* every single-qubit gate and single-qubit error is absorbed into the last multi-qubit block
  on its qubit (or, before any, into a pending single-qubit block), and the pending blocks of
  a multi-qubit instruction's qubits are absorbed into its block;
* a multi-qubit gate, its error and all that surrounds it on the same qubits become one
  ``4ᵏ × 4ᵏ`` block (16 × 16 for two qubits), merged with the previous block when that acted
  on the same qubits and nothing touched them since.

A parameterized gate stays an item of its block (``exp(-iθG)`` with the superoperator
generator ``G``), so the reverse sweep can differentiate it exactly; its angle goes through the
statevector compiler's :class:`~qiskit_unlearn.engine.angles.AngleModel` (repeated parameters
and parameter expressions included).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.circuit import ParameterExpression, QuantumCircuit
from qiskit.quantum_info import Operator
from qiskit.transpiler.passes import TranslateParameterizedGates

from qiskit_unlearn.engine.angles import AngleModel, angle_model
from qiskit_unlearn.engine.compiler import check_supported
from qiskit_unlearn.engine.generators import SUPPORTED_PARAMETERIZED, generator
from qiskit_unlearn.engine.superop import (
    NoiseLookup,
    NoiseNotSupportedError,
    generator_superop,
    unitary_superop,
)

_SKIPPED = {"barrier"}
#: Widest exact density matrix (``4¹²`` amplitudes = 256 MiB per parameter row).
MAX_DENSITY_QUBITS = 12


@dataclass
class Block:
    """A local superoperator on ``qubits``: the product of its ``items`` in order.

    Items are ``("fixed", S)`` or ``("param", G, angle)`` with ``S``, ``G`` of size
    ``4ᵏ × 4ᵏ``: a constant superoperator, or ``exp(-iθG)`` at gate angle ``angle``.
    """

    qubits: tuple[int, ...]
    items: list = field(default_factory=list)

    @property
    def angles(self) -> list[int]:
        return [item[2] for item in self.items if item[0] == "param"]


@dataclass
class DensityPlan:
    num_qubits: int
    parameters: list
    blocks: list[Block]
    angles: AngleModel

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)


def _lift(matrix: np.ndarray, position: int, k: int) -> np.ndarray:
    """A one-qubit superoperator acting on local qubit ``position`` of a ``k``-qubit block.

    The block's local index is ``row_bits · 2ᵏ + col_bits``; the one-qubit index is
    ``row · 2 + col``, so the factor is placed on bits ``position`` and ``k + position``.
    """
    d = 4 ** k
    m = matrix.reshape(2, 2, 2, 2)  # (row', col', row, col)
    out = np.zeros((d, d), dtype=complex)
    for a in range(d):
        r, c = a >> k, a & ((1 << k) - 1)
        rb, cb = (r >> position) & 1, (c >> position) & 1
        for r2 in range(2):
            for c2 in range(2):
                b = ((r & ~(1 << position)) | (r2 << position)) << k | \
                    ((c & ~(1 << position)) | (c2 << position))
                out[a, b] = m[rb, cb, r2, c2]
    return out


def _lift_item(item: tuple, position: int, k: int) -> tuple:
    if item[0] == "fixed":
        return ("fixed", _lift(item[1], position, k))
    return ("param", _lift(item[1], position, k), item[2])


def _gate_items(op, qubits: tuple[int, ...], exprs: list) -> list[tuple]:
    """Items of one (natively supported) gate on its own qubits."""
    symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
    if symbolic:
        gen = generator(op.name)
        exprs.append(op.params[0])
        return [("param", generator_superop(gen.h), len(exprs) - 1)]
    return [("fixed", unitary_superop(Operator(op).data))]


class _Builder:
    def __init__(self, n: int, noise: NoiseLookup, physical: list[int]) -> None:
        self.n = n
        self.noise = noise
        self.physical = physical
        self.blocks: list[Block] = []
        self.pending: dict[int, list[tuple]] = {}
        self.last: dict[int, int] = {}  # qubit -> index of the last block touching it
        self.exprs: list = []

    def one_qubit(self, q: int, items: list[tuple]) -> None:
        if q in self.last:
            block = self.blocks[self.last[q]]
            position = block.qubits.index(q)
            block.items += [_lift_item(item, position, len(block.qubits)) for item in items]
        else:
            self.pending.setdefault(q, []).extend(items)

    def multi_qubit(self, qubits: tuple[int, ...], items: list[tuple]) -> None:
        k = len(qubits)
        prefix = []
        for position, q in enumerate(qubits):
            prefix += [_lift_item(item, position, k) for item in self.pending.pop(q, [])]
        owners = {self.last.get(q) for q in qubits}
        if len(owners) == 1 and None not in owners:
            block = self.blocks[owners.pop()]
            if block.qubits == qubits:  # nothing touched these qubits since: merge
                block.items += prefix + items
                return
        self.blocks.append(Block(qubits, prefix + items))
        for q in qubits:
            self.last[q] = len(self.blocks) - 1

    def add(self, op, qubits: tuple[int, ...]) -> None:
        items = _gate_items(op, qubits, self.exprs)
        error = self.noise.error(op.name, tuple(self.physical[q] for q in qubits))
        if error is not None:
            items.append(("fixed", error))
        if len(qubits) == 1:
            self.one_qubit(qubits[0], items)
        else:
            self.multi_qubit(qubits, items)

    def finish(self) -> list[Block]:
        for q in sorted(self.pending):
            self.blocks.append(Block((q,), self.pending[q]))
        self.pending.clear()
        return self.blocks


def circuit_key(circuit: QuantumCircuit) -> tuple:
    """A hashable description of a circuit's structure: every instruction's name, qubits and
    parameters (expressions as text, matrices by their bytes) and the parameter order.

    Circuits with equal keys plan to the same blocks, so a plan can be shared between the many
    copies of a model (every clone of a model rebuilds its circuit).
    """
    def param(p) -> str:
        return p.tobytes().hex() if isinstance(p, np.ndarray) else repr(p)

    return (circuit.num_qubits,
            tuple((inst.operation.name, tuple(circuit.find_bit(q).index for q in inst.qubits),
                   tuple(param(p) for p in inst.operation.params)) for inst in circuit.data),
            tuple(p.name for p in circuit.parameters))


def plan_density(circuit: QuantumCircuit, noise_model=None, physical: list[int] | None = None
                 ) -> DensityPlan:
    """Blocks of ``circuit`` under ``noise_model`` (errors looked up on ``physical[q]`` for
    circuit qubit ``q``: the device qubits of a circuit cut to the ones it uses)."""
    n = circuit.num_qubits
    if n > MAX_DENSITY_QUBITS:
        raise NoiseNotSupportedError(
            f"an exact density matrix of {n} qubits has 4^{n} entries per parameter row; the "
            f"limit is {MAX_DENSITY_QUBITS} qubits. Use fewer qubits, or shots (backend "
            "'aer-noisy' with shots=...)")
    check_supported(circuit)
    lookup = NoiseLookup(noise_model)
    builder = _Builder(n, lookup, list(range(n)) if physical is None else list(physical))
    for inst in circuit.data:
        op = inst.operation
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        if op.name in _SKIPPED or op.name == "delay":
            if lookup.has_error(op.name):
                raise NoiseNotSupportedError(
                    f"the noise model has errors on '{op.name}', which this engine does not "
                    "simulate; remove that instruction or its errors")
            continue
        symbolic = any(isinstance(p, ParameterExpression) and p.parameters for p in op.params)
        if symbolic and op.name not in SUPPORTED_PARAMETERIZED:
            _add_translated(builder, op, qubits)
        else:
            builder.add(op, qubits)
    blocks = builder.finish()
    params = list(circuit.parameters)
    return DensityPlan(n, params, blocks, angle_model(builder.exprs, params))


def _add_translated(builder: _Builder, op, qubits: tuple[int, ...]) -> None:
    """A parameterized gate the engine has no generator for: its translation into supported
    gates (as Qiskit's gradients do), then the original instruction's error."""
    sub = QuantumCircuit(len(qubits))
    sub.append(op, range(len(qubits)))
    sub = TranslateParameterizedGates(list(SUPPORTED_PARAMETERIZED))(sub)
    for inst in sub.data:
        inner = tuple(qubits[sub.find_bit(q).index] for q in inst.qubits)
        items = _gate_items(inst.operation, inner, builder.exprs)
        if len(inner) == 1:
            builder.one_qubit(inner[0], items)
        else:
            builder.multi_qubit(inner, items)
    error = builder.noise.error(op.name, tuple(builder.physical[q] for q in qubits))
    if error is not None:
        if len(qubits) == 1:
            builder.one_qubit(qubits[0], [("fixed", error)])
        else:
            builder.multi_qubit(qubits, [("fixed", error)])
