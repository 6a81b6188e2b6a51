"""``noisy``: exact noisy expectations and gradients on the project's density-matrix engine.

The same noise vocabulary as ``aer-noisy`` (depolarizing, thermal relaxation, readout error, a
fake device's noise model), or any Aer ``NoiseModel`` (``noise_model=``): Pauli, amplitude and
phase damping, Kraus or ``SuperOp`` errors included. Values are exact (no shots) and the
gradient is reverse-mode (:class:`~qiskit_unlearn.engine.DensityMatrixGradient`), so a training
step costs a few forward passes however many parameters the circuit has, instead of the two
noisy circuits per parameter and sample of parameter shift on Aer.

With ``device``, the circuit is transpiled to the device's ISA like ``ibm`` / ``fake:`` and
cut to the qubits it uses, with the device's errors looked up on those physical qubits, so a
small model runs exactly under the noise of a 27- or 127-qubit device. Routing a ring of 8
qubits on a heavy-hex device borrows ancillas (12 qubits for an 8-qubit ring on guadalupe: a
density matrix 256 times larger), so by default (``routing="compact"``) the circuit is routed
within a connected set of as many physical qubits as it has, grown from the transpiler's own
choice; ``routing="device"`` keeps the device-wide routing that ``fake:`` runs. Readout error
is folded into the observables (as ``aer-noisy`` does in exact mode). Noise the engine cannot
simulate exactly (non-local errors, errors on instructions it skips, correlated readout) is an
error, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import transpile
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.base import BackendError, QNNParts, check_options, register_backend
from qiskit_unlearn.backends.isa import compact, layout_info, to_isa
from qiskit_unlearn.backends.noise import (
    NOISE_OPTIONS,
    apply_readout_error,
    build_noise_model,
    check_int,
    describe_noise,
    fake_backend,
    noise_source,
    readout_flips,
)
from qiskit_unlearn.engine import parse_memory_limit
from qiskit_unlearn.engine.density_estimator import (
    WORKING_SET,
    DensityMatrixEstimator,
    DensityMatrixGradient,
)
from qiskit_unlearn.engine.lru import LRU
from qiskit_unlearn.engine.memory import default_memory_limit
from qiskit_unlearn.storage import canonical

NOISY_OPTIONS: tuple[str, ...] = (*NOISE_OPTIONS, "noise_model", "memory_limit", "seed",
                                  "optimization_level", "routing", "zne_factors", "zne_fit",
                                  "mitigate_readout")
#: ``routing`` values: within as many physical qubits as the circuit has, or device-wide.
ROUTINGS = ("compact", "device")


def scaled_rates(rates: dict[str, Any], factor: float) -> dict[str, Any]:
    """Gate noise stretched ``factor`` times (depolarizing rates × c, T1 and T2 ÷ c, which is
    gate times × c); readout error is not gate noise and stays (``mitigate_readout``)."""
    out = dict(rates)
    for key in ("depolarizing_1q", "depolarizing_2q"):
        if key in out:
            out[key] = float(out[key]) * factor
            if out[key] > 1:
                raise BackendError(f"zne factor {factor:g} scales {key}={rates[key]:g} above 1; "
                                   "use smaller factors or weaker noise")
    for key in ("t1", "t2"):
        if key in out:
            out[key] = float(out[key]) / factor
    return out


def _mitigation(options: dict[str, Any], rates: dict[str, Any]) -> tuple[list[float], str]:
    """The validated ``zne_factors`` (empty: no extrapolation) and ``zne_fit``."""
    from qiskit_unlearn.engine.zne import FITS

    factors, fit = options.get("zne_factors"), options.get("zne_fit", "richardson")
    if fit not in FITS:
        raise BackendError(f"option 'zne_fit' must be one of {', '.join(FITS)}, got {fit!r}")
    if factors is None:
        return [], fit
    ok = isinstance(factors, (list, tuple)) and len(factors) >= 2 and all(
        isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 1 for f in factors)
    if not ok or len(set(factors)) != len(factors):
        raise BackendError("option 'zne_factors' must list at least two distinct noise "
                           f"factors >= 1, e.g. [1, 1.5, 2, 3]; got {factors!r}")
    if not rates or rates.get("device") is not None:
        raise BackendError("zero-noise extrapolation scales the rate options exactly "
                           "(depolarizing, t1/t2); a device's or a user's noise model cannot "
                           "be stretched exactly: give the rates instead")
    if not {"depolarizing_1q", "depolarizing_2q", "t1"} & set(rates):
        raise BackendError("zne_factors scale gate noise, and there is none (only readout "
                           "error); use mitigate_readout=true for readout error")
    return sorted(float(f) for f in factors), fit


_DEVICE_CIRCUITS = LRU(16)


def _connected_subset(device: Any, start: list[int], size: int) -> list[int]:
    """``size`` physical qubits connected on the device's coupling graph: breadth-first from
    the transpiler's first layout qubit, visiting the qubits it chose first."""
    graph = device.coupling_map.graph.to_undirected(multigraph=False)
    preferred = set(start)
    seen, queue = [start[0]], [start[0]]
    while queue and len(seen) < size:
        node = queue.pop(0)
        for nxt in sorted(graph.neighbors(node), key=lambda q: (q not in preferred, q)):
            if nxt not in seen and len(seen) < size:
                seen.append(nxt)
                queue.append(nxt)
    return sorted(seen)


