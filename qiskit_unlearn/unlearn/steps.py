"""Building blocks the unlearning methods share: batching and pairing, optimisers and
descent steps, gradients and their squares, per-epoch logging and the generic epoch loop.

A method composes these instead of writing its own loop, so every method batches, steps,
logs and stops early the same way (the contract itself is :mod:`qiskit_unlearn.unlearn.base`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from qiskit_unlearn.train import ArrayPair, Batch, BestEpoch, batches, cross_entropy, evaluate
from qiskit_unlearn.unlearn.base import UnlearnData, retained_val
from qiskit_unlearn.unlearn.registry import OPTIMIZERS, UnlearnError

#: ``loss(x, y, progress)``: the loss of one minibatch; ``progress`` = step / total steps.
StepLoss = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
#: ``loss(retain, forget, progress)``: the loss of a retain batch and its forget batch
#: (:class:`PairedBatches`).
PairedLoss = Callable[[Batch, Batch, float], torch.Tensor]


def cycle(data: ArrayPair, batch_size: int, seed: int) -> Iterator[Batch]:
    """Endless minibatches (a new seeded order every pass): pairs a small set with a large one.

    Checked eagerly: an empty ``data`` would make the first ``next`` loop forever.
    """
    if len(data[1]) == 0:
        raise UnlearnError("cannot draw endless minibatches from an empty data set (a method "
                           "pairs it with another one); pass at least one sample")
    passes = (batches(data, batch_size, seed + 7919, epoch) for epoch in itertools.count())
    return itertools.chain.from_iterable(passes)


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimiser may move (those of frozen layer groups excluded)."""
    return [p for p in model.parameters() if p.requires_grad]


def named_trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """:func:`trainable` with the parameters' names (for per-weight masks and importances)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def make_optimizer(model: nn.Module, params: Mapping[str, Any]) -> torch.optim.Optimizer:
    """Adam (``optimizer = "adam"``, default) or SGD with momentum 0.9 on trainable parameters.

    The name was checked by :func:`resolve_params`; the last line guards direct calls only.
    """
    weights = trainable(model)
    if not weights:
        raise UnlearnError("no trainable parameters left (all layer groups frozen)")
    name = params.get("optimizer", "adam")
    lr = float(params["lr"])
    wd = float(params.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(weights, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(weights, lr=lr, momentum=0.9, weight_decay=wd)
    raise UnlearnError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}; pass one "
                       "of them in params")


def ce_loss(model: nn.Module) -> StepLoss:
    """The step loss of plain training: the batch's cross-entropy."""
    return lambda x, y, _: cross_entropy(model, x, y)


def ascent_loss(model: nn.Module) -> StepLoss:
    """The step loss of gradient ascent: the batch's negated cross-entropy."""
    return lambda x, y, _: -cross_entropy(model, x, y)


def gradients(loss: torch.Tensor, weights: Sequence[nn.Parameter]) -> list[torch.Tensor]:
    """d loss / d weights, with zeros for weights the loss does not depend on."""
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights, strict=True)]


def batch_grads(model: nn.Module, pieces: Iterable[Batch],
                weights: Sequence[nn.Parameter]) -> Iterator[list[torch.Tensor]]:
    """Cross-entropy gradients of each minibatch in ``pieces``."""
    for x, y in pieces:
        yield gradients(cross_entropy(model, x, y), weights)


def per_sample_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     weights: Sequence[nn.Parameter]) -> Iterator[list[torch.Tensor]]:
    """Cross-entropy gradients of one sample at a time (``vmap`` cannot see through
    ``TorchConnector``, so micro-batches of one are the portable way)."""
    return batch_grads(model, ((x[i:i + 1], y[i:i + 1]) for i in range(len(x))), weights)


def mean_square(grads: Iterable[Sequence[torch.Tensor]],
                weights: Sequence[nn.Parameter]) -> list[torch.Tensor]:
    """Elementwise mean of squared gradients: a diagonal empirical Fisher, per sample or per
    batch depending on what ``grads`` come from (EWC, SSD and the HQML study's Fisher)."""
    total = [torch.zeros_like(w) for w in weights]
    count = 0
    for grad in grads:
        for t, g in zip(total, grad, strict=True):
            t.add_(g.detach() ** 2)
        count += 1
    return [t / max(count, 1) for t in total]


def finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise UnlearnError(f"{what} became {value}; lower the learning rate")
    return value


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, what: str,
            mask: Sequence[tuple[nn.Parameter, torch.Tensor]] | None = None) -> float:
    """One optimiser step on ``loss``; returns its value (an error if it is not finite).

    ``mask`` pairs weights with 0/1 tensors their gradients are multiplied by before the step
    (SalUn's saliency mask).
    """
    value = finite(loss.item(), what)
    optimizer.zero_grad()
    loss.backward()
    for weight, keep in mask or ():
        if weight.grad is not None:
            weight.grad.mul_(keep)
    optimizer.step()
    return value


