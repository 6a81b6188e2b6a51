"""Base class of every model: named layer groups, seeded re-initialisation, freezing and a spec.

Unlearning methods such as CF-k (fine-tune the last k groups) and EU-k (re-initialise and retrain
the last k groups) need the same vocabulary on every architecture, so each model lists its
*layer groups* (front end, encoder, quantum layer, head layers) in input → output order. A
group's name is its submodule path, so it is also the prefix of its ``state_dict`` keys.
``spec`` holds the registry kind and constructor arguments: ``build_model(spec["kind"],
**spec["kwargs"])`` rebuilds the architecture for a checkpoint.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp
from torch import nn

from qiskit_unlearn.ansatz import Ansatz
from qiskit_unlearn.qnn import make_qnn
from qiskit_unlearn.validation import check_int
from qiskit_unlearn.vjp import connector_for


class ModelError(ValueError):
    """A model that cannot be built or changed as asked; the message says what to change."""


def _plain(value: Any) -> Any:
    """Tuples become lists and mappings dicts, so a spec is JSON- and checkpoint-friendly."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def check_positive(value: Any, name: str) -> int:
    """``value`` as an int >= 1, or a :class:`ModelError` naming the argument."""
    return check_int(value, name, low=1, error=ModelError)


def hidden_sizes(hidden: int | Sequence[int], name: str) -> list[int]:
    """``16`` → ``[16]``; ``(32, 16)`` → ``[32, 16]``; ``0`` or ``()`` → no hidden layer."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        return [] if hidden == 0 else [check_positive(hidden, name)]
    return [check_positive(h, name) for h in hidden]


class MLPStack(nn.ModuleList):
    """Linear layers with ReLU between them; layer i is submodule ``i`` (one group per layer)."""

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def group_names(self, prefix: str) -> list[str]:
        return [f"{prefix}.{i}" for i in range(len(self))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self):
            x = layer(x)
            if i < len(self) - 1:
                x = torch.relu(x)
        return x


class CircuitCounter:
    """Expectation values evaluated by every :class:`QuantumLayer` while the counter is active.

    Forward passes count samples × observables. Backward passes count what a gradient costs
    on hardware-style backends: samples × observables × 2 per differentiated parameter
    (parameter shift); the exact adjoint gradient of ``statevector`` gets all parameters in one
    sweep and counts samples × observables. Use it as a context manager:
    ``with CircuitCounter() as c: ...; c.total``.
    """

    _active: ClassVar[list[CircuitCounter]] = []

    def __init__(self) -> None:
        self.forward = 0
        self.backward = 0

    @property
    def total(self) -> int:
        """Forward plus backward evaluations."""
        return self.forward + self.backward

    def __enter__(self) -> CircuitCounter:
        CircuitCounter._active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        CircuitCounter._active.remove(self)

    @classmethod
    def add(cls, forward: int = 0, backward: int = 0) -> None:
        """Add evaluations to every active counter (a no-op when none is active).

        Args:
            forward: expectation values evaluated by a forward pass.
            backward: expectation values a backward pass costs.
        """
        for counter in cls._active:
            counter.forward += forward
            counter.backward += backward


class QuantumLayer(nn.Module):
    """``connector_for(make_qnn(...))`` (a ``TorchConnector``; the VJP one on exact engines)
    that remembers its ansatz and backend.

    Weights start (and re-initialise) uniform in [-π, π] from torch's global generator, so a
    model built under ``torch.manual_seed`` is reproducible. The output is float32 (what
    ``TorchConnector`` returns) and inputs are cast to float32 on the way in.

    Args:
        ansatz: the circuit with its input and weight parameters (e.g. from
            :func:`qiskit_unlearn.ansatz.hqml_ansatz`).
        observables: one operator per output; the layer returns their expectation values.
        backend: what :func:`qiskit_unlearn.qnn.make_qnn` accepts as ``backend``: a name
            (``"statevector"``, ``"aer"``, ``"fake:<device>"``, ...), a mapping or a
            :class:`~qiskit_unlearn.backends.BackendConfig`.
        backend_options: keyword options of the backend (e.g. ``{"shots": 1024}``), passed to
            :func:`~qiskit_unlearn.qnn.make_qnn`; ``None`` means none.
        input_gradients: compute gradients with respect to the inputs too; needed whenever a
            trainable layer (or an input perturbation) sits before the quantum layer, and
            skipping them makes parameter-shift backward passes cheaper.
    """

    def __init__(self, ansatz: Ansatz, observables: Sequence[SparsePauliOp], *,
                 backend: Any = "statevector", backend_options: Mapping[str, Any] | None = None,
                 input_gradients: bool = True) -> None:
        super().__init__()
        self.ansatz_name = ansatz.name
        self.ansatz_metadata = dict(ansatz.metadata)
        self.backend = backend
        self.backend_options = dict(backend_options or {})
        self.qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                            weight_params=ansatz.weight_params, observables=list(observables),
                            backend=backend, input_gradients=input_gradients,
                            **self.backend_options)
        self.connector = connector_for(self.qnn, np.zeros(ansatz.num_weights))
        self.reset_parameters()

    @property
    def num_inputs(self) -> int:
        """Input values per sample (the circuit's input parameters)."""
        return int(self.qnn.num_inputs)

    @property
    def num_outputs(self) -> int:
        """Expectation values per sample (one per observable)."""
        return int(np.prod(self.qnn.output_shape))

    def reset_parameters(self) -> None:
        """Draw the circuit weights anew, uniform in [-π, π], from torch's global generator."""
        with torch.no_grad():
            self.connector.weight.uniform_(-math.pi, math.pi)

    def _backward_cost_per_sample(self) -> int:
        if callable(getattr(self.qnn.gradient, "vjp", None)):  # exact reverse-mode gradients
            return self.num_outputs
        shifted = self.qnn.num_weights + (self.qnn.num_inputs if self.qnn.input_gradients else 0)
        return self.num_outputs * 2 * shifted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the circuit on a batch, counting the cost in any active :class:`CircuitCounter`.

        Args:
            x: circuit input values of shape (batch, num_inputs); cast to float32.

        Returns:
            The expectation values, shape (batch, num_outputs), float32.
        """
        if hasattr(self.qnn, "expect_backward"):  # BatchedEstimatorQNN: gradient in this job
            self.qnn.expect_backward = torch.is_grad_enabled() and (
                self.connector.weight.requires_grad or x.requires_grad)
        out = self.connector(x.to(torch.float32))
        if CircuitCounter._active:
            rows = len(x)
            CircuitCounter.add(forward=rows * self.num_outputs)
            if out.requires_grad:
                cost = rows * self._backward_cost_per_sample()
                out.register_hook(lambda grad: CircuitCounter.add(backward=cost))
        return out

    def extra_repr(self) -> str:
        """The ansatz name and backend, shown in the module's ``repr``.

        Returns:
            A string such as ``ansatz=hqml-4q-2l-ring-cz, backend='statevector'``.
        """
        return f"ansatz={self.ansatz_name}, backend={self.backend!r}"


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded, restoring its state afterwards."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ModelError(f"seed must be an integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def as_float_batch(x: Any) -> torch.Tensor:
    """Inputs as a float32 tensor (numpy arrays and float64 tensors are accepted)."""
    return torch.as_tensor(x).to(torch.float32)


class UnlearnableModel(nn.Module):
    """A classifier with named layer groups; outputs logits of shape (N, num_classes).

    Subclasses set :attr:`kind` (their registry name), call ``super().__init__(locals())`` first
    (recorded as ``spec``), build their layers and set ``self.group_names`` (submodule paths,
    input → output).

    Args:
        arguments: the subclass constructor's ``locals()``; everything but ``self`` and
            ``__class__`` is recorded in ``spec["kwargs"]`` (tuples as lists, mappings as
            dicts), so :func:`~qiskit_unlearn.models.build_model` can rebuild the model.
    """

    #: The registry name of the model kind (e.g. ``"hybrid-pca"``), recorded in ``spec``.
    kind: ClassVar[str] = ""
    #: True for a model without a quantum layer, so nothing runs on a backend (no ``backend``
    #: arguments, no circuit to send to a device, no noise to study). Callers ask the registry,
    #: never the kind's name.
    classical: ClassVar[bool] = False

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        super().__init__()
        kwargs = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
        self.spec: dict[str, Any] = {"kind": self.kind, "kwargs": _plain(kwargs)}
        self.group_names: list[str] = []

    # Quantum models split into encode → quantum layer (``self.quantum``) → decode, so the
    # circuit part can also run elsewhere (e.g. as PUBs on IBM hardware) with the classical
    # parts applied around it. Classical models override ``forward`` instead.

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The classical part before the quantum layer: the circuit's input values.

        Args:
            x: a batch of model inputs, shape (batch, ...).

        Returns:
            The circuit's input values, shape (batch, number of circuit inputs).

        Raises:
            NotImplementedError: for models without a quantum layer.
        """
        raise NotImplementedError(f"{type(self).__name__} has no quantum layer")

    def decode(self, expectations: torch.Tensor) -> torch.Tensor:
        """The classical part after the quantum layer: expectation values → logits.

        Args:
            expectations: the quantum layer's output, shape (batch, number of observables).

        Returns:
            Logits of shape (batch, num_classes).

        Raises:
            NotImplementedError: for models without a quantum layer.
        """
        raise NotImplementedError(f"{type(self).__name__} has no quantum layer")

    @property
    def quantum_layer(self) -> QuantumLayer | None:
        """The model's :class:`QuantumLayer` (submodule ``quantum``), or ``None`` if it has none."""
        layer = getattr(self, "quantum", None)
        return layer if isinstance(layer, QuantumLayer) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch: ``decode(quantum(encode(x)))``.

        Args:
            x: a batch of model inputs, shape (batch, ...).

        Returns:
            Logits of shape (batch, num_classes).
        """
        return self.decode(self.quantum(self.encode(x)))

    def layer_groups(self) -> list[tuple[str, nn.Module]]:
        """The layer groups, ordered from input to output.

        Returns:
            One ``(name, module)`` pair per group; ``name`` is the submodule path.
        """
        return [(name, self.get_submodule(name)) for name in self.group_names]

    def _group_index(self, group: str | int) -> int:
        names = self.group_names
        if isinstance(group, str):
            if group not in names:
                raise ModelError(f"unknown layer group {group!r}; groups are {names}")
            return names.index(group)
        if isinstance(group, bool) or not isinstance(group, (int, np.integer)) \
                or not -len(names) <= group < len(names):
            raise ModelError(f"group index must be in {-len(names)}..{len(names) - 1}, "
                             f"got {group!r} (groups: {names})")
        return int(group) % len(names)

    def reset_group(self, group: str | int, seed: int | torch.Generator | None = None) -> str:
        """Re-initialise one group's parameters (torch defaults; quantum weights in [-π, π]).

        Args:
            group: the group's name or its index in ``group_names`` (negative indices count
                from the output end).
            seed: an int, or a generator to draw one from, makes the draw reproducible without
                touching torch's global random state; ``None`` draws the seed from torch's
                global generator.

        Returns:
            The group's name.

        Raises:
            ModelError: if ``group`` names no group or its index is out of range.
        """
        name = self.group_names[self._group_index(group)]
        if isinstance(seed, torch.Generator):
            seed = int(torch.randint(2**62, (1,), generator=seed))
        if seed is None:
            seed = int(torch.randint(2**62, (1,)))  # from the global generator, as torch does
        with seeded(seed):
            for module in self.get_submodule(name).modules():
                if callable(getattr(module, "reset_parameters", None)):
                    module.reset_parameters()
        return name

    def freeze_all_but_last(self, k: int) -> list[str]:
        """Make only the last ``k`` groups trainable and freeze the others.

        Args:
            k: how many groups, counted from the output end, stay trainable, in
                0..len(group_names) (0 freezes everything).

        Returns:
            The names of the trainable groups.

        Raises:
            ModelError: if ``k`` is not an integer in that range.
        """
        n = len(self.group_names)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
            raise ModelError(f"k must be an integer in 0..{n} (the model has {n} layer groups: "
                             f"{self.group_names}), got {k!r}")
        for i, (_, module) in enumerate(self.layer_groups()):
            module.requires_grad_(i >= n - k)
        return self.group_names[n - k:]

    def unfreeze(self) -> None:
        """Make every parameter trainable again."""
        self.requires_grad_(True)

    @property
    def num_circuit_evaluations(self) -> int | None:
        """Circuit evaluations counted by the quantum layers' gradients, or ``None`` if none count.

        Only gradients that count them (e.g. ``BatchedParamShiftEstimatorGradient`` on the
        Aer / IBM backends) contribute; the exact adjoint gradient does not.
        """
        counts = [getattr(m.qnn.gradient, "num_circuit_evaluations", None)
                  for m in self.modules() if isinstance(m, QuantumLayer)]
        counts = [c for c in counts if c is not None]
        return int(sum(counts)) if counts else None
