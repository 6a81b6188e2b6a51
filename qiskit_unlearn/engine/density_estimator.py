"""``DensityMatrixEstimator`` and ``DensityMatrixGradient``: exact noisy expectations and their
reverse-mode gradients as a Qiskit ``BaseEstimatorV2`` and a qiskit-machine-learning gradient.

Both hold one noise model (an Aer ``NoiseModel``, applied with Aer's rules) and, for circuits
cut from a larger device, the device qubit of every circuit qubit, so errors are looked up where
the device has them. Each distinct circuit is planned once (:class:`DensityProgram`); a PUB's
parameter rows are simulated together and PUBs with the same circuit and values share one
simulation, as in :class:`~qiskit_unlearn.engine.FastStatevectorEstimator`. The gradient runs
one reverse sweep per distinct circuit for every observable and row it is asked for, and
offers :meth:`DensityMatrixGradient.vjp` — one co-state per row — for training.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, PrimitiveJob, PrimitiveResult, PubResult
from qiskit.primitives.containers import DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.providers import Options
from qiskit.quantum_info import SparsePauliOp
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.algorithm_job import AlgorithmJob
from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult

from qiskit_unlearn.engine.density import DensityObservables, DensityProgram
from qiskit_unlearn.engine.density_plan import circuit_key, plan_density
from qiskit_unlearn.engine.estimator import _LRU, observable_key
from qiskit_unlearn.engine.gradient import _unique_rows
from qiskit_unlearn.engine.memory import default_memory_limit, parse_memory_limit
from qiskit_unlearn.gradients.batched_param_shift import validate_gradient_arguments

#: Default bytes one density-matrix batch may use (rows beyond it are simulated in chunks).
WORKING_SET = 2 << 30
#: Plans shared between structurally equal circuits under the same noise (see ``program``).
_PLANS = _LRU(32)


def _sparse(key: tuple) -> SparsePauliOp:
    n, terms = key
    return SparsePauliOp.from_sparse_list(
        [(label, list(qubits), c) for label, qubits, c in terms] or [("", [], 0.0)], n)


class DensityMatrixEstimator(BaseEstimatorV2):
    """Exact expectation values of circuits under ``noise_model`` (density matrices).

    ``physical``: the device qubit of every circuit qubit, when the circuit was cut from a
    larger device (errors are looked up on those). ``memory_limit``: bytes or e.g. ``"8GiB"``
    one batch may use; by default the smaller of 75 % of the available RAM and
    :data:`WORKING_SET` (rows are chunked to stay under it: a density-matrix batch is large,
    and a bounded working set is as fast). ``precision > 0`` adds Gaussian noise of that width,
    like Qiskit's reference estimators.
    """

    def __init__(self, noise_model=None, *, physical: Sequence[int] | None = None,
                 memory_limit: int | str | None = None, default_precision: float = 0.0,
                 seed: int | None = None, noise_key: str | None = None) -> None:
        self.noise_model = noise_model
        self.noise_key = noise_key
        self.physical = None if physical is None else [int(q) for q in physical]
        self.memory_limit = parse_memory_limit(memory_limit) if memory_limit is not None \
            else min(default_memory_limit(), WORKING_SET)
        self._default_precision = default_precision
        self._rng = np.random.default_rng(seed)
        self._programs = _LRU(16)
        self._observables = _LRU(64)
        #: Set right before a forward pass whose reverse sweep (a torch backward pass) follows:
        #: the forward then keeps its states for it (:meth:`DensityProgram.expectations`).
        self.expect_reverse = False

    @property
    def default_precision(self) -> float:
        return self._default_precision

    def program(self, circuit: QuantumCircuit) -> DensityProgram:
        """The program of ``circuit`` under this noise (cached per circuit object).

        With a ``noise_key`` (a description of the noise that fixes it, given by the backend),
        the plan is also shared with every structurally equal circuit under the same noise:
        each copy of a model rebuilds its circuit, and planning is the costly part of that.
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
        return self._observables.get_or_make(tuple(keys), lambda: DensityObservables(
            [_sparse(k) for k in keys], num_qubits))

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
            ) -> PrimitiveJob[PrimitiveResult[PubResult]]:
        if precision is None:
            precision = self._default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        for i, pub in enumerate(coerced):
            if pub.precision < 0:
                raise ValueError(f"pub {i} has negative precision {pub.precision}")
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult[PubResult]:
        from qiskit_unlearn.engine.estimator import _observable_index

        keep, self.expect_reverse = self.expect_reverse, False
        flats, indices, groups = [], [], {}
        for i, pub in enumerate(pubs):
            values = pub.parameter_values.as_array(pub.circuit.parameters)
            pshape = values.shape[:-1]
            flat = values.reshape(-1, values.shape[-1]) if values.size else np.zeros(
                (int(np.prod(pshape, dtype=int)), 0))
            flats.append((flat, pshape))
            indices.append(_observable_index(pub))
            groups.setdefault((id(pub.circuit), flat.shape, flat.tobytes()), []).append(i)
        evs_of: dict[int, np.ndarray] = {}
        for members in groups.values():  # one simulation per circuit and parameter values
            union: dict[tuple, int] = {}
            for i in members:
                for key in indices[i][0]:
                    union.setdefault(key, len(union))
            circuit = pubs[members[0]].circuit
            table = self.observables(list(union), circuit.num_qubits)
            evs_all = self.program(circuit).expectations(flats[members[0]][0], table,
                                                         self.memory_limit, keep=keep)
            for i in members:
                evs_of[i] = evs_all[:, [union[key] for key in indices[i][0]]]
        return PrimitiveResult([self._result(pub, evs_of[i], flats[i][1], indices[i][1])
                                for i, pub in enumerate(pubs)], metadata={"version": 2})

    def _result(self, pub: EstimatorPub, evs_all: np.ndarray, pshape: tuple,
                obs_index: np.ndarray) -> PubResult:
        bind_index = np.arange(evs_all.shape[0]).reshape(pshape)
        b_idx, o_idx = np.broadcast_arrays(bind_index, obs_index)
        evs = evs_all[b_idx, o_idx]
        stds = np.zeros_like(evs)
        if pub.precision > 0:
            evs = self._rng.normal(evs, pub.precision)
            stds[...] = pub.precision
        return PubResult(DataBin(evs=evs, stds=stds, shape=evs.shape),
                         metadata={"target_precision": pub.precision,
                                   "circuit_metadata": pub.circuit.metadata})


