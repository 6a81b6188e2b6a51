"""The memory a batch of the exact engine needs, and the limit it has to stay under.

Why: an ``n``-qubit state is ``16 * 2**n`` bytes, so a few qubits too many turn a batch into a
NumPy MemoryError (40 qubits: 16 TiB) or a visit from the OOM killer. The engine therefore
works out, before allocating, what a batch needs — ``fixed + rows * per_row`` bytes — and
either splits the rows into chunks that fit or, when not even one row fits, raises
:class:`~qiskit_unlearn.errors.BackendError` with the number and the ways out.

The counts are upper bounds of the engine's real peaks, mostly in units of one state
(``16 * 2**n`` bytes): a forward row holds its state, the phases of each parameterized
diagonal run and the largest temporary; an adjoint row adds a copy of the state and one
co-state per observable. ``fixed`` is the compiled tables, the observable tables and an
allowance for interpreter objects (non-affine angles compiled by SymPy can exceed it, by
kilobytes). The tests hold the counts against ``tracemalloc``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from numbers import Real
from typing import Any

from qiskit_unlearn.engine.compiler import Block1Q, CircuitPlan, DiagRun, Generic, Monomial
from qiskit_unlearn.engine.observables import PauliTable
from qiskit_unlearn.errors import BackendError

#: Environment variable that overrides the default limit (same syntax as ``memory_limit``).
ENV_VAR = "QUNLEARN_MEMORY_LIMIT"
#: Share of the available RAM a batch may use by default (the rest: Python, torch, the OS).
DEFAULT_FRACTION = 0.75
#: Default when the machine's memory cannot be read.
FALLBACK_LIMIT = 4 << 30
AMPLITUDE = 16  # bytes of one complex128 amplitude
#: Interpreter objects of a compiled circuit: a base, per op and per angle (its function).
OVERHEAD = (1 << 20, 4 << 10, 16 << 10)

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")


def format_bytes(num: float) -> str:
    """``num`` bytes in binary units, e.g. ``'8.0 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"):
        if num < 1024:
            return f"{num:.0f} B" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.3g} YiB"


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), if there is one."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        return None if limit == "max" else max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def physical_memory() -> int | None:
    """Total RAM of the machine, if it says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def raise_limit_hint(need: int) -> str | None:
    """How to raise the limit to ``need`` bytes, unless the machine could not hold it anyway."""
    physical = physical_memory()
    if physical is not None and need > physical:
        return None
    return (f"raise memory_limit (e.g. memory_limit=\"{-(-need >> 30)}GiB\") or {ENV_VAR} if the "
            "machine has that much free RAM")


def available_memory() -> int | None:
    """Bytes the process can still allocate: ``MemAvailable`` (or physical RAM), capped by a
    container's cgroup limit; ``None`` if the machine does not say."""
    found = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    found = physical_memory() if found is None else found
    if found is None:
        return None
    cgroup = _cgroup_available()
    return found if cgroup is None else min(found, cgroup)


