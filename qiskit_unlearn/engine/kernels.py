"""Compiled (Numba) kernels for the hot loops of the simulator and the adjoint sweep.

Why not torch/NumPy here: a 2x2 gate on qubit ``q`` of a batched state is a strided
pair-update; array libraries either copy the state into a matmul-friendly layout and back or
run several temporaries through memory. These loops touch each amplitude once, and the sweep
kernel fuses the reduced cross operator of the gradient with the un-application of the gate,
so each gate costs one pass over the co-states.

Work is split into *tiles* of at most :data:`TILE` amplitude pairs, and the tiles of every row
are spread over the threads together (``prange`` over rows × tiles). Splitting over rows only
left a single large state — or a batch smaller than the core count — on one core. Reductions
(the cross operators) write one partial sum per tile and are added afterwards, so results do
not depend on the thread count. The kernels are generic over complex64 and complex128.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Amplitude pairs per task: large enough to amortise scheduling, small enough that a
#: 16-qubit state already splits into 8 tasks per row.
TILE = 1 << 12


@nb.njit(cache=True, inline="always")
def _tiling(half: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """``(tiles, pairs per tile)`` for ``half`` amplitude pairs (powers of two)."""
    size = min(half, TILE)
    return half // size, size


@nb.njit(cache=True, inline="always")
def _pair(k: int, q: int, low: int) -> int:  # pragma: no cover - compiled
    """Index of the ``k``-th amplitude whose bit ``q`` is 0 (insert a 0 at bit ``q``)."""
    return ((k >> q) << (q + 1)) | (k & low)


@nb.njit(cache=True, nogil=True, parallel=True)
def apply_1q(x: np.ndarray, u: np.ndarray, q: int) -> None:  # pragma: no cover - compiled
    """In place: ``x[s, r] <- u[s] (on qubit q) x[s, r]`` for ``x (S, R, N)``, ``u (S, 2, 2)``
    (``u`` may be a stride-0 broadcast of one matrix)."""
    rows, reps, dim = x.shape
    b = 1 << q
    tiles, size = _tiling(dim >> 1)
    for task in nb.prange(rows * reps * tiles):
        sr = task // tiles
        t = task - sr * tiles
        s = sr // reps
        r = sr - s * reps
        u00, u01, u10, u11 = u[s, 0, 0], u[s, 0, 1], u[s, 1, 0], u[s, 1, 1]
        for k in range(t * size, (t + 1) * size):
            i0 = _pair(k, q, b - 1)
            a0 = x[s, r, i0]
            a1 = x[s, r, i0 + b]
            x[s, r, i0] = u00 * a0 + u01 * a1
            x[s, r, i0 + b] = u10 * a0 + u11 * a1


@nb.njit(cache=True, fastmath=True, inline="always")
def _cross_tile_many(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int, s: int,
                     t: int, size: int, partial: np.ndarray, undo: bool
                     ) -> None:  # pragma: no cover - compiled
    """Tile ``t`` of row ``s`` for several co-states (one accumulator row each)."""
    obs = lam.shape[1]
    b = 1 << q
    u00, u01, u10, u11 = uinv[s, 0, 0], uinv[s, 0, 1], uinv[s, 1, 0], uinv[s, 1, 1]
    acc = np.zeros((obs, 4), dtype=partial.dtype)
    # one pass: each pair of ψ is read once for every co-state, and undone once
    for k in range(t * size, (t + 1) * size):
        i0 = _pair(k, q, b - 1)
        i1 = i0 + b
        a0 = psi[s, i0]
        a1 = psi[s, i1]
        p0 = np.conj(a0)
        p1 = np.conj(a1)
        for o in range(obs):
            l0 = lam[s, o, i0]
            l1 = lam[s, o, i1]
            acc[o, 0] += p0 * l0
            acc[o, 1] += p0 * l1
            acc[o, 2] += p1 * l0
            acc[o, 3] += p1 * l1
            if undo:
                lam[s, o, i0] = u00 * l0 + u01 * l1
                lam[s, o, i1] = u10 * l0 + u11 * l1
        if undo:
            psi[s, i0] = u00 * a0 + u01 * a1
            psi[s, i1] = u10 * a0 + u11 * a1
    for o in range(obs):
        for c in range(4):
            partial[s, t, o, c] = acc[o, c]


@nb.njit(cache=True, fastmath=True, inline="always")
def _cross_tile_one(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int, s: int,
                    t: int, size: int, partial: np.ndarray, undo: bool
                    ) -> None:  # pragma: no cover - compiled
    """:func:`_cross_tile_many` for one co-state (the VJP): scalar accumulators, which the
    compiler keeps in registers."""
    b = 1 << q
    u00, u01, u10, u11 = uinv[s, 0, 0], uinv[s, 0, 1], uinv[s, 1, 0], uinv[s, 1, 1]
    c00 = c01 = c10 = c11 = partial.dtype.type(0)
    for k in range(t * size, (t + 1) * size):
        i0 = _pair(k, q, b - 1)
        i1 = i0 + b
        a0 = psi[s, i0]
        a1 = psi[s, i1]
        l0 = lam[s, 0, i0]
        l1 = lam[s, 0, i1]
        p0 = np.conj(a0)
        p1 = np.conj(a1)
        c00 += p0 * l0
        c01 += p0 * l1
        c10 += p1 * l0
        c11 += p1 * l1
        if undo:
            lam[s, 0, i0] = u00 * l0 + u01 * l1
            lam[s, 0, i1] = u10 * l0 + u11 * l1
            psi[s, i0] = u00 * a0 + u01 * a1
            psi[s, i1] = u10 * a0 + u11 * a1
    partial[s, t, 0, 0] = c00
    partial[s, t, 0, 1] = c01
    partial[s, t, 0, 2] = c10
    partial[s, t, 0, 3] = c11


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _cross_and_undo(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int,
                    partial: np.ndarray, undo: bool) -> None:  # pragma: no cover - compiled
    """Every (row, tile) task of :func:`cross_and_undo_1q`; the tile body is chosen per task,
    outside its loop over amplitude pairs."""
    rows, obs, dim = lam.shape
    tiles, size = _tiling(dim >> 1)
    for task in nb.prange(rows * tiles):
        s = task // tiles
        t = task - s * tiles
        if obs == 1:
            _cross_tile_one(psi, lam, uinv, q, s, t, size, partial, undo)
        else:
            _cross_tile_many(psi, lam, uinv, q, s, t, size, partial, undo)


def cross_and_undo_1q(psi: np.ndarray, lam: np.ndarray, uinv: np.ndarray, q: int,
                      undo: bool) -> np.ndarray:
    """``cross[s, o, i, j] = Σ_rest conj(ψ[s, i·rest]) λ[s, o, j·rest]`` at the current cut
    ``(S, O, 2, 2)``, then (if ``undo``) ``uinv[s]`` on qubit ``q`` applied to ``ψ (S, N)`` and
    ``λ (S, O, N)`` in place."""
    rows, obs, dim = lam.shape
    tiles = _tiling(dim >> 1)[0]
    # complex128 sums in both precisions: 2**24 complex64 terms would lose ~1e-4 relative
    partial = np.empty((rows, tiles, obs, 4), dtype=np.complex128)
    _cross_and_undo(psi, lam, uinv, q, partial, undo)
    return partial.sum(axis=1).reshape(rows, obs, 2, 2)


@nb.njit(cache=True, nogil=True, parallel=True)
def multiply_rows(x: np.ndarray, d: np.ndarray, conjugate: bool) -> None:  # pragma: no cover
    """In place: ``x[s, r, :] *= d[s or 0, 0, :]`` (or its conjugate) for ``x (S, R, N)`` and a
    diagonal ``d (S or 1, 1, N)``."""
    rows, reps, dim = x.shape
    shared = d.shape[0] == 1
    tiles, pairs = _tiling(dim >> 1)
    size = 2 * pairs  # amplitudes per tile
    for task in nb.prange(rows * reps * tiles):
        sr = task // tiles
        t = task - sr * tiles
        s = sr // reps
        r = sr - s * reps
        ds = 0 if shared else s
        if conjugate:
            for k in range(t * size, (t + 1) * size):
                x[s, r, k] *= np.conj(d[ds, 0, k])
        else:
            for k in range(t * size, (t + 1) * size):
                x[s, r, k] *= d[ds, 0, k]


@nb.njit(cache=True, nogil=True, parallel=True)
def _diag_cross_tiles(psi: np.ndarray, lam: np.ndarray, gens: np.ndarray,
                      partial: np.ndarray) -> None:  # pragma: no cover - compiled
    rows, obs, dim = lam.shape
    angles = gens.shape[1]
    tiles, pairs = _tiling(dim >> 1)
    size = 2 * pairs  # amplitudes per tile
    for task in nb.prange(rows * tiles):
        s = task // tiles
        t = task - s * tiles
        for o in range(obs):
            acc = np.zeros(angles)
            for k in range(t * size, (t + 1) * size):
                c = lam[s, o, k]
                p = psi[s, k]
                im = c.real * p.imag - c.imag * p.real  # Im(conj(λ) ψ)
                for a in range(angles):
                    acc[a] += im * gens[k, a]
            for a in range(angles):
                partial[s, t, o, a] = acc[a]


def diag_gradients(psi: np.ndarray, lam: np.ndarray, gens: np.ndarray) -> np.ndarray:
    """``2 Σ_k Im(conj(λ[s, o, k]) ψ[s, k]) h[k, a]``: the angle derivatives ``(S, O, A)`` of a
    diagonal run ``exp(-i Σ_a θ_a diag(h[:, a]))`` at its output cut."""
    rows, obs, dim = lam.shape
    tiles = _tiling(dim >> 1)[0]
    partial = np.empty((rows, tiles, obs, gens.shape[1]))
    _diag_cross_tiles(psi, lam, gens, partial)
    return 2.0 * partial.sum(axis=1)
