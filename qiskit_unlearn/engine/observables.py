"""Pauli-sum observables as gathers and phase tables over the computational basis.

A Pauli string with X-mask ``m`` maps basis state ``k`` to ``k ^ m`` times a phase, so
``O|ψ⟩ = Σ_m G_m ⊙ ψ[k ^ m]``: one gather per distinct X-mask plus one dense product for
all observables at once. Z-only (diagonal) observables — the usual QNN readout — reduce to
``|ψ|² @ G_0``.

The tables are ``2**n`` long, so they are built on first use: :attr:`PauliTable.nbytes` is
known before, which lets the engine check the memory a batch needs before allocating any of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.quantum_info import SparseObservable, SparsePauliOp

from qiskit_unlearn.engine.lifting import local_tensor, multiply_diag

_SMALL_Z = 16  # Z strings up to this many qubits are added as one small broadcast tensor


def observable_key(observable: SparsePauliOp | SparseObservable) -> tuple:
    """A hashable key that is equal for equal Pauli sums (so equal observables share a table
    row however they were built): ``(num_qubits, sorted (label, qubits, coefficient) terms)``."""
    if isinstance(observable, SparseObservable):
        observable = observable.as_paulis()
        terms = observable.to_sparse_list()
    else:
        terms = observable.simplify(atol=0).to_sparse_list()
    return (observable.num_qubits, tuple(sorted(
        (label, tuple(int(q) for q in qubits), complex(c)) for label, qubits, c in terms)))


def key_operator(key: tuple) -> SparsePauliOp:
    """The operator of an :func:`observable_key` (zero if it has no terms)."""
    n, terms = key
    return SparsePauliOp.from_sparse_list(
        [(label, list(qubits), c) for label, qubits, c in terms] or [("", [], 0.0)], n)


def _mask(x: np.ndarray) -> int:
    return sum(1 << int(q) for q in np.flatnonzero(x))


def _terms(op: SparsePauliOp):
    """``(X-mask, Z qubits, factor)`` per term, the factor folding in coefficient, phase, the
    ``i`` of each Y, and the sign ``(-1)^{|m & z|}`` that moves the Z signs onto ``k``."""
    factors = op.coeffs * (-1j) ** op.paulis.phase
    for x, z, f in zip(op.paulis.x, op.paulis.z, factors, strict=True):
        m = _mask(x)
        zq = [int(q) for q in np.flatnonzero(z)]
        flips = sum((m >> q) & 1 for q in zq)
        yield m, zq, complex(f * 1j ** int(np.count_nonzero(x & z)) * (-1) ** flips)


def _add_z_string(row: np.ndarray, f: complex, zq: list[int], n: int) -> None:
    """In place: ``row[k] += f (-1)^{|k & z|}``, allocating at most one ``2**n`` buffer."""
    f = f.real if row.dtype == float else f
    if len(zq) <= _SMALL_Z:
        sign = np.ones(1 << len(zq))
        for pos in range(len(zq)):
            sign[(np.arange(len(sign)) >> pos) & 1 == 1] *= -1
        view = row.reshape((2,) * n)
        view += f * (local_tensor(sign, zq, n) if zq else np.ones(()))
        return
    buf = np.full(row.shape, f, row.dtype)
    for q in zq:
        multiply_diag(buf, np.array([1.0, -1.0]), (q,), n)
    row += buf


class PauliTable:
    """Several observables on ``n`` qubits, prepared for batched expectation values."""

    def __init__(self, observables: Sequence[SparsePauliOp], num_qubits: int):
        self.num_qubits = num_qubits
        self.num_observables = len(observables)
        for o, op in enumerate(observables):
            if op.num_qubits != num_qubits:
                raise ValueError(
                    f"observable {o} has {op.num_qubits} qubits, the circuit {num_qubits}"
                )
        self._observables = list(observables)
        real: dict[int, bool] = {}  # per X-mask: real table (Z-type terms, real factors)?
        for op in observables:
            for m, _, f in _terms(op):
                real[m] = real.get(m, True) and m == 0 and f.imag == 0
        self.masks = sorted(real)
        self._buffer = any(len(zq) > _SMALL_Z for op in observables for _, zq, _ in _terms(op))
        self._real = [real[m] for m in self.masks]
        self.diagonal_only = self.masks == [0]
        self._built: tuple[list, list] | None = None

    @property
    def nbytes(self) -> int:
        """Peak bytes of the tables once built: ``(O, 2**n)`` per X-mask, a gather per
        non-zero mask, and a build buffer if a Z string is long."""
        dim = 1 << self.num_qubits
        tables = sum((8 if r else 16) * self.num_observables * dim for r in self._real)
        small = 16 << min(self.num_qubits, _SMALL_Z)  # one term's broadcast product
        return (tables + 8 * dim * sum(1 for m in self.masks if m) + small
                + (16 * dim if self._buffer else 0))

    def _tables(self) -> tuple[list[np.ndarray | None], list[np.ndarray]]:
        """Gathers and tables ``(O, N)`` per mask, built on first use."""
        if self._built is not None:
            return self._built
        n, dim = self.num_qubits, 1 << self.num_qubits
        index = {m: i for i, m in enumerate(self.masks)}
        tables = [np.zeros((self.num_observables, dim), float if r else complex)
                  for r in self._real]
        for o, op in enumerate(self._observables):
            for m, zq, f in _terms(op):
                _add_z_string(tables[index[m]][o], f, zq, n)
        perms: list[np.ndarray | None] = []
        for m in self.masks:
            perm = None
            if m:
                perm = np.arange(dim, dtype=np.int64)
                perm ^= m
            perms.append(perm)
        self._built = (perms, tables)
        return self._built

    def expectations(self, psi: np.ndarray) -> np.ndarray:
        """``⟨ψ|O_o|ψ⟩`` for states ``(S, N)``: real array ``(S, O)``."""
        out = np.zeros((psi.shape[0], self.num_observables))
        for perm, table in zip(*self._tables(), strict=True):
            if perm is None:
                probs = np.square(psi.real)
                probs += np.square(psi.imag)
                out += probs @ (table.T if table.dtype == float else table.real.T)
            else:
                out += ((np.conj(psi) * psi[:, perm]) @ table.T).real
        return out

    def apply_weighted(self, psi: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``Σₒ w[s, o] O_o|ψ_s⟩`` for states ``(S, N)`` and real weights ``(S, O)``: ``(S, N)``.

        The co-state of a vector–Jacobian product, built without the ``(S, O, N)`` array of
        :meth:`apply`: one weighted table row per X-mask."""
        out = np.empty(psi.shape, psi.dtype)
        weights = np.asarray(weights, dtype=float)
        for i, (perm, table) in enumerate(zip(*self._tables(), strict=True)):
            src = psi if perm is None else psi[:, perm]
            weighted = weights @ table  # (S, N): this mask's diagonal, per row
            if i == 0:
                np.multiply(weighted, src, out=out, casting="same_kind")
            else:
                out += (weighted * src).astype(out.dtype, copy=False)
        return out

    def apply(self, psi: np.ndarray) -> np.ndarray:
        """``O_o|ψ⟩`` for states ``(S, N)``: array ``(S, O, N)``."""
        out = np.empty((psi.shape[0], self.num_observables, psi.shape[1]), psi.dtype)
        for i, (perm, table) in enumerate(zip(*self._tables(), strict=True)):
            src = psi if perm is None else psi[:, perm]
            if i == 0:
                np.multiply(src[:, None, :], table[None], out=out)
                continue
            for o in range(self.num_observables):
                out[:, o] += src * table[o]
        return out
