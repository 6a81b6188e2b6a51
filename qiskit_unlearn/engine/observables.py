"""Pauli-sum observables as gathers and phase tables over the computational basis.

A Pauli string with X-mask ``m`` maps basis state ``k`` to ``k ^ m`` times a phase, so
``O|ψ⟩ = Σ_m G_m ⊙ ψ[k ^ m]``: one gather per distinct X-mask plus one dense product for
all observables at once. Z-only (diagonal) observables — the usual QNN readout — reduce to
``|ψ|² @ G_0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.quantum_info import SparsePauliOp


class PauliTable:
    """Several observables on ``n`` qubits, prepared for batched expectation values."""

    def __init__(self, observables: Sequence[SparsePauliOp], num_qubits: int):
        self.num_qubits = num_qubits
        self.num_observables = len(observables)
        dim = 1 << num_qubits
        k = np.arange(dim)
        bits = (k[:, None] >> np.arange(num_qubits)) & 1  # (N, n)
        tables: dict[int, np.ndarray] = {}
        for o, op in enumerate(observables):
            if op.num_qubits != num_qubits:
                raise ValueError(
                    f"observable {o} has {op.num_qubits} qubits, the circuit {num_qubits}"
                )
            xs, zs = op.paulis.x, op.paulis.z
            phases = (-1j) ** op.paulis.phase
            for t in range(len(op)):
                x, z = xs[t], zs[t]
                mask = int(np.dot(x.astype(np.int64), 1 << np.arange(num_qubits)))
                src_bits = bits ^ x  # bits of k ^ mask
                sign = np.prod(np.where(z, 1 - 2 * src_bits, 1), axis=1).astype(complex)
                y_count = int(np.count_nonzero(x & z))
                f = op.coeffs[t] * phases[t] * (1j**y_count) * sign
                tables.setdefault(mask, np.zeros((dim, self.num_observables), complex))[:, o] += f
        self.masks = sorted(tables)
        self.perms = [k ^ m for m in self.masks]
        self.tables = [tables[m] for m in self.masks]
        self.tables_t = [np.ascontiguousarray(t.T) for t in self.tables]
        self.diagonal_only = self.masks == [0]

    def expectations(self, psi: np.ndarray) -> np.ndarray:
        """``⟨ψ|O_o|ψ⟩`` for states ``(S, N)``: real array ``(S, O)``."""
        out = np.zeros((psi.shape[0], self.num_observables))
        for m, perm, table in zip(self.masks, self.perms, self.tables, strict=False):
            if m == 0:
                out += (psi.real**2 + psi.imag**2) @ table.real
            else:
                out += ((np.conj(psi) * psi[:, perm]) @ table).real
        return out

    def apply(self, psi: np.ndarray) -> np.ndarray:
        """``O_o|ψ⟩`` for states ``(S, N)``: array ``(S, O, N)``."""
        out = None
        for m, perm, table_t in zip(self.masks, self.perms, self.tables_t, strict=False):
            src = psi if m == 0 else psi[:, perm]
            term = src[:, None, :] * table_t[None, :, :]
            out = term if out is None else np.add(out, term, out=out)
        return out
