"""Forget scenarios: a training split becomes (retain, forget) sets plus the teacher's data.

Kinds (registry :data:`SCENARIOS`; each entry owns its parameters, their rules and how its
scenarios are named, so a new kind is one registration here):

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qiskit_unlearn.errors import ConfigError
from qiskit_unlearn.registry import Registry
from qiskit_unlearn.schema import Field, check_value, fraction, int_list

__all__ = ["SCENARIOS", "Plan", "Scenario", "ScenarioError", "ScenarioKind", "ScenarioParams",
           "flip_labels", "make_scenario", "random_inputs", "register_scenario",
           "stratified_sample"]

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

    Attributes:
        name: the scenario's name, e.g. ``subset-0.02`` or ``class-0``.
        train_x: training inputs the teacher sees, shape (N, ...), poison applied.
        train_y: training labels the teacher sees, shape (N,), flipped ones included.
        clean_y: the original training labels, shape (N,).
        retain_idx: sorted indices into the training set of the samples to keep.
        forget_idx: sorted indices into the training set of the samples to forget.
        nonmember_x: held-out inputs used as membership-inference non-members, shape (M, ...),
            corrupted like the forget set.
        nonmember_y: their labels, shape (M,), corrupted like the forget set.
        info: what the scenario did: kind, seed, its parameters, set sizes, the non-member
            shortfall and the forget set's class counts.
        nonmember_idx: sorted indices into the held-out pool of the non-members.
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
        """Retain samples ``(x, y)`` with the labels the teacher saw."""
        return self.train_x[self.retain_idx], self.train_y[self.retain_idx]

    @property
    def forget(self) -> ArrayPair:
        """Forget samples with the labels the teacher saw (flipped ones for ``label-flip``)."""
        return self.train_x[self.forget_idx], self.train_y[self.forget_idx]


@dataclass(frozen=True)
class ScenarioParams:
    """What a planner may use: the kind's checked parameter values, the class count and the
    training inputs.

    Attributes:
        values: the kind's parameters, checked and with defaults filled in.
        num_classes: the number of classes C.
        train_x: the clean training inputs, shape (N, ...).
    """

    values: Mapping[str, Any]
    num_classes: int
    train_x: np.ndarray


@dataclass(frozen=True)
class Plan:
    """What a planner decides: the forget indices, an optional corruption, the details.

    Attributes:
        forget_idx: sorted training indices of the forget set.
        corrupt: applied to the forget samples before training and to the non-members
            (``corrupt(x, y, rng) -> (x, y)``, e.g. :func:`flip_labels`); ``None`` for none.
        details: entries for the scenario's ``info`` (e.g. ``{"alpha": 0.3}``).
    """

    forget_idx: np.ndarray
    corrupt: Corruption | None = None
    details: dict[str, Any] = field(default_factory=dict)


Planner = Callable[[np.ndarray, np.random.Generator, ScenarioParams], Plan]


@dataclass(frozen=True)
class ScenarioKind:
    """A registered scenario kind: its planner, its parameters (the ``[[scenario]]`` keys, with
    defaults and rules) and the default name of a scenario from its values.

    Attributes:
        name: the kind's registry name, e.g. ``label-flip``.
        planner: ``planner(y, rng, params) -> Plan``: picks the forget set (and corruption)
            from the training labels, a seeded generator and a :class:`ScenarioParams`.
        params: the kind's parameters by name, each a ``Field`` with its default and rule.
        label: makes a scenario's name from its checked parameter values.
        summary: one line describing the kind (the planner docstring's first line).
    """

    name: str
    planner: Planner
    params: Mapping[str, Field]
    label: Callable[[Mapping[str, Any]], str]
    summary: str

    def check(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's parameters with defaults filled in.

        Args:
            values: parameter values by name (a subset of :attr:`params`); NumPy scalars and
                tuples are accepted.

        Returns:
            Every parameter of the kind, checked, with defaults for those not given.

        Raises:
            ScenarioError: for an unknown parameter or an invalid value, naming the parameter
                and its rule.
        """
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ScenarioError(f"scenario kind {self.name!r} takes no parameter(s) "
                                f"{', '.join(unknown)}; its parameters: "
                                f"{', '.join(sorted(self.params)) or 'none'}")
        out = {}
        for key, spec in self.params.items():
            try:
                out[key] = check_value(key, _plain(values[key]), spec) if key in values \
                    else spec.default
            except ConfigError as exc:
                raise ScenarioError(str(exc)) from None
        return out


#: The scenario kinds by name (``subset``, ``class``, ``label-flip``, ``feature-poison``);
#: an unknown name raises :class:`ScenarioError`.
SCENARIOS: Registry[ScenarioKind] = Registry("scenario kind", ScenarioError)


def register_scenario(name: str, *, params: Mapping[str, Field],
                      label: Callable[[Mapping[str, Any]], str]
                      ) -> Callable[[Planner], Planner]:
    """Decorator registering a planner as a scenario kind in :data:`SCENARIOS`.

    The planner's docstring's first line becomes the kind's summary.

    Args:
        name: the kind's registry name (the ``kind`` of ``[[scenario]]`` and
            :func:`make_scenario`).
        params: the kind's parameters by name, each a ``Field`` with its default and rule.
        label: makes a scenario's default name from its checked parameter values.

    Returns:
        The decorator, which registers the planner and returns it unchanged.
    """

    def wrap(planner: Planner) -> Planner:
        summary = (planner.__doc__ or "").strip().split("\n")[0]
        SCENARIOS.add(name, ScenarioKind(name, planner, dict(params), label, summary))
        return planner

    return wrap


def _plain(value: Any) -> Any:
    """NumPy scalars and tuples as the plain values the schema checks."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value


FRACTION = Field((float,), 0.02, check=fraction, rule="between 0 and 1")
ALPHA = Field((float,), 0.3, check=fraction, rule="between 0 and 1")
CLASSES = Field((list,), [0], check=lambda v: bool(v) and int_list(v),
                rule="a non-empty list of class labels")


def stratified_sample(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``ceil(fraction * N)`` samples, stratified by class.

    The count is rounded up as scikit-learn's ``train_test_split`` does (the HQML study's 2 %
    of 120 Iris training samples is 3). Per-class counts follow the largest-remainder rule, so
    each class gets ``floor`` or ``ceil`` of its exact share (within one sample of its
    proportion); ties are broken at random.

    Args:
        y: integer class labels, shape (N,).
        fraction: share of the samples to pick, in [0, 1]; at least one sample is picked.
        rng: the generator of every random choice.

    Returns:
        Sorted int64 indices into ``y``.
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
    """A corruption giving each sample a uniformly random label different from its own.

    Args:
        num_classes: the number of classes C (labels are 0..C-1); at least 2.

    Returns:
        ``corrupt(x, y, rng) -> (x, flipped y)``; the inputs pass unchanged.
    """

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

    Args:
        reference: the training inputs, shape (N, ...), whose per-entry ranges the poison
            follows.

    Returns:
        ``corrupt(x, y, rng) -> (random x, y)``; the labels pass unchanged.
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


@register_scenario("subset", params={"fraction": FRACTION},
                   label=lambda v: f"subset-{v['fraction']:g}")
def _subset(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    """A stratified random ``fraction`` of the training set."""
    fraction = p.values["fraction"]
    return Plan(stratified_sample(y, fraction, rng), details={"fraction": fraction})


@register_scenario("class", params={"classes": CLASSES},
                   label=lambda v: "class-" + "-".join(map(str, v["classes"])))
def _class(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    """Every training sample of ``classes``."""
    classes = [int(c) for c in p.values["classes"]]
    if len(set(classes)) != len(classes):
        raise ScenarioError(f"classes {classes} list a class more than once")
    missing = sorted(set(classes) - set(np.unique(y).tolist()))
    if missing:
        raise ScenarioError(f"classes {missing} do not occur in the training data "
                            f"(present: {np.unique(y).tolist()})")
    forget = np.flatnonzero(np.isin(y, classes)).astype(np.int64)
    return Plan(forget, details={"classes": classes})


@register_scenario("label-flip", params={"alpha": ALPHA},
                   label=lambda v: f"label-flip-{v['alpha']:g}")
def _label_flip(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    """A stratified fraction ``alpha`` relabelled to another random class before training."""
    alpha = p.values["alpha"]
    if p.num_classes < 2:
        raise ScenarioError(f"label-flip needs at least 2 classes, got num_classes={p.num_classes}")
    return Plan(stratified_sample(y, alpha, rng), flip_labels(p.num_classes), {"alpha": alpha})


@register_scenario("feature-poison", params={"alpha": ALPHA},
                   label=lambda v: f"feature-poison-{v['alpha']:g}")
def _feature_poison(y: np.ndarray, rng: np.random.Generator, p: ScenarioParams) -> Plan:
    """A stratified fraction ``alpha`` whose inputs are replaced by random vectors."""
    alpha = p.values["alpha"]
    return Plan(stratified_sample(y, alpha, rng), random_inputs(p.train_x), {"alpha": alpha})


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
    num_classes: int | None = None,
    **params: Any,
) -> Scenario:
    """Build a forget scenario from a training split and a held-out pool (e.g. the test split).

    Args:
        kind: one of :data:`SCENARIOS`.
        train: ``(x, y)`` training data, x of shape (N, ...), integer labels 0..C-1.
        holdout: ``(x, y)`` data never trained on; non-members are drawn from it.
        seed: seeds every random choice (same seed, same scenario).
        num_classes: number of classes C; default ``max(label) + 1`` over train and holdout.
        params: the kind's parameters (defaults from its registry entry): ``fraction`` of
            the training set forgotten by ``subset``, the ``classes`` forgotten by ``class``,
            the share ``alpha`` poisoned by ``label-flip`` / ``feature-poison``.

    Returns:
        The scenario, named from its parameters (e.g. ``label-flip-0.3``).

    Raises:
        ScenarioError: for an unknown kind or parameter, an invalid value or seed, malformed
            or mismatched data, labels beyond ``num_classes``, an empty holdout, or a plan
            that would forget every training sample.
    """
    entry = SCENARIOS.lookup(kind)
    if "classes" in params and isinstance(params["classes"], (int, np.integer)):
        params = {**params, "classes": [params["classes"]]}
    values = entry.check(params)
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
    rng = np.random.default_rng(int(seed))
    plan = entry.planner(y, rng, ScenarioParams(values, int(num_classes), x))
    name = entry.label(values)

    forget = plan.forget_idx
    retain = np.setdiff1d(np.arange(len(y)), forget).astype(np.int64)
    if len(retain) == 0:
        raise ScenarioError(f"scenario {name} would forget every training sample; the "
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
    return Scenario(name, train_x, train_y, y.copy(), retain, forget, nx, ny, info,
                    nonmember)
