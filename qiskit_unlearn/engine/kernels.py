"""Compiled (Numba) kernels for the two hot loops of the adjoint sweep.

Why not torch/NumPy here: a 2x2 gate on qubit ``q`` of a batched state is a strided
pair-update; array libraries either copy the state into a matmul-friendly layout and back or
run several temporaries through memory. These loops touch each amplitude once, and the sweep
kernel fuses the reduced cross operator of the gradient with the un-application of the gate,
so each gate costs one pass over the co-states.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def apply_1q(x: np.ndarray, u: np.ndarray, q: int) -> None:  # pragma: no cover - compiled
    """In place: ``x[s, r] <- u[s] (on qubit q) x[s, r]`` for ``x (S, R, N)``, ``u (S|1, 2, 2)``."""
    rows, reps, dim = x.shape
    b = 1 << q
    shared = u.shape[0] == 1
    for s in range(rows):
        k = 0 if shared else s
        u00, u01, u10, u11 = u[k, 0, 0], u[k, 0, 1], u[k, 1, 0], u[k, 1, 1]
        for r in range(reps):
            for h in range(dim >> 1):
                i0 = ((h >> q) << (q + 1)) | (h & (b - 1))
                i1 = i0 | b
                a0 = x[s, r, i0]
                a1 = x[s, r, i1]
                x[s, r, i0] = u00 * a0 + u01 * a1
                x[s, r, i1] = u10 * a0 + u11 * a1


@nb.njit(cache=True, nogil=True)
def cross_and_undo_1q(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int,
                      cross: np.ndarray, undo: bool) -> None:  # pragma: no cover - compiled
    """``cross[s, o, i, j] = Σ_rest conj(ψ[s, i·rest]) λ[s, o, j·rest]`` at the current cut, then
    (if ``undo``) apply ``uinv`` on qubit ``q`` to ``ψ (S, N)`` and ``λ (S, O, N)`` in place."""
    rows, obs, dim = lam.shape
    b = 1 << q
    shared = uinv.shape[0] == 1
    for s in range(rows):
        k = 0 if shared else s
        u00, u01, u10, u11 = uinv[k, 0, 0], uinv[k, 0, 1], uinv[k, 1, 0], uinv[k, 1, 1]
        for o in range(obs):
            c00 = 0j
            c01 = 0j
            c10 = 0j
            c11 = 0j
            for h in range(dim >> 1):
                i0 = ((h >> q) << (q + 1)) | (h & (b - 1))
                i1 = i0 | b
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
            for h in range(dim >> 1):
                i0 = ((h >> q) << (q + 1)) | (h & (b - 1))
                i1 = i0 | b
                a0 = psi[s, i0]
                a1 = psi[s, i1]
                psi[s, i0] = u00 * a0 + u01 * a1
                psi[s, i1] = u10 * a0 + u11 * a1
