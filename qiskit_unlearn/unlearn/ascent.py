"""Unlearning by gradient ascent on the forget set: plain, EWC-anchored and retain-balanced.

Ascent maximises the forget set's cross-entropy, which is unbounded, so every method here runs
a fixed budget (epochs x minibatches) instead of a stopping rule; the anchors (a Fisher penalty
towards the teacher, or a retain loss) are what keep the rest of the model's knowledge.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qiskit_unlearn.train import Batch, as_tensors, batches, cross_entropy
from qiskit_unlearn.unlearn.base import Checked, UnlearnData, hqml_study, register
from qiskit_unlearn.unlearn.steps import (
    PairedBatches,
    ascent_loss,
    batch_grads,
    mean_square,
    per_sample_grads,
    run_epochs,
    trainable,
)

#: NegGrad+ weighs alpha*CE_r - (1 - alpha)*CE_f with alpha = 0.95 in Kurmanji et al.'s code;
#: divided by 0.95 that is CE_r - (0.05/0.95)*CE_f, the form used here.
KURMANJI_ALPHA = 0.95


@register("ga", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16, "optimizer": "adam",
                          "weight_decay": 0.0},
          family="gradient ascent", changes="all weights",
          reference="Thudi et al. 2022 (EuroS&P), 'Unrolling SGD'; GA baseline of Jia et al. 2023",
          study=hqml_study(epochs=25))
def gradient_ascent(model: nn.Module, data: UnlearnData,
                    params: dict[str, Any]) -> dict[str, Any]:
    """Gradient ascent on the forget set: maximise its cross-entropy for a fixed budget.

    No stopping rule (e.g. "until forget accuracy hits 0"): that would tune the method on
    the forget set and, for a random subset, overshoot what a retrained model would do.
    Nothing anchors the retain set, so too many steps or a large lr wreck the whole model;
    the defaults (5 epochs, Adam, lr 0.01; the HQML study runs 10) are sized for the small
    hybrids.
    """
    return run_epochs(model, data, params, data.forget, ascent_loss(model))


def diagonal_fisher(model: nn.Module, data: UnlearnData, samples: int) -> list[torch.Tensor]:
    """Empirical diagonal Fisher of the trainable weights on (up to ``samples``) retain points.

    F_i = mean over samples of (d log p(y|x) / d theta_i)^2 with the retain set's own labels
    (the *empirical* Fisher; the true Fisher would sample y from the model). The subset is a
    seeded draw, so the estimate is reproducible.
    """
    weights = trainable(model)
    x, y = as_tensors(data.retain)
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(data.seed))[:samples]
    return mean_square(per_sample_grads(model, x[pick], y[pick], weights), weights)


def _fisher_rules(check: Checked) -> None:
    check.number("ewc_lambda", allow_low=True)
    check.integer("fisher_samples")


@register("fisher", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16, "ewc_lambda": 10.0,
                              "fisher_samples": 256, "optimizer": "adam", "weight_decay": 0.0,
                              "faithful": False},
          check=_fisher_rules, family="gradient ascent", changes="all weights, Fisher-anchored",
          reference="gradient ascent + EWC penalty (Kirkpatrick et al. 2017, PNAS)",
          study=hqml_study(epochs=25, ewc_lambda=10.0, faithful=True))
def fisher_ascent(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Gradient ascent on the forget set, tied to the teacher by a diagonal-Fisher EWC penalty.

    loss = -CE(forget batch) + ewc_lambda/2 * sum_i F_i (theta_i - theta_teacher_i)^2, where F is
    the empirical diagonal Fisher on the retain set (:func:`diagonal_fisher`, at most
    ``fisher_samples`` points, computed once at the teacher's weights): weights the retain set
    relies on are held near the teacher, the rest are free to unlearn. The Fisher needs only
    first-order per-sample gradients (no Hessian through the quantum layer). ``ewc_lambda=10``
    is the HQML study's value; that study estimates F from squared *batch* gradients on the
    *forget* set, which anchors exactly the weights the ascent needs to move, so the retain
    set is used here as EWC intends (protect what must be kept); ``faithful=True`` uses the
    study's (:func:`forget_batch_fisher`).
    """
    lam, samples = params["ewc_lambda"], params["fisher_samples"]
    weights = trainable(model)
    if params["faithful"]:  # the study's Fisher: squared forget-batch gradients
        fisher = forget_batch_fisher(model, data, params["batch_size"])
        used = len(data.forget[1])
    else:
        fisher = diagonal_fisher(model, data, samples)
        used = min(samples, len(data.retain[1]))
    anchor = [w.detach().clone() for w in weights]

    terms = {"ascent": 0.0, "penalty": 0.0}

    def loss(x: torch.Tensor, y: torch.Tensor, _: float) -> torch.Tensor:
        penalty = sum((f * (w - a) ** 2).sum() for f, w, a in zip(fisher, weights, anchor,
                                                                    strict=True))
        ascent = -cross_entropy(model, x, y)
        terms.update(ascent=abs(ascent.item()), penalty=float(0.5 * lam * penalty.item()))
        return ascent + 0.5 * lam * penalty

    info = run_epochs(model, data, params, data.forget, loss)
    share = terms["penalty"] / (terms["penalty"] + terms["ascent"] + 1e-300)
    return {**info, "fisher_source": "forget batches" if params["faithful"] else "retain",
            "fisher_samples": used,
            "fisher_mean": float(torch.cat([f.flatten() for f in fisher]).mean()),
            "penalty_share_last_step": share}


def forget_batch_fisher(model: nn.Module, data: UnlearnData,
                        batch_size: int) -> list[torch.Tensor]:
    """The HQML study's Fisher: mean over forget minibatches of the squared *batch* gradient
    of the cross-entropy (not per-sample squares, and on the data to be forgotten)."""
    weights = trainable(model)
    pieces = batches(data.forget, batch_size, data.seed, 0)
    return mean_square(batch_grads(model, pieces, weights), weights)


@register("neggrad+", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16,
                                "alpha": round((1 - KURMANJI_ALPHA) / KURMANJI_ALPHA, 4),
                                "optimizer": "adam", "weight_decay": 0.0, "pairing": "cycle"},
          check=lambda check: check.number("alpha", allow_low=True),
          family="gradient ascent", changes="all weights",
          reference="Kurmanji et al. 2023, 'Towards unbounded machine unlearning' (NeurIPS), "
                    "NegGrad+",
          study=hqml_study(epochs=25, alpha=1.0, pairing="shortest"))
def neggrad_plus(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Descend on the retain set and ascend on the forget set together.

    loss = CE(retain batch) - alpha * CE(forget batch); one epoch is one pass over the retain
    set, each retain batch paired with the next forget batch of an endless seeded cycle.
    Kurmanji et al. write alpha' CE_r - (1 - alpha') CE_f with alpha' = 0.95 in their code;
    dividing by alpha' gives this form with alpha = 0.05 / 0.95 ~ 0.0526 (the same minimiser;
    Adam's steps are scale-invariant, SGD's lr differs by the factor 0.95). The HQML study uses
    alpha = 1, a much stronger ascent, and ``pairing = "shortest"`` (an epoch ends with the
    forget set: one or two steps for a small one).
    """
    alpha = params["alpha"]

    def loss(retain: Batch, forget: Batch, _: float) -> torch.Tensor:
        return cross_entropy(model, *retain) - alpha * cross_entropy(model, *forget)

    return run_epochs(model, data, params, PairedBatches(data, params), loss)
