"""Training with validation-based model selection, atomic checkpoints and exact resume.

Model selection and early stopping look only at the validation split (never the test split).
The shuffling order of every epoch comes from a generator seeded by ``(seed, epoch)``, and the
checkpoint holds model, optimizer and best-so-far state, so a run killed after epoch ``e`` and
resumed gives the same final weights as one that was never interrupted. It also holds the
training's cost so far (wall time, circuit evaluations), so a resumed training reports what an
uninterrupted one would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from qiskit_unlearn.models.base import CircuitCounter
from qiskit_unlearn.storage import load_torch, save_torch

__all__ = ["BestEpoch", "TrainConfig", "TrainResult", "as_tensors", "batches", "clone_state",
           "cross_entropy", "evaluate", "load_checkpoint", "predict_logits", "save_checkpoint",
           "train"]

ArrayPair = tuple[np.ndarray, np.ndarray]
Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainConfig:
    """Optimiser and stopping settings (all seeded and recorded in checkpoints).

    Attributes:
        epochs: maximum number of epochs, at least 1.
        lr: Adam learning rate, > 0.
        batch_size: samples per minibatch, at least 1.
        patience: stop after this many epochs without a better validation score; ``None``
            trains for all ``epochs``.
        weight_decay: Adam's L2 penalty (0 = none).
        seed: seeds torch and every epoch's shuffling order.

    Raises:
        ValueError: if a setting is out of its range.
    """

    epochs: int = 30
    lr: float = 0.01
    batch_size: int = 32
    patience: int | None = 10
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 (or omitted), got {self.patience}")


@dataclass
class TrainResult:
    """What :func:`train` did: the selected epoch, its score, the history and the cost.

    Attributes:
        best_epoch: the epoch whose weights the model ends with (1-based; 0 = the initial
            weights, kept when no epoch scored better than the start).
        best_val_accuracy: that epoch's validation accuracy.
        epochs_run: epochs in ``history`` (the ones before a resume included).
        seconds: wall time of all epochs, the ones before a resume included.
        history: one row per epoch: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_accuracy``.
        resumed_from_epoch: the last epoch read from the checkpoint (0 = a fresh start).
        circuit_evaluations: circuit evaluations of all epochs, the ones before a resume
            included (see :class:`qiskit_unlearn.models.CircuitCounter`; 0 for classical
            models).
    """

    best_epoch: int
    best_val_accuracy: float
    epochs_run: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int = 0
    circuit_evaluations: int = 0


def as_tensors(data: ArrayPair) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` as tensors: float32 inputs and int64 (``long``) labels.

    Args:
        data: ``(x, y)`` arrays (or anything ``np.asarray`` takes), x of shape (N, ...) and y
            of shape (N,).

    Returns:
        The float32 input tensor and the int64 label tensor.
    """
    x, y = data
    return torch.as_tensor(np.asarray(x), dtype=torch.float32), torch.as_tensor(
        np.asarray(y), dtype=torch.long)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: np.ndarray | torch.Tensor,
                   batch_size: int = 256) -> torch.Tensor:
    """Logits for ``x`` in evaluation mode, in batches (QNN backends prefer bounded batches).

    Runs without gradients and leaves the model in evaluation mode.

    Args:
        model: the classifier.
        x: inputs of shape (N, ...); numpy arrays are cast to float32.
        batch_size: samples per forward pass.

    Returns:
        Float32 logits of shape (N, num_classes); shape (0, 0) when ``x`` is empty.
    """
    model.eval()
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32) if not isinstance(
        x, torch.Tensor) else x
    if len(xt) == 0:
        return torch.empty((0, 0))
    return torch.cat([model(xt[i:i + batch_size]).float() for i in range(0, len(xt), batch_size)])


def evaluate(model: torch.nn.Module, data: ArrayPair) -> dict[str, float]:
    """Cross-entropy loss and accuracy on ``(x, y)``.

    Args:
        model: the classifier (left in evaluation mode).
        data: ``(x, y)`` arrays, x of shape (N, ...) and integer labels of shape (N,).

    Returns:
        ``{"loss": mean cross-entropy, "accuracy": fraction correct}``; both NaN for empty
        data.
    """
    x, y = as_tensors(data)
    if len(x) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    logits = predict_logits(model, x)
    return {"loss": torch.nn.functional.cross_entropy(logits, y).item(),
            "accuracy": (logits.argmax(1) == y).float().mean().item()}


