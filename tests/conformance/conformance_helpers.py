"""Shared pieces of the conformance suite: tiny model specs, tiny data and cached method runs.

Every registry is read through its public name and iterated at collection time, so an entry
registered later is picked up without editing the suite. What cannot be derived from a registry
(the constructor arguments of a tiny model, the input shape a kind expects) lives in the tables
below; a registered entry missing from a table fails a dedicated test that says what to add.

Imported as ``from conformance_helpers import ...`` (a unique module name: test folders have no
``__init__.py`` and several have a ``conftest.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.models import MODELS, UnlearnableModel, build_model
from qiskit_unlearn.train import TrainConfig, train
from qiskit_unlearn.unlearn import METHODS, UnlearnData, UnlearnOutcome, resolve_params, unlearn

SEED = 0
#: Test rows are the training distribution shifted by this constant in every input entry, so a
#: test row is at L-infinity distance >= ``TEST_SHIFT - spread`` from any row a method may see.
TEST_SHIFT = 10.0
ArrayPair = tuple[np.ndarray, np.ndarray]


# --- model kinds --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TinyModel:
    """Constructor arguments of a tiny model of one kind and the shape of one input row."""

    kwargs: Mapping[str, Any]
    input_shape: tuple[int, ...]
    #: Half-width of the box inputs are drawn from (angles stay well inside (-pi, pi)).
    scale: float = 1.0

    @property
    def num_classes(self) -> int:
        return int(self.kwargs["num_classes"])


#: One tiny, fast spec per registered model kind (2 qubits, 1 layer, 4x4 images).
TINY_MODELS: dict[str, TinyModel] = {
    "mlp": TinyModel({"input_dim": 4, "num_classes": 3, "hidden": [6]}, (4,)),
    "hybrid-pca": TinyModel({"num_qubits": 2, "num_classes": 3, "layers": 1, "head_hidden": 4},
                            (2,), scale=1.5),
    "vqc-amplitude": TinyModel({"num_qubits": 2, "num_classes": 2, "layers": 1}, (3,),
                               scale=1.5),
    "hybrid-cnn": TinyModel({"num_qubits": 2, "num_classes": 3, "layers": 1, "head_hidden": 4,
                             "image_shape": [1, 4, 4], "channels": [2]}, (1, 4, 4)),
}


def model_kinds() -> list[str]:
    return sorted(MODELS)


def tiny_spec(kind: str) -> TinyModel:
    if kind not in TINY_MODELS:
        raise LookupError(f"model kind {kind!r} is registered but the conformance suite has no "
                          "tiny spec for it: add one to TINY_MODELS in "
                          "tests/conformance/conformance_helpers.py")
    return TINY_MODELS[kind]


def tiny_model(kind: str, seed: int = SEED, **overrides: Any) -> UnlearnableModel:
    return build_model(kind, **{**tiny_spec(kind).kwargs, "seed": seed, **overrides})


def tiny_inputs(kind: str, n: int, seed: int) -> np.ndarray:
    spec = tiny_spec(kind)
    rng = np.random.default_rng(seed)
    return rng.uniform(-spec.scale, spec.scale, size=(n, *spec.input_shape)).astype(np.float32)


# --- unlearning data ----------------------------------------------------------------------------

@dataclass
class Splits:
    retain: ArrayPair
    forget: ArrayPair
    val: ArrayPair
    test: ArrayPair
    num_classes: int

    def unlearn_data(self) -> UnlearnData:
        """What a method may see: retain, forget and validation data only (never ``test``)."""
        return UnlearnData(self.retain, self.forget, self.val, self.num_classes, seed=SEED)

    def allowed_rows(self) -> np.ndarray:
        return flat(np.concatenate([self.retain[0], self.forget[0], self.val[0]]))


def flat(x: Any) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return arr.reshape(len(arr), -1).astype(np.float64)


def _labelled(kind: str, n: int, seed: int, offset: int = 0) -> ArrayPair:
    """``n`` rows whose class shifts the inputs a little (so a teacher has something to learn)."""
    spec = tiny_spec(kind)
    y = ((np.arange(n) + offset) % spec.num_classes).astype(np.int64)
    x = tiny_inputs(kind, n, seed)
    shift = 0.3 * spec.scale * (y - (spec.num_classes - 1) / 2)
    x = np.clip(x + shift.reshape(-1, *([1] * len(spec.input_shape))), -spec.scale, spec.scale)
    return x.astype(np.float32), y


@functools.cache
def splits(kind: str, variant: str = "default") -> Splits:
    """12 retain, 6 forget (every class), 6 validation rows; 6 test rows shifted far away.

    ``variant="class"``: the same rows, but the forget set is every row of class 0 (so the
    retain set has no class 0 at all, as in a class-forgetting scenario).
    """
    retain = _labelled(kind, 12, seed=1)
    forget = _labelled(kind, 6, seed=2, offset=1)
    val = _labelled(kind, 6, seed=3, offset=2)
    test_x, test_y = _labelled(kind, 6, seed=4)
    if variant == "class":
        x = np.concatenate([retain[0], forget[0]])
        y = np.concatenate([retain[1], forget[1]])
        retain, forget = (x[y != 0], y[y != 0]), (x[y == 0], y[y == 0])
    elif variant != "default":
        raise ValueError(f"unknown data variant {variant!r}")
    return Splits(retain, forget, val, ((test_x + TEST_SHIFT).astype(np.float32), test_y),
                  tiny_spec(kind).num_classes)


@functools.cache
def _teacher_state(kind: str) -> dict[str, torch.Tensor]:
    """A tiny model trained two epochs on retain + forget (so it differs from its seeded init:
    a method that rebuilt the teacher from its spec instead of copying it would be visible)."""
    data = splits(kind)
    model = tiny_model(kind)
    train_x = np.concatenate([data.retain[0], data.forget[0]])
    train_y = np.concatenate([data.retain[1], data.forget[1]])
    train(model, (train_x, train_y), data.val,
          TrainConfig(epochs=2, lr=0.05, batch_size=8, patience=None, seed=SEED),
          progress=False)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def teacher(kind: str) -> UnlearnableModel:
    """A fresh copy of the cached trained teacher of ``kind``."""
    model = tiny_model(kind)
    model.load_state_dict(_teacher_state(kind))
    model.eval()
    return model


# --- methods ------------------------------------------------------------------------------------

#: Budget overrides applied to every method that has the hyperparameter (1 epoch, small batches).
FAST = {"epochs": 1, "msteps": 1, "patience": 0, "fisher_samples": 4, "batch_size": 8,
        "forget_batch_size": 8}
#: Hyperparameters that license showing the model perturbed copies of *forget* rows, within
#: L-infinity distance of the value (FGSM in adv-uniform). Anything else must be a data row.
PERTURBATION_BUDGETS = ("eps",)


def method_names() -> list[str]:
    return sorted(METHODS)


def fast_params(name: str, variant: str = "default") -> dict[str, Any]:
    """The fast budget; ``variant="study"`` applies the method's HQML-study settings first
    (the ``faithful`` / ``hqml`` code paths), then the fast budget."""
    entry = METHODS[name]
    study = dict(entry.study) if variant == "study" else {}
    return {**study, **{k: v for k, v in FAST.items() if k in entry.defaults}}


#: Configurations the contracts run in: (data variant, parameter variant).
VARIANTS = {"default": ("default", "default"), "class": ("class", "default"),
            "study": ("default", "study")}


@dataclass
class MethodRun:
    """One call of a method on a fresh teacher copy, with everything the contracts look at."""

    outcome: UnlearnOutcome
    teacher: UnlearnableModel
    state_before: dict[str, torch.Tensor]
    grad_flags_before: list[bool]
    training_before: bool
    seen: list[np.ndarray] = field(default_factory=list)
    #: the data arrays after the call differ from before it (names of those that changed)
    data_changed: list[str] = field(default_factory=list)
    #: the caller's global random states changed (torch / numpy)
    rng_changed: list[str] = field(default_factory=list)


@contextmanager
def recording_inputs(rows: list[np.ndarray]) -> Iterator[None]:
    """Record the input of every forward pass of any toolkit model (the teacher's copies,
    rebuilt twins, fresh models and frozen distillation teachers alike)."""

    def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if isinstance(module, UnlearnableModel) and args:
            rows.append(flat(args[0]))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _random_states() -> dict[str, np.ndarray]:
    """The caller's global torch and numpy generator states, as comparable arrays."""
    _, keys, pos, gauss, cached = np.random.get_state()
    return {"torch": torch.random.get_rng_state().numpy().copy(),
            "numpy": np.concatenate([np.asarray(keys, np.float64), [pos, gauss, cached]])}