def default_memory_limit() -> int:
    """``$QUNLEARN_MEMORY_LIMIT`` if set, else 75% of the available memory (else 4 GiB).

    Returns:
        The limit in bytes.

    Raises:
        ~qiskit_unlearn.errors.BackendError: If ``$QUNLEARN_MEMORY_LIMIT`` is not a valid size.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return parse_memory_limit(env, source=f"environment variable {ENV_VAR}")
    available = available_memory()
    return int(DEFAULT_FRACTION * available) if available else FALLBACK_LIMIT


def parse_memory_limit(value: Any, *, source: str = "option 'memory_limit'") -> int:
    """A limit in bytes from a number of bytes or a size string.

    Args:
        value: An int or float of bytes, a size string (``'512MiB'``, ``'8GiB'``, ``'2GB'``;
            units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), or None for
            :func:`default_memory_limit`.
        source: What the value came from, for the error message.

    Returns:
        The limit in bytes (at least 1).

    Raises:
        ~qiskit_unlearn.errors.BackendError: If the value is not a positive size.
    """
    if value is None:
        return default_memory_limit()
    limit = None
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
        limit = int(value)
    elif isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match and match.group(2) in _UNITS:
            limit = int(float(match.group(1)) * _UNITS[match.group(2)])
    if limit is None or limit < 1:
        raise BackendError(
            f"{source} must be a positive number of bytes or a size such as '512MiB', '8GiB' "
            f"or '2GB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got {value!r}"
        )
    return limit


@dataclass(frozen=True)
class Footprint:
    """Bytes one batch needs: ``fixed`` (tables) plus ``per_row`` for every parameter row."""

    task: str
    num_qubits: int
    num_observables: int
    fixed: int
    per_row: int

    def total(self, rows: int) -> int:
        return self.fixed + rows * self.per_row

    def max_rows(self, limit: int) -> int:
        """The most rows one chunk may hold under ``limit``; an error if not even one fits."""
        if self.total(1) > limit:
            raise BackendError(self.explain(limit))
        return (limit - self.fixed) // self.per_row

    def explain(self, limit: int) -> str:
        """What does not fit, by how much, and the ways out."""
        need, n = self.total(1), self.num_qubits
        state = AMPLITUDE << n
        fixes = ["use fewer qubits"]
        if self.num_observables > 1 and "adjoint" in self.task:
            fixes.append("fewer observables (the adjoint gradient keeps one 2^n co-state each)")
        fixes.append(raise_limit_hint(need))
        if state <= limit:
            fixes.append("run it on a shot-based backend such as backend=\"aer\" with shots=4096"
                         f", which holds one {format_bytes(state)} state per circuit")
        else:
            fixes.append(f"run it on hardware (backend=\"ibm\"): one {n}-qubit state alone is "
                         f"{format_bytes(state)}")
        return (f"{self.task} of this {n}-qubit circuit with {self.num_observables} "
                f"observable(s) needs {need} bytes ({format_bytes(need)}) for a single parameter "
                f"row (2^{n} amplitudes per state, tables included), over the memory limit of "
                f"{limit} bytes ({format_bytes(limit)}); {', '.join(filter(None, fixes[:-1]))}"
                f", or {fixes[-1]}")


@dataclass(frozen=True)
class _PlanCost:
    tables: int  # bytes of the compiled tables (with the peak of building them), overhead
    diagonals: int  # parameterized diagonal runs: one (rows, 2**n) phase buffer each
    gathers: bool  # permutations or generic gates: each application makes a new state
    small: int  # per-row bytes of angles, bound small matrices and Jacobian rows


def _plan_cost(plan: CircuitPlan) -> _PlanCost:
    dim = 1 << plan.num_qubits
    tables = small = diagonals = 0
    monomials = gathers = False
    for op in plan.ops:
        if isinstance(op, DiagRun):
            tables += (AMPLITUDE * dim if op.fixed else 0) + 8 * dim * len(op.angles)
            diagonals += bool(op.angles)
        elif isinstance(op, Monomial):
            tables += 24 * dim
            monomials = gathers = True
        elif isinstance(op, Block1Q):
            small += 64 * (2 + len(op.items))  # bound 2x2 matrix, inverse, generators
        elif isinstance(op, Generic):
            small += 2 * AMPLITUDE * (op.matrix if op.gen is None else op.gen.h).size
            gathers = True
    if monomials:  # composing gathers while compiling; their conjugate phase while undoing
        tables += 32 * dim
    angles, params = len(plan.exprs), plan.num_parameters
    tables += OVERHEAD[0] + OVERHEAD[1] * len(plan.ops) + OVERHEAD[2] * angles
    return _PlanCost(tables, diagonals, gathers,
                     small + 8 * (angles + params) + 8 * angles * params)


def _readout_states(table: PauliTable | None) -> int:
    """State-sized temporaries of expectation values: |ψ|² for Z-only observables, else
    the conjugate, the gathered state and their product."""
    if table is None:
        return 0
    return 1 if table.diagonal_only else 3


def _float_work(amplitude: int) -> int:
    """Extra state-sized units for float64 work arrays (readout probabilities, weighted
    observables, diagonal phase angles): half a double-precision state, a whole single one."""
    return 0 if amplitude >= AMPLITUDE else 1


def forward_footprint(plan: CircuitPlan, table: PauliTable | None, *,
                      amplitude: int = AMPLITUDE) -> Footprint:
    """Bytes of a forward pass of ``plan``: per row the state, the phases of each
    parameterized diagonal run, and the largest temporary (a gather or the readout).
    ``amplitude``: bytes per amplitude (16 double precision, 8 single)."""
    cost = _plan_cost(plan)
    o = 0 if table is None else table.num_observables
    states = (cost.diagonals + 1 + max(int(cost.gathers), _readout_states(table))
              + _float_work(amplitude))
    return Footprint("a statevector forward pass", plan.num_qubits, o,
                     cost.tables + (0 if table is None else table.nbytes),
                     (amplitude << plan.num_qubits) * states + cost.small + 8 * o)


def adjoint_footprint(plan: CircuitPlan, table: PauliTable, *, costates: int | None = None,
                      amplitude: int = AMPLITUDE) -> Footprint:
    """Bytes of an adjoint Jacobian: per row the forward state and its copy, the phases, one
    co-state per observable (``costates=1`` for a vector–Jacobian product), and the largest
    temporary (readout, or undoing a gather on all co-states at once)."""
    cost = _plan_cost(plan)
    o, a, p = table.num_observables, len(plan.exprs), plan.num_parameters
    c = o if costates is None else costates
    temporaries = max(_readout_states(table), 2, c if cost.gathers else 0)
    states = cost.diagonals + 2 + c + temporaries + _float_work(amplitude)
    task = "a vector-Jacobian product" if costates == 1 else "an adjoint gradient"
    return Footprint(task, plan.num_qubits, o, cost.tables + table.nbytes,
                     (amplitude << plan.num_qubits) * states + cost.small
                     + 8 * o * (a + 2 * p + 9))
