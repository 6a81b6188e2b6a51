"""The unlearning contract: data a method may see, running a method and shared helpers.

Every method has one signature, ``fn(model, data, params) -> dict`` (the dict is extra info for
the run's manifest). ``model`` is a fresh copy of the teacher that the method changes in place;
``data`` holds retain, forget and validation data only, so no method can read the test split;
``params`` are the method's published defaults overridden by the caller and validated by name,
type and range before the method runs (:func:`resolve_params`; the registry and its rules live
in :mod:`qiskit_unlearn.unlearn.registry` and are re-exported here). :func:`unlearn` wraps a call:
it rejects empty retain or forget sets, copies the teacher, seeds torch, times the call and
returns the unlearned model with the info and a per-step curve.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from qiskit_unlearn.train import as_tensors, evaluate
from qiskit_unlearn.unlearn.registry import (  # noqa: F401  (re-exported: the public API)
    METHODS,
    OPTIMIZERS,
    Checked,
    Method,
    MethodFn,
    UnlearnError,
    register,
    resolve_params,
)

ArrayPair = tuple[np.ndarray, np.ndarray]

#: ``loss(x, y, progress)``: the loss of one minibatch; ``progress`` = step / total steps.
StepLoss = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]

HQML_REFERENCE = ("Machine Unlearning in the Era of Quantum Machine Learning: An Empirical "
                  "Study (the HQML study; github.com/CrivoiCarla/hybrid-quantum-machine-"
                  "unlearning)")

#: What every method of the HQML study shares in its released MNIST / Fashion-MNIST code: Adam
#: at lr 1e-3 on batches of 64, each method wrapped in early stopping on *test* accuracy
#: (patience 6; SCRUB 8) that keeps the best epoch. Method entries add their own budgets.
HQML_STUDY: dict[str, Any] = {"lr": 0.001, "batch_size": 64, "optimizer": "adam",
                              "early_stopping": 6, "early_stopping_on": "all"}


def hqml_study(**settings: Any) -> dict[str, Any]:
    """A method's HQML-study settings: :data:`HQML_STUDY` plus its own (``register(study=)``)."""
    return {**HQML_STUDY, **settings}


@dataclass
class UnlearnData:
    """What an unlearning method may look at (never the test split).

    ``forget`` carries the labels the teacher was trained with (flipped ones in a label-flip
    scenario). ``val`` is the validation split, the only data any stopping or selection rule
    may use; a method that selects on it should use :func:`retained_val` (the validation
    samples of classes still in the retain set), because a forgotten class's samples reward
    not forgetting. ``curve`` receives one dict per logged step (see :meth:`log`).
    """

    retain: ArrayPair
    forget: ArrayPair
    val: ArrayPair
    num_classes: int
    seed: int = 0
    progress: bool = False
    curve: list[dict[str, float]] = field(default_factory=list)
    #: Set by :func:`unlearn` when the method's ``early_stopping`` patience is > 0.
    stopper: EarlyStopping | None = None

    def log(self, step: int, **values: float) -> None:
        self.curve.append({"step": float(step), **{k: float(v) for k, v in values.items()}})


