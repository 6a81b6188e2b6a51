"""Items of a gradient call grouped into one PUB per distinct circuit, deduplicated within.

``EstimatorQNN`` tiles one circuit over samples and observables; grouping by circuit and
keeping each distinct parameter row and observable once is what lets a whole backward pass
become one broadcast PUB per circuit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info.operators.base_operator import BaseOperator

from qiskit_unlearn.gradients.plan import CircuitPlan
from qiskit_unlearn.gradients.validation import GradientItems

__all__ = ["ItemGroup", "group_items", "same_operator"]


@dataclass
class ItemGroup:
    """Items of one ``run`` call that share a circuit (one PUB)."""

    plan: CircuitPlan
    items: list[int]
    rows: np.ndarray  # unique rows [n_rows, P]
    row_of: np.ndarray  # item -> row
    observables: list[BaseOperator]
    obs_of: np.ndarray  # item -> observable
    # item subsets sharing the requested parameter list: (positions in group, param indices)
    selections: list[tuple[np.ndarray, np.ndarray]]
    requested: np.ndarray  # union of requested param indices
    shifted: np.ndarray  # g indices to shift


def same_operator(a: BaseOperator, b: BaseOperator) -> bool:
    """Equality that never raises (operators of different types compare unequal)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _distinct_observables(observables: list[BaseOperator]) -> tuple[list[BaseOperator],
                                                                     np.ndarray]:
    """The distinct operators (by identity, then equality) and each item's index among them."""
    uniq_obs: list[BaseOperator] = []
    obs_pos: dict[int, int] = {}
    obs_of = np.empty(len(observables), dtype=int)
    for pos, obs in enumerate(observables):
        k = obs_pos.get(id(obs))
        if k is None:
            k = next((m for m, o in enumerate(uniq_obs) if same_operator(o, obs)), None)
            if k is None:
                k = len(uniq_obs)
                uniq_obs.append(obs)
            obs_pos[id(obs)] = k
        obs_of[pos] = k
    return uniq_obs, obs_of


def _group(plan: CircuitPlan, circuit: QuantumCircuit, items: list[int],
           request: GradientItems) -> ItemGroup:
    """One circuit's group: unique rows and observables, and which parameters each item wants."""
    values = request.parameter_values
    values = (
        np.asarray(values[items], dtype=float)
        if isinstance(values, np.ndarray)
        else np.asarray([values[i] for i in items], dtype=float)
    ).reshape(len(items), plan.num_params)
    rows, row_of = np.unique(values, axis=0, return_inverse=True)
    uniq_obs, obs_of = _distinct_observables([request.observables[i] for i in items])

    # By name: circuits sharing a plan share names, maybe not Parameter objects.
    index = {p.name: j for j, p in enumerate(circuit.parameters)}
    sel_pos: dict[int, list[int]] = {}
    sel_cols: dict[int, np.ndarray] = {}
    for pos, i in enumerate(items):
        params = request.parameters[i]
        if id(params) not in sel_cols:
            sel_cols[id(params)] = np.array([index[p.name] for p in params], dtype=int)
            sel_pos[id(params)] = []
        sel_pos[id(params)].append(pos)
    selections = [(np.array(sel_pos[k]), sel_cols[k]) for k in sel_cols]
    requested = np.unique(np.concatenate([c for _, c in selections] + [np.zeros(0, int)]))
    shifted = np.unique(
        np.concatenate([plan.descendants[j] for j in requested] + [np.zeros(0, int)])
    ).astype(int)
    return ItemGroup(
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


def group_items(request: GradientItems,
                plan_for: Callable[[QuantumCircuit], CircuitPlan]) -> list[ItemGroup]:
    """Group items by circuit (identity, then the plan ``plan_for`` gives) and deduplicate."""
    circuits = request.circuits
    by_id: dict[int, list[int]] = {}
    for i, circuit in enumerate(circuits):
        by_id.setdefault(id(circuit), []).append(i)
    by_plan: dict[int, tuple[CircuitPlan, list[int], QuantumCircuit]] = {}
    for items in by_id.values():
        plan = plan_for(circuits[items[0]])
        entry = by_plan.setdefault(id(plan), (plan, [], circuits[items[0]]))
        entry[1].extend(items)
    groups = []
    for plan, items, circuit in by_plan.values():
        items.sort()
        groups.append(_group(plan, circuit, items, request))
    return groups
