"""Relabelling methods: train the forget samples towards other labels (or none) while the
retain set keeps its own.

* ``q-mul``: forget labels → the most similar other class, with a gradient-norm balance;
* ``lca``: label-complement augmentation, every wrong label for every forget sample;
* ``adv-uniform``: FGSM-perturbed forget inputs pushed to the uniform prediction;
* ``random-labels``: random wrong labels on the forget set (Golatkar et al.; Jia et al.);
* ``salun``: random labels, updating only the weights most salient for the forget loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from qiskit_unlearn.train import as_tensors, predict_logits
from qiskit_unlearn.unlearn.base import (
    HQML_REFERENCE,
    ArrayPair,
    Checked,
    UnlearnData,
    UnlearnError,
    batches,
    clone_model,
    cross_entropy,
    cycle,
    finite,
    hqml_study,
    log_epoch,
    make_optimizer,
    named_trainable,
    paired_steps,
    register,
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


def _fit(model: nn.Module, data: UnlearnData, params: dict[str, Any], source: ArrayPair,
         loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], what: str,
         mask: dict[str, torch.Tensor] | None = None) -> None:
    """``epochs`` passes of one optimiser step on ``loss(x, y)`` per seeded minibatch of
    ``source`` (cut short by ``pairing = "shortest"``), gradients outside ``mask`` zeroed;
    logs each epoch's summed loss."""
    named = named_trainable(model)
    opt = make_optimizer(model, params)
    steps = paired_steps(data, params, params["batch_size"])
    for epoch in range(1, params["epochs"] + 1):
        model.train()
        total = 0.0
        for x, y in itertools.islice(batches(source, params["batch_size"], data.seed, epoch),
                                     steps):
            value = loss(x, y)
            total += finite(value.item(), what)
            opt.zero_grad()
            value.backward()
            if mask is not None:
                for name, p in named:
                    if p.grad is not None:
                        p.grad.mul_(mask[name])
            opt.step()
        log_epoch(model, data, epoch, loss=total)


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
    forget = cycle(data.forget, params["batch_size"], data.seed)
    steps = paired_steps(data, params, params["batch_size"])
    for epoch in range(1, params["epochs"] + 1):
        model.train()
        ws = []
        for xr, yr in itertools.islice(batches(data.retain, params["batch_size"], data.seed,
                                               epoch), steps):
            xf, yf = next(forget)
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
    pairs = cycle(complement, params["batch_size"], data.seed)

    def loss(xr: torch.Tensor, yr: torch.Tensor) -> torch.Tensor:
        xc, yc = next(pairs)
        return cross_entropy(model, xr, yr) + params["beta"] * cross_entropy(model, xc, yc)

    _fit(model, data, params, data.retain, loss, "lca loss")
    return {"complement_pairs": len(complement[1])}


# --- adversarial samples pushed to the uniform prediction -------------------------------------

def _with_input_gradients(model: nn.Module) -> nn.Module:
    """``model`` itself, or a weight-sharing-free twin whose QNN computes input gradients."""
    kwargs = getattr(model, "spec", {}).get("kwargs", {})
    if "input_gradients" in kwargs and not kwargs["input_gradients"]:
        return clone_model(model, input_gradients=True)
    return model


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
         low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """x + eps·sign(∇ₓ CE(model(x), y)), clipped to [low, high] elementwise."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(cross_entropy(model, x, y), x)
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
    forget = cycle(data.forget, params["batch_size"], data.seed)

    def loss(xr: torch.Tensor, yr: torch.Tensor) -> torch.Tensor:
        xf, yf = next(forget)
        if params["faithful"]:
            x_adv = _fgsm_kl(work, xf, params["eps"], low, high)
            uniform = _kl_to_uniform(work(x_adv))
        else:
            x_adv = fgsm(work, xf, yf, params["eps"], low, high)
            uniform = -F.log_softmax(work(x_adv).float(), dim=1).mean(dim=1).mean()
        return cross_entropy(work, xr, yr) + params["lam"] * uniform

    _fit(work, data, params, data.retain, loss, "adv-uniform loss")
    if work is not model:
        model.load_state_dict(work.state_dict())
    return {"input_gradients_twin": work is not model}


def _kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """Mean KL(p ‖ uniform) = Σ p log p + log C (the HQML study's penalty)."""
    log_p = F.log_softmax(logits.float(), dim=1)
    return (log_p.exp() * log_p).sum(dim=1).mean() + math.log(logits.shape[1])


def _fgsm_kl(model: nn.Module, x: torch.Tensor, eps: float, low: torch.Tensor,
             high: torch.Tensor) -> torch.Tensor:
    """The HQML study's FGSM: x + eps·sign(∇ₓ KL(p ‖ uniform)), clipped to [low, high]."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_kl_to_uniform(model(x)), x)
    return torch.clamp(x + eps * grad.sign(), low, high).detach()


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
    _fit(model, data, params, _relabelled_union(data), partial(cross_entropy, model),
         "random-labels loss")
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
    _fit(model, data, params, _relabelled_union(data), partial(cross_entropy, model),
         "salun loss", mask)
    kept = sum(int(m.sum()) for m in mask.values())
    return {"masked_weights": kept, "total_weights": sum(m.numel() for m in mask.values())}
