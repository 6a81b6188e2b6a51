"""Batched exact statevector simulation and adjoint Jacobians (torch, complex128).

States are tensors ``(S, R, N)``: ``S`` parameter rows, ``R`` = 1 for the state or the number
of observables for the adjoint co-states, ``N = 2**n`` amplitudes. One reverse sweep gives the
derivatives of every observable with respect to every gate angle for all rows at once:
at the cut after a gate ``exp(-iθH)``, ``d⟨O⟩/dθ = 2 Im⟨λ|H|ψ⟩`` with ``λ`` the co-state.
"""

from __future__ import annotations

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit

from qiskit_unlearn.engine.compiler import (
    Block1Q,
    CompiledCircuit,
    DiagRun,
    Generic,
    Monomial,
    compile_circuit,
)
from qiskit_unlearn.engine.observables import DTYPE, PauliTable

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_MAX_ELEMENTS = 1 << 22  # rows x observables x amplitudes per chunk (64 MiB of complex128)


def _rows_vary(columns: np.ndarray) -> bool:
    return bool(columns.size) and not bool(np.all(columns == columns[:1]))


class _Bound:
    """A compiled op with its matrices evaluated for one batch of angles."""

    __slots__ = ("angles", "gens", "inv", "kind", "mat", "op")

    def __init__(self, op, kind, mat=None, inv=None, gens=None, angles=None):
        self.op, self.kind, self.mat, self.inv, self.gens, self.angles = (
            op, kind, mat, inv, gens, angles)


def _bind_block(op: Block1Q, angles: np.ndarray) -> _Bound:
    idx = [rest[1] for kind, *rest in op.items if kind == "param"]
    rows = angles.shape[0] if _rows_vary(angles[:, idx]) else 1
    mats = [
        rest[0][None] if kind == "fixed" else rest[0].matrices(angles[:rows, rest[1]])
        for kind, *rest in op.items
    ]
    unitary = mats[0]
    for m in mats[1:]:
        unitary = m @ unitary
    # generators transported to the block's end: S_k H_k S_k^† with S_k = G_m ... G_{k+1}
    gens, gen_angles = [], []
    suffix = None
    for (kind, *rest), m in zip(reversed(op.items), reversed(mats)):
        if kind == "param":
            h = rest[0].h
            moved = h if suffix is None else suffix @ h @ np.conj(np.swapaxes(suffix, -1, -2))
            gens.append(np.broadcast_to(moved, (rows, 2, 2)))
            gen_angles.append(rest[1])
        suffix = m if suffix is None else suffix @ m
    u = torch.from_numpy(np.array(np.broadcast_to(unitary, (rows, 2, 2))))
    g = (torch.from_numpy(np.ascontiguousarray(np.stack(gens[::-1], axis=1)).conj())
         if gens else None)
    return _Bound(op, "1q", u, u.conj().transpose(-1, -2).contiguous(), g, gen_angles[::-1])


def _bind(compiled: CompiledCircuit, angles: np.ndarray) -> list[_Bound]:
    bound = []
    for op in compiled.ops:
        if isinstance(op, Block1Q):
            bound.append(_bind_block(op, angles))
        elif isinstance(op, DiagRun):
            phase = np.ones((1, 1 << compiled.num_qubits), complex)
            h = None
            if op.angles:
                cols = angles[:, op.angles]
                if not _rows_vary(cols):
                    cols = cols[:1]
                phase = np.exp(-1j * (cols @ op.hdiag))
                h = torch.from_numpy(op.hdiag.T.copy())
            if op.fixed_phase is not None:
                phase = phase * op.fixed_phase
            ph = torch.from_numpy(np.ascontiguousarray(phase))
            bound.append(_Bound(op, "diag", ph[:, None, :], ph.conj()[:, None, :], h, op.angles))
        elif isinstance(op, Monomial):
            inv_perm = np.argsort(op.perm)
            bound.append(_Bound(
                op, "mono",
                (torch.from_numpy(op.perm), torch.from_numpy(op.phase)),
                (torch.from_numpy(inv_perm), torch.from_numpy(np.conj(op.phase)[inv_perm])),
            ))
        else:
            assert isinstance(op, Generic)
            if op.gen is None:
                m = op.matrix[None]
                gens, ang = None, None
            else:
                cols = angles[:, op.angle]
                rows = angles.shape[0] if _rows_vary(cols) else 1
                m = op.gen.matrices(cols[:rows])
                gens, ang = torch.from_numpy(op.gen.h), [op.angle]
            u = torch.from_numpy(np.ascontiguousarray(m))
            bound.append(_Bound(op, "generic", u, u.conj().transpose(-1, -2), gens, ang))
    return bound


