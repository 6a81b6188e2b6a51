"""``aer`` and ``aer-noisy``: Aer simulation, exact or with real shot sampling.

Aer's ``EstimatorV2`` always computes exact expectation values (``save_expectation_value``) and,
for ``precision > 0``, adds Gaussian noise ``N(ev, precision)`` to them: that is not shot
sampling (no measurement, no readout error, no binomial statistics, and with a seed it reuses the
same draws for every PUB). So:

* exact (no ``shots``/``precision``): Aer ``EstimatorV2`` at precision 0.0 (``default_precision``
  0.0, so ``EstimatorQNN`` does not add noise to the forward pass);
* ``shots``/``precision``: ``qiskit.primitives.BackendEstimatorV2`` on an ``AerSimulator``, which
  measures each qubit-wise-commuting Pauli group with ``ceil(1/precision²)`` shots;
  ``shots=N`` is turned into the precision that runs exactly N shots.

``aer-noisy`` simulates an Aer ``NoiseModel`` (see :mod:`qiskit_unlearn.backends.noise`): exactly
with the density-matrix method (readout error folded into the observables), or with shots (gate
noise sampled per shot, readout error on the real measurements).

Both check at construction that Aer's state fits ``memory_limit`` (default 75% of the available
RAM): ``16 * 2**n`` bytes for a statevector (``aer``, and ``aer-noisy`` with shots; Aer drops
the qubits that neither a gate nor an observable touches), ``16 * 4**n`` for the exact density
matrix of ``aer-noisy`` (as wide as the device, like its 12-qubit cap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import transpile
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BackendEstimatorV2, BaseEstimatorV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

from qiskit_unlearn.backends.base import BackendError, QNNParts, check_options, register_backend
from qiskit_unlearn.backends.isa import layout_info, to_isa
from qiskit_unlearn.backends.noise import (
    DEFAULT_PRECISION,
    NOISE_OPTIONS,
    apply_readout_error,
    check_seed,
    describe_noise,
    fake_backend,
    noise_source,
    readout_flips,
    shot_precision,
    shots_for_precision,
)
from qiskit_unlearn.engine.memory import (
    AMPLITUDE,
    format_bytes,
    parse_memory_limit,
    raise_limit_hint,
)
from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient

AER_OPTIONS: tuple[str, ...] = ("shots", "precision", "seed", "memory_limit")
NOISY_OPTIONS: tuple[str, ...] = (*AER_OPTIONS, "method", *NOISE_OPTIONS, "noise_model")
METHODS = ("density_matrix", "shots")
#: Widest circuit simulated as an exact density matrix (4^12 amplitudes = 256 MiB).
MAX_DENSITY_MATRIX_QUBITS = 12


def _aer_runnable(circuit: QuantumCircuit) -> QuantumCircuit:
    """Decompose instructions Aer cannot run (library blocks, custom gates), once."""
    target = AerSimulator().target
    if all(inst.operation.name in target.operation_names for inst in circuit.data):
        return circuit
    return transpile(circuit, target=target, optimization_level=0)


def _estimator(precision: float | None, seed: int | None,
               noise_model: NoiseModel | None) -> BaseEstimatorV2:
    """Exact Aer estimator (density matrix if noisy) or a shot-sampling one."""
    if precision is None:
        backend_options: dict[str, Any] = {}
        if noise_model is not None:
            backend_options = {"method": "density_matrix", "noise_model": noise_model}
        return AerEstimatorV2(options={"default_precision": 0.0,
                                       "backend_options": backend_options})
    simulator = AerSimulator(noise_model=noise_model)
    return BackendEstimatorV2(backend=simulator,
                              options={"default_precision": precision, "seed_simulator": seed})


def _parts(circuit: QuantumCircuit, observables: list[SparsePauliOp], precision: float | None,
           seed: int | None, noise_model: NoiseModel | None, info: dict[str, Any]) -> QNNParts:
    estimator = _estimator(precision, seed, noise_model)
    exact = precision is None
    method = "shots" if not exact else "statevector" if noise_model is None else "density_matrix"
    info = {
        "simulator": "aer",
        "method": method,
        "exact": exact,
        "shots": None if exact else shots_for_precision(precision),
        "precision": 0.0 if exact else precision,
        "seed": seed,
        **info,
    }
    return QNNParts(
        # make_qnn wraps these in a BatchedEstimatorQNN: one broadcast PUB per forward pass
        estimator=estimator,
        gradient=BatchedParamShiftEstimatorGradient(estimator, precision=info["precision"]),
        circuit=circuit,
        observables=observables,
        default_precision=info["precision"],
        info=info,
    )


def _active_qubits(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp]) -> int:
    """Qubits Aer simulates: those a gate or an observable touches (it drops the others)."""
    used = {circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits}
    for obs in observables:
        used.update(int(q) for q in (obs.paulis.x | obs.paulis.z).any(axis=0).nonzero()[0])
    return len(used)


def _check_memory(name: str, num_qubits: int, limit: int, *, density_matrix: bool) -> None:
    """Refuse, before Aer allocates it, a state larger than ``limit``."""
    kind = "density matrix" if density_matrix else "statevector"
    need = AMPLITUDE << (2 * num_qubits if density_matrix else num_qubits)
    if need <= limit:
        return
    fixes = ["use fewer qubits", raise_limit_hint(need),
             f"pass shots=... (one statevector of {format_bytes(AMPLITUDE << num_qubits)})"
             if density_matrix else "run it on hardware (backend=\"ibm\")"]
    raise BackendError(
        f"backend '{name}' keeps a {num_qubits}-qubit {kind} of {need} bytes "
        f"({format_bytes(need)}), over the memory limit of {limit} bytes ({format_bytes(limit)}); "
        f"{', '.join(filter(None, fixes[:-1]))}, or {fixes[-1]}"
    )


def _checked(name: str, options: dict[str, Any],
             allowed: Sequence[str]) -> tuple[float | None, int | None]:
    """Reject unknown options; return (precision or None for exact, seed)."""
    check_options(name, options, dict.fromkeys(allowed))
    return shot_precision(name, options), check_seed(options)


@register_backend("aer", exact=True)
def aer_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                options: dict[str, Any]) -> QNNParts:
    """Noiseless Aer: exact by default, shot-sampled with ``shots`` or ``precision``."""
    precision, seed = _checked("aer", options, AER_OPTIONS)
    limit = parse_memory_limit(options.get("memory_limit"))
    _check_memory("aer", _active_qubits(circuit, observables), limit, density_matrix=False)
    return _parts(_aer_runnable(circuit), list(observables), precision, seed, None,
                  {"memory_limit": limit})


@register_backend("aer-noisy")
def aer_noisy_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                      options: dict[str, Any]) -> QNNParts:
    """Aer with a noise model; exact density-matrix expectations unless shots are asked for."""
    precision, seed = _checked("aer-noisy", options, NOISY_OPTIONS)
    limit = parse_memory_limit(options.get("memory_limit"))
    method = options.get("method", "density_matrix" if precision is None else "shots")
    if method not in METHODS:
        raise BackendError(f"option 'method' must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "density_matrix" and precision is not None:
        raise BackendError("method='density_matrix' computes exact expectations and takes no "
                           "shots/precision; drop them or use method='shots'")
    if method == "shots" and precision is None:
        precision = DEFAULT_PRECISION
    noise_model, noise_options = noise_source("aer-noisy", options)
    device = fake_backend(noise_options["device"]) if "device" in noise_options else None
    width = circuit.num_qubits if device is None else device.num_qubits
    if precision is None and width > MAX_DENSITY_MATRIX_QUBITS:
        raise BackendError(
            f"exact noisy simulation keeps a {width}-qubit density matrix, over the "
            f"{MAX_DENSITY_MATRIX_QUBITS}-qubit limit; pass shots=... (idle qubits are then "
            "dropped) or use a smaller device such as 'manila'"
        )
    if precision is None:
        _check_memory("aer-noisy", width, limit, density_matrix=True)
    observables = list(observables)
    info: dict[str, Any] = {"noise": describe_noise(noise_options), "memory_limit": limit}
    if device is not None:
        circuit, observables = to_isa(circuit, observables, device, seed=seed)
        info.update(layout_info(circuit, device))
    else:
        circuit = transpile(circuit, basis_gates=noise_model.basis_gates, optimization_level=0)
    if precision is None:
        flips = readout_flips(noise_model, circuit.num_qubits)
        observables = [apply_readout_error(obs, flips) for obs in observables]
        info["readout_error"] = "folded into the observables" if flips else None
    else:  # shots: one statevector of the qubits the run touches
        _check_memory("aer-noisy", _active_qubits(circuit, observables), limit,
                      density_matrix=False)
    return _parts(circuit, observables, precision, seed, noise_model, info)
