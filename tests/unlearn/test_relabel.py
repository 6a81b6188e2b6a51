"""Relabelling methods (q-mul, lca, adv-uniform, random-labels, salun) on the Iris hybrid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from unlearn_helpers import changes_weights_on_hybrid_cnn, same_weights, snapshot

from qiskit_unlearn.data import load_dataset, make_preprocessor, split_dataset
from qiskit_unlearn.models import build_model
from qiskit_unlearn.scenarios import make_scenario
from qiskit_unlearn.train import TrainConfig, evaluate, predict_logits, train
from qiskit_unlearn.unlearn import UnlearnData, UnlearnError, clone_model, unlearn
from qiskit_unlearn.unlearn.relabel import (
    complement_labels,
    fgsm,
    random_wrong_labels,
    saliency_mask,
    similar_class_map,
)

# The retrained oracle of this 2-qubit model reaches 0.85 retain accuracy against the teacher's
# 0.92, so forgetting a whole class may cost a little more than that, but no more than this.
RETAIN_MARGIN = 0.2


@pytest.mark.parametrize("method", ["q-mul", "lca", "adv-uniform", "random-labels", "salun"])
def test_forgets_class_keeps_retain_and_leaves_teacher(class_setup, method):
    before = snapshot(class_setup.teacher)
    out = unlearn(method, class_setup.teacher, class_setup.data())
    assert same_weights(before, snapshot(class_setup.teacher))
    assert class_setup.accuracy(out.model, "forget") < 0.5
    assert class_setup.accuracy(out.model, "retain") >= \
        class_setup.accuracy(class_setup.teacher, "retain") - RETAIN_MARGIN
    assert [row["step"] for row in out.curve] == list(range(1, out.params["epochs"] + 1))


def test_adv_uniform_runs_on_an_input_gradient_twin(class_setup):
    assert class_setup.teacher.spec["kwargs"]["input_gradients"] is False
    out = unlearn("adv-uniform", class_setup.teacher, class_setup.data(), {"epochs": 1})
    assert out.info == {"input_gradients_twin": True}
    assert out.model.spec["kwargs"]["input_gradients"] is False  # the copy, weights changed
    assert not same_weights(snapshot(out.model), snapshot(class_setup.teacher))


def test_fgsm_moves_by_eps_against_the_label_within_the_input_range(class_setup):
    work = clone_model(class_setup.teacher, input_gradients=True)
    x = torch.as_tensor(class_setup.scenario.forget[0][:8])
    y = torch.as_tensor(class_setup.scenario.forget[1][:8])
    low, high = x.min(0).values, x.max(0).values
    loss = torch.nn.functional.cross_entropy
    x_adv = fgsm(x, lambda v: loss(work(v), y), 0.05, low, high)
    assert torch.all((x_adv >= low) & (x_adv <= high))
    inside = (x + 0.05 <= high) & (x - 0.05 >= low)
    assert torch.allclose((x_adv - x).abs()[inside], torch.tensor(0.05), atol=1e-6)
    assert loss(work(x_adv), y) > loss(work(x), y)
    far = fgsm(x, lambda v: loss(work(v), y), 10.0, low, high)
    assert torch.all((far == low) | (far == high))


def test_similar_class_map_on_a_hand_made_case():
    # Class means: 0 ≈ (1, 0, 0, 0.1); 1 ≈ (0, 1, 0, 0); 2 ≈ (0.9, 0.1, 0, 0) is closest to 0;
    # 3 ≈ (0, 0.9, 0.2, 0) is closest to 1.
    retain_logits = np.array([[0, 1, 0, 0], [0, 1, 0, 0], [0.9, 0.1, 0, 0], [0, 0.9, 0.2, 0]])
    retain_y = np.array([1, 1, 2, 3])
    forget_logits = np.array([[1, 0, 0, 0.1], [1, 0, 0, 0.1], [0, 1, 0, 0], [5, 5, 5, 5]])
    forget_y = np.array([0, 0, 3, 3])
    mapping = similar_class_map(retain_logits, retain_y, forget_logits, forget_y)
    # Class 0 is absent from retain: its forget mean decides. Class 3 is in retain: the
    # retain mean (0, 0.9, 0.2, 0) wins over the forget one, so 3 → 1.
    assert mapping == {0: 2, 3: 1}
    with pytest.raises(UnlearnError, match="other than 0"):
        similar_class_map(np.zeros((0, 2)), np.zeros(0, int), np.ones((2, 2)),
                          np.zeros(2, int))


def test_q_mul_records_the_map_and_faithful_flips_the_direction(class_setup):
    data = class_setup.data()
    out = unlearn("q-mul", class_setup.teacher, data, {"epochs": 1})
    expected = similar_class_map(predict_logits(class_setup.teacher, data.retain[0]).numpy(),
                                 data.retain[1],
                                 predict_logits(class_setup.teacher, data.forget[0]).numpy(),
                                 data.forget[1])
    assert out.info["label_map"] == {str(c): d for c, d in expected.items()}
    target = expected[0]
    faithful = unlearn("q-mul", class_setup.teacher, class_setup.data(),
                       {"epochs": 1, "faithful": True})

    def mapped_probability(model):
        logits = predict_logits(model, data.forget[0])
        return torch.softmax(logits, 1)[:, target].mean().item()

    start = mapped_probability(class_setup.teacher)
    assert mapped_probability(out.model) > start + 0.05
    assert mapped_probability(faithful.model) < start


def test_lca_complement_labels():
    x = np.array([[0.0], [1.0]])
    xc, yc = complement_labels((x, np.array([0, 2])), 3)
    assert xc[:, 0].tolist() == [0, 0, 1, 1]
    assert yc.tolist() == [1, 2, 0, 1]


def test_random_wrong_labels_differ_and_are_seeded():
    y = np.arange(300) % 4
    a = random_wrong_labels(y, 4, seed=3)
    assert np.all(a != y) and np.all((a >= 0) & (a < 4))
    assert np.array_equal(a, random_wrong_labels(y, 4, seed=3))
    assert len(np.unique(a[y == 0])) == 3


def test_random_labels_is_deterministic(class_setup):
    a = unlearn("random-labels", class_setup.teacher, class_setup.data(), {"epochs": 1})
    b = unlearn("random-labels", class_setup.teacher, class_setup.data(), {"epochs": 1})
    assert same_weights(snapshot(a.model), snapshot(b.model))


def test_salun_moves_only_salient_weights(class_setup):
    data = class_setup.data()
    mask = saliency_mask(clone_model(class_setup.teacher), data.forget, 0.5, 16)
    kept = sum(int(m.sum()) for m in mask.values())
    total = sum(m.numel() for m in mask.values())
    assert abs(kept - total / 2) <= 1
    out = unlearn("salun", class_setup.teacher, data, {"epochs": 1})
    assert out.info == {"masked_weights": kept, "total_weights": total}
    teacher, student = dict(class_setup.teacher.named_parameters()), \
        dict(out.model.named_parameters())
    for name, m in mask.items():
        frozen = m == 0
        assert torch.equal(student[name][frozen], teacher[name][frozen])
    moved = sum(int((student[n] != teacher[n]).sum()) for n in mask)
    assert 0 < moved <= kept


@pytest.mark.parametrize(("method", "params", "name"), [
    ("q-mul", {"alpha": -1.0}, "alpha"),
    ("q-mul", {"batch_size": 0}, "batch_size"),
    ("lca", {"beta": -0.5}, "beta"),
    ("adv-uniform", {"eps": -0.1}, "eps"),
    ("random-labels", {"epochs": 0}, "epochs"),
    ("salun", {"fraction": 0.0}, "fraction"),
    ("salun", {"fraction": "half"}, "fraction"),
])
def test_bad_hyperparameters_raise(class_setup, method, params, name):
    with pytest.raises(UnlearnError, match=name):
        unlearn(method, class_setup.teacher, class_setup.data(), params)


def test_q_mul_on_mlp():
    """The classical baseline: Q-MUL moves standardised Iris class 0 to its similar class."""
    ds = load_dataset("iris")
    splits = split_dataset(ds, test_size=0.2, val_size=0.2, seed=0)
    pre = make_preprocessor("standardize")
    pre.fit(splits.train[0])
    tr, va = ((pre.transform(x).astype(np.float32), y) for x, y in (splits.train, splits.val))
    sc = make_scenario("class", tr, va, seed=0, classes=[0])
    teacher = build_model("mlp", input_dim=4, num_classes=3, hidden=8, seed=0)
    train(teacher, (sc.train_x, sc.train_y), va,
          TrainConfig(epochs=30, lr=0.05, batch_size=16, patience=None, seed=0), progress=False)
    assert evaluate(teacher, sc.forget)["accuracy"] > 0.9
    out = unlearn("q-mul", teacher, UnlearnData(sc.retain, sc.forget, va, 3, seed=0),
                  {"epochs": 10})
    assert evaluate(out.model, sc.forget)["accuracy"] < 0.5
    assert evaluate(out.model, sc.retain)["accuracy"] >= \
        evaluate(teacher, sc.retain)["accuracy"] - 0.1


@pytest.mark.parametrize("method", ["q-mul", "lca", "adv-uniform", "random-labels", "salun"])
def test_runs_on_hybrid_cnn(method):
    assert changes_weights_on_hybrid_cnn(method, {"epochs": 1})
