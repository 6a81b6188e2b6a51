"""The HQML hybrid models: angles → variational circuit → MLP head, with or without a CNN.

``HybridPCA`` takes features that are already angles (PCA components scaled to [-π, π] by the
data preprocessing), so the quantum layer is its first layer. ``HybridCNN`` learns the angles:
a small CNN and a linear encoder produce ``num_qubits`` values squashed to (-π, π) by
``π·tanh``. Both measure Z on every qubit and classify with an MLP head.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from qiskit_unlearn.ansatz import Ansatz, hqml_ansatz, z_observables
from qiskit_unlearn.models.base import (
    MLPStack,
    ModelError,
    QuantumLayer,
    UnlearnableModel,
    as_float_batch,
    check_positive,
    hidden_sizes,
    seeded,
)

#: Ansätze taking one angle per qubit; options go to the builder via ``ansatz_options``.
ANGLE_ANSATZE: dict[str, Callable[..., Ansatz]] = {"hqml": hqml_ansatz}


def quantum_and_head(num_qubits: int, num_classes: int, layers: int,
                     head_hidden: int | Sequence[int], ansatz: str, entanglement: str,
                     ansatz_options: Mapping[str, Any] | None, backend: Any,
                     backend_options: Mapping[str, Any] | None,
                     input_gradients: bool) -> tuple[QuantumLayer, MLPStack]:
    """The angle-encoded quantum layer (Z on every qubit) and the MLP head behind it."""
    n = check_positive(num_qubits, "num_qubits")
    if check_positive(num_classes, "num_classes") < 2:
        raise ModelError(f"num_classes must be at least 2, got {num_classes}")
    if ansatz not in ANGLE_ANSATZE:
        raise ModelError(f"unknown ansatz {ansatz!r}; choose one of {list(ANGLE_ANSATZE)}")
    try:
        circuit = ANGLE_ANSATZE[ansatz](n, reps=layers, entanglement=entanglement,
                                        **dict(ansatz_options or {}))
    except TypeError as exc:
        raise ModelError(f"ansatz {ansatz!r} does not take options {sorted(ansatz_options or {})}"
                         f": {exc}") from exc
    quantum = QuantumLayer(circuit, z_observables(n), backend=backend,
                           backend_options=backend_options, input_gradients=input_gradients)
    head = MLPStack([n, *hidden_sizes(head_hidden, "head_hidden"), num_classes])
    return quantum, head


class HybridPCA(UnlearnableModel):
    """PCA angles → HQML circuit → MLP head; groups ``quantum``, ``head.0``, ``head.1``, ...

    Inputs are ``num_qubits`` features in [-π, π]. Nothing trainable sits before the quantum
    layer, so by default the QNN skips input gradients (a faster backward pass); methods that
    perturb inputs (e.g. FGSM in ``adv-uniform``) rebuild it with ``input_gradients=True``.

    Args:
        num_qubits: qubits n, which is also the number of input features.
        num_classes: output classes, at least 2.
        layers: trainable circuit layers L (``reps`` of the ansatz; 3·n·L weights for HQML).
        head_hidden: hidden widths of the MLP head behind the circuit; an int is one hidden
            layer and ``0`` or ``()`` none (a linear head).
        ansatz: the angle-encoding ansatz, a key of ``ANGLE_ANSATZE`` (``"hqml"``).
        entanglement: entangling pattern of the ansatz: ``none``, ``linear``, ``ring`` or
            ``full``.
        ansatz_options: further keyword options of the ansatz builder (for ``hqml``:
            ``entangler`` and ``reuploading``); ``None`` means none.
        backend: where the circuit runs, as :func:`qiskit_unlearn.qnn.make_qnn` accepts it
            (``"statevector"``, ``"aer"``, ``"fake:<device>"``, a mapping, ...).
        backend_options: keyword options of the backend (e.g. ``{"shots": 1024}``).
        seed: seeds every initial weight, classical and quantum (torch's global random state
            is left untouched).
        input_gradients: let the QNN compute gradients with respect to its inputs.

    Raises:
        ModelError: if a size is invalid, ``num_classes`` < 2, the ansatz is unknown or does
            not take ``ansatz_options``.
    """

    kind = "hybrid-pca"

    def __init__(self, num_qubits: int, num_classes: int, layers: int = 2,
                 head_hidden: int | Sequence[int] = 16, ansatz: str = "hqml",
                 entanglement: str = "ring", ansatz_options: Mapping[str, Any] | None = None,
                 backend: Any = "statevector", backend_options: Mapping[str, Any] | None = None,
                 seed: int = 0, input_gradients: bool = False) -> None:
        super().__init__(locals())
        with seeded(seed):
            self.quantum, self.head = quantum_and_head(
                num_qubits, num_classes, layers, head_hidden, ansatz, entanglement,
                ansatz_options, backend, backend_options, input_gradients=input_gradients)
        self.group_names = ["quantum", *self.head.group_names("head")]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The inputs themselves (already angles), as float32.

        Args:
            x: angles of shape (batch, num_qubits), normally in [-π, π].

        Returns:
            The same values as a float32 tensor.
        """
        return as_float_batch(x)

    def decode(self, expectations: torch.Tensor) -> torch.Tensor:
        """The MLP head on the measured ⟨Z⟩ values.

        Args:
            expectations: ⟨Z_i⟩ of every qubit, shape (batch, num_qubits).

        Returns:
            Logits of shape (batch, num_classes).
        """
        return self.head(expectations)


