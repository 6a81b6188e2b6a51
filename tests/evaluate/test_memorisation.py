"""Per-example memorisation (Feldman & Zhang) on constructed logits with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qiskit_unlearn.evaluate import EvaluationError, memorisation


def _logits(predictions: list[int], classes: int = 3, margin: float = 5.0) -> np.ndarray:
    """One model's logits predicting ``predictions`` (one per example) with a fixed margin."""
    out = np.zeros((len(predictions), classes))
    out[np.arange(len(predictions)), predictions] = margin
    return out


def test_memorisation_by_accuracy_and_probability():
    labels = [0, 1, 2, 1]
    teacher = _logits([0, 1, 2, 0])  # right on examples 0, 1, 2
    # four out-models: example 0 always right, example 1 right in half, 2 and 3 never
    outs = np.stack([_logits([0, 1, 0, 0]), _logits([0, 1, 0, 2]), _logits([0, 2, 1, 0]),
                     _logits([0, 0, 1, 2])])
    mem = memorisation(teacher, outs, labels)
    np.testing.assert_allclose(mem.by_accuracy, [0.0, 0.5, 1.0, 0.0])
    assert mem.mean == pytest.approx(0.375)
    assert (mem.num_in, mem.num_out, mem.num_examples) == (1, 4, 4)
    # probabilities: p_right = e^5 / (e^5 + 2), p_wrong = 1 / (e^5 + 2)
    right, wrong = np.exp(5) / (np.exp(5) + 2), 1 / (np.exp(5) + 2)
    np.testing.assert_allclose(mem.by_probability, [0.0, right - (right + wrong) / 2,
                                                    right - wrong, 0.0], atol=1e-12)
    assert mem.mean_probability == pytest.approx(float(np.mean(mem.by_probability)))


def test_memorisation_with_probabilities_several_in_models_and_tensors():
    labels = torch.tensor([0, 1])
    ins = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.7, 0.3]]])  # (2, 2, 2)
    outs = torch.tensor([[0.3, 0.7], [0.5, 0.5]])  # one out-model, (N, C)
    mem = memorisation(ins, outs, labels, from_logits=False)
    # example 0: in right 2/2, out wrong; example 1: in right 1/2, out argmax 0 -> wrong
    np.testing.assert_allclose(mem.by_accuracy, [1.0, 0.5])
    np.testing.assert_allclose(mem.by_probability, [0.75 - 0.3, 0.55 - 0.5], rtol=1e-6)
    assert (mem.num_in, mem.num_out) == (2, 1)
    # an example the out-models know better than the in-model: negative memorisation
    neg = memorisation(_logits([1]), _logits([0]), [0])
    assert neg.mean == -1.0 and neg.mean_probability < 0


def test_memorisation_rejects_bad_inputs():
    good = _logits([0, 1])
    with pytest.raises(EvaluationError, match="same examples"):
        memorisation(good, _logits([0, 1, 2]), [0, 1])
    with pytest.raises(EvaluationError, match="same examples"):
        memorisation(good, _logits([0, 1], classes=4), [0, 1])
    with pytest.raises(EvaluationError, match="at least"):
        memorisation(np.zeros((0, 2, 3)), good, [0, 1])
    with pytest.raises(EvaluationError, match="shape"):
        memorisation(good, good, [0, 1, 2])
    with pytest.raises(EvaluationError, match=r"0\.\.2"):
        memorisation(good, good, [0, 3])
    with pytest.raises(EvaluationError, match="NaN"):
        memorisation(np.full((2, 3), np.nan), good, [0, 1])
    with pytest.raises(EvaluationError, match="from_logits"):
        memorisation(good, good, [0, 1], from_logits=False)
    with pytest.raises(EvaluationError, match="models, examples, classes"):
        memorisation(np.zeros(3), good, [0, 1])
