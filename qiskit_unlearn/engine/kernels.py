"""Compiled (Numba) kernels for the hot loops of the simulator and the adjoint sweep.

Why not torch/NumPy here: a 2x2 gate on qubit ``q`` of a batched state is a strided
pair-update; array libraries either copy the state into a matmul-friendly layout and back or
run several temporaries through memory. These loops touch each amplitude once, and the sweep
kernel fuses the reduced cross operator of the gradient with the un-application of the gate,
so each gate costs one pass over the co-states. Rows are spread over threads (``prange``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, parallel=True)
def apply_1q(x: np.ndarray, u: np.ndarray, q: int) -> None:  # pragma: no cover - compiled
    """In place: ``x[s, r] <- u[s] (on qubit q) x[s, r]`` for ``x (S, R, N)``, ``u (S, 2, 2)``
    (``u`` may be a stride-0 broadcast of one matrix)."""
    rows, reps, dim = x.shape
    b = 1 << q
    for s in nb.prange(rows):
        u00, u01, u10, u11 = u[s, 0, 0], u[s, 0, 1], u[s, 1, 0], u[s, 1, 1]
        for r in range(reps):
            for start in range(0, dim, 2 * b):
                for i0 in range(start, start + b):
                    a0 = x[s, r, i0]
                    a1 = x[s, r, i0 + b]
                    x[s, r, i0] = u00 * a0 + u01 * a1
                    x[s, r, i0 + b] = u10 * a0 + u11 * a1


@nb.njit(cache=True, nogil=True, parallel=True)
def cross_and_undo_1q(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int,
                      cross: np.ndarray, undo: bool) -> None:  # pragma: no cover - compiled
    """``cross[s, o, i, j] = Σ_rest conj(ψ[s, i·rest]) λ[s, o, j·rest]`` at the current cut, then
    (if ``undo``) apply ``uinv[s]`` on qubit ``q`` to ``ψ (S, N)`` and ``λ (S, O, N)`` in place."""
    rows, obs, dim = lam.shape
    b = 1 << q
    for s in nb.prange(rows):
        u00, u01, u10, u11 = uinv[s, 0, 0], uinv[s, 0, 1], uinv[s, 1, 0], uinv[s, 1, 1]
        for o in range(obs):
            c00 = 0j
            c01 = 0j
            c10 = 0j
            c11 = 0j
            for start in range(0, dim, 2 * b):
                for i0 in range(start, start + b):
                    i1 = i0 + b
                    p0 = np.conj(psi[s, i0])
                    p1 = np.conj(psi[s, i1])
                    l0 = lam[s, o, i0]
                    l1 = lam[s, o, i1]
                    c00 += p0 * l0
                    c01 += p0 * l1
                    c10 += p1 * l0
                    c11 += p1 * l1
                    if undo:
                        lam[s, o, i0] = u00 * l0 + u01 * l1
                        lam[s, o, i1] = u10 * l0 + u11 * l1
            cross[s, o, 0, 0] = c00
            cross[s, o, 0, 1] = c01
            cross[s, o, 1, 0] = c10
            cross[s, o, 1, 1] = c11
        if undo:
            for start in range(0, dim, 2 * b):
                for i0 in range(start, start + b):
                    a0 = psi[s, i0]
                    a1 = psi[s, i0 + b]
                    psi[s, i0] = u00 * a0 + u01 * a1
                    psi[s, i0 + b] = u10 * a0 + u11 * a1
