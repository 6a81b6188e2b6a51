"""The unlearning contract: data a method may see, running a method and shared helpers.

Every method has one signature, ``fn(model, data, params) -> dict`` (the dict is extra info for
the run's manifest). ``model`` is a fresh copy of the teacher that the method changes in place;
``data`` holds retain, forget and validation data only, so no method can read the test split;
``params`` are the method's published defaults overridden by the caller and validated by name,
type and range before the method runs (:func:`resolve_params`; the registry and its rules live
in :mod:`qiskit_unlearn.unlearn.registry` and are re-exported here). :func:`unlearn` wraps a call:
it rejects empty retain or forget sets, copies the teacher, seeds torch, times the call and
returns the unlearned model with the info and a per-step curve.

Minibatching, the cross-entropy and best-epoch selection come from :mod:`qiskit_unlearn.train`,
so training and unlearning shuffle, score and select the same way; the steps methods are built
from (batching, pairing, descent, gradients, the epoch loop) are in
:mod:`qiskit_unlearn.unlearn.steps`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from qiskit_unlearn.train import (
    ArrayPair,
    BestEpoch,
    evaluate,
)
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
    may use; a method that selects on it should use ``retained_val`` (the validation
    samples of classes still in the retain set), because a forgotten class's samples reward
    not forgetting. ``curve`` receives one dict per logged step (see :meth:`log`).

    Attributes:
        retain: ``(x, y)`` training samples to keep, x of shape (N, ...), labels (N,).
        forget: ``(x, y)`` training samples to unlearn, with the labels the teacher saw.
        val: ``(x, y)`` validation split, for stopping and selection only.
        num_classes: the number of classes C (labels are 0..C-1).
        seed: seeds torch for the method's run and its own random choices.
        progress: show progress bars.
        curve: the logged steps of the current run (reset by :func:`unlearn`).
        stopper: the early-stopping rule of the current run, set by :func:`unlearn` when the
            method's ``early_stopping`` patience is > 0 (``None`` otherwise).
    """

    retain: ArrayPair
    forget: ArrayPair
    val: ArrayPair
    num_classes: int
    seed: int = 0
    progress: bool = False
    curve: list[dict[str, float]] = field(default_factory=list)
    stopper: EarlyStopping | None = None

    def log(self, step: int, **values: float) -> None:
        """Append one point to :attr:`curve`: ``{"step": step, **values}`` as floats.

        Args:
            step: the step (e.g. epoch) the values belong to.
            **values: the quantities to log at that step, e.g. ``forget_accuracy=0.4``.
        """
        self.curve.append({"step": float(step), **{k: float(v) for k, v in values.items()}})


