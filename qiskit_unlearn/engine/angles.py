"""Gate angles as functions of the circuit parameters, with their exact derivatives.

Why: a parameter can appear in many gates, scaled, shifted or inside a non-linear expression;
the adjoint sweep differentiates with respect to gate angles, so the chain rule needs
``d angle / d parameter`` for every occurrence. Affine angles (the common case) are one matrix
product; anything else is lambdified once with SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.circuit import ParameterExpression


@dataclass
class AngleModel:
    """Angles of all parameterized gate occurrences as functions of the circuit parameters.

    ``angles = offset + values @ linear.T`` for affine expressions; ``nonlinear`` holds
    ``(angle_index, f, [(param_index, df/dparam)], param_indices)`` for the rest.
    """

    offset: np.ndarray
    linear: np.ndarray
    nonlinear: list = field(default_factory=list)

    @property
    def num_angles(self) -> int:
        return self.offset.shape[0]

    def evaluate(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``angles (S, A)`` and the Jacobian ``(A, P)`` or ``(S, A, P)``."""
        angles = self.offset + values @ self.linear.T
        if not self.nonlinear:
            return angles, self.linear
        jac = np.broadcast_to(self.linear, (values.shape[0], *self.linear.shape)).copy()
        for a, fn, dfns, pidx in self.nonlinear:
            args = [values[:, i] for i in pidx]
            angles[:, a] = np.broadcast_to(np.real(fn(*args)), values.shape[0])
            for p, dfn in dfns:
                jac[:, a, p] = np.broadcast_to(np.real(dfn(*args)), values.shape[0])
        return angles, jac



def angle_model(exprs: list, params: list) -> AngleModel:
    """The angle model of gate angles ``exprs`` over the circuit parameters ``params``."""
    import sympy

    index = {p: i for i, p in enumerate(params)}
    by_name = {p.name: i for i, p in enumerate(params)}
    offset = np.zeros(len(exprs))
    linear = np.zeros((len(exprs), len(params)))
    nonlinear = []
    for a, expr in enumerate(exprs):
        grads = {p: expr.gradient(p) for p in expr.parameters}
        if all(not isinstance(g, ParameterExpression) for g in grads.values()):
            for p, g in grads.items():
                linear[a, index[p]] = float(np.real(complex(g)))
            offset[a] = float(np.real(complex(expr.bind({p: 0.0 for p in expr.parameters}))))
            continue
        sexpr = sympy.sympify(expr.sympify())
        symbols = sorted(sexpr.free_symbols, key=lambda s: s.name)
        pidx = [by_name[s.name] for s in symbols]
        fn = sympy.lambdify(symbols, sexpr, modules="numpy", dummify=True)
        dfns = [
            (pi, sympy.lambdify(symbols, sympy.diff(sexpr, s), modules="numpy", dummify=True))
            for s, pi in zip(symbols, pidx, strict=False)
        ]
        nonlinear.append((a, fn, dfns, pidx))
    return AngleModel(offset, linear, nonlinear)
