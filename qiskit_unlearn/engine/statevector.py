"""Batched exact statevector simulation and adjoint Jacobians (NumPy + Numba, complex128).

States are arrays ``(S, R, N)``: ``S`` parameter rows, ``R`` = 1 for the state or the number
of observables for the adjoint co-states, ``N = 2**n`` amplitudes. One reverse sweep gives the
derivatives of every observable with respect to every gate angle for all rows at once:
at the cut after a gate ``exp(-iθH)``, ``d⟨O⟩/dθ = 2 Im⟨λ|H|ψ⟩`` with ``λ`` the co-state.

Rows are simulated in chunks that stay under a memory limit (:mod:`~.memory`): the circuit is
only compiled, and states only allocated, once the footprint of a chunk is known to fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from qiskit.circuit import QuantumCircuit

from qiskit_unlearn.engine import kernels
from qiskit_unlearn.engine.binding import DOUBLE, Bound, bind, block_groups
from qiskit_unlearn.engine.compiler import CompiledCircuit, materialize, plan_circuit
from qiskit_unlearn.engine.memory import (
    Footprint,
    adjoint_footprint,
    default_memory_limit,
    forward_footprint,
)
from qiskit_unlearn.engine.observables import PauliTable

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _generic_einsum(qubits: tuple[int, ...], n: int) -> tuple[str, str]:
    """Einsum strings to apply a k-qubit matrix and to form its reduced cross operator."""
    state = list(_LETTERS[2 : 2 + n])
    axes = [n - 1 - q for q in qubits]  # tensor axis of each qubit; axis 0 is the top qubit
    ins = [state[a] for a in axes]
    outs = [c.upper() for c in ins]
    new_state = state.copy()
    for a, c in zip(axes, outs, strict=False):
        new_state[a] = c
    # matrix index: the most significant local bit is the last qubit argument
    mat = "".join(reversed(outs)) + "".join(reversed(ins))
    apply = f"z{mat},zy{''.join(state)}->zy{''.join(new_state)}"
    # conj(C)[i, j] = Σ_rest conj(ψ[i, rest]) λ[j, rest]
    cross = (f"zx{''.join(state)},zy{''.join(new_state)}->zy"
             f"{''.join(reversed(ins))}{''.join(reversed(outs))}")
    return apply, cross


def _apply_generic(x: np.ndarray, u: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    s, r, dim = x.shape
    k = len(qubits)
    apply, _ = _generic_einsum(qubits, n)
    um = u.reshape(u.shape[0], *([2] * (2 * k))).astype(x.dtype, copy=False)
    um = np.broadcast_to(um, (s, *([2] * (2 * k))))
    # order="C": the result is the only new state (no contiguous copy of it afterwards)
    return np.einsum(apply, um, x.reshape(s, r, *([2] * n)), order="C").reshape(s, r, dim)


def _apply(b: Bound, x: np.ndarray, n: int, inverse: bool = False) -> np.ndarray:
    """Apply (or undo) a bound op; 1q blocks and diagonals work in place, and a gather makes
    one new state (undoing it scales ``x`` in place first, then scatters)."""
    if b.kind == "1q":
        m = b.inv if inverse else b.mat
        kernels.apply_1q(x, np.broadcast_to(m, (x.shape[0], 2, 2)), b.op.qubit)
        return x
    if b.kind == "diag":
        kernels.multiply_rows(x, b.mat, inverse)
        return x
    if b.kind == "mono":
        perm, phase = b.mat
        if inverse:  # (M^-1 y)[perm[k]] = conj(phase[k]) y[k]
            x *= np.conj(phase)
            out = np.empty_like(x)
            out[..., perm] = x
            return out
        out = x[..., perm]
        out *= phase
        return out
    return _apply_generic(x, b.inv if inverse else b.mat, b.op.qubits, n)


def _gradients(b: Bound, psi: np.ndarray, lam: np.ndarray, n: int, undo: bool
               ) -> tuple[np.ndarray | None, bool]:
    """Angle derivatives ``(S, O, k)`` at the op's output cut, and whether the op was undone
    too (single-qubit blocks fuse the undo into the same pass, in place)."""
    s, o, _ = lam.shape
    if not b.angles:
        return None, False
    if b.kind == "1q":
        uinv = np.broadcast_to(b.inv, (s, 2, 2))
        cross = kernels.cross_and_undo_1q(psi[:, 0, :], lam, uinv, b.op.qubit, undo)
        gens = np.broadcast_to(b.gens, (s, *b.gens.shape[1:]))
        # 2 Im Tr(H C) = -2 Im Tr(conj(H) conj(C)); gens and cross are both conjugated
        return -2.0 * np.einsum("skji,soij->sok", gens, cross).imag, True
    if b.kind == "diag":
        return kernels.diag_gradients(psi[:, 0, :], lam, b.gens), False
    _, cross_eq = _generic_einsum(b.op.qubits, n)
    d = 1 << len(b.op.qubits)
    cross = np.einsum(cross_eq, np.conj(psi).reshape(s, 1, *([2] * n)),
                      lam.reshape(s, o, *([2] * n))).reshape(s, o, d, d)
    return -2.0 * np.einsum("ji,soij->so", b.gens, cross).imag[..., None], False


#: ``precision`` names and the amplitude type they simulate with.
DTYPES = {"double": DOUBLE, "single": np.dtype(np.complex64)}


def state_dtype(precision: str) -> np.dtype:
    """The amplitude dtype of ``precision`` (``"double"`` or ``"single"``)."""
    try:
        return DTYPES[precision]
    except KeyError:
        raise ValueError(f"precision must be one of {sorted(DTYPES)}, got {precision!r}") from None


class StatevectorProgram:
    """A circuit planned once, compiled on first use, evaluated for many parameter rows.

    Every method takes ``dtype``: ``complex128`` (default) or ``complex64`` amplitudes; the
    angles, tables and results stay float64 either way.

    Args:
        circuit: The circuit; parameter rows follow ``circuit.parameters`` order. Planning it
            is cheap; the ``2**n`` tables are built on first use.

    Raises:
        CircuitNotSupportedError: If the circuit has an instruction the engine cannot simulate.
    """

    def __init__(self, circuit: QuantumCircuit):
        self.circuit = circuit
        self.plan = plan_circuit(circuit)
        self.groups = block_groups(self.plan)
        self.num_qubits = circuit.num_qubits
        self._compiled: CompiledCircuit | None = None
        # The last forward pass, kept because EstimatorQNN's backward pass re-evaluates exactly
        # the rows its forward pass just simulated.
        self._last: tuple[bytes, list, np.ndarray] | None = None

    @property
    def compiled(self) -> CompiledCircuit:
        """The compiled circuit; its ``2**n`` tables are built on first access."""
        if self._compiled is None:
            self._compiled = materialize(self.plan)
        return self._compiled

    @property
    def parameters(self) -> list:
        """The circuit parameters, in the order of a parameter row."""
        return self.plan.parameters

    def footprint(self, table: PauliTable | None, *, adjoint: bool = False, vjp: bool = False,
                  dtype: np.dtype = DTYPES["double"]) -> Footprint:
        """Bytes a batch needs for the expectations, the Jacobian or the vector–Jacobian product.

        Args:
            table: The observables; None for the final states only.
            adjoint: The adjoint Jacobian (one co-state per observable).
            vjp: The vector–Jacobian product (a single co-state).
            dtype: Amplitude type, ``complex128`` or ``complex64``.

        Returns:
            The footprint (fixed bytes plus bytes per row).
        """
        amplitude = np.dtype(dtype).itemsize
        if adjoint or vjp:
            return adjoint_footprint(self.plan, table, costates=1 if vjp else None,
                                     amplitude=amplitude)
        return forward_footprint(self.plan, table, amplitude=amplitude)

    def _values(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[None, :]
        if values.shape[-1] != self.plan.num_parameters:
            raise ValueError(
                f"got {values.shape[-1]} parameter values for a circuit with "
                f"{self.plan.num_parameters} parameters"
            )
        return values

    def _simulate(self, values: np.ndarray, dtype: np.dtype) -> tuple[list[Bound], np.ndarray]:
        angles, _ = self.compiled.angles.evaluate(values)
        bound = bind(self.compiled, angles, self.groups, dtype)
        psi = np.zeros((len(values), 1, 1 << self.num_qubits), dtype=dtype)
        psi[:, 0, 0] = 1.0
        for b in bound:
            psi = _apply(b, psi, self.num_qubits)
        return bound, psi

    def _bound_and_state(self, values: np.ndarray, dtype: np.dtype
                         ) -> tuple[list[Bound], np.ndarray]:
        key = values.tobytes() + repr((values.shape, np.dtype(dtype).str)).encode()
        if self._last is None or self._last[0] != key:
            self._last = None  # free the old batch before simulating the new one
            self._last = (key, *self._simulate(values, dtype))
        return self._last[1], self._last[2]

    def _chunks(self, rows: int, footprint: Footprint, memory_limit: int | None) -> list[slice]:
        """Row slices that each fit ``memory_limit``; a BackendError if one row does not.

        Only memory splits a batch: every kernel already spreads one row over all cores, and an
        unsplit batch reuses the states its forward pass kept for the backward pass."""
        limit = default_memory_limit() if memory_limit is None else memory_limit
        size = max(1, footprint.max_rows(limit))
        if size < rows:
            self._last = None  # chunked batches are not cached: do not hold on to an old one
        return [slice(start, min(rows, start + size)) for start in range(0, rows, size)]

    def states(self, values: np.ndarray, memory_limit: int | None = None,
               dtype: np.dtype = DTYPES["double"]) -> np.ndarray:
        """Final states for a batch of parameter rows.

        Args:
            values: Parameter rows, shape (S, P), in ``circuit.parameters`` order (or one row
                of shape (P,)).
            memory_limit: Bytes one chunk may use; None is :func:`default_memory_limit`.
            dtype: Amplitude type, ``complex128`` or ``complex64``.

        Returns:
            The states, shape (S, 2^n).

        Raises:
            ~qiskit_unlearn.errors.BackendError: If not even one row fits ``memory_limit``.
        """
        values = self._values(values)
        footprint = self.footprint(None, dtype=dtype)
        output = len(values) * (np.dtype(dtype).itemsize << self.num_qubits)  # states returned
        chunks = self._chunks(len(values), replace(footprint, fixed=footprint.fixed + output),
                              memory_limit)
        if len(chunks) == 1:
            return self._bound_and_state(values, dtype)[1][:, 0, :]
        return np.concatenate([self._simulate(values[sl], dtype)[1][:, 0, :] for sl in chunks])

    def expectations(self, values: np.ndarray, table: PauliTable,
                     memory_limit: int | None = None,
                     dtype: np.dtype = DTYPES["double"]) -> np.ndarray:
        """Exact ``⟨O_o⟩`` for every row, simulated chunk by chunk.

        Args:
            values: Parameter rows, shape (S, P) (or one row of shape (P,)).
            table: The O observables.
            memory_limit: Bytes one chunk may use; None is :func:`default_memory_limit`.
            dtype: Amplitude type, ``complex128`` or ``complex64``.

        Returns:
            The expectation values, shape (S, O).

        Raises:
            ~qiskit_unlearn.errors.BackendError: If not even one row fits ``memory_limit``.
        """
        values = self._values(values)
        chunks = self._chunks(len(values), self.footprint(table, dtype=dtype), memory_limit)
        if len(chunks) == 1:
            return table.expectations(self._bound_and_state(values, dtype)[1][:, 0, :])
        out = np.empty((len(values), table.num_observables))
        for sl in chunks:
            out[sl] = table.expectations(self._simulate(values[sl], dtype)[1][:, 0, :])
        return out

    def jacobian(self, values: np.ndarray, table: PauliTable, memory_limit: int | None = None,
                 weights: np.ndarray | None = None, dtype: np.dtype = DTYPES["double"]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Exact values ``(S, O)`` and Jacobian ``(S, O, P)`` by one adjoint sweep per chunk.

        Args:
            values: Parameter rows, shape (S, P) (or one row of shape (P,)).
            table: The O observables.
            memory_limit: Bytes one chunk may use; None is :func:`default_memory_limit`.
            weights: Shape (S, O): the sweep carries the single co-state ``Σₒ wₒ Oₒ|ψ⟩``
                instead of one per observable and returns the vector–Jacobian product. None:
                the full Jacobian.
            dtype: Amplitude type, ``complex128`` or ``complex64``.

        Returns:
            The expectation values, shape (S, O), and the Jacobian, shape (S, O, P), or
            (S, 1, P) with ``weights``.

        Raises:
            ~qiskit_unlearn.errors.BackendError: If not even one row fits ``memory_limit``.
        """
        values = self._values(values)
        n = self.num_qubits
        rows = len(values)
        vjp = weights is not None
        chunks = self._chunks(rows, self.footprint(table, adjoint=not vjp, vjp=vjp, dtype=dtype),
                              memory_limit)
        evs = np.empty((rows, table.num_observables))
        width = 1 if vjp else table.num_observables
        jac = np.empty((rows, width, self.plan.num_parameters))
        for sl in chunks:
            chunk = values[sl]
            _, angle_jac = self.compiled.angles.evaluate(chunk)
            if len(chunks) == 1:  # the sweep works in place: keep the cached forward state
                bound, psi = self._bound_and_state(chunk, dtype)
                psi = psi.copy()
            else:
                bound, psi = self._simulate(chunk, dtype)
            evs[sl] = table.expectations(psi[:, 0, :])
            lam = (table.apply_weighted(psi[:, 0, :], weights[sl])[:, None, :] if vjp
                   else table.apply(psi[:, 0, :]))
            grads = np.zeros((len(chunk), width, self.compiled.angles.num_angles))
            first = next((i for i, b in enumerate(bound) if b.angles), len(bound))
            for i in range(len(bound) - 1, first - 1, -1):  # nothing to undo before the first angle
                b = bound[i]
                g, undone = _gradients(b, psi, lam, n, undo=i > first)
                if g is not None:
                    grads[:, :, b.angles] += g
                if i > first and not undone:  # rebinding here frees each old state at once
                    psi = _apply(b, psi, n, inverse=True)
                    lam = _apply(b, lam, n, inverse=True)
            if angle_jac.ndim == 2:
                jac[sl] = grads @ angle_jac
            else:
                jac[sl] = np.einsum("soa,sap->sop", grads, angle_jac)
        return evs, jac