class DensityMatrixGradient(BaseEstimatorGradient):
    """Exact gradients of noisy expectation values by the reverse sweep of
    :class:`DensityProgram` (the estimator's noise model, qubit map and memory limit)."""

    def __init__(self, estimator: DensityMatrixEstimator, options: Options | None = None):
        if not isinstance(estimator, DensityMatrixEstimator):
            raise TypeError("DensityMatrixGradient needs a DensityMatrixEstimator, got "
                            f"{type(estimator).__name__}")
        super().__init__(estimator, options=options)
        self.num_calls = 0

    def run(self, circuits: Sequence[QuantumCircuit] | QuantumCircuit,
            observables: Sequence[BaseOperator] | BaseOperator,
            parameter_values: Sequence[Sequence[float]] | np.ndarray,
            parameters: Sequence[Sequence[Parameter] | None] | None = None,
            **options) -> AlgorithmJob:
        """Same contract as ``BaseEstimatorGradient.run``."""
        if isinstance(circuits, QuantumCircuit):
            circuits = (circuits,)
        if isinstance(observables, BaseOperator):
            observables = (observables,)
        values = np.asarray(parameter_values, dtype=float)
        if values.ndim == 1 and len(circuits) == 1:
            values = values[None, :]
        if parameters is None:
            parameters = [None] * len(circuits)
        parameters = validate_gradient_arguments(circuits, observables, values, parameters)
        opts = Options(**self._default_options.__dict__)
        opts.update_options(**options)
        job = AlgorithmJob(self._run, circuits, observables, values, parameters, **opts.__dict__)
        job.submit()
        return job

    def _run(self, circuits: Sequence[QuantumCircuit], observables: Sequence[BaseOperator],
             parameter_values: np.ndarray, parameters: Sequence[Sequence[Parameter]],
             **options) -> EstimatorGradientResult:
        self.num_calls += 1
        estimator: DensityMatrixEstimator = self._estimator
        gradients: list[np.ndarray | None] = [None] * len(circuits)
        metadata: list[dict | None] = [None] * len(circuits)
        groups: dict[int, list[int]] = {}
        for i, circuit in enumerate(circuits):
            groups.setdefault(id(circuit), []).append(i)
        for items in groups.values():
            circuit = circuits[items[0]]
            rows, row_index = _unique_rows(parameter_values[items])
            distinct: dict[tuple, int] = {}
            obs_index = np.fromiter((distinct.setdefault(observable_key(observables[i]),
                                                         len(distinct)) for i in items),
                                    dtype=np.int64, count=len(items))
            table = estimator.observables(list(distinct), circuit.num_qubits)
            _, jac = estimator.program(circuit).reverse(rows, table, None, estimator.memory_limit)
            per_item = jac[row_index, obs_index]
            position = {p: k for k, p in enumerate(circuit.parameters)}
            for j, i in enumerate(items):
                wanted = list(parameters[i])
                gradients[i] = per_item[j, [position[p] for p in wanted]]
                metadata[i] = {"parameters": wanted}
        return EstimatorGradientResult(gradients=gradients, metadata=metadata,
                                       options=Options(**options))

    def vjp(self, circuit: QuantumCircuit, observables: Sequence[BaseOperator],
            values: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(S, O)`` and ``Σₒ upstream[s, o] ∂⟨Oₒ⟩/∂θ`` for every row: ``(S, P)``."""
        estimator: DensityMatrixEstimator = self._estimator
        keys = [observable_key(o) for o in observables]
        table = estimator.observables(keys, circuit.num_qubits)
        return estimator.program(circuit).reverse(np.asarray(values, dtype=float), table,
                                                  np.asarray(upstream, dtype=float),
                                                  estimator.memory_limit)
