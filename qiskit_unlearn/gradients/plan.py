"""The shift plan of one circuit: its gradient circuit and the maps to and from its parameters.

The two-term shift rule needs every gate angle to be a parameter of its own. The plan records,
once per distinct circuit, how those angle parameters follow from the user's parameters (to
build the shifted rows) and the chain rule back from angle derivatives to parameter
derivatives (a matrix, plus value-dependent entries for non-linear angle expressions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit.circuit import Parameter, ParameterExpression, QuantumCircuit
from qiskit.transpiler.passes import TranslateParameterizedGates
from qiskit_machine_learning.gradients.param_shift.param_shift_estimator_gradient import (
    ParamShiftEstimatorGradient,
)
from qiskit_machine_learning.gradients.utils import GradientCircuit, _assign_unique_parameters
from qiskit_machine_learning.utils import circuit_cache_key

from qiskit_unlearn.gradients.expressions import RowFn, compile_expression

__all__ = ["SUPPORTED_GATES", "CircuitPlan", "build_plan", "plan_keys"]

# Every gate here is exp(-i θ/2 P) with P² = I, so the ±π/2 two-term shift rule is exact. 'rz',
# 'rx', 'rzz' are kept as-is, so an ISA circuit (rz/sx/x/ecr/cz/cx) is never re-synthesised.
SUPPORTED_GATES: tuple[str, ...] = tuple(ParamShiftEstimatorGradient.SUPPORTED_GATES)


@dataclass
class CircuitPlan:
    """Everything needed per distinct circuit, built once and cached by structural key.

    All indices refer to positions in ``circuit.parameters`` / ``gradient_circuit.parameters``,
    so the plan is reusable for any circuit with the same structure and parameter names.
    """

    gradient_circuit: QuantumCircuit
    num_params: int
    # g-parameter values: plain copies (g_idx, param_idx) and compiled expressions (g_idx, fn).
    value_copies: list[tuple[int, int]]
    value_exprs: list[tuple[int, RowFn]]
    # Chain rule d g / d param: numeric part and value-dependent entries (param, g, fn).
    coeffs: np.ndarray
    coeff_exprs: list[tuple[int, int, RowFn]]
    # For each original parameter, the gate g-parameters it feeds (phase-only ones are unobservable
    # and never shifted).
    descendants: list[np.ndarray]

    def gradient_values(self, values: np.ndarray) -> np.ndarray:
        """Map rows of original parameter values to rows of gradient-circuit values."""
        out = np.empty((values.shape[0], self.gradient_circuit.num_parameters))
        for g, col in self.value_copies:
            out[:, g] = values[:, col]
        for g, fn in self.value_exprs:
            out[:, g] = fn(values)
        return out


def plan_keys(circuit: QuantumCircuit) -> tuple[str, str]:
    """``(plan key, Qiskit's cache key)``: the plan's adds parameter names, which the structural
    key ignores but the plan's value maps depend on."""
    base_key = circuit_cache_key(circuit)
    return base_key + "|" + ",".join(p.name for p in circuit.parameters), base_key


def build_plan(circuit: QuantumCircuit) -> tuple[CircuitPlan, GradientCircuit]:
    """Unroll to shift-rule gates, give every gate angle its own parameter, precompute the maps."""
    unrolled = TranslateParameterizedGates(list(SUPPORTED_GATES))(circuit)
    gc = _assign_unique_parameters(unrolled)
    g_circuit = gc.gradient_circuit
    index = {p: i for i, p in enumerate(circuit.parameters)}
    g_index = {g: k for k, g in enumerate(g_circuit.parameters)}
    num_p, num_g = len(index), len(g_index)

    value_copies: list[tuple[int, int]] = []
    value_exprs: list[tuple[int, RowFn]] = []
    for g, expr in gc.gradient_parameter_map.items():
        k = g_index[g]
        if isinstance(expr, Parameter):
            value_copies.append((k, index[expr]))
        else:
            value_exprs.append((k, compile_expression(expr, index)))

    coeffs = np.zeros((num_p, num_g))
    coeff_exprs: list[tuple[int, int, RowFn]] = []
    descendants: list[np.ndarray] = [np.zeros(0, dtype=int)] * num_p
    for param, entries in gc.parameter_map.items():
        j = index[param]
        desc = []
        for g, coeff in entries:
            k = g_index[g]
            if g not in gc.gradient_parameter_map:
                # Global-phase-only g-parameter: substituted 1:1 for ``param``, never shifted.
                value_copies.append((k, j))
                continue
            desc.append(k)
            if isinstance(coeff, ParameterExpression) and coeff.parameters:
                angle = gc.gradient_parameter_map[g]
                fn = compile_expression(angle, index, wrt=param, reference=coeff)
                coeff_exprs.append((j, k, fn))
            else:
                coeffs[j, k] += float(coeff)
        descendants[j] = np.array(sorted(set(desc)), dtype=int)
    plan = CircuitPlan(
        gradient_circuit=g_circuit,
        num_params=num_p,
        value_copies=value_copies,
        value_exprs=value_exprs,
        coeffs=coeffs,
        coeff_exprs=coeff_exprs,
        descendants=descendants,
    )
    return plan, gc