def conv_frontend(image_shape: Sequence[int], channels: Sequence[int]) -> tuple[nn.Sequential,
                                                                                 int]:
    """(Conv 3×3 → ReLU → MaxPool 2) per entry of ``channels``, flattened; returns its width."""
    shape = [check_positive(s, "image_shape") for s in image_shape]
    if len(shape) != 3:
        raise ModelError(f"image_shape must be (channels, height, width), got {list(image_shape)}")
    modules: list[nn.Module] = []
    c_in = shape[0]
    for c in channels:
        modules += [nn.Conv2d(c_in, check_positive(c, "channels"), 3, padding=1), nn.ReLU(),
                    nn.MaxPool2d(2)]
        c_in = c
    frontend = nn.Sequential(*modules, nn.Flatten())
    try:
        with torch.no_grad():
            width = frontend(torch.zeros(1, *shape)).shape[1]
    except RuntimeError as exc:
        raise ModelError(f"images of shape {shape} are too small for {len(channels)} pooling "
                         f"stages (channels={list(channels)}): {exc}") from exc
    return frontend, int(width)


class HybridCNN(UnlearnableModel):
    """CNN → Linear → π·tanh angles → HQML circuit → MLP head.

    Groups: ``frontend`` (conv stack), ``encoder`` (linear map to angles), ``quantum``,
    ``head.0``, ``head.1``, .... Inputs are images of ``image_shape`` (or flattened images).
    The encoder sits before the circuit, so the QNN always computes input gradients.

    Args:
        num_qubits: qubits n, the number of angles the encoder produces.
        num_classes: output classes, at least 2.
        image_shape: ``(channels, height, width)`` of one input image.
        channels: output channels of each conv stage (Conv 3×3 → ReLU → MaxPool 2); the
            image must survive ``len(channels)`` halvings.
        layers: trainable circuit layers L (``reps`` of the ansatz; 3·n·L weights for HQML).
        head_hidden: hidden widths of the MLP head behind the circuit; an int is one hidden
            layer and ``0`` or ``()`` none (a linear head).
        ansatz: the angle-encoding ansatz, a key of ``ANGLE_ANSATZE`` (``"hqml"``).
        entanglement: entangling pattern of the ansatz: ``none``, ``linear``, ``ring`` or
            ``full``.
        ansatz_options: further keyword options of the ansatz builder (for ``hqml``:
            ``entangler`` and ``reuploading``); ``None`` means none.
        backend: where the circuit runs, as :func:`qiskit_unlearn.qnn.make_qnn` accepts it
            (``"statevector"``, ``"aer"``, ``"fake:<device>"``, a mapping, ...).
        backend_options: keyword options of the backend (e.g. ``{"shots": 1024}``).
        seed: seeds every initial weight, classical and quantum (torch's global random state
            is left untouched).

    Raises:
        ModelError: if a size is invalid, the images are too small for the conv stages,
            ``num_classes`` < 2, or the ansatz is unknown or does not take ``ansatz_options``.
    """

    kind = "hybrid-cnn"

    def __init__(self, num_qubits: int, num_classes: int,
                 image_shape: Sequence[int] = (1, 28, 28), channels: Sequence[int] = (8, 16),
                 layers: int = 2, head_hidden: int | Sequence[int] = 16, ansatz: str = "hqml",
                 entanglement: str = "ring", ansatz_options: Mapping[str, Any] | None = None,
                 backend: Any = "statevector", backend_options: Mapping[str, Any] | None = None,
                 seed: int = 0) -> None:
        super().__init__(locals())
        self.image_shape = tuple(int(s) for s in image_shape)
        with seeded(seed):
            self.frontend, width = conv_frontend(self.image_shape, channels)
            self.encoder = nn.Linear(width, check_positive(num_qubits, "num_qubits"))
            self.quantum, self.head = quantum_and_head(
                num_qubits, num_classes, layers, head_hidden, ansatz, entanglement,
                ansatz_options, backend, backend_options, input_gradients=True)
        self.group_names = ["frontend", "encoder", "quantum", *self.head.group_names("head")]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images → CNN → Linear → π·tanh: one angle in (-π, π) per qubit.

        Args:
            x: images of shape (batch, C, H, W) as ``image_shape`` gives them, or flattened to
                (batch, C·H·W).

        Returns:
            Angles of shape (batch, num_qubits).
        """
        images = as_float_batch(x).reshape(-1, *self.image_shape)
        return math.pi * torch.tanh(self.encoder(self.frontend(images)))

    def decode(self, expectations: torch.Tensor) -> torch.Tensor:
        """The MLP head on the measured ⟨Z⟩ values.

        Args:
            expectations: ⟨Z_i⟩ of every qubit, shape (batch, num_qubits).

        Returns:
            Logits of shape (batch, num_classes).
        """
        return self.head(expectations)
