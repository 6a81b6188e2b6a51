"""Parameter editing without gradient steps: Selective Synaptic Dampening (SSD).

SSD compares how important each weight is for the forget set and for the whole training data
(diagonal empirical Fisher information: mean squared loss gradients) and shrinks the weights
that matter disproportionately for the forget set. It needs two passes of first-order
gradients only, so it works through ``TorchConnector`` (no Hessians).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from qiskit_unlearn.train import batches
from qiskit_unlearn.unlearn.base import ArrayPair, Checked, UnlearnData, register
from qiskit_unlearn.unlearn.steps import batch_grads, log_epoch, mean_square, named_trainable


def importances(model: nn.Module, data: ArrayPair,
                batch_size: int) -> dict[str, torch.Tensor]:
    """Diagonal Fisher importance of every trainable weight: mean over minibatches of
    (∂ CE / ∂w)², as SSD's reference code computes it (``batch_size=1``: per-sample Fisher)."""
    named = named_trainable(model)
    weights = [p for _, p in named]
    model.eval()
    pieces = batches(data, batch_size, 0, 0, shuffle=False)
    fisher = mean_square(batch_grads(model, pieces, weights), weights)
    return {name: f for (name, _), f in zip(named, fisher, strict=True)}


def dampen(model: nn.Module, forget_importance: dict[str, torch.Tensor],
           full_importance: dict[str, torch.Tensor], alpha: float, lam: float) -> int:
    """Scale weights with I_forget > alpha·I_full by min(lam·I_full / I_forget, 1).

    Returns how many weights were dampened.
    """
    changed = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in forget_importance:
                continue
            i_f, i_d = forget_importance[name], full_importance[name]
            selected = i_f > alpha * i_d
            factor = torch.clamp(lam * i_d / torch.where(selected, i_f, 1.0), max=1.0)
            p.copy_(torch.where(selected, p * factor, p))
            changed += int(selected.sum())
    return changed


def _ssd_rules(check: Checked) -> None:
    check.number("alpha")
    check.number("lam")


@register("ssd", defaults={"alpha": 10.0, "lam": 1.0, "batch_size": 1}, check=_ssd_rules,
          family="parameter editing", changes="dampens forget-specific weights (no training)",
          reference="Foster, Schoepf, Brintrup: Fast Machine Unlearning Without Retraining "
                    "Through Selective Synaptic Dampening, AAAI 2024 "
                    "(github.com/if-loops/selective-synaptic-dampening)")
def ssd(model: nn.Module, data: UnlearnData, params: dict[str, Any]) -> dict[str, Any]:
    """SSD: shrink the weights far more important for the forget set than for all training data.

    Importances are diagonal Fisher information (:func:`importances`) on the forget set and on
    retain ∪ forget; a weight with I_forget > ``alpha``·I_full is multiplied by
    β = min(``lam``·I_full / I_forget, 1). Published: alpha 10 (selection), lam 1 (dampening).
    No gradient step is taken. When the forget set is a large share of the training data (e.g.
    a whole class of three), I_full ≥ (n_forget / n)·I_forget caps the ratio below alpha = 10,
    so nothing is selected and the model is returned unchanged (``info["dampened_weights"]``
    is 0). For such cases lower ``alpha`` below n / n_forget and ``lam`` so that dampened
    weights really shrink: forgetting one Iris class of three on a 2-qubit hybrid takes
    ``alpha=1.5, lam=0.05``.
    """
    full = (np.concatenate([np.asarray(data.retain[0]), np.asarray(data.forget[0])]),
            np.concatenate([np.asarray(data.retain[1]), np.asarray(data.forget[1])]))
    forget_importance = importances(model, data.forget, params["batch_size"])
    full_importance = importances(model, full, params["batch_size"])
    changed = dampen(model, forget_importance, full_importance, params["alpha"], params["lam"])
    log_epoch(model, data, 0, dampened=changed)
    total = sum(t.numel() for t in forget_importance.values())
    return {"dampened_weights": changed, "total_weights": total}