def _route_compact(circuit: QuantumCircuit, observables: list[SparsePauliOp], device: Any,
                   isa: QuantumCircuit, level: int, seed: int | None) -> tuple:
    """Re-route ``circuit`` inside a connected set of ``circuit.num_qubits`` physical qubits:
    the cut circuit, its observables, the physical qubits and the layout facts."""
    from qiskit.transpiler import generate_preset_pass_manager

    chosen = isa.layout.initial_index_layout(filter_ancillas=True)
    subset = _connected_subset(device, chosen, circuit.num_qubits)
    manager = generate_preset_pass_manager(
        optimization_level=level, basis_gates=list(device.operation_names),
        coupling_map=device.coupling_map.reduce(subset),
        seed_transpiler=0 if seed is None else seed)
    routed = manager.run(circuit)
    routed_observables = [obs.apply_layout(routed.layout) for obs in observables]
    small, small_observables, active = compact(routed, routed_observables)
    physical = [subset[a] for a in active]
    layout = layout_info(routed, device)  # positions in the subset: renamed to device qubits
    for key in ("layout", "final_layout"):
        if key in layout:
            layout[key] = [subset[i] for i in layout[key]]
    return small, small_observables, physical, {**layout, "routing": "compact"}


def _on_device(circuit: QuantumCircuit, observables: list[SparsePauliOp], name: str,
               model: Any, level: int, seed: int | None, routing: str) -> tuple:
    """The circuit transpiled to the device's ISA and cut to the qubits it uses, its
    observables, those physical qubits, the layout facts and their readout flips.

    Transpiling for a large device takes about a second and every copy of a model rebuilds its
    QNN, so the result is kept per circuit structure and device, with the parameters of the
    circuit at hand bound in (copies have equal parameter names, not equal parameters).
    """
    from qiskit_unlearn.engine.density_plan import circuit_key
    from qiskit_unlearn.engine.estimator import observable_key

    key = (circuit_key(circuit), tuple(observable_key(o) for o in observables), name, level,
           seed, routing)

    def make() -> tuple:
        device = fake_backend(name)
        isa, isa_observables = to_isa(circuit, observables, device, optimization_level=level,
                                      seed=seed)
        small, small_observables, physical = compact(isa, isa_observables)
        layout = {**layout_info(isa, device), "routing": routing}
        if routing == "compact" and len(physical) > circuit.num_qubits:
            small, small_observables, physical, layout = _route_compact(
                circuit, observables, device, isa, level, seed)
        flips = readout_flips(model, device.num_qubits)
        flips = {i: flips[p] for i, p in enumerate(physical) if p in flips}
        return small, list(circuit.parameters), small_observables, physical, layout, flips

    small, params, small_observables, physical, layout, flips = \
        _DEVICE_CIRCUITS.get_or_make(key, make)
    mapping = dict(zip(params, circuit.parameters, strict=True))
    return (small.assign_parameters(mapping), list(small_observables), list(physical),
            dict(layout), dict(flips))


