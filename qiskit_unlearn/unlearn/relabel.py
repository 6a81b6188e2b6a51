"""Relabelling methods: train the forget samples towards other labels (or none) while the
retain set keeps its own.

* ``q-mul``: forget labels → the most similar other class, with a gradient-norm balance;
* ``lca``: label-complement augmentation, every wrong label for every forget sample;
* ``adv-uniform``: FGSM-perturbed forget inputs pushed to the uniform prediction;
* ``random-labels``: random wrong labels on the forget set (Golatkar et al.; Jia et al.);
* ``salun``: random labels, updating only the weights most salient for the forget loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from qiskit_unlearn.train import Batch, as_tensors, batches, cross_entropy, predict_logits
from qiskit_unlearn.unlearn.base import (
    HQML_REFERENCE,
    ArrayPair,
    Checked,
    UnlearnData,
    UnlearnError,
    clone_model,
    hqml_study,
    register,
)
from qiskit_unlearn.unlearn.steps import (
    PairedBatches,
    ce_loss,
    finite,
    log_epoch,
    make_optimizer,
    named_trainable,
    run_epochs,
    trainable,
)

#: Optimiser settings shared by the relabelling methods. The HQML study used Adam at lr 0.01 with
#: batch 32; small forget sets get more steps from batch 16, so the rate is halved.
TRAINING = {"lr": 0.005, "optimizer": "adam", "weight_decay": 0.0, "batch_size": 16}


def _need_classes(method: str, data: UnlearnData) -> None:
    """The run-time check every relabelling method shares (it depends on the data)."""
    if data.num_classes < 2:
        raise UnlearnError(f"{method} needs at least two classes to relabel between, got "
                           f"num_classes={data.num_classes}")


def _non_negative(*names: str) -> Callable[[Checked], None]:
    """Range rules of weights and step sizes that may be 0 (which switches a term off)."""

    def rules(check: Checked) -> None:
        for name in names:
            check.number(name, allow_low=True)

    return rules


# --- Q-MUL ------------------------------------------------------------------------------------

def similar_class_map(retain_logits: np.ndarray, retain_y: np.ndarray,
                      forget_logits: np.ndarray, forget_y: np.ndarray, *,
                      faithful: bool = False) -> dict[int, int]:
    """Each forget class → the other class whose mean logit vector is most cosine-similar.

    Class means come from the retain set; a class absent from it (full-class forgetting) takes
    its mean over the forget set instead. Only classes with a mean are candidates.
    ``faithful=True`` is the HQML study's map: retain means only, a zero vector for an absent
    class, so a forgotten class has cosine 0 with every class and maps to the lowest other
    label (class 0 → class 1).
    """
    means: dict[int, np.ndarray] = {}
    if faithful:
        width = np.asarray(retain_logits).shape[1]
        for c in np.unique(forget_y):
            means[int(c)] = np.zeros(width)
    sources = ((retain_logits, retain_y),) if faithful else ((forget_logits, forget_y),
                                                            (retain_logits, retain_y))
    for logits, y in sources:  # retain wins
        for c in np.unique(y):
            means[int(c)] = np.asarray(logits)[y == c].mean(axis=0)
    unit = {c: m / (np.linalg.norm(m) + 1e-12) for c, m in means.items()}
    mapping: dict[int, int] = {}
    for c in sorted(int(c) for c in np.unique(forget_y)):
        others = [d for d in sorted(unit) if d != c]
        if not others:
            raise UnlearnError(f"q-mul needs a class other than {c} in the retain or forget "
                               "data to map forget labels to")
        mapping[c] = max(others, key=lambda d: float(unit[c] @ unit[d]))
    return mapping


def _grad_norm(grads: tuple[torch.Tensor | None, ...]) -> float:
    return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)
                            + 1e-24))


@register("q-mul",
          defaults={"epochs": 5, **TRAINING, "lr": 0.01, "alpha": 1.0, "faithful": False,
                    "pairing": "cycle"},
          check=_non_negative("alpha"),
          family="relabelling", changes="all weights (forget → most similar class)",
          reference=f"{HQML_REFERENCE}, its 'Q-MUL-inspired' method",
          study=hqml_study(epochs=12, alpha=1.0, faithful=True, pairing="shortest"))
def q_mul(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Q-MUL: relabel forget samples to their most similar other class, balanced by gradients.

    The map comes from the teacher's class-mean logits (:func:`similar_class_map`). Each step
    pairs a retain batch with a forget batch and descends CE_retain + w·CE(forget → mapped
    labels) with w = ``alpha``·‖∇CE_retain‖ / ‖∇CE_forget‖ recomputed every step (a constant in
    the update). ``faithful=True`` reproduces the HQML study's code, whose update is
    CE_retain − w·CE_forget: it pushes forget samples *away* from the similar class.
    """
    _need_classes("q-mul", data)
    mapping = similar_class_map(predict_logits(model, data.retain[0]).numpy(), data.retain[1],
                                predict_logits(model, data.forget[0]).numpy(), data.forget[1],
                                faithful=params["faithful"])
    lookup = torch.arange(data.num_classes)
    for c, d in mapping.items():
        lookup[c] = d
    sign = -1.0 if params["faithful"] else 1.0
    weights = trainable(model)
    opt = make_optimizer(model, params)
    pairs = PairedBatches(data, params)
    for epoch in range(1, params["epochs"] + 1):
        model.train()
        ws = []
        for (xr, yr), (xf, yf) in pairs.epoch(epoch):
            loss_r = cross_entropy(model, xr, yr)
            loss_f = cross_entropy(model, xf, lookup[yf])
            g_r = torch.autograd.grad(loss_r, weights, allow_unused=True)
            g_f = torch.autograd.grad(loss_f, weights, allow_unused=True)
            w = params["alpha"] * _grad_norm(g_r) / _grad_norm(g_f)
            finite(loss_r.item() + w * loss_f.item(), "q-mul loss")
            opt.zero_grad()
            for p, a, b in zip(weights, g_r, g_f, strict=True):
                if a is not None or b is not None:
                    p.grad = (0 if a is None else a) + sign * w * (0 if b is None else b)
            opt.step()
            ws.append(w)
        log_epoch(model, data, epoch, mean_weight=float(np.mean(ws)))
    return {"label_map": {str(c): d for c, d in mapping.items()}}