def save_checkpoint(obj: dict[str, Any], path: Path) -> str:
    """Write ``obj`` with ``torch.save`` atomically (temporary file + rename): a killed process
    never leaves a half-written checkpoint that a later run would trust.

    Args:
        obj: the checkpoint: tensors and plain containers (what :func:`load_checkpoint` reads).
        path: where to write it.

    Returns:
        The SHA-256 hex digest of the written file.
    """
    return save_torch(obj, path)


def load_checkpoint(path: Path, *, fix: str = "delete it to start over",
                    sha256: str | None = None) -> dict[str, Any]:
    """Load a checkpoint safely (tensors and plain containers only).

    Args:
        path: the checkpoint file.
        fix: what the error message tells the user to do about a bad file.
        sha256: the expected SHA-256 hex digest; ``None`` skips the check.

    Returns:
        The saved object.

    Raises:
        FileError: (``qiskit_unlearn.storage.FileError``) if the file is missing, truncated,
            damaged or does not match ``sha256``; the message names it and ``fix``.
    """
    return load_torch(path, fix=fix, sha256=sha256)


def clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s weights (a best epoch or a rewind point to go back to).

    Args:
        model: the model whose ``state_dict`` is copied.

    Returns:
        The state dict with every tensor detached and cloned.
    """
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def cross_entropy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``model`` on one minibatch (outputs cast to float32 first).

    Args:
        model: the classifier.
        x: a batch of inputs, shape (batch, ...).
        y: integer labels, shape (batch,).

    Returns:
        The scalar loss, differentiable with respect to the model's parameters.
    """
    return torch.nn.functional.cross_entropy(model(x).float(), y)


def batches(data: ArrayPair, batch_size: int, seed: int, epoch: int,
            shuffle: bool = True) -> Iterator[Batch]:
    """Minibatches of ``data`` in a seeded order that depends on ``(seed, epoch)`` only, so an
    epoch's order is the same after a resume (training and every unlearning method).

    Args:
        data: ``(x, y)`` arrays, x of shape (N, ...) and integer labels of shape (N,).
        batch_size: samples per batch (the last batch may be smaller).
        seed: the run's seed.
        epoch: the epoch number; with ``seed`` it fixes the order.
        shuffle: shuffle (True) or keep the data order (False).

    Yields:
        ``(x, y)`` tensor batches: float32 inputs and int64 labels; nothing for empty data.
    """
    x, y = as_tensors(data)
    n = len(x)
    if n == 0:
        return
    order = torch.randperm(n, generator=torch.Generator().manual_seed(
        seed * 100_003 + epoch)) if shuffle else torch.arange(n)
    for i in range(0, n, max(1, batch_size)):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


