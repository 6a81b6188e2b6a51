"""The item bookkeeping of the engines' exact gradients: one Jacobian per distinct circuit.

``EstimatorQNN.backward`` asks for ``samples × observables`` gradients of one circuit. Both
engines produce the full Jacobian ``(rows, observables, parameters)`` of a circuit in one
reverse sweep, so the items are grouped by circuit and their parameter rows and observables
deduplicated first; each item's gradient is then read off that Jacobian. Subclasses only say
how to compute it (:meth:`JacobianGradient._jacobian`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.gradients import EstimatorGradientResult

from qiskit_unlearn.engine.estimator import cached_observable_key
from qiskit_unlearn.gradients.base import ValidatedEstimatorGradient

__all__ = ["JacobianGradient", "unique_rows"]


def unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in order of first appearance (so they match the forward pass's batch)."""
    values = np.ascontiguousarray(values)
    seen: dict[bytes, int] = {}
    index = np.fromiter((seen.setdefault(row.tobytes(), len(seen)) for row in values),
                        dtype=np.int64, count=len(values))
    first = np.unique(index, return_index=True)[1]
    return values[first], index


class JacobianGradient(ValidatedEstimatorGradient):
    """An estimator gradient read off one exact Jacobian per distinct circuit.

    ``num_calls`` counts the gradient calls (subclasses set it to 0 and count their VJPs).
    """

    num_calls: int

    @abstractmethod
    def _jacobian(self, circuit: QuantumCircuit, rows: np.ndarray,
                  keys: Sequence[tuple]) -> np.ndarray:
        """``∂⟨O_o⟩/∂θ`` ``(rows, observables, parameters)`` of ``circuit`` at parameter
        ``rows`` for the observables of ``keys`` (:func:`~.observables.observable_key`)."""

    def _run(self, circuits: Sequence[QuantumCircuit], observables: Sequence[BaseOperator],
             parameter_values: np.ndarray, parameters: Sequence[Sequence[Parameter]],
             **options: Any) -> EstimatorGradientResult:
        self.num_calls += 1
        gradients: list[np.ndarray | None] = [None] * len(circuits)
        metadata: list[dict | None] = [None] * len(circuits)
        groups: dict[int, list[int]] = {}
        for i, circuit in enumerate(circuits):
            groups.setdefault(id(circuit), []).append(i)
        obs_keys: dict[int, tuple] = {}
        for items in groups.values():
            circuit = circuits[items[0]]
            rows, row_index = unique_rows(parameter_values[items])
            distinct: dict[tuple, int] = {}
            obs_index = np.empty(len(items), dtype=np.int64)
            for j, i in enumerate(items):
                key = obs_keys.get(id(observables[i]))
                if key is None:
                    key = obs_keys[id(observables[i])] = cached_observable_key(observables[i])
                obs_index[j] = distinct.setdefault(key, len(distinct))
            per_item = self._jacobian(circuit, rows, list(distinct))[row_index, obs_index]
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
