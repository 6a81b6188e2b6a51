"""Parameter-shift estimator gradient that sends one broadcast PUB per distinct circuit.

``ParamShiftEstimatorGradient`` submits one PUB per (sample, observable, shifted parameter):
``EstimatorQNN`` tiles the same circuit over samples and observables, so a single backward pass
becomes tens of thousands of PUBs and each one pays the primitive's per-PUB overhead. Here every
``run`` call groups its items by circuit, deduplicates parameter rows and observables, and sends
``(gradient_circuit, observables[n_obs, 1, 1], values[n_rows, 2K, P_g])`` so the estimator
broadcasts to ``(n_obs, n_rows, 2K)`` expectation values in ONE job. The chain rule from the
unique-parameter gradient circuit back to the user's parameters is a matrix product.

The pieces live in their own modules: :mod:`.plan` (gradient circuit and chain rule per
circuit), :mod:`.expressions` (angle expressions over parameter rows), :mod:`.grouping` (items
to PUBs) and :mod:`.validation` (argument checks shared with the engines' gradients).
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.gradients import EstimatorGradientResult

from qiskit_unlearn.gradients.base import ValidatedEstimatorGradient
from qiskit_unlearn.gradients.grouping import ItemGroup, group_items
from qiskit_unlearn.gradients.plan import SUPPORTED_GATES, CircuitPlan, build_plan, plan_keys
from qiskit_unlearn.gradients.validation import GradientItems, gradient_arguments

__all__ = ["BatchedParamShiftEstimatorGradient", "PreparedGradient"]


@dataclass
class PreparedGradient:
    """A gradient's PUBs, built but not run (see ``BatchedParamShiftEstimatorGradient.prepare``).

    ``pubs`` go to an estimator as they are; the results, in the same order, go to ``finish``.

    Attributes:
        num_items: Number of gradient items (circuit, observable, value row) asked for.
        groups: The items grouped by circuit and parameters to differentiate.
        pubs: The estimator PUBs, one per group that has parameters to shift.
        pub_groups: The group of each PUB, in the order of ``pubs``.
        parameters: The differentiated parameters of each item (the result's ``metadata``).
        precision: The precision the PUBs are to be run with (None: the estimator's default).
        evaluations: Expectation values the PUBs request (observables x unique rows x 2
            shifts x shifted parameters, summed).
    """

    num_items: int
    groups: list[ItemGroup]
    pubs: list[tuple[Any, ...]]
    pub_groups: list[ItemGroup]
    parameters: list[Sequence[Parameter]]
    precision: float | None
    evaluations: int


def _shift_pub(group: ItemGroup) -> tuple[Any, ...]:
    """``(gradient_circuit, observables[n_obs, 1, 1], values[n_rows, 2K, P_g])``: every
    shifted angle at ``+π/2`` (first ``K``) and ``-π/2`` (last ``K``) for every unique row."""
    num_k = len(group.shifted)
    g_values = group.plan.gradient_values(group.rows)  # [n_rows, P_g]
    shifts = np.zeros((2 * num_k, g_values.shape[1]))
    shifts[np.arange(num_k), group.shifted] = np.pi / 2
    shifts[num_k + np.arange(num_k), group.shifted] = -np.pi / 2
    shifted_values = g_values[:, None, :] + shifts[None, :, :]  # [n_rows, 2K, P_g]
    obs_array = [[[obs]] for obs in group.observables]  # [n_obs, 1, 1]
    return group.plan.gradient_circuit, obs_array, shifted_values


def _chain_rule(group: ItemGroup, evs: np.ndarray | None) -> np.ndarray:
    """Gradient w.r.t. ``group.requested`` for every item: ``dE/dg @ (dg/dθ)^T``, vectorised."""
    n_items = len(group.items)
    if evs is None:
        return np.zeros((n_items, len(group.requested)))
    num_k = len(group.shifted)
    evs = np.asarray(evs).reshape(len(group.observables), len(group.rows), 2 * num_k)
    d_g = (evs[..., :num_k] - evs[..., num_k:]) / 2  # [n_obs, n_rows, K]
    per_item = d_g[group.obs_of, group.row_of]  # [n_items, K]
    plan = group.plan
    grads = per_item @ plan.coeffs[np.ix_(group.requested, group.shifted)].T
    if plan.coeff_exprs:
        req_pos = {int(j): a for a, j in enumerate(group.requested)}
        shift_pos = {int(k): b for b, k in enumerate(group.shifted)}
        for j, k, fn in plan.coeff_exprs:
            if j in req_pos and k in shift_pos:
                coeff_rows = fn(group.rows)  # [n_rows]
                grads[:, req_pos[j]] += coeff_rows[group.row_of] * per_item[:, shift_pos[k]]
    return grads


class BatchedParamShiftEstimatorGradient(ValidatedEstimatorGradient):
    """Parameter-shift gradient for any ``BaseEstimatorV2`` in one job, one PUB per circuit.

    Results (values, ordering, ``metadata``) match ``ParamShiftEstimatorGradient``. Gradient
    circuits only rename parameters of rz/rx/ry/rzz/... gates, so ISA circuits stay ISA and can be
    sent to IBM Runtime primitives; observables must already act on the circuit's qubits.

    ``run`` takes the arguments of ``BaseEstimatorGradient.run``: per item a circuit, an
    observable (acting on all of the circuit's qubits), a row of values in
    ``circuit.parameters`` order and the parameters to differentiate (``None``: all); keyword
    ``precision`` overrides the constructor's for that call, other options are recorded in the
    result's ``options``. Validation is done once per distinct circuit.

    Counters (cumulative, updated when a job executes): ``num_jobs`` primitive jobs submitted,
    ``num_pubs`` PUBs sent, ``num_circuit_evaluations`` expectation values requested (broadcast
    size summed over PUBs: observables x unique parameter rows x 2 shifts x shifted parameters).

    Args:
        estimator: Any V2 estimator (Aer, Statevector, BackendEstimatorV2, IBM Runtime).
        precision: Target precision of every PUB; None uses the estimator's default, ``0.0``
            requests exact values (StatevectorEstimator, Aer).
        options: Recorded in the result's ``options`` (V2 estimators take no run options).
    """

    SUPPORTED_GATES: ClassVar[tuple[str, ...]] = SUPPORTED_GATES
    # Circuits of different sizes may share a call: their values cannot form one array.
    values_as_array: ClassVar[bool] = False

    def __init__(
        self,
        estimator: BaseEstimatorV2,
        *,
        precision: float | None = None,
        options: Options | None = None,
    ) -> None:
        """Set up the gradient; the arguments are described in the class docstring."""
        super().__init__(estimator, options=options)
        self._precision = precision
        self._plans: dict[str, CircuitPlan] = {}
        self.num_jobs = 0
        self.num_pubs = 0
        self.num_circuit_evaluations = 0

    @property
    def precision(self) -> float | None:
        """Default precision (``None`` = estimator default)."""
        return self._precision

    @property
    def options(self) -> Options:
        """Gradient default options (V2 estimators' own options are not ``Options`` objects)."""
        opts = copy(self._default_options)
        opts.update_options(precision=self._precision)
        return opts

    def reset_counters(self) -> None:
        """Zero the cost counters (e.g. between experiment phases)."""
        self.num_jobs = self.num_pubs = self.num_circuit_evaluations = 0

    def _run_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``run(..., precision=p)`` overrides the constructor's precision for one call (``None``:
        the constructor's); it always reaches ``_run``, over a default option of that name."""
        precision = options.pop("precision", None)
        run_options = super()._run_options(options)
        run_options["precision"] = self._precision if precision is None else precision
        return run_options

    def _run(self, circuits: Sequence[QuantumCircuit], observables: Sequence[BaseOperator],
             parameter_values: Sequence[Sequence[float]] | np.ndarray,
             parameters: Sequence[Sequence[Parameter]], **options: Any) -> EstimatorGradientResult:
        """Base-class hook (validated items); ``precision`` may be passed as an option."""
        precision = options.pop("precision", self._precision)
        items = GradientItems(circuits, observables, parameter_values, parameters)
        prepared = self._prepare(items, precision)
        pub_results: list[Any] = []
        if prepared.pubs:
            job = self._estimator.run(prepared.pubs, precision=prepared.precision)
            self.num_jobs += 1
            pub_results = list(job.result())
        return self.finish(prepared, pub_results, options)

    def _plan_for(self, circuit: QuantumCircuit) -> CircuitPlan:
        """Cached plan of ``circuit`` (see :func:`~.plan.plan_keys`)."""
        key, base_key = plan_keys(circuit)
        plan = self._plans.get(key)
        if plan is None:
            plan, gc = build_plan(circuit)
            self._plans[key] = plan
            # Share with the base class cache so its helpers (e.g. ``_postprocess``) still work.
            self._gradient_circuit_cache[base_key] = gc
        return plan

    def prepare(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter] | None] | None = None,
        *,
        precision: float | None = None,
    ) -> PreparedGradient:
        """The PUBs of a gradient without running them, so a caller can send them in a job of
        its own (e.g. together with the forward pass) and
        :meth:`~qiskit_unlearn.gradients.BatchedParamShiftEstimatorGradient.finish` the result.

        Arguments are those of ``run`` (validated the same way).

        Args:
            circuits: One circuit per item.
            observables: One observable per item, acting on all of the circuit's qubits.
            parameter_values: One row of values per item, in ``circuit.parameters`` order.
            parameters: Per item, the parameters to differentiate (None: all).
            precision: Overrides the constructor's precision for these PUBs.

        Returns:
            The PUBs and what ``finish`` needs to turn their results into gradients.

        Raises:
            ValueError: On inconsistent lengths, qubit counts or unknown parameters.
        """
        items = gradient_arguments(circuits, observables, parameter_values, parameters,
                                   as_array=self.values_as_array)
        return self._prepare(items, self._precision if precision is None else precision)

    def _prepare(self, items: GradientItems, precision: float | None) -> PreparedGradient:
        groups = group_items(items, self._plan_for)
        pub_groups = [group for group in groups if len(group.shifted)]
        pubs = [_shift_pub(group) for group in pub_groups]
        evaluations = sum(len(g.observables) * len(g.rows) * 2 * len(g.shifted)
                          for g in pub_groups)
        return PreparedGradient(len(items.circuits), groups, pubs, pub_groups,
                                list(items.parameters), precision, evaluations)

    def finish(self, prepared: PreparedGradient, pub_results: Sequence[Any],
               options: dict[str, Any] | None = None) -> EstimatorGradientResult:
        """Gradients from the estimator's results for ``prepared.pubs`` (in that order).

        Args:
            prepared: What ``prepare`` returned.
            pub_results: The estimator's results, one per PUB of ``prepared.pubs``.
            options: Recorded in the result's ``options`` (with the precision).

        Returns:
            One gradient per item, as ``ParamShiftEstimatorGradient`` would give.

        Raises:
            ValueError: If the number of results differs from the number of PUBs.
        """
        if len(pub_results) != len(prepared.pubs):
            raise ValueError(f"expected {len(prepared.pubs)} PUB results, got "
                             f"{len(pub_results)}")
        self.num_pubs += len(prepared.pubs)
        self.num_circuit_evaluations += prepared.evaluations
        evs_by_group = {id(g): r.data.evs
                        for g, r in zip(prepared.pub_groups, pub_results, strict=True)}
        gradients: list[np.ndarray] = [np.zeros(0)] * prepared.num_items
        for group in prepared.groups:
            grads = _chain_rule(group, evs_by_group.get(id(group)))
            for positions, cols in group.selections:
                rel = np.searchsorted(group.requested, cols)
                sub = grads[np.ix_(positions, rel)] if len(cols) else np.zeros((len(positions), 0))
                for pos, grad in zip(positions, sub, strict=True):
                    gradients[group.items[pos]] = grad
        metadata = [{"parameters": params} for params in prepared.parameters]
        opts = Options(**(options or {}))
        opts.update_options(precision=prepared.precision)
        return EstimatorGradientResult(gradients=gradients, metadata=metadata, options=opts)
