"""Per-example memorisation (Feldman & Zhang 2020) from models trained with and without it.

mem(x, y) = P[h(x) = y | (x, y) in training] − P[h(x) = y | (x, y) not in training], the
probabilities taken over the randomness of training. With "in" models (trained on data that
holds the example) and "out" models (trained without it), both terms are estimated by the
fraction of models that classify the example correctly; a smoother variant replaces
"correct" by the probability of the true label.

The pipeline uses the teacher as the only in-model and the forgetting-quality run's retrained
models (retain set only, fresh seeds) as out-models, so one seed's estimate is noisy (one
in-model); for class forgetting the out-models never saw the class at all, and the score
measures how far the class generalises from the others rather than memorisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import softmax

from qiskit_unlearn.evaluate.metrics import (
    EvaluationError,
    as_array,
    as_labels,
    require_finite,
    require_probabilities,
)


@dataclass(frozen=True)
class Memorisation:
    """Per-example memorisation, shape (N,), by accuracy and by true-label probability.

    Attributes:
        by_accuracy: fraction of in-models right minus fraction of out-models right, per
            example, in [−1, 1].
        by_probability: mean in-model minus mean out-model true-label probability, per
            example, in [−1, 1].
        num_in: the number of in-models.
        num_out: the number of out-models.
    """

    by_accuracy: np.ndarray
    by_probability: np.ndarray
    num_in: int
    num_out: int

    @property
    def mean(self) -> float:
        """Mean memorisation by accuracy over the examples (in [−1, 1])."""
        return float(self.by_accuracy.mean())

    @property
    def mean_probability(self) -> float:
        """Mean memorisation by true-label probability over the examples (in [−1, 1])."""
        return float(self.by_probability.mean())

    @property
    def num_examples(self) -> int:
        """The number of examples N."""
        return int(self.by_accuracy.size)


def _models(values: Any, name: str, from_logits: bool) -> np.ndarray:
    """Outputs of M models as (M, N, C) probabilities; one model's (N, C) is promoted."""
    arr = as_array(values, name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise EvaluationError(f"{name} must be (models, examples, classes) outputs of at least "
                              f"one model on at least one example, got shape {arr.shape}")
    require_finite(arr, name)
    return softmax(arr, axis=2) if from_logits else require_probabilities(arr, name)


def memorisation(in_outputs: Any, out_outputs: Any, labels: Any, *,
                 from_logits: bool = True) -> Memorisation:
    """Per-example memorisation of N examples from models with and without them in training.

    by_accuracy[i] = (fraction of in-models right on i) − (fraction of out-models right on i);
    by_probability[i] = mean in-model p(y_i | x_i) − mean out-model p(y_i | x_i).

    Args:
        in_outputs: outputs of shape (M_in, N, C) of models that trained on the examples (a
            single model's (N, C) is accepted).
        out_outputs: outputs of shape (M_out, N, C) of models that did not (a single model's
            (N, C) is accepted).
        labels: integer true labels in 0..C-1, shape (N,).
        from_logits: the outputs are logits (the default); False for probabilities.

    Returns:
        Both estimates per example, with the model counts.

    Raises:
        EvaluationError: for malformed, non-finite or mismatched outputs, or bad labels.
    """
    p_in = _models(in_outputs, "in_outputs", from_logits)
    p_out = _models(out_outputs, "out_outputs", from_logits)
    if p_in.shape[1:] != p_out.shape[1:]:
        raise EvaluationError(f"in_outputs and out_outputs must cover the same examples and "
                              f"classes, got (examples, classes) {p_in.shape[1:]} and "
                              f"{p_out.shape[1:]}")
    n, c = p_in.shape[1:]
    y = as_labels(labels, n, c)
    rows = np.arange(n)

    def correct(p: np.ndarray) -> np.ndarray:
        return (p.argmax(axis=2) == y).mean(axis=0)

    def true_prob(p: np.ndarray) -> np.ndarray:
        return p[:, rows, y].mean(axis=0)

    return Memorisation(correct(p_in) - correct(p_out), true_prob(p_in) - true_prob(p_out),
                        len(p_in), len(p_out))