def log_epoch(model: nn.Module, data: UnlearnData, epoch: int, **extra: float) -> None:
    """Log validation and forget accuracy after an epoch (for the curves), then let the
    early-stopping rule (if any) see the epoch: it may end the method here."""
    val = evaluate(model, data.val)
    forget = evaluate(model, data.forget)
    data.log(epoch, val_accuracy=val["accuracy"], forget_accuracy=forget["accuracy"],
             **extra)
    if data.stopper is not None and epoch > 0:
        same = data.stopper.split is data.val
        data.stopper.update(model, epoch, val["accuracy"] if same else None)


def paired_steps(data: UnlearnData, params: Mapping[str, Any], batch_size: int,
                 forget_batch_size: int | None = None) -> int | None:
    """Steps per epoch of a method pairing retain batches with forget batches.

    ``pairing = "cycle"`` (default): a pass over the retain set, forget batches cycling
    (``None``: no limit). ``pairing = "shortest"``: the HQML study's ``zip(retain, forget)``,
    which stops at the shorter loader, so with a small forget set an epoch is a step or two.
    """
    if params.get("pairing", "cycle") != "shortest":
        return None
    retain = math.ceil(len(data.retain[1]) / batch_size)
    forget = math.ceil(len(data.forget[1]) / (forget_batch_size or batch_size))
    return max(1, min(retain, forget))


class PairedBatches:
    """Retain minibatches, each paired with the next batch of an endless seeded cycle over the
    forget set: the steps of every method that trains on both sets at once (NegGrad+, Q-MUL,
    ADV-UNIFORM, SCRUB's hqml variant; LCA with its complement pairs as ``partner``).

    An epoch (:meth:`epoch`) is one pass over the retain set in ``params["batch_size"]``
    batches, cut short by ``pairing = "shortest"`` (:func:`paired_steps`, which counts forget
    batches); the cycle runs on across epochs, so every forget sample takes its turn.
    """

    def __init__(self, data: UnlearnData, params: Mapping[str, Any], *,
                 forget_batch_size: int | None = None,
                 partner: ArrayPair | None = None) -> None:
        self.data, self.batch_size = data, params["batch_size"]
        self.steps = paired_steps(data, params, self.batch_size, forget_batch_size)
        full = math.ceil(len(data.retain[1]) / self.batch_size)
        #: Steps of one epoch.
        self.per_epoch = full if self.steps is None else min(full, self.steps)
        self._partner = cycle(data.forget if partner is None else partner,
                              forget_batch_size or self.batch_size, data.seed)

    def epoch(self, epoch: int) -> Iterator[tuple[Batch, Batch]]:
        """The ``(retain batch, forget batch)`` pairs of ``epoch``."""
        retain = batches(self.data.retain, self.batch_size, self.data.seed, epoch)
        for batch in itertools.islice(retain, self.steps):
            yield batch, next(self._partner)


def run_epochs(model: nn.Module, data: UnlearnData, params: Mapping[str, Any],
               source: ArrayPair | PairedBatches, loss: StepLoss | PairedLoss, *,
               select_best: bool = False,
               mask: Mapping[str, torch.Tensor] | None = None,
               what: str = "the unlearning loss", summed_loss: bool = False) -> dict[str, Any]:
    """Optimise ``loss`` for ``params["epochs"]`` epochs: the training loop of every method
    that takes one optimiser step per minibatch.

    ``source`` is an array pair (``loss(x, y, progress)`` on each of its seeded minibatches of
    ``params["batch_size"]``) or :class:`PairedBatches` (``loss(retain, forget, progress)`` on
    each pair). One curve point per epoch (:func:`log_epoch`) with the mean step loss, or with
    ``summed_loss`` the epoch's sum (the relabelling and bad-teacher curves). ``select_best``
    keeps the weights of the epoch with the best validation (accuracy, then loss) on
    :func:`retained_val`, as Goel et al. and :func:`qiskit_unlearn.train.train` do; otherwise
    the last epoch's weights are kept. ``mask``: per-weight 0/1 gradient masks by parameter
    name (:func:`descend`). Returns the step count and the chosen epoch.
    """
    val = retained_val(data) if select_best else data.val
    if select_best and len(val[1]) == 0:
        raise UnlearnError("best-epoch selection needs validation samples of the retained "
                           "classes, and there are none; give UnlearnData a larger val split")
    masked = None if mask is None else [(p, mask[n]) for n, p in named_trainable(model)]
    opt = make_optimizer(model, params)
    epochs, batch_size = params["epochs"], params["batch_size"]
    paired = isinstance(source, PairedBatches)
    per_epoch = source.per_epoch if paired else math.ceil(len(source[1]) / batch_size)
    best = BestEpoch((-1.0, -math.inf)) if select_best else None
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        running = 0.0
        steps = source.epoch(epoch) if paired else batches(source, batch_size, data.seed, epoch)
        for a, b in steps:  # (x, y), or (retain batch, forget batch)
            running += descend(opt, loss(a, b, step / (epochs * per_epoch)), what, masked)
            step += 1
        log_epoch(model, data, epoch, loss=running if summed_loss else running / per_epoch)
        if best is not None:
            score = evaluate(model, val)
            best.update(model, epoch, (score["accuracy"], -score["loss"]))
    if best is None:
        return {"steps": step, "best_epoch": epochs}
    best.restore(model)
    return {"steps": step, "best_epoch": best.epoch}
