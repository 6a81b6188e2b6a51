"""qunlearn sweep over a config grid end to end (tiny Iris, 2 qubits, 2 epochs, 2 seeds): rows
and columns, one trained model per point, --jobs 2 = --jobs 1, resume, combined extra tables,
figures with 95 % bands and the report's grid sections."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection

import qiskit_unlearn.run
from qiskit_unlearn.report.style import Styles
from qiskit_unlearn.sweep import load_config, run_sweep, write_sweep_report
from qiskit_unlearn.sweep.gridplots import GridData, memorisation_figure, method_figure
from qiskit_unlearn.sweep.run import combine, jobs_of

CONFIG = """
[experiment]
name = "tiny-grid"
seeds = [0, 1]
[data]
dataset = "iris"
val_size = 0.2
preprocess = "pca-angles"
angle_range = [-1.5707963, 1.5707963]
[model]
kind = "hybrid-pca"
num_qubits = 2
layers = 1
head_hidden = 8
[train]
epochs = 2
lr = 0.1
batch_size = 16
patience = 2
[[scenario]]
kind = "class"
classes = [0]
[unlearn]
methods = ["retrain", "finetune"]
[sweep.grid]
"model.layers" = [1, 2]
"model.entanglement" = ["none", "linear"]
"""
POINTS = ["layers=1,entanglement=none", "layers=1,entanglement=linear",
          "layers=2,entanglement=none", "layers=2,entanglement=linear"]
TIMING = {"seconds", "retrain_seconds", "rte"}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _config(tmp: Path, text: str = CONFIG) -> dict:
    path = tmp / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    cfg = _config(tmp)
    lines: list[str] = []
    out = run_sweep(cfg, tmp / "out", cache_dir=tmp / "cache", progress=False,
                    echo=lines.append, run_reports=False)
    return cfg, out, lines


def test_rows_carry_the_grid_columns_and_runs_nest_under_grid(sweep):
    _, out, lines = sweep
    assert lines[0].startswith("sweep: 4 runs (4 trained, 0 reusing trained models) at 4 grid "
                               "points")
    rows = _rows(out / "results.csv")
    assert len(rows) == 4 * 3 * 2  # points x (teacher, oracle, finetune) x seeds
    assert list(rows[0])[1:4] == ["model.layers", "model.entanglement", "grid"]
    assert [r["grid"] for r in rows[::6]] == POINTS
    for r in rows:
        assert r["grid"] == f"layers={r['model.layers']},entanglement={r['model.entanglement']}"
        assert (r["noise"], r["noise_where"]) == ("exact", "nowhere")
    for point in POINTS:
        assert (out / "grid" / point / "exact" / "results.csv").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["dir"] for r in manifest["runs"]] == [f"grid/{p}/exact" for p in POINTS]
    assert manifest["sweep"]["grid"] == {"model.layers": [1, 2],
                                         "model.entanglement": ["none", "linear"]}


def test_every_point_trains_its_own_models(sweep):
    _, out, _ = sweep
    keys, weights = set(), {}
    for point in POINTS:
        run = json.loads((out / "grid" / point / "exact" / "manifest.json").read_text())
        teacher = run["models"]["class-0-seed0-teacher"]
        assert teacher["cache"] == "miss"  # trained here, not taken from another point
        keys.add(teacher["cache_key"])
        assert not any(m["resumed"] for m in run["methods"].values())
        state = torch.load(out / "grid" / point / "exact" / "checkpoints" /
                           "class-0-seed0-teacher.pt", weights_only=True)
        assert state["spec"]["kwargs"]["layers"] == int(point[7])
        assert state["spec"]["kwargs"]["entanglement"] == point.split("=")[-1]
        weights[point] = state["model"]
    assert len(keys) == 4
    # two layers: the CZ layer between them changes what is learnt (after the last layer it
    # commutes with the Z readout, so at one layer entanglement cannot matter)
    a, b = weights[POINTS[2]], weights[POINTS[3]]
    assert any(not torch.equal(a[k], b[k]) for k in a)
    key = "quantum.connector.weight"
    assert weights[POINTS[0]][key].shape != a[key].shape  # 6 weights per layer


def test_two_jobs_give_the_same_metrics_as_one(sweep, tmp_path):
    from qiskit_unlearn.execute import ProcessExecutor

    cfg, out, _ = sweep
    run_sweep(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
              echo=lambda *_: None, run_reports=False, executor=ProcessExecutor(2))
    one, two = _rows(out / "results.csv"), _rows(tmp_path / "out" / "results.csv")
    assert len(one) == len(two)
    for a, b in zip(one, two, strict=True):
        assert {k: v for k, v in a.items() if k not in TIMING} == \
            {k: v for k, v in b.items() if k not in TIMING}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["execution"] == {"executor": "processes", "threads": 1, "jobs": 2}


def test_a_killed_sweep_resumes_with_the_runs_it_had_not_finished(sweep, tmp_path,
                                                                  monkeypatch):
    cfg, out, _ = sweep
    real = qiskit_unlearn.run.run_experiment
    calls: list[Path] = []

    def dies_on_the_third(*args, **kwargs):
        calls.append(Path(args[1]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(qiskit_unlearn.run, "run_experiment", dies_on_the_third)
    cache = out.parent / "cache"  # the trained models are there: this test costs evaluations
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, tmp_path / "out", cache_dir=cache, progress=False,
                  echo=lambda *_: None, run_reports=False)
    monkeypatch.setattr(qiskit_unlearn.run, "run_experiment", real)
    lines: list[str] = []
    run_sweep(cfg, tmp_path / "out", cache_dir=cache, progress=False, echo=lines.append,
              run_reports=False)
    status = [line.split(": ")[1].split(" ")[0] for line in lines[1:]]
    assert status == ["skipped", "skipped", "ran", "ran"]
    resumed = _rows(tmp_path / "out" / "results.csv")
    assert [{k: v for k, v in r.items() if k not in TIMING} for r in resumed] == \
        [{k: v for k, v in r.items() if k not in TIMING} for r in _rows(out / "results.csv")]


def test_figures_draw_95_percent_bands_and_the_report_has_a_section_per_key(sweep):
    cfg, out, _ = sweep
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs == ["grid_entanglement_class-0.png", "grid_layers_class-0.png"]
    data = GridData.load(out, cfg["sweep"]["grid"])
    layers, entanglement = data.axes
    fig = method_figure(data, layers, "class-0", Styles([]))
    # one panel per entanglement value; a filled band per method on each numeric panel
    assert [ax.get_title() for ax in fig.axes[:2]] == ["entanglement = none",
                                                       "entanglement = linear"]
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3  # teacher, oracle, finetune
    # the band is the bootstrap CI over the two seeds, around their mean
    values = data.values("class-0", "finetune", "test_accuracy",
                         {"model.layers": "1", "model.entanglement": "none"})
    mean, low, high = data.stat(values)
    assert len(values) == 2 and low <= mean <= high
    categorical = method_figure(data, entanglement, "class-0", Styles([]))
    assert categorical.axes[0].containers  # error bars on the categorical axis
    FigureCanvasAgg(categorical).draw()
    bottom = categorical.axes[-2]  # bottom row, first panel: the shared x axis is labelled
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["none", "linear"]
    report = (out / "report.md").read_text()
    for key in ("model.layers", "model.entanglement"):
        assert f"## Grid: `{key}`" in report
    assert "(plots/grid_layers_class-0.png)" in report
    assert "| finetune | " in report and "[" in report.split("**Test accuracy**")[1]
    assert "The teacher's test accuracy is highest at" in report


def test_extra_tables_are_combined_with_grid_columns_and_memorisation_is_plotted(sweep,
                                                                                 tmp_path):
    cfg, out, _ = sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    jobs = jobs_of(cfg)
    for i, job in enumerate(jobs):
        run = copy / job.path
        with (run / "memorisation.csv").open("w", encoding="utf-8") as fh:
            fh.write("scenario,seed,memorisation,memorisation_prob,num_out_models,"
                     "num_examples\n")
            for seed in (0, 1):
                fh.write(f"class-0,{seed},{0.1 * i + 0.01 * seed:.2f},{0.05 * i:.2f},8,40\n")
        if i == 0:  # a table that only some runs wrote
            (run / "forgetting_quality.csv").write_text(
                "scenario,seed,method,forgetting_quality\nclass-0,0,finetune,0.5\n",
                encoding="utf-8")
    assert combine(copy, jobs, "memorisation.csv") == 8
    assert combine(copy, jobs, "forgetting_quality.csv") == 1
    memo = _rows(copy / "memorisation.csv")
    assert list(memo[0])[:4] == ["model.layers", "model.entanglement", "grid", "noise"]
    assert memo[-1]["grid"] == POINTS[-1] and memo[-1]["memorisation"] == "0.31"
    fq = _rows(copy / "forgetting_quality.csv")
    assert fq[0]["grid"] == POINTS[0] and fq[0]["noise_where"] == "nowhere"
    report = write_sweep_report(copy).read_text()
    assert (copy / "plots" / "grid_layers_memorisation.png").is_file()
    assert "Memorisation is lowest at layers = 1" in report
    data = GridData.load(copy, cfg["sweep"]["grid"])
    fig = memorisation_figure(data, data.axes[0])
    assert any(isinstance(c, PolyCollection) for c in fig.axes[0].collections)


def test_error_bars_survive_a_mean_that_rounds_past_its_interval():
    """Equal seeds give an interval equal to the mean up to rounding; matplotlib refuses a
    negative error bar, which once stopped a finished sweep at its report."""
    from matplotlib.figure import Figure

    from qiskit_unlearn.sweep.gridplots import Axis, draw_points

    ax = Figure().subplots()
    axis = Axis.of("model.entanglement", ["none", "ring"], "entanglement")
    mean = 0.1 + 0.2  # 0.30000000000000004
    draw_points(ax, axis, [(0.0, mean, 0.3, 0.3), (1.0, 0.5, 0.4, 0.6)], "C0", "o", 0.0, 0.2)
    assert ax.containers  # the error bars were drawn
