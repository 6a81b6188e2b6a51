"""``qunlearn sweep``: one ordinary run per (grid point, placement, noise setting), then one
combined table.

Every run is a normal ``qunlearn run`` directory (``OUT/exact`` for the reference,
``OUT/<where>/<label>`` otherwise; with a ``[sweep.grid]``, the same under
``OUT/grid/<point>/``), with its own lock, config record and file index. Runs that
train on the same backend share their work: the trained teachers and oracles through the model
cache, and the unlearned models through the first run's ``unlearned/`` folder (a run reuses a
donor's file whose stored key matches its own). So evaluation-only noise costs evaluations,
never training. Grid points never share run folders or unlearned models; their trained
models meet only in the model cache, which keys on everything that determines a model (so a
point varying only ``unlearn.*`` rightly reuses the teacher of another). A finished setting is
skipped, making a sweep resumable.

The sweep folder itself is locked while the sweep runs and bound to the experiment without its
``[sweep]`` section: the grid may grow (new levels run alone, finished ones are reused, the
combined table and report are rebuilt), but another experiment is refused.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiskit_unlearn.execute import Executor
from qiskit_unlearn.storage import digest, utc_now
from qiskit_unlearn.sweep.axes import GridPoint, expand_grid, point_config
from qiskit_unlearn.sweep.grid import REFERENCE_RUN, Run, SweepError, describe, expand_sweep

MARKER = "sweep-run.json"
#: Per-run tables combined at the sweep root (when a run wrote them), grid and noise columns
#: added: forgetting quality, and memorisation (written by runs that estimate it).
EXTRA_TABLES = ("forgetting_quality.csv", "memorisation.csv")


@dataclass(frozen=True)
class Job:
    """One run of the sweep, a noise run at one grid point, with what its place in the sweep
    makes of it: the run directory (relative to the sweep folder) and the columns every row
    of the run carries (grid columns, then noise columns)."""

    point: GridPoint
    run: Run
    path: str = field(init=False, compare=False)
    columns: dict[str, Any] = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", self.point.prefix + self.run.path)
        object.__setattr__(self, "columns", {**self.point.columns, **self.run.columns})


def plan(cfg: Mapping[str, Any]) -> list[Run]:
    """The reference run followed by every (placement, setting) of ``cfg["sweep"]``."""
    if "sweep" not in cfg:
        raise SweepError("the config has no [sweep] section; add one (see experiments/"
                         "noise-iris.toml) or use 'qunlearn run' for a single run")
    return [REFERENCE_RUN, *expand_sweep(cfg["sweep"])]


def jobs_of(cfg: Mapping[str, Any]) -> list[Job]:
    """Every run of the sweep: each grid point's whole noise plan, points in grid order."""
    runs = plan(cfg)
    return [Job(p, r) for p in expand_grid(cfg["sweep"].get("grid")) for r in runs]


