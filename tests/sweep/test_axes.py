"""[sweep.grid]: every value and point is validated at load time, naming the grid key and value;
points expand in grid order with folder-safe labels and carry their values as columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiskit_unlearn.config import ConfigError, apply_overrides, validate_config
from qiskit_unlearn.sweep import SweepError, expand_grid, load_config, validate_sweep
from qiskit_unlearn.sweep.axes import NO_GRID, point_config, short_names
from qiskit_unlearn.sweep.run import jobs_of

BASE = """
[experiment]
name = "axes"
[data]
dataset = "iris"
preprocess = "pca-angles"
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
[[scenario]]
kind = "class"
[unlearn]
methods = ["retrain", "finetune"]
"""


def _load(tmp_path: Path, sweep: str) -> dict:
    path = tmp_path / "grid.toml"
    path.write_text(BASE + sweep, encoding="utf-8")
    return load_config(path)


def test_points_are_the_cross_product_in_grid_order_with_folder_safe_labels():
    grid = {"model.layers": [1, 2], "model.entanglement": ["none", "ring"],
            "unlearn.params.finetune.lr": [0.001], "unlearn.params.ga.lr": [1e-05],
            "model.head_hidden": [[8, 4]]}
    points = expand_grid(validate_sweep({"grid": grid})["grid"])
    assert [p.label.split(",")[:2] for p in points] == [
        ["layers=1", "entanglement=none"], ["layers=1", "entanglement=ring"],
        ["layers=2", "entanglement=none"], ["layers=2", "entanglement=ring"]]
    # keys ending alike are told apart by the shortest distinguishing suffix
    assert points[0].label.split(",")[2:] == ["finetune.lr=0.001", "ga.lr=1e-05",
                                              "head_hidden=8-4"]
    assert points[3].columns == {"model.layers": "2", "model.entanglement": "ring",
                                 "unlearn.params.finetune.lr": "0.001",
                                 "unlearn.params.ga.lr": "1e-05", "model.head_hidden": "[8, 4]",
                                 "grid": points[3].label}
    assert points[3].prefix == f"grid/{points[3].label}/"
    assert expand_grid(None) == [NO_GRID] and NO_GRID.columns == {} and NO_GRID.prefix == ""
    assert short_names(["a.lr", "b.lr", "model.layers"]) == {
        "a.lr": "a.lr", "b.lr": "b.lr", "model.layers": "layers"}


def test_a_grid_alone_runs_the_reference_at_every_point_and_point_configs_match_load_time(
        tmp_path):
    cfg = _load(tmp_path, '[sweep.grid]\n"model.layers" = [1, 2]\n"train.lr" = [1, 0.5]\n'
                          '"scenario.0.classes" = [[0], [2]]\n')
    # values come back as the schema normalises them (train.lr is a float)
    assert cfg["sweep"]["grid"]["train.lr"] == [1.0, 0.5]
    jobs = jobs_of(cfg)
    assert len(jobs) == 8 and {j.run.path for j in jobs} == {"exact"}
    assert jobs[0].path == "grid/layers=1,lr=1,classes=0/exact"
    raw = {"experiment": {"name": "axes"}, "data": {"dataset": "iris",
                                                     "preprocess": "pca-angles"},
           "model": {"kind": "hybrid-pca", "num_qubits": 2, "layers": 1},
           "scenario": [{"kind": "class"}], "unlearn": {"methods": ["retrain", "finetune"]}}
    for job in jobs:
        # the point's config is exactly the config of its values set by --set, validated
        # (automatic scenario names follow the values)
        assert point_config(cfg, job.point) == validate_config(
            apply_overrides(raw, job.point.overrides()))
    assert point_config(cfg, jobs[-1].point)["scenario"][0]["name"] == "class-2"
    assert "sweep" not in point_config(cfg, NO_GRID)


def test_unquoted_dotted_keys_and_set_overrides_reach_the_grid(tmp_path):
    cfg = _load(tmp_path, "[sweep.grid]\nmodel.layers = [1, 2]\n")
    assert cfg["sweep"]["grid"] == {"model.layers": [1, 2]}
    path = tmp_path / "grid.toml"
    cfg = load_config(path, ["sweep.grid.model.layers=[3]", "sweep.grid.train.epochs=[1, 2]"])
    assert cfg["sweep"]["grid"] == {"model.layers": [3], "train.epochs": [1, 2]}
    # validating the validated section again changes nothing
    assert validate_sweep(cfg["sweep"]) == cfg["sweep"]


@pytest.mark.parametrize(("grid", "message"), [
    ('"model.layerz" = [1, 2]', r'sweep.grid."model.layerz"[0] = 1: unknown key model.layerz'),
    ('"model.entanglement" = ["none", "linear", "star"]',
     'sweep.grid."model.entanglement"[2] = \'star\': entanglement must be one of'),
    ('"model.layers" = [1, 0]', r'sweep.grid."model.layers"[1] = 0: reps must be an integer'),
    ('"train.epochs" = [2, "many"]',
     'sweep.grid."train.epochs"[1] = \'many\': train.epochs must be a integer'),
    ('"unlearn.params.finetune.lr" = [-1.0]',
     r'sweep.grid."unlearn.params.finetune.lr"[0] = -1.0: unlearn.params.finetune'),
    ('"scenario.0.classes" = [[0], [5]]', r'sweep.grid."scenario.0.classes"[1] = [5]'),
    ('"backend.name" = ["aer"]', r'sweep.grid."backend.name": the grid cannot set [backend] '
                                 r'keys: the noise families of [sweep] own the backend'),
    ('"experiment.seeds" = [[0]]', r'sweep.grid."experiment.seeds": the grid cannot set '
                                   r'[experiment] keys'),
    ('"sweep.where" = ["eval"]', r'sweep.grid."sweep.where": the grid cannot set [sweep] keys'),
    ('"modle.layers" = [1]', 'sweep.grid."modle.layers": unknown section \'modle\''),
    ('"layers" = [1]', r'sweep.grid."layers": a grid key is a dotted config path'),
    ('"model.layers" = []', r'sweep.grid."model.layers" must be a non-empty list'),
    ('"model.layers" = 3', r'sweep.grid."model.layers" must be a non-empty list'),
    ('"model.layers" = [1, 2, 1]', r'sweep.grid."model.layers"[2] = 1 is listed twice'),
    ('"model.layers" = [{ a = 1 }]', r"grid values are strings, numbers, true/false or lists"),
    ('"train.lr" = [0.5, "0.5"]', r"two points share the folder name 'lr=0.5'"),
])
def test_bad_grids_fail_at_load_time_naming_the_key_and_value(tmp_path, grid, message):
    with pytest.raises(ConfigError) as info:  # load_config names the file first
        _load(tmp_path, f"[sweep.grid]\n{grid}\n")
    assert message in str(info.value)


def test_a_mistake_in_the_base_config_is_reported_as_itself(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(BASE.replace('"finetune"]', '"finetune", "bogus"]')
                    + '[sweep.grid]\n"model.layers" = [1, 2]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unlearn\.methods: unknown method\(s\) bogus") as info:
        load_config(path)
    assert "sweep.grid" not in str(info.value)


def test_an_empty_sweep_still_asks_for_noise_or_a_grid():
    with pytest.raises(SweepError, match=r"or a \[sweep\.grid\] of config values"):
        validate_sweep({"where": "eval"})
    with pytest.raises(SweepError, match=r"sweep\.grid must be a table"):
        validate_sweep({"grid": {}})


def test_each_point_runs_the_whole_noise_plan_and_shares_models_only_within_itself(tmp_path):
    from qiskit_unlearn.sweep.run import _schedule

    cfg = _load(tmp_path, '[sweep]\nwhere = "eval"\nreadout = [0.1]\n[sweep.train]\n'
                          'depolarizing = [0.05]\n[sweep.grid]\n"model.layers" = [1, 2]\n')
    jobs = jobs_of(cfg)
    assert [j.path for j in jobs] == [
        f"grid/layers={n}/{run}" for n in (1, 2)
        for run in ("exact", "eval/readout-0.1", "train/depolarizing-0.05")]
    assert jobs[1].columns["model.layers"] == "1" and jobs[1].columns["noise"] == "readout-0.1"
    # per point: the reference trains, its noisy evaluation reuses those models, noisy
    # training trains its own; nothing is shared across points
    schedule = {k: [j.path for j in v] for k, v in _schedule(cfg, jobs).items()}
    assert schedule == {f"grid/layers={n}/{p}": ([f"grid/layers={n}/eval/readout-0.1"]
                                                 if p == "exact" else [])
                        for n in (1, 2) for p in ("exact", "train/depolarizing-0.05")}
