"""``DensityMatrixEstimator`` and ``DensityMatrixGradient``: exact noisy expectations and their
reverse-mode gradients as a Qiskit ``BaseEstimatorV2`` and a qiskit-machine-learning gradient.

Both hold one noise model (an Aer ``NoiseModel``, applied with Aer's rules) and, for circuits
cut from a larger device, the device qubit of every circuit qubit, so errors are looked up where
the device has them. Each distinct circuit is planned once (:class:`DensityProgram`); a PUB's
parameter rows are simulated together and PUBs with the same circuit and values share one
simulation, as in :class:`~qiskit_unlearn.engine.FastStatevectorEstimator` (both are
:class:`~qiskit_unlearn.engine.pubs.ExactEstimator`). The gradient runs
one reverse sweep per distinct circuit for every observable and row it is asked for, and
offers :meth:`DensityMatrixGradient.vjp` — one co-state per row — for training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator

from qiskit_unlearn.engine.density import DensityObservables, DensityProgram
from qiskit_unlearn.engine.density_plan import circuit_key, plan_density
from qiskit_unlearn.engine.jacobian_gradient import JacobianGradient
from qiskit_unlearn.engine.lru import LRU
from qiskit_unlearn.engine.memory import default_memory_limit, parse_memory_limit
from qiskit_unlearn.engine.observables import key_operator, observable_key
from qiskit_unlearn.engine.pubs import ExactEstimator

#: Default bytes one density-matrix batch may use (rows beyond it are simulated in chunks).
WORKING_SET = 2 << 30
#: Plans shared between structurally equal circuits under the same noise (see ``program``).
_PLANS = LRU(32)


class DensityMatrixEstimator(ExactEstimator):
    """Exact expectation values of circuits under ``noise_model`` (density matrices).

    ``precision > 0`` adds Gaussian noise of that width, like Qiskit's reference estimators.

    Args:
        noise_model: An Aer ``NoiseModel``, applied with Aer's rules; None simulates without
            noise.
        physical: The device qubit of every circuit qubit, when the circuit was cut from a
            larger device (errors are looked up on those); None: circuit qubit i is device
            qubit i.
        memory_limit: Bytes or e.g. ``"8GiB"`` one batch may use; by default the smaller of
            75 % of the available RAM and 2 GiB (``WORKING_SET``; rows are chunked to stay
            under it: a density-matrix batch is large, and a bounded working set is as fast).
        default_precision: Precision used when a PUB or ``run`` gives none; 0 is exact.
        seed: Seed of the Gaussian sampling noise (None: unseeded).
        noise_key: A description that fixes the noise (given by the backend); with it, plans
            are shared between structurally equal circuits (see
            :meth:`~qiskit_unlearn.engine.DensityMatrixEstimator.program`).

    Raises:
        ~qiskit_unlearn.errors.BackendError: If ``memory_limit`` is not a positive size.
    """

    def __init__(self, noise_model=None, *, physical: Sequence[int] | None = None,
                 memory_limit: int | str | None = None, default_precision: float = 0.0,
                 seed: int | None = None, noise_key: str | None = None) -> None:
        """Set up the estimator; the arguments are described in the class docstring."""
        self.noise_model = noise_model
        self.noise_key = noise_key
        self.physical = None if physical is None else [int(q) for q in physical]
        self.memory_limit = parse_memory_limit(memory_limit) if memory_limit is not None \
            else min(default_memory_limit(), WORKING_SET)
        super().__init__(default_precision, seed)
        self._programs = LRU(16)
        self._observables = LRU(64)
        #: Set right before a forward pass whose reverse sweep (a torch backward pass) follows:
        #: the forward then keeps its states for it (:meth:`DensityProgram.expectations`).
        self.expect_reverse = False

    def program(self, circuit: QuantumCircuit) -> DensityProgram:
        """The program of ``circuit`` under this noise (cached per circuit object).

        With a ``noise_key`` (a description of the noise that fixes it, given by the backend),
        the plan is also shared with every structurally equal circuit under the same noise:
        each copy of a model rebuilds its circuit, and planning is the costly part of that.

        Args:
            circuit: The circuit (kept alive by the cache).

        Returns:
            The planned program.
        """
        key = (id(circuit), len(circuit.data), circuit.num_parameters)

        def make() -> tuple[QuantumCircuit, DensityProgram]:
            plan = None
            if self.noise_key is not None:
                shared = (self.noise_key, circuit_key(circuit), tuple(self.physical or ()))
                plan = _PLANS.get_or_make(shared, lambda: plan_density(
                    circuit, self.noise_model, self.physical))
            return circuit, DensityProgram(circuit, self.noise_model, self.physical, plan)

        return self._programs.get_or_make(key, make)[1]

    def observables(self, keys: Sequence[tuple], num_qubits: int) -> DensityObservables:
        """The observables of ``keys`` in the density-matrix form the program reads (cached).

        Args:
            keys: Observable keys, one per observable (``observable_key`` of each operator).
            num_qubits: Number of qubits of the circuit.

        Returns:
            The observables, ready for :meth:`DensityProgram.expectations`.
        """
        return self._observables.get_or_make(tuple(keys), lambda: DensityObservables(
            [key_operator(k) for k in keys], num_qubits))

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult[PubResult]:
        keep, self.expect_reverse = self.expect_reverse, False
        return super()._run(pubs, keep=keep)

    def _expectations(self, circuit: QuantumCircuit, rows: np.ndarray, keys: Sequence[tuple],
                      keep: bool = False) -> np.ndarray:
        return self.program(circuit).expectations(
            rows, self.observables(keys, circuit.num_qubits), self.memory_limit, keep=keep)


class DensityMatrixGradient(JacobianGradient):
    """Exact gradients of noisy expectation values by the reverse sweep of
    :class:`DensityProgram` (the estimator's noise model, qubit map and memory limit).

    Args:
        estimator: The estimator whose noise, qubit map, memory limit and cached programs the
            gradient uses.
        options: Default options of Qiskit's gradient interface.

    Raises:
        TypeError: If ``estimator`` is not a :class:`DensityMatrixEstimator`.
    """

    def __init__(self, estimator: DensityMatrixEstimator, options: Options | None = None):
        """Set up the gradient; the arguments are described in the class docstring."""
        if not isinstance(estimator, DensityMatrixEstimator):
            raise TypeError("DensityMatrixGradient needs a DensityMatrixEstimator, got "
                            f"{type(estimator).__name__}")
        super().__init__(estimator, options=options)
        self.num_calls = 0

    def _jacobian(self, circuit: QuantumCircuit, rows: np.ndarray,
                  keys: Sequence[tuple]) -> np.ndarray:
        estimator: DensityMatrixEstimator = self._estimator
        table = estimator.observables(keys, circuit.num_qubits)
        return estimator.program(circuit).reverse(rows, table, None, estimator.memory_limit)[1]

    def vjp(self, circuit: QuantumCircuit, observables: Sequence[BaseOperator],
            values: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and the vector–Jacobian product by one reverse sweep (one co-state per row).

        Args:
            circuit: The circuit, with parameters in ``circuit.parameters`` order.
            observables: The O observables.
            values: Parameter rows, shape (S, P).
            upstream: Weights of the observables per row (the upstream gradient), shape (S, O).

        Returns:
            The expectation values, shape (S, O), and ``Σₒ upstream[s, o] ∂⟨Oₒ⟩/∂θ``, shape
            (S, P).
        """
        estimator: DensityMatrixEstimator = self._estimator
        keys = [observable_key(o) for o in observables]
        table = estimator.observables(keys, circuit.num_qubits)
        return estimator.program(circuit).reverse(np.asarray(values, dtype=float), table,
                                                  np.asarray(upstream, dtype=float),
                                                  estimator.memory_limit)
