"""Noise models, fake devices and shot budgets shared by ``aer-noisy``, ``ibm`` and ``fake``.

``build_noise_model`` is public so noise sweeps can build the same models as ``aer-noisy``.
Gate noise only acts on gates whose names are in the model, so rate-based models are attached
to the fixed :data:`NOISE_BASIS` and circuits must be transpiled to ``noise_model.basis_gates``.

Readout error only changes *measured* bits. Exact (density-matrix) expectations measure nothing,
so :func:`apply_readout_error` folds the classical bit-flip channel into the observable instead:
with p(1|0)=a and p(0|1)=b per qubit, a measured ±1 outcome z' has E[z'|z] = (b-a) + (1-a-b)·z,
so each Pauli factor becomes ``(1-a-b)·P + (b-a)·I``. Its exact expectation equals what a
noiseless-basis-change, readout-noisy shot estimator converges to (symmetric p: ``(1-2p)·P``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.noise import (
    NoiseModel,
    QuantumError,
    ReadoutError,
    depolarizing_error,
    thermal_relaxation_error,
)

from qiskit_unlearn import validation
from qiskit_unlearn.backends.base import BackendError

#: Gates that rate-based noise models attach errors to (circuits are transpiled to these).
NOISE_BASIS: tuple[str, ...] = ("rx", "ry", "rz", "sx", "x", "cx", "cz", "rzz")
#: Option names understood by :func:`build_noise_model`.
NOISE_OPTIONS: tuple[str, ...] = (
    "depolarizing_1q", "depolarizing_2q", "readout_error",
    "t1", "t2", "gate_time_1q", "gate_time_2q", "device",
)
#: Precision used when shots are asked for without a budget (4096 shots, IBM's default).
DEFAULT_PRECISION = 1 / 64


# --- option checks ---------------------------------------------------------------------------

def check_number(name: str, value: Any, *, low: float = 0.0, high: float = math.inf,
                 low_open: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` if ``low_open``), or a
    :class:`BackendError` naming the option."""
    return validation.check_number(value, f"option '{name}'", low=low, high=high,
                                   low_open=low_open, error=BackendError)


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, or a :class:`BackendError` naming the option."""
    return validation.check_int(value, f"option '{name}'", low=low, high=high,
                                error=BackendError)


def check_seed(options: Mapping[str, Any]) -> int | None:
    """The ``seed`` option (non-negative int) or ``None``."""
    seed = options.get("seed")
    return None if seed is None else check_int("seed", seed, low=0)


def precision_for_shots(shots: int) -> float:
    """The precision p for which primitives run exactly ``ceil(1/p²) == shots`` shots.

    ``1/sqrt(shots)`` can round so that ``ceil`` adds a shot; nudge it up by ulps until exact.

    Args:
        shots: Shots per circuit (at least 1).

    Returns:
        The precision (standard error of a ±1-valued observable's mean), about ``1/sqrt(shots)``.
    """
    p = 1.0 / math.sqrt(shots)
    while math.ceil(1.0 / p**2) > shots:
        p = math.nextafter(p, math.inf)
    return p


def shots_for_precision(precision: float) -> int:
    """Shots a ``BackendEstimatorV2``-style estimator runs for ``precision``.

    Args:
        precision: Target precision p > 0.

    Returns:
        ``ceil(1/p²)``, the inverse of :func:`precision_for_shots`.
    """
    return math.ceil(1.0 / precision**2)


def shot_precision(backend: str, options: Mapping[str, Any]) -> float | None:
    """Precision from the ``shots`` or ``precision`` option; ``None`` when neither is given."""
    shots, precision = options.get("shots"), options.get("precision")
    if shots is not None and precision is not None:
        raise BackendError(
            f"backend '{backend}' got both shots={shots!r} and precision={precision!r}; give one "
            "(precision p runs ceil(1/p²) shots)"
        )
    if shots is not None:
        return precision_for_shots(check_int("shots", shots, low=1))
    if precision is not None:
        return check_number("precision", precision, high=1.0, low_open=True)
    return None


# --- fake devices ----------------------------------------------------------------------------

def _normalise_device(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = key.removeprefix("fake").lstrip("_")
    key = key.removesuffix("v2").rstrip("_")
    return key.replace("_", "")


def _fake_classes() -> dict[str, type]:
    import qiskit_ibm_runtime.fake_provider as fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    return {
        cls.backend_name: cls
        for cls in vars(fake_provider).values()
        if isinstance(cls, type) and issubclass(cls, FakeBackendV2) and cls is not FakeBackendV2
        and isinstance(getattr(cls, "backend_name", None), str)
    }


def fake_device_names() -> list[str]:
    """Short names (``manila``, ``brisbane``, ...) of the fake devices in IBM Runtime.

    Returns:
        The names, sorted; each works as ``fake:<name>``, ``ideal:<name>`` or ``device=<name>``.
    """
    return sorted(name.removeprefix("fake_") for name in _fake_classes())


def fake_backend(name: str) -> BackendV2:
    """The fake device ``name`` from ``qiskit_ibm_runtime.fake_provider``.

    ``"manila"``, ``"fake_manila"`` and ``"FakeManilaV2"`` all name the same device. Only the
    requested class is instantiated (building all of them is slow and warns).
    """
    if not isinstance(name, str) or not name.strip():
        raise BackendError(f"device must be a fake device name such as 'manila', got {name!r}")
    classes = {_normalise_device(key): cls for key, cls in _fake_classes().items()}
    cls = classes.get(_normalise_device(name))
    if cls is None:
        raise BackendError(
            f"unknown fake device '{name}'; choose one of: {', '.join(fake_device_names())}"
        )
    return cls()


# --- noise models ----------------------------------------------------------------------------

def _readout_pair(value: Any) -> tuple[float, float]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise BackendError(
                "option 'readout_error' must be one flip probability p or a pair "
                f"(p(1|0), p(0|1)), got {value!r}"
            )
        pair = (check_number("readout_error p(1|0)", value[0], high=1.0),
                check_number("readout_error p(0|1)", value[1], high=1.0))
    else:
        p = check_number("readout_error", value, high=1.0)
        pair = (p, p)
    if math.isclose(sum(pair), 1.0):
        raise BackendError(
            f"option 'readout_error' {value!r}: with p(1|0) + p(0|1) = 1 every outcome is "
            "independent of the state, so every expectation value is 0; use a smaller error "
            "(e.g. readout_error=0.2)")
    return pair


def _thermal(t1: float, t2: float, time_1q: float, time_2q: float) -> tuple[QuantumError, ...]:
    one = thermal_relaxation_error(t1, t2, time_1q)
    single = thermal_relaxation_error(t1, t2, time_2q)
    return one, single.expand(single)


def build_noise_model(
    *,
    depolarizing_1q: float | None = None,
    depolarizing_2q: float | None = None,
    readout_error: float | Sequence[float] | None = None,
    t1: float | None = None,
    t2: float | None = None,
    gate_time_1q: float | None = None,
    gate_time_2q: float | None = None,
    device: str | None = None,
    basis_gates: Sequence[str] = NOISE_BASIS,
) -> NoiseModel:
    """An Aer ``NoiseModel`` from error rates, thermal relaxation, or a named fake device.

    Args:
        depolarizing_1q: Depolarizing error parameter in [0, 1] on every 1-qubit basis gate.
        depolarizing_2q: Depolarizing error parameter in [0, 1] on every 2-qubit basis gate.
        readout_error: Symmetric flip probability p, or the pair (p(1|0), p(0|1)); the two
            may not sum to 1.
        t1: Relaxation time in ns (> 0); turns on thermal relaxation on every basis gate.
        t2: Dephasing time in ns (defaults to ``t1``; needs t2 <= 2*t1 and ``t1``).
        gate_time_1q: 1-qubit gate duration in ns for thermal relaxation (default 50; needs
            ``t1``).
        gate_time_2q: 2-qubit gate duration in ns for thermal relaxation (default 300; needs
            ``t1``).
        device: A fake IBM device (e.g. ``"manila"``): ``NoiseModel.from_backend`` of it.
            Exclusive with the rate options, as the device already fixes every rate.
        basis_gates: Gates the rate-based errors attach to (a subset of ``NOISE_BASIS``:
            ``rx ry rz sx x cx cz rzz``); transpile circuits to these.

    Returns:
        The noise model; with no rates at all it is an ideal model on ``basis_gates``.

    Raises:
        BackendError: If a rate is out of range, ``device`` is combined with rates, a basis
            gate is unsupported, t2 > 2*t1, or ``t2`` / gate times are given without ``t1``.
    """
    rates = {"depolarizing_1q": depolarizing_1q, "depolarizing_2q": depolarizing_2q,
             "readout_error": readout_error, "t1": t1, "t2": t2,
             "gate_time_1q": gate_time_1q, "gate_time_2q": gate_time_2q}
    given = sorted(k for k, v in rates.items() if v is not None)
    if device is not None:
        if given:
            raise BackendError(
                f"device='{device}' fixes every noise rate; drop {', '.join(given)} or drop device"
            )
        return device_noise_model(device)

    unknown = [g for g in basis_gates if g not in NOISE_BASIS]
    if unknown:
        raise BackendError(f"basis gates {unknown} are not supported; use a subset of "
                           f"{NOISE_BASIS}")
    gates_1q = [g for g in basis_gates if g in ("rx", "ry", "rz", "sx", "x")]
    gates_2q = [g for g in basis_gates if g in ("cx", "cz", "rzz")]
    errors_1q: list[QuantumError] = []
    errors_2q: list[QuantumError] = []
    for name, rate, errors, width in (("depolarizing_1q", depolarizing_1q, errors_1q, 1),
                                      ("depolarizing_2q", depolarizing_2q, errors_2q, 2)):
        if rate is not None and check_number(name, rate, high=1.0) > 0:
            errors.append(depolarizing_error(float(rate), width))
    if t1 is not None:
        t1 = check_number("t1", t1, low_open=True)
        t2 = t1 if t2 is None else check_number("t2", t2, low_open=True)
        if t2 > 2 * t1:
            raise BackendError(f"t2={t2:g} exceeds 2*t1={2 * t1:g}, which is unphysical; "
                               "use t2 <= 2*t1")
        time_1q = check_number("gate_time_1q", 50.0 if gate_time_1q is None else gate_time_1q)
        time_2q = check_number("gate_time_2q", 300.0 if gate_time_2q is None else gate_time_2q)
        thermal_1q, thermal_2q = _thermal(t1, t2, time_1q, time_2q)
        errors_1q.append(thermal_1q)
        errors_2q.append(thermal_2q)
    elif any(v is not None for v in (t2, gate_time_1q, gate_time_2q)):
        raise BackendError("t2 and gate_time_1q/gate_time_2q need t1 (thermal relaxation), "
                           "e.g. t1=100e3, t2=80e3 (ns)")

    model = NoiseModel(basis_gates=list(basis_gates))
    if errors_1q and gates_1q:
        model.add_all_qubit_quantum_error(_compose(errors_1q), gates_1q)
    if errors_2q and gates_2q:
        model.add_all_qubit_quantum_error(_compose(errors_2q), gates_2q)
    if readout_error is not None:
        p10, p01 = _readout_pair(readout_error)
        if p10 or p01:
            model.add_all_qubit_readout_error(ReadoutError([[1 - p10, p10], [p01, 1 - p01]]))
    return model


def noise_source(backend: str, options: Mapping[str, Any]) -> tuple[NoiseModel, dict[str, Any]]:
    """The noise model of a noisy backend's options and the rate options that describe it:
    either the rates of :func:`build_noise_model` or a ready ``noise_model`` (any Aer model),
    not both, and at least one of them."""
    rates = {k: options[k] for k in NOISE_OPTIONS if options.get(k) is not None}
    model = options.get("noise_model")
    if model is not None:
        if rates:
            raise BackendError(f"backend '{backend}': give either noise_model or the rate "
                               f"options, not both (got {', '.join(sorted(rates))})")
        if not isinstance(model, NoiseModel):
            raise BackendError("option 'noise_model' must be a qiskit_aer.noise.NoiseModel, got "
                               f"{type(model).__name__}")
        return model, {}
    if not rates:
        raise BackendError(
            f"backend '{backend}' needs a noise source: e.g. depolarizing_1q=0.001, "
            "depolarizing_2q=0.01, t1=100e3 (ns), readout_error=0.02, device='manila' or "
            "noise_model=<qiskit_aer NoiseModel>; for noiseless simulation use 'statevector' "
            "or 'aer'")
    return build_noise_model(**rates), rates


def device_noise_model(name: str) -> NoiseModel:
    """``NoiseModel.from_backend`` of a fake device, built once per device and process.

    Building it takes about a second for a 27-qubit device, and every copy of a model asks for
    it. The model is shared: treat it as read-only.

    Args:
        name: A fake device name; ``"manila"``, ``"fake_manila"`` and ``"FakeManilaV2"`` all
            name the same device (see :func:`fake_device_names`).

    Returns:
        The device's noise model (the cached instance).

    Raises:
        BackendError: If no fake device has that name.
    """
    key = _normalise_device(name)
    if key not in _DEVICE_MODELS:
        _DEVICE_MODELS[key] = NoiseModel.from_backend(fake_backend(name))
    return _DEVICE_MODELS[key]


_DEVICE_MODELS: dict[str, NoiseModel] = {}


def _compose(errors: list[QuantumError]) -> QuantumError:
    error = errors[0]
    for other in errors[1:]:
        error = error.compose(other)
    return error


def describe_noise(options: Mapping[str, Any]) -> str:
    """One line for run manifests, e.g. ``depolarizing_1q=0.01, readout_error=0.02``."""
    if not options:
        return "a user NoiseModel"
    if options.get("device") is not None:
        return f"device noise model of fake_{_normalise_device(options['device'])}"
    return ", ".join(f"{k}={options[k]}" for k in NOISE_OPTIONS if options.get(k) is not None)


# --- readout error for exact expectations ----------------------------------------------------

def readout_flips(noise_model: NoiseModel, num_qubits: int) -> dict[int, tuple[float, float]]:
    """Per-qubit ``(p(1|0), p(0|1))`` of the model's single-qubit readout errors."""
    flips: dict[int, tuple[float, float]] = {}
    default: tuple[float, float] | None = None
    for error in noise_model.to_dict().get("errors", []):
        if error.get("type") != "roerror":
            continue
        probs = error["probabilities"]
        if len(probs) != 2:
            raise BackendError("correlated multi-qubit readout errors cannot be folded into exact "
                               "expectations; use shots")
        pair = (float(probs[0][1]), float(probs[1][0]))
        if "gate_qubits" in error:
            for qubits in error["gate_qubits"]:
                flips[int(qubits[0])] = pair
        else:
            default = pair
    if default is not None:
        for q in range(num_qubits):
            flips.setdefault(q, default)
    return {q: ab for q, ab in flips.items() if q < num_qubits and (ab[0] or ab[1])}


def apply_readout_error(observable: SparsePauliOp,
                        flips: Mapping[int, tuple[float, float]]) -> SparsePauliOp:
    """The observable whose exact expectation is ``observable`` measured through readout error.

    Each non-identity factor on qubit q becomes ``(1-a-b)·P + (b-a)·I`` (see module docstring).
    """
    if not flips:
        return observable
    terms: list[tuple[str, list[int], complex]] = []
    for label, qubits, coeff in observable.to_sparse_list():
        choices = []
        for pauli, q in zip(label, qubits, strict=True):
            a, b = flips.get(q, (0.0, 0.0))
            keep = [(pauli, q, 1.0 - a - b)]
            choices.append(keep + ([("", q, b - a)] if b != a else []))
        for combo in product(*choices):
            weight = math.prod(w for _, _, w in combo)
            if weight:
                kept = [(p, q) for p, q, _ in combo if p]
                terms.append(("".join(p for p, _ in kept), [q for _, q in kept], coeff * weight))
    if not terms:
        return SparsePauliOp("I" * observable.num_qubits, coeffs=[0.0])
    return SparsePauliOp.from_sparse_list(terms, observable.num_qubits).simplify()
