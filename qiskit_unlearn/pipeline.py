"""``qunlearn run``: data → model → train teacher and retrain oracle, per scenario and seed.

Flow (one way): load and split the data (seeded, stratified), fit the preprocessing on the
training split only, build each forget scenario, train the teacher on the scenario's training
data and the oracle on the retain set only, run every unlearning method on a copy of the
teacher, evaluate everything on retain / forget / validation / test, and write a run directory.

The run directory is a record (:mod:`qiskit_unlearn.rundir`): locked for the length of the
run, bound to one config, every file written atomically and indexed by its digest in the
manifest. Models come from :class:`~qiskit_unlearn.modelstore.ModelStore`: the run's own
finished files (a killed run resumes model by model), the shared cache, or fresh training.
A finished run is never rewritten: running it again reports it and returns.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.evaluate.suite import EvalSets, evaluate_model, landscape, split_logits
from qiskit_unlearn.experiment import (
    build_scenario,
    eval_sets,
    evaluated_on,
    method_params,
    mia_score,
    package_versions,
    preflight,
    prepare_data,
    unlearn_data,
)
from qiskit_unlearn.modelstore import ModelCache, ModelStore, default_cache_dir  # noqa: F401
from qiskit_unlearn.rundir import (
    CONFIG_FILE,
    FINISHED,
    RUNNING,
    Manifest,
    claim,
    config_fingerprint,
    locked,
    remove_stale_temporaries,
)
from qiskit_unlearn.storage import digest, json_safe, utc_now, write_csv, write_json
from qiskit_unlearn.train import predict_logits


def _logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"qunlearn.run.{run_dir}")
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in log.handlers:
        handler.close()
    log.handlers.clear()
    fh = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(fh)
    return log


@dataclass
class _Unit:
    """What every results row of one (seed, scenario) shares."""

    ident: dict[str, Any]
    sets: EvalSets
    original_logits: dict[str, np.ndarray]
    oracle_logits: dict[str, np.ndarray]
    retrain_seconds: float


def _row(cfg: Mapping[str, Any], unit: _Unit, method: str, model: torch.nn.Module,
         logits: Mapping[str, np.ndarray], seconds: float, circuits: Any,
         variant: str = "") -> dict[str, Any]:
    seed = unit.ident["seed"]
    row = {**unit.ident, "method": method, "variant": variant,
           **evaluate_model(logits, unit.original_logits, unit.oracle_logits, unit.sets,
                            mia=cfg["evaluation"]["mia"], seed=seed, mia_score=mia_score(cfg)),
           "seconds": seconds, "retrain_seconds": unit.retrain_seconds,
           "rte": unit.retrain_seconds / seconds if seconds > 0 else float("nan"),
           "circuit_evaluations": circuits}
    if cfg["evaluation"]["hessian"]:
        ev = cfg["evaluation"]
        found = landscape(model, unit.sets, top_k=ev["hessian_top_k"],
                          samples=ev["hessian_samples"], max_samples=ev["hessian_max_samples"],
                          seed=seed)
        row.update({k: v for k, v in found.items() if not isinstance(v, list)})
    return row


def _iterate(cfg: Mapping[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for seed in cfg["experiment"]["seeds"]:
        for sc in cfg["scenario"]:
            yield seed, sc


def _forgetting_quality(store: ModelStore, cfg: Mapping[str, Any], data: Mapping[str, Any],
                        sc: Any, teacher: torch.nn.Module, seed: int, tag: str,
                        eval_backend: Mapping[str, Any] | None, teacher_forget_logits: np.ndarray
                        ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """NeurIPS-2023-style forgetting quality and a U-LiRA-style attack for each method, and
    the forget examples' memorisation.

    M retrained models (fresh seeds, cached) and, per method, M unlearned models (the same
    teacher, M unlearning seeds) give each forget example M logit confidences per side. A
    retrain-vs-retrain row (two halves of the retrained models) is the reference score.
    The retrained models are also the "out" models of memorisation (Feldman & Zhang), the
    teacher (``teacher_forget_logits``, already computed) the "in" model. Outputs are
    measured on ``eval_backend`` like every other metric of the run.
    """
    from qiskit_unlearn.evaluate import forgetting_quality, logit_confidence, memorisation, ulira
    from qiskit_unlearn.unlearn import unlearn

    m = cfg["evaluation"]["fq_models"]
    fx, fy = sc.forget

    def forget_logits(model: torch.nn.Module) -> np.ndarray:
        return predict_logits(evaluated_on(model, eval_backend), fx).double().numpy()

    def confidences(logits: np.ndarray) -> np.ndarray:
        return logit_confidence(logits, fy, from_logits=True)

    out_logits = [forget_logits(store.trained(
        "fq-oracle", cfg, data, sc.retain, seed * 1000 + j + 1, f"{tag}-fq-oracle{j}",
        keep=False)[0]) for j in range(m)]
    retrained = np.array([confidences(lg) for lg in out_logits])
    mem = memorisation(teacher_forget_logits, np.array(out_logits), fy)
    mem_row = {"memorisation": mem.mean, "memorisation_prob": mem.mean_probability,
               "num_out_models": mem.num_out, "num_examples": mem.num_examples}
    half = m // 2
    baselines = {"retrain": (retrained[:half], retrained[half:2 * half])}
    methods = cfg["evaluation"]["fq_methods"] or [
        x for x in cfg["unlearn"]["methods"] if x != "retrain"]
    for method in methods:
        params = method_params(cfg, method)
        outs = [confidences(forget_logits(unlearn(
            method, teacher, unlearn_data(cfg, sc, data, seed * 1000 + j + 1), params).model))
            for j in range(m)]
        baselines[method] = (np.array(outs), retrained)
    rows = []
    for method, (u, r) in baselines.items():
        fq, lira = forgetting_quality(u, r), ulira(u, r)
        rows.append({"method": method, "forgetting_quality": fq.score,
                     "ulira_accuracy": lira.accuracy, "ulira_auc": lira.auc,
                     "num_unlearned_models": fq.num_unlearned,
                     "num_retrained_models": fq.num_retrained,
                     "reference": "retrain half vs half" if method == "retrain" else ""})
    return rows, mem_row


def run_experiment(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None,
                   progress: bool = True, echo: Callable[[str], Any] = print,
                   report: bool = True, eval_backend: Mapping[str, Any] | None = None,
                   extra_columns: Mapping[str, Any] | None = None,
                   donors: tuple[Path, ...] = ()) -> Path:
    """Run a validated config (see :mod:`qiskit_unlearn.config`); returns the run directory.

    Per seed and scenario: train (or load) the teacher and the retrain oracle, run every
    configured unlearning method on a copy of the teacher, evaluate everything against the
    teacher and the oracle, then write ``results.csv`` / ``results.json``, curves, the
    manifest and (``report=True``) the Markdown report with plots.

    ``eval_backend`` evaluates every model on another backend than it was trained on (noise
    studies: noise only at evaluation time); ``extra_columns`` are added to every row;
    ``donors`` are run directories whose finished unlearned models (same key) are reused.
    A folder holding a run of another config is refused (:class:`~qiskit_unlearn.rundir.
    RunDirError`, naming the keys that differ); one holding this finished run is returned
    untouched.
    """
    out_dir = Path(out_dir)
    options = {"eval_backend": eval_backend, "extra_columns": dict(extra_columns or {})}
    preflight(cfg, eval_backend)  # backends, devices, memory: fail before touching the folder
    with locked(out_dir, "qunlearn run"):
        found = claim(out_dir, cfg, options)
        if found.status == FINISHED:
            echo(f"{out_dir} already holds this finished run; nothing was changed (results: "
                 f"{out_dir / 'results.csv'}; 'qunlearn report {out_dir}' rebuilds its report)")
            return out_dir
        remove_stale_temporaries(out_dir)
        with _job_log(out_dir):
            return _run(cfg, out_dir, found.manifest, options, cache_dir=cache_dir,
                        progress=progress, echo=echo, report=report, donors=donors)


def _job_log(out_dir: Path) -> AbstractContextManager[Any]:
    """Every job of a model on an IBM backend (``ibm``, ``fake:<device>``) goes to
    ``RUN_DIR/hardware/run-jobs.jsonl`` before the run waits on it (other backends are left
    alone by the log)."""
    from qiskit_unlearn.hardware.journal import JobLog
    from qiskit_unlearn.qnn import routed_estimators

    return routed_estimators(JobLog(out_dir / "hardware" / "run-jobs.jsonl"))


def _start_manifest(out_dir: Path, cfg: Mapping[str, Any], previous: Mapping[str, Any],
                    options: Mapping[str, Any]) -> Manifest:
    now = utc_now()
    if previous:
        manifest = Manifest(out_dir, previous)
        for key in ("data", "timings", "models", "methods"):
            manifest.data.setdefault(key, {})
        manifest.data.setdefault("resumed", []).append(now)
    else:
        manifest = Manifest(out_dir, {
            "experiment": cfg["experiment"]["name"],
            "description": cfg["experiment"]["description"], "status": RUNNING,
            "started": now, "seeds": cfg["experiment"]["seeds"], "versions": package_versions(),
            "config": cfg, "config_sha256": config_fingerprint(cfg),
            "run_options": json_safe(dict(options)), "data": {}, "timings": {}, "models": {},
            "methods": {}, "files": {}})
        manifest.record(CONFIG_FILE)
    return manifest


def _run(cfg: Mapping[str, Any], out_dir: Path, previous: Mapping[str, Any],
         options: Mapping[str, Any], *, cache_dir: Path | None, progress: bool,
         echo: Callable[[str], Any], report: bool, donors: tuple[Path, ...]) -> Path:
    for sub in ("checkpoints", "history", "curves", "unlearned"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    log = _logger(out_dir)
    manifest = _start_manifest(out_dir, cfg, previous, options)
    if previous:
        echo(f"resuming the unfinished run in {out_dir} (started {previous.get('started')})")
        log.info("resuming the unfinished run started %s", previous.get("started"))

    def note(text: str) -> None:
        log.info(text)
        echo(f"  {text}")

    store = ModelStore(out_dir, manifest, ModelCache(cache_dir), progress, note)
    eval_backend = options["eval_backend"]
    faithful = cfg["unlearn"]["faithful"]
    rows: list[dict[str, Any]] = []
    fq_rows: list[dict[str, Any]] = []
    mem_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    data_by_seed: dict[int, dict[str, Any]] = {}

    def write_record(relative: str, value: Any) -> None:
        write_json(out_dir / relative, value, indent=1)
        manifest.record(relative)

    try:
        for seed, sc_cfg in _iterate(cfg):
            if seed not in data_by_seed:
                data_by_seed[seed] = prepare_data(cfg, seed)
                manifest.data["data"][str(seed)] = data_by_seed[seed]["metadata"]
                log.info("seed %d: data %s", seed, data_by_seed[seed]["metadata"]["sizes"])
            data = data_by_seed[seed]
            sc = build_scenario(sc_cfg, data, seed)
            name = sc_cfg["name"]
            echo(f"[seed {seed}] scenario {name}: {len(sc.retain_idx)} retain, "
                 f"{len(sc.forget_idx)} forget")
            trained = {}
            for role, xy in (("teacher", (sc.train_x, sc.train_y)), ("oracle", sc.retain)):
                tag = f"{name}-seed{seed}-{role}"
                start = time.perf_counter()
                model, info = store.trained(role, cfg, data, xy, seed, tag)
                manifest.data["timings"][tag] = time.perf_counter() - start
                manifest.data["models"][tag] = {k: v for k, v in info.items() if k != "history"}
                write_record(f"history/{tag}.json", info.get("history", []))
                trained[role] = model, info
            (teacher, tinfo), (oracle, oinfo) = trained["teacher"], trained["oracle"]
            sets = eval_sets(sc, data, faithful, seed)
            unit = _Unit({"experiment": cfg["experiment"]["name"], **options["extra_columns"],
                          "scenario": name, "scenario_kind": sc_cfg["kind"], "seed": seed,
                          "faithful": faithful}, sets,
                         split_logits(evaluated_on(teacher, eval_backend), sets),
                         split_logits(evaluated_on(oracle, eval_backend), sets),
                         float(oinfo["train_seconds"]))

            def add_row(row: dict[str, Any]) -> None:
                rows.append(row)
                log.info("%s: %s", row["method"], json.dumps(row, default=str))
                echo(f"  {row['method']:14s} retain {row['retain_accuracy']:.3f}  forget "
                     f"{row['forget_accuracy']:.3f}  test {row['test_accuracy']:.3f}  UQI "
                     f"{row['uqi']:+.3f}  MIA {row.get('mia_auc', float('nan')):.3f}  "
                     f"({row['seconds']:.1f} s)")

            add_row(_row(cfg, unit, "original", teacher, unit.original_logits,
                         float(tinfo["train_seconds"]), tinfo["circuit_evaluations"]))
            for method in cfg["unlearn"]["methods"] or ["retrain"]:
                if method == "retrain":  # the oracle *is* the retrained model
                    add_row(_row(cfg, unit, "retrain", oracle, unit.oracle_logits,
                                 unit.retrain_seconds, oinfo["circuit_evaluations"]))
                    continue
                params = method_params(cfg, method)
                tag = f"{name}__seed{seed}__{method}"
                key = digest(tinfo["cache_key"], method, params, seed, sc.forget_idx)
                res = store.unlearned(method, teacher, unlearn_data(cfg, sc, data, seed,
                                                                    progress),
                                      params, key, tag, donors)
                write_record(f"curves/{tag}.json", res["curve"])
                manifest.data["methods"][tag] = {k: res[k] for k in ("params", "info",
                                                                     "seconds", "resumed")}
                add_row(_row(cfg, unit, method, res["model"],
                             split_logits(evaluated_on(res["model"], eval_backend), sets),
                             float(res["seconds"]), res["circuit_evaluations"],
                             str(res["params"].get("variant", ""))))
            if cfg["evaluation"]["forgetting_quality"]:
                fq, mem = _forgetting_quality(store, cfg, data, sc, teacher, seed,
                                              f"{name}-seed{seed}", eval_backend,
                                              unit.original_logits["forget"])
                fq_rows += [{"scenario": name, "seed": seed, **r} for r in fq]
                mem_rows.append({"scenario": name, "seed": seed, **mem})
        _finish(out_dir, manifest, rows, fq_rows, time.perf_counter() - t0, mem_rows)
    finally:
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
    if report:
        from qiskit_unlearn.report import write_report

        write_report(out_dir)
    return out_dir


def _finish(out_dir: Path, manifest: Manifest, rows: list[dict[str, Any]],
            fq_rows: list[dict[str, Any]], seconds: float,
            mem_rows: Sequence[Mapping[str, Any]] = ()) -> None:
    """Results files (indexed), then the manifest marked finished: the run's last write."""
    write_csv(out_dir / "results.csv", rows)
    write_json(out_dir / "results.json", rows)
    if fq_rows:
        write_csv(out_dir / "forgetting_quality.csv", fq_rows)
    if mem_rows:
        write_csv(out_dir / "memorisation.csv", mem_rows)
    for name in ("results.csv", "results.json", "forgetting_quality.csv", "memorisation.csv"):
        if (out_dir / name).is_file():
            manifest.record(name)
    manifest.data["timings"]["total"] = manifest.data["timings"].get("total", 0.0) + seconds
    manifest.data["finished"] = utc_now()
    manifest.data["status"] = FINISHED
    manifest.save()