def run_config(cfg: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """The ordinary config of one run: noisy ``[backend]`` when training is noisy."""
    out = copy.deepcopy({k: v for k, v in cfg.items() if k != "sweep"})
    if run.where in ("train", "both"):
        out["backend"] = copy.deepcopy(run.setting.backend)
    if not run.setting.is_reference:
        note = f"noise {run.setting.label} ({run.where})"
        desc = out["experiment"]["description"]
        out["experiment"]["description"] = f"{desc} · {note}" if desc else note
    return out


def eval_backend(cfg: Mapping[str, Any], run: Run) -> dict[str, Any] | None:
    """The backend models are evaluated on (None: the one they were trained on); a mitigated
    run evaluates on its noisy backend with the mitigation options added."""
    mitigation = copy.deepcopy(run.setting.mitigation_options)
    if run.where == "eval" or (run.where == "both" and mitigation):
        return {**copy.deepcopy(run.setting.backend), **mitigation}
    if run.where == "train":
        return copy.deepcopy(dict(cfg["backend"]))
    return None


def _train_key(cfg: Mapping[str, Any], job: Job) -> str:
    return json.dumps([job.point.label, run_config(cfg, job.run)["backend"]], sort_keys=True)


def preflight(cfg: Mapping[str, Any], runs: Sequence[Run]) -> None:
    """Fail before any work on what would fail mid-sweep: no quantum layer, an inexact
    reference, or a backend table the model's circuit cannot run on (unknown options, a device
    with too few qubits, a density matrix too wide). Checked for every distinct model of the
    grid; a sweep of the reference alone (a grid without noise) needs none of this."""
    if all(run.setting.is_reference for run in runs):
        return
    seen: set[str] = set()
    for point in expand_grid(cfg.get("sweep", {}).get("grid")):
        pcfg = point_config(cfg, point)
        key = json.dumps([pcfg["model"], pcfg["backend"]], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            _preflight_point(pcfg, runs)
        except SweepError as exc:
            raise SweepError(f"grid point {point.label}: {exc}" if point.values else str(exc)
                             ) from None


def _preflight_point(cfg: Mapping[str, Any], runs: Sequence[Run]) -> None:
    from qiskit.circuit import ParameterVector, QuantumCircuit

    from qiskit_unlearn.backends.base import BackendError, backend_entry
    from qiskit_unlearn.models import MODELS
    from qiskit_unlearn.qnn import make_qnn

    n = cfg["model"].get("num_qubits")
    if MODELS[cfg["model"]["kind"]].classical or not isinstance(n, int):
        raise SweepError(f"model.kind = {cfg['model']['kind']!r} has no quantum layer (no "
                         "model.num_qubits); noise sweeps need a hybrid or VQC model")
    base = dict(cfg["backend"])
    if not backend_entry(base["name"]).exact or {"shots", "precision"} & set(base):
        raise SweepError(f"backend = {base} is not exact; a sweep's reference is the config's "
                         "[backend], so use name = \"statevector\" (or \"aer\" without shots)")
    xs = ParameterVector("x", n)
    circuit = QuantumCircuit(n)
    for q in range(n):
        circuit.rx(xs[q], q)
    if n > 1:
        circuit.cz(0, 1)
    seen: set[str] = set()
    for run in runs:
        table = run.setting.backend
        if table is None or json.dumps(table, sort_keys=True) in seen:
            continue
        seen.add(json.dumps(table, sort_keys=True))
        try:
            make_qnn(circuit, input_params=list(xs), backend=dict(table))
        except BackendError as exc:
            raise SweepError(f"noise setting {run.setting.label!r} ({describe(run.setting)}) "
                             f"cannot run the {n}-qubit model: {exc}") from None


def fingerprint(cfg: Mapping[str, Any], backend: Mapping[str, Any] | None,
                columns: Mapping[str, Any]) -> str:
    return digest({"cfg": cfg, "eval_backend": backend, "columns": columns})[:24]


def _silent(*_: Any) -> None:
    """Per-method lines go to each run's log.txt; the sweep prints one line per run."""


def execute(task: Mapping[str, Any], executor: Executor | None = None) -> dict[str, Any]:
    """Run one setting (its units on ``executor``) unless its directory already holds results
    for the same task."""
    from qiskit_unlearn.run import run_experiment
    from qiskit_unlearn.storage import FileError, read_json, write_json

    run_dir = Path(task["run_dir"])
    marker = run_dir / MARKER
    if (run_dir / "results.csv").is_file() and marker.is_file():
        try:
            done = read_json(marker, fix="")
        except FileError:
            done = {}  # a damaged marker only costs the check below: the run says it finished
        if done.get("fingerprint") == task["fingerprint"]:
            return {"status": "skipped", "seconds": done.get("seconds", math.nan)}
    start = time.perf_counter()
    from qiskit_unlearn.report import write_report

    run_experiment(task["cfg"], run_dir, cache_dir=Path(task["cache_dir"]),
                   progress=task["progress"], echo=_silent,
                   report=write_report if task["report"] else None,
                   eval_backend=task["eval_backend"], extra_columns=task["columns"],
                   donors=tuple(Path(d) for d in task["donors"]), executor=executor)
    seconds = time.perf_counter() - start
    write_json(marker, {"fingerprint": task["fingerprint"], "seconds": seconds}, indent=1)
    return {"status": "ran", "seconds": seconds}


def _schedule(cfg: Mapping[str, Any], jobs: Sequence[Job]) -> dict[str, list[Job]]:
    """Producer runs (the first of each grid point to train on each backend; by path) and the
    runs reusing their models."""
    producers: dict[str, str] = {}
    order: dict[str, list[Job]] = {}
    for job in jobs:
        key = _train_key(cfg, job)
        if key in producers:
            order[producers[key]].append(job)
        else:
            producers[key] = job.path
            order[job.path] = []
    return order


def run_sweep(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None,
              progress: bool = True, echo: Callable[[str], Any] = print,
              executor: Executor | None = None, run_reports: bool = True) -> Path:
    """Run every setting of ``cfg["sweep"]`` into ``out_dir`` and write the combined results,
    plots, report and manifest.

    Settings run one after another, producers first, so those reusing a producer's models
    find them; a finished setting is skipped, so an interrupted (or grown) sweep resumes.

    Args:
        cfg: A validated config with a ``[sweep]`` section (:func:`load_config`).
        out_dir: The sweep folder: new, empty, or holding a sweep of the same experiment
            (the ``[sweep]`` section may differ). It is locked while the sweep runs.
        cache_dir: The model cache shared by the sweep's runs; ``None`` uses
            ``out_dir/models``.
        progress: Whether to show progress bars.
        echo: Called with each line of console output.
        executor: Runs every setting's units of work; ``None`` runs them in this process.
        run_reports: Whether each run directory also gets its own report
            (:func:`qiskit_unlearn.report.write_report`).

    Returns:
        ``out_dir``.

    Raises:
        SweepError: If the config has no ``[sweep]`` section, its model has no quantum layer,
            its ``[backend]`` is not exact, or a noise setting cannot run the model (checked
            before any work).
        qiskit_unlearn.errors.RunDirError: If ``out_dir`` holds another experiment, is a
            non-empty folder that is not a sweep, or is locked by another process.
    """
    from qiskit_unlearn.execute import InProcessExecutor
    from qiskit_unlearn.run.rundir import Manifest, claim, config_fingerprint, locked

    executor = executor or InProcessExecutor()
    preflight(cfg, plan(cfg))
    out_dir = Path(out_dir)
    base = {k: v for k, v in cfg.items() if k != "sweep"}
    with locked(out_dir, "qunlearn sweep"):
        found = claim(out_dir, base)
        manifest = Manifest(out_dir, {**found.manifest, "status": "running",
                                      "config": base, "config_sha256": config_fingerprint(base),
                                      "sweep": cfg["sweep"], "started": utc_now()})
        manifest.save()
        _sweep(cfg, jobs_of(cfg), out_dir, manifest, cache_dir=cache_dir, progress=progress,
               echo=echo, executor=executor, run_reports=run_reports)
    return out_dir


def _sweep(cfg: Mapping[str, Any], runs: Sequence[Job], out_dir: Path, manifest: Any, *,
           cache_dir: Path | None, progress: bool, echo: Callable[[str], Any],
           executor: Executor,
           run_reports: bool) -> None:
    from qiskit_unlearn.run.outputs import package_versions
    from qiskit_unlearn.sweep.report import write_sweep_report

    cache = Path(cache_dir) if cache_dir is not None else out_dir / "models"
    t0 = time.perf_counter()
    consumers = _schedule(cfg, runs)
    donors = {other.path: [str(out_dir / path)] for path, followers in consumers.items()
              for other in followers}
    tasks = {}
    configs = {p.label: point_config(cfg, p) for p in dict.fromkeys(j.point for j in runs)}
    for job in runs:
        pcfg = configs[job.point.label]
        rcfg, backend = run_config(pcfg, job.run), eval_backend(pcfg, job.run)
        tasks[job.path] = {"cfg": rcfg, "run_dir": str(out_dir / job.path),
                           "cache_dir": str(cache), "eval_backend": backend,
                           "columns": job.columns, "donors": donors.get(job.path, []),
                           "fingerprint": fingerprint(rcfg, backend, job.columns),
                           "progress": progress, "report": run_reports}
    results: dict[str, dict[str, Any]] = {}
    points = f" at {len(configs)} grid points" if runs[0].point.values else ""
    echo(f"sweep: {len(runs)} runs ({len(consumers)} trained, "
         f"{len(runs) - len(consumers)} reusing trained models){points} into {out_dir}")

    def finished(path: str, result: dict[str, Any]) -> None:
        results[path] = result
        echo(f"[{len(results)}/{len(runs)}] {path}: {result['status']} "
             f"({result['seconds']:.1f} s)")

    for path, followers in consumers.items():  # each producer before the runs reusing it
        for name in (path, *(other.path for other in followers)):
            finished(name, execute(tasks[name], executor))
    rows = combine(out_dir, runs)
    extras = [name for name in EXTRA_TABLES if combine(out_dir, runs, name)]
    manifest.data.update({
        "experiment": cfg["experiment"]["name"], "description": cfg["experiment"]["description"],
        "finished": utc_now(), "status": "finished",
        "seeds": cfg["experiment"]["seeds"], "execution": executor.describe(),
        "cpu_count": os.cpu_count(), "versions": package_versions(), "rows": rows,
        "timings": {"total": time.perf_counter() - t0},
        "runs": [{"dir": job.path, "grid": job.point.label, "where": job.run.where,
                  "label": job.run.setting.label, "kind": job.run.setting.kind,
                  "level": job.run.setting.level, "backend": job.run.setting.backend,
                  "eval_backend": tasks[job.path]["eval_backend"],
                  "trained_on": tasks[job.path]["cfg"]["backend"],
                  "shots": job.run.setting.shots, "precision": job.run.setting.precision,
                  **results[job.path]} for job in runs]})
    for name in ("results.csv", *extras):
        manifest.record(name)
    write_sweep_report(out_dir)


def combine(out_dir: Path, runs: Sequence[Job], name: str = "results.csv") -> int:
    """The sweep's table ``name``: every run's rows, in run order; returns the row count.

    ``results.csv`` rows carry the grid and noise columns already; the extra tables
    (:data:`EXTRA_TABLES`) get them here, and are written only when some run has one.
    """
    from qiskit_unlearn.storage import write_csv

    rows: list[dict[str, str]] = []
    for job in runs:
        path = out_dir / job.path / name
        if name != "results.csv" and not path.is_file():
            continue
        added = {} if name == "results.csv" else {k: str(v) for k, v in job.columns.items()}
        with path.open(newline="", encoding="utf-8") as fh:
            rows += [{**added, **row} for row in csv.DictReader(fh)]
    if not rows and name != "results.csv":
        (out_dir / name).unlink(missing_ok=True)
        return 0
    write_csv(out_dir / name, rows)
    return len(rows)
