"""Lift a gate's local diagonal or permutation to all ``n`` qubits, allocating only the result.

Why: the full-space table of a ``k``-qubit gate has ``2**n`` entries. Building it with index
arithmetic on ``arange(2**n)`` creates several more arrays of that size (the compiler used to
peak at about six times the table, 8 GiB for one 30-qubit CX). Seen as an ``n``-axis tensor,
the table is a small ``k``-axis tensor broadcast over the other axes, so NumPy can write it
with one ``copyto`` or one in-place product, and the result is the only large allocation.

Index convention (Qiskit's little endian): basis index ``Σ_q b_q 2**q``; in the C-ordered
``(2,) * n`` view, axis ``n - 1 - q`` is qubit ``q``. A gate's local index is
``Σ_pos b_{qubits[pos]} 2**pos``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def local_tensor(values: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """``values[local index]`` as an ``n``-axis tensor that broadcasts over the other qubits."""
    k = len(qubits)
    t = np.asarray(values).reshape((2,) * k)  # axis i holds qubit qubits[k - 1 - i]
    order = np.argsort([n - 1 - qubits[k - 1 - i] for i in range(k)])
    shape = [1] * n
    for q in qubits:
        shape[n - 1 - q] = 2
    return t.transpose(order).reshape(shape)


def lift_diag(values: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """The diagonal ``values`` of a gate on ``qubits`` as a full-space vector ``(2**n,)``."""
    out = np.empty(1 << n, dtype=np.result_type(values))
    np.copyto(out.reshape((2,) * n), local_tensor(values, qubits, n))
    return out


def multiply_diag(out: np.ndarray, values: np.ndarray, qubits: Sequence[int], n: int) -> None:
    """In place: ``out *= lift_diag(values, qubits, n)`` without building the lifted vector."""
    view = out.reshape((2,) * n)
    view *= local_tensor(values, qubits, n)


def monomial_parts(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a gate matrix with one non-zero per row: the column each row reads, and its value."""
    cols = np.argmax(np.abs(matrix) > 1e-12, axis=1)
    return cols, matrix[np.arange(len(cols)), cols].astype(complex)


def lift_perm(cols: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """Full-space gather ``perm`` of a monomial gate: ``(Mψ)[k] ∝ ψ[perm[k]]``.

    ``perm[k]`` is ``k`` with the gate's bits replaced by those of ``cols[local(k)]``: the other
    bits of ``arange`` plus a small broadcast offset table, written in place.
    """
    mask = sum(1 << q for q in qubits)
    offsets = np.zeros(len(cols), dtype=np.int64)
    for pos, q in enumerate(qubits):
        offsets |= ((cols >> pos) & 1) << q
    perm = np.arange(1 << n, dtype=np.int64)
    perm &= ~mask
    view = perm.reshape((2,) * n)
    view += local_tensor(offsets, qubits, n)
    return perm