# --- label-complement augmentation ------------------------------------------------------------

def complement_labels(forget: ArrayPair, num_classes: int) -> ArrayPair:
    """Every forget sample repeated with each of its ``num_classes - 1`` wrong labels."""
    x, y = forget
    y = np.asarray(y)
    wrong = np.array([[c for c in range(num_classes) if c != label] for label in y],
                     dtype=np.int64).reshape(len(y), num_classes - 1)
    return np.repeat(np.asarray(x), num_classes - 1, axis=0), wrong.reshape(-1)


@register("lca", defaults={"epochs": 5, **TRAINING, "beta": 1.0}, check=_non_negative("beta"),
          family="relabelling", changes="all weights (forget → every wrong label)",
          reference=HQML_REFERENCE, study=hqml_study(epochs=25, beta=1.0))
def lca(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Label-complement augmentation: CE on (forget sample, wrong label) pairs + CE on retain.

    Each forget sample appears once with every label but its own, so the model is trained
    towards the uniform spread over the wrong classes; each retain batch is paired with a
    batch of these pairs and the loss is CE_retain + ``beta``·CE_complement (beta 1 as in the
    HQML study; its 15 epochs cost small hybrids much retain accuracy, so 5 are the default).
    """
    _need_classes("lca", data)
    complement = complement_labels(data.forget, data.num_classes)

    def loss(retain: Batch, pair: Batch, _: float) -> torch.Tensor:
        return cross_entropy(model, *retain) + params["beta"] * cross_entropy(model, *pair)

    run_epochs(model, data, params, PairedBatches(data, params, partner=complement), loss,
               what="lca loss", summed_loss=True)
    return {"complement_pairs": len(complement[1])}


# --- adversarial samples pushed to the uniform prediction -------------------------------------

def _with_input_gradients(model: nn.Module) -> nn.Module:
    """``model`` itself, or a weight-sharing-free twin whose QNN computes input gradients."""
    kwargs = getattr(model, "spec", {}).get("kwargs", {})
    if "input_gradients" in kwargs and not kwargs["input_gradients"]:
        return clone_model(model, input_gradients=True)
    return model


def fgsm(x: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor], eps: float,
         low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """x + eps·sign(∇ₓ loss(x)), clipped to [low, high] elementwise (one FGSM step: against
    the labels with a cross-entropy, or the HQML study's ascent of KL(p ‖ uniform))."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(x), x)
    return torch.clamp(x + eps * grad.sign(), low, high).detach()


@register("adv-uniform", defaults={"epochs": 10, **TRAINING, "eps": 0.1, "lam": 1.0,
                                   "faithful": False, "pairing": "cycle"},
          check=_non_negative("eps", "lam"),
          family="relabelling", changes="all weights (adversarial forget → uniform)",
          reference=HQML_REFERENCE,
          study=hqml_study(epochs=15, eps=0.1, lam=1.0, faithful=True, pairing="shortest"))
def adv_uniform(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Adversarial-uniform: FGSM forget inputs whose predictions are pushed to uniform.

    Each step perturbs a forget batch by FGSM (``eps``, against its own labels, clipped to the
    elementwise input range of retain ∪ forget) and descends CE_retain + ``lam``·CE(uniform,
    p(x_adv)), i.e. KL(uniform ‖ p) up to a constant (the study: 10 epochs, eps 0.1, lam 1).
    ``faithful=True`` is the HQML study's version: FGSM *ascends* KL(p ‖ uniform) (moves the
    inputs towards confident predictions) and the penalty is KL(p(x_adv) ‖ uniform).
    Models built without input gradients run on a twin that has them; its weights are copied
    back at the end.
    """
    _need_classes("adv-uniform", data)
    work = _with_input_gradients(model)
    x_all = torch.cat([as_tensors(data.retain)[0], as_tensors(data.forget)[0]])
    low, high = x_all.min(dim=0).values, x_all.max(dim=0).values

    def loss(retain: Batch, forget: Batch, _: float) -> torch.Tensor:
        xf, yf = forget
        if params["faithful"]:
            x_adv = fgsm(xf, lambda x: _kl_to_uniform(work(x)), params["eps"], low, high)
            uniform = _kl_to_uniform(work(x_adv))
        else:
            x_adv = fgsm(xf, lambda x: cross_entropy(work, x, yf), params["eps"], low, high)
            uniform = -F.log_softmax(work(x_adv).float(), dim=1).mean(dim=1).mean()
        return cross_entropy(work, *retain) + params["lam"] * uniform

    run_epochs(work, data, params, PairedBatches(data, params), loss, what="adv-uniform loss",
               summed_loss=True)
    if work is not model:
        model.load_state_dict(work.state_dict())
    return {"input_gradients_twin": work is not model}


def _kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """Mean KL(p ‖ uniform) = Σ p log p + log C (the HQML study's penalty)."""
    log_p = F.log_softmax(logits.float(), dim=1)
    return (log_p.exp() * log_p).sum(dim=1).mean() + math.log(logits.shape[1])


# --- random labels and SalUn ------------------------------------------------------------------

def random_wrong_labels(y: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """A uniformly random label different from each sample's own (seeded)."""
    shift = np.random.default_rng(seed).integers(1, num_classes, size=len(y))
    return ((np.asarray(y) + shift) % num_classes).astype(np.int64)


def _relabelled_union(data: UnlearnData) -> ArrayPair:
    xf, yf = data.forget
    xr, yr = data.retain
    return (np.concatenate([np.asarray(xf), np.asarray(xr)]),
            np.concatenate([random_wrong_labels(yf, data.num_classes, data.seed),
                            np.asarray(yr)]))


@register("random-labels", defaults={"epochs": 5, **TRAINING}, family="relabelling",
          changes="all weights (forget → random wrong labels)",
          reference="Golatkar, Achille, Soatto: Eternal Sunshine of the Spotless Net, CVPR 2020; "
                    "Jia et al.: Model Sparsity Can Simplify Machine Unlearning, NeurIPS 2023 "
                    "(the RL baseline)")
def random_labels(model: nn.Module, data: UnlearnData,
                  params: dict[str, Any]) -> dict[str, Any]:
    """Random labels (RL): fine-tune on retain ∪ forget, forget labels replaced by random ones.

    Each forget sample gets one seeded, uniformly drawn label different from its own; retain
    and relabelled forget samples are shuffled into the same minibatches with plain CE.
    """
    _need_classes("random-labels", data)
    run_epochs(model, data, params, _relabelled_union(data), ce_loss(model),
               what="random-labels loss", summed_loss=True)
    return {}


def saliency_mask(model: nn.Module, forget: ArrayPair, fraction: float,
                  batch_size: int) -> dict[str, torch.Tensor]:
    """1 for the ``fraction`` of trainable weights with the largest |∇ CE_forget|, else 0.

    The gradient is that of the summed loss over the whole forget set; the top fraction is
    taken over all trainable weights together (SalUn's hard thresholding).
    """
    named = named_trainable(model)
    grads = {n: torch.zeros_like(p) for n, p in named}
    model.eval()
    for x, y in batches(forget, batch_size, 0, 0, shuffle=False):
        loss = F.cross_entropy(model(x).float(), y, reduction="sum")
        for (name, _), g in zip(named, torch.autograd.grad(loss, [p for _, p in named],
                                                           allow_unused=True), strict=True):
            if g is not None:
                grads[name] += g
    flat = torch.cat([g.abs().flatten() for g in grads.values()])
    chosen = torch.zeros_like(flat)
    chosen[torch.topk(flat, max(1, round(fraction * flat.numel()))).indices] = 1.0
    parts = chosen.split([g.numel() for g in grads.values()])
    return {name: part.view_as(g) for (name, g), part in zip(grads.items(), parts, strict=True)}


@register("salun", defaults={"epochs": 5, **TRAINING, "fraction": 0.5},
          check=lambda check: check.number("fraction", high=1.0, allow_high=True),
          family="relabelling", changes="salient weights only (random labels)",
          reference="Fan et al.: SalUn: Empowering Machine Unlearning via Gradient-based Weight "
                    "Saliency in Both Image Classification and Generation, ICLR 2024")
def salun(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """SalUn: random-label fine-tuning restricted to the weights salient for the forget loss.

    The mask keeps the top ``fraction`` (published 0.5) of weights by |∇ CE_forget|
    (:func:`saliency_mask`); gradients of the other weights are zeroed at every step, so with
    the default zero weight decay they do not move.
    """
    _need_classes("salun", data)
    mask = saliency_mask(model, data.forget, params["fraction"], params["batch_size"])
    run_epochs(model, data, params, _relabelled_union(data), ce_loss(model), mask=mask,
               what="salun loss", summed_loss=True)
    kept = sum(int(m.sum()) for m in mask.values())
    return {"masked_weights": kept, "total_weights": sum(m.numel() for m in mask.values())}
