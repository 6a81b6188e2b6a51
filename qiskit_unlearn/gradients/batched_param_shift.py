"""Parameter-shift estimator gradient that sends one broadcast PUB per distinct circuit.

``ParamShiftEstimatorGradient`` submits one PUB per (sample, observable, shifted parameter):
``EstimatorQNN`` tiles the same circuit over samples and observables, so a single backward pass
becomes tens of thousands of PUBs and each one pays the primitive's per-PUB overhead. Here every
``run`` call groups its items by circuit, deduplicates parameter rows and observables, and sends
``(gradient_circuit, observables[n_obs, 1, 1], values[n_rows, 2K, P_g])`` so the estimator
broadcasts to ``(n_obs, n_rows, 2K)`` expectation values in ONE job. The chain rule from the
unique-parameter gradient circuit back to the user's parameters is a matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import sympy
from qiskit.circuit import Parameter, ParameterExpression, QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.providers import Options
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit.transpiler.passes import TranslateParameterizedGates
from qiskit_machine_learning.algorithm_job import AlgorithmJob
from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult
from qiskit_machine_learning.gradients.param_shift.param_shift_estimator_gradient import (
    ParamShiftEstimatorGradient,
)
from qiskit_machine_learning.gradients.utils import GradientCircuit, _assign_unique_parameters
from qiskit_machine_learning.utils import circuit_cache_key

__all__ = ["BatchedParamShiftEstimatorGradient", "PreparedGradient", "validate_gradient_arguments"]

# Every gate here is exp(-i θ/2 P) with P² = I, so the ±π/2 two-term shift rule is exact. 'rz',
# 'rx', 'rzz' are kept as-is, so an ISA circuit (rz/sx/x/ecr/cz/cx) is never re-synthesised.
_SUPPORTED_GATES: tuple[str, ...] = tuple(ParamShiftEstimatorGradient.SUPPORTED_GATES)

# Vectorised evaluator: columns of the parameter-value matrix -> one value per row.
_RowFn = Callable[[np.ndarray], np.ndarray]


def _compile_expression(
    expr: ParameterExpression,
    index: dict[Parameter, int],
    *,
    wrt: Parameter | None = None,
    reference: ParameterExpression | None = None,
) -> _RowFn:
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


@dataclass
class _CircuitPlan:
    """Everything needed per distinct circuit, built once and cached by structural key.

    All indices refer to positions in ``circuit.parameters`` / ``gradient_circuit.parameters``,
    so the plan is reusable for any circuit with the same structure and parameter names.
    """

    gradient_circuit: QuantumCircuit
    num_params: int
    # g-parameter values: plain copies (g_idx, param_idx) and compiled expressions (g_idx, fn).
    value_copies: list[tuple[int, int]]
    value_exprs: list[tuple[int, _RowFn]]
    # Chain rule d g / d param: numeric part and value-dependent entries (param, g, fn).
    coeffs: np.ndarray
    coeff_exprs: list[tuple[int, int, _RowFn]]
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


def _build_plan(circuit: QuantumCircuit) -> tuple[_CircuitPlan, GradientCircuit]:
    """Unroll to shift-rule gates, give every gate angle its own parameter, precompute the maps."""
    unrolled = TranslateParameterizedGates(list(_SUPPORTED_GATES))(circuit)
    gc = _assign_unique_parameters(unrolled)
    g_circuit = gc.gradient_circuit
    index = {p: i for i, p in enumerate(circuit.parameters)}
    g_index = {g: k for k, g in enumerate(g_circuit.parameters)}
    num_p, num_g = len(index), len(g_index)

    value_copies: list[tuple[int, int]] = []
    value_exprs: list[tuple[int, _RowFn]] = []
    for g, expr in gc.gradient_parameter_map.items():
        k = g_index[g]
        if isinstance(expr, Parameter):
            value_copies.append((k, index[expr]))
        else:
            value_exprs.append((k, _compile_expression(expr, index)))

    coeffs = np.zeros((num_p, num_g))
    coeff_exprs: list[tuple[int, int, _RowFn]] = []
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
                fn = _compile_expression(angle, index, wrt=param, reference=coeff)
                coeff_exprs.append((j, k, fn))
            else:
                coeffs[j, k] += float(coeff)
        descendants[j] = np.array(sorted(set(desc)), dtype=int)
    plan = _CircuitPlan(
        gradient_circuit=g_circuit,
        num_params=num_p,
        value_copies=value_copies,
        value_exprs=value_exprs,
        coeffs=coeffs,
        coeff_exprs=coeff_exprs,
        descendants=descendants,
    )
    return plan, gc


@dataclass
class _Group:
    """Items of one ``run`` call that share a circuit (one PUB)."""

    plan: _CircuitPlan
    items: list[int]
    rows: np.ndarray  # unique rows [n_rows, P]
    row_of: np.ndarray  # item -> row
    observables: list[BaseOperator]
    obs_of: np.ndarray  # item -> observable
    # item subsets sharing the requested parameter list: (positions in group, param indices)
    selections: list[tuple[np.ndarray, np.ndarray]]
    requested: np.ndarray  # union of requested param indices
    shifted: np.ndarray  # g indices to shift


@dataclass
class PreparedGradient:
    """A gradient's PUBs, built but not run (see ``BatchedParamShiftEstimatorGradient.prepare``).

    ``pubs`` go to an estimator as they are; the results, in the same order, go to ``finish``.
    """

    num_items: int
    groups: list[_Group]
    pubs: list[tuple[Any, ...]]
    pub_groups: list[_Group]
    parameters: list[Sequence[Parameter]]
    precision: float | None
    evaluations: int


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


class BatchedParamShiftEstimatorGradient(BaseEstimatorGradient):
    """Parameter-shift gradient for any ``BaseEstimatorV2`` in one job, one PUB per circuit.

    Results (values, ordering, ``metadata``) match ``ParamShiftEstimatorGradient``. Gradient
    circuits only rename parameters of rz/rx/ry/rzz/... gates, so ISA circuits stay ISA and can be
    sent to IBM Runtime primitives; observables must already act on the circuit's qubits.

    Counters (cumulative, updated when a job executes): ``num_jobs`` primitive jobs submitted,
    ``num_pubs`` PUBs sent, ``num_circuit_evaluations`` expectation values requested (broadcast
    size summed over PUBs: observables x unique parameter rows x 2 shifts x shifted parameters).
    """

    SUPPORTED_GATES: ClassVar[tuple[str, ...]] = _SUPPORTED_GATES

    def __init__(
        self,
        estimator: BaseEstimatorV2,
        *,
        precision: float | None = None,
        options: Options | None = None,
    ) -> None:
        """
        Args:
            estimator: any V2 estimator (Aer, Statevector, BackendEstimatorV2, IBM Runtime).
            precision: target precision of every PUB; ``None`` uses the estimator's default,
                ``0.0`` requests exact values (StatevectorEstimator, Aer).
            options: recorded in the result's ``options`` (V2 estimators take no run options).
        """
        super().__init__(estimator, options=options)
        self._precision = precision
        self._plans: dict[str, _CircuitPlan] = {}
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

    def run(
        self,
        circuits: Sequence[QuantumCircuit] | QuantumCircuit,
        observables: Sequence[BaseOperator] | BaseOperator,
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter] | None] | None = None,
        *,
        precision: float | None = None,
        **options: Any,
    ) -> AlgorithmJob:
        """Submit the gradient job; validation is done once per distinct circuit.

        ``EstimatorQNN`` passes the same circuit object for every item, so per-item validation
        (as in the base class) would repeat identical checks hundreds of times.

        Args:
            circuits: circuits, one per item.
            observables: observables, one per item (acting on all of the circuit's qubits).
            parameter_values: one row of values per item, in ``circuit.parameters`` order.
            parameters: per item, the parameters to differentiate (``None``: all).
            precision: overrides the constructor's precision for this call.
            options: recorded in the result's ``options``.

        Returns:
            A job whose result is an ``EstimatorGradientResult``.

        Raises:
            ValueError: inconsistent lengths, qubit counts or unknown parameters.
        """
        if isinstance(circuits, QuantumCircuit):
            circuits = (circuits,)
        if isinstance(observables, BaseOperator):
            observables = (observables,)
        if parameters is None:
            parameters = [None] * len(circuits)
        resolved = validate_gradient_arguments(circuits, observables, parameter_values,
                                               parameters)
        opts = copy(self._default_options)
        opts.update_options(**options)
        prec = self._precision if precision is None else precision
        job = AlgorithmJob(
            self._run_batched, circuits, observables, parameter_values, resolved, prec,
            opts.__dict__,
        )
        job.submit()
        return job


    def _run(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter]],
        **options: Any,
    ) -> EstimatorGradientResult:
        """Base-class hook (unvalidated inputs); ``precision`` may be passed as an option."""
        precision = options.pop("precision", self._precision)
        return self._run_batched(
            circuits, observables, parameter_values, parameters, precision, options
        )

    def _plan_for(self, circuit: QuantumCircuit) -> _CircuitPlan:
        """Cached plan; the key adds parameter names because the structural key ignores them."""
        base_key = circuit_cache_key(circuit)
        key = base_key + "|" + ",".join(p.name for p in circuit.parameters)
        plan = self._plans.get(key)
        if plan is None:
            plan, gc = _build_plan(circuit)
            self._plans[key] = plan
            # Share with the base class cache so its helpers (e.g. ``_postprocess``) still work.
            self._gradient_circuit_cache[base_key] = gc
        return plan

    def _group(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter]],
    ) -> list[_Group]:
        """Group items by circuit (identity, then structural key) and deduplicate within."""
        by_id: dict[int, list[int]] = {}
        for i, circuit in enumerate(circuits):
            by_id.setdefault(id(circuit), []).append(i)
        by_plan: dict[int, tuple[_CircuitPlan, list[int], QuantumCircuit]] = {}
        for items in by_id.values():
            plan = self._plan_for(circuits[items[0]])
            entry = by_plan.setdefault(id(plan), (plan, [], circuits[items[0]]))
            entry[1].extend(items)

        is_array = isinstance(parameter_values, np.ndarray)
        groups = []
        for plan, items, circuit in by_plan.values():
            items.sort()
            values = (
                np.asarray(parameter_values[items], dtype=float)
                if is_array
                else np.asarray([parameter_values[i] for i in items], dtype=float)
            ).reshape(len(items), plan.num_params)
            rows, row_of = np.unique(values, axis=0, return_inverse=True)

            uniq_obs: list[BaseOperator] = []
            obs_pos: dict[int, int] = {}
            obs_of = np.empty(len(items), dtype=int)
            for pos, i in enumerate(items):
                obs = observables[i]
                k = obs_pos.get(id(obs))
                if k is None:
                    k = next((m for m, o in enumerate(uniq_obs) if _same_operator(o, obs)), None)
                    if k is None:
                        k = len(uniq_obs)
                        uniq_obs.append(obs)
                    obs_pos[id(obs)] = k
                obs_of[pos] = k

            # By name: circuits sharing a plan share names, maybe not Parameter objects.
            index = {p.name: j for j, p in enumerate(circuit.parameters)}
            sel_pos: dict[int, list[int]] = {}
            sel_cols: dict[int, np.ndarray] = {}
            for pos, i in enumerate(items):
                params = parameters[i]
                if id(params) not in sel_cols:
                    sel_cols[id(params)] = np.array([index[p.name] for p in params], dtype=int)
                    sel_pos[id(params)] = []
                sel_pos[id(params)].append(pos)
            selections = [(np.array(sel_pos[k]), sel_cols[k]) for k in sel_cols]
            requested = np.unique(np.concatenate([c for _, c in selections] + [np.zeros(0, int)]))
            shifted = np.unique(
                np.concatenate([plan.descendants[j] for j in requested] + [np.zeros(0, int)])
            ).astype(int)
            groups.append(
                _Group(
                    plan=plan,
                    items=items,
                    rows=rows,
                    row_of=np.asarray(row_of).reshape(-1),
                    observables=uniq_obs,
                    obs_of=obs_of,
                    selections=selections,
                    requested=requested.astype(int),
                    shifted=shifted,
                )
            )
        return groups

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
        its own (e.g. together with the forward pass) and :meth:`finish` the result.

        Arguments are those of :meth:`run` (validated the same way).
        """
        if parameters is None:
            parameters = [None] * len(circuits)
        resolved = validate_gradient_arguments(circuits, observables, parameter_values,
                                               parameters)
        prec = self._precision if precision is None else precision
        return self._prepare(circuits, observables, parameter_values, resolved, prec)

    def _prepare(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        resolved: Sequence[Sequence[Parameter]],
        precision: float | None,
    ) -> PreparedGradient:
        groups = self._group(circuits, observables, parameter_values, resolved)
        pubs, pub_groups = [], []
        evaluations = 0
        for group in groups:
            num_k = len(group.shifted)
            if num_k == 0:
                continue
            g_values = group.plan.gradient_values(group.rows)  # [n_rows, P_g]
            shifts = np.zeros((2 * num_k, g_values.shape[1]))
            shifts[np.arange(num_k), group.shifted] = np.pi / 2
            shifts[num_k + np.arange(num_k), group.shifted] = -np.pi / 2
            shifted_values = g_values[:, None, :] + shifts[None, :, :]  # [n_rows, 2K, P_g]
            obs_array = [[[obs]] for obs in group.observables]  # [n_obs, 1, 1]
            pubs.append((group.plan.gradient_circuit, obs_array, shifted_values))
            pub_groups.append(group)
            evaluations += len(group.observables) * shifted_values.shape[0] * 2 * num_k
        return PreparedGradient(len(circuits), groups, pubs, pub_groups, list(resolved),
                                precision, evaluations)

    def finish(self, prepared: PreparedGradient, pub_results: Sequence[Any],
               options: dict[str, Any] | None = None) -> EstimatorGradientResult:
        """Gradients from the estimator's results for ``prepared.pubs`` (in that order)."""
        if len(pub_results) != len(prepared.pubs):
            raise ValueError(f"expected {len(prepared.pubs)} PUB results, got "
                             f"{len(pub_results)}")
        self.num_pubs += len(prepared.pubs)
        self.num_circuit_evaluations += prepared.evaluations
        evs_by_group = {id(g): r.data.evs
                        for g, r in zip(prepared.pub_groups, pub_results, strict=True)}
        gradients: list[np.ndarray] = [np.zeros(0)] * prepared.num_items
        for group in prepared.groups:
            grads = self._chain_rule(group, evs_by_group.get(id(group)))
            for positions, cols in group.selections:
                rel = np.searchsorted(group.requested, cols)
                sub = grads[np.ix_(positions, rel)] if len(cols) else np.zeros((len(positions), 0))
                for pos, grad in zip(positions, sub, strict=True):
                    gradients[group.items[pos]] = grad
        metadata = [{"parameters": params} for params in prepared.parameters]
        opts = Options(**(options or {}))
        opts.update_options(precision=prepared.precision)
        return EstimatorGradientResult(gradients=gradients, metadata=metadata, options=opts)

    def _run_batched(
        self,
        circuits: Sequence[QuantumCircuit],
        observables: Sequence[BaseOperator],
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter]],
        precision: float | None,
        options: dict[str, Any],
    ) -> EstimatorGradientResult:
        prepared = self._prepare(circuits, observables, parameter_values, parameters,
                                 precision)
        pub_results: list[Any] = []
        if prepared.pubs:
            job = self._estimator.run(prepared.pubs, precision=prepared.precision)
            self.num_jobs += 1
            pub_results = list(job.result())
        return self.finish(prepared, pub_results, options)

    @staticmethod
    def _chain_rule(group: _Group, evs: np.ndarray | None) -> np.ndarray:
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


def _same_operator(a: BaseOperator, b: BaseOperator) -> bool:
    """Equality that never raises (operators of different types compare unequal)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False

