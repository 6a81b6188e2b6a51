"""Evaluation suite: pure metric functions on model outputs, plus loss-landscape curvature.

Inputs are numpy arrays or torch tensors of logits (or probabilities where stated), so each
model's outputs are computed once and reused; arithmetic is float64. Bad inputs raise
:class:`EvaluationError` (a ``ValueError``). Definitions:

Utility (``metrics``)
    *accuracy*: fraction of samples whose argmax output equals the label.
    *drops*: ``{retain,forget,test}_drop`` = original model's accuracy − unlearned model's.
    *UQI* (unlearning quality index) = forget_drop − ½ (retain_drop + test_drop).
    *summarize*: mean and sample std (ddof = 1) over seeds; std is NaN for a single seed.

Agreement with the retrain oracle (``metrics``)
    *KL* = mean over samples of KL(p_oracle ‖ p_model) = Σ_c p_oracle,c ln(p_oracle,c /
    p_model,c), in nats, with p_model clipped below at 1e-12 (finite) and 0 ln 0 = 0.
    *JS* = mean over samples of ½ KL(p ‖ m) + ½ KL(q ‖ m), m = ½ (p + q), in bits (log base
    2), so 0 ≤ JS ≤ 1.
    *prediction agreement* = fraction of samples with equal argmax predictions.
    *oracle gap* = mean over retain, forget and test accuracy of ``|model − oracle|``.

Membership inference (``mia``; members = forget set, non-members = held-out test samples)
    *confidence-attack AUC*: ROC AUC of members vs non-members scored by the softmax
    probability of the true label; 0.5 = no leak.
    *loss-attack AUC*: the same with score = −cross-entropy (log-softmax of the label).
    *MIA-efficacy* (Jia et al. 2023): an ``SVC(C=3, gamma="auto", kernel="rbf")`` trained on
    the true-label confidence (or entropy, modified entropy, probability vector) of retain
    samples (member) vs held-out samples (non-member), balanced by seeded subsampling,
    predicts the forget set; MIA-efficacy = fraction predicted non-member (higher = better).

Forgetting across many models (``forgetting``; M unlearned and M' retrained models)
    *logit confidence* = ln(p_y / (1 − p_y)) of the true-label probability.
    *forgetting quality* (NeurIPS 2023 unlearning challenge): per forget example, ε = the
    largest over single- and double-threshold attacks on the logit confidences of
    max(ln((1 − δ − FPR) / FNR), ln((1 − δ − FNR) / FPR)), δ = 1e-5, skipping attacks with
    exactly one zero rate; the example scores 2 / 2^n for ε in bin n = 1, 2, ... of width
    0.5 (0 beyond ceil(ln(M − 1))); the score is the mean over examples, in [0, 1]
    (1 = indistinguishable from retraining).
    *U-LiRA-style attack*: per example, Gaussians fitted (leave-one-out) to the logit
    confidences under unlearned and under retrained models; a held-out model is called
    unlearned when its likelihood ratio exceeds 1. Balanced accuracy and AUC, averaged over
    examples; 0.5 = indistinguishable.

Per-example memorisation (``memorisation``; Feldman & Zhang 2020)
    mem(x) = P[correct on x | x in training] − P[correct on x | x not in training], estimated
    from in-models and out-models by the fraction classifying x correctly; a smoother
    variant uses the mean true-label probability. The pipeline's in-model is the teacher
    (one per seed: a noisy estimate), its out-models the forgetting-quality retrained models;
    for class forgetting the out-models never saw the class, so the score measures how far
    the class generalises from the others, not memorisation.

Statistics over seeds (``stats``, ``ranking``)
    *95 % interval*: percentile bootstrap of the mean over seeds (10,000 resamples, fixed
    seed; NaN below two seeds; too narrow with few seeds).
    *paired test*: per seed differences; Wilcoxon signed-rank from 6 pairs, exact sign-flip
    permutation test below; two-sided; Holm-corrected across methods tested against the
    best. With n non-zero differences no p-value is below 2 / 2^n.
    *distance to the oracle*: mean over retain, forget, test accuracy and MIA AUC of
    ``|method − oracle|`` of the same seed (accuracies only without MIA).
    *balance*: harmonic mean of forgetting = 1 − ``|forget acc − oracle forget acc|``,
    utility = min(1, test acc / teacher test acc) and privacy = max(0, 1 − 2
    ``|MIA AUC − oracle MIA AUC|``) (omitted without MIA), per seed.

Loss landscape (``landscape``; mean cross-entropy on given data, trainable parameters)
    *HVP* by central differences of full-batch gradients (TorchConnector has no double
    backward); *top eigenvalues* by Lanczos (``eigsh``) on the HVP; *trace* by Hutchinson's
    estimator with Rademacher vectors, reported with its standard error.

The torch- and scikit-learn-based parts (``landscape``, ``mia``) load on first use, so a
report, which needs only the statistics, does not pay for importing them.
"""

from __future__ import annotations

import importlib
from typing import Any

from qiskit_unlearn.evaluate.forgetting import (
    CHALLENGE_DELTA,
    ForgettingQuality,
    ULiRAResult,
    bin_points,
    epsilon_from_rates,
    example_epsilon,
    forgetting_quality,
    logit_confidence,
    ulira,
)
from qiskit_unlearn.evaluate.memorisation import Memorisation, memorisation
from qiskit_unlearn.evaluate.metrics import (
    EvaluationError,
    accuracy,
    accuracy_drops,
    js_divergence,
    kl_divergence,
    oracle_gap,
    prediction_agreement,
    softmax,
    summarize,
    uqi,
)
from qiskit_unlearn.evaluate.ranking import (
    Balance,
    RankedMethod,
    balance_score,
    oracle_distance,
    rank_methods,
)
from qiskit_unlearn.evaluate.stats import PairedTest, bootstrap_ci, holm, paired_test

_LAZY = {
    **dict.fromkeys(("TraceEstimate", "hessian_trace", "hessian_vector_product",
                     "num_trainable", "top_hessian_eigenvalues"), "landscape"),
    **dict.fromkeys(("MIA_FEATURES", "confidence_attack_auc", "loss_attack_auc",
                     "mia_efficacy", "mia_features", "true_label_log_probability"), "mia"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CHALLENGE_DELTA",
    "MIA_FEATURES",
    "Balance",
    "EvaluationError",
    "ForgettingQuality",
    "Memorisation",
    "PairedTest",
    "RankedMethod",
    "TraceEstimate",
    "ULiRAResult",
    "accuracy",
    "accuracy_drops",
    "balance_score",
    "bin_points",
    "bootstrap_ci",
    "confidence_attack_auc",
    "epsilon_from_rates",
    "example_epsilon",
    "forgetting_quality",
    "hessian_trace",
    "hessian_vector_product",
    "holm",
    "js_divergence",
    "kl_divergence",
    "logit_confidence",
    "loss_attack_auc",
    "memorisation",
    "mia_efficacy",
    "mia_features",
    "num_trainable",
    "oracle_distance",
    "oracle_gap",
    "paired_test",
    "prediction_agreement",
    "rank_methods",
    "softmax",
    "summarize",
    "top_hessian_eigenvalues",
    "true_label_log_probability",
    "ulira",
    "uqi",
]
