"""``ibm`` and ``fake:<device>``: IBM Runtime ``EstimatorV2`` on ISA circuits transpiled once.

Both backends share everything after "which device": the circuit is transpiled ONCE with a preset
pass manager (not on every backward pass), observables are mapped through its layout, and the
batched parameter-shift gradient sends each backward pass as one job. ``fake:<device>`` runs the
same code in IBM Runtime local testing mode (Aer with the device's noise model, shot-based), so
tests exercise the ``ibm`` path without network or credentials.

Credentials come only from the user's saved account (``~/.qiskit/qiskit-ibm.json``) or the
``QISKIT_IBM_TOKEN`` / ``QISKIT_IBM_INSTANCE`` / ``QISKIT_IBM_CHANNEL`` environment variables,
which ``QiskitRuntimeService()`` reads itself; this module never sees, prints or stores a token.

``mode="batch"``/``"session"`` open a ``Batch``/``Session`` that stays open until closed: call
:func:`close_execution_mode` (or ``qnn.estimator.mode.close()``) when training is done.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp

from qiskit_unlearn.backends.account import (  # noqa: F401  (ibm.runtime_* stay importable)
    CHANNELS,
    ibm_device,
    runtime_device,
    runtime_service,
)
from qiskit_unlearn.backends.base import (
    BackendError,
    QNNParts,
    check_options,
    is_validating,
    register_backend,
)
from qiskit_unlearn.backends.isa import (  # noqa: F401  (ibm.to_isa etc. stay importable)
    DEFAULT_OPTIMIZATION_LEVEL,
    check_fits,
    layout_info,
    to_isa,
)
from qiskit_unlearn.backends.noise import (
    DEFAULT_PRECISION,
    check_int,
    check_seed,
    fake_backend,
    shot_precision,
    shots_for_precision,
)
from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient

_RUNTIME_OPTIONS = ("shots", "precision", "seed", "optimization_level", "mode",
                    "resilience_level", "options")
IBM_OPTIONS: tuple[str, ...] = (*_RUNTIME_OPTIONS, "device", "instance", "channel")
FAKE_OPTIONS: tuple[str, ...] = (*_RUNTIME_OPTIONS, "device")
MODES = ("job", "batch", "session")
# --- option parsing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _RuntimeSettings:
    precision: float
    seed: int | None
    optimization_level: int
    mode: str
    resilience_level: int | None
    estimator_options: dict[str, Any]


def runtime_settings(backend: str, options: Mapping[str, Any], *, local: bool) -> _RuntimeSettings:
    """Validate every option before anything touches the network."""
    seed = check_seed(options)
    if local and seed == 0:
        raise BackendError(
            "IBM Runtime local testing mode ignores seed=0 (it treats 0 as 'no seed'); "
            "use a positive seed"
        )
    precision = shot_precision(backend, options) or DEFAULT_PRECISION
    level = check_int("optimization_level",
                      options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL), low=0, high=3)
    mode = options.get("mode", "job")
    if mode not in MODES:
        raise BackendError(f"option 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    resilience = options.get("resilience_level")
    if resilience is not None:
        resilience = check_int("resilience_level", resilience, low=0, high=2)
    user = options.get("options") or {}
    if not isinstance(user, Mapping):
        raise BackendError(
            "option 'options' must be a dict of EstimatorV2 options, e.g. "
            f"{{'dynamical_decoupling': {{'enable': True}}}}; got {type(user).__name__}"
        )
    for key in ("default_shots", "default_precision"):
        if key in user:
            raise BackendError(f"set shots/precision with the backend's 'shots' or 'precision' "
                               f"option, not options['{key}']")
    est = copy.deepcopy(dict(user))
    _merge(est, ("default_precision",), precision)
    if resilience is not None:
        _merge(est, ("resilience_level",), resilience)
    if seed is not None:
        _merge(est, ("simulator", "seed_simulator") if local else ("seed_estimator",), seed)
    return _RuntimeSettings(precision, seed, level, mode, est.get("resilience_level"), est)


def _merge(options: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``options[path] = value`` unless the user's ``options`` already say otherwise."""
    *parents, leaf = path
    node = options
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise BackendError(f"options['{key}'] must be a dict")
    if leaf in node and node[leaf] != value:
        raise BackendError(
            f"options['{'.'.join(path)}']={node[leaf]!r} conflicts with the backend option "
            f"that sets it to {value!r}; give it once"
        )
    node[leaf] = value


