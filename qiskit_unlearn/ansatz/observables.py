"""Measured observables: one ``SparsePauliOp`` per QNN output.

``z``: Z on every qubit (qubit i -> output i), for multi-class heads; ``single-z``: Z on one qubit,
for binary tasks; ``parity``: Z⊗...⊗Z, the parity of all qubits as one output.
"""

from __future__ import annotations

from typing import Any

from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.ansatz.base import AnsatzError, check_int


def _z_on(qubits: list[int], num_qubits: int) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list([("Z" * len(qubits), qubits, 1.0)], num_qubits)


def z_observables(num_qubits: int) -> list[SparsePauliOp]:
    """Z on each qubit; output i is <Z_i> (Qiskit little-endian: qubit i is label position -1-i).

    Args:
        num_qubits: Number of qubits n (at least 1).

    Returns:
        n observables, one per QNN output.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    return [_z_on([q], n) for q in range(n)]


def single_z_observable(num_qubits: int, qubit: int = 0) -> list[SparsePauliOp]:
    """Z on ``qubit`` only, as a one-element list (a single QNN output).

    Args:
        num_qubits: Number of qubits n (at least 1).
        qubit: The measured qubit, in 0..n-1.

    Returns:
        A one-element list of observables.

    Raises:
        AnsatzError: If ``qubit`` is out of range.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    if check_int(qubit, "qubit", 0) >= n:
        raise AnsatzError(f"qubit must be in 0..{n - 1}, got {qubit}")
    return [_z_on([qubit], n)]


def parity_observable(num_qubits: int) -> list[SparsePauliOp]:
    """Z⊗...⊗Z on all qubits, as a one-element list.

    Args:
        num_qubits: Number of qubits n (at least 1).

    Returns:
        A one-element list of observables.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    return [_z_on(list(range(n)), n)]


OBSERVABLES = {"z": z_observables, "single-z": single_z_observable, "parity": parity_observable}


def make_observables(kind: str, num_qubits: int, **kw: Any) -> list[SparsePauliOp]:
    """Observables by name.

    Args:
        kind: ``z`` (:func:`z_observables`), ``single-z`` (:func:`single_z_observable`) or
            ``parity`` (:func:`parity_observable`).
        num_qubits: Number of qubits n (at least 1).
        **kw: Further keyword arguments of the builder (e.g. ``qubit`` for ``single-z``).

    Returns:
        One observable per QNN output.

    Raises:
        AnsatzError: If ``kind`` is unknown or the builder does not take ``kw``.
    """
    if kind not in OBSERVABLES:
        raise AnsatzError(f"unknown observables {kind!r}; choose one of {list(OBSERVABLES)}")
    try:
        return OBSERVABLES[kind](num_qubits, **kw)
    except TypeError as exc:
        raise AnsatzError(f"observables {kind!r} do not take {sorted(kw)}: {exc}") from exc
