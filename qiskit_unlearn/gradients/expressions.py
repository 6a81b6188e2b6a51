"""Gate angles and chain-rule coefficients compiled to vectorised functions of parameter rows.

A gradient circuit gives every gate angle its own parameter; the angle (and its derivative)
is an expression of the user's parameters that must be evaluated for every parameter row of a
batch. ``ParameterExpression.bind`` per row is far too slow for thousands of rows, so each
expression is lambdified once and applied to whole columns.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy
from qiskit.circuit import Parameter, ParameterExpression

__all__ = ["RowFn", "compile_expression"]

# Vectorised evaluator: columns of the parameter-value matrix -> one value per row.
RowFn = Callable[[np.ndarray], np.ndarray]


def compile_expression(
    expr: ParameterExpression,
    index: dict[Parameter, int],
    *,
    wrt: Parameter | None = None,
    reference: ParameterExpression | None = None,
) -> RowFn:
    """Turn ``expr`` (or ``d expr / d wrt``) into ``f(values[n, P]) -> [n]``, one call per array.

    ``sympy.lambdify`` vectorises over rows. The derivative is taken in sympy from the angle
    rather than from qiskit's ``expr.gradient(p).sympify()``: in qiskit 2.6 the latter can return
    the wrong expression (``(a*b).gradient(b).sympify()`` gives ``b``) although ``bind`` is right.
    Each compiled function is therefore checked once against ``bind`` of ``reference`` at a random
    point; on mismatch or failure we fall back to ``bind`` per row (slow but exact).
    """
    params = list(expr.parameters)
    cols = np.array([index[p] for p in params], dtype=int)
    target = expr if reference is None else reference
    if isinstance(expr, Parameter) and wrt is None:
        col = int(cols[0])
        return lambda values: values[:, col]

    def per_row(values: np.ndarray) -> np.ndarray:
        out = []
        for row in values[:, cols]:
            by_name = dict(zip((p.name for p in params), row, strict=True))
            out.append(float(target.bind({p: by_name[p.name] for p in target.parameters})))
        return np.array(out)

    def vectorised(values: np.ndarray) -> np.ndarray:
        out = np.asarray(fn(*values[:, cols].T), dtype=complex)
        return np.broadcast_to(out.real, (values.shape[0],))

    try:
        sym_expr = expr.sympify()
        by_name = {s.name: s for s in sym_expr.free_symbols}
        symbols = [by_name.get(p.name, sympy.Symbol(p.name)) for p in params]
        if wrt is not None:
            sym_expr = sympy.diff(sym_expr, by_name.get(wrt.name, sympy.Symbol(wrt.name)))
        fn = sympy.lambdify(symbols, sym_expr, modules="numpy", dummify=True)
        probe = np.random.default_rng(1234).uniform(0.1, 1.1, size=(1, max(index.values()) + 1))
        if np.allclose(vectorised(probe), per_row(probe), rtol=1e-9, atol=1e-12):
            return vectorised
    except Exception:  # pragma: no cover - depends on exotic expressions
        pass
    return per_row  # pragma: no cover - only for expressions sympy cannot reproduce
