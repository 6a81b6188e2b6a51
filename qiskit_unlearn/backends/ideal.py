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

from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.account import ibm_device
from qiskit_unlearn.backends.base import QNNParts, check_options, register_backend
from qiskit_unlearn.backends.isa import DEFAULT_OPTIMIZATION_LEVEL, compact, layout_info, to_isa
from qiskit_unlearn.backends.noise import check_int, check_seed, fake_backend
from qiskit_unlearn.engine import FastStatevectorEstimator, check_memory, parse_memory_limit
from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient

IDEAL_OPTIONS: tuple[str, ...] = ("device", "optimization_level", "seed", "channel", "instance",
                                  "memory_limit")


def device_target(name: str, num_qubits: int, channel: str | None = None,
                  instance: str | None = None) -> BackendV2:
    """A fake device by name, or an IBM device (``ibm_*``) through the saved account."""
    if name.startswith("ibm"):
        return ibm_device(name, num_qubits, channel, instance)
    return fake_backend(name)



@register_backend("ideal", prefix=True, exact=True)
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
