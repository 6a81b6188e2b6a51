"""Retraining-family methods: retrain, finetune, l1-sparse, cf-k, eu-k, certified (+ accountant),
and the contract every method shares (base.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from unlearn_helpers import same_weights, snapshot

from qiskit_unlearn.models import build_model
from qiskit_unlearn.train import TrainConfig, evaluate, train
from qiskit_unlearn.unlearn import (
    METHODS,
    UnlearnData,
    UnlearnError,
    clone_model,
    resolve_params,
    unlearn,
)
from qiskit_unlearn.unlearn.base import Checked, retained_val
from qiskit_unlearn.unlearn.retraining import dp_epsilon, head_groups, sampled_gaussian_rdp
from qiskit_unlearn.unlearn.steps import cycle

FAMILIES = {"oracle", "fine-tuning", "gradient ascent", "partial retraining", "distillation",
            "relabelling", "certified", "parameter editing"}
MARGIN = 0.1  # retain accuracy a retain-preserving method may lose against the teacher


@pytest.mark.parametrize("name", ["retrain", "finetune", "l1-sparse", "cf-k", "eu-k",
                                  "certified"])
def test_registered_with_table_fields(name):
    method = METHODS[name]
    assert method.family in FAMILIES
    assert method.changes and method.reference and method.summary


class Untouchable:
    """Stands in for the forget set: any use of it fails the test."""

    def _boom(self, *args, **kwargs):
        raise AssertionError("retrain read the forget set")

    __iter__ = __len__ = __getitem__ = __array__ = _boom


def test_retrain_never_reads_forget_and_forgets_the_class(class_setup):
    data = class_setup.data()
    data.forget = Untouchable()
    model = clone_model(class_setup.teacher)
    # The method itself, as unlearn() checks that the forget set is not empty before calling
    # it; the teacher's recipe (conftest) makes a like-for-like oracle.
    info = METHODS["retrain"].fn(model, data, resolve_params(
        "retrain", {"epochs": 25, "lr": 0.05, "batch_size": 16, "patience": 10}))
    # Class 0 never appears in the retain set, so the oracle can never predict it.
    assert class_setup.accuracy(model, "forget") == 0.0
    teacher_retain = class_setup.accuracy(class_setup.teacher, "retain")
    assert class_setup.accuracy(model, "retain") >= teacher_retain - MARGIN
    assert data.curve and all("forget_accuracy" not in row for row in data.curve)
    assert 1 <= info["best_epoch"] <= info["epochs_run"]


def test_retained_val_drops_forgotten_classes():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    val = (x, np.array([0, 1, 2, 0, 1, 2]))
    whole_class = UnlearnData((x, np.array([1, 2, 1, 2, 1, 2])), (x, np.zeros(6, int)), val, 3)
    vx, vy = retained_val(whole_class)
    assert vy.tolist() == [1, 2, 1, 2] and vx.tolist() == x[[1, 2, 4, 5]].tolist()
    subset = UnlearnData((x, np.array([0, 1, 2, 0, 1, 2])), (x[:1], np.zeros(1, int)), val, 3)
    assert retained_val(subset)[1].tolist() == val[1].tolist()


@pytest.mark.parametrize("name", sorted(METHODS))
def test_unlearn_rejects_an_empty_forget_set(class_setup, name):
    data = class_setup.data()
    data.forget = (data.forget[0][:0], data.forget[1][:0])
    with pytest.raises(UnlearnError, match=rf"^{re.escape(name)} needs a non-empty forget set: "
                                           r"UnlearnData\.forget holds .*pass at least one"):
        unlearn(name, class_setup.teacher, data)


def test_cycle_rejects_empty_data_and_reshuffles_every_pass():
    x, y = np.arange(4, dtype=np.float32).reshape(4, 1), np.arange(4)
    with pytest.raises(UnlearnError, match="empty data set"):
        cycle((x[:0], y[:0]), 3, seed=0)  # eagerly, not at the first next()
    endless = cycle((x, y), 3, seed=0)
    labels = [next(endless)[1].tolist() for _ in range(6)]  # three passes of batches 3 + 1
    passes = [labels[i] + labels[i + 1] for i in (0, 2, 4)]
    assert all(sorted(p) == [0, 1, 2, 3] for p in passes)
    assert len({tuple(p) for p in passes}) > 1


def test_checked_messages_name_method_hyperparameter_range_and_value():
    check = Checked("m", {"f": 1.5, "n": 0, "v": "x", "b": True})
    with pytest.raises(UnlearnError, match=r"^m\.f must be a finite number > 0\.0 and <= 1\.0, "
                                           r"got 1\.5; pass a valid value in params$"):
        check.number("f", high=1.0, allow_high=True)
    assert check.number("f", high=2.0) == 1.5
    with pytest.raises(UnlearnError, match=r"m\.f must be a finite number >= 2 and < 3"):
        check.number("f", 2, allow_low=True, high=3)
    with pytest.raises(UnlearnError, match=r"m\.n must be an integer >= 1, got 0"):
        check.integer("n")
    assert check.integer("n", low=0) == 0
    with pytest.raises(UnlearnError, match=r"m\.b must be an integer >= 0, got True"):
        check.integer("b", low=0)
    with pytest.raises(UnlearnError, match=r"m\.v must be one of \['a', 'b'\], got 'x'"):
        check.choice("v", ("a", "b"))


# (method, params, forget accuracy must fall below 0.5, retain accuracy kept within MARGIN)
CASES = [
    ("finetune", {}, False, True),
    ("l1-sparse", {}, False, True),
    ("cf-k", {}, False, True),
    ("cf-k", {"variant": "hqml"}, True, False),
    ("eu-k", {"epochs": 10}, True, True),
    ("eu-k", {"variant": "hqml", "epochs": 10}, True, True),
    ("certified", {}, False, True),
]


@pytest.mark.parametrize(("name", "params", "forgets", "keeps"), CASES,
                         ids=[f"{c[0]}-{c[1].get('variant', 'default')}" for c in CASES])
def test_method_outcome_on_class_forgetting(class_setup, name, params, forgets, keeps):
    before = snapshot(class_setup.teacher)
    out = unlearn(name, class_setup.teacher, class_setup.data(), params)
    assert same_weights(before, snapshot(class_setup.teacher)), "the teacher was modified"
    assert not same_weights(before, snapshot(out.model)), "the method changed nothing"
    forget = class_setup.accuracy(out.model, "forget")
    retain = class_setup.accuracy(out.model, "retain")
    if forgets:
        assert forget < 0.5
    if keeps:
        assert retain >= class_setup.accuracy(class_setup.teacher, "retain") - MARGIN
    assert out.curve and {"val_accuracy", "forget_accuracy"} <= set(out.curve[-1])
    assert all(p.requires_grad for p in out.model.parameters()), "left frozen"


def test_cf_k_goel_trains_only_the_last_groups(class_setup):
    before = snapshot(class_setup.teacher)
    out = unlearn("cf-k", class_setup.teacher, class_setup.data(), {"k": 1, "epochs": 2})
    after = snapshot(out.model)
    assert out.info["trained_groups"] == ["head.1"]
    changed = {k.rsplit(".", 1)[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.1"}


def test_eu_k_goel_reinitialises_and_freezes_the_rest(class_setup):
    before = snapshot(class_setup.teacher)
    out = unlearn("eu-k", class_setup.teacher, class_setup.data(), {"k": 2, "epochs": 1})
    after = snapshot(out.model)
    assert out.info["reset_groups"] == ["head.0", "head.1"]
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("quantum"))
    assert not torch.equal(before["head.0.weight"], after["head.0.weight"])


def test_l1_penalty_shrinks_the_weights(class_setup):
    plain = unlearn("l1-sparse", class_setup.teacher, class_setup.data(),
                    {"epochs": 3, "gamma": 0.0})
    sparse = unlearn("l1-sparse", class_setup.teacher, class_setup.data(), {"epochs": 3})
    assert sparse.info["l1_norm"] < plain.info["l1_norm"] - 1.0  # default gamma, 3 epochs

    def near_zero(model):
        return sum(int((p.abs() < 0.05).sum()) for p in model.parameters())

    assert near_zero(sparse.model) > near_zero(plain.model)


@pytest.mark.parametrize(("name", "params"), [("certified", {"epochs": 1}),
                                              ("eu-k", {"epochs": 2})])
def test_deterministic_for_a_fixed_seed(class_setup, name, params):
    first = unlearn(name, class_setup.teacher, class_setup.data(), params)
    second = unlearn(name, class_setup.teacher, class_setup.data(), params)
    assert same_weights(snapshot(first.model), snapshot(second.model))
    assert first.curve == second.curve
    other = class_setup.data()
    other.seed = 1
    third = unlearn(name, class_setup.teacher, other, params)
    assert not same_weights(snapshot(first.model), snapshot(third.model))


BAD = [
    ("cf-k", {"k": 4}, r"k must be <= 3.*'quantum', 'head.0', 'head.1'"),
    ("cf-k", {"k": 3, "variant": "hqml"}, r"needs one left to train.*<= 2"),
    ("eu-k", {"k": 3, "variant": "hqml"}, r"head layers.*<= 2"),
    ("eu-k", {"k": 0}, r"eu-k.k must be an integer >= 1"),
    ("cf-k", {"variant": "paper"}, r"cf-k.variant must be one of \['goel', 'hqml'\]"),
    ("finetune", {"lr": -0.1}, r"finetune.lr must be a finite number > 0"),
    ("finetune", {"epochs": 0}, r"finetune.epochs must be an integer >= 1"),
    ("finetune", {"optimizer": "rmsprop"}, r"'adam' or 'sgd'"),
    ("retrain", {"patience": -1}, r"retrain.patience must be an integer >= 0"),
    ("retrain", {"lr": "fast"}, r"retrain\.lr must be .*float"),
    ("l1-sparse", {"gamma": -1.0}, r"l1-sparse.gamma must be a finite number >= 0"),
    ("certified", {"clip": 0.0}, r"certified.clip must be a finite number > 0"),
    ("certified", {"delta": 1.0}, r"certified.delta must be .*< 1.0"),
    ("certified", {"noise_multiplier": -1.0}, r"noise_multiplier must be"),
    ("certified", {"sigma": 1.0}, r"no hyperparameter 'sigma'"),
]


@pytest.mark.parametrize(("name", "params", "match"), BAD,
                         ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BAD])
def test_bad_hyperparameters_raise(class_setup, name, params, match):
    with pytest.raises(UnlearnError, match=match):
        unlearn(name, class_setup.teacher, class_setup.data(), params)


# --- the RDP accountant and the certified info ------------------------------------------------

@pytest.mark.parametrize(("sigma", "order"), [(0.5, 2), (1.0, 7), (3.0, 64)])
def test_full_batch_rdp_is_the_gaussian_mechanism(sigma, order):
    assert sampled_gaussian_rdp(1.0, sigma, order) == pytest.approx(order / (2 * sigma**2))


@pytest.mark.parametrize(("q", "sigma"), [(0.01, 1.0), (0.3, 0.7), (0.9, 2.0)])
def test_order_two_closed_form(q, sigma):
    # A_2 = (1-q)^2 + 2q(1-q) + q^2 e^{1/sigma^2} = 1 + q^2 (e^{1/sigma^2} - 1)
    expected = math.log1p(q**2 * math.expm1(1 / sigma**2))
    assert sampled_gaussian_rdp(q, sigma, 2) == pytest.approx(expected)


def test_epsilon_hand_checked_case():
    # q = 1, sigma = 1, one step, log(1/delta) = 8: min_a a/2 + 8/(a-1) = 4.5 at a = 5.
    eps, order = dp_epsilon(1.0, 1.0, 1, math.exp(-8))
    assert eps == pytest.approx(4.5) and order == 5


def test_epsilon_monotone_and_edge_cases():
    base = dp_epsilon(0.05, 1.0, 100, 1e-5)[0]
    assert 0 < base < math.inf
    assert dp_epsilon(0.05, 2.0, 100, 1e-5)[0] < base  # more noise
    assert dp_epsilon(0.05, 1.0, 400, 1e-5)[0] > base  # more steps
    assert dp_epsilon(0.2, 1.0, 100, 1e-5)[0] > base   # more sampling
    assert dp_epsilon(0.5, 1.0, 0, 1e-5)[0] == 0.0
    assert dp_epsilon(0.5, 0.0, 10, 1e-5)[0] == math.inf
    assert math.isfinite(dp_epsilon(0.01, 0.3, 10_000, 1e-5)[0])  # large exponents stay finite
    for bad in [(1.5, 1.0, 2), (0.5, -1.0, 2), (0.5, 1.0, 1)]:
        with pytest.raises(ValueError):
            sampled_gaussian_rdp(*bad)
    with pytest.raises(ValueError):
        dp_epsilon(0.5, 1.0, 10, 0.0)


def test_certified_reports_its_privacy(class_setup):
    out = unlearn("certified", class_setup.teacher, class_setup.data(), {"epochs": 1})
    info, n = out.info, len(class_setup.scenario.retain[1])
    assert info["sampling_rate"] == pytest.approx(16 / n)
    assert info["steps"] == math.ceil(n / 16)
    assert info["epsilon"] == pytest.approx(dp_epsilon(16 / n, 1.0, info["steps"], 1e-5)[0])
    assert info["clip_norm"] == 1.0 and info["noise_multiplier"] == 1.0
    faithful = unlearn("certified", class_setup.teacher, class_setup.data(),
                       {"epochs": 1, "faithful": True})
    assert faithful.info["epsilon"] is None and "not available" in faithful.info["epsilon_note"]
    assert not same_weights(snapshot(out.model), snapshot(faithful.model))


# --- other model kinds ------------------------------------------------------------------------

def test_eu_k_on_a_classical_mlp(class_setup):
    sc = class_setup.scenario
    mlp = build_model("mlp", input_dim=2, num_classes=3, hidden=8, seed=0)
    train(mlp, (sc.train_x, sc.train_y), class_setup.val,
          TrainConfig(epochs=40, lr=0.05, batch_size=16, patience=None), progress=False)
    teacher_retain = evaluate(mlp, sc.retain)["accuracy"]
    assert head_groups(mlp) == mlp.group_names
    out = unlearn("eu-k", mlp, UnlearnData(sc.retain, sc.forget, class_setup.val, 3),
                  {"variant": "hqml"})
    assert evaluate(out.model, sc.forget)["accuracy"] < 0.5
    assert evaluate(out.model, sc.retain)["accuracy"] >= teacher_retain - MARGIN


def test_single_group_model_rejects_hqml_variants():
    vqc = build_model("vqc-amplitude", num_qubits=2, num_classes=2, layers=1)
    xy = (np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]))
    for name in ("cf-k", "eu-k"):
        with pytest.raises(UnlearnError, match=r"\['quantum'\].*variant='goel'"):
            unlearn(name, vqc, UnlearnData(xy, xy, xy, 2), {"variant": "hqml"})
