"""Unlearning by training on the retain set: the retraining oracle and its cheaper stand-ins.

``retrain`` is the exact reference (it never reads the forget set); ``finetune``, ``cf-k``,
``eu-k``, ``l1-sparse`` and ``certified`` start from the teacher and train (part of) it on the
retain set, so they forget only what the retain data pulls the weights away from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from qiskit_unlearn.models import QuantumLayer
from qiskit_unlearn.train import TrainConfig, batches, cross_entropy, evaluate, train
from qiskit_unlearn.unlearn.base import (
    Checked,
    MethodFn,
    UnlearnData,
    UnlearnError,
    fresh_model,
    hqml_study,
    register,
    retained_val,
)
from qiskit_unlearn.unlearn.steps import (
    ascent_loss,
    ce_loss,
    finite,
    gradients,
    log_epoch,
    make_optimizer,
    per_sample_grads,
    run_epochs,
    trainable,
)

VARIANTS = ("goel", "hqml")
GOEL_REFERENCE = ("Goel et al. 2022, 'Towards adversarial evaluation of machine unlearning' "
                  "(arXiv:2201.06640)")


def _groups(model: nn.Module, method: str) -> list[str]:
    names = list(getattr(model, "group_names", []))
    if not names:
        raise UnlearnError(f"{method} needs a model with layer groups (qiskit_unlearn.models)")
    return names


def head_groups(model: nn.Module) -> list[str]:
    """The classical groups after the last quantum layer (all groups of a classical model)."""
    names = list(model.group_names)
    quantum = [i for i, (_, module) in enumerate(model.layer_groups())
               if any(isinstance(m, QuantumLayer) for m in module.modules())]
    return names[quantum[-1] + 1:] if quantum else names


def _k_rules(check: Checked) -> None:
    """What can be checked of ``k`` before a model exists; :func:`_check_k` does the rest."""
    check.choice("variant", VARIANTS)
    check.integer("k")


def _check_k(model: nn.Module, method: str,
             params: Mapping[str, Any]) -> tuple[str, int, list[str]]:
    """``variant`` and ``k`` checked against the model's layer groups, and the groups ``k``
    may index: all groups, or the head groups for ``eu-k`` hqml."""
    variant, k = params["variant"], params["k"]
    names = _groups(model, method)
    if method == "eu-k" and variant == "hqml":
        names, what, limit = head_groups(model), "re-initialises the last k head layers", None
    elif method == "cf-k" and variant == "hqml":
        what, limit = "freezes the first k groups and needs one left to train", len(names) - 1
    else:
        what, limit = "acts on the last k groups", None
    limit = len(names) if limit is None else limit
    if limit == 0:
        raise UnlearnError(f"{method} (variant {variant!r}) {what}, which a model with layer "
                           f"groups {model.group_names} does not allow; use variant='goel'")
    if k > limit:
        raise UnlearnError(f"{method} (variant {variant!r}) {what}, so k must be <= {limit}; "
                           f"got k={k} for a model with layer groups {model.group_names}")
    return variant, k, names


def _register_k(name: str, paper_name: str, *, epochs: int,
                changes: str) -> Callable[[MethodFn], MethodFn]:
    """The registration ``cf-k`` and ``eu-k`` share: Goel et al.'s k-group methods with the
    same hyperparameters (but the default ``epochs``), rules and HQML-study settings."""
    return register(name, defaults={"k": 1, "variant": "goel", "epochs": epochs, "lr": 0.01,
                                    "batch_size": 16, "optimizer": "adam", "weight_decay": 0.0},
                    check=_k_rules, family="partial retraining", changes=changes,
                    reference=f"{GOEL_REFERENCE}, {paper_name}",
                    study=hqml_study(variant="hqml", k=1, epochs=25))


# --- the oracle -------------------------------------------------------------------------------

@register("retrain", defaults={"epochs": 40, "lr": 0.05, "batch_size": 16, "patience": 12,
                               "weight_decay": 0.0},
          check=lambda check: check.integer("patience", low=0),
          family="oracle", changes="all weights, from scratch",
          reference="exact unlearning by retraining (Cao & Yang 2015, IEEE S&P)")
def retrain(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Retrain a freshly initialised copy of the architecture on the retain set only.

    The exact-unlearning reference: the model never sees the forget set, and this function
    never reads ``data.forget`` (its curve logs validation accuracy only). Initialised from
    ``build_model(..., seed=data.seed)`` and trained with :func:`qiskit_unlearn.train.train`
    (Adam, best epoch on :func:`retained_val`, early stopping after ``patience`` stale epochs;
    ``patience=0`` trains all ``epochs``). The defaults are the quickstart teacher recipe for
    small hybrids; pass the teacher's own recipe for a like-for-like oracle (as the one that
    ``qunlearn run`` trains).
    """
    patience = params["patience"] or None
    val = retained_val(data)
    if len(val[1]) == 0:
        raise UnlearnError("retrain selects its best epoch on validation samples of the "
                           "retained classes, and there are none; give UnlearnData a larger val")
    fresh = fresh_model(model, data.seed)
    config = TrainConfig(epochs=params["epochs"], lr=params["lr"],
                         batch_size=params["batch_size"],
                         patience=patience, weight_decay=params["weight_decay"], seed=data.seed)
    result = train(fresh, data.retain, val, config, progress=data.progress,
                   description="retrain", on_epoch=lambda row: data.log(
                       int(row["epoch"]), val_accuracy=evaluate(fresh, data.val)["accuracy"],
                       retained_val_accuracy=row["val_accuracy"],
                       train_loss=row["train_loss"]))
    model.load_state_dict(fresh.state_dict())
    return {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "best_val_accuracy": result.best_val_accuracy, "init_seed": data.seed}


