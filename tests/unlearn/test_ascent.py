"""Gradient-ascent methods: ga, fisher, neggrad+ (and one run on an amplitude VQC)."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import same_weights, snapshot

from qiskit_unlearn.unlearn import METHODS, UnlearnError, unlearn
from qiskit_unlearn.unlearn.ascent import diagonal_fisher
from qiskit_unlearn.unlearn.steps import trainable

MARGIN = 0.1


@pytest.fixture(scope="module")
def outcomes(class_setup):
    """Each method once with its defaults on the class scenario (reused by several tests)."""
    before = snapshot(class_setup.teacher)
    runs = {name: unlearn(name, class_setup.teacher, class_setup.data())
            for name in ("ga", "fisher", "neggrad+")}
    assert same_weights(before, snapshot(class_setup.teacher)), "the teacher was modified"
    return runs


@pytest.mark.parametrize("name", ["ga", "fisher", "neggrad+"])
def test_forgets_the_class(class_setup, outcomes, name):
    assert METHODS[name].family == "gradient ascent"
    assert class_setup.accuracy(class_setup.teacher, "forget") > 0.9
    assert class_setup.accuracy(outcomes[name].model, "forget") < 0.5
    assert len(outcomes[name].curve) == METHODS[name].defaults["epochs"]


@pytest.mark.parametrize("name", ["fisher", "neggrad+"])
def test_anchored_methods_keep_the_retain_set(class_setup, outcomes, name):
    teacher = class_setup.accuracy(class_setup.teacher, "retain")
    assert class_setup.accuracy(outcomes[name].model, "retain") >= teacher - MARGIN


def test_fisher_anchor_protects_more_than_plain_ascent(class_setup, outcomes):
    # Same budget and optimiser; only the EWC penalty differs.
    assert class_setup.accuracy(outcomes["fisher"].model, "retain") > \
        class_setup.accuracy(outcomes["ga"].model, "retain")


def test_diagonal_fisher_is_a_mean_of_squares(class_setup):
    data = class_setup.data()
    fisher = diagonal_fisher(class_setup.teacher, data, samples=8)
    weights = trainable(class_setup.teacher)
    assert [f.shape for f in fisher] == [w.shape for w in weights]
    assert all(bool((f >= 0).all()) for f in fisher) and sum(float(f.sum()) for f in fisher) > 0
    assert all(torch.equal(a, b) for a, b in zip(
        fisher, diagonal_fisher(class_setup.teacher, data, samples=8), strict=True))


def test_ga_is_deterministic(class_setup, outcomes):
    again = unlearn("ga", class_setup.teacher, class_setup.data())
    assert same_weights(snapshot(outcomes["ga"].model), snapshot(again.model))
    assert again.curve == outcomes["ga"].curve


@pytest.mark.parametrize(("name", "params", "match"), [
    ("ga", {"lr": 0.0}, r"ga.lr must be a finite number > 0"),
    ("ga", {"batch_size": 0}, r"ga.batch_size must be an integer >= 1"),
    ("fisher", {"ewc_lambda": -1.0}, r"fisher.ewc_lambda must be a finite number >= 0"),
    ("fisher", {"fisher_samples": 0}, r"fisher.fisher_samples must be an integer >= 1"),
    ("neggrad+", {"alpha": float("nan")}, r"neggrad\+.alpha must be a finite number"),
    ("neggrad+", {"weight_decay": -0.1}, r"neggrad\+.weight_decay must be"),
    ("ga", {"optimizer": "lbfgs"}, r"'adam' or 'sgd'"),
])
def test_bad_hyperparameters_raise(class_setup, name, params, match):
    with pytest.raises(UnlearnError, match=match):
        unlearn(name, class_setup.teacher, class_setup.data(), params)


def test_ga_on_an_amplitude_vqc(vqc_setup):
    assert vqc_setup.accuracy(vqc_setup.teacher, "forget") > 0.9
    out = unlearn("ga", vqc_setup.teacher, vqc_setup.data(), {"lr": 0.1})
    assert vqc_setup.accuracy(out.model, "forget") < 0.5
