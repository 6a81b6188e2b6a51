"""``AdjointEstimatorGradient``: exact gradients for ``EstimatorQNN`` in one vectorized sweep.

``EstimatorQNN.backward`` asks for ``samples × observables`` gradients of one circuit. The
default parameter-shift gradient turns that into ``2 × parameters`` circuit runs per item;
here the items are grouped by circuit, their parameter rows and observables deduplicated,
and the full Jacobian ``(rows, observables, parameters)`` comes from one adjoint sweep of the
batched statevector (:mod:`qiskit_unlearn.engine.statevector`). Exact up to float64 rounding.
The sweep keeps one ``2**n`` co-state per observable (one in all for :meth:`vjp`), so rows are
chunked under the same ``memory_limit`` as the estimator's, in the estimator's precision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.algorithm_job import AlgorithmJob
from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult

from qiskit_unlearn.engine.estimator import (
    FastStatevectorEstimator,
    cached_observable_key,
    program_for,
    table_for,
)
from qiskit_unlearn.engine.memory import parse_memory_limit
from qiskit_unlearn.engine.statevector import state_dtype
from qiskit_unlearn.gradients.batched_param_shift import validate_gradient_arguments


def _unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in order of first appearance (so they match the forward pass's batch)."""
    values = np.ascontiguousarray(values)
    seen: dict[bytes, int] = {}
    index = np.fromiter((seen.setdefault(row.tobytes(), len(seen)) for row in values),
                        dtype=np.int64, count=len(values))
    first = np.unique(index, return_index=True)[1]
    return values[first], index


class AdjointEstimatorGradient(BaseEstimatorGradient):
    """Exact adjoint-method estimator gradient on the batched statevector engine.

    The ``estimator`` argument only provides options for Qiskit's gradient interface; the
    simulation itself always runs on the exact engine (noise-free, no sampling).
    ``memory_limit`` (bytes or e.g. ``"8GiB"``) defaults to the estimator's, if it has one.
    """

    def __init__(self, estimator: BaseEstimatorV2 | None = None, options: Options | None = None,
                 *, memory_limit: int | str | None = None):
        estimator = estimator or FastStatevectorEstimator(memory_limit=memory_limit)
        super().__init__(estimator, options=options)
        inherited = getattr(estimator, "memory_limit", None)
        self.memory_limit = parse_memory_limit(
            inherited if memory_limit is None and isinstance(inherited, int) else memory_limit)
        self.dtype = getattr(estimator, "dtype", state_dtype("double"))
        self.num_calls = 0
        self.num_rows = 0

    def run(
        self,
        circuits: Sequence[QuantumCircuit] | QuantumCircuit,
        observables: Sequence[BaseOperator] | BaseOperator,
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter] | None] | None = None,
        **options,
    ) -> AlgorithmJob:
        """Same contract as ``BaseEstimatorGradient.run``; validates once per distinct circuit."""
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

    def _run(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: np.ndarray,
        parameters: Sequence[Sequence[Parameter]],
        **options,
    ) -> EstimatorGradientResult:
        self.num_calls += 1
        gradients: list[np.ndarray | None] = [None] * len(circuits)
        metadata: list[dict | None] = [None] * len(circuits)
        groups: dict[int, list[int]] = {}
        for i, circuit in enumerate(circuits):
            groups.setdefault(id(circuit), []).append(i)
        obs_keys: dict[int, tuple] = {}
        for items in groups.values():
            circuit = circuits[items[0]]
            program = program_for(circuit)
            rows, row_index = _unique_rows(parameter_values[items])
            distinct: dict[tuple, int] = {}
            obs_index = np.empty(len(items), dtype=np.int64)
            for j, i in enumerate(items):
                key = obs_keys.get(id(observables[i]))
                if key is None:
                    key = obs_keys[id(observables[i])] = cached_observable_key(observables[i])
                obs_index[j] = distinct.setdefault(key, len(distinct))
            _, jac = program.jacobian(rows, table_for(list(distinct)), self.memory_limit,
                                      dtype=self.dtype)
            self.num_rows += len(rows)
            per_item = jac[row_index, obs_index]  # (items, P)
            position = {p: k for k, p in enumerate(circuit.parameters)}
            selections: dict[int, tuple[list, np.ndarray]] = {}
            for j, i in enumerate(items):
                wanted = parameters[i]
                sel = selections.get(id(wanted))
                if sel is None:
                    sel = selections[id(wanted)] = (
                        list(wanted), np.fromiter((position[p] for p in wanted), dtype=np.int64))
                gradients[i] = per_item[j, sel[1]]
                metadata[i] = {"parameters": sel[0]}
        return EstimatorGradientResult(
            gradients=gradients, metadata=metadata, options=Options(**options)
        )

    def vjp(self, circuit: QuantumCircuit, observables: Sequence[BaseOperator],
            values: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(S, O)`` and ``Σₒ upstream[s, o] ∂⟨Oₒ⟩/∂θ`` ``(S, P)`` by one adjoint sweep
        with a single co-state per row (what a torch backward pass needs)."""
        self.num_calls += 1
        keys = [cached_observable_key(o) for o in observables]
        evs, jac = program_for(circuit).jacobian(np.asarray(values, dtype=float),
                                                 table_for(keys), self.memory_limit,
                                                 weights=np.asarray(upstream, dtype=float),
                                                 dtype=self.dtype)
        self.num_rows += len(values)
        return evs, jac[:, 0]
