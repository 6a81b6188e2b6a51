"""Unlearning by gradient ascent on the forget set: plain, EWC-anchored and retain-balanced.

Ascent maximises the forget set's cross-entropy, which is unbounded, so every method here runs
a fixed budget (epochs x minibatches) instead of a stopping rule; the anchors (a Fisher penalty
towards the teacher, or a retain loss) are what keep the rest of the model's knowledge.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qiskit_unlearn.train import as_tensors
from qiskit_unlearn.unlearn.base import (
    Checked,
    UnlearnData,
    cross_entropy,
    cycle,
    per_sample_grads,
    register,
    run_epochs,
    trainable,
)

#: NegGrad+ weighs alpha*CE_r - (1 - alpha)*CE_f with alpha = 0.95 in Kurmanji et al.'s code;
#: divided by 0.95 that is CE_r - (0.05/0.95)*CE_f, the form used here.
KURMANJI_ALPHA = 0.95


@register("ga", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16, "optimizer": "adam",
                          "weight_decay": 0.0},
          family="gradient ascent", changes="all weights",
          reference="Thudi et al. 2022 (EuroS&P), 'Unrolling SGD'; GA baseline of Jia et al. 2023")
def gradient_ascent(model: nn.Module, data: UnlearnData,
                    params: dict[str, Any]) -> dict[str, Any]:
    """Gradient ascent on the forget set: maximise its cross-entropy for a fixed budget.

    No stopping rule (e.g. "until forget accuracy hits 0"): that would tune the method on
    the forget set and, for a random subset, overshoot what a retrained model would do.
    Nothing anchors the retain set, so too many steps or a large lr wreck the whole model;
    the defaults (5 epochs, Adam, lr 0.01; the HQML study runs 10) are sized for the small
    hybrids.
    """
    return run_epochs(model, data, params, data.forget,
                      lambda x, y, _: -cross_entropy(model, x, y), epochs=params["epochs"],
                      batch_size=params["batch_size"])


def diagonal_fisher(model: nn.Module, data: UnlearnData, samples: int) -> list[torch.Tensor]:
    """Empirical diagonal Fisher of the trainable weights on (up to ``samples``) retain points.

    F_i = mean over samples of (d log p(y|x) / d theta_i)^2 with the retain set's own labels
    (the *empirical* Fisher; the true Fisher would sample y from the model). The subset is a
    seeded draw, so the estimate is reproducible.
    """
    weights = trainable(model)
    x, y = as_tensors(data.retain)
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(data.seed))[:samples]
    fisher = [torch.zeros_like(w) for w in weights]
    for grads in per_sample_grads(model, x[pick], y[pick], weights):
        for f, g in zip(fisher, grads, strict=True):
            f.add_(g.detach() ** 2)
    return [f / max(len(pick), 1) for f in fisher]


def _fisher_rules(check: Checked) -> None:
    check.number("ewc_lambda", allow_low=True)
    check.integer("fisher_samples")


@register("fisher", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16, "ewc_lambda": 10.0,
                              "fisher_samples": 256, "optimizer": "adam", "weight_decay": 0.0},
          check=_fisher_rules, family="gradient ascent", changes="all weights, Fisher-anchored",
          reference="gradient ascent + EWC penalty (Kirkpatrick et al. 2017, PNAS)")
def fisher_ascent(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Gradient ascent on the forget set, tied to the teacher by a diagonal-Fisher EWC penalty.

    loss = -CE(forget batch) + ewc_lambda/2 * sum_i F_i (theta_i - theta_teacher_i)^2, where F is
    the empirical diagonal Fisher on the retain set (:func:`diagonal_fisher`, at most
    ``fisher_samples`` points, computed once at the teacher's weights): weights the retain set
    relies on are held near the teacher, the rest are free to unlearn. The Fisher needs only
    first-order per-sample gradients (no Hessian through the quantum layer). ``ewc_lambda=10``
    is the HQML study's value; that study estimates F from squared *batch* gradients on the
    *forget* set, which anchors exactly the weights the ascent needs to move, so the retain
    set is used here as EWC intends (protect what must be kept).
    """
    lam, samples = params["ewc_lambda"], params["fisher_samples"]
    weights = trainable(model)
    fisher = diagonal_fisher(model, data, samples)
    anchor = [w.detach().clone() for w in weights]

    def loss(x: torch.Tensor, y: torch.Tensor, _: float) -> torch.Tensor:
        penalty = sum((f * (w - a) ** 2).sum() for f, w, a in zip(fisher, weights, anchor,
                                                                    strict=True))
        return -cross_entropy(model, x, y) + 0.5 * lam * penalty

    info = run_epochs(model, data, params, data.forget, loss, epochs=params["epochs"],
                      batch_size=params["batch_size"])
    return {**info, "fisher_samples": min(samples, len(data.retain[1])),
            "fisher_mean": float(torch.cat([f.flatten() for f in fisher]).mean())}


@register("neggrad+", defaults={"epochs": 5, "lr": 0.01, "batch_size": 16,
                                "alpha": round((1 - KURMANJI_ALPHA) / KURMANJI_ALPHA, 4),
                                "optimizer": "adam", "weight_decay": 0.0},
          check=lambda check: check.number("alpha", allow_low=True),
          family="gradient ascent", changes="all weights",
          reference="Kurmanji et al. 2023, 'Towards unbounded machine unlearning' (NeurIPS), "
                    "NegGrad+")
def neggrad_plus(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Descend on the retain set and ascend on the forget set together.

    loss = CE(retain batch) - alpha * CE(forget batch); one epoch is one pass over the retain
    set, each retain batch paired with the next forget batch of an endless seeded cycle.
    Kurmanji et al. write alpha' CE_r - (1 - alpha') CE_f with alpha' = 0.95 in their code;
    dividing by alpha' gives this form with alpha = 0.05 / 0.95 ~ 0.0526 (the same minimiser;
    Adam's steps are scale-invariant, SGD's lr differs by the factor 0.95). The HQML study uses
    alpha = 1, a much stronger ascent.
    """
    alpha, batch_size = params["alpha"], params["batch_size"]
    forget = cycle(data.forget, batch_size, data.seed)

    def loss(x: torch.Tensor, y: torch.Tensor, _: float) -> torch.Tensor:
        fx, fy = next(forget)
        return cross_entropy(model, x, y) - alpha * cross_entropy(model, fx, fy)

    return run_epochs(model, data, params, data.retain, loss, epochs=params["epochs"],
                      batch_size=batch_size)
