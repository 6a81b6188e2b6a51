"""``ideal:<device>``: what a device would run, simulated exactly and without noise.

The circuit is transpiled to the device's ISA exactly as ``ibm`` / ``fake:<device>`` do it
(same pass manager, optimization level and seed), cut down to the qubits it uses, and run on
the exact statevector engine with the batched parameter-shift gradient. Values are the
noiseless ones, and every job has the same PUBs, shapes and parameter sets as on the device,
so a run on ``ideal:<device>`` counts what the device run would cost (``qunlearn hw
unlearn`` prices hardware unlearning this way) and checks that transpiling kept the function.

``ideal:fake_manila`` needs nothing; ``ideal:ibm_<name>`` reads the device's target with the
saved IBM account (no job is sent). Option ``memory_limit`` bounds every batch of the engine, as
on ``statevector``; a circuit whose cut-down ISA form cannot fit one row is refused here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import PauliList, SparsePauliOp

from qiskit_unlearn.backends.base import BackendError, QNNParts, check_options, register_backend
from qiskit_unlearn.backends.ibm import CHANNELS, runtime_device, runtime_service
from qiskit_unlearn.backends.isa import DEFAULT_OPTIMIZATION_LEVEL, layout_info, to_isa
from qiskit_unlearn.backends.noise import check_int, check_seed, fake_backend
from qiskit_unlearn.engine import FastStatevectorEstimator, check_memory, parse_memory_limit
from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient

IDEAL_OPTIONS: tuple[str, ...] = ("device", "optimization_level", "seed", "channel", "instance",
                                  "memory_limit")


def device_target(name: str, num_qubits: int, channel: str | None = None,
                  instance: str | None = None) -> BackendV2:
    """A fake device by name, or an IBM device (``ibm_*``) through the saved account."""
    if name.startswith("ibm"):
        if channel is not None and channel not in CHANNELS:
            raise BackendError(f"option 'channel' must be one of {', '.join(CHANNELS)}, "
                               f"got {channel!r}")
        return runtime_device(runtime_service(channel, instance), name, num_qubits)
    return fake_backend(name)


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


@register_backend("ideal", prefix=True)
def ideal_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                  options: dict[str, Any]) -> QNNParts:
    """The device's ISA circuit, exact and noiseless, with the device's job structure."""
    name = f"ideal:{options.get('device')}"
    check_options(name, options, dict.fromkeys(IDEAL_OPTIONS))
    seed = check_seed(options)
    level = check_int("optimization_level",
                      options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL), low=0, high=3)
    limit = parse_memory_limit(options.get("memory_limit"))
    device = device_target(str(options["device"]), circuit.num_qubits, options.get("channel"),
                           options.get("instance"))
    isa, isa_observables = to_isa(circuit, observables, device, optimization_level=level,
                                  seed=seed)
    small, small_observables, active = compact(isa, isa_observables)
    check_memory(small, small_observables, limit, adjoint=False)  # parameter shift: forward only
    estimator = FastStatevectorEstimator(memory_limit=limit)
    return QNNParts(
        estimator=estimator,
        gradient=BatchedParamShiftEstimatorGradient(estimator, precision=0.0),
        circuit=small,
        observables=small_observables,
        default_precision=0.0,
        info={**layout_info(isa, device), "exact": True, "optimization_level": level,
              "seed": seed, "simulated_qubits": active, "memory_limit": limit,
              "simulator": "batched statevector of the device's ISA circuit (noiseless)"},
    )
