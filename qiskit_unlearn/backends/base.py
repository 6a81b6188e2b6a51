"""Backend specification, registry and the parts a backend hands to ``EstimatorQNN``.

A backend turns ``(circuit, observables, options)`` into :class:`QNNParts`: the estimator,
the gradient, the (possibly ISA-transpiled) circuit, the observables mapped onto that
circuit's layout, and the precision ``EstimatorQNN`` must ask for. Keeping this one
uniform signature lets :func:`qiskit_unlearn.qnn.make_qnn` stay free of backend if/else chains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.gradients import BaseEstimatorGradient

# Defined below every layer so the engine can raise it too; re-exported here, its usual home.
from qiskit_unlearn.errors import BackendError
from qiskit_unlearn.registry import Registry


@dataclass(frozen=True)
class BackendConfig:
    """Which backend to run a QNN on, and its options.

    Attributes:
        name: One of the registered names (``statevector``, ``aer``, ``aer-noisy``, ``noisy``,
            ``ibm``), ``fake:<device>`` or ``ideal:<device>``; see :func:`available_backends`.
        options: The backend's keyword options (validated by the backend's factory, which names
            the allowed keys on error), e.g. ``{"shots": 1024, "seed": 7}``.
    """

    name: str = "statevector"
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, spec: str | BackendConfig | Mapping[str, Any] | None,
               **options: Any) -> BackendConfig:
        """Build a config from a name, a mapping ``{"name": ..., **options}`` or a config.

        Args:
            spec: A backend name, a mapping with a ``name`` key and the options, an existing
                config, or None for ``statevector``.
            **options: Further options; they override those given in ``spec``.

        Returns:
            The config (a new one; ``spec`` is not modified).

        Raises:
            BackendError: If a mapping has no ``name`` key or ``spec`` has another type.
        """
        if spec is None:
            spec = "statevector"
        if isinstance(spec, BackendConfig):
            return cls(spec.name, {**spec.options, **options})
        if isinstance(spec, str):
            return cls(spec.strip(), dict(options))
        if isinstance(spec, Mapping):
            spec = dict(spec)
            if "name" not in spec:
                raise BackendError(
                    "backend table needs a 'name' key, e.g. {name = \"aer\", shots = 1024}; "
                    f"got keys {sorted(spec)}"
                )
            name = spec.pop("name")
            return cls(str(name), {**spec, **options})
        raise BackendError(
            f"backend must be a name, a mapping or a BackendConfig, not {type(spec).__name__}"
        )


@dataclass
class QNNParts:
    """Everything ``EstimatorQNN`` needs from a backend.

    Attributes:
        estimator: The estimator primitive that evaluates the circuit.
        gradient: The gradient of ``estimator`` (parameter shift, adjoint, ...).
        circuit: The circuit to run, ISA-transpiled for the device where the backend needs it.
        observables: The observables, mapped onto ``circuit``'s layout.
        default_precision: The precision ``EstimatorQNN`` asks the estimator for (0 for exact
            backends; otherwise the shot noise the backend was configured with).
        info: What the backend reports about itself for run manifests (device, shots, noise,
            ...).
        vjp: Whether torch backward passes should use the gradient's vector-Jacobian product
            (one reverse sweep per row, see ``qiskit_unlearn.vjp``) instead of full Jacobians.
    """

    estimator: BaseEstimatorV2
    gradient: BaseEstimatorGradient
    circuit: QuantumCircuit
    observables: list[SparsePauliOp]
    default_precision: float
    info: dict[str, Any] = field(default_factory=dict)
    # Whether torch backward passes should use the gradient's vector-Jacobian product (one
    # reverse sweep per row, ``qiskit_unlearn.vjp``) instead of full Jacobians.
    vjp: bool = False


BackendFactory = Callable[[QuantumCircuit, Sequence[SparsePauliOp], dict[str, Any]], QNNParts]


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend and what callers need to know about it.

    Attributes:
        name: The registered name (without ``:<device>``).
        factory: Builds the :class:`QNNParts` from ``(circuit, observables, options)``.
        prefix: The name takes a device (``name:<device>``, passed as ``options["device"]``).
        sends_jobs: It runs IBM Runtime jobs (real devices, or fake devices in local testing
            mode) whose ids a run must log.
        exact: Noiseless, and without ``shots`` / ``precision`` options its expectation values
            are exact, so it can be a noise study's reference.
    """

    name: str
    factory: BackendFactory
    prefix: bool = False
    sends_jobs: bool = False
    exact: bool = False

    @property
    def display_name(self) -> str:
        """The name as users write it (``name:<device>`` for prefix backends)."""
        return f"{self.name}:<device>" if self.prefix else self.name


BACKENDS: Registry[BackendEntry] = Registry("backend", BackendError)