class _Stop(Exception):
    """Raised by :meth:`EarlyStopping.update` to end a method's epoch loop (caught in
    :func:`unlearn`), so every method obeys early stopping without code of its own."""


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a strictly better accuracy on ``split`` and keep
    the best epoch's weights (the HQML study's ``train_with_es`` around every method).

    The first epoch is always the best so far: the teacher itself (epoch 0) is not a candidate,
    as in the study. The bookkeeping is :class:`~qiskit_unlearn.train.BestEpoch`'s.
    """

    patience: int
    split: ArrayPair
    epochs_run: int = 0
    best: BestEpoch = field(init=False)

    def __post_init__(self) -> None:
        self.best = BestEpoch((-math.inf,), self.patience)

    def update(self, model: nn.Module, epoch: int, accuracy: float | None = None) -> None:
        """Record the epoch's accuracy on ``split``; raise :class:`_Stop` when patience runs
        out. ``accuracy`` may be passed when the caller has just measured it on ``split``."""
        acc = evaluate(model, self.split)["accuracy"] if accuracy is None else accuracy
        self.epochs_run = epoch
        self.best.update(model, epoch, (acc,))
        if self.best.exhausted:
            raise _Stop

    def info(self) -> dict[str, Any]:
        return {"patience": self.patience, "best_epoch": self.best.epoch,
                "epochs_run": self.epochs_run, "best_accuracy": self.best.score[0]}


def clone_model(model: nn.Module, **overrides: Any) -> nn.Module:
    """A new model of the same architecture and backend with a copy of ``model``'s weights.

    Models are rebuilt from their ``spec`` (not deep-copied) because their quantum layers hold
    primitives and compiled simulators that do not copy safely. ``overrides`` change
    constructor arguments that do not change the weights' shapes, e.g. ``input_gradients=True``
    for methods that need gradients with respect to the inputs.

    Args:
        model: a model of :mod:`qiskit_unlearn.models` (one with a ``spec``).
        **overrides: constructor arguments to change in the copy.

    Returns:
        The copy, with ``model``'s weights loaded.

    Raises:
        UnlearnError: if ``model`` has no ``spec``.
    """
    from qiskit_unlearn.models import build_model

    spec = getattr(model, "spec", None)
    if not spec:
        raise UnlearnError("unlearning needs a model from qiskit_unlearn.models (with a spec)")
    twin = build_model(spec["kind"], **{**spec["kwargs"], **overrides})
    twin.load_state_dict(model.state_dict())
    return twin


def fresh_model(model: nn.Module, seed: int) -> nn.Module:
    """Same architecture as ``model``, newly initialised from ``seed`` (for retraining).

    Args:
        model: a model of :mod:`qiskit_unlearn.models` (one with a ``spec``).
        seed: the new model's initialisation seed.

    Returns:
        A freshly initialised model of the same kind and constructor arguments.
    """
    from qiskit_unlearn.models import build_model

    spec = model.spec
    return build_model(spec["kind"], **{**spec["kwargs"], "seed": int(seed)})


@dataclass
class UnlearnOutcome:
    """The unlearned model, the method's info, the logged curve and the wall time.

    Attributes:
        method: the method's registry name.
        model: the unlearned copy of the teacher (in eval mode, every parameter trainable).
        params: the hyperparameters the method ran with (defaults plus overrides).
        seconds: wall time of the method.
        info: what the method reports for the run's manifest, plus ``early_stopping`` (best
            epoch, epochs run) when early stopping was on.
        curve: the logged steps, one dict per step (see :meth:`UnlearnData.log`).
    """

    method: str
    model: nn.Module
    params: dict[str, Any]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)


def unlearn(method: str, teacher: nn.Module, data: UnlearnData,
            params: Mapping[str, Any] | None = None) -> UnlearnOutcome:
    """Run ``method`` on a copy of ``teacher`` (which is left untouched).

    The copy is changed in place by the method under a seeded torch generator (``data.seed``;
    the global random state is restored afterwards). With ``early_stopping`` > 0 the best
    epoch's weights are kept.

    Args:
        method: a registry name of :data:`METHODS`.
        teacher: the trained model, a model of :mod:`qiskit_unlearn.models`.
        data: the retain, forget and validation data (never the test split).
        params: hyperparameter overrides of the method's defaults; ``None`` for none.

    Returns:
        The unlearned model with its parameters, info, curve and wall time.

    Raises:
        UnlearnError: for an unknown method or hyperparameter, an invalid value, an empty
            retain or forget set, or (when early stopping is on) no selection samples.
    """
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
            data.stopper.best.restore(model)
            info = {**info, "early_stopping": data.stopper.info()}
    finally:
        data.stopper = None
    seconds = time.perf_counter() - start
    model.eval()
    if hasattr(model, "unfreeze"):
        model.unfreeze()
    return UnlearnOutcome(method, model, resolved, seconds, info, list(data.curve))


def val_of_classes(data: UnlearnData, labels: np.ndarray) -> ArrayPair:
    """The validation samples whose class occurs in ``labels``."""
    x, y = data.val
    keep = np.isin(np.asarray(y), np.unique(np.asarray(labels)))
    return np.asarray(x)[keep], np.asarray(y)[keep]


def retained_val(data: UnlearnData) -> ArrayPair:
    """Validation samples of the classes the retain set contains, for model selection.

    When whole classes are forgotten, their validation samples can only be right for a model
    that still remembers them, so selecting on all of ``val`` would reward not forgetting.
    For subset scenarios (every class retained) this is all of ``val``.
    """
    return val_of_classes(data, data.retain[1])


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