@dataclass
class BestEpoch:
    """The best epoch so far by a validation score, its weights and the epochs since it.

    The one rule behind model selection and patience: :func:`train`, best-epoch unlearning and
    early stopping around unlearning methods all keep it. ``score`` compares as a tuple and only
    a strictly better one wins, so a tie keeps the earlier epoch; start from a score every real
    one beats. ``epoch`` 0 and ``state`` (None = keep the last weights) describe the start.

    Attributes:
        score: the best score so far (compared as a tuple, e.g. (accuracy, −loss)).
        patience: epochs without improvement after which :attr:`exhausted` is true; ``None``
            never.
        epoch: the best epoch so far (0 = the start).
        state: a copy of the best epoch's weights, or ``None`` to keep the last weights.
        stale: epochs since the best one.
    """

    score: tuple[float, ...]
    patience: int | None = None
    epoch: int = 0
    state: dict[str, torch.Tensor] | None = None
    stale: int = 0

    def update(self, model: torch.nn.Module, epoch: int, score: tuple[float, ...]) -> bool:
        """Record ``epoch``'s score and keep the weights if it is the best so far.

        Args:
            model: the model after the epoch; its weights are copied if the score wins.
            epoch: the epoch number.
            score: the epoch's score; only a strictly greater tuple wins.

        Returns:
            True if the epoch is the new best.
        """
        if score > self.score:
            self.score, self.epoch, self.stale = score, epoch, 0
            self.state = clone_state(model)
            return True
        self.stale += 1
        return False

    @property
    def exhausted(self) -> bool:
        """``patience`` epochs in a row brought no better score (never without patience)."""
        return self.patience is not None and self.stale >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (if one was kept).

        Args:
            model: the model to load them into (of the same architecture).
        """
        if self.state is not None:
            model.load_state_dict(self.state)


def train(
    model: torch.nn.Module,
    train_data: ArrayPair,
    val_data: ArrayPair,
    config: TrainConfig,
    *,
    checkpoint: Path | None = None,
    progress: bool = True,
    description: str = "training",
    stop_after: int | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    fingerprint: str = "",
) -> TrainResult:
    """Train with Adam, keep the weights of the best validation epoch, stop early on patience.

    The best epoch has the highest validation accuracy, ties broken by the lower validation
    loss. The model ends with its best weights.

    Args:
        model: the classifier, trained in place.
        train_data: ``(x, y)`` training arrays; must not be empty.
        val_data: ``(x, y)`` validation arrays for model selection and early stopping.
        config: optimiser and stopping settings.
        checkpoint: written atomically after every epoch and resumed from if present (it must
            come from the same configuration and the same ``fingerprint``); ``None`` for none.
        progress: show a progress bar.
        description: the progress bar's label.
        stop_after: stop after that many epochs *of this call* (used to simulate an
            interrupted run in tests); ``None`` for no limit.
        on_epoch: called with each epoch's history row as it finishes.
        fingerprint: a caller's digest of the model spec and data, stored in the checkpoint,
            so a checkpoint of another model or data set is never resumed silently.

    Returns:
        The best epoch, its validation accuracy, the history, wall time and circuit
        evaluations (including those before a resume).

    Raises:
        ValueError: if the training set is empty or the checkpoint was written for another
            run.
        FileError: (``qiskit_unlearn.storage.FileError``) if the checkpoint is damaged.
    """
    n = len(train_data[0])
    if n == 0:
        raise ValueError("training set is empty")
    torch.manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict[str, float]] = []
    best = BestEpoch((-1.0, -math.inf), config.patience, state=clone_state(model))
    start_epoch, elapsed, evaluations = 1, 0.0, 0
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint, fix="delete it to restart this model's training "
                                                "from scratch (or use another output folder)")
        if state["config"] != asdict(config) or state.get("fingerprint", "") != fingerprint:
            changed = [f"{k}: {state['config'].get(k)!r} -> {v!r}"
                       for k, v in asdict(config).items() if state["config"].get(k) != v]
            raise ValueError(
                f"checkpoint {checkpoint} was written for another training run ("
                f"{'; '.join(changed) or 'another model, data set or selection split'}); "
                "delete it or use another output directory")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, saved = state["history"], state["best"]
        best = BestEpoch((saved["val_accuracy"], -saved["val_loss"]), config.patience,
                         saved["epoch"], state["best_model"],
                         stale=sum(1 for h in history if h["epoch"] > saved["epoch"]))
        start_epoch, elapsed = state["epoch"] + 1, state["seconds"]
        evaluations = int(state.get("circuit_evaluations", 0))
    resumed_from = start_epoch - 1
    started = time.perf_counter()
    epochs = range(start_epoch, config.epochs + 1)
    bar = tqdm(epochs, desc=description, disable=not progress, leave=False)
    with CircuitCounter() as counter:  # checkpoints carry the cost so far, resumes add to it
        for done, epoch in enumerate(bar, start=1):
            if best.exhausted:
                break
            model.train()
            total = 0.0
            for x, y in batches(train_data, config.batch_size, config.seed, epoch):
                opt.zero_grad()
                loss = cross_entropy(model, x, y)
                loss.backward()
                opt.step()
                total += loss.item() * len(x)
            val = evaluate(model, val_data)
            row = {"epoch": epoch, "train_loss": total / n, "val_loss": val["loss"],
                   "val_accuracy": val["accuracy"]}
            history.append(row)
            if on_epoch is not None:
                on_epoch(row)
            best.update(model, epoch, (val["accuracy"], -val["loss"]))
            bar.set_postfix(val_acc=f"{val['accuracy']:.3f}", best=best.epoch)
            if checkpoint is not None:
                save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                 "best_model": best.state,
                                 "best": {"epoch": best.epoch, "val_accuracy": best.score[0],
                                          "val_loss": -best.score[1]}, "history": history,
                                 "epoch": epoch, "config": asdict(config),
                                 "fingerprint": fingerprint,
                                 "seconds": elapsed + time.perf_counter() - started,
                                 "circuit_evaluations": evaluations + counter.total},
                                checkpoint)
            if stop_after is not None and done >= stop_after:
                break
    best.restore(model)
    return TrainResult(best_epoch=best.epoch, best_val_accuracy=best.score[0],
                       epochs_run=len(history), seconds=elapsed + time.perf_counter() - started,
                       history=history, resumed_from_epoch=resumed_from,
                       circuit_evaluations=evaluations + counter.total)