def register_backend(name: str, *, prefix: bool = False, sends_jobs: bool = False,
                     exact: bool = False) -> Callable[[BackendFactory], BackendFactory]:
    """Register a backend factory under ``name``, with the facts callers ask of it.

    Use as a decorator on a factory ``(circuit, observables, options) -> QNNParts``.

    Args:
        name: The backend name (for a prefix backend, the part before ``:``).
        prefix: Register for every ``name:<device>``; the factory gets ``options["device"]``.
        sends_jobs: The backend sends IBM Runtime jobs whose ids a run must log.
        exact: The backend is noiseless and exact without ``shots`` / ``precision`` options.

    Returns:
        A decorator that records the :class:`BackendEntry` and returns the factory unchanged.

    Raises:
        RuntimeError: When the decorator is applied and ``name`` is already registered.
    """

    def decorator(factory: BackendFactory) -> BackendFactory:
        BACKENDS.add(name, BackendEntry(name, factory, prefix, sends_jobs, exact))
        return factory

    return decorator


def backend_entries() -> list[BackendEntry]:
    """Every registered backend, plain names first, each group sorted by name.

    Returns:
        The entries, built-in backends included.
    """
    _load_builtin_backends()
    return sorted(BACKENDS.values(), key=lambda e: (e.prefix, e.name))


def available_backends() -> list[str]:
    """Registered backend names; prefix backends are shown as ``name:<device>``.

    Returns:
        The names, in the order of :func:`backend_entries`.
    """
    return [e.display_name for e in backend_entries()]


def backend_entry(name: str) -> BackendEntry:
    """The registry entry of a backend name (``fake:manila`` → the ``fake`` entry).

    Args:
        name: A backend name as users write it, with ``:<device>`` for prefix backends.

    Returns:
        The registered entry.

    Raises:
        BackendError: If no backend has that name, or a prefix backend is named without a
            device (or a plain one with one).
    """
    _load_builtin_backends()
    prefix, colon, _ = name.partition(":")
    entry = BACKENDS.get(prefix) if colon else BACKENDS.get(name)
    if entry is None or entry.prefix != bool(colon):
        raise BackendError(
            f"unknown backend '{name}'; choose one of: {', '.join(available_backends())}")
    return entry


def backend_sends_jobs(name: str) -> bool:
    """Whether models on backend ``name`` send IBM Runtime jobs (to be logged).

    Args:
        name: A backend name as users write it.

    Returns:
        True if the backend sends jobs; False for local backends and unknown names.
    """
    try:
        return backend_entry(name).sends_jobs
    except BackendError:
        return False


def resolve_backend(config: BackendConfig) -> tuple[BackendFactory, dict[str, Any]]:
    """Find the factory for ``config`` and the options it should receive.

    Args:
        config: The backend and its options; for ``name:<device>`` the device is added to the
            options as ``device``.

    Returns:
        The factory and a copy of the options to call it with.

    Raises:
        BackendError: If the name is unknown, a prefix name has no device, or the device is
            given twice with different values.
    """
    _load_builtin_backends()
    name = config.name
    options = dict(config.options)
    prefix, colon, arg = name.partition(":")
    if colon and prefix in BACKENDS and BACKENDS[prefix].prefix:
        if not arg:
            raise BackendError(
                f"backend '{name}' needs a device after the colon, e.g. 'fake:manila'")
        if "device" in options and options["device"] != arg:
            raise BackendError(
                f"backend '{name}' names device '{arg}' but options also say device="
                f"'{options['device']}'; give the device once"
            )
        options["device"] = arg
        return BACKENDS[prefix].factory, options
    return backend_entry(name).factory, options


def check_options(backend: str, options: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    """Reject option keys a backend does not know, naming the allowed ones."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise BackendError(
            f"backend '{backend}' does not take option(s) {', '.join(map(repr, unknown))}; "
            f"allowed options: {', '.join(sorted(allowed)) or '(none)'}"
        )


def _load_builtin_backends() -> None:
    # Imported lazily so that importing the package does not pull in Aer or IBM Runtime.
    from qiskit_unlearn.backends import builtin  # noqa: F401


_VALIDATING: ContextVar[bool] = ContextVar("qiskit_unlearn_validating", default=False)


@contextmanager
def validating() -> Iterator[None]:
    """Backends built inside the block are built to be checked, not run: a factory validates
    everything it can (options, device, width, memory, account) but must not reserve anything
    that outlives the check (e.g. open an IBM Runtime batch or session)."""
    token = _VALIDATING.set(True)
    try:
        yield
    finally:
        _VALIDATING.reset(token)


def is_validating() -> bool:
    """Whether the current backend is being built by :func:`validating`."""
    return _VALIDATING.get()
