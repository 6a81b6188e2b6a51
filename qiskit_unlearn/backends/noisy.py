"""``noisy``: exact noisy expectations and gradients on the project's density-matrix engine.

The same noise vocabulary as ``aer-noisy`` (depolarizing, thermal relaxation, readout error, a
fake device's noise model), or any Aer ``NoiseModel`` (``noise_model=``): Pauli, amplitude and
phase damping, Kraus or ``SuperOp`` errors included. Values are exact (no shots) and the
gradient is reverse-mode (:class:`~qiskit_unlearn.engine.DensityMatrixGradient`), so a training
step costs a few forward passes however many parameters the circuit has, instead of the two
noisy circuits per parameter and sample of parameter shift on Aer.

With ``device``, the circuit is transpiled to the device's ISA like ``ibm`` / ``fake:`` and
cut to the qubits it uses, with the device's errors looked up on those physical qubits, so a
small model runs exactly under the noise of a 27- or 127-qubit device. Readout error is folded
into the observables (as ``aer-noisy`` does in exact mode). Noise the engine cannot simulate
exactly (non-local errors, errors on instructions it skips, correlated readout) is an error,
never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import transpile
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.base import BackendError, QNNParts, check_options, register_backend
from qiskit_unlearn.backends.ibm import layout_info, to_isa
from qiskit_unlearn.backends.ideal import compact
from qiskit_unlearn.backends.noise import (
    NOISE_OPTIONS,
    apply_readout_error,
    check_int,
    describe_noise,
    fake_backend,
    noise_source,
    readout_flips,
)
from qiskit_unlearn.engine import parse_memory_limit
from qiskit_unlearn.engine.density_estimator import DensityMatrixEstimator, DensityMatrixGradient

NOISY_OPTIONS: tuple[str, ...] = (*NOISE_OPTIONS, "noise_model", "memory_limit", "seed",
                                  "optimization_level")


@register_backend("noisy")
def noisy_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                  options: dict[str, Any]) -> QNNParts:
    """Exact density-matrix simulation under noise, with reverse-mode gradients."""
    for key in ("shots", "precision", "method"):
        if key in options:
            raise BackendError(f"backend 'noisy' is exact and takes no '{key}'; for shot noise "
                               "use backend 'aer-noisy' with shots=...")
    check_options("noisy", options, dict.fromkeys(NOISY_OPTIONS))
    limit = parse_memory_limit(options.get("memory_limit"))
    model, rates = noise_source("noisy", options)
    seed = options.get("seed")
    seed = None if seed is None else check_int("seed", seed, low=0)
    observables = list(observables)
    info: dict[str, Any] = {"exact": True, "gradient": "reverse-mode (density matrix)",
                            "simulator": "batched density matrix (qiskit-unlearn engine)",
                            "noise": describe_noise(rates),
                            "memory_limit": limit}
    physical = None
    if rates.get("device") is not None:
        device = fake_backend(rates["device"])
        level = check_int("optimization_level", options.get("optimization_level", 2), low=0,
                          high=3)
        isa, isa_observables = to_isa(circuit, observables, device, optimization_level=level,
                                      seed=seed)
        circuit, observables, physical = compact(isa, isa_observables)
        info.update(layout_info(isa, device), simulated_qubits=physical)
        flips = readout_flips(model, device.num_qubits)
        flips = {i: flips[p] for i, p in enumerate(physical) if p in flips}
    else:
        if "optimization_level" in options:
            raise BackendError("option 'optimization_level' applies to device noise only "
                               "(device=...)")
        circuit = transpile(circuit, basis_gates=model.basis_gates, optimization_level=0,
                            seed_transpiler=0 if seed is None else seed)
        flips = readout_flips(model, circuit.num_qubits)
    observables = [apply_readout_error(obs, flips) for obs in observables]
    info["readout_error"] = "folded into the observables" if flips else None
    estimator = DensityMatrixEstimator(model, physical=physical, memory_limit=limit)
    program = estimator.program(circuit)  # plans it: unsupported noise fails here
    program.footprint(1, 2).max_rows(limit)  # one reverse-sweep row must fit, checkpointed
    info["blocks"] = len(program.plan.blocks)
    return QNNParts(estimator=estimator, gradient=DensityMatrixGradient(estimator),
                    circuit=circuit, observables=observables, default_precision=0.0, info=info,
                    vjp=True)