# --- fine-tuning family -----------------------------------------------------------------------

@register("finetune", defaults={"epochs": 10, "lr": 0.01, "batch_size": 16, "optimizer": "adam",
                                "weight_decay": 0.0},
          family="fine-tuning", changes="all weights",
          reference="fine-tune baseline of Golatkar et al. 2020 (CVPR) and Jia et al. 2023")
def finetune(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Keep training the teacher on the retain set (catastrophic forgetting of the rest).

    10 epochs at lr 0.01 follow the FT baseline of Jia et al. 2023 ("Model sparsity can
    simplify machine unlearning"); Adam instead of their SGD because it is the optimiser the
    hybrid models are trained with. It forgets the forget set only as far as the retain data
    moves the weights, so it may leave a subset largely remembered.
    """
    return run_epochs(model, data, params, data.retain, ce_loss(model))


@register("l1-sparse", defaults={"epochs": 10, "lr": 0.01, "batch_size": 16, "gamma": 1e-4,
                                 "optimizer": "adam", "weight_decay": 0.0},
          check=lambda check: check.number("gamma", allow_low=True),
          family="fine-tuning", changes="all weights, L1-regularised",
          reference="Jia et al. 2023, 'Model sparsity can simplify machine unlearning' "
                    "(NeurIPS), l1-sparse MU")
def l1_sparse(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Fine-tune on the retain set with an L1 penalty whose weight decays linearly to zero.

    loss = CE(retain batch) + gamma_t * ||theta||_1 over all weights, gamma_t = gamma (1 - t/T)
    at step t of T (Jia et al. 2023, sparsity-aware unlearning, with their linearly decreasing
    schedule: strong sparsification first, plain fine-tuning at the end). Defaults are the
    settings used with the authors' code on CIFAR-10 (lr 0.01, 10 epochs, gamma 1e-4) except
    Adam instead of their SGD, as in ``finetune`` (with SGD at lr 0.01 the small hybrids barely
    move in 10 epochs). Adam rescales the penalty's gradient, so even gamma = 1e-4 drives the
    weights the retain loss barely uses towards 0 (on the 2-qubit Iris hybrid: ||theta||_1
    46 -> 41, 15 instead of 1 weights below 0.05). For quantum weights "sparse" means rotation
    angles pulled towards 0, i.e. towards identity gates.
    """
    gamma = params["gamma"]

    def loss(x: torch.Tensor, y: torch.Tensor, progress: float) -> torch.Tensor:
        l1 = sum(p.abs().sum() for p in model.parameters())
        return cross_entropy(model, x, y) + gamma * (1.0 - progress) * l1

    info = run_epochs(model, data, params, data.retain, loss)
    l1_norm = sum(float(p.detach().abs().sum()) for p in model.parameters())
    return {**info, "l1_norm": l1_norm}


@_register_k("cf-k", "CF-k", epochs=10, changes="last k layer groups (goel) / all but first k")
def cf_k(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Catastrophic forgetting-k: fine-tune only the last k layer groups on the retain set.

    ``variant="goel"`` (default, Goel et al. 2022): freeze every group but the last k and
    fine-tune those on the retain set, keeping the best validation epoch (their protocol).
    ``variant="hqml"`` (the HQML study, github.com/CrivoiCarla/hybrid-quantum-machine-unlearning):
    gradient *ascent* on the forget set with the *first* k groups frozen. Both variants
    default to the HQML study's 10 epochs of Adam at lr 0.01. k=1 by default: Goel et al.
    sweep k (1, 3, 5, 7 on ResNets) and the HQML study uses 1; it is also the only value valid
    on every model here (a binary amplitude VQC has a single group).
    """
    variant, k, names = _check_k(model, "cf-k", params)
    if variant == "goel":
        trained = model.freeze_all_but_last(k)
        info = run_epochs(model, data, params, data.retain, ce_loss(model), select_best=True)
    else:
        trained = names[k:]
        model.freeze_all_but_last(len(trained))
        info = run_epochs(model, data, params, data.forget, ascent_loss(model))
    return {**info, "variant": variant, "trained_groups": trained}


@_register_k("eu-k", "EU-k", epochs=20, changes="last k layer groups re-initialised")
def eu_k(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Exact unlearning-k: re-initialise the last k layer groups and retrain on the retain set.

    ``variant="goel"`` (default, Goel et al. 2022): only the re-initialised last k groups
    train (the rest is frozen), keeping the best validation epoch as in their protocol; exact
    if the frozen groups had never seen the forget set. ``variant="hqml"`` (the HQML study):
    re-initialise the last k classical *head* layers (never a quantum layer; :func:`head_groups`),
    then fine-tune every group on the retain set. Re-initialisation is seeded by ``data.seed``.
    k=1 by default for the reason given in ``cf-k``.
    """
    variant, k, names = _check_k(model, "eu-k", params)  # names: where the last k come from
    generator = torch.Generator().manual_seed(data.seed)
    reset = [model.reset_group(name, seed=generator) for name in names[len(names) - k:]]
    if variant == "goel":
        model.freeze_all_but_last(k)
    info = run_epochs(model, data, params, data.retain, ce_loss(model),
                      select_best=variant == "goel")
    return {**info, "variant": variant, "reset_groups": reset}


# --- certified (DP-SGD) fine-tuning -----------------------------------------------------------

def sampled_gaussian_rdp(q: float, sigma: float, order: int) -> float:
    """RDP at integer ``order`` of one step of the Poisson-sampled Gaussian mechanism.

    log(A_a) / (a - 1) with A_a = sum_k C(a, k) (1-q)^(a-k) q^k exp((k^2 - k) / (2 sigma^2))
    (Mironov, Talwar & Zhang 2019, integer orders), summed in log space. q = 1 gives the plain
    Gaussian mechanism's a / (2 sigma^2).
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 2:
        raise ValueError(f"order must be an integer >= 2, got {order!r}")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"sampling rate q must be in [0, 1], got {q}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if q == 0.0:
        return 0.0
    terms = []
    for k in range(order + 1):
        if q == 1.0 and k < order:
            continue  # (1 - q)^(order - k) = 0
        log_binom = math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
        tail = (order - k) * math.log1p(-q) if k < order else 0.0
        head = k * math.log(q) if k > 0 else 0.0
        terms.append(log_binom + tail + head + (k * k - k) / (2 * sigma**2))
    top = max(terms)
    log_a = top + math.log(sum(math.exp(t - top) for t in terms))
    return log_a / (order - 1)


def dp_epsilon(q: float, sigma: float, steps: int, delta: float,
               orders: Sequence[int] = tuple(range(2, 65))) -> tuple[float, int]:
    """(epsilon, best order) of ``steps`` compositions of the sampled Gaussian mechanism.

    epsilon = min_a steps * RDP(a) + log(1/delta) / (a - 1) (RDP composes additively; the
    conversion is Mironov 2017, Prop. 3). ``sigma = 0`` (no noise) gives infinity.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if steps == 0 or q == 0.0:
        return 0.0, int(orders[-1])
    if sigma == 0:
        return math.inf, int(orders[0])
    candidates = [(steps * sampled_gaussian_rdp(q, sigma, a) + math.log(1 / delta) / (a - 1), a)
                  for a in orders]
    eps, order = min(candidates)
    return eps, int(order)


def _clip_factor(norm: float, clip: float) -> float:
    """What scales a gradient of norm ``norm`` to norm <= ``clip``."""
    return min(1.0, clip / (norm + 1e-12))


def _norm(grads: Sequence[torch.Tensor]) -> float:
    return float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))


def _clipped_sample_grad_sum(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                             weights: Sequence[nn.Parameter], clip: float) -> list[torch.Tensor]:
    """Sum over the batch of per-sample gradients, each scaled to norm <= ``clip``."""
    total = [torch.zeros_like(w) for w in weights]
    for sample in per_sample_grads(model, x, y, weights):
        factor = _clip_factor(finite(_norm(sample), "a per-sample gradient norm"), clip)
        for t, g in zip(total, sample, strict=True):
            t.add_(g, alpha=factor)
    return total


def _clipped_batch_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        weights: Sequence[nn.Parameter], clip: float) -> list[torch.Tensor]:
    """The batch's mean gradient, scaled as a whole to norm <= ``clip`` (the HQML study)."""
    loss = cross_entropy(model, x, y)
    finite(loss.item(), "the fine-tuning loss")
    grads = gradients(loss, weights)
    factor = _clip_factor(_norm(grads), clip)
    return [g * factor for g in grads]