def _apply_1q(x: torch.Tensor, u: torch.Tensor, q: int, n: int) -> torch.Tensor:
    s, r, dim = x.shape
    xr = x.reshape(s, r * (dim >> (q + 1)), 2, 1 << q)
    return torch.einsum("sij,sxjb->sxib", u.expand(s, 2, 2), xr).reshape(s, r, dim)


def _axes(qubits: tuple[int, ...], n: int) -> list[int]:
    """Tensor axes (after the two batch axes) of ``qubits``; axis 2 is the top qubit."""
    return [2 + (n - 1 - q) for q in qubits]


def _generic_einsum(qubits: tuple[int, ...], n: int) -> tuple[str, str]:
    k = len(qubits)
    state = list(_LETTERS[2 : 2 + n])
    axes = [a - 2 for a in _axes(qubits, n)]
    ins = [state[a] for a in axes]
    outs = [c.upper() for c in ins]
    new_state = state.copy()
    for a, c in zip(axes, outs):
        new_state[a] = c
    # matrix index: most significant local bit is the last qubit argument
    mat = "".join(reversed(outs)) + "".join(reversed(ins))
    apply = f"z{mat},zy{''.join(state)}->zy{''.join(new_state)}"
    # cross operator C[i, j] = Σ_rest ψ[i, rest] conj(λ[j, rest])
    lam_state = state.copy()
    for a, c in zip(axes, outs):
        lam_state[a] = c
    cross = (f"zx{''.join(state)},zy{''.join(lam_state)}->zy"
             f"{''.join(reversed(ins))}{''.join(reversed(outs))}")
    del k
    return apply, cross


def _apply_generic(x: torch.Tensor, u: torch.Tensor, qubits: tuple[int, ...], n: int) -> torch.Tensor:
    s, r, dim = x.shape
    k = len(qubits)
    apply, _ = _generic_einsum(qubits, n)
    um = u.reshape(u.shape[0], *([2] * (2 * k))).expand(s, *([2] * (2 * k)))
    return torch.einsum(apply, um, x.reshape(s, r, *([2] * n))).contiguous().view(s, r, dim)


def _apply(b: _Bound, x: torch.Tensor, n: int, inverse: bool = False) -> torch.Tensor:
    m = b.inv if inverse else b.mat
    if b.kind == "1q":
        return _apply_1q(x, m, b.op.qubit, n)
    if b.kind == "diag":
        return x * m
    if b.kind == "mono":
        perm, phase = m
        return x.index_select(-1, perm) * phase
    return _apply_generic(x, m, b.op.qubits, n)


def _angle_grads(b: _Bound, psi: torch.Tensor, lam: torch.Tensor, n: int) -> torch.Tensor:
    """Derivatives ``(S, O, k)`` of the observables w.r.t. this op's angles at its output cut."""
    s, o, dim = lam.shape
    if b.kind == "diag":
        w = (lam.conj() * psi).imag
        return 2.0 * (w @ b.gens)
    if b.kind == "1q":
        q = b.op.qubit
        a = dim >> (q + 1)
        # conj(C): the small state is conjugated instead of the large co-state
        pr = psi.conj().reshape(s, 1, a, 2, 1 << q)
        lr = lam.reshape(s, o, a, 2, 1 << q)
        cross_conj = torch.einsum("sxaib,soajb->soij", pr, lr)
        # Im Tr(H C) = -Im Tr(conj(H) conj(C)); gens are stored conjugated
        return -2.0 * torch.einsum("skji,soij->sok", b.gens.expand(s, -1, -1, -1),
                                   cross_conj).imag
    _, cross_eq = _generic_einsum(b.op.qubits, n)
    d = 1 << len(b.op.qubits)
    cross = torch.einsum(cross_eq, psi.view(s, 1, *([2] * n)), lam.conj().view(s, o, *([2] * n)))
    cross = cross.reshape(s, o, d, d)
    return 2.0 * torch.einsum("ji,soij->so", b.gens, cross).imag[..., None]


