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
    """Flattened input → Linear/ReLU layers → logits; groups ``layer.0``, ``layer.1``, ...."""

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
        x = as_float_batch(x)
        return self.layer(x.reshape(len(x), -1))