def _certified_rules(check: Checked) -> None:
    check.number("clip")
    check.number("noise_multiplier", allow_low=True)
    check.number("delta", high=1.0)  # (0, 1): the accountant's epsilon is finite only there


@register("certified", defaults={"epochs": 3, "lr": 0.05, "batch_size": 16, "clip": 1.0,
                                 "noise_multiplier": 1.0, "delta": 1e-5, "faithful": False,
                                 "optimizer": "sgd", "weight_decay": 0.0},
          check=_certified_rules,
          family="certified", changes="all weights, clipped + noised updates",
          reference="DP-SGD, Abadi et al. 2016 (CCS); RDP accountant, Mironov et al. 2019",
          study=hqml_study(epochs=12, clip=1.0, noise_multiplier=0.05, faithful=True))
def certified(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """Differentially private (DP-SGD) fine-tuning on the retain set, with its (epsilon, delta).

    Each minibatch: per-sample gradients clipped to norm ``clip`` (C), summed, plus
    N(0, sigma^2 C^2) noise per coordinate (sigma = ``noise_multiplier``), divided by
    ``batch_size`` (Abadi et al. 2016). The info reports C, sigma, the sampling rate
    q = batch_size / |retain|, the step count and epsilon at ``delta`` from an RDP accountant
    of the Poisson-sampled Gaussian mechanism (:func:`dp_epsilon`).

    What is guaranteed: the *fine-tuning* is (epsilon, delta)-DP with respect to the retain
    set, given its own noise and taking the starting weights as public. The accountant assumes
    Poisson sampling while batches here are a seeded shuffle, the usual approximation. What is
    NOT guaranteed: that the teacher's memory of the forget set is erased; the starting point
    already saw the forget set and DP fine-tuning does not certify removal of it. Only a start
    from a model trained without the forget set (then nothing needs removing) makes this a
    certificate.

    ``faithful=True`` reproduces the HQML study's "certified unlearning" instead: the batch's
    mean gradient is clipped to norm C as a whole and N(0, sigma^2 C^2) noise added to it (the
    study's ``sigma * randn`` with C = 1). No single sample's influence is bounded, so no
    epsilon is reported. The study ran it with ``noise_multiplier=0.05`` and Adam (lr 1e-3 and
    12 epochs on MNIST / Fashion-MNIST; lr 0.01 and 5 epochs on Iris), which
    ``unlearn.faithful = true`` applies (the registry's ``study`` settings). Defaults (C = 1,
    sigma = 1, SGD) are common DP-SGD starting points, not values from a paper; with batch 16
    the noise on the averaged gradient (sigma C / 16 ~ 0.06) is about the study's.
    """
    epochs, batch_size, clip = params["epochs"], params["batch_size"], params["clip"]
    sigma, delta = params["noise_multiplier"], params["delta"]
    faithful = bool(params["faithful"])
    weights = trainable(model)
    opt = make_optimizer(model, params)
    noise = torch.Generator().manual_seed(data.seed * 7 + 1)  # apart from the batch order
    steps = 0
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in batches(data.retain, batch_size, data.seed, epoch):
            if faithful:
                grads, scale = _clipped_batch_grad(model, x, y, weights, clip), 1.0
            else:
                grads, scale = _clipped_sample_grad_sum(model, x, y, weights, clip), batch_size
            for w, g in zip(weights, grads, strict=True):
                w.grad = (g + sigma * clip * torch.randn(g.shape, generator=noise)) / scale
            opt.step()
            steps += 1
        log_epoch(model, data, epoch)
    q = min(1.0, batch_size / len(data.retain[1]))
    info: dict[str, Any] = {"clip_norm": clip, "noise_multiplier": sigma, "sampling_rate": q,
                            "steps": steps, "delta": delta, "faithful": faithful}
    if faithful:
        return {**info, "epsilon": None,
                "epsilon_note": "not available: the batch gradient is clipped as a whole, so "
                                "no per-sample sensitivity bound exists"}
    eps, order = dp_epsilon(q, sigma, steps, delta)
    return {**info, "epsilon": eps, "rdp_order": order,
            "guarantee": "(epsilon, delta)-DP of the fine-tuning w.r.t. the retain set; not a "
                         "certificate that the teacher's memory of the forget set is erased"}