@register_backend("noisy")
def noisy_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                  options: dict[str, Any]) -> QNNParts:
    """Exact density-matrix simulation under noise, with reverse-mode gradients."""
    for key in ("shots", "precision", "method"):
        if key in options:
            raise BackendError(f"backend 'noisy' is exact and takes no '{key}'; for shot noise "
                               "use backend 'aer-noisy' with shots=...")
    check_options("noisy", options, dict.fromkeys(NOISY_OPTIONS))
    given = options.get("memory_limit")
    limit = parse_memory_limit(given) if given is not None else \
        min(default_memory_limit(), WORKING_SET)
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
        level = check_int("optimization_level", options.get("optimization_level", 2), low=0,
                          high=3)
        routing = options.get("routing", "compact")
        if routing not in ROUTINGS:
            raise BackendError(f"option 'routing' must be one of {list(ROUTINGS)} (compact: "
                               "route within as many physical qubits as the circuit has; "
                               f"device: device-wide, ancillas allowed), got {routing!r}")
        circuit, observables, physical, layout, flips = _on_device(
            circuit, observables, rates["device"], model, level, seed, routing)
        info.update(layout, simulated_qubits=physical)
    else:
        for key in ("optimization_level", "routing"):
            if key in options:
                raise BackendError(f"option '{key}' applies to device noise only "
                                   "(device=...)")
        circuit = transpile(circuit, basis_gates=model.basis_gates, optimization_level=0,
                            seed_transpiler=0 if seed is None else seed)
        flips = readout_flips(model, circuit.num_qubits)
    mitigate_readout = options.get("mitigate_readout", False)
    if not isinstance(mitigate_readout, bool):
        raise BackendError(f"option 'mitigate_readout' must be true or false, got "
                           f"{mitigate_readout!r}")
    if flips and not mitigate_readout:
        observables = [apply_readout_error(obs, flips) for obs in observables]
    info["readout_error"] = None if not flips else \
        "mitigated (inverted exactly)" if mitigate_readout else "folded into the observables"
    factors, fit = _mitigation(options, rates)
    scales = factors or [1.0]
    models = [build_noise_model(**scaled_rates(rates, c)) for c in factors] or [model]
    keys = [canonical(scaled_rates(rates, c)) if rates else None for c in scales]
    estimators = [DensityMatrixEstimator(m, physical=physical, memory_limit=limit, noise_key=k)
                  for m, k in zip(models, keys, strict=True)]
    for estimator in estimators:
        program = estimator.program(circuit)  # plans it: unsupported noise fails here
        program.footprint(1, 2).max_rows(limit)  # one reverse-sweep row must fit
    info["blocks"] = len(program.plan.blocks)
    gradients = [DensityMatrixGradient(e) for e in estimators]
    if factors:
        from qiskit_unlearn.engine.zne import ZNEEstimator, ZNEGradient

        zne = ZNEEstimator(estimators, factors, fit)
        info.update(zne_factors=factors, zne_fit=fit)
        return QNNParts(estimator=zne, gradient=ZNEGradient(zne, gradients), circuit=circuit,
                        observables=observables, default_precision=0.0, info=info, vjp=True)
    return QNNParts(estimator=estimators[0], gradient=gradients[0], circuit=circuit,
                    observables=observables, default_precision=0.0, info=info, vjp=True)
