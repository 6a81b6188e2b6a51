"""Forgetting quality across many models: the NeurIPS 2023 unlearning challenge score and U-LiRA.

Both compare, example by example, the distribution of a scalar output (normally the
logit-scaled confidence of :func:`logit_confidence`) over M independently unlearned models
with its distribution over M' independently retrained models: arrays of shape (M, N) and
(M', N) for N forget examples. If unlearning worked, no attack can tell the two apart.

:func:`forgetting_quality` follows the challenge's scoring code
(github.com/google-deepmind/unlearning_evaluation, ``metric.py``): per example, an empirical
ε of (ε, δ)-unlearning from the best of two threshold-attack families, then points
2 / 2^n for ε in the n-th bin of width 0.5, averaged over examples.
:func:`ulira` is a per-example likelihood-ratio attack in the spirit of U-LiRA (Hayes et al.
2024, "Inexact unlearning needs more careful evaluations to avoid a false sense of privacy").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import log_softmax, logsumexp

from qiskit_unlearn.evaluate.metrics import (
    EvaluationError,
    as_array,
    as_labels,
    outputs,
    require_probabilities,
)

#: δ of the challenge's scoring code (``DELTA = 1e-05`` in its ``metric.py``).
CHALLENGE_DELTA = 1e-5
#: ε given to perfectly separated or degenerate examples, and the upper clip of every ε.
EPSILON_CAP = 50.0
#: Grid density of the threshold attacks (thresholds per unit of the scalar output).
THRESHOLDS_PER_UNIT = 100
#: Interval-width slack of the double-threshold attack family.
BUFFER = 2.0
BIN_WIDTH = 0.5
#: Examples whose narrower distribution has a range below this fraction of the wider one's
#: get ε = EPSILON_CAP (a collapsed, "peaky" unlearned distribution is a tell-tale).
PEAKY_RATIO = 0.01


def logit_confidence(probs: Any, labels: Any, *, from_logits: bool = False) -> np.ndarray:
    """log(p / (1 − p)) of the true-label probability p, per sample (shape (N,)).

    1 − p is computed as the sum of the other classes' probabilities (from logits:
    ``logit_y − logsumexp(other logits)``), so confident predictions do not round to ±inf.
    Given probabilities, p and 1 − p are clipped below at 1e-45, as in the challenge and
    LiRA code; from logits the result is exact.

    Args:
        probs: outputs of shape (N, C) with C >= 2: probabilities, or logits with
            ``from_logits``.
        labels: integer true labels in 0..C-1, shape (N,).
        from_logits: the outputs are logits rather than probabilities.

    Returns:
        The logit-scaled confidences, shape (N,), float64.

    Raises:
        EvaluationError: for malformed outputs or labels, or fewer than two classes.
    """
    out = outputs(probs, "logits" if from_logits else "probs")
    if out.shape[1] < 2:
        raise EvaluationError("logit_confidence needs at least two classes (columns)")
    y = as_labels(labels, out.shape[0], out.shape[1])
    rows = np.arange(len(y))
    if from_logits:
        logp = log_softmax(out, axis=1)
        log_p = logp[rows, y]
        logp[rows, y] = -np.inf
        return log_p - logsumexp(logp, axis=1)
    require_probabilities(out, "probs")
    p = out[rows, y]
    others = out.copy()
    others[rows, y] = 0.0
    return np.log(p + 1e-45) - np.log(others.sum(axis=1) + 1e-45)


def _model_outputs(unlearned: Any, retrained: Any, minimum: int) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    u = as_array(unlearned, "unlearned", ndim=2)
    r = as_array(retrained, "retrained", ndim=2)
    if u.shape[1] != r.shape[1] or u.shape[1] == 0:
        raise EvaluationError(f"unlearned (M, N) and retrained (M', N) must cover the same N > 0 "
                              f"forget examples, got shapes {u.shape} and {r.shape}")
    if min(len(u), len(r)) < minimum:
        raise EvaluationError(f"need at least {minimum} unlearned and {minimum} retrained models "
                              f"(rows), got M = {len(u)} and M' = {len(r)}; run more seeds")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(r))):
        raise EvaluationError("unlearned / retrained outputs contain NaN or infinite values")
    return u, r


# --- the challenge's forgetting quality ------------------------------------------------------

def epsilon_from_rates(fpr: Any, fnr: Any, delta: float = CHALLENGE_DELTA) -> np.ndarray:
    """ε of each attack operating point: max(log((1−δ−FPR)/FNR), log((1−δ−FNR)/FPR)), ≥ 0.

    As in the challenge code, FPR = FNR = 0 (perfect separation) gives +inf and a point with
    exactly one of them 0 gives NaN (undefined ratio, attributed to too few model samples;
    callers skip it), as does a point where both logarithms are undefined.

    Args:
        fpr: false-positive rates of the operating points (any shape).
        fnr: false-negative rates, same shape.
        delta: the δ of (ε, δ)-unlearning.

    Returns:
        ε per operating point, same shape: >= 0, +inf or NaN as described.
    """
    fpr, fnr = np.asarray(fpr, dtype=np.float64), np.asarray(fnr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(1.0 - delta - fpr) - np.log(fnr)
        b = np.log(1.0 - delta - fnr) - np.log(fpr)
        eps = np.clip(np.fmax(a, b), 0.0, None)  # fmax: NaN only where both are undefined
    eps = np.where((fpr == 0) != (fnr == 0), np.nan, eps)
    return np.where((fpr == 0) & (fnr == 0), np.inf, eps)


def _fraction_at_least(sorted_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return 1.0 - np.searchsorted(sorted_x, t, side="left") / len(sorted_x)


def _fraction_inside(sorted_x: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    inside = (np.searchsorted(sorted_x, right, side="right")
              - np.searchsorted(sorted_x, left, side="left"))
    return np.clip(inside, 0, None) / len(sorted_x)


def _single_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, FNR) of "positive if output ≥ t" on a grid spanning all outputs."""
    lo, hi = min(pos[0], neg[0]), max(pos[-1], neg[-1])
    t = np.linspace(lo, hi, math.ceil((hi - lo) * THRESHOLDS_PER_UNIT))
    return _fraction_at_least(neg, t), 1.0 - _fraction_at_least(pos, t)


