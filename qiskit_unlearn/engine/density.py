"""Batched exact density-matrix simulation with a reverse-mode (adjoint) gradient.

The state of every parameter row is its ``4ⁿ`` **real** Pauli coefficients
``r_P = Tr(P ρ)``, an array ``(S, 1, 4ⁿ)``: in this (Pauli-transfer) basis every channel is a
real matrix, so a block costs a quarter of the arithmetic and half the memory traffic of the
complex ``vec(ρ)`` it is built from (:mod:`~qiskit_unlearn.engine.superop`,
:mod:`~qiskit_unlearn.engine.density_plan`). Because ``⟨O⟩ = Σ_P o_P r_P`` is *linear* in the
state, the reverse sweep is the Heisenberg picture: the co-state ``λ = (o_P)`` walks back
through the transposed blocks ``Mᵀ``, and at each block every angle derivative is
``Tr(Dₖ X)`` with ``X[b, a] = Σ r_in[b] λ_out[a]`` (one pass, :func:`cross_block`) and ``Dₖ``
the block's derivative with respect to that angle (a small local matrix). Channels need not be
invertible: the states entering each block are kept from the forward pass, or — when they do not
fit in memory — recomputed segment by segment from checkpoints. A backward pass therefore costs a
small constant times a forward pass, whatever the number of parameters; with the vector-Jacobian
product (one co-state ``Σₒ gₒ vec(Oₒ)`` per row) also whatever the number of observables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import QuantumCircuit

from qiskit_unlearn.engine.density_kernels import apply_block, block_layout, cross_block
from qiskit_unlearn.engine.density_plan import DensityPlan, plan_density
from qiskit_unlearn.engine.memory import AMPLITUDE, Footprint, default_memory_limit
from qiskit_unlearn.engine.pauli_basis import DensityObservables, to_pauli


@dataclass
class _Bound:
    """A block bound to a batch: its matrix ``(S|1, d, d)``, its adjoint, and the derivative
    ``Dₖ`` of the matrix with respect to each of its angles ``(S, k, d, d)``."""

    mat: np.ndarray
    adj: np.ndarray
    derivs: np.ndarray | None
    angles: list[int]
    offsets: np.ndarray
    bits: np.ndarray


class DensityFootprint(Footprint):
    def explain(self, limit: int) -> str:
        need, n = self.total(1), self.num_qubits
        from qiskit_unlearn.engine.memory import format_bytes, raise_limit_hint

        hint = raise_limit_hint(need) or "use backend 'aer-noisy' with shots=..."
        return (f"{self.task} of this {n}-qubit density matrix needs {need} bytes "
                f"({format_bytes(need)}) for a single parameter row (4^{n} entries per state), "
                f"over the memory limit of {limit} bytes ({format_bytes(limit)}); use fewer "
                f"qubits, or {hint}")


class DensityProgram:
    """A circuit and its noise, planned once and evaluated for many parameter rows.

    Args:
        circuit: The circuit; parameter rows follow ``circuit.parameters`` order.
        noise_model: An Aer ``NoiseModel``; None simulates without noise.
        physical: The device qubit of every circuit qubit (errors are looked up on those);
            None: circuit qubit i is device qubit i.
        plan: A plan already made for a structurally equal circuit under the same noise;
            None plans ``circuit`` here.
    """

    def __init__(self, circuit: QuantumCircuit, noise_model=None,
                 physical: list[int] | None = None, plan: DensityPlan | None = None) -> None:
        self.circuit = circuit
        self.plan: DensityPlan = plan or plan_density(circuit, noise_model, physical)
        self.num_qubits = circuit.num_qubits
        self.layouts = [block_layout(b.qubits) for b in self.plan.blocks]
        self._eig: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._tape: tuple | None = None  # the last forward's kept states (see expectations)

    @property
    def parameters(self) -> list:
        """The circuit parameters, in the order of a parameter row."""
        return self.plan.parameters

    @property
    def state_bytes(self) -> int:
        """Bytes of one density-matrix state (4^n real float64 coefficients)."""
        return (AMPLITUDE // 2) << (2 * self.num_qubits)  # real float64 coefficients

    # --- binding ----------------------------------------------------------------------------

    def _exp(self, g: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``exp(-iθG)`` for every angle: ``(S, d, d)`` (``G`` Hermitian, diagonalized once)."""
        key = id(g)
        if key not in self._eig:
            self._eig[key] = np.linalg.eigh(g)
        w, v = self._eig[key]
        phases = np.exp(-1j * np.multiply.outer(theta, w))  # (S, d)
        return (v[None] * phases[:, None, :]) @ v.conj().T

    def bind(self, angles: np.ndarray, derivatives: bool) -> list[_Bound]:
        """Every block's matrix for angles ``(S, A)``, and its angle derivatives if asked.

        Args:
            angles: Gate angles per row, shape (S, A), as the plan's angle model evaluates them.
            derivatives: Also compute each block's derivative with respect to its angles (for
                a reverse sweep).

        Returns:
            One bound block per planned block, in circuit order.
        """
        bound = []
        for block, (offsets, bits) in zip(self.plan.blocks, self.layouts, strict=True):
            mats = [item[1][None] if item[0] == "fixed" else self._exp(item[1], angles[:, item[2]])
                    for item in block.items]
            prefixes, product = [], None
            for m in mats:
                product = m if product is None else m @ product
                prefixes.append(product)
            derivs = None
            params = [k for k, item in enumerate(block.items) if item[0] == "param"]
            if derivatives and params:
                suffixes = [None] * len(mats)  # suffix[k] = M_last ... M_{k+1}
                acc = None
                for k in range(len(mats) - 1, -1, -1):
                    suffixes[k] = acc
                    acc = mats[k] if acc is None else acc @ mats[k]
                derivs = np.stack([
                    np.broadcast_to(-1j * (block.items[k][1] @ prefixes[k]) if suffixes[k] is None
                                    else -1j * (suffixes[k] @ block.items[k][1] @ prefixes[k]),
                                    (angles.shape[0], *product.shape[1:])) for k in params], axis=1)
            k = len(block.qubits)
            mat = to_pauli(product, k)
            if derivs is not None:
                derivs = to_pauli(derivs, k)
            bound.append(_Bound(mat, np.ascontiguousarray(np.swapaxes(mat, -1, -2)),
                                derivs, block.angles, offsets, bits))
        return bound

    # --- passes -----------------------------------------------------------------------------

    def _initial(self, rows: int) -> np.ndarray:
        """``|0…0⟩⟨0…0|``: coefficient 1 on every string of I and Z, 0 elsewhere."""
        n = self.num_qubits
        state = np.zeros((rows, 1, 1 << (2 * n)))
        index = np.zeros(1, dtype=np.int64)
        for q in range(n):
            index = np.concatenate([index, index + (3 << (2 * q))])
        state[:, 0, index] = 1.0
        return state

    def _run(self, bound: list[_Bound], state: np.ndarray, start: int, stop: int,
             keep: set[int] | None = None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Apply blocks ``start..stop-1`` to ``state``; returns the final state and the states
        entering the blocks in ``keep`` (kept blocks write a new array instead of updating in
        place, so keeping a state costs no copy). ``state`` itself may be overwritten."""
        kept = {}
        for i in range(start, stop):
            b = bound[i]
            if keep is not None and i in keep:
                kept[i] = state
                state = apply_block(state, b.mat, b.offsets, b.bits, out=np.empty_like(state))
            else:
                apply_block(state, b.mat, b.offsets, b.bits)
        return state, kept

    def _values(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[None, :]
        if values.shape[-1] != self.plan.num_parameters:
            raise ValueError(f"got {values.shape[-1]} parameter values for a circuit with "
                             f"{self.plan.num_parameters} parameters")
        return values

    def footprint(self, costates: int, checkpoints: int) -> DensityFootprint:
        """Bytes per row: the state, ``costates`` co-states and ``checkpoints`` kept states.

        Args:
            costates: Co-states of a reverse sweep per row (0 for a forward pass).
            checkpoints: States kept per row for a reverse sweep.

        Returns:
            The footprint (fixed bytes plus bytes per row).
        """
        states = 2 + costates + checkpoints
        return DensityFootprint("density-matrix simulation" if not costates else
                                "the reverse sweep", self.num_qubits, 0, 1 << 20,
                                states * self.state_bytes)

    def _segment(self, rows: int, limit: int, costates: int) -> tuple[int, int]:
        """(rows per chunk, checkpoint segment length) for a reverse sweep under ``limit``:
        keep every block's input state if that fits, else checkpoint every ``√L`` blocks
        (one more forward pass, ``2√L`` states instead of ``L``)."""
        blocks = max(1, len(self.plan.blocks))
        segment = max(1, math.isqrt(blocks - 1) + 1)
        options = [(blocks, blocks), (segment, -(-blocks // segment) + segment)]
        for length, kept in options:
            fits = self.footprint(costates, kept)
            if fits.total(1) <= limit:
                return max(1, min(rows, fits.max_rows(limit))), length
        self.footprint(costates, options[-1][1]).max_rows(limit)  # raises, with the number
        return 1, 1  # pragma: no cover

    def expectations(self, values: np.ndarray, obs: DensityObservables,
                     memory_limit: int | None = None, keep: bool = False) -> np.ndarray:
        """``⟨Oₒ⟩`` for every row: ``(S, O)``, chunked under the memory limit.

        Args:
            values: Parameter rows, shape (S, P) (or one row of shape (P,)).
            obs: The O observables.
            memory_limit: Bytes one chunk may use; None is :func:`default_memory_limit`.
            keep: A reverse sweep of the same rows follows (a torch backward pass), so keep the
                states entering every block for it — when they fit, which saves it a forward
                pass.

        Returns:
            The expectation values, shape (S, O).

        Raises:
            ~qiskit_unlearn.errors.BackendError: If not even one row fits ``memory_limit``.
        """
        values = self._values(values)
        limit = default_memory_limit() if memory_limit is None else memory_limit
        self._tape = None
        if keep and self._segment(len(values), limit, 1) == (len(values), len(self.plan.blocks)):
            angles, _ = self.plan.angles.evaluate(values)
            bound = self.bind(angles, True)
            state, states = self._run(bound, self._initial(len(values)), 0, len(bound),
                                      keep=set(range(len(bound))))
            evs = obs.expectations(state)
            self._tape = (values.tobytes() + repr(values.shape).encode(), bound, states, evs)
            return evs
        size = max(1, min(len(values), self.footprint(0, 0).max_rows(limit)))
        out = np.empty((len(values), obs.num_observables))
        for start in range(0, len(values), size):
            chunk = values[start:start + size]
            angles, _ = self.plan.angles.evaluate(chunk)
            state, _ = self._run(self.bind(angles, False), self._initial(len(chunk)), 0,
                                 len(self.plan.blocks))
            out[start:start + size] = obs.expectations(state)
        return out

    def reverse(self, values: np.ndarray, obs: DensityObservables, weights: np.ndarray | None,
                memory_limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(S, O)`` and gradients by one reverse sweep per chunk of rows.

        Args:
            values: Parameter rows, shape (S, P) (or one row of shape (P,)).
            obs: The O observables.
            weights: Shape (S, O): compute the vector-Jacobian product
                ``Σₒ weights[s, o] ∂⟨Oₒ⟩/∂θ`` (one co-state per row). None: the full Jacobian
                (one co-state per observable).
            memory_limit: Bytes one chunk may use; None is :func:`default_memory_limit`.

        Returns:
            The expectation values, shape (S, O), and the gradients: shape (S, P) with
            ``weights``, else (S, O, P).

        Raises:
            ~qiskit_unlearn.errors.BackendError: If not even one row fits ``memory_limit``.
        """
        values = self._values(values)
        limit = default_memory_limit() if memory_limit is None else memory_limit
        reps = 1 if weights is not None else obs.num_observables
        tape, self._tape = self._tape, None
        if tape is not None and tape[0] == values.tobytes() + repr(values.shape).encode() and \
                tape[3].shape[1] == obs.num_observables and weights is not None:
            w = np.asarray(weights, dtype=float)[:, None, :]
            evs, grads = self._reverse_chunk(values, obs, w, len(tape[1]), tape[1:])
            return evs, grads[:, 0]
        size, segment = self._segment(len(values), limit, reps)
        grads = np.empty((len(values), reps, self.plan.num_parameters))
        evs = np.empty((len(values), obs.num_observables))
        for start in range(0, len(values), size):
            sl = slice(start, start + size)
            chunk = values[sl]
            w = weights[sl][:, None, :] if weights is not None else \
                np.broadcast_to(np.eye(obs.num_observables), (len(chunk), reps, reps))
            evs[sl], grads[sl] = self._reverse_chunk(chunk, obs, np.asarray(w), segment)
        return evs, (grads[:, 0] if weights is not None else grads)

    def _reverse_chunk(self, values: np.ndarray, obs: DensityObservables, weights: np.ndarray,
                       segment: int, taped: tuple | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """One chunk's sweep; ``taped`` = (bound blocks, states entering each, values) of a
        forward pass kept by :meth:`expectations` (``keep=True``) for exactly these rows."""
        angles, angle_jac = self.plan.angles.evaluate(values)
        if taped is not None:
            bound, checkpoints, evs = taped
        else:
            bound = self.bind(angles, True)
        blocks = len(bound)
        starts = list(range(0, blocks, segment))
        if taped is None:
            final, checkpoints = self._run(bound, self._initial(len(values)), 0, blocks,
                                           keep=set(range(blocks)) if segment >= blocks
                                           else set(starts))
            evs = obs.expectations(final)
            del final
        lam = obs.costates(weights)
        grads = np.zeros((len(values), lam.shape[1], self.plan.angles.num_angles))
        for seg_start in reversed(starts):
            seg_stop = min(blocks, seg_start + segment)
            if segment < blocks:  # recompute the states entering this segment's blocks
                state = checkpoints.pop(seg_start)
                _, states = self._run(bound, state, seg_start, seg_stop,
                                      keep=set(range(seg_start, seg_stop)))
            else:
                states = checkpoints
            for i in range(seg_stop - 1, seg_start - 1, -1):
                b = bound[i]
                rho_in = states.pop(i)
                if b.derivs is not None:
                    d = b.offsets.shape[0]
                    cross = np.empty((len(values), lam.shape[1], d, d))
                    cross_block(rho_in, lam, b.offsets, b.bits, cross)
                    grads[:, :, b.angles] += np.einsum("skab,srba->srk", b.derivs, cross)
                del rho_in
                if i > 0:  # the co-state entering the first block is not needed
                    apply_block(lam, b.adj, b.offsets, b.bits)
        if angle_jac.ndim == 2:
            return evs, grads @ angle_jac
        return evs, np.einsum("sra,sap->srp", grads, angle_jac)
