"""Experiment configs: every shipped config validates; bad configs name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiskit_unlearn.config import ConfigError, load_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
BASE = """
[experiment]
name = "t"
[data]
dataset = "iris"
preprocess = "pca-angles"
[model]
kind = "hybrid-pca"
num_qubits = 2
[[scenario]]
kind = "class"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = load_config(path)
    assert cfg["experiment"]["name"] and cfg["scenario"]


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(_write(tmp_path, BASE), ["train.epochs=3", "backend.name=aer",
                                               "scenario.0.classes=[1, 2]"])
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["lr"] == 0.01
    assert cfg["backend"] == {"name": "aer"}
    assert cfg["scenario"][0]["classes"] == [1, 2] and cfg["scenario"][0]["name"] == "class-1-2"


@pytest.mark.parametrize(("text", "overrides", "match"), [
    (BASE + "[train]\nepochs = 3\nepoch = 4\n", [], r"unknown key\(s\) train.epoch; allowed"),
    (BASE, ["train.epochs=0"], r"train.epochs = 0 is invalid: must be >= 1"),
    (BASE, ["train.lr='fast'"], r"train.lr must be a number"),
    (BASE, ["data.dataset='imagenet'"], r"data.dataset = 'imagenet' is not allowed; choose"),
    (BASE, ["data.test_size=1.5"], r"data.test_size = 1.5 is invalid"),
    (BASE, ["scenario.0.kind='forget-all'"], r"scenario\[0\].kind = 'forget-all'"),
    (BASE, ["scenario.3.kind='class'"], r"use an index below 1"),
    (BASE, ["model.num_qubits"], r"expects key=value"),
    (BASE.replace('kind = "class"\n', 'kind = "class"\n[surprise]\n'), [],
     r"unknown section\(s\) surprise"),
    (BASE.split("[[scenario]]")[0], [], r"at least one \[\[scenario\]\]"),
    (BASE.replace("num_qubits = 2\n", ""), [], r"needs model.num_qubits"),
    ("not toml [", [], r"is not valid TOML"),
    (BASE, ["data.angle_range=[1.0, -1.0]"], r"data.angle_range = \[1.0, -1.0\] is invalid"),
    (BASE, ["model.num_qubit=3"], r"unknown key model.num_qubit for model.kind = 'hybrid-pca'"),
    (BASE, ["model.seed=3"], r"model.seed is set by the pipeline"),
    (BASE, ["backend.name='aer-nosy'"], r"backend.name: unknown backend 'aer-nosy'"),
    (BASE, ["unlearn.methods=['ga', 'forget-me']"], r"unlearn.methods: unknown method\(s\) "
     r"forget-me; choose from: .*scrub"),
    (BASE, ["unlearn.methods=['ga']", "unlearn.params.ga.epochz=3"],
     r"unlearn.params.ga: method 'ga' has no hyperparameter 'epochz'; its hyperparameters"),
    (BASE, ["unlearn.methods=['ga']", "unlearn.params.ga.epochs='many'"],
     r"ga.epochs must be of type int like the default 5"),
    (BASE, ["unlearn.params.scrub.epochs=3"], r"'scrub' is not in unlearn.methods"),
    (BASE, ["unlearn.methods=['ga']", "evaluation.fq_methods=['scrub']"],
     r"fq_methods: scrub not in unlearn.methods"),
    (BASE, ["evaluation.fq_models=2"], r"evaluation.fq_models = 2 is invalid: must be >= 6"),
    # names become folders and file names: never paths
    (BASE, ["experiment.name='../x'"], r"experiment.name = '\.\./x' is invalid: must be a "
     r"plain folder name.*--out"),
    (BASE, ["experiment.name='/abs/path'"], r"experiment.name = '/abs/path' is invalid"),
    (BASE, ["experiment.name=''"], r"experiment.name = '' is invalid"),
    (BASE, ["scenario.0.name='../../up'"], r"scenario\[0\].name = '\.\./\.\./up' is invalid"),
    (BASE, ["scenario.0.name='a__b'"], r"without '\.\.' or '__'"),
    # classes are checked against the dataset's registry entry, before any data is read
    (BASE, ["scenario.0.classes=[7]"], r"scenario\[0\].classes = \[7\]: there are 3 classes, "
     r"0..2 \(0 setosa, 1 versicolor, 2 virginica\); class 7 does not exist"),
    (BASE, ["data.classes=[0, 2]", "scenario.0.classes=[2]"], r"2 classes after data.classes "
     r"renumbers them, 0..1 \(0 = setosa \(label 0\), 1 = virginica \(label 2\)\)"),
    (BASE, ["data.classes=[3]"], r"data.classes = \[3\]: iris has classes 0..2"),
    (BASE, ["data.classes=[1, 1]"], r"list each at most once"),
    (BASE, ["data.classes=[1]"], r"needs at least 2 classes"),
    (BASE, ["data.options={num_spins=4}"], r"data.options: iris has no option\(s\) num_spins"),
    (BASE.replace('"iris"', '"xxz"'), ["data.options={phases='four'}"],
     r"data.options: xxz: phases must be one of"),
    (BASE.replace('"iris"', '"mnist"'), ["scenario.0.classes=[10]"], r"class 10 does not exist"),
    (BASE, ["unlearn.methods=['scrub']", "unlearn.params.scrub.epochs=-1"],
     r"unlearn.params.scrub: scrub.epochs must be an integer >= 1, got -1"),
])
def test_bad_configs_name_the_problem(tmp_path, text, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text), overrides)


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("nope.toml")
