"""Checks of estimator-gradient arguments, done once per distinct object.

``EstimatorQNN`` passes the same circuit, observable and parameter-list objects for every item
of a batch, so ``BaseEstimatorGradient``'s per-item validation would repeat identical checks
hundreds of times. Shared by every gradient of the toolkit (the engines' exact gradients and
the batched parameter shift), hence here, importing nothing of the engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.quantum_info.operators.base_operator import BaseOperator

__all__ = ["GradientItems", "gradient_arguments", "validate_gradient_arguments"]


class GradientItems(NamedTuple):
    """A gradient call's validated items, in the order ``BaseEstimatorGradient._run`` takes."""

    circuits: Sequence[QuantumCircuit]
    observables: Sequence[BaseOperator]
    parameter_values: Sequence[Sequence[float]] | np.ndarray
    parameters: Sequence[Sequence[Parameter]]


def validate_gradient_arguments(
    circuits: Sequence[QuantumCircuit],
    observables: Sequence[BaseOperator],
    parameter_values: Sequence[Sequence[float]] | np.ndarray,
    parameters: Sequence[Sequence[Parameter] | None],
) -> list[Sequence[Parameter]]:
    """``BaseEstimatorGradient``'s checks and messages, done once per distinct object.

    Returns the parameters to differentiate for each item (``None`` → all, shared per circuit).
    """
    n = len(circuits)
    if n != len(parameter_values):
        raise ValueError(
            f"The number of circuits ({n}) does not match "
            f"the number of parameter value sets ({len(parameter_values)})."
        )
    seen_circ: dict[int, int] = {}
    for i, (circuit, values) in enumerate(zip(circuits, parameter_values, strict=True)):
        num = seen_circ.get(id(circuit))
        if num is None:
            num = seen_circ[id(circuit)] = circuit.num_parameters
            if not num:
                raise ValueError(f"The {i}-th circuit is not parameterised.")
        if len(values) != num:
            raise ValueError(
                f"The number of values ({len(values)}) does not match "
                f"the number of parameters ({num}) for the {i}-th circuit."
            )
    if n != len(observables):
        raise ValueError(
            f"The number of circuits ({n}) does not match "
            f"the number of observables ({len(observables)})."
        )
    seen_obs: set[tuple[int, int]] = set()
    for i, (circuit, observable) in enumerate(zip(circuits, observables, strict=True)):
        key = (id(circuit), id(observable))
        if key in seen_obs:
            continue
        seen_obs.add(key)
        if circuit.num_qubits != observable.num_qubits:
            raise ValueError(
                f"The number of qubits of the {i}-th circuit ({circuit.num_qubits}) does "
                f"not match the number of qubits of the {i}-th observable "
                f"({observable.num_qubits})."
            )
    if n != len(parameters):
        raise ValueError(
            f"The number of circuits ({n}) does not match "
            f"the number of the list of specified parameters ({len(parameters)})."
        )
    all_params: dict[int, Sequence[Parameter]] = {}
    checked: set[tuple[int, int]] = set()
    resolved: list[Sequence[Parameter]] = []
    for i, (circuit, params) in enumerate(zip(circuits, parameters, strict=True)):
        if params is None:
            params = all_params.get(id(circuit))
            if params is None:
                params = all_params[id(circuit)] = circuit.parameters
        else:
            key = (id(circuit), id(params))
            if key not in checked:
                checked.add(key)
                if not set(params).issubset(circuit.parameters):
                    raise ValueError(
                        f"The {i}-th parameters contains parameters not present in the "
                        f"{i}-th circuit."
                    )
        resolved.append(params)
    return resolved


def gradient_arguments(
    circuits: Sequence[QuantumCircuit] | QuantumCircuit,
    observables: Sequence[BaseOperator] | BaseOperator,
    parameter_values: Sequence[Sequence[float]] | np.ndarray,
    parameters: Sequence[Sequence[Parameter] | None] | None,
    *,
    as_array: bool,
) -> GradientItems:
    """``run``'s arguments as validated items: a lone circuit or observable becomes a sequence
    of one, ``parameters=None`` means all parameters of every item.

    ``as_array``: the values become one float array (a lone row with a lone circuit becomes a
    row of it), for gradients that index rows by item; without it they are kept as given, so
    circuits of different sizes can share one call.
    """
    if isinstance(circuits, QuantumCircuit):
        circuits = (circuits,)
    if isinstance(observables, BaseOperator):
        observables = (observables,)
    values = parameter_values
    if as_array:
        values = np.asarray(parameter_values, dtype=float)
        if values.ndim == 1 and len(circuits) == 1:
            values = values[None, :]
    if parameters is None:
        parameters = [None] * len(circuits)
    resolved = validate_gradient_arguments(circuits, observables, values, parameters)
    return GradientItems(circuits, observables, values, resolved)