def run_method(name: str, kind: str, variant: str = "default",
               extra: Mapping[str, Any] | None = None) -> MethodRun:
    data_variant, param_variant = VARIANTS[variant]
    model = teacher(kind)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    seen: list[np.ndarray] = []
    params = {**fast_params(name, param_variant), **(extra or {})}
    data = splits(kind, data_variant).unlearn_data()
    arrays = {(split, i): np.array(getattr(data, split)[i], copy=True)
              for split in ("retain", "forget", "val") for i in (0, 1)}
    rngs = _random_states()
    with recording_inputs(seen):
        outcome = unlearn(name, model, data, params)
    changed = [f"{split}[{i}]" for (split, i), value in arrays.items()
               if not np.array_equal(np.asarray(getattr(data, split)[i]), value)]
    after = _random_states()
    rng_changed = [k for k in rngs if not np.array_equal(rngs[k], after[k])]
    return MethodRun(outcome, model, before, flags, model.training, seen, changed, rng_changed)


@functools.cache
def cached_run(name: str, kind: str, variant: str = "default", repeat: int = 0) -> MethodRun:
    """``repeat`` distinguishes the second, independent call of the determinism contract."""
    return run_method(name, kind, variant)


def state_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys whose tensors differ (or exist on one side only)."""
    keys = sorted(set(a) | set(b))
    return [k for k in keys if k not in a or k not in b or a[k].shape != b[k].shape
            or a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])]


def numpy_json(value: Any) -> Any:
    """``json.dumps`` default that accepts numpy values (as the run manifest does) and
    nothing else, so an object that would silently become a string is caught."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def to_json(value: Any) -> str:
    return json.dumps(value, default=numpy_json, sort_keys=True)


def resolved(name: str, variant: str = "default") -> dict[str, Any]:
    return resolve_params(name, fast_params(name, VARIANTS[variant][1]))
