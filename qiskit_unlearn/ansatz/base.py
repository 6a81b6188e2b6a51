"""The :class:`Ansatz` record that every builder returns, plus building blocks they share.

Inputs and weights are kept as explicit, ordered lists instead of being guessed from parameter
names: ``make_qnn`` needs them in a fixed order to wire data columns and trainable weights, and an
unlearning method must know exactly which parameters it may change. ``metadata`` records the
builder and its keyword arguments so a checkpoint or a catalogue entry can rebuild the circuit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from qiskit.circuit import Parameter, QuantumCircuit

from qiskit_unlearn import validation

ENTANGLEMENTS = ("none", "linear", "ring", "full")


class AnsatzError(ValueError):
    """An ansatz that cannot be built or used as asked; the message says what to change."""


@dataclass
class Ansatz:
    """A parameterized circuit whose parameters are split into data inputs and weights.

    ``input_params`` and ``weight_params`` are disjoint and together are exactly
    ``circuit.parameters``; their order is the order of the QNN's input and weight vectors.
    ``metadata`` holds at least ``builder`` and ``kwargs`` (call ``builder(**kwargs)`` to rebuild)
    and ``encoding`` (``"angle"``: inputs take the data features directly; ``"amplitude"``: inputs
    take ``amplitude_encoding_angles(data)``).

    Attributes:
        name: Name of the ansatz (a catalogue name for reference ansätze).
        circuit: The parameterized circuit.
        input_params: Parameters bound to data, in the order of the QNN's input vector.
        weight_params: Trainable parameters, in the order of the QNN's weight vector.
        metadata: How the circuit was built: ``builder``, ``kwargs``, ``encoding`` and any
            builder-specific keys (e.g. ``input_dim`` for amplitude encoding).

    Raises:
        AnsatzError: If a parameter is listed twice, is both an input and a weight, is not in
            the circuit, or a circuit parameter is neither an input nor a weight.
    """

    name: str
    circuit: QuantumCircuit
    input_params: list[Parameter]
    weight_params: list[Parameter]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.input_params = list(self.input_params)
        self.weight_params = list(self.weight_params)
        _check_split(self.circuit, self.input_params, self.weight_params)

    @property
    def num_qubits(self) -> int:
        """Number of qubits of the circuit."""
        return self.circuit.num_qubits

    @property
    def num_inputs(self) -> int:
        """Number of data input parameters."""
        return len(self.input_params)

    @property
    def num_weights(self) -> int:
        """Number of trainable weight parameters."""
        return len(self.weight_params)

    def bind(self, inputs: ArrayLike, weights: ArrayLike) -> QuantumCircuit:
        """The circuit with every parameter bound: ``inputs`` and ``weights`` in declared order.

        Args:
            inputs: Values of :attr:`input_params`, in order (flattened; exactly
                :attr:`num_inputs` values).
            weights: Values of :attr:`weight_params`, in order (flattened; exactly
                :attr:`num_weights` values).

        Returns:
            A copy of the circuit with no free parameters.

        Raises:
            AnsatzError: If ``inputs`` or ``weights`` has the wrong number of values.
        """
        values = {}
        for kind, params, given in (("inputs", self.input_params, inputs),
                                    ("weights", self.weight_params, weights)):
            arr = np.asarray(given, dtype=float).ravel()
            if arr.size != len(params):
                raise AnsatzError(f"{self.name} takes {len(params)} {kind}, got {arr.size}")
            values.update(zip(params, arr.tolist(), strict=True))
        return self.circuit.assign_parameters(values)


def _check_split(circuit: QuantumCircuit, inputs: Sequence[Parameter],
                 weights: Sequence[Parameter]) -> None:
    for kind, params in (("input", inputs), ("weight", weights)):
        dups = [p.name for p, count in Counter(params).items() if count > 1]
        if dups:
            raise AnsatzError(f"{kind} parameters {sorted(dups)} are listed more than once")
    both = set(inputs) & set(weights)
    if both:
        raise AnsatzError(f"parameters {_names(both)} are both inputs and weights")
    in_circuit = set(circuit.parameters)
    declared = set(inputs) | set(weights)
    if declared - in_circuit:
        raise AnsatzError(f"parameters {_names(declared - in_circuit)} are not in the circuit")
    if in_circuit - declared:
        raise AnsatzError(
            f"circuit parameters {_names(in_circuit - declared)} are neither inputs nor weights"
        )


def _names(params: set[Parameter]) -> list[str]:
    return sorted(p.name for p in params)


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or an :class:`AnsatzError` naming the argument."""
    return validation.check_int(value, name, low=minimum, error=AnsatzError)


def entangling_pairs(num_qubits: int, entanglement: str) -> list[tuple[int, int]]:
    """Qubit pairs of an entangling layer, in application order.

    ``linear``: (0,1), (1,2), ...; ``ring``: linear plus (n-1, 0) when n > 2 (for two qubits the
    closing pair would repeat (0,1)); ``full``: every pair i < j; ``none``: no pairs.

    Args:
        num_qubits: Number of qubits n (at least 1).
        entanglement: One of :data:`ENTANGLEMENTS`: ``none``, ``linear``, ``ring`` or ``full``.

    Returns:
        The (control, target) qubit pairs, in the order the gates are applied.

    Raises:
        AnsatzError: If ``num_qubits`` is not an integer >= 1 or ``entanglement`` is unknown.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    if entanglement not in ENTANGLEMENTS:
        raise AnsatzError(
            f"entanglement must be one of {list(ENTANGLEMENTS)}, got {entanglement!r}"
        )
    if entanglement == "none":
        return []
    if entanglement == "full":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    pairs = [(i, i + 1) for i in range(n - 1)]
    if entanglement == "ring" and n > 2:
        pairs.append((n - 1, 0))
    return pairs
