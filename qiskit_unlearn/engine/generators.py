"""Generators of the parameterized gates the exact engine simulates natively.

Every supported gate is ``G(θ) = exp(-i θ H)`` for a constant Hermitian ``H`` (matrices in
Qiskit's little-endian convention: the first qubit argument is the least significant bit).
That single form gives both the gate (via the eigendecomposition of ``H``) and its exact
derivative ``dG/dθ = -i H G``, which is what the adjoint gradient needs. Other parameterized
gates are first translated into these (as Qiskit's own gradients do).
"""

from __future__ import annotations

import numpy as np

_I = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1.0, -1.0]).astype(complex)
_P1 = np.diag([0.0, 1.0]).astype(complex)


def _two(first_qarg: np.ndarray, second_qarg: np.ndarray) -> np.ndarray:
    """Operator ``A`` on the first qubit argument and ``B`` on the second (little endian)."""
    return np.kron(second_qarg, first_qarg)


GENERATORS: dict[str, np.ndarray] = {
    "rx": _X / 2,
    "ry": _Y / 2,
    "rz": _Z / 2,
    "p": -_P1,
    "u1": -_P1,
    "rxx": _two(_X, _X) / 2,
    "ryy": _two(_Y, _Y) / 2,
    "rzz": _two(_Z, _Z) / 2,
    "rzx": _two(_Z, _X) / 2,
    "cp": -_two(_P1, _P1),
    "cu1": -_two(_P1, _P1),
    "crx": _two(_P1, _X) / 2,
    "cry": _two(_P1, _Y) / 2,
    "crz": _two(_P1, _Z) / 2,
}

SUPPORTED_PARAMETERIZED = tuple(GENERATORS)


class Generator:
    """A gate family ``exp(-iθH)``: evaluates batched gate matrices from an angle vector."""

    def __init__(self, name: str):
        self.name = name
        self.h = GENERATORS[name]
        self.dim = self.h.shape[0]
        self.diagonal = bool(np.allclose(self.h, np.diag(np.diag(self.h))))
        self.eigvals, self.eigvecs = np.linalg.eigh(self.h)
        # Pauli-type generators (H = P/2, P² = I) have the closed form cos·I − i·sin·P
        self.pauli = bool(np.allclose(4 * self.h @ self.h, np.eye(self.dim)))

    def matrices(self, angles: np.ndarray) -> np.ndarray:
        """``G(θ)`` for every angle: shape ``(*angles.shape, d, d)``."""
        angles = np.asarray(angles, dtype=float)
        if self.pauli:
            c = np.cos(angles / 2)[..., None, None]
            s = np.sin(angles / 2)[..., None, None]
            return c * np.eye(self.dim) - 2j * s * self.h
        phases = np.exp(-1j * np.multiply.outer(angles, self.eigvals))
        return np.einsum("ij,...j,kj->...ik", self.eigvecs, phases, self.eigvecs.conj())

    def diagonal_h(self) -> np.ndarray:
        return np.real(np.diag(self.h))


_CACHE: dict[str, Generator] = {}


def generator(name: str) -> Generator:
    if name not in _CACHE:
        _CACHE[name] = Generator(name)
    return _CACHE[name]
