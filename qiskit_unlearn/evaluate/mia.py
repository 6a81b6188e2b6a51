"""Membership inference against one model: threshold-free attack AUCs and Jia et al.'s MIA-efficacy.

All functions take logits (what :func:`qiskit_unlearn.train.predict_logits` returns) and
integer labels. Members are the forget set (the model was trained on it before unlearning);
non-members are held-out samples the model never trained on (the test split).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax, logsumexp
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

from qiskit_unlearn.evaluate.metrics import EvaluationError, as_labels, outputs

#: Features of Jia et al.'s SVC attack (their ``SVC_MIA``, after Song & Mittal 2021).
MIA_FEATURES = ("confidence", "entropy", "m_entropy", "prob")
#: Attack classifier of Jia et al. (2023): ``SVC(C=3, gamma="auto", kernel="rbf")``.
SVC_PARAMS = {"C": 3.0, "gamma": "auto", "kernel": "rbf"}


def _log_probs(logits: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    out = outputs(logits, f"{name} logits")
    y = as_labels(labels, out.shape[0], out.shape[1], f"{name} labels")
    return log_softmax(out, axis=1), y


def true_label_log_probability(logits: Any, labels: Any, *, what: str = "the") -> np.ndarray:
    """log softmax(logits)[label] per sample (= −cross-entropy loss), exact for large logits.

    Args:
        logits: logits of shape (N, C).
        labels: integer labels in 0..C-1, shape (N,).
        what: names the set in error messages (e.g. ``"forget"``).

    Returns:
        The log-probabilities of the labels, shape (N,).

    Raises:
        EvaluationError: for malformed logits or labels.
    """
    logp, y = _log_probs(logits, labels, what)
    return logp[np.arange(len(y)), y]


def mia_features(logits: Any, labels: Any, feature: str = "confidence", *,
                 what: str = "the") -> np.ndarray:
    """Per-sample attack features of shape (N, d), computed from the softmax output p.

    * ``confidence``: p_y, the probability of the true label (d = 1);
    * ``entropy``: −Σ_i p_i log p_i (d = 1);
    * ``m_entropy``: Song & Mittal's modified entropy
      −(1 − p_y) log p_y − Σ_{i≠y} p_i log(1 − p_i) (d = 1), which unlike the entropy is low
      only for confident *correct* predictions. Jia et al.'s code indexes columns by the label
      vector here; this is the published formula;
    * ``prob``: the whole probability vector (d = number of classes).

    Args:
        logits: logits of shape (N, C).
        labels: integer labels in 0..C-1, shape (N,).
        feature: one of :data:`MIA_FEATURES`, as above.
        what: names the set in error messages (e.g. ``"forget"``).

    Returns:
        The features, shape (N, d).

    Raises:
        EvaluationError: for an unknown feature or malformed logits or labels.
    """
    if feature not in MIA_FEATURES:
        raise EvaluationError(f"unknown MIA feature {feature!r}; choose one of {MIA_FEATURES}")
    logp, y = _log_probs(logits, labels, what)
    p = np.exp(logp)
    rows = np.arange(len(y))
    if feature == "confidence":
        return p[rows, y][:, None]
    if feature == "entropy":
        return -np.sum(p * logp, axis=1, keepdims=True)
    if feature == "prob":
        return p
    # log(1 - p_i) from the other classes' log-probabilities: exact when p_i is close to 1.
    log_rest = np.empty_like(logp)
    for i in range(logp.shape[1]):
        log_rest[:, i] = logsumexp(np.delete(logp, i, axis=1), axis=1)
    wrong = p * log_rest
    wrong[rows, y] = 0.0
    correct = (1.0 - p[rows, y]) * logp[rows, y]
    return (-(correct + wrong.sum(axis=1)))[:, None]


def _attack_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    y = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    return float(roc_auc_score(y, np.r_[member_scores, nonmember_scores]))


def confidence_attack_auc(member_logits: Any, member_labels: Any, nonmember_logits: Any,
                          nonmember_labels: Any) -> float:
    """AUC of the attack "member if p_y is high" (score = softmax probability of the label).

    0.5 means members and non-members are indistinguishable (no leak); 1 means every member
    gets a higher confidence than every non-member. Ties count half.

    Args:
        member_logits: the model's logits on members (the forget set), shape (N, C).
        member_labels: their integer labels, shape (N,).
        nonmember_logits: its logits on non-members (held-out samples), shape (N', C).
        nonmember_labels: their integer labels, shape (N',).

    Returns:
        The ROC AUC in [0, 1].

    Raises:
        EvaluationError: for malformed logits or labels.
    """
    members = mia_features(member_logits, member_labels, "confidence", what="member")[:, 0]
    nonmembers = mia_features(nonmember_logits, nonmember_labels, "confidence",
                              what="non-member")[:, 0]
    return _attack_auc(members, nonmembers)


def top_probability_attack_auc(member_logits: Any, nonmember_logits: Any) -> float:
    """AUC of the attack "member if the top softmax probability is high" (the HQML study's
    score: label-free, so a confidently *wrong* prediction also looks like a member)."""
    members = outputs(member_logits, "member logits")
    nonmembers = outputs(nonmember_logits, "non-member logits")
    top_m = np.exp(log_softmax(members, axis=1).max(axis=1))
    top_n = np.exp(log_softmax(nonmembers, axis=1).max(axis=1))
    return _attack_auc(top_m, top_n)


def loss_attack_auc(member_logits: Any, member_labels: Any, nonmember_logits: Any,
                    nonmember_labels: Any) -> float:
    """AUC of the loss attack of Yeom et al. (score = −cross-entropy = log p_y).

    It ranks like the confidence attack but is computed from log-softmax, so it still
    separates samples whose confidence rounds to 1.0 (where the confidence attack sees ties).

    Args:
        member_logits: the model's logits on members (the forget set), shape (N, C).
        member_labels: their integer labels, shape (N,).
        nonmember_logits: its logits on non-members (held-out samples), shape (N', C).
        nonmember_labels: their integer labels, shape (N',).

    Returns:
        The ROC AUC in [0, 1].

    Raises:
        EvaluationError: for malformed logits or labels.
    """
    members = true_label_log_probability(member_logits, member_labels, what="member")
    nonmembers = true_label_log_probability(nonmember_logits, nonmember_labels,
                                            what="non-member")
    return _attack_auc(members, nonmembers)


def _subsample(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``rows`` drawn without replacement, in their order (all when there are n)."""
    return rows[np.sort(rng.choice(len(rows), n, replace=False))] if len(rows) > n else rows


def mia_efficacy(retain_logits: Any, retain_labels: Any, heldout_logits: Any,
                 heldout_labels: Any, forget_logits: Any, forget_labels: Any, *,
                 feature: str = "confidence", seed: int = 0) -> float:
    """MIA-efficacy of Jia et al. (2023): the fraction of the forget set the attack calls
    *non-member* (TN / number of forget samples; higher = better forgetting, while a model that
    still remembers the forget set scores close to 0).

    As in their ``SVC_MIA``: the attack is ``SVC(C=3, gamma="auto", kernel="rbf")`` fitted on
    ``feature`` (default ``confidence``, the predictor behind the paper's MIA-efficacy) of
    retain samples labelled member (1) and held-out samples labelled non-member (0), then
    applied to the forget set. The two training sets are balanced by a seeded subsample of the
    larger one (Jia et al. take as many retain samples as there are test samples). If the
    training features are constant the attack has no signal and 0.5 (chance) is returned
    instead of the SVC's arbitrary tie-break.

    Args:
        retain_logits: the model's logits on the retain set (attack members), shape (N_r, C).
        retain_labels: their integer labels, shape (N_r,).
        heldout_logits: its logits on held-out samples (attack non-members), shape (N_h, C).
        heldout_labels: their integer labels, shape (N_h,).
        forget_logits: its logits on the forget set, which the attack classifies,
            shape (N_f, C).
        forget_labels: their integer labels, shape (N_f,).
        feature: the attack feature, one of :data:`MIA_FEATURES`.
        seed: seeds the balancing subsample.

    Returns:
        The fraction of forget samples predicted non-member, in [0, 1].

    Raises:
        EvaluationError: for an unknown feature or malformed logits or labels.
    """
    members = mia_features(retain_logits, retain_labels, feature, what="retain")
    nonmembers = mia_features(heldout_logits, heldout_labels, feature, what="held-out")
    forget = mia_features(forget_logits, forget_labels, feature, what="forget")
    n = min(len(members), len(nonmembers))
    rng = np.random.default_rng(seed)
    members, nonmembers = _subsample(members, n, rng), _subsample(nonmembers, n, rng)
    x = np.concatenate([members, nonmembers])
    if np.all(x == x[0]):
        return 0.5
    y = np.r_[np.ones(n), np.zeros(n)]
    clf = SVC(**SVC_PARAMS).fit(x, y)
    return float(np.mean(clf.predict(forget) == 0))
