"""Forgetting quality (NeurIPS 2023 unlearning challenge), a U-LiRA-style attack and the
forget examples' memorisation, for one (seed, scenario) of a run.

M retrained models (fresh seeds, cached) and, per method, M unlearned models (the same
teacher, M unlearning seeds) give each forget example M logit confidences per side. A
retrain-vs-retrain row (two halves of the retrained models) is the reference score. The
retrained models are also the "out" models of memorisation (Feldman & Zhang), the teacher the
"in" model. Every model is a unit of work (:mod:`qiskit_unlearn.run.units`) evaluated on the
run's evaluation backend; this module combines their forget-set logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def fq_seed(seed: int, j: int) -> int:
    """The seed of the ``j``-th forgetting-quality model of ``seed``: from the config and the
    model's index only, never from execution order."""
    return seed * 1000 + j + 1


def fq_methods(cfg: Mapping[str, Any]) -> list[str]:
    """The methods forgetting quality is measured for (``evaluation.fq_methods``, default every
    configured method but retrain)."""
    return list(cfg["evaluation"]["fq_methods"]) or [
        m for m in cfg["unlearn"]["methods"] if m != "retrain"]


def forgetting_quality(forget_y: np.ndarray, teacher_forget_logits: np.ndarray,
                       retrained: Sequence[Mapping[str, Any]],
                       unlearned: Mapping[str, Sequence[Mapping[str, Any]]]
                       ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of ``forgetting_quality.csv`` (the retrain reference, then one per method, in the
    order given) and the scenario's row of ``memorisation.csv``, from the models' units
    (``{"logits", "seconds"}`` each). Every row records how many models it used and the
    seconds they took (``model_seconds``, summed over the models)."""
    from qiskit_unlearn.evaluate import forgetting_quality as fq_score
    from qiskit_unlearn.evaluate import logit_confidence, memorisation, ulira

    def confidences(logits: np.ndarray) -> np.ndarray:
        return logit_confidence(logits, forget_y, from_logits=True)

    retrained_logits = [r["logits"] for r in retrained]
    m = len(retrained_logits)
    seconds = {"retrain": sum(r["seconds"] for r in retrained),
               **{k: sum(u["seconds"] for u in v) for k, v in unlearned.items()}}
    confident = np.array([confidences(lg) for lg in retrained_logits])
    mem = memorisation(teacher_forget_logits, np.array(retrained_logits), forget_y)
    mem_row = {"memorisation": mem.mean, "memorisation_prob": mem.mean_probability,
               "num_out_models": mem.num_out, "num_examples": mem.num_examples}
    half = m // 2
    baselines = {"retrain": (confident[:half], confident[half:2 * half])}
    for method, units in unlearned.items():
        baselines[method] = (np.array([confidences(u["logits"]) for u in units]), confident)
    rows = []
    for method, (u, r) in baselines.items():
        fq, lira = fq_score(u, r), ulira(u, r)
        rows.append({"method": method, "forgetting_quality": fq.score,
                     "ulira_accuracy": lira.accuracy, "ulira_auc": lira.auc,
                     "num_unlearned_models": fq.num_unlearned,
                     "num_retrained_models": fq.num_retrained,
                     "model_seconds": seconds[method],
                     "reference": "retrain half vs half" if method == "retrain" else ""})
    return rows, mem_row