def _double_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, FNR) of "positive if left ≤ output ≤ right" with the narrower set as positive.

    Interval widths range over the narrower set's range ± :data:`BUFFER`, as in the challenge.
    """
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos
    width = np.ptp(pos)
    lo, hi = pos[0] + width - BUFFER, pos[-1] + BUFFER
    right = np.linspace(lo, hi, math.ceil((hi - lo) * THRESHOLDS_PER_UNIT))
    num_left = math.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT)
    offsets = np.linspace(-width - BUFFER, -width + BUFFER, num_left)
    left = (right[:, None] + offsets[None, :]).ravel()
    right = np.repeat(right, num_left)
    return _fraction_inside(neg, left, right), 1.0 - _fraction_inside(pos, left, right)


def example_epsilon(unlearned: np.ndarray, retrained: np.ndarray,
                    delta: float = CHALLENGE_DELTA) -> float:
    """Empirical ε of one forget example from its M unlearned and M' retrained outputs.

    The positive class is whichever of the two has the larger median. ε is the largest
    :func:`epsilon_from_rates` over both attack families (operating points with an undefined
    ratio skipped), clipped to [0, ``EPSILON_CAP`` = 50]. Shortcuts: if the narrower range
    is below ``PEAKY_RATIO`` = 0.01 of the wider one, ε = cap (the challenge's rule); if both
    sets are constant, ε = 0 when they are equal and the cap otherwise (the challenge code does
    not handle this case).

    Args:
        unlearned: the example's outputs under the M unlearned models, shape (M,).
        retrained: its outputs under the M' retrained models, shape (M',).
        delta: the δ of (ε, δ)-unlearning.

    Returns:
        The example's ε in [0, 50].
    """
    u, r = np.sort(np.ravel(unlearned)), np.sort(np.ravel(retrained))
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    small, large = sorted((np.ptp(pos), np.ptp(neg)))
    if large == 0:
        return 0.0 if pos[0] == neg[0] else EPSILON_CAP
    if small / large < PEAKY_RATIO:
        return EPSILON_CAP
    rates = [_double_threshold_rates(pos, neg), _single_threshold_rates(pos, neg)]
    eps = epsilon_from_rates(np.concatenate([f for f, _ in rates]),
                             np.concatenate([n for _, n in rates]), delta)
    eps = eps[~np.isnan(eps)]
    return float(np.clip(eps.max(), 0.0, EPSILON_CAP)) if eps.size else 0.0


def _max_epsilon(num_models: int) -> int:
    return math.ceil(math.log(num_models - 1))


def bin_points(epsilons: Any, num_models: int) -> np.ndarray:
    """Per-example points H(ε) = 2 / 2^n for ε in bin n = 1, 2, ... of width 0.5.

    The bins stop at ceil(log(M − 1)) (M = number of unlearned models, as in the challenge
    code): about the largest ε that M samples per side can certify; an ε beyond the last bin
    scores 0.

    Args:
        epsilons: per-example ε values, shape (N,).
        num_models: M, the number of unlearned models, at least 3.

    Returns:
        Points in [0, 1] per example, shape (N,).

    Raises:
        EvaluationError: if ``num_models`` < 3.
    """
    if num_models < 3:
        raise EvaluationError(f"bins need at least 3 unlearned models, got {num_models}")
    eps = np.asarray(epsilons, dtype=np.float64)
    num_bins = round(_max_epsilon(num_models) / BIN_WIDTH)
    index = np.floor(eps / BIN_WIDTH)  # 0-based: bin n = index + 1
    return np.where(index < num_bins, 2.0 ** -np.minimum(index, num_bins), 0.0)


@dataclass(frozen=True)
class ForgettingQuality:
    """The challenge's forgetting quality ``score`` in [0, 1] (1 = indistinguishable from
    retraining), with per-example ``epsilons`` and ``points`` and how they were obtained.

    Attributes:
        score: the mean of ``points``, in [0, 1].
        epsilons: per-example ε, shape (N,).
        points: per-example points H(ε), shape (N,).
        num_unlearned: M, the number of unlearned models.
        num_retrained: M', the number of retrained models.
        delta: the δ used.
        max_epsilon: where the bins stop, ceil(ln(M − 1)).
    """

    score: float
    epsilons: np.ndarray
    points: np.ndarray
    num_unlearned: int
    num_retrained: int
    delta: float
    max_epsilon: int


def forgetting_quality(unlearned: Any, retrained: Any, *,
                       delta: float = CHALLENGE_DELTA) -> ForgettingQuality:
    """Forgetting quality of the NeurIPS 2023 Machine Unlearning challenge.

    ``unlearned`` (M, N) and ``retrained`` (M', N) hold one scalar per model and forget
    example (the challenge uses :func:`logit_confidence`). Per example,
    ε = :func:`example_epsilon`; the score is the mean of :func:`bin_points`. At least three
    models per side are needed for a non-trivial bin range (the challenge used 512).

    With finite M even perfect unlearning scores well below 1, because the largest of many
    threshold attacks feeds on sampling noise in the tails (two samples of one Gaussian give
    ε ≈ 1.5 and a score of about 0.2 for any M = M' from 8 to 512). Compare methods with
    each other, or with a retrain-vs-retrain baseline from two halves of the retrained models.

    Args:
        unlearned: shape (M, N): one scalar per unlearned model (row) and forget example
            (column), normally :func:`logit_confidence`.
        retrained: shape (M', N): the same for the retrained models.
        delta: the δ of (ε, δ)-unlearning, in [0, 1).

    Returns:
        The score with per-example ε and points.

    Raises:
        EvaluationError: for an invalid ``delta``, mismatched columns, fewer than three models
            per side, or non-finite outputs.
    """
    if not 0.0 <= delta < 1.0:
        raise EvaluationError(f"delta must be in [0, 1), got {delta}")
    u, r = _model_outputs(unlearned, retrained, minimum=3)
    eps = np.array([example_epsilon(u[:, i], r[:, i], delta) for i in range(u.shape[1])])
    points = bin_points(eps, len(u))
    return ForgettingQuality(float(points.mean()), eps, points, len(u), len(r), float(delta),
                             _max_epsilon(len(u)))


# --- U-LiRA-style per-example likelihood-ratio attack -------------------------------------

@dataclass(frozen=True)
class ULiRAResult:
    """Per-example and mean balanced ``accuracy`` and ``auc`` of the attack (0.5 = cannot tell
    unlearned from retrained models; 1 = always can).

    Attributes:
        accuracy: balanced accuracy averaged over the examples.
        auc: AUC averaged over the examples.
        per_example_accuracy: balanced accuracy per example, shape (N,).
        per_example_auc: AUC per example, shape (N,).
        num_unlearned: M, the number of unlearned models.
        num_retrained: M', the number of retrained models.
    """

    accuracy: float
    auc: float
    per_example_accuracy: np.ndarray
    per_example_auc: np.ndarray
    num_unlearned: int
    num_retrained: int


def _loo_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population variance of each column without row j, for every row j."""
    m = len(x)
    centred = x - x.mean(axis=0)
    shift = centred / (m - 1)
    var = (np.sum(centred**2, axis=0) - centred**2) / (m - 1) - shift**2
    return x.mean(axis=0) - shift, np.maximum(var, 0.0)


def _gaussian_logpdf(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def ulira(unlearned: Any, retrained: Any, *, min_std: float = 1e-3) -> ULiRAResult:
    """Per-example likelihood-ratio attack telling unlearned from retrained models.

    Leave-pair-out: for every pair of one unlearned model i and one retrained model j, and
    for each forget example, fit one Gaussian to the example's outputs under the other M − 1
    unlearned models and one to those under the other M' − 1 retrained models (mean and
    population std as in LiRA, std floored at ``min_std``). Both held-out models are scored
    by the log-likelihood ratio s(x) = log N_unlearned(x) − log N_retrained(x); the attack
    says "unlearned" when s > 0. Per example, the balanced accuracy is the mean over pairs of
    ½([s(u_i) > 0] + [s(r_j) < 0]) and the AUC the mean over pairs of [s(u_i) > s(r_j)]
    (ties count half); the results average both over examples. Inputs as in
    :func:`forgetting_quality`, at least three models per side.

    Unlike Hayes et al. there are no separate shadow and target models: every model is a
    held-out target. Scoring only pairs held out together (Airola et al. 2011) keeps the
    estimate unbiased: with perfect unlearning, u_i and r_j are exchangeable given the fits,
    so the expected AUC is exactly 0.5 (and the accuracy 0.5 for M = M'). Pooling scores
    across folds instead would bias the AUC below 0.5.

    Args:
        unlearned: shape (M, N): one scalar per unlearned model (row) and forget example
            (column), normally :func:`logit_confidence`.
        retrained: shape (M', N): the same for the retrained models.
        min_std: floor of each fitted Gaussian's std, > 0.

    Returns:
        Mean and per-example balanced accuracy and AUC of the attack.

    Raises:
        EvaluationError: for a non-positive ``min_std``, mismatched columns, fewer than three
            models per side, or non-finite outputs.
    """
    if min_std <= 0:
        raise EvaluationError(f"min_std must be positive, got {min_std}")
    u, r = _model_outputs(unlearned, retrained, minimum=3)
    floor = min_std**2
    mean_u, var_u = _loo_moments(u)
    mean_r, var_r = _loo_moments(r)
    var_u, var_r = np.maximum(var_u, floor), np.maximum(var_r, floor)
    # log N(r_j; fit without r_j), shape (M', N): the retrained held-out's own-group term
    r_own = _gaussian_logpdf(r, mean_r, var_r)
    correct = np.zeros(u.shape[1])
    wins = np.zeros(u.shape[1])
    for i in range(len(u)):
        s_u = (_gaussian_logpdf(u[i], mean_u[i], var_u[i])
               - _gaussian_logpdf(u[i], mean_r, var_r))  # (M', N): one per held-out j
        s_r = _gaussian_logpdf(r, mean_u[i], var_u[i]) - r_own
        correct += np.sum((s_u > 0) + 0.5 * (s_u == 0) + (s_r < 0) + 0.5 * (s_r == 0), axis=0)
        wins += np.sum((s_u > s_r) + 0.5 * (s_u == s_r), axis=0)
    pairs = len(u) * len(r)
    accuracy, auc = correct / (2 * pairs), wins / pairs
    return ULiRAResult(float(accuracy.mean()), float(auc.mean()), accuracy, auc, len(u),
                       len(r))