# --- parts ------------------------------------------------------------------------------------

def open_execution_mode(mode: str, backend: BackendV2) -> Any:
    """The device itself (job mode) or a new ``Batch`` / ``Session`` on it; while a config is
    only being checked (:func:`~qiskit_unlearn.backends.base.validating`), job mode, so a check
    never leaves a batch open on IBM's side."""
    if mode == "job" or is_validating():
        return backend
    from qiskit_ibm_runtime import Batch, Session

    try:
        return (Batch if mode == "batch" else Session)(backend=backend)
    except Exception as exc:
        raise BackendError(
            f"could not open a {mode} on '{backend.name}' ({type(exc).__name__}: {exc}); "
            "Open-plan accounts cannot run sessions: use mode='batch' or mode='job'"
        ) from exc


def _runtime_parts(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                   backend: BackendV2, settings: _RuntimeSettings, *, local: bool) -> QNNParts:
    from qiskit_ibm_runtime import EstimatorV2

    isa, isa_observables = to_isa(circuit, observables, backend,
                                  optimization_level=settings.optimization_level,
                                  seed=settings.seed)
    mode = open_execution_mode(settings.mode, backend)
    try:
        estimator = EstimatorV2(mode=mode, options=copy.deepcopy(settings.estimator_options))
    except (ValueError, TypeError) as exc:
        if mode is not backend:
            mode.close()
        raise BackendError(
            f"invalid IBM Runtime EstimatorV2 options {settings.estimator_options} (see "
            f"qiskit_ibm_runtime.options.EstimatorOptions): {exc}"
        ) from exc
    info = {
        **layout_info(isa, backend),
        "exact": False,  # shots, and device noise
        "mode": settings.mode,
        "shots": shots_for_precision(settings.precision),
        "precision": settings.precision,
        "optimization_level": settings.optimization_level,
        "resilience_level": settings.resilience_level,
        "seed": settings.seed,
        "local_testing_mode": local,
    }
    if local:
        info["noise"] = f"device noise model of {backend.name} (Aer, shot-based)"
    return QNNParts(
        estimator=estimator,
        gradient=BatchedParamShiftEstimatorGradient(estimator, precision=settings.precision),
        circuit=isa,
        observables=isa_observables,
        default_precision=settings.precision,
        info=info,
    )


def close_execution_mode(qnn_or_estimator: Any) -> None:
    """Close the ``Batch``/``Session`` an ``ibm`` QNN runs in; a no-op in job mode."""
    estimator = getattr(qnn_or_estimator, "estimator", qnn_or_estimator)
    mode = getattr(estimator, "mode", None)
    close = getattr(mode, "close", None)
    if callable(close):
        close()


@register_backend("ibm", sends_jobs=True)
def ibm_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                options: dict[str, Any]) -> QNNParts:
    """IBM Quantum hardware: named ``device`` or the least busy one that fits the circuit."""
    check_options("ibm", options, dict.fromkeys(IBM_OPTIONS))
    settings = runtime_settings("ibm", options, local=False)
    for key in ("device", "instance"):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise BackendError(f"option '{key}' must be a string, got {options[key]!r}")
    backend = ibm_device(options.get("device"), circuit.num_qubits, options.get("channel"),
                         options.get("instance"))
    return _runtime_parts(circuit, observables, backend, settings, local=False)


@register_backend("fake", prefix=True, sends_jobs=True)
def fake_device_backend(circuit: QuantumCircuit, observables: Sequence[SparsePauliOp],
                        options: dict[str, Any]) -> QNNParts:
    """IBM Runtime local testing mode on a fake device (``fake:manila``): no network, noisy."""
    name = f"fake:{options.get('device')}"
    check_options(name, options, dict.fromkeys(FAKE_OPTIONS))
    settings = runtime_settings(name, options, local=True)
    backend = fake_backend(options["device"])
    return _runtime_parts(circuit, observables, backend, settings, local=True)
