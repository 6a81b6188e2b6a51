"""The HQML study configs: the study's sizes and recipe load, no validation split only in faithful
mode, raw-feature angles, the study's membership score and subset sizes rounded up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qiskit_unlearn.config import ConfigError, load_config, validate_config
from qiskit_unlearn.data import DataError
from qiskit_unlearn.evaluate.mia import top_probability_attack_auc
from qiskit_unlearn.evaluate.suite import EvalSets, evaluate_model
from qiskit_unlearn.run.data import prepare_data
from qiskit_unlearn.scenarios import stratified_sample

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
STUDY = {"iris": (150, 120, 30, 4), "mnist": (2000, 1600, 400, 8),
         "fashion-mnist": (8000, 6400, 1600, 10)}


@pytest.mark.parametrize("dataset", sorted(STUDY))
def test_study_configs_carry_the_study_sizes_and_recipe(dataset):
    total, train, test, qubits = STUDY[dataset]
    cfg = load_config(EXPERIMENTS / f"hqml-{dataset}-study.toml")
    assert cfg["unlearn"]["faithful"] and cfg["data"]["val_size"] == 0.0
    assert len(cfg["experiment"]["seeds"]) >= 5
    assert cfg["model"]["num_qubits"] == qubits
    if dataset != "iris":
        assert cfg["data"]["samples_per_class"] * 10 == total
        assert cfg["model"]["channels"] == [16, 32] and cfg["model"]["head_hidden"] == 32
        assert (cfg["train"]["lr"], cfg["train"]["batch_size"], cfg["train"]["epochs"]) == \
            (0.001, 64, 60)
    assert int(np.ceil(total * 0.2)) == test and total - test == train
    corrected = load_config(EXPERIMENTS / f"hqml-{dataset}.toml")
    assert not corrected["unlearn"]["faithful"] and corrected["data"]["val_size"] > 0
    assert len(corrected["experiment"]["seeds"]) >= 5


def test_the_iris_study_split_and_forget_sets_have_the_study_sizes():
    cfg = load_config(EXPERIMENTS / "hqml-iris-study.toml")
    data = prepare_data(cfg, seed=0)
    assert data["metadata"]["sizes"] == {"train": 120, "val": 0, "test": 30}
    x = data["train"][0]
    assert x.shape[1] == 4 and x.min() >= -np.pi - 1e-6 and x.max() <= np.pi + 1e-6
    assert len(stratified_sample(data["train"][1], 0.02, np.random.default_rng(0))) == 3


def test_subset_counts_round_up_like_scikit_learn():
    y = np.repeat(np.arange(10), 160)  # the MNIST study's 1,600 training images
    assert len(stratified_sample(y, 0.02, np.random.default_rng(0))) == 32
    assert len(stratified_sample(np.repeat(np.arange(3), 35), 0.02,
                                 np.random.default_rng(0))) == 3  # 2.1 -> 3


def _raw(**data):
    return {"experiment": {"name": "x"}, "data": {"dataset": "iris", **data},
            "model": {"kind": "mlp"}, "scenario": [{"kind": "class"}]}


def test_no_validation_split_needs_faithful_mode():
    with pytest.raises(ConfigError, match=r"val_size = 0 leaves no validation split.*"
                                          r"unlearn.faithful = true"):
        validate_config(_raw(val_size=0.0))
    raw = _raw(val_size=0.0)
    raw["unlearn"] = {"faithful": True}
    assert validate_config(raw)["data"]["val_size"] == 0.0


def test_raw_angles_need_one_qubit_per_feature():
    raw = _raw(preprocess="pca-angles", angle_pca=False)
    raw["model"] = {"kind": "hybrid-pca", "num_qubits": 3}
    with pytest.raises(DataError, match=r"angle_pca = false feeds the 4 features.*num_qubits = 4"):
        prepare_data(validate_config(raw), seed=0)


def test_the_top_probability_attack_matches_its_definition():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    members, nonmembers = rng.normal(size=(7, 3)) * 3, rng.normal(size=(5, 3))

    def top(z):
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)).max(axis=1)

    expected = roc_auc_score(np.r_[np.ones(7), np.zeros(5)], np.r_[top(members), top(nonmembers)])
    assert top_probability_attack_auc(members, nonmembers) == pytest.approx(expected, abs=1e-12)


def test_mia_score_selects_the_reported_auc():
    rng = np.random.default_rng(2)
    logits = {k: rng.normal(size=(6, 3)) for k in ("retain", "forget", "val", "test",
                                                   "nonmember")}
    y = np.array([0, 1, 2, 0, 1, 2])
    sets = EvalSets(*(((np.zeros((6, 1)), y),) * 5))
    rows = {s: evaluate_model(logits, logits, logits, sets, mia_score=s)
            for s in ("true-label", "top")}
    assert rows["top"]["mia_auc"] == rows["top"]["mia_top_auc"]
    assert rows["true-label"]["mia_auc"] == rows["true-label"]["mia_label_auc"]
    assert rows["top"]["mia_top_auc"] == rows["true-label"]["mia_top_auc"]
    with pytest.raises(ValueError, match="mia_score must be one of"):
        evaluate_model(logits, logits, logits, sets, mia_score="max")
