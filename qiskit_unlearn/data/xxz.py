"""Quantum data: ground states of the periodic 1-D XXZ chain, labelled by phase, cached on disk.

H(Δ) = Σ_i (X_i X_{i+1} + Y_i Y_{i+1} + Δ Z_i Z_{i+1}) with periodic boundary, n even. With this
sign the phases are ferromagnetic (Δ < -1), critical / XY (-1 < Δ ≤ 1; Δ = 1 is the gapless
Heisenberg antiferromagnet) and antiferromagnetic / Néel (Δ > 1). Boundary points: Δ = -1 (the
ferromagnetic multiplet) counts as ferromagnetic.

Choosing one ground state deterministically: H conserves the magnetization, and within each
magnetization sector its ground state is unique (after the Marshall sign rotation, a π rotation
about z of every odd site, the off-diagonal elements are ≤ 0 and each sector is connected, so
Perron-Frobenius applies; this needs n even). We therefore diagonalize sector by sector (SciPy's
``eigsh`` on slices of ``SparsePauliOp.to_matrix(sparse=True)``; dense ``eigh`` for tiny sectors)
and fix each sector state's sign so its Marshall-rotated amplitudes are positive. Degeneracy only
occurs between sectors: in the ferromagnetic phase all-up and all-down tie, and at Δ = -1 all
n + 1 sectors tie. The state returned is then the equal-weight superposition of the tied sector
states, e.g. the spin-flip-symmetric cat state (|0…0⟩ ± |1…1⟩)/√2 in the ferromagnetic phase
(independent of Δ, as the physics says). No symmetry-breaking field, no random start vectors:
the same grid always gives the same bits.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import eigsh

from qiskit_unlearn.data.idx import DataError, check_int
from qiskit_unlearn.storage import digest, write_bytes_atomic

#: Bump when the states or labels change so stale caches are not reused.
XXZ_VERSION = 1
#: Phase labellings: name -> class names. ``three``: ferromagnetic (Δ ≤ -1), critical and
#: antiferromagnetic (Δ > 1); ``binary``: not Néel (Δ ≤ 1) and antiferromagnetic (Δ > 1).
PHASES = {"three": ("ferromagnetic", "critical", "antiferromagnetic"),
          "binary": ("not Néel (Δ ≤ 1)", "antiferromagnetic (Δ > 1)")}
_DENSE_MAX = 64  # sectors up to this size use dense eigh; larger ones use eigsh


def _check_spins(num_spins: int) -> int:
    if isinstance(num_spins, bool) or not isinstance(num_spins, (int, np.integer)) \
            or num_spins < 4 or num_spins % 2:
        raise DataError(f"xxz: num_spins must be an even integer >= 4 (a periodic chain with a "
                        f"Néel state), got {num_spins!r}")
    return int(num_spins)


def _bond_terms(num_spins: int, pauli: str) -> list[tuple[str, list[int], float]]:
    return [(pauli * 2, [i, (i + 1) % num_spins], 1.0) for i in range(num_spins)]


def xxz_hamiltonian(num_spins: int, delta: float) -> SparsePauliOp:
    """H(Δ) as a ``SparsePauliOp`` (qubit i = spin i; periodic bond n-1 → 0).

    Args:
        num_spins: Chain length n, an even integer >= 4.
        delta: The anisotropy Δ of the ZZ coupling.

    Returns:
        The Hamiltonian on n qubits.

    Raises:
        DataError: If ``num_spins`` is not an even integer >= 4.
    """
    n = _check_spins(num_spins)
    terms = _bond_terms(n, "X") + _bond_terms(n, "Y") \
        + [(p, q, float(delta)) for p, q, _ in _bond_terms(n, "Z")]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n).simplify()


def phase_labels(deltas: np.ndarray, phases: str = "three") -> np.ndarray:
    """Phase label of each Δ.

    Args:
        deltas: Anisotropies Δ, any shape.
        phases: ``three`` (0 ferromagnetic Δ ≤ -1, 1 critical, 2 Néel Δ > 1) or ``binary``
            (0 Δ ≤ 1, 1 Δ > 1); see :data:`PHASES`.

    Returns:
        int64 labels, same shape as ``deltas``.

    Raises:
        DataError: If ``phases`` is unknown.
    """
    if phases not in PHASES:
        raise DataError(f"xxz: phases must be one of {sorted(PHASES)}, got {phases!r}")
    deltas = np.asarray(deltas, dtype=float)
    if phases == "binary":
        return (deltas > 1).astype(np.int64)
    return np.where(deltas <= -1, 0, np.where(deltas <= 1, 1, 2)).astype(np.int64)


class _Sectors:
    """H_xy and diag(H_zz) restricted to each magnetization sector, built once per n."""

    def __init__(self, num_spins: int) -> None:
        n = num_spins
        xy = SparsePauliOp.from_sparse_list(_bond_terms(n, "X") + _bond_terms(n, "Y"), n)
        zz = SparsePauliOp.from_sparse_list(_bond_terms(n, "Z"), n)
        h_xy = sp.csr_matrix(xy.to_matrix(sparse=True).real)
        zz_diag = zz.to_matrix(sparse=True).diagonal().real
        basis = np.arange(2**n)
        ones = np.array([int(b).bit_count() for b in basis])
        odd_mask = sum(1 << q for q in range(1, n, 2))
        marshall = np.array([1.0 - 2.0 * (int(b & odd_mask).bit_count() % 2) for b in basis])
        self.dim = 2**n
        self.sectors = []
        for k in range(n + 1):
            idx = np.flatnonzero(ones == k)
            self.sectors.append((idx, h_xy[idx][:, idx], zz_diag[idx], marshall[idx]))

    def ground_state(self, delta: float) -> tuple[np.ndarray, float]:
        found = [(*_lowest(h + sp.diags(delta * zz), sign), idx)
                 for idx, h, zz, sign in self.sectors]
        energy = min(e for e, _, _ in found)
        tol = 1e-8 * max(1.0, abs(energy))
        state = np.zeros(self.dim)
        for e, vec, idx in found:
            if e - energy <= tol:
                state[idx] = vec
        return state / np.linalg.norm(state), energy


def _lowest(h: sp.spmatrix, marshall: np.ndarray) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of one sector, signed so the Marshall-rotated amplitudes are positive."""
    if h.shape[0] <= max(_DENSE_MAX, 2):
        values, vectors = np.linalg.eigh(h.toarray())
        value, vec = values[0], vectors[:, 0]
    else:
        # The Perron-Frobenius ground state has positive overlap with any Marshall-signed
        # positive vector. The plain Marshall vector can itself be an eigenvector (e.g. the
        # one-magnon sector, a plane wave), which stalls ARPACK, so the weights are tilted.
        v0 = marshall * np.linspace(1.0, 2.0, h.shape[0])
        values, vectors = eigsh(sp.csr_matrix(h), k=1, which="SA", v0=v0, tol=1e-12)
        value, vec = values[0], vectors[:, 0]
    if vec @ marshall < 0:
        vec = -vec
    return float(value), vec


