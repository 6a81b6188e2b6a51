"""The HQML study's recipe: early stopping on the selection split, zipped batch pairing, the
registry's study settings under ``unlearn.faithful = true``, and the study's method variants."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from qiskit_unlearn.config import validate_config
from qiskit_unlearn.run.context import method_params, mia_score
from qiskit_unlearn.train import evaluate
from qiskit_unlearn.unlearn import METHODS, UnlearnError, resolve_params, unlearn
from qiskit_unlearn.unlearn.ascent import forget_batch_fisher
from qiskit_unlearn.unlearn.base import retained_val
from qiskit_unlearn.unlearn.relabel import _kl_to_uniform
from qiskit_unlearn.unlearn.steps import paired_steps

EPOCH_METHODS = sorted(n for n, m in METHODS.items()
                       if "epochs" in m.defaults and "patience" not in m.defaults)


@pytest.mark.parametrize("name", EPOCH_METHODS)
def test_every_epoch_method_has_early_stopping_off_by_default(name):
    defaults = METHODS[name].defaults
    assert defaults["early_stopping"] == 0 and defaults["early_stopping_on"] == "retained"
    with pytest.raises(UnlearnError, match=re.escape(f"{name}.early_stopping must be an "
                                                     "integer >= 0")):
        resolve_params(name, {"early_stopping": -1})


@pytest.mark.parametrize("name", sorted(n for n, m in METHODS.items() if m.study))
def test_study_settings_are_valid_hyperparameters_with_test_early_stopping(name):
    study = METHODS[name].study
    resolved = resolve_params(name, study)
    assert resolved["early_stopping"] >= 6 and resolved["early_stopping_on"] == "all"
    assert resolved["lr"] == pytest.approx(1e-3) and resolved["batch_size"] == 64


def test_early_stopping_ends_the_method_and_keeps_the_best_epoch(class_setup):
    data = class_setup.data()
    params = {"epochs": 30, "lr": 0.05, "early_stopping": 2}
    out = unlearn("ga", class_setup.teacher, data, params)
    stop = out.info["early_stopping"]
    assert stop["patience"] == 2
    # ascent on a forgotten class wrecks retained-class accuracy: it stops long before 30
    assert stop["epochs_run"] < 30 and stop["epochs_run"] == len(out.curve)
    assert stop["epochs_run"] - stop["best_epoch"] == 2
    assert evaluate(out.model, retained_val(data))["accuracy"] == pytest.approx(
        stop["best_accuracy"])


def test_early_stopping_on_all_watches_the_forgotten_class_too(class_setup):
    """The study's rule (the whole selection split) rewards *not* forgetting a class: its best
    epoch keeps more of the forgotten class than the retained-classes rule's."""
    runs = {on: unlearn("ga", class_setup.teacher, class_setup.data(),
                        {"epochs": 12, "lr": 0.05, "early_stopping": 12,
                         "early_stopping_on": on}) for on in ("retained", "all")}
    forget = {on: class_setup.accuracy(r.model, "forget") for on, r in runs.items()}
    assert forget["all"] >= forget["retained"]
    assert runs["all"].info["early_stopping"]["epochs_run"] == 12


def test_without_early_stopping_the_last_epoch_is_returned(class_setup):
    out = unlearn("ga", class_setup.teacher, class_setup.data(), {"epochs": 3})
    assert "early_stopping" not in out.info and len(out.curve) == 3


def test_shortest_pairing_stops_each_epoch_with_the_forget_set(subset_setup):
    data = subset_setup.data()
    forget_batches = math.ceil(len(data.forget[1]) / 4)
    retain_batches = math.ceil(len(data.retain[1]) / 4)
    assert forget_batches < retain_batches
    assert paired_steps(data, {"pairing": "shortest"}, 4) == forget_batches
    assert paired_steps(data, {"pairing": "cycle"}, 4) is None
    for pairing, per_epoch in (("shortest", forget_batches), ("cycle", retain_batches)):
        out = unlearn("neggrad+", subset_setup.teacher, data,
                      {"epochs": 2, "batch_size": 4, "pairing": pairing})
        assert out.info["steps"] == 2 * per_epoch


