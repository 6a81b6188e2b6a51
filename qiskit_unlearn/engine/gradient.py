"""``AdjointEstimatorGradient``: exact gradients for ``EstimatorQNN`` in one vectorized sweep.

``EstimatorQNN.backward`` asks for ``samples × observables`` gradients of one circuit. The
default parameter-shift gradient turns that into ``2 × parameters`` circuit runs per item;
here the items are grouped by circuit, their parameter rows and observables deduplicated
(:mod:`~qiskit_unlearn.engine.jacobian_gradient`), and the full Jacobian
``(rows, observables, parameters)`` comes from one adjoint sweep of the batched statevector
(:mod:`qiskit_unlearn.engine.statevector`). Exact up to float64 rounding.
The sweep keeps one ``2**n`` co-state per observable (one in all for :meth:`vjp`), so rows are
chunked under the same ``memory_limit`` as the estimator's, in the estimator's precision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator

from qiskit_unlearn.engine.estimator import (
    FastStatevectorEstimator,
    cached_observable_key,
    program_for,
    table_for,
)
from qiskit_unlearn.engine.jacobian_gradient import JacobianGradient
from qiskit_unlearn.engine.memory import parse_memory_limit
from qiskit_unlearn.engine.statevector import state_dtype


class AdjointEstimatorGradient(JacobianGradient):
    """Exact adjoint-method estimator gradient on the batched statevector engine.

    The ``estimator`` argument only provides options for Qiskit's gradient interface; the
    simulation itself always runs on the exact engine (noise-free, no sampling).

    Args:
        estimator: The estimator whose options (and memory limit and precision, if it has
            them) the gradient uses; None makes a :class:`FastStatevectorEstimator`.
        options: Default options of Qiskit's gradient interface.
        memory_limit: Bytes or a size such as ``"8GiB"`` one batch may use; None takes the
            estimator's, if it has one, else the default (see :func:`default_memory_limit`).
    """

    def __init__(self, estimator: BaseEstimatorV2 | None = None, options: Options | None = None,
                 *, memory_limit: int | str | None = None):
        """Set up the gradient; the arguments are described in the class docstring."""
        estimator = estimator or FastStatevectorEstimator(memory_limit=memory_limit)
        super().__init__(estimator, options=options)
        inherited = getattr(estimator, "memory_limit", None)
        self.memory_limit = parse_memory_limit(
            inherited if memory_limit is None and isinstance(inherited, int) else memory_limit)
        self.dtype = getattr(estimator, "dtype", state_dtype("double"))
        self.num_calls = 0
        self.num_rows = 0

    def _jacobian(self, circuit: QuantumCircuit, rows: np.ndarray,
                  keys: Sequence[tuple]) -> np.ndarray:
        _, jac = program_for(circuit).jacobian(rows, table_for(keys), self.memory_limit,
                                               dtype=self.dtype)
        self.num_rows += len(rows)
        return jac

    def vjp(self, circuit: QuantumCircuit, observables: Sequence[BaseOperator],
            values: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and the vector–Jacobian product by one adjoint sweep.

        A single co-state per row carries ``Σₒ upstream[s, o] ∂⟨Oₒ⟩/∂θ``: what a torch backward
        pass needs, at the cost of about one forward pass.

        Args:
            circuit: The circuit, with parameters in ``circuit.parameters`` order.
            observables: The O observables.
            values: Parameter rows, shape (S, P).
            upstream: Weights of the observables per row (the upstream gradient), shape (S, O).

        Returns:
            The expectation values, shape (S, O), and the products, shape (S, P).
        """
        self.num_calls += 1
        keys = [cached_observable_key(o) for o in observables]
        evs, jac = program_for(circuit).jacobian(np.asarray(values, dtype=float),
                                                 table_for(keys), self.memory_limit,
                                                 weights=np.asarray(upstream, dtype=float),
                                                 dtype=self.dtype)
        self.num_rows += len(values)
        return evs, jac[:, 0]
