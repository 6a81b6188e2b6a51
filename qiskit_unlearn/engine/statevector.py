"""Batched exact statevector simulation and adjoint Jacobians (NumPy + Numba, complex128).

States are arrays ``(S, R, N)``: ``S`` parameter rows, ``R`` = 1 for the state or the number
of observables for the adjoint co-states, ``N = 2**n`` amplitudes. One reverse sweep gives the
derivatives of every observable with respect to every gate angle for all rows at once:
at the cut after a gate ``exp(-iθH)``, ``d⟨O⟩/dθ = 2 Im⟨λ|H|ψ⟩`` with ``λ`` the co-state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit

from qiskit_unlearn.engine import kernels
from qiskit_unlearn.engine.compiler import (
    Block1Q,
    CompiledCircuit,
    DiagRun,
    Generic,
    Monomial,
    compile_circuit,
)
from qiskit_unlearn.engine.observables import PauliTable

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_MAX_ELEMENTS = 1 << 22  # rows x observables x amplitudes per chunk (64 MiB of complex128)


def _rows_vary(columns: np.ndarray) -> bool:
    return bool(columns.size) and not bool(np.all(columns == columns[:1]))


@dataclass
class _Bound:
    """A compiled op with its matrices evaluated for one batch of angles."""

    op: Any
    kind: str
    mat: Any = None
    inv: Any = None
    gens: np.ndarray | None = None  # conjugated generators (1q, generic) or h-diagonals (diag)
    angles: list[int] | None = None


def _block_signature(op: Block1Q) -> tuple:
    return tuple(("fixed", item[1].tobytes()) if item[0] == "fixed" else ("param", item[1].name)
                 for item in op.items)


def block_groups(compiled: CompiledCircuit) -> list[list[int]]:
    """Indices of single-qubit blocks with the same gate sequence, bound together."""
    groups: dict[tuple, list[int]] = {}
    for i, op in enumerate(compiled.ops):
        if isinstance(op, Block1Q):
            groups.setdefault(_block_signature(op), []).append(i)
    return list(groups.values())


def _bind_blocks(ops: list[Block1Q], angles: np.ndarray) -> list[_Bound]:
    """Bind blocks sharing one gate sequence, vectorized over blocks: ``(S, blocks, 2, 2)``."""
    template = ops[0].items
    mats = []
    for pos, (kind, *rest) in enumerate(template):
        if kind == "fixed":
            mats.append(rest[0][None, None])
        else:
            cols = angles[:, [op.items[pos][2] for op in ops]]
            mats.append(rest[0].matrices(cols))
    unitary = mats[0]
    for m in mats[1:]:
        unitary = m @ unitary
    # generators transported to the block's end: S_k H_k S_k^† with S_k = G_m ... G_{k+1}
    gens, positions = [], []
    suffix = None
    for pos in range(len(template) - 1, -1, -1):
        kind, *rest = template[pos]
        if kind == "param":
            h = rest[0].h
            gens.append(h if suffix is None else
                        suffix @ h @ np.conj(np.swapaxes(suffix, -1, -2)))
            positions.append(pos)
        suffix = mats[pos] if suffix is None else suffix @ mats[pos]
    gens, positions = gens[::-1], positions[::-1]
    shape = (angles.shape[0], len(ops), 2, 2)
    unitary = np.broadcast_to(unitary, shape)
    gens = [np.broadcast_to(g, shape) for g in gens]
    bound = []
    for j, op in enumerate(ops):
        idx = [op.items[pos][2] for pos in positions]
        rows = slice(None) if _rows_vary(angles[:, idx]) else slice(0, 1)
        u = np.ascontiguousarray(unitary[rows, j])
        g = np.conj(np.stack([gm[rows, j] for gm in gens], axis=1)) if gens else None
        bound.append(_Bound(op, "1q", u, np.ascontiguousarray(np.conj(np.swapaxes(u, -1, -2))),
                            g, idx))
    return bound


def _bind(compiled: CompiledCircuit, angles: np.ndarray, groups: list[list[int]]
          ) -> list[_Bound]:
    bound: list[_Bound | None] = [None] * len(compiled.ops)
    for group in groups:
        blocks = _bind_blocks([compiled.ops[i] for i in group], angles)
        for i, b in zip(group, blocks, strict=True):
            bound[i] = b
    for i, op in enumerate(compiled.ops):
        if isinstance(op, Block1Q):
            continue
        if isinstance(op, DiagRun):
            phase = np.ones((1, 1 << compiled.num_qubits), complex)
            if op.angles:
                cols = angles[:, op.angles]
                if not _rows_vary(cols):
                    cols = cols[:1]
                phase = np.exp(-1j * (cols @ op.hdiag))
            if op.fixed_phase is not None:
                phase = phase * op.fixed_phase
            h = np.ascontiguousarray(op.hdiag.T) if op.angles else None
            bound[i] = _Bound(op, "diag", phase[:, None, :], np.conj(phase)[:, None, :], h,
                              op.angles)
        elif isinstance(op, Monomial):
            inv_perm = np.argsort(op.perm)
            bound[i] = _Bound(op, "mono", (op.perm, op.phase),
                              (inv_perm, np.conj(op.phase)[inv_perm]))
        else:
            assert isinstance(op, Generic)
            if op.gen is None:
                m, gens, ang = op.matrix[None], None, None
            else:
                cols = angles[:, op.angle]
                rows = angles.shape[0] if _rows_vary(cols) else 1
                m = op.gen.matrices(cols[:rows])
                gens, ang = np.conj(op.gen.h), [op.angle]
            bound[i] = _Bound(op, "generic", m, np.conj(np.swapaxes(m, -1, -2)), gens, ang)
    return bound


def _generic_einsum(qubits: tuple[int, ...], n: int) -> tuple[str, str]:
    """Einsum strings to apply a k-qubit matrix and to form its reduced cross operator."""
    state = list(_LETTERS[2 : 2 + n])
    axes = [n - 1 - q for q in qubits]  # tensor axis of each qubit; axis 0 is the top qubit
    ins = [state[a] for a in axes]
    outs = [c.upper() for c in ins]
    new_state = state.copy()
    for a, c in zip(axes, outs, strict=False):
        new_state[a] = c
    # matrix index: the most significant local bit is the last qubit argument
    mat = "".join(reversed(outs)) + "".join(reversed(ins))
    apply = f"z{mat},zy{''.join(state)}->zy{''.join(new_state)}"
    # conj(C)[i, j] = Σ_rest conj(ψ[i, rest]) λ[j, rest]
    cross = (f"zx{''.join(state)},zy{''.join(new_state)}->zy"
             f"{''.join(reversed(ins))}{''.join(reversed(outs))}")
    return apply, cross


def _apply_generic(x: np.ndarray, u: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    s, r, dim = x.shape
    k = len(qubits)
    apply, _ = _generic_einsum(qubits, n)
    um = np.broadcast_to(u.reshape(u.shape[0], *([2] * (2 * k))), (s, *([2] * (2 * k))))
    return np.ascontiguousarray(np.einsum(apply, um, x.reshape(s, r, *([2] * n)))).reshape(
        s, r, dim)


def _apply(b: _Bound, x: np.ndarray, n: int, inverse: bool = False) -> np.ndarray:
    """Apply (or undo) a bound op; 1q blocks and diagonals work in place."""
    m = b.inv if inverse else b.mat
    if b.kind == "1q":
        kernels.apply_1q(x, np.broadcast_to(m, (x.shape[0], 2, 2)), b.op.qubit)
        return x
    if b.kind == "diag":
        x *= m
        return x
    if b.kind == "mono":
        perm, phase = m
        return x[..., perm] * phase
    return _apply_generic(x, m, b.op.qubits, n)


def _sweep_step(b: _Bound, psi: np.ndarray, lam: np.ndarray, n: int, undo: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Angle derivatives ``(S, O, k)`` at the op's output cut, then undo the op if asked."""
    s, o, _ = lam.shape
    grads = None
    if b.kind == "1q" and b.angles:
        cross = np.empty((s, o, 2, 2), dtype=complex)
        uinv = np.broadcast_to(b.inv, (s, 2, 2))
        kernels.cross_and_undo_1q(psi[:, 0, :], lam, uinv, b.op.qubit, cross, undo)
        gens = np.broadcast_to(b.gens, (s, *b.gens.shape[1:]))
        # 2 Im Tr(H C) = -2 Im Tr(conj(H) conj(C)); gens and cross are both conjugated
        grads = -2.0 * np.einsum("skji,soij->sok", gens, cross).imag
        return psi, lam, grads
    if b.angles:
        if b.kind == "diag":
            grads = 2.0 * ((np.conj(lam) * psi).imag @ b.gens)
        else:
            _, cross_eq = _generic_einsum(b.op.qubits, n)
            d = 1 << len(b.op.qubits)
            cross = np.einsum(cross_eq, np.conj(psi).reshape(s, 1, *([2] * n)),
                              lam.reshape(s, o, *([2] * n))).reshape(s, o, d, d)
            grads = -2.0 * np.einsum("ji,soij->so", b.gens, cross).imag[..., None]
    if undo:
        psi = _apply(b, psi, n, inverse=True)
        lam = _apply(b, lam, n, inverse=True)
    return psi, lam, grads


