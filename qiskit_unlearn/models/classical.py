"""Classical baseline: an MLP of a size comparable to the hybrids (e.g. 4 → 16 → 3: 131 weights
against 24 circuit weights + 131 head weights of the 4-qubit ``hybrid-pca``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from qiskit_unlearn.models.base import (
    MLPStack,
    ModelError,
    UnlearnableModel,
    as_float_batch,
    check_positive,
    hidden_sizes,
    seeded,
)


class MLP(UnlearnableModel):
    """Flattened input → Linear/ReLU layers → logits; groups ``layer.0``, ``layer.1``, ....

    Args:
        input_dim: features per sample after flattening (e.g. 4 PCA components, 784 pixels).
        num_classes: output classes, at least 2.
        hidden: hidden layer widths, input → output; an int is one hidden layer and ``0`` or
            ``()`` none (a linear classifier).
        seed: seeds the initial weights (torch's global random state is left untouched).

    Raises:
        ModelError: if a size is not a positive integer or ``num_classes`` < 2.
    """

    kind = "mlp"
    classical = True

    def __init__(self, input_dim: int, num_classes: int, hidden: int | Sequence[int] = (16,),
                 seed: int = 0) -> None:
        super().__init__(locals())
        if check_positive(num_classes, "num_classes") < 2:
            raise ModelError(f"num_classes must be at least 2, got {num_classes}")
        sizes = [check_positive(input_dim, "input_dim"), *hidden_sizes(hidden, "hidden"),
                 num_classes]
        with seeded(seed):
            self.layer = MLPStack(sizes)
        self.group_names = self.layer.group_names("layer")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Args:
            x: inputs of shape (batch, ...) with ``input_dim`` values per sample; numpy arrays
                and float64 tensors are accepted and cast to float32.

        Returns:
            Logits of shape (batch, num_classes).
        """
        x = as_float_batch(x)
        return self.layer(x.reshape(len(x), -1))