class StatevectorProgram:
    """A circuit compiled once and evaluated for many parameter rows at a time."""

    def __init__(self, circuit: QuantumCircuit):
        self.circuit = circuit
        self.compiled = compile_circuit(circuit)
        self.num_qubits = circuit.num_qubits
        # The last forward pass, kept because EstimatorQNN's backward pass re-evaluates exactly
        # the rows its forward pass just simulated.
        self._last: tuple[bytes, list, torch.Tensor] | None = None

    def _bound_and_state(self, values: np.ndarray) -> tuple[list, torch.Tensor]:
        key = values.tobytes() + repr(values.shape).encode()
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        angles, _ = self.compiled.angles.evaluate(values)
        bound = _bind(self.compiled, angles)
        psi = self._forward(bound, len(values))
        self._last = (key, bound, psi)
        return bound, psi

    @property
    def parameters(self) -> list:
        return self.compiled.parameters

    def _initial(self, rows: int) -> torch.Tensor:
        psi = torch.zeros((rows, 1, 1 << self.num_qubits), dtype=DTYPE)
        psi[:, 0, 0] = 1.0
        return psi

    def _forward(self, bound: list[_Bound], rows: int) -> torch.Tensor:
        psi = self._initial(rows)
        for b in bound:
            psi = _apply(b, psi, self.num_qubits)
        return psi

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

    def states(self, values: np.ndarray) -> torch.Tensor:
        """Final states ``(S, N)`` for parameter rows ``(S, P)`` (``circuit.parameters`` order)."""
        values = self._values(values)
        chunks = list(self._chunks(len(values), 1))
        if len(chunks) == 1:
            return self._bound_and_state(values)[1][:, 0, :]
        out = torch.empty((len(values), 1 << self.num_qubits), dtype=DTYPE)
        for sl in chunks:
            angles, _ = self.compiled.angles.evaluate(values[sl])
            out[sl] = self._forward(_bind(self.compiled, angles), len(angles))[:, 0, :]
        return out

    def _chunks(self, rows: int, width: int):
        size = max(1, _MAX_ELEMENTS // (width << self.num_qubits))
        for start in range(0, rows, size):
            yield slice(start, min(rows, start + size))

    def expectations(self, values: np.ndarray, table: PauliTable) -> np.ndarray:
        """Exact ``⟨O_o⟩`` for every row: ``(S, O)``."""
        return table.expectations(self.states(values)).numpy()

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
            s = chunk.shape[0]
            evs[sl] = table.expectations(psi[:, 0, :]).numpy()
            lam = table.apply(psi[:, 0, :])
            grads = torch.zeros((s, table.num_observables, self.compiled.angles.num_angles),
                                dtype=torch.float64)
            first = next((i for i, b in enumerate(bound) if b.angles), len(bound))
            for i in range(len(bound) - 1, first - 1, -1):  # nothing to undo before the first angle
                b = bound[i]
                if b.angles:
                    grads[:, :, b.angles] += _angle_grads(b, psi, lam, n)
                if i > first:
                    psi = _apply(b, psi, n, inverse=True)
                    lam = _apply(b, lam, n, inverse=True)
            g = grads.numpy()
            if angle_jac.ndim == 2:
                jac[sl] = g @ angle_jac
            else:
                jac[sl] = np.einsum("soa,sap->sop", g, angle_jac)
        return evs, jac