class StatevectorProgram:
    """A circuit compiled once and evaluated for many parameter rows at a time."""

    def __init__(self, circuit: QuantumCircuit):
        self.circuit = circuit
        self.compiled = compile_circuit(circuit)
        self.groups = block_groups(self.compiled)
        self.num_qubits = circuit.num_qubits
        # The last forward pass, kept because EstimatorQNN's backward pass re-evaluates exactly
        # the rows its forward pass just simulated.
        self._last: tuple[bytes, list, np.ndarray] | None = None

    @property
    def parameters(self) -> list:
        return self.compiled.parameters

    def _values(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[None, :]
        if values.shape[-1] != self.compiled.num_parameters:
            raise ValueError(
                f"got {values.shape[-1]} parameter values for a circuit with "
                f"{self.compiled.num_parameters} parameters"
            )
        return values

    def _simulate(self, values: np.ndarray) -> tuple[list[_Bound], np.ndarray]:
        angles, _ = self.compiled.angles.evaluate(values)
        bound = _bind(self.compiled, angles, self.groups)
        psi = np.zeros((len(values), 1, 1 << self.num_qubits), dtype=complex)
        psi[:, 0, 0] = 1.0
        for b in bound:
            psi = _apply(b, psi, self.num_qubits)
        return bound, psi

    def _bound_and_state(self, values: np.ndarray) -> tuple[list[_Bound], np.ndarray]:
        key = values.tobytes() + repr(values.shape).encode()
        if self._last is None or self._last[0] != key:
            self._last = (key, *self._simulate(values))
        return self._last[1], self._last[2]

    def _chunks(self, rows: int, width: int):
        size = max(1, _MAX_ELEMENTS // (width << self.num_qubits))
        for start in range(0, rows, size):
            yield slice(start, min(rows, start + size))

    def states(self, values: np.ndarray) -> np.ndarray:
        """Final states ``(S, N)`` for parameter rows ``(S, P)`` (``circuit.parameters`` order)."""
        values = self._values(values)
        chunks = list(self._chunks(len(values), 1))
        if len(chunks) == 1:
            return self._bound_and_state(values)[1][:, 0, :]
        return np.concatenate([self._simulate(values[sl])[1][:, 0, :] for sl in chunks])

    def expectations(self, values: np.ndarray, table: PauliTable) -> np.ndarray:
        """Exact ``⟨O_o⟩`` for every row: ``(S, O)``."""
        return table.expectations(self.states(values))

    def jacobian(self, values: np.ndarray, table: PauliTable) -> tuple[np.ndarray, np.ndarray]:
        """Exact values ``(S, O)`` and Jacobian ``(S, O, P)`` by one adjoint sweep per chunk."""
        values = self._values(values)
        n = self.num_qubits
        rows = len(values)
        evs = np.empty((rows, table.num_observables))
        jac = np.empty((rows, table.num_observables, self.compiled.num_parameters))
        for sl in self._chunks(rows, table.num_observables + 1):
            chunk = values[sl]
            _, angle_jac = self.compiled.angles.evaluate(chunk)
            bound, psi = self._bound_and_state(chunk)
            psi = psi.copy()  # the sweep works in place; keep the cached forward state intact
            evs[sl] = table.expectations(psi[:, 0, :])
            lam = table.apply(psi[:, 0, :])
            grads = np.zeros((len(chunk), table.num_observables,
                              self.compiled.angles.num_angles))
            first = next((i for i, b in enumerate(bound) if b.angles), len(bound))
            for i in range(len(bound) - 1, first - 1, -1):  # nothing to undo before the first angle
                b = bound[i]
                psi, lam, g = _sweep_step(b, psi, lam, n, undo=i > first)
                if g is not None:
                    grads[:, :, b.angles] += g
            if angle_jac.ndim == 2:
                jac[sl] = grads @ angle_jac
            else:
                jac[sl] = np.einsum("soa,sap->sop", grads, angle_jac)
        return evs, jac
