"""``make_qnn``: one call from (circuit, observables, backend) to a ready ``EstimatorQNN``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn.backends.base import BackendConfig, BackendError, resolve_backend
from qiskit_unlearn.batched_qnn import BatchedEstimatorQNN
from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient
from qiskit_unlearn.qnn.routing import current_route
from qiskit_unlearn.vjp import VJPEstimatorQNN


def _as_sparse_pauli(observables: Sequence[BaseOperator | str] | BaseOperator | str,
                     num_qubits: int) -> list[SparsePauliOp]:
    if isinstance(observables, (BaseOperator, str)):
        observables = [observables]
    out = []
    for i, obs in enumerate(observables):
        op = SparsePauliOp(obs) if isinstance(obs, str) else SparsePauliOp.from_operator(obs) \
            if not isinstance(obs, SparsePauliOp) else obs
        if op.num_qubits != num_qubits:
            raise BackendError(
                f"observable {i} acts on {op.num_qubits} qubits but the circuit has {num_qubits}; "
                "build observables for the circuit's qubit count (e.g. z_observables(n))"
            )
        out.append(op)
    if not out:
        raise BackendError("at least one observable is needed")
    return out


def make_qnn(
    circuit: QuantumCircuit,
    *,
    input_params: Sequence[Parameter] | None = None,
    weight_params: Sequence[Parameter] | None = None,
    observables: Sequence[BaseOperator | str] | BaseOperator | str | None = None,
    backend: str | BackendConfig | Mapping[str, Any] | None = "statevector",
    input_gradients: bool = True,
    **backend_options: Any,
) -> EstimatorQNN:
    """Build an ``EstimatorQNN`` wired to the chosen backend's estimator and gradient.

    Args:
        circuit: Any parameterized ``QuantumCircuit`` (catalogue ansatz or your own).
        input_params: Parameters bound to data, in the order of the input vector; None means
            no inputs.
        weight_params: Trainable parameters, in the order of the weight vector; None means
            every parameter that is not an input (in ``circuit.parameters`` order).
        observables: One operator (or Pauli label) per QNN output, on all of the circuit's
            qubits; None means ``Z`` on every qubit.
        backend: ``"statevector"`` (exact, fast; default), ``"aer"``, ``"aer-noisy"``,
            ``"noisy"``, ``"ibm"``, ``"fake:<device>"``, ``"ideal:<device>"``, a mapping
            ``{"name": ..., **options}`` or a
            :class:`~qiskit_unlearn.backends.BackendConfig`.
        input_gradients: Compute gradients with respect to inputs (needed whenever trainable
            layers sit before the quantum layer in a ``TorchConnector`` model).
        **backend_options: Options of the backend (e.g. ``shots=1024``); unknown keys raise.

    Returns:
        An ``EstimatorQNN`` ready for ``TorchConnector``: on parameter-shift backends (Aer, IBM)
        the subclass ``BatchedEstimatorQNN`` (``qiskit_unlearn.batched_qnn``), which sends each
        forward pass as one PUB and, inside a ``QuantumLayer``, a training step's forward pass
        and gradient as one job; on the reverse-mode backends (``statevector``, ``noisy``) the
        subclass ``VJPEstimatorQNN`` (``qiskit_unlearn.vjp``), whose vector-Jacobian product
        ``VJPConnector`` uses for one reverse sweep per row. Its ``backend_info`` records the
        backend's name and details.

    Raises:
        ~qiskit_unlearn.errors.BackendError: If a parameter is neither input nor weight, is
            both, or is not in the circuit; an observable has the wrong width; the backend or
            an option is invalid; or a route (see :func:`routed_estimators`) is set for a
            backend that cannot be routed.
    """
    if not isinstance(circuit, QuantumCircuit):
        raise BackendError(f"circuit must be a qiskit QuantumCircuit, not {type(circuit).__name__}")
    input_params = list(input_params or [])
    if weight_params is None:
        inputs = set(input_params)
        weight_params = [p for p in circuit.parameters if p not in inputs]
    weight_params = list(weight_params)
    declared = set(input_params) | set(weight_params)
    missing = [p.name for p in circuit.parameters if p not in declared]
    if missing:
        raise BackendError(
            f"circuit parameters {missing} are neither inputs nor weights; pass them in "
            "input_params or weight_params"
        )
    extra = [p.name for p in declared if p not in set(circuit.parameters)]
    if extra:
        raise BackendError(f"parameters {sorted(extra)} are not in the circuit")
    if set(input_params) & set(weight_params):
        raise BackendError("a parameter cannot be both an input and a weight")
    if observables is None:
        n = circuit.num_qubits
        observables = [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], n) for q in range(n)]
    obs = _as_sparse_pauli(observables, circuit.num_qubits)

    config = BackendConfig.coerce(backend, **backend_options)
    factory, options = resolve_backend(config)
    parts = factory(circuit, obs, options)
    route = current_route()
    routed = None if route is None else route(parts.estimator, config.name)
    if routed is not None:
        if not isinstance(parts.gradient, BatchedParamShiftEstimatorGradient):
            raise BackendError(f"backend '{config.name}' cannot be routed (its gradient does not "
                               "go through the estimator); use a parameter-shift backend")
        parts.estimator = routed
        parts.gradient = BatchedParamShiftEstimatorGradient(routed,
                                                            precision=parts.gradient.precision)
    # Parameter-shift backends (Aer, IBM) get one-PUB forward passes and fused training steps;
    # backends whose gradient is reverse-mode and asks for it (``noisy``) get a vector-Jacobian
    # product: one reverse sweep per row for a torch backward pass (VJPConnector), full
    # Jacobians from backward() as usual.
    if isinstance(parts.gradient, BatchedParamShiftEstimatorGradient):
        cls = BatchedEstimatorQNN
    elif parts.vjp:
        cls = VJPEstimatorQNN
    else:
        cls = EstimatorQNN
    qnn = cls(
        circuit=parts.circuit,
        estimator=parts.estimator,
        observables=parts.observables,
        input_params=input_params,
        weight_params=weight_params,
        gradient=parts.gradient,
        input_gradients=input_gradients,
        default_precision=parts.default_precision,
    )
    qnn.backend_info = {"backend": config.name, **parts.info}  # type: ignore[attr-defined]
    return qnn
