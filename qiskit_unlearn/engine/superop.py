"""Superoperators of gates and noise channels, and the noise an Aer ``NoiseModel`` attaches.

A density matrix ``ρ`` of ``n`` qubits is simulated as the vector ``vec(ρ)[r·2ⁿ + c] = ρ[r, c]``:
``2n`` *virtual* qubits, the column bits of qubit ``q`` at virtual position ``q`` and its row
bits at ``q + n``. A channel on qubits ``Q`` then acts on the ``2k`` virtual qubits
``(Q, Q + n)`` as the ``4ᵏ × 4ᵏ`` matrix ``Σᵢ Kᵢ ⊗ conj(Kᵢ)`` (row part high, column part
low), and a unitary ``U`` as ``U ⊗ conj(U)``. Local matrices use Qiskit's little-endian order
over ``Q`` (``Q[0]`` is the least significant bit), like ``Operator`` and ``Kraus``.

Noise follows Aer's rules exactly, because Aer is the reference the engine is tested against:
an instruction's error is the error registered for that instruction *on those qubits* if there
is one, else the all-qubit error for its name; it acts right after the instruction. Readout
errors are not quantum errors: backends fold them into the observables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qiskit_unlearn.errors import BackendError


class NoiseNotSupportedError(BackendError):
    """Noise the exact density-matrix engine cannot simulate; it is never dropped silently."""


def kraus_superop(kraus: Sequence[np.ndarray]) -> np.ndarray:
    """``Σᵢ Kᵢ ⊗ conj(Kᵢ)``: the local superoperator of a channel given by Kraus operators."""
    kraus = [np.asarray(k, dtype=complex) for k in kraus]
    return sum(np.kron(k, np.conj(k)) for k in kraus)


def unitary_superop(unitary: np.ndarray) -> np.ndarray:
    """``U ⊗ conj(U)``: how a gate acts on ``vec(ρ)`` locally."""
    unitary = np.asarray(unitary, dtype=complex)
    return np.kron(unitary, np.conj(unitary))


def generator_superop(h: np.ndarray) -> np.ndarray:
    """The generator ``H ⊗ 1 − 1 ⊗ conj(H)`` of ``exp(-iθH) ⊗ conj(exp(-iθH))``."""
    eye = np.eye(h.shape[0])
    return np.kron(h, eye) - np.kron(eye, np.conj(h))


def check_cptp(superop: np.ndarray, what: str, atol: float = 1e-9) -> None:
    """Reject a map that does not preserve the trace (probabilities outside [0, 1] do that)."""
    d = math.isqrt(superop.shape[0])
    # trace preservation: Σ_r S[(r, r), (a, b)] = δ_ab
    trace_rows = superop.reshape(d, d, d, d)[np.arange(d), np.arange(d)].sum(axis=0)
    if not np.allclose(trace_rows, np.eye(d), atol=atol):
        raise NoiseNotSupportedError(f"{what} does not preserve the trace (probabilities must "
                                     "lie in [0, 1] and sum to 1); check its parameters")


def error_superop(error: Any, what: str) -> np.ndarray:
    """The local superoperator of an Aer ``QuantumError`` (or any Qiskit channel).

    Every ``QuantumError`` (Pauli, depolarizing, thermal relaxation with its resets, amplitude
    and phase damping, Kraus or ``SuperOp`` given) is a CPTP map, so its Kraus form is exact.
    """
    from qiskit.quantum_info import Kraus

    try:
        kraus = Kraus(error)
    except Exception as exc:
        raise NoiseNotSupportedError(
            f"{what}: {type(error).__name__} cannot be turned into a quantum channel "
            f"({type(exc).__name__}: {exc}); give it as Kraus operators or a SuperOp") from None
    if kraus.data[0].shape[0] != kraus.data[0].shape[1]:
        raise NoiseNotSupportedError(f"{what}: {type(error).__name__} changes the number of "
                                     "qubits; only channels from n qubits to n qubits exist "
                                     "in a circuit")
    superop = kraus_superop(kraus.data)
    check_cptp(superop, f"{what} ({type(error).__name__})")
    return superop


class NoiseLookup:
    """The quantum errors an Aer ``NoiseModel`` attaches to each instruction (Aer's rules)."""

    def __init__(self, noise_model: Any | None) -> None:
        self.model = noise_model
        self._cache: dict[tuple[str, tuple[int, ...]], np.ndarray | None] = {}
        if noise_model is None:
            return
        for attribute in ("_default_quantum_errors", "_local_quantum_errors"):
            if not hasattr(noise_model, attribute):
                raise NoiseNotSupportedError(
                    f"{type(noise_model).__name__} is not an Aer NoiseModel this version can "
                    f"read (no {attribute}); pass a qiskit_aer.noise.NoiseModel")
        nonlocal_errors = getattr(noise_model, "_nonlocal_quantum_errors", None)
        if nonlocal_errors:
            raise NoiseNotSupportedError(
                "the noise model has non-local errors (errors on other qubits than their "
                f"instruction's: {sorted(nonlocal_errors)}); the exact engine applies errors to "
                "the instruction's own qubits only; use backend 'aer-noisy' with shots")

    def error(self, name: str, qubits: tuple[int, ...]) -> np.ndarray | None:
        """The superoperator of the error after ``name`` on (physical) ``qubits``, or None."""
        if self.model is None:
            return None
        key = (name, tuple(qubits))
        if key not in self._cache:
            local = self.model._local_quantum_errors.get(name, {})
            error = local.get(key[1], self.model._default_quantum_errors.get(name))
            self._cache[key] = None if error is None else error_superop(
                error, f"the noise model's error on '{name}' qubits {list(qubits)}")
            if error is not None and error.num_qubits != len(qubits):
                raise NoiseNotSupportedError(
                    f"the noise model's error on '{name}' acts on {error.num_qubits} qubits but "
                    f"the instruction on {list(qubits)} has {len(qubits)}")
        return self._cache[key]

    def has_error(self, name: str) -> bool:
        """Whether the model attaches any quantum error to instructions called ``name``."""
        if self.model is None:
            return False
        return name in self.model._default_quantum_errors or \
            bool(self.model._local_quantum_errors.get(name))
