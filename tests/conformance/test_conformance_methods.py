"""Conformance of every registered unlearning method (``qiskit_unlearn.unlearn.METHODS``).

In the spirit of scikit-learn's ``check_estimator``: each entry of the registry goes through the
same contracts, on every registered model kind (a method x model-kind matrix of tiny models,
1 epoch), so registering a method is enough to have it checked:

(a) it never sees test data: every row any toolkit model's forward pass receives during the
    method is a retain, forget or validation row (or, for a method with an input-perturbation
    budget such as ``eps``, within that budget of a forget row), never a test row;
(b) the teacher is left untouched (bit-identical ``state_dict``, same trainable flags and mode,
    no shared weight tensors), and so are the data arrays and the caller's global torch / numpy
    random states;
(c) it is deterministic for a seed (two calls give bit-identical weights, curve and info);
(d) it returns a model of the teacher's architecture, in eval mode with every weight trainable
    again, whose outputs are finite logits, with a well-formed outcome (params, info, curve);
(e) it works on every model kind (the matrix);
(f) its registry entry is complete and its hyperparameters are validated by name, type and range.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from conformance_helpers import (
    PERTURBATION_BUDGETS,
    TEST_SHIFT,
    VARIANTS,
    cached_run,
    fast_params,
    flat,
    method_names,
    model_kinds,
    resolved,
    run_method,
    splits,
    state_equal,
    teacher,
    to_json,
)

from qiskit_unlearn.unlearn import (
    METHODS,
    Method,
    UnlearnData,
    UnlearnError,
    register,
    resolve_params,
    unlearn,
)

METHOD_NAMES = method_names()
#: Every method on every model kind (subset-like forget set, default hyperparameters), plus on
#: the classical kind: a whole forgotten class, and the HQML-study settings (``faithful`` /
#: ``hqml`` code paths) of every method that has them.
CLASSICAL = [k for k in ("mlp",) if k in model_kinds()]
MATRIX = [(m, k, "default") for m in METHOD_NAMES for k in model_kinds()] \
    + [(m, k, "class") for m in METHOD_NAMES for k in CLASSICAL] \
    + [(m, k, "study") for m in METHOD_NAMES if METHODS[m].study for k in CLASSICAL]
MATRIX_IDS = [f"{m}-{k}" + ("" if v == "default" else f"-{v}") for m, k, v in MATRIX]
#: The determinism contract (c) runs every method twice on the classical kind and on one hybrid
#: (the other hybrids share its QNN path; two extra runs of each would double the suite's time).
DETERMINISM = [(m, k) for m in METHOD_NAMES for k in ("mlp", "hybrid-pca") if k in model_kinds()]


# --- (a) no test data -------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind", "variant"), MATRIX, ids=MATRIX_IDS)
def test_method_sees_only_retain_forget_and_validation_rows(name, kind, variant):
    run = cached_run(name, kind, variant)
    data = splits(kind, VARIANTS[variant][0])
    assert run.seen, f"{name} ran no forward pass of a toolkit model"
    seen = np.concatenate(run.seen)
    allowed = data.allowed_rows()
    forget = flat(data.forget[0])
    test = flat(data.test[0])
    budget = max([float(run.outcome.params.get(p, 0.0)) for p in PERTURBATION_BUDGETS],
                 default=0.0)
    # L-infinity distance of every seen row to its nearest allowed row (and test row)
    to_allowed = np.abs(seen[:, None, :] - allowed[None, :, :]).max(axis=2).min(axis=1)
    to_forget = np.abs(seen[:, None, :] - forget[None, :, :]).max(axis=2).min(axis=1)
    to_test = np.abs(seen[:, None, :] - test[None, :, :]).max(axis=2).min(axis=1)
    stray = (to_allowed > 1e-6) & (to_forget > budget + 1e-5)
    assert not stray.any(), (
        f"{name} on {kind} showed the model {int(stray.sum())} of {len(seen)} rows that are "
        f"neither retain, forget nor validation rows (nearest distance "
        f"{to_allowed[stray].min():.3g}); budget {budget}")
    assert to_test.min() > TEST_SHIFT / 2, f"{name} on {kind} saw a test row"


def test_unlearn_data_carries_no_test_split():
    fields = set(inspect.signature(UnlearnData).parameters)
    assert not {f for f in fields if "test" in f.lower()}, fields


# --- (b) teacher untouched --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind", "variant"), MATRIX, ids=MATRIX_IDS)
def test_method_leaves_the_teacher_untouched(name, kind, variant):
    run = cached_run(name, kind, variant)
    changed = state_equal(run.state_before, run.teacher.state_dict())
    assert not changed, f"{name} changed the teacher's {changed}"
    assert [p.requires_grad for p in run.teacher.parameters()] == run.grad_flags_before, \
        f"{name} changed which of the teacher's weights are trainable"
    assert run.teacher.training == run.training_before
    assert run.outcome.model is not run.teacher
    shared = {id(p) for p in run.teacher.parameters()} & \
        {id(p) for p in run.outcome.model.parameters()}
    assert not shared, f"{name} returned a model sharing weight tensors with the teacher"


@pytest.mark.parametrize(("name", "kind", "variant"), MATRIX, ids=MATRIX_IDS)
def test_method_has_no_side_effects_on_its_data_or_the_global_rngs(name, kind, variant):
    run = cached_run(name, kind, variant)
    assert not run.data_changed, f"{name} modified the arrays {run.data_changed} it was given"
    assert not run.rng_changed, f"{name} advanced the caller's global {run.rng_changed} RNG"


# --- (c) deterministic --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), DETERMINISM, ids=[f"{m}-{k}" for m, k in DETERMINISM])
def test_method_is_deterministic_for_a_seed(name, kind):
    first, second = cached_run(name, kind), cached_run(name, kind, repeat=1)
    changed = state_equal(first.outcome.model.state_dict(), second.outcome.model.state_dict())
    assert not changed, f"two calls of {name} with seed 0 differ in {changed}"
    assert first.outcome.curve == second.outcome.curve
    assert to_json(first.outcome.info) == to_json(second.outcome.info)


# --- (d) + (e) same architecture, finite outputs, on every model kind -------------------------

@pytest.mark.parametrize(("name", "kind", "variant"), MATRIX, ids=MATRIX_IDS)
def test_method_returns_a_usable_model_of_the_same_architecture(name, kind, variant):
    run = cached_run(name, kind, variant)
    model, ref = run.outcome.model, run.teacher
    assert type(model) is type(ref)
    assert model.spec == ref.spec, f"{name} returned a model of another spec"
    assert model.group_names == ref.group_names
    mine, theirs = model.state_dict(), ref.state_dict()
    assert list(mine) == list(theirs)
    assert all(mine[k].shape == theirs[k].shape and mine[k].dtype == theirs[k].dtype
               for k in mine)
    assert not model.training, "unlearn() returns the model in eval mode"
    assert all(p.requires_grad for p in model.parameters()), \
        "unlearn() unfreezes every layer group of the returned model"
    assert all(torch.isfinite(v).all() for v in mine.values() if v.is_floating_point())
    data = splits(kind, VARIANTS[variant][0])
    with torch.no_grad():
        for x in (data.test[0], data.retain[0][:1]):
            logits = model(torch.as_tensor(x))
            assert logits.shape == (len(x), data.num_classes)
            assert torch.isfinite(logits).all()


@pytest.mark.parametrize(("name", "kind", "variant"), MATRIX, ids=MATRIX_IDS)
def test_method_outcome_is_well_formed(name, kind, variant):
    outcome = cached_run(name, kind, variant).outcome
    assert outcome.method == name
    assert outcome.params == resolved(name, variant)
    assert math.isfinite(outcome.seconds) and outcome.seconds >= 0
    assert isinstance(outcome.info, dict)
    to_json(outcome.info)  # the manifest stores it: JSON data (numpy values allowed)
    to_json(outcome.params)
    for point in outcome.curve:
        assert "step" in point
        assert all(isinstance(v, float) for v in point.values()), point


EARLY = [m for m in METHOD_NAMES if "early_stopping" in METHODS[m].defaults]


@pytest.mark.parametrize("name", EARLY)
def test_method_reports_its_epochs_to_the_early_stopping_rule(name):
    """``unlearn()`` applies early stopping around any epoch-based method, which only works if
    the method reports its epochs (``log_epoch``); the kept weights come from a seen epoch."""
    run = run_method(name, "mlp", extra={"epochs": 3, "early_stopping": 1})
    info = run.outcome.info.get("early_stopping")
    assert info is not None, f"{name} ran without the early-stopping rule"
    assert info["patience"] == 1
    assert 1 <= info["epochs_run"] <= 3, f"{name} never reported an epoch: {info}"
    assert 1 <= info["best_epoch"] <= info["epochs_run"]
    assert len(run.outcome.curve) >= info["epochs_run"]


# --- (f) registry entry -----------------------------------------------------------------------

@pytest.mark.parametrize("name", METHOD_NAMES)
def test_registry_entry_is_complete(name):
    entry = METHODS[name]
    assert isinstance(entry, Method)
    assert entry.name == name
    assert callable(entry.fn) and inspect.getdoc(entry.fn), f"{name} has no docstring"
    for attr in ("family", "changes", "reference", "summary"):
        value = getattr(entry, attr)
        assert isinstance(value, str) and value.strip(), f"{name}.{attr} is empty"
    assert resolve_params(name) == dict(entry.defaults)
    assert set(entry.rules) == set(entry.defaults)
    assert all(isinstance(r, str) and r for r in entry.rules.values())
    entry.validate(entry.defaults)
    to_json(dict(entry.defaults))  # defaults go into configs and manifests
    if entry.study:
        assert set(entry.study) <= set(entry.defaults)
        resolve_params(name, entry.study)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_unknown_hyperparameter_is_rejected_by_name(name):
    with pytest.raises(UnlearnError, match=r"no_such_knob"):
        resolve_params(name, {"no_such_knob": 1})


def _wrong_type(default):
    if isinstance(default, bool):
        return "yes"
    if isinstance(default, (int, float)):
        return "1"
    if isinstance(default, str):
        return 1
    return None


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_hyperparameter_rejects_a_wrong_type(name):
    for key, default in METHODS[name].defaults.items():
        bad = _wrong_type(default)
        if bad is None:
            continue
        with pytest.raises(UnlearnError, match=rf"{key}"):
            resolve_params(name, {key: bad})


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_float_hyperparameter_rejects_non_finite_values(name):
    floats = [k for k, v in METHODS[name].defaults.items()
              if isinstance(v, float) and not isinstance(v, bool)]
    for key in floats:
        for bad in (math.nan, math.inf):
            with pytest.raises(UnlearnError, match=rf"{key}"):
                resolve_params(name, {key: bad})


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_integer_hyperparameter_rejects_a_negative_value(name):
    ints = [k for k, v in METHODS[name].defaults.items()
            if isinstance(v, int) and not isinstance(v, bool)]
    for key in ints:
        with pytest.raises(UnlearnError, match=rf"{key}"):
            resolve_params(name, {key: -1})


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_the_fast_budget_is_a_valid_override(name):
    assert resolved(name) == {**METHODS[name].defaults, **fast_params(name)}


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_empty_forget_set_is_refused_before_the_method_runs(name):
    data = splits("mlp")
    empty = (data.forget[0][:0], data.forget[1][:0])
    model = teacher("mlp")
    with pytest.raises(UnlearnError, match="forget"):
        unlearn(name, model, UnlearnData(data.retain, empty, data.val, data.num_classes),
                fast_params(name))


def test_registering_a_taken_name_is_refused_and_leaves_the_registry_alone():
    name = METHOD_NAMES[0]
    before = dict(METHODS)
    with pytest.raises(RuntimeError, match="registered twice"):
        register(name, defaults={}, family="x", changes="x", reference="x")(lambda m, d, p: {})
    assert dict(METHODS) == before