class _Stop(Exception):
    """Raised by :meth:`EarlyStopping.update` to end a method's epoch loop (caught in
    :func:`unlearn`), so every method obeys early stopping without code of its own."""


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a strictly better accuracy on ``split`` and keep
    the best epoch's weights (the HQML study's ``train_with_es`` around every method).

    The first epoch is always the best so far: the teacher itself (epoch 0) is not a candidate,
    as in the study.
    """

    patience: int
    split: ArrayPair
    best: float = -math.inf
    best_epoch: int = 0
    epochs_run: int = 0
    since_best: int = 0
    state: dict[str, torch.Tensor] | None = None

    def update(self, model: nn.Module, epoch: int, accuracy: float | None = None) -> None:
        """Record the epoch's accuracy on ``split``; raise :class:`_Stop` when patience runs
        out. ``accuracy`` may be passed when the caller has just measured it on ``split``."""
        acc = evaluate(model, self.split)["accuracy"] if accuracy is None else accuracy
        self.epochs_run = epoch
        if acc > self.best:
            self.best, self.best_epoch, self.since_best = acc, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return
        self.since_best += 1
        if self.since_best >= self.patience:
            raise _Stop

    def info(self) -> dict[str, Any]:
        return {"patience": self.patience, "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "best_accuracy": self.best}


def clone_model(model: nn.Module, **overrides: Any) -> nn.Module:
    """A new model of the same architecture and backend with a copy of ``model``'s weights.

    Models are rebuilt from their ``spec`` (not deep-copied) because their quantum layers hold
    primitives and compiled simulators that do not copy safely. ``overrides`` change
    constructor arguments that do not change the weights' shapes, e.g. ``input_gradients=True``
    for methods that need gradients with respect to the inputs.
    """
    from qiskit_unlearn.models import build_model

    spec = getattr(model, "spec", None)
    if not spec:
        raise UnlearnError("unlearning needs a model from qiskit_unlearn.models (with a spec)")
    twin = build_model(spec["kind"], **{**spec["kwargs"], **overrides})
    twin.load_state_dict(model.state_dict())
    return twin


def fresh_model(model: nn.Module, seed: int) -> nn.Module:
    """Same architecture as ``model``, newly initialised from ``seed`` (for retraining)."""
    from qiskit_unlearn.models import build_model

    spec = model.spec
    return build_model(spec["kind"], **{**spec["kwargs"], "seed": int(seed)})


@dataclass
class UnlearnOutcome:
    """The unlearned model, the method's info, the logged curve and the wall time."""

    method: str
    model: nn.Module
    params: dict[str, Any]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)


def unlearn(method: str, teacher: nn.Module, data: UnlearnData,
            params: Mapping[str, Any] | None = None) -> UnlearnOutcome:
    """Run ``method`` on a copy of ``teacher`` (which is left untouched)."""
    resolved = resolve_params(method, params)
    if len(data.retain[1]) == 0:
        raise UnlearnError("the retain set is empty; nothing can be unlearned towards")
    if len(data.forget[1]) == 0:
        raise UnlearnError(
            f"{method} needs a non-empty forget set: UnlearnData.forget holds the training "
            "samples (with the labels the teacher was trained on) that the model must unlearn, "
            "and it has none; pass at least one, e.g. forget classes that occur in the training "
            "split or a larger forget fraction")
    model = clone_model(teacher)
    data.curve = []
    data.stopper = _stopper(data, resolved)
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(data.seed)
            try:
                info = METHODS[method].fn(model, data, resolved) or {}
            except _Stop:
                info = {"stopped_early": True}
        if data.stopper is not None:
            if data.stopper.state is not None:
                model.load_state_dict(data.stopper.state)
            info = {**info, "early_stopping": data.stopper.info()}
    finally:
        data.stopper = None
    seconds = time.perf_counter() - start
    model.eval()
    if hasattr(model, "unfreeze"):
        model.unfreeze()
    return UnlearnOutcome(method, model, resolved, seconds, info, list(data.curve))


def _stopper(data: UnlearnData, params: Mapping[str, Any]) -> EarlyStopping | None:
    """The early-stopping rule of ``params`` (``early_stopping`` = patience, 0 = off), on the
    retained classes' selection samples or, with ``early_stopping_on = "all"`` (the HQML
    study), on the whole selection split."""
    patience = int(params.get("early_stopping", 0))
    if patience <= 0:
        return None
    split = data.val if params.get("early_stopping_on") == "all" else retained_val(data)
    if len(split[1]) == 0:
        raise UnlearnError("early stopping needs selection samples (of the retained classes "
                           "unless early_stopping_on = 'all'), and there are none; give "
                           "UnlearnData a larger val split or set early_stopping = 0")
    return EarlyStopping(patience, split)


