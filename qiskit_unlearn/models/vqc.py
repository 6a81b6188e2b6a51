"""Pure VQC on amplitude-encoded inputs: the hardware-efficient ansatz and a classical readout.

Inputs are the 2^n − 1 state-preparation angles that the data preprocessing computes with
:func:`qiskit_unlearn.ansatz.amplitude_encoding_angles`; nothing trainable precedes the circuit,
so by default the QNN skips input gradients (``input_gradients=True`` turns them on for
methods that perturb inputs).

Readouts (no hidden classical layer, so the classifier stays a quantum model):

* ``single`` (binary): one ⟨Z₀⟩. The class-1 probability is the Born probability of measuring
  qubit 0 in |1⟩, p₁ = (1 − ⟨Z₀⟩)/2, and the logits are (log p₀, log p₁) with p clamped to
  [1e-6, 1 − 1e-6]. Softmax of these logits gives back (p₀, p₁), so cross-entropy is the exact
  negative log-likelihood of the measurement model, and there is no classical parameter.
* ``multi``: ⟨Z_i⟩ on the first ``num_classes`` qubits, logit_i = s_i·⟨Z_i⟩ with a learnable
  scale per class (the ``readout`` group). ⟨Z⟩ lies in [-1, 1], so without a scale softmax
  could never become confident; s starts at 2 (a fully polarised correct qubit against
  opposite ones gives odds e⁴ per class).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qiskit_unlearn.ansatz import hardware_efficient_ansatz, single_z_observable, z_observables
from qiskit_unlearn.models.base import (
    ModelError,
    QuantumLayer,
    UnlearnableModel,
    as_float_batch,
    check_positive,
    seeded,
)

READOUTS = ("single", "multi")
INITIAL_SCALE = 2.0
_EPS = 1e-6


class BornBinaryReadout(nn.Module):
    """⟨Z⟩ of shape (N, 1) → logits (log p₀, log p₁) with p₁ = (1 − ⟨Z⟩)/2; no parameters."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        p1 = ((1 - z) / 2).clamp(_EPS, 1 - _EPS)
        return torch.log(torch.cat([1 - p1, p1], dim=1))


class ScaledReadout(nn.Module):
    """logit_i = s_i · ⟨Z_i⟩ with a learnable scale per output (reset to :data:`INITIAL_SCALE`)."""

    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.empty(num_outputs))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.scale.fill_(INITIAL_SCALE)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale


class AmplitudeVQC(UnlearnableModel):
    """Amplitude encoding → hardware-efficient layers → Z readout; logits (N, num_classes).

    ``readout``: ``"single"`` (binary only) or ``"multi"`` (needs num_classes <= num_qubits);
    ``None`` picks ``single`` for two classes and ``multi`` otherwise. Groups: ``quantum``, plus
    ``readout`` for the multi-qubit readout.

    Args:
        num_qubits: qubits n; inputs are the 2^n − 1 amplitude-encoding angles of vectors with
            up to 2^n entries.
        num_classes: output classes: 2 for ``single``, 2..num_qubits for ``multi``.
        layers: trainable hardware-efficient layers L.
        readout: ``"single"``, ``"multi"`` or ``None`` (chosen from ``num_classes``, see
            above).
        rzz_ring: add the RZZ ring after each rotation layer (off: no entanglement beyond the
            encoding, an ablation).
        backend: where the circuit runs, as :func:`qiskit_unlearn.qnn.make_qnn` accepts it
            (``"statevector"``, ``"aer"``, ``"fake:<device>"``, a mapping, ...).
        backend_options: keyword options of the backend (e.g. ``{"shots": 1024}``).
        seed: seeds the initial circuit weights (torch's global random state is left
            untouched).
        input_gradients: let the QNN compute gradients with respect to its inputs (for
            methods that perturb inputs).

    Raises:
        ModelError: if a size is invalid, ``readout`` is unknown, or ``num_classes`` does not
            fit the readout.
    """

    kind = "vqc-amplitude"

    def __init__(self, num_qubits: int, num_classes: int, layers: int = 2,
                 readout: str | None = None, rzz_ring: bool = True,
                 backend: Any = "statevector", backend_options: Mapping[str, Any] | None = None,
                 seed: int = 0, input_gradients: bool = False) -> None:
        super().__init__(locals())
        n = check_positive(num_qubits, "num_qubits")
        num_classes = check_positive(num_classes, "num_classes")
        readout = readout or ("single" if num_classes == 2 else "multi")
        if readout not in READOUTS:
            raise ModelError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
        if readout == "single" and num_classes != 2:
            raise ModelError(f"the single-qubit readout is binary; num_classes={num_classes} "
                             "needs readout='multi'")
        if readout == "multi" and not 2 <= num_classes <= n:
            raise ModelError(f"the multi-qubit readout measures one qubit per class: "
                             f"num_classes={num_classes} needs 2..{n} (num_qubits={n})")
        observables = single_z_observable(n) if readout == "single" else \
            z_observables(n)[:num_classes]
        with seeded(seed):
            self.quantum = QuantumLayer(hardware_efficient_ansatz(n, layers, rzz_ring),
                                        observables, backend=backend,
                                        backend_options=backend_options,
                                        input_gradients=input_gradients)
            self.readout = BornBinaryReadout() if readout == "single" else \
                ScaledReadout(num_classes)
        self.group_names = ["quantum"] + (["readout"] if readout == "multi" else [])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The inputs themselves (already state-preparation angles), as float32.

        Args:
            x: amplitude-encoding angles of shape (batch, 2^num_qubits − 1).

        Returns:
            The same values as a float32 tensor.
        """
        return as_float_batch(x)

    def decode(self, expectations: torch.Tensor) -> torch.Tensor:
        """The readout: Born-rule logits (``single``) or scaled ⟨Z_i⟩ (``multi``).

        Args:
            expectations: the measured ⟨Z⟩ values, shape (batch, 1) for ``single`` and
                (batch, num_classes) for ``multi``.

        Returns:
            Logits of shape (batch, num_classes).
        """
        return self.readout(expectations)
