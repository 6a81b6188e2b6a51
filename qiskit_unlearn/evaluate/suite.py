"""One results row: every metric of an unlearned model against the original and the oracle.

Model outputs are computed once per model and split (:func:`split_logits`) and then reused by
all metrics, so evaluating a method costs one forward pass per split. The test split appears
here only, after unlearning: methods never see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.evaluate import metrics
from qiskit_unlearn.evaluate.landscape import hessian_trace, top_hessian_eigenvalues
from qiskit_unlearn.evaluate.mia import (
    confidence_attack_auc,
    loss_attack_auc,
    mia_efficacy,
    top_probability_attack_auc,
)
from qiskit_unlearn.train import ArrayPair, predict_logits

ACCURACY_SPLITS = ("retain", "forget", "val", "test")
#: Scores of ``mia_auc``: the true label's softmax probability, or the top one (HQML study).
MIA_SCORES = ("true-label", "top")


@dataclass
class EvalSets:
    """The labelled sets a model is evaluated on.

    ``forget`` carries the labels the teacher saw; ``forget_clean_y`` the true labels when a
    scenario changed them (label flips). ``nonmember`` is the membership-inference reference
    set (held-out samples by default).
    """

    retain: ArrayPair
    forget: ArrayPair
    val: ArrayPair
    test: ArrayPair
    nonmember: ArrayPair
    forget_clean_y: np.ndarray | None = None

    def split(self, name: str) -> ArrayPair:
        return getattr(self, name)


def split_logits(model: torch.nn.Module, sets: EvalSets) -> dict[str, np.ndarray]:
    """Logits (float64) of ``model`` on every set, computed once.

    The sets go through the model together (``predict_logits`` batches them), so a model on a
    device or a noisy simulator pays one job per batch instead of one per set.
    """
    names = (*ACCURACY_SPLITS, "nonmember")
    inputs = {name: np.asarray(sets.split(name)[0]) for name in names}
    filled = [name for name in names if len(inputs[name])]
    out = {name: predict_logits(model, inputs[name]).double().numpy()
           for name in names if name not in filled}  # empty sets: (0, 0), as before
    if filled:
        logits = predict_logits(model, np.concatenate([inputs[n] for n in filled])).double()
        for name, part in zip(filled, torch.split(logits, [len(inputs[n]) for n in filled]),
                              strict=True):
            out[name] = part.numpy()
    return {name: out[name] for name in names}


def accuracies(logits: Mapping[str, np.ndarray], sets: EvalSets) -> dict[str, float]:
    out = {f"{name}_accuracy": metrics.accuracy(logits[name], sets.split(name)[1])
           if len(sets.split(name)[1]) else float("nan")  # no validation split (val_size 0)
           for name in ACCURACY_SPLITS}
    if sets.forget_clean_y is not None:
        out["forget_clean_accuracy"] = metrics.accuracy(logits["forget"], sets.forget_clean_y)
    return out


def evaluate_model(logits: Mapping[str, np.ndarray], original: Mapping[str, np.ndarray],
                   oracle: Mapping[str, np.ndarray], sets: EvalSets, *, mia: bool = True,
                   seed: int = 0, mia_score: str = "true-label") -> dict[str, float]:
    """Accuracies, drops, UQI, agreement with the oracle and membership inference.

    ``mia_auc`` scores by ``mia_score`` (:data:`MIA_SCORES`); ``mia_label_auc`` and
    ``mia_top_auc`` always hold both scores, so runs with either choice stay comparable.
    """
    if mia_score not in MIA_SCORES:
        raise ValueError(f"mia_score must be one of {MIA_SCORES}, got {mia_score!r}")
    acc = accuracies(logits, sets)
    orig_acc = accuracies(original, sets)
    oracle_acc = accuracies(oracle, sets)
    drops = metrics.accuracy_drops(orig_acc, acc)
    row: dict[str, float] = {**acc, **{f"original_{k}": v for k, v in orig_acc.items()},
                             **{f"oracle_{k}": v for k, v in oracle_acc.items()}, **drops,
                             "uqi": metrics.uqi(drops["forget_drop"], drops["retain_drop"],
                                                drops["test_drop"])}
    for split in ("retain", "forget", "test"):
        ref, out = oracle[split], logits[split]
        row[f"kl_{split}"] = metrics.kl_divergence(ref, out, from_logits=True)
        row[f"js_{split}"] = metrics.js_divergence(ref, out, from_logits=True)
        row[f"agreement_{split}"] = metrics.prediction_agreement(ref, out)
    row["oracle_gap"] = metrics.oracle_gap(acc, oracle_acc)
    if mia:
        fy, (_, ny), (_, ry), (_, ty) = sets.forget[1], sets.nonmember, sets.retain, sets.test
        row["mia_label_auc"] = confidence_attack_auc(logits["forget"], fy, logits["nonmember"],
                                                     ny)
        row["mia_top_auc"] = top_probability_attack_auc(logits["forget"], logits["nonmember"])
        row["mia_auc"] = row["mia_top_auc" if mia_score == "top" else "mia_label_auc"]
        row["mia_loss_auc"] = loss_attack_auc(logits["forget"], fy, logits["nonmember"], ny)
        row["mia_efficacy"] = mia_efficacy(logits["retain"], ry, logits["test"], ty,
                                           logits["forget"], fy, seed=seed)
    return row


def landscape(model: torch.nn.Module, sets: EvalSets, *, top_k: int, samples: int,
              max_samples: int, seed: int) -> dict[str, Any]:
    """Top Hessian eigenvalues and Hutchinson trace on retain and forget (subsampled)."""
    out: dict[str, Any] = {}
    rng = np.random.default_rng(seed)
    for split in ("retain", "forget"):
        x, y = sets.split(split)
        if len(y) > max_samples:
            keep = np.sort(rng.choice(len(y), max_samples, replace=False))
            x, y = x[keep], y[keep]
        top = top_hessian_eigenvalues(model, (x, y), k=top_k, seed=seed)
        trace = hessian_trace(model, (x, y), samples=samples, seed=seed)
        out[f"hessian_top_{split}"] = float(top[0])
        out[f"hessian_eigenvalues_{split}"] = [float(v) for v in top]
        out[f"hessian_trace_{split}"] = trace.mean
        out[f"hessian_trace_stderr_{split}"] = trace.stderr
    return out
