"""The Pauli-transfer basis of the density-matrix engine: states, channels, observables.

A density matrix is held as its real Pauli coefficients ``r_P = Tr(P ρ)`` (index ``Σ_q p_q 4^q``,
``p`` = I, X, Y, Z as 0..3). Channels built as complex superoperators on ``vec(ρ)``
(:mod:`~qiskit_unlearn.engine.superop`) are turned into real matrices on those coefficients by
:func:`to_pauli`, and observables become sparse real functionals ``⟨O⟩ = Σ o_P r_P``.
"""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SparsePauliOp

_PAULI_INDEX = {(False, False): 0, (True, False): 1, (True, True): 2, (False, True): 3}


class DensityObservables:
    """Observables as sparse real functionals of the Pauli coefficients: ``⟨O⟩ = Σ o_P r_P``."""

    def __init__(self, observables: list[SparsePauliOp], num_qubits: int) -> None:
        self.num_qubits = num_qubits
        self.num_observables = len(observables)
        self.entries: list[tuple[np.ndarray, np.ndarray]] = []
        for o, obs in enumerate(observables):
            obs = obs.simplify(atol=0)
            coeffs = obs.coeffs * (-1j) ** obs.paulis.phase
            if np.abs(coeffs.imag).max(initial=0.0) > 1e-12:
                raise ValueError(f"observable {o} is not Hermitian (complex Pauli coefficients); "
                                 "expectation values of a QNN must be real")
            index = np.array([sum(_PAULI_INDEX[(bool(xq), bool(zq))] << (2 * q)
                                  for q, (xq, zq) in enumerate(zip(x, z, strict=True)))
                              for x, z in zip(obs.paulis.x, obs.paulis.z, strict=True)],
                             dtype=np.int64)
            self.entries.append((index, coeffs.real.copy()))

    def expectations(self, state: np.ndarray) -> np.ndarray:
        """``(S, O)`` expectation values of states ``(S, 1, 4ⁿ)``."""
        out = np.empty((state.shape[0], self.num_observables))
        for o, (index, values) in enumerate(self.entries):
            out[:, o] = state[:, 0, index] @ values
        return out

    def costates(self, weights: np.ndarray) -> np.ndarray:
        """``λ[s, r] = Σₒ weights[s, r, o] oₒ``: shape ``(S, R, 4ⁿ)``."""
        s, r, _ = weights.shape
        lam = np.zeros((s, r, 1 << (2 * self.num_qubits)))
        for o, (index, values) in enumerate(self.entries):
            np.add.at(lam, (slice(None), slice(None), index), weights[:, :, o, None] * values)
        return lam


_PAULIS = (np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]),
           np.diag([1.0, -1.0]))
_TRANSFORMS: dict[int, np.ndarray] = {}


def pauli_transform(k: int) -> np.ndarray:
    """``T`` with ``T @ vec(ρ) = (Tr(P ρ))_P`` on ``k`` qubits: rows by Pauli index
    ``Σᵢ pᵢ 4ⁱ``, columns by ``row · 2ᵏ + col`` (``T⁻¹ = T† / 2ᵏ``)."""
    if k not in _TRANSFORMS:
        d = 4 ** k
        t = np.empty((d, d), dtype=complex)
        for index in range(d):
            pauli = np.ones((1, 1))
            for i in range(k):  # little endian: qubit 0 is the rightmost factor
                pauli = np.kron(_PAULIS[(index >> (2 * i)) & 3], pauli)
            t[index] = pauli.T.reshape(-1)  # Tr(P ρ) = Σ_rc P[c, r] ρ[r, c]
        _TRANSFORMS[k] = t
    return _TRANSFORMS[k]


def to_pauli(m: np.ndarray, k: int) -> np.ndarray:
    """Local superoperators ``(..., 4ᵏ, 4ᵏ)`` on ``vec(ρ)`` as real Pauli-transfer matrices."""
    t = pauli_transform(k)
    return np.ascontiguousarray((t @ m @ t.conj().T).real / (1 << k))
