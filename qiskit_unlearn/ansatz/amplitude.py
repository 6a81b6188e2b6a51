"""Amplitude encoding of real data vectors with a parameterized state-preparation circuit.

The circuit is a cascade of uniformly controlled RY rotations (Möttönen et al., 2004), each
decomposed into RY + CX, so it stays a plain parameterized circuit that estimators, gradients
and the OpenQASM 3 exporter handle natively. The data enters only through the RY angles, which
:func:`amplitude_encoding_angles` computes classically (vectorized over a batch) and which can be
bound to the circuit directly.

Qiskit is little-endian: basis index k = sum_q b_q 2^q (qubit 0 is the least significant bit).
Level ``k = 0 .. n-1`` targets qubit ``t = n-1-k`` controlled by qubits ``t+1 .. n-1`` and splits
each block of amplitudes by the value of bit t; the last level (t = 0) uses the signed amplitudes,
so negative entries come out exactly. Parameters are ordered by level, then by rotation within the
level: 2^n - 1 in total.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from qiskit.circuit import ParameterVector, QuantumCircuit

from qiskit_unlearn.ansatz.base import AnsatzError, check_int


def amplitude_encode(x: ArrayLike, num_qubits: int | None = None) -> np.ndarray:
    """Zero-pad the last axis of ``x`` to 2^n and normalize each vector to unit norm.

    Args:
        x: Real data of shape (..., m); each vector along the last axis is encoded.
        num_qubits: Number of qubits n (2^n >= m). None (default): the fewest qubits whose 2^n
            amplitudes hold ``x.shape[-1]`` values.

    Returns:
        The unit-norm amplitudes, shape (..., 2^n).

    Raises:
        AnsatzError: If ``x`` is complex, empty, has NaN or infinite entries, has an all-zero
            vector, or does not fit in ``num_qubits`` qubits.
    """
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise AnsatzError("amplitude encoding takes real vectors; got complex values")
    arr = arr.astype(float)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise AnsatzError(f"amplitude encoding needs vectors of length >= 1, got shape {arr.shape}")
    length = arr.shape[-1]
    n = max(1, (length - 1).bit_length()) if num_qubits is None else \
        check_int(num_qubits, "num_qubits", 1)
    dim = 2**n
    if length > dim:
        raise AnsatzError(f"vectors of length {length} do not fit in {n} qubits ({dim} amplitudes)")
    bad = ~np.isfinite(arr).all(axis=-1)
    if bad.any():
        raise AnsatzError(f"vector{_where(bad)} has NaN or infinite entries")
    padded = np.zeros((*arr.shape[:-1], dim))
    padded[..., :length] = arr
    norms = np.linalg.norm(padded, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise AnsatzError(f"vector{_where(norms[..., 0] == 0)} is all zeros and has no direction "
                          "to encode")
    return padded / norms


def _where(mask: np.ndarray) -> str:
    """' at index ...' of the first flagged vector of a batch ('' for a single vector)."""
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return "" if not idx else f" at index {idx[0] if len(idx) == 1 else idx}"


def amplitude_encoding_angles(x: ArrayLike, num_qubits: int | None = None) -> np.ndarray:
    """Parameter values of :func:`amplitude_state_preparation` that prepare ``x``.

    Binding the result in parameter order gives the state ``amplitude_encode(x)`` exactly
    (signs included).

    Args:
        x: Real data of shape (..., m) with m <= 2^n.
        num_qubits: Number of qubits n; None (default) picks the fewest that hold m values, as
            in :func:`amplitude_encode`.

    Returns:
        RY angles in radians, shape (..., 2^n - 1).

    Raises:
        AnsatzError: If ``x`` cannot be amplitude-encoded (see :func:`amplitude_encode`).
    """
    amps = amplitude_encode(x, num_qubits)
    n = amps.shape[-1].bit_length() - 1
    batch = amps.shape[:-1]
    angles = []
    for level in range(n):
        target = n - 1 - level
        blocks = amps.reshape(*batch, 2**level, 2, 2**target)
        if target == 0:
            zero, one = blocks[..., 0, 0], blocks[..., 1, 0]
        else:
            zero = np.linalg.norm(blocks[..., 0, :], axis=-1)
            one = np.linalg.norm(blocks[..., 1, :], axis=-1)
        # Rotation angles of the uniformly controlled RY, one per control pattern, turned into
        # the angles of its RY + CX decomposition.
        angles.append(2 * np.arctan2(one, zero) @ _gray_transform(level))
    return np.concatenate(angles, axis=-1)


@cache
def _gray_transform(num_controls: int) -> np.ndarray:
    """Matrix T with ``phi = theta @ T`` for a uniformly controlled RY with ``num_controls``.

    In the decomposition, the i-th RY(phi_i) acts after CX gates whose controls XOR to gray(i), so
    control pattern c sees theta_c = sum_i (-1)^popcount(c & gray(i)) phi_i = (M phi)_c. M has
    orthogonal +-1 columns, so phi = M^T theta / 2^k, i.e. T = M / 2^k.
    """
    size = 2**num_controls
    gray = np.arange(size) ^ (np.arange(size) >> 1)
    overlap = np.arange(size)[:, None] & gray[None, :]
    parity = np.vectorize(lambda v: int(v).bit_count() % 2)(overlap)
    matrix = np.where(parity == 1, -1.0, 1.0) / size
    matrix.setflags(write=False)
    return matrix


def _cx_control_bit(step: int, num_controls: int) -> int:
    """Control bit of the CX after the ``step``-th RY: the bit where gray(step) and the next
    gray code (cyclically) differ."""
    size = 2**num_controls
    nxt = (step + 1) % size
    return ((step ^ (step >> 1)) ^ (nxt ^ (nxt >> 1))).bit_length() - 1


def amplitude_state_preparation(num_qubits: int,
                                prefix: str = "x") -> tuple[QuantumCircuit, ParameterVector]:
    """RY/CX circuit mapping ``|0...0>`` to a real unit vector given by 2^n - 1 angle parameters.

    Bind the parameters to ``amplitude_encoding_angles(data)``. Uses 2^n - 1 RY and 2^n - 2 CX.

    Args:
        num_qubits: Number of qubits n (at least 1).
        prefix: Name of the parameter vector.

    Returns:
        The circuit and its 2^n - 1 angle parameters, in binding order.

    Raises:
        AnsatzError: If ``num_qubits`` is not an integer >= 1.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    params = ParameterVector(prefix, 2**n - 1)
    qc = QuantumCircuit(n, name=f"amplitude-{n}q")
    offset = 0
    for level in range(n):
        target = n - 1 - level
        for step in range(2**level):
            qc.ry(params[offset + step], target)
            if level:
                qc.cx(target + 1 + _cx_control_bit(step, level), target)
        offset += 2**level
    return qc, params
