"""Utility metrics: accuracy drops, UQI, agreement with the retrain oracle, seed summaries.

Every function takes model outputs as numpy arrays or torch tensors, so the pipeline computes
each model's logits once and reuses them. Arithmetic is done in float64 numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax, xlogy

#: Probabilities are clipped below at this value before a logarithm (KL divergence only).
EPS = 1e-12
DEFAULT_GAP_KEYS = ("retain_accuracy", "forget_accuracy", "test_accuracy")


class EvaluationError(ValueError):
    """An input the evaluation functions cannot score; the message says what to pass instead."""


def as_array(values: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """``values`` (numpy array, torch tensor or sequence) as a float64 numpy array."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise EvaluationError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return arr


def as_labels(labels: Any, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Integer class labels of length ``n`` in ``0..num_classes-1``."""
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise EvaluationError(f"{name} must have shape ({n},) to match the outputs, "
                              f"got {arr.shape}")
    if n and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise EvaluationError(f"{name} must be integer class indices, got {arr.dtype}")
    arr = arr.astype(np.int64)
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise EvaluationError(f"{name} must lie in 0..{num_classes - 1} (one per output "
                              f"column), got values {arr.min()}..{arr.max()}")
    return arr


def require_finite(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` if it holds no NaN or infinite value."""
    if not np.all(np.isfinite(arr)):
        raise EvaluationError(f"{name} contains NaN or infinite values")
    return arr


def require_probabilities(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` if its last axis holds probability vectors (non-negative, summing to 1)."""
    if arr.min() < 0 or not np.allclose(arr.sum(axis=-1), 1.0, atol=1e-3):
        raise EvaluationError(f"{name} rows must be probability vectors (non-negative, summing "
                              "to 1); pass from_logits=True for logits")
    return arr


def outputs(values: Any, name: str) -> np.ndarray:
    """A non-empty (N, C) matrix of logits or probabilities."""
    arr = as_array(values, name, ndim=2)
    if arr.shape[0] == 0:
        raise EvaluationError(f"{name} is empty; pass the outputs of at least one sample")
    return require_finite(arr, name)


def softmax(logits: Any) -> np.ndarray:
    """Row-wise softmax in float64 (stable for large logits).

    Args:
        logits: a non-empty, finite (N, C) matrix (numpy array or torch tensor).

    Returns:
        Probabilities of shape (N, C), each row summing to 1.

    Raises:
        EvaluationError: for a wrong shape, no rows or a non-finite value.
    """
    return np.exp(log_softmax(outputs(logits, "logits"), axis=1))


def _probabilities(values: Any, name: str, from_logits: bool) -> np.ndarray:
    if from_logits:
        return softmax(values)
    return require_probabilities(outputs(values, name), name)


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise EvaluationError(f"{names} must have the same shape (same samples in the same "
                              f"order), got {a.shape} and {b.shape}")


def accuracy(logits: Any, labels: Any) -> float:
    """Fraction of samples whose argmax output equals the label (logits or probabilities).

    Args:
        logits: logits or probabilities of shape (N, C), numpy array or torch tensor.
        labels: integer labels in 0..C-1, shape (N,).

    Returns:
        The accuracy in [0, 1].

    Raises:
        EvaluationError: for malformed outputs or labels.
    """
    out = outputs(logits, "logits")
    y = as_labels(labels, out.shape[0], out.shape[1])
    return float(np.mean(out.argmax(axis=1) == y))


def accuracy_drops(original: Mapping[str, float], unlearned: Mapping[str, float]
                   ) -> dict[str, float]:
    """``{split}_drop = original − unlearned`` accuracy for retain, forget and test.

    Both mappings need ``retain_accuracy``, ``forget_accuracy`` and ``test_accuracy`` (the
    pipeline's metric names). A positive drop means the unlearned model is less accurate.

    Args:
        original: the original (teacher) model's metrics.
        unlearned: the unlearned model's metrics.

    Returns:
        ``{"retain_drop": ..., "forget_drop": ..., "test_drop": ...}``.

    Raises:
        EvaluationError: if either mapping lacks an accuracy.
    """
    drops = {}
    for split in ("retain", "forget", "test"):
        key = f"{split}_accuracy"
        for which, m in (("original", original), ("unlearned", unlearned)):
            if key not in m:
                raise EvaluationError(f"{which} metrics lack {key!r}; they have {sorted(m)}")
        drops[f"{split}_drop"] = float(original[key]) - float(unlearned[key])
    return drops


def uqi(forget_drop: float, retain_drop: float, test_drop: float) -> float:
    """Unlearning quality index: ``forget_drop − ½(retain_drop + test_drop)``.

    Rewards losing accuracy on the forget set and penalises losing it elsewhere.

    Args:
        forget_drop: original − unlearned accuracy on the forget set.
        retain_drop: original − unlearned accuracy on the retain set.
        test_drop: original − unlearned accuracy on the test set.

    Returns:
        The index; higher is better.
    """
    return float(forget_drop) - 0.5 * (float(retain_drop) + float(test_drop))


def kl_divergence(p_ref: Any, p: Any, *, from_logits: bool = False) -> float:
    """Mean over samples of KL(p_ref ‖ p) in nats; ``p_ref`` is the retrain oracle's output.

    The oracle is the reference because the question is how much the unlearned model's
    predictions ``p`` lose in describing the oracle's. Terms with ``p_ref = 0`` are 0 and ``p``
    is clipped below at ``EPS`` = 1e-12, so the value is finite (at most about 27.6 per sample).

    Args:
        p_ref: the retrain oracle's outputs, shape (N, C): probabilities, or logits with
            ``from_logits``.
        p: the unlearned model's outputs on the same samples, shape (N, C).
        from_logits: the inputs are logits (softmax applied here) rather than probabilities.

    Returns:
        The mean KL divergence in nats, >= 0.

    Raises:
        EvaluationError: for malformed or mismatched outputs, or rows that are not
            probability vectors when ``from_logits`` is false.
    """
    if from_logits:
        ref, out = outputs(p_ref, "p_ref"), outputs(p, "p")
        _same_shape(ref, out, "p_ref and p")
        log_ref, log_p = log_softmax(ref, axis=1), log_softmax(out, axis=1)
        kl = np.sum(np.exp(log_ref) * (log_ref - np.maximum(log_p, math.log(EPS))), axis=1)
        return float(np.mean(kl))
    ref, out = _probabilities(p_ref, "p_ref", False), _probabilities(p, "p", False)
    _same_shape(ref, out, "p_ref and p")
    kl = np.sum(xlogy(ref, ref) - xlogy(ref, np.clip(out, EPS, None)), axis=1)
    return float(np.mean(np.maximum(kl, 0.0)))


def js_divergence(p: Any, q: Any, *, from_logits: bool = False) -> float:
    """Mean over samples of the Jensen–Shannon divergence in bits (base 2), so in [0, 1].

    JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = ½(p + q); symmetric, 0 for equal outputs
    and 1 for predictions with disjoint support. No clipping is needed: m ≥ p/2.

    Args:
        p: one model's outputs, shape (N, C): probabilities, or logits with ``from_logits``.
        q: the other model's outputs on the same samples, shape (N, C).
        from_logits: the inputs are logits (softmax applied here) rather than probabilities.

    Returns:
        The mean JS divergence in bits, in [0, 1].

    Raises:
        EvaluationError: for malformed or mismatched outputs, or rows that are not
            probability vectors when ``from_logits`` is false.
    """
    a, b = _probabilities(p, "p", from_logits), _probabilities(q, "q", from_logits)
    _same_shape(a, b, "p and q")
    m = 0.5 * (a + b)
    kl_am = np.sum(xlogy(a, a) - xlogy(a, m), axis=1)
    kl_bm = np.sum(xlogy(b, b) - xlogy(b, m), axis=1)
    js = 0.5 * (kl_am + kl_bm) / math.log(2.0)
    return float(np.mean(np.clip(js, 0.0, 1.0)))


def prediction_agreement(logits_a: Any, logits_b: Any) -> float:
    """Fraction of samples on which two models predict the same class (argmax).

    Args:
        logits_a: one model's logits or probabilities of shape (N, C), numpy array or torch tensor.
        logits_b: the other model's outputs on the same samples, same shape.

    Returns:
        The agreement in [0, 1].

    Raises:
        EvaluationError: for malformed or mismatched outputs.
    """
    a, b = outputs(logits_a, "logits_a"), outputs(logits_b, "logits_b")
    _same_shape(a, b, "logits_a and logits_b")
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


def oracle_gap(metrics: Mapping[str, float], oracle_metrics: Mapping[str, float],
               keys: Sequence[str] = DEFAULT_GAP_KEYS) -> float:
    """Mean over ``keys`` of ``|metric − oracle metric|`` (0 = like retraining).

    Args:
        metrics: the model's metrics by name.
        oracle_metrics: the retrain oracle's metrics by name.
        keys: the metrics to compare; by default retain, forget and test accuracy.

    Returns:
        The mean absolute gap (NaN if a compared value is NaN).

    Raises:
        EvaluationError: if ``keys`` is empty or a key is missing from either mapping.
    """
    if not keys:
        raise EvaluationError("oracle_gap needs at least one metric key")
    missing = [k for k in keys if k not in metrics or k not in oracle_metrics]
    if missing:
        raise EvaluationError(f"metrics {missing} are missing from the model's or the oracle's "
                              f"metrics (model has {sorted(metrics)}, oracle has "
                              f"{sorted(oracle_metrics)})")
    return float(np.mean([abs(float(metrics[k]) - float(oracle_metrics[k])) for k in keys]))


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof = 1) over seeds, with the count ``n``.

    With a single value the sample std is undefined and reported as NaN (not 0, which would
    claim no seed-to-seed variation); NaN inputs propagate into both statistics.

    Args:
        values: one value per seed.

    Returns:
        ``{"mean": ..., "std": ..., "n": number of values}``.

    Raises:
        EvaluationError: if there are no values.
    """
    arr = as_array(list(values), "values", ndim=1)
    if arr.size == 0:
        raise EvaluationError("summarize needs at least one value")
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
    return {"mean": float(np.mean(arr)), "std": std, "n": int(arr.size)}
