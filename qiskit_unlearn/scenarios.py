"""Forget scenarios: a training split becomes (retain, forget) sets plus the teacher's data.

Kinds (registry :data:`SCENARIOS`, one signature each):

* ``subset``: a stratified random ``fraction`` of the training set;
* ``class``: every training sample of ``classes``;
* ``label-flip``: a stratified fraction ``alpha`` gets a *different* random label before
  training; the forget set is those poisoned samples;
* ``feature-poison``: a stratified fraction ``alpha`` gets its input replaced by a random vector
  (see :func:`random_inputs`); the forget set is those poisoned samples.

Membership-inference non-members come from the held-out pool only (never from the training set),
match the forget set's clean class counts where the pool allows it (so an attack cannot use the
class as a shortcut; for ``class`` this means the forgotten classes), and go through the same
corruption as the forget set (flipped labels, random inputs): members and non-members then come
from one distribution and differ only in having been trained on.

Every scenario works on arrays of any shape ``(N, ...)``, raw or preprocessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ArrayPair = tuple[np.ndarray, np.ndarray]
Corruption = Callable[[np.ndarray, np.ndarray, np.random.Generator], ArrayPair]


class ScenarioError(ValueError):
    """A scenario that cannot be built as asked; the message names the problem."""


@dataclass
class Scenario:
    """Training data of the teacher, its (retain, forget) split and held-out non-members.

    ``train_x`` / ``train_y`` are what the teacher is trained on (poison applied); ``clean_y``
    holds the original labels. ``retain_idx`` and ``forget_idx`` are sorted, disjoint and cover
    every training index. ``nonmember_idx`` indexes the held-out pool that ``nonmember_x`` /
    ``nonmember_y`` were drawn from (before the scenario's corruption).
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    clean_y: np.ndarray
    retain_idx: np.ndarray
    forget_idx: np.ndarray
    nonmember_x: np.ndarray
    nonmember_y: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    nonmember_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def retain(self) -> ArrayPair:
        return self.train_x[self.retain_idx], self.train_y[self.retain_idx]

    @property
    def forget(self) -> ArrayPair:
        """Forget samples with the labels the teacher saw (flipped ones for ``label-flip``)."""
        return self.train_x[self.forget_idx], self.train_y[self.forget_idx]


@dataclass(frozen=True)
class ScenarioParams:
    """Everything a scenario builder may use; each builder validates what it reads."""

    fraction: float
    classes: tuple[int, ...]
    alpha: float
    num_classes: int
    train_x: np.ndarray


@dataclass(frozen=True)
class Plan:
    """What a builder decides: the forget indices, an optional corruption and the name."""

    forget_idx: np.ndarray
    name: str
    corrupt: Corruption | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _check_fraction(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 < value < 1:
        raise ScenarioError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def stratified_sample(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``ceil(fraction * N)`` samples, stratified by class.

    The count is rounded up as scikit-learn's ``train_test_split`` does (the HQML study's 2 %
    of 120 Iris training samples is 3). Per-class counts follow the largest-remainder rule, so
    each class gets ``floor`` or ``ceil`` of its exact share (within one sample of its
    proportion); ties are broken at random.
    """
    classes, counts = np.unique(y, return_counts=True)
    total = max(1, math.ceil(fraction * len(y) - 1e-9))
    exact = total * counts / len(y)
    take = np.floor(exact).astype(int)
    remainder = exact - take
    order = np.lexsort((rng.random(len(classes)), -remainder))  # largest remainder first
    take[order[: total - take.sum()]] += 1
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False)
              for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def flip_labels(num_classes: int) -> Corruption:
    """A corruption giving each sample a uniformly random label different from its own."""

    def corrupt(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> ArrayPair:
        shift = rng.integers(1, num_classes, size=len(y))
        return x, ((y + shift) % num_classes).astype(y.dtype)

    return corrupt


def random_inputs(reference: np.ndarray) -> Corruption:
    """A corruption replacing each input by a random vector shaped and scaled like ``reference``.

    Each entry is uniform in the [min, max] range of that entry over the reference (training)
    inputs, so the poison stays a valid input of the same preprocessing: angles stay within their
    angle range, pixels within the pixel range. If every reference vector has unit L2 norm
    (amplitude-normalised data), the poison vectors are rescaled to unit norm as well.
    """
    flat = reference.reshape(len(reference), -1).astype(np.float64)
    low, high = flat.min(axis=0), flat.max(axis=0)
    unit_norm = bool(np.allclose(np.linalg.norm(flat, axis=1), 1.0, atol=1e-6))

    def corrupt(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> ArrayPair:
        noise = rng.uniform(low, high, size=(len(x), flat.shape[1]))
        if unit_norm:
            noise /= np.maximum(np.linalg.norm(noise, axis=1, keepdims=True), 1e-12)
        return noise.reshape(x.shape).astype(x.dtype), y

    return corrupt


def _subset(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    fraction = _check_fraction(p.fraction, "fraction")
    return Plan(stratified_sample(y, fraction, rng), f"subset-{fraction:g}",
                details={"fraction": fraction})


def _class(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    classes = list(p.classes)
    if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in classes):
        raise ScenarioError(f"classes must be integer labels, got {classes}")
    classes = [int(c) for c in classes]
    if not classes:
        raise ScenarioError("the class scenario needs at least one class to forget")
    if len(set(classes)) != len(classes):
        raise ScenarioError(f"classes {classes} list a class more than once")
    missing = sorted(set(classes) - set(np.unique(y).tolist()))
    if missing:
        raise ScenarioError(f"classes {missing} do not occur in the training data "
                            f"(present: {np.unique(y).tolist()})")
    forget = np.flatnonzero(np.isin(y, classes)).astype(np.int64)
    return Plan(forget, "class-" + "-".join(map(str, classes)), details={"classes": classes})


def _label_flip(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    alpha = _check_fraction(p.alpha, "alpha")
    if p.num_classes < 2:
        raise ScenarioError(f"label-flip needs at least 2 classes, got num_classes={p.num_classes}")
    return Plan(stratified_sample(y, alpha, rng), f"label-flip-{alpha:g}",
                flip_labels(p.num_classes), {"alpha": alpha})


def _feature_poison(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    alpha = _check_fraction(p.alpha, "alpha")
    return Plan(stratified_sample(y, alpha, rng), f"feature-poison-{alpha:g}",
                random_inputs(p.train_x), {"alpha": alpha})


SCENARIOS: dict[str, Callable[[np.ndarray, np.random.Generator, ScenarioParams], Plan]] = {
    "subset": _subset,
    "class": _class,
    "label-flip": _label_flip,
    "feature-poison": _feature_poison,
}


def _check_pair(data: tuple[np.ndarray, np.ndarray], name: str) -> ArrayPair:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ScenarioError(f"{name} must be an (x, y) pair of arrays")
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if x.ndim < 1 or y.ndim != 1 or len(x) != len(y):
        raise ScenarioError(f"{name} needs x of shape (N, ...) and y of shape (N,), got "
                            f"{x.shape} and {y.shape}")
    if len(y) and not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise ScenarioError(f"{name} labels must be integers")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise ScenarioError(f"{name} labels must be >= 0, got {int(y.min())}")
    return x, y


def _match_classes(pool_y: np.ndarray, wanted: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Sorted pool indices with the class counts of ``wanted`` (fewer where the pool runs out)."""
    picked = []
    for c, k in zip(*np.unique(wanted, return_counts=True), strict=True):
        pool = np.flatnonzero(pool_y == c)
        picked.append(rng.choice(pool, size=min(k, len(pool)), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.zeros(0, np.int64)


def make_scenario(
    kind: str,
    train: tuple[np.ndarray, np.ndarray],
    holdout: tuple[np.ndarray, np.ndarray],
    *,
    seed: int,
    fraction: float = 0.02,
    classes: Sequence[int] = (0,),
    alpha: float = 0.3,
    num_classes: int | None = None,
) -> Scenario:
    """Build a forget scenario from a training split and a held-out pool (e.g. the test split).

    Args:
        kind: one of :data:`SCENARIOS`.
        train: ``(x, y)`` training data, x of shape (N, ...), integer labels 0..C-1.
        holdout: ``(x, y)`` data never trained on; non-members are drawn from it.
        seed: seeds every random choice (same seed, same scenario).
        fraction: share of the training set forgotten by ``subset``.
        classes: classes forgotten by ``class``.
        alpha: share of the training set poisoned by ``label-flip`` / ``feature-poison``.
        num_classes: number of classes C; default ``max(label) + 1`` over train and holdout.
    """
    if kind not in SCENARIOS:
        raise ScenarioError(f"unknown scenario kind {kind!r}; choose one of {list(SCENARIOS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
    x, y = _check_pair(train, "train")
    hx, hy = _check_pair(holdout, "holdout")
    if len(y) < 2:
        raise ScenarioError(f"the training set needs at least 2 samples, got {len(y)}")
    if len(hy) == 0:
        raise ScenarioError("holdout is empty; membership-inference non-members need held-out "
                            "samples")
    if hx.shape[1:] != x.shape[1:]:
        raise ScenarioError(f"holdout inputs have shape {hx.shape[1:]} per sample but training "
                            f"inputs have {x.shape[1:]}")
    labels_max = int(max(y.max(), hy.max()))
    if num_classes is None:
        num_classes = labels_max + 1
    elif labels_max >= num_classes:
        raise ScenarioError(f"labels go up to {labels_max} but num_classes={num_classes}")
    classes = (classes,) if isinstance(classes, (int, np.integer)) else tuple(classes)
    rng = np.random.default_rng(int(seed))
    params = ScenarioParams(fraction, classes, alpha, int(num_classes), x)
    plan = SCENARIOS[kind](y, rng, params)

    forget = plan.forget_idx
    retain = np.setdiff1d(np.arange(len(y)), forget).astype(np.int64)
    if len(retain) == 0:
        raise ScenarioError(f"scenario {plan.name} would forget every training sample; the "
                            "retain set must not be empty")
    train_x, train_y = np.array(x), y.copy()
    nonmember = _match_classes(hy, y[forget], rng)
    nx, ny = np.array(hx[nonmember]), hy[nonmember].copy()
    if plan.corrupt is not None:
        train_x[forget], train_y[forget] = plan.corrupt(x[forget], y[forget], rng)
        nx, ny = plan.corrupt(nx, ny, rng)
    info = {"kind": kind, "seed": int(seed), **plan.details, "num_classes": int(num_classes),
            "num_train": len(y), "num_retain": len(retain), "num_forget": len(forget),
            "num_nonmembers": len(nonmember),
            "nonmember_shortfall": len(forget) - len(nonmember),
            "forget_class_counts": {int(c): int(k) for c, k in
                                    zip(*np.unique(y[forget], return_counts=True), strict=True)}}
    return Scenario(plan.name, train_x, train_y, y.copy(), retain, forget, nx, ny, info,
                    nonmember)
