"""ISA circuits: transpile once for a device and map the observables through its layout.

Shared by every backend that runs a device's instruction set: ``ibm`` and ``fake:<device>``
(IBM Runtime), ``aer-noisy`` and ``noisy`` with a device's noise model, and ``ideal``. It sits
below them so none of them imports another backend for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import PauliList, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qiskit_unlearn.backends.base import BackendError

DEFAULT_OPTIMIZATION_LEVEL = 2


def check_fits(circuit: QuantumCircuit, backend: BackendV2) -> None:
    """Raise if ``circuit`` needs more qubits than ``backend`` has."""
    if circuit.num_qubits > backend.num_qubits:
        raise BackendError(
            f"the circuit needs {circuit.num_qubits} qubits but device '{backend.name}' has "
            f"{backend.num_qubits}; choose a larger device or a circuit with fewer qubits"
        )


def to_isa(
    circuit: QuantumCircuit,
    observables: Sequence[SparsePauliOp],
    backend: BackendV2,
    *,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
    seed: int | None = None,
) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    """Transpile to ``backend``'s ISA once and map observables through the layout.

    The transpiler seed defaults to 0 so that the layout (and hence the run) is reproducible.
    """
    check_fits(circuit, backend)
    manager = generate_preset_pass_manager(
        backend=backend, optimization_level=optimization_level,
        seed_transpiler=0 if seed is None else seed,
    )
    isa = manager.run(circuit)
    lost = sorted(p.name for p in set(circuit.parameters) - set(isa.parameters))
    if lost:
        raise BackendError(
            f"transpiling at optimization_level={optimization_level} removed parameters {lost}; "
            "use a lower optimization_level or check that those gates are not identities"
        )
    return isa, [obs.apply_layout(isa.layout) for obs in observables]


def layout_info(isa: QuantumCircuit, backend: BackendV2) -> dict[str, Any]:
    """Device facts for run manifests: name, width and where the virtual qubits went."""
    info: dict[str, Any] = {"device": backend.name, "num_physical_qubits": backend.num_qubits}
    if isa.layout is not None:
        info["layout"] = isa.layout.initial_index_layout(filter_ancillas=True)
        info["final_layout"] = isa.layout.final_index_layout(filter_ancillas=True)
    return info


def compact(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp]
            ) -> tuple[QuantumCircuit, list[SparsePauliOp], list[int]]:
    """``circuit`` on the qubits its gates touch only, and the observables restricted to them.

    An ISA circuit is as wide as its device; its idle qubits stay in |0⟩, so they can be
    dropped as long as no observable acts on them. Returns the kept physical qubits too.
    """
    active = sorted({circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits})
    position = {q: i for i, q in enumerate(active)}
    out = QuantumCircuit(len(active), global_phase=circuit.global_phase)
    for inst in circuit.data:
        out.append(inst.operation, [position[circuit.find_bit(q).index] for q in inst.qubits])
    idle = np.setdiff1d(np.arange(circuit.num_qubits), active)
    reduced = []
    for obs in observables:
        paulis = obs.paulis
        if (paulis.z[:, idle] | paulis.x[:, idle]).any():
            raise BackendError("an observable acts on a qubit the transpiled circuit never "
                               "touches; build observables for the circuit's own qubits")
        kept = PauliList.from_symplectic(paulis.z[:, active], paulis.x[:, active],
                                         paulis.phase)
        reduced.append(SparsePauliOp(kept, obs.coeffs))
    return out, reduced, active
