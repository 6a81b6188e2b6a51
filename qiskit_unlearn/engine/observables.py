"""Pauli-sum observables as gathers and phase tables over the computational basis.

A Pauli string with X-mask ``m`` maps basis state ``k`` to ``k ^ m`` times a phase, so
``O|ψ⟩ = Σ_m G_m ⊙ ψ[k ^ m]``: one gather per distinct X-mask plus one dense product for
all observables at once. Z-only (diagonal) observables — the usual QNN readout — reduce to
``|ψ|² @ G_0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp

DTYPE = torch.complex128


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
        self.perms = [torch.from_numpy(k ^ m) for m in self.masks]
        self.tables = [torch.from_numpy(tables[m]) for m in self.masks]
        self.diagonal_only = self.masks == [0]

    def expectations(self, psi: torch.Tensor) -> torch.Tensor:
        """``⟨ψ|O_o|ψ⟩`` for states ``(S, N)``: real tensor ``(S, O)``."""
        out = None
        for m, perm, table in zip(self.masks, self.perms, self.tables):
            if m == 0:
                prod = (psi.real**2 + psi.imag**2).to(DTYPE)
            else:
                prod = psi.conj() * psi.index_select(-1, perm)
            term = prod @ table
            out = term if out is None else out + term
        return out.real

    def apply(self, psi: torch.Tensor) -> torch.Tensor:
        """``O_o|ψ⟩`` for states ``(S, N)``: tensor ``(S, O, N)``."""
        out = None
        for m, perm, table in zip(self.masks, self.perms, self.tables):
            src = psi if m == 0 else psi.index_select(-1, perm)
            term = src[:, None, :] * table.T[None, :, :]
            out = term if out is None else out + term
        return out
