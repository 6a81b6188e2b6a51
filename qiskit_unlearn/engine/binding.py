"""Bind a compiled circuit to a batch of gate angles: the matrices each op applies.

Why separate from simulating: binding is the only step whose arrays depend on the angles, and
it is done once per batch (forward and adjoint sweeps share it). Single-qubit blocks with the
same gate sequence are bound together, vectorized over blocks; an op whose angles are equal
on every row is bound once and broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qiskit_unlearn.engine.compiler import (
    Block1Q,
    CircuitPlan,
    CompiledCircuit,
    DiagRun,
    Generic,
    Monomial,
)


def _rows_vary(columns: np.ndarray) -> bool:
    return bool(columns.size) and not bool(np.all(columns == columns[:1]))


@dataclass
class Bound:
    """A compiled op with its matrices evaluated for one batch of angles."""

    op: Any
    kind: str
    mat: Any = None
    inv: Any = None  # 1q and generic only: diagonals and gathers are undone from ``mat``
    gens: np.ndarray | None = None  # conjugated generators (1q, generic) or h-diagonals (diag)
    angles: list[int] | None = None


def _block_signature(op: Block1Q) -> tuple:
    return tuple(("fixed", item[1].tobytes()) if item[0] == "fixed" else ("param", item[1].name)
                 for item in op.items)


def block_groups(compiled: CompiledCircuit | CircuitPlan) -> list[list[int]]:
    """Indices of single-qubit blocks with the same gate sequence, bound together."""
    groups: dict[tuple, list[int]] = {}
    for i, op in enumerate(compiled.ops):
        if isinstance(op, Block1Q):
            groups.setdefault(_block_signature(op), []).append(i)
    return list(groups.values())


def _bind_blocks(ops: list[Block1Q], angles: np.ndarray) -> list[Bound]:
    """Bind blocks sharing one gate sequence, vectorized over blocks: ``(S, blocks, 2, 2)``."""
    template = ops[0].items
    mats = []
    for pos, (kind, *rest) in enumerate(template):
        if kind == "fixed":
            mats.append(rest[0][None, None])
        else:
            cols = angles[:, [op.items[pos][2] for op in ops]]
            mats.append(rest[0].matrices(cols))
    unitary = mats[0]
    for m in mats[1:]:
        unitary = m @ unitary
    # generators transported to the block's end: S_k H_k S_k^† with S_k = G_m ... G_{k+1}
    gens, positions = [], []
    suffix = None
    for pos in range(len(template) - 1, -1, -1):
        kind, *rest = template[pos]
        if kind == "param":
            h = rest[0].h
            gens.append(h if suffix is None else
                        suffix @ h @ np.conj(np.swapaxes(suffix, -1, -2)))
            positions.append(pos)
        suffix = mats[pos] if suffix is None else suffix @ mats[pos]
    gens, positions = gens[::-1], positions[::-1]
    shape = (angles.shape[0], len(ops), 2, 2)
    unitary = np.broadcast_to(unitary, shape)
    gens = [np.broadcast_to(g, shape) for g in gens]
    bound = []
    for j, op in enumerate(ops):
        idx = [op.items[pos][2] for pos in positions]
        rows = slice(None) if _rows_vary(angles[:, idx]) else slice(0, 1)
        u = np.ascontiguousarray(unitary[rows, j])
        g = np.conj(np.stack([gm[rows, j] for gm in gens], axis=1)) if gens else None
        bound.append(Bound(op, "1q", u, np.ascontiguousarray(np.conj(np.swapaxes(u, -1, -2))),
                            g, idx))
    return bound


#: Default amplitude type (double precision).
DOUBLE = np.dtype(np.complex128)


def _as(x: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=dtype)


def _phases(angle: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``exp(-i·angle)`` written straight into ``dtype`` (no complex128 temporary in single
    precision)."""
    phase = np.empty(angle.shape, dtype)
    np.cos(angle, out=phase.real, casting="same_kind")
    np.sin(angle, out=phase.imag, casting="same_kind")
    np.negative(phase.imag, out=phase.imag)
    return phase


def bind(compiled: CompiledCircuit, angles: np.ndarray, groups: list[list[int]],
         dtype: np.dtype = DOUBLE) -> list[Bound]:
    """Every op of ``compiled`` bound to ``angles (S, A)``; ``groups`` from :func:`block_groups`.

    Constant tables are shared, not copied: a parameterized diagonal run costs one
    ``(rows, 2**n)`` phase buffer, everything else is small. Matrices and phases are in the
    state's ``dtype``; generators stay float64/complex128 (they only meet reduced operators).
    """
    bound: list[Bound | None] = [None] * len(compiled.ops)
    for group in groups:
        blocks = _bind_blocks([compiled.ops[i] for i in group], angles)
        for i, b in zip(group, blocks, strict=True):
            b.mat, b.inv = _as(b.mat, dtype), _as(b.inv, dtype)
            bound[i] = b
    for i, op in enumerate(compiled.ops):
        if isinstance(op, Block1Q):
            continue
        if isinstance(op, DiagRun):
            # one (rows, N) phase buffer per run; the inverse is conjugated when undoing
            if op.angles:
                cols = angles[:, op.angles]
                if not _rows_vary(cols):
                    cols = cols[:1]
                phase = _phases(cols @ op.hdiag, dtype)
                if op.fixed_phase is not None:
                    phase *= op.fixed_phase
            else:
                phase = _as(op.fixed_phase[None, :], dtype)
            h = op.hdiag.T if op.angles else None
            bound[i] = Bound(op, "diag", phase[:, None, :], None, h, op.angles)
        elif isinstance(op, Monomial):
            bound[i] = Bound(op, "mono", (op.perm, op.phase))
        else:
            assert isinstance(op, Generic)
            if op.gen is None:
                m, gens, ang = op.matrix[None], None, None
            else:
                cols = angles[:, op.angle]
                rows = angles.shape[0] if _rows_vary(cols) else 1
                m = op.gen.matrices(cols[:rows])
                gens, ang = np.conj(op.gen.h), [op.angle]
            bound[i] = Bound(op, "generic", _as(m, dtype),
                             _as(np.conj(np.swapaxes(m, -1, -2)), dtype), gens, ang)
    return bound