def test_faithful_params_put_the_config_over_the_study_settings():
    raw = {"experiment": {"name": "x"}, "data": {"dataset": "iris"},
           "model": {"kind": "mlp"}, "scenario": [{"kind": "class"}],
           "unlearn": {"methods": ["ga", "scrub", "finetune"], "faithful": True,
                       "params": {"ga": {"epochs": 15}}}}
    cfg = validate_config(raw)
    ga = method_params(cfg, "ga")
    assert ga == {**METHODS["ga"].study, "epochs": 15}
    assert method_params(cfg, "scrub")["variant"] == "hqml"
    assert method_params(cfg, "finetune") == {}  # not a study method: its own defaults
    assert mia_score(cfg) == "top"
    cfg["unlearn"]["faithful"] = False
    assert method_params(cfg, "ga") == {"epochs": 15}
    assert mia_score(cfg) == "true-label"


def test_the_study_fisher_comes_from_squared_forget_batch_gradients(class_setup):
    model = class_setup.teacher
    data = class_setup.data()
    fisher = forget_batch_fisher(model, data, batch_size=1000)  # one batch: the whole set
    x, y = (torch.as_tensor(a) for a in data.forget)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x).float(), y).backward()
    expected = [p.grad.detach() ** 2 for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    for f, e in zip(fisher, expected, strict=True):
        torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-12)
    out = unlearn("fisher", model, data, {"epochs": 1, "faithful": True, "batch_size": 1000})
    assert out.info["fisher_source"] == "forget batches"
    assert 0.0 <= out.info["penalty_share_last_step"] <= 1.0
    # the penalty really uses that Fisher (not the retain set's), at the teacher's weights
    assert out.info["fisher_mean"] == pytest.approx(
        float(torch.cat([f.flatten() for f in fisher]).mean()), rel=1e-6)
    assert out.info["fisher_samples"] == len(data.forget[1])
    ewc = unlearn("fisher", model, data, {"epochs": 1, "batch_size": 1000})
    assert ewc.info["fisher_source"] == "retain"
    assert ewc.info["fisher_mean"] != pytest.approx(out.info["fisher_mean"], rel=1e-3)


def test_the_study_adv_uniform_penalty_is_kl_to_uniform():
    uniform = torch.zeros(4, 5)
    assert float(_kl_to_uniform(uniform)) == pytest.approx(0.0, abs=1e-7)
    peaked = torch.tensor([[10.0, 0.0, 0.0]])
    p = torch.softmax(peaked, dim=1)
    expected = float((p * torch.log(p * 3)).sum())
    assert float(_kl_to_uniform(peaked)) == pytest.approx(expected, rel=1e-5)


def test_study_variants_run_on_the_hybrid(subset_setup):
    for name in ("adv-uniform", "q-mul", "certified", "scrub+r"):
        params = {**METHODS[name].study, "epochs": 2, "early_stopping": 0}
        out = unlearn(name, subset_setup.teacher, subset_setup.data(), params)
        assert np.isfinite(subset_setup.accuracy(out.model, "test"))


def test_the_study_q_mul_map_sends_a_forgotten_class_to_the_lowest_other_label():
    from qiskit_unlearn.unlearn.relabel import similar_class_map

    rng = np.random.default_rng(0)
    retain_y = np.array([1, 1, 2, 2, 3, 3])
    retain = rng.normal(size=(6, 4))
    retain[retain_y == 3] = [5.0, 0, 0, 0]
    forget = np.tile([5.0, 0.1, 0, 0], (3, 1))  # looks like class 3
    forget_y = np.zeros(3, dtype=int)
    assert similar_class_map(retain, retain_y, forget, forget_y) == {0: 3}
    assert similar_class_map(retain, retain_y, forget, forget_y, faithful=True) == {0: 1}