def xxz_ground_states(num_spins: int = 8, deltas: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Real ground-state vectors and their energies, computed without caching.

    Args:
        num_spins: Chain length n, an even integer >= 4.
        deltas: Anisotropies Δ; None means 200 points evenly spaced in [-2, 2].

    Returns:
        States of shape (len(deltas), 2^n) (unit norm, deterministic sign) and energies of
        shape (len(deltas),).

    Raises:
        DataError: If ``num_spins`` is not an even integer >= 4.
    """
    n = _check_spins(num_spins)
    deltas = np.linspace(-2.0, 2.0, 200) if deltas is None else np.asarray(deltas, float)
    sectors = _Sectors(n)
    pairs = [sectors.ground_state(float(d)) for d in deltas]
    states = np.array([s for s, _ in pairs]).reshape(len(deltas), 2**n)
    return states, np.array([e for _, e in pairs])


def load_xxz(num_spins: int = 8, num_samples: int = 200,
             delta_range: tuple[float, float] = (-2.0, 2.0), phases: str = "three",
             cache_dir: str | os.PathLike[str] | None = None, cache: bool = True) -> dict:
    """Ground states on the grid ``Δ = linspace(*delta_range, num_samples)``, with labels.

    ``cache_dir`` holds one ``.npz`` per (n, grid, version); a cache that cannot be written only
    warns, so read-only homes still work.

    Args:
        num_spins: Chain length n, an even integer >= 4.
        num_samples: Number of grid points (at least 1).
        delta_range: (low, high) of the Δ grid, low < high.
        phases: Labelling, ``three`` or ``binary`` (see :func:`phase_labels`).
        cache_dir: Folder of the ``.npz`` cache; None computes without a cache file
            (:func:`load_dataset` passes the user cache's ``xxz/`` folder by default).
        cache: Read and write the cache; False always recomputes.

    Returns:
        A dict with ``states`` (num_samples, 2^n), ``labels``, ``deltas``, ``energies``,
        ``class_names``, ``cache_file`` (the path, or None) and ``from_cache``.

    Raises:
        DataError: If an argument is invalid.
    """
    n = _check_spins(num_spins)
    num_samples = check_int(num_samples, "xxz: num_samples")
    lo, hi = (float(v) for v in delta_range)
    if not lo < hi:
        raise DataError(f"xxz: delta_range must be (low, high) with low < high, got "
                        f"{delta_range!r}")
    deltas = np.linspace(lo, hi, num_samples)
    labels = phase_labels(deltas, phases)
    key = digest({"n": n, "range": [lo, hi], "num": num_samples, "v": XXZ_VERSION})[:16]
    path = Path(cache_dir) / f"xxz-n{n}-{key}.npz" if cache_dir is not None else None
    states = energies = None
    if cache and path is not None and path.exists():
        states, energies = _read_cache(path, deltas)
    cached = states is not None
    if not cached:
        states, energies = xxz_ground_states(n, deltas)
        if cache and path is not None:
            _write_cache(path, key, deltas, states, energies)
    return {"states": states, "labels": labels, "deltas": deltas, "energies": energies,
            "class_names": PHASES[phases], "cache_file": path if path and path.exists() else None,
            "from_cache": cached}


def _read_cache(path: Path, deltas: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    try:
        with np.load(path) as f:
            if int(f["version"]) == XXZ_VERSION and np.array_equal(f["deltas"], deltas):
                return f["states"], f["energies"]
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"ignoring unreadable XXZ cache {path}: {exc}", stacklevel=3)
    return None, None


def _write_cache(path: Path, key: str, deltas: np.ndarray, states: np.ndarray,
                 energies: np.ndarray) -> None:
    """Written atomically so parallel runs never read a half-written cache."""
    buffer = io.BytesIO()
    np.savez(buffer, version=XXZ_VERSION, key=key, deltas=deltas, states=states,
             energies=energies)
    try:
        write_bytes_atomic(path, buffer.getvalue())
    except OSError as exc:
        warnings.warn(f"could not write the XXZ cache {path}: {exc}", stacklevel=3)
