"""split_logits: every evaluation set through the model in one batch, split back exactly."""

from __future__ import annotations

import numpy as np
import torch

from qiskit_unlearn.evaluate.suite import EvalSets, split_logits
from qiskit_unlearn.train import predict_logits


class _Counting(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x)


def test_sets_share_one_forward_pass_and_keep_their_rows():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def pair(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 4, n)

    sets = EvalSets(pair(7), pair(3), pair(5), pair(4), (np.zeros((0, 3), np.float32),
                                                         np.zeros(0, int)))
    model = _Counting()
    logits = split_logits(model, sets)
    assert model.calls == 1
    assert list(logits) == ["retain", "forget", "val", "test", "nonmember"]
    assert logits["nonmember"].shape == (0, 0) and logits["forget"].dtype == np.float64
    for name in ("retain", "forget", "val", "test"):
        expected = predict_logits(model, sets.split(name)[0]).double().numpy()
        np.testing.assert_allclose(logits[name], expected, rtol=1e-6, atol=1e-6)
