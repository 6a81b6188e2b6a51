"""From a model to Estimator PUBs and back: circuit values in, logits out.

A model's quantum layer is one ``EstimatorQNN``: a circuit with input parameters (set per
sample by ``model.encode(x)``) and weight parameters (fixed by the trained model). One PUB
evaluates many samples: ``(isa_circuit, observables[n_obs, 1], values[n_samples, P])``
broadcasts to expectation values of shape ``(n_obs, n_samples)``, which ``model.decode`` turns
into logits. Parameter columns follow ``isa_circuit.parameters`` and are matched by name, so
models that share a circuit structure (every model of a run) share one ISA circuit. A sample
that several splits (or scenarios) of one model share is one row: :func:`distinct_rows`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.hardware.base import HardwareError
from qiskit_unlearn.storage import digest


@dataclass
class QuantumPart:
    """What a model sends to the device: its logical circuit, observables and fixed weights."""

    circuit: QuantumCircuit
    observables: list[SparsePauliOp]
    input_names: list[str]
    weights: dict[str, float]
    fingerprint: str

    @property
    def num_observables(self) -> int:
        return len(self.observables)


def fingerprint(circuit: QuantumCircuit, observables: list[SparsePauliOp]) -> str:
    """A short digest of a circuit's gates (by parameter *name*) and its observables.

    Rebuilt models have fresh ``Parameter`` objects, so identity cannot tell that two models
    share a circuit; names, qubits and gate order can.
    """
    h = hashlib.sha256(str(circuit.num_qubits).encode())
    for inst in circuit.data:
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        h.update(repr((inst.operation.name, qubits, [str(p) for p in inst.operation.params]))
                 .encode())
    for obs in observables:
        h.update(repr((obs.paulis.to_labels(), obs.coeffs.tolist())).encode())
    return h.hexdigest()[:16]


def quantum_part(model: torch.nn.Module) -> QuantumPart:
    """The circuit side of a quantum model (``quantum_layer``); classical models are refused."""
    layer = getattr(model, "quantum_layer", None)
    if layer is None:
        raise HardwareError(f"{type(model).__name__} has no quantum layer to run on a device")
    qnn = layer.qnn
    weights = layer.connector.weight.detach().double().numpy()
    observables = list(qnn.observables)
    return QuantumPart(
        circuit=qnn.circuit,
        observables=observables,
        input_names=[p.name for p in qnn.input_params],
        weights={p.name: float(w) for p, w in zip(qnn.weight_params, weights, strict=True)},
        fingerprint=fingerprint(qnn.circuit, observables),
    )


def model_sha256(model: torch.nn.Module) -> str:
    """Digest of what a model computes: its class, build spec and every tensor of its state.

    Two checkpoint files of one model (a teacher that scenarios share) can differ in bytes
    (``torch.save`` names its archive after the file), so a distinct model is told by content.
    """
    state = [part for name, tensor in model.state_dict().items()
             for part in (name, tensor.detach().cpu().numpy())]
    return digest(type(model).__name__, getattr(model, "spec", None), *state)


def distinct_rows(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every distinct sample (row, compared by its bytes) of ``arrays`` once, in first-seen
    order, and for each array the index of each of its rows among them.

    Samples are compared before ``model.encode``, whose float rounding may depend on the batch.
    """
    first: dict[bytes, int] = {}
    samples: list[np.ndarray] = []
    positions = []
    for array in arrays:
        flat = np.ascontiguousarray(array).reshape(len(array), -1)
        where = np.empty(len(array), dtype=np.int64)
        for i, row in enumerate(flat):
            where[i] = first.setdefault(row.tobytes(), len(samples))
            if where[i] == len(samples):
                samples.append(array[i])
        positions.append(where)
    if not samples:
        raise HardwareError("there are no samples to send: every split asked for is empty")
    return np.stack(samples), positions


@torch.no_grad()
def circuit_inputs(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """``model.encode(x)`` as float64 (what the simulation's ``TorchConnector`` binds)."""
    return model.encode(torch.as_tensor(np.asarray(x), dtype=torch.float32)) \
        .to(torch.float32).double().numpy()


def parameter_values(isa: QuantumCircuit, part: QuantumPart, inputs: np.ndarray) -> np.ndarray:
    """Rows of ``isa``'s parameter values: the sample's inputs next to the fixed weights."""
    if inputs.ndim != 2 or inputs.shape[1] != len(part.input_names):
        raise HardwareError(f"encoded inputs have shape {inputs.shape}; the circuit takes "
                            f"{len(part.input_names)} input values per sample")
    column = {name: i for i, name in enumerate(part.input_names)}
    values = np.empty((len(inputs), isa.num_parameters))
    for j, param in enumerate(isa.parameters):
        if param.name in column:
            values[:, j] = inputs[:, column[param.name]]
        elif param.name in part.weights:
            values[:, j] = part.weights[param.name]
        else:
            raise HardwareError(f"ISA circuit parameter {param.name!r} is neither an input nor "
                                "a weight of the model; the circuits do not match")
    return values


def observables_column(observables: list[SparsePauliOp]) -> list[list[SparsePauliOp]]:
    """Observables shaped ``(n_obs, 1)`` so they broadcast against ``(n_samples, P)`` values."""
    return [[obs] for obs in observables]


def measurement_bases(observables: list[SparsePauliOp]) -> int:
    """Qubit-wise commuting groups: distinct circuits the Estimator runs per parameter set."""
    from qiskit_unlearn.qnn.jobs import measurement_bases as bases

    return bases(label for obs in observables for label in obs.paulis.to_labels())


@torch.no_grad()
def logits_from_expectations(model: torch.nn.Module, evs: np.ndarray) -> np.ndarray:
    """``model.decode`` of expectation values shaped ``(n_obs, n_samples)``: float64 logits."""
    expectations = torch.as_tensor(np.asarray(evs).T, dtype=torch.float32)
    return model.decode(expectations).double().numpy()
