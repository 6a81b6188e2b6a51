"""Forgetting quality (NeurIPS 2023 unlearning challenge), a U-LiRA-style attack and the
forget examples' memorisation, for one (seed, scenario) of a run.

M retrained models (fresh seeds, cached) and, per method, M unlearned models (the same
teacher, M unlearning seeds) give each forget example M logit confidences per side. A
retrain-vs-retrain row (two halves of the retrained models) is the reference score. The
retrained models are also the "out" models of memorisation (Feldman & Zhang), the teacher the
"in" model. Outputs are measured on the run's evaluation backend like every other metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.models import evaluated_on
from qiskit_unlearn.run.modelstore import ModelStore
from qiskit_unlearn.train import predict_logits


def fq_seed(seed: int, j: int) -> int:
    """The seed of the ``j``-th forgetting-quality model of ``seed``: from the config and the
    model's index only, never from execution order."""
    return seed * 1000 + j + 1


def forgetting_quality(store: ModelStore, ctx: RunContext, seed: int, name: str,
                       teacher: torch.nn.Module, teacher_forget_logits: np.ndarray,
                       eval_backend: Mapping[str, Any] | None
                       ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of ``forgetting_quality.csv`` (one per method, plus the retrain reference) and the
    scenario's row of ``memorisation.csv``."""
    from qiskit_unlearn.evaluate import forgetting_quality as fq_score
    from qiskit_unlearn.evaluate import logit_confidence, memorisation, ulira
    from qiskit_unlearn.unlearn import unlearn

    cfg = ctx.cfg
    m = cfg["evaluation"]["fq_models"]
    sc, data = ctx.scenario(seed, name), ctx.data(seed)
    fx, fy = sc.forget
    tag = f"{name}-seed{seed}"

    def forget_logits(model: torch.nn.Module) -> np.ndarray:
        return predict_logits(evaluated_on(model, eval_backend), fx).double().numpy()

    def confidences(logits: np.ndarray) -> np.ndarray:
        return logit_confidence(logits, fy, from_logits=True)

    out_logits = [forget_logits(store.trained(
        "fq-oracle", cfg, data, sc.retain, fq_seed(seed, j), f"{tag}-fq-oracle{j}",
        keep=False)[0]) for j in range(m)]
    retrained = np.array([confidences(lg) for lg in out_logits])
    mem = memorisation(teacher_forget_logits, np.array(out_logits), fy)
    mem_row = {"memorisation": mem.mean, "memorisation_prob": mem.mean_probability,
               "num_out_models": mem.num_out, "num_examples": mem.num_examples}
    half = m // 2
    baselines = {"retrain": (retrained[:half], retrained[half:2 * half])}
    methods = cfg["evaluation"]["fq_methods"] or [
        x for x in cfg["unlearn"]["methods"] if x != "retrain"]
    for method in methods:
        params = ctx.method_params(method)
        outs = [confidences(forget_logits(unlearn(
            method, teacher, ctx.unlearn_data(seed, name, method_seed=fq_seed(seed, j)),
            params).model)) for j in range(m)]
        baselines[method] = (np.array(outs), retrained)
    rows = []
    for method, (u, r) in baselines.items():
        fq, lira = fq_score(u, r), ulira(u, r)
        rows.append({"method": method, "forgetting_quality": fq.score,
                     "ulira_accuracy": lira.accuracy, "ulira_auc": lira.auc,
                     "num_unlearned_models": fq.num_unlearned,
                     "num_retrained_models": fq.num_retrained,
                     "reference": "retrain half vs half" if method == "retrain" else ""})
    return rows, mem_row