# --- helpers shared by the methods ------------------------------------------------------------

def retained_val(data: UnlearnData) -> ArrayPair:
    """Validation samples of the classes the retain set contains, for model selection.

    When whole classes are forgotten, their validation samples can only be right for a model
    that still remembers them, so selecting on all of ``val`` would reward not forgetting.
    For subset scenarios (every class retained) this is all of ``val``.
    """
    x, y = data.val
    keep = np.isin(np.asarray(y), np.unique(np.asarray(data.retain[1])))
    return np.asarray(x)[keep], np.asarray(y)[keep]


def batches(data: ArrayPair, batch_size: int, seed: int, epoch: int,
            shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches of ``data`` in a seeded order that depends on ``(seed, epoch)``."""
    x, y = as_tensors(data)
    n = len(x)
    if n == 0:
        return
    order = torch.randperm(n, generator=torch.Generator().manual_seed(
        seed * 100_003 + epoch)) if shuffle else torch.arange(n)
    for i in range(0, n, max(1, batch_size)):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def cycle(data: ArrayPair, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor,
                                                                         torch.Tensor]]:
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


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x).float(), y)


def gradients(loss: torch.Tensor, weights: Sequence[nn.Parameter]) -> list[torch.Tensor]:
    """d loss / d weights, with zeros for weights the loss does not depend on."""
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights, strict=True)]


def per_sample_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     weights: Sequence[nn.Parameter]) -> Iterator[list[torch.Tensor]]:
    """Cross-entropy gradients of one sample at a time (``vmap`` cannot see through
    ``TorchConnector``, so micro-batches of one are the portable way)."""
    for i in range(len(x)):
        yield gradients(cross_entropy(model, x[i:i + 1], y[i:i + 1]), weights)


def finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise UnlearnError(f"{what} became {value}; lower the learning rate")
    return value


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, what: str) -> float:
    """One optimiser step on ``loss``; returns its value (an error if it is not finite)."""
    value = finite(loss.item(), what)
    optimizer.zero_grad()
    loss.backward()
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


def run_epochs(model: nn.Module, data: UnlearnData, params: Mapping[str, Any],
               source: ArrayPair, loss: StepLoss, *, epochs: int, batch_size: int,
               select_best: bool = False, steps_per_epoch: int | None = None) -> dict[str, Any]:
    """Optimise ``loss`` over seeded minibatches of ``source`` for ``epochs`` passes.

    One curve point per epoch (:func:`log_epoch`). ``select_best`` keeps the weights of the
    epoch with the best validation (accuracy, then loss) on :func:`retained_val`, as Goel et al.
    and :func:`qiskit_unlearn.train.train` do; otherwise the last epoch's weights are kept.
    ``steps_per_epoch`` cuts each pass short (:func:`paired_steps`). Returns the step count
    and the chosen epoch.
    """
    val = retained_val(data) if select_best else data.val
    if select_best and len(val[1]) == 0:
        raise UnlearnError("best-epoch selection needs validation samples of the retained "
                           "classes, and there are none; give UnlearnData a larger val split")
    opt = make_optimizer(model, params)
    per_epoch = math.ceil(len(source[1]) / batch_size)
    if steps_per_epoch is not None:
        per_epoch = min(per_epoch, steps_per_epoch)
    step, best, best_state, best_epoch = 0, (-1.0, -math.inf), None, epochs
    for epoch in range(1, epochs + 1):
        model.train()
        running = 0.0
        for x, y in itertools.islice(batches(source, batch_size, data.seed, epoch), per_epoch):
            running += descend(opt, loss(x, y, step / (epochs * per_epoch)),
                               "the unlearning loss")
            step += 1
        log_epoch(model, data, epoch, loss=running / per_epoch)
        if select_best:
            score = evaluate(model, val)
            if (score["accuracy"], -score["loss"]) > best:
                best, best_epoch = (score["accuracy"], -score["loss"]), epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"steps": step, "best_epoch": best_epoch}
