"""The shared training pieces of the methods: paired retain/forget batches and the Fisher."""

from __future__ import annotations

import math

import numpy as np
import torch

from qiskit_unlearn.train import batches
from qiskit_unlearn.unlearn.base import UnlearnData
from qiskit_unlearn.unlearn.steps import PairedBatches, mean_square, per_sample_grads


def _data() -> UnlearnData:
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 2
    return UnlearnData((x[:14], y[:14]), (x[14:], y[14:]), (x[:4], y[:4]), 2, seed=3)


def test_paired_batches_cycle_the_forget_set_across_epochs():
    data = _data()
    pairs = PairedBatches(data, {"batch_size": 4})
    assert pairs.per_epoch == math.ceil(14 / 4) and pairs.steps is None
    first, second = list(pairs.epoch(1)), list(pairs.epoch(2))
    retain = [b for b, _ in first]
    for (x, _), (ex, _) in zip(retain, batches(data.retain, 4, data.seed, 1), strict=True):
        assert torch.equal(x, ex)
    seen = torch.cat([f[0] for _, f in first + second])[:6]  # a full pass over the 6 forget
    assert sorted(seen[:, 0].tolist()) == sorted(data.forget[0][:, 0].tolist())


def test_shortest_pairing_ends_an_epoch_with_the_forget_set():
    data = _data()
    pairs = PairedBatches(data, {"batch_size": 4, "pairing": "shortest"})
    assert pairs.per_epoch == pairs.steps == math.ceil(6 / 4)
    assert len(list(pairs.epoch(1))) == 2
    complement = (np.zeros((3, 2), np.float32), np.zeros(3, np.int64))
    lca = PairedBatches(data, {"batch_size": 2}, partner=complement)
    assert all(len(p[1]) <= 2 and not p[0].any() for _, p in lca.epoch(1))


def test_mean_square_is_the_mean_of_squared_per_sample_gradients():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    x, y = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1])
    weights = list(model.parameters())
    fisher = mean_square(per_sample_grads(model, x, y, weights), weights)
    for i, w in enumerate(weights):
        expected = torch.stack([torch.autograd.grad(torch.nn.functional.cross_entropy(
            model(x[j:j + 1]), y[j:j + 1]), w)[0] ** 2 for j in range(5)]).mean(0)
        torch.testing.assert_close(fisher[i], expected)
