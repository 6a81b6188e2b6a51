"""``qunlearn run``: data → model → train teacher and retrain oracle, per scenario and seed.

Flow (one way): load and split the data (seeded, stratified), fit the preprocessing on the
training split only, build each forget scenario (:class:`~qiskit_unlearn.run.context.
RunContext`), train the teacher on the scenario's training data and the oracle on the retain
set only, run every unlearning method on a copy of the teacher, evaluate everything on retain /
forget / validation / test, and write a run directory.

The work is cut into units an executor can take over, each seeded from the config alone:
:meth:`Orchestrator.references` (teacher and oracle of one seed and scenario),
:meth:`Orchestrator.method_row` (one method on one teacher) and
:meth:`Orchestrator.forgetting_quality`. The driver (:func:`run_experiment`) alone writes the
run directory.

The run directory is a record (:mod:`qiskit_unlearn.run.rundir`): locked for the length of the
run, bound to one config, every file written atomically and indexed by its digest in the
manifest. Models come from :class:`~qiskit_unlearn.run.modelstore.ModelStore`: the run's own
finished files (a killed run resumes model by model), the shared cache, or fresh training.
A finished run is never rewritten: running it again reports it and returns.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.evaluate.suite import EvalSets, evaluate_model, landscape, split_logits
from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.forgetting import forgetting_quality
from qiskit_unlearn.run.models import evaluated_on, preflight
from qiskit_unlearn.run.modelstore import ModelCache, ModelStore
from qiskit_unlearn.run.outputs import finish, start_manifest, write_record
from qiskit_unlearn.run.rundir import (
    FINISHED,
    Manifest,
    claim,
    locked,
    remove_stale_temporaries,
)
from qiskit_unlearn.storage import digest


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
class References:
    """The teacher and retrain oracle of one (seed, scenario), and what every row shares."""

    seed: int
    scenario: str
    ident: dict[str, Any]
    sets: EvalSets
    teacher: torch.nn.Module
    teacher_info: dict[str, Any]
    oracle: torch.nn.Module
    oracle_info: dict[str, Any]
    original_logits: dict[str, np.ndarray]
    oracle_logits: dict[str, np.ndarray]

    @property
    def retrain_seconds(self) -> float:
        return float(self.oracle_info["train_seconds"])


class Orchestrator:
    """The units of work of one run, on its context, model store and manifest."""

    def __init__(self, ctx: RunContext, store: ModelStore, manifest: Manifest, *,
                 eval_backend: Mapping[str, Any] | None, progress: bool,
                 donors: tuple[Path, ...]) -> None:
        self.ctx, self.store, self.manifest = ctx, store, manifest
        self.eval_backend, self.progress, self.donors = eval_backend, progress, donors
        assert ctx.out_dir is not None
        self.out_dir = ctx.out_dir

    def references(self, seed: int, name: str) -> References:
        """Train (or load) the teacher and the retrain oracle; record their histories."""
        cfg, sc, data = self.ctx.cfg, self.ctx.scenario(seed, name), self.ctx.data(seed)
        trained = {}
        for role, xy in (("teacher", (sc.train_x, sc.train_y)), ("oracle", sc.retain)):
            tag = f"{name}-seed{seed}-{role}"
            start = time.perf_counter()
            model, info = self.store.trained(role, cfg, data, xy, seed, tag)
            self.manifest.data["timings"][tag] = time.perf_counter() - start
            self.manifest.data["models"][tag] = {k: v for k, v in info.items() if k != "history"}
            write_record(self.out_dir, self.manifest, f"history/{tag}.json",
                         info.get("history", []))
            trained[role] = model, info
        (teacher, tinfo), (oracle, oinfo) = trained["teacher"], trained["oracle"]
        sets = self.ctx.eval_sets(seed, name)
        return References(seed, name, self.ctx.ident(seed, name), sets, teacher, tinfo, oracle,
                          oinfo, split_logits(evaluated_on(teacher, self.eval_backend), sets),
                          split_logits(evaluated_on(oracle, self.eval_backend), sets))

    def row(self, ref: References, method: str, model: torch.nn.Module,
            logits: Mapping[str, np.ndarray], seconds: float, circuits: Any,
            variant: str = "") -> dict[str, Any]:
        """One results row: accuracies, UQI, divergence from the oracle, MIA, cost."""
        cfg = self.ctx.cfg
        row = {**ref.ident, "method": method, "variant": variant,
               **evaluate_model(logits, ref.original_logits, ref.oracle_logits, ref.sets,
                                mia=cfg["evaluation"]["mia"], seed=ref.seed,
                                mia_score=self.ctx.mia_score),
               "seconds": seconds, "retrain_seconds": ref.retrain_seconds,
               "rte": ref.retrain_seconds / seconds if seconds > 0 else float("nan"),
               "circuit_evaluations": circuits}
        if cfg["evaluation"]["hessian"]:
            ev = cfg["evaluation"]
            found = landscape(model, ref.sets, top_k=ev["hessian_top_k"],
                              samples=ev["hessian_samples"],
                              max_samples=ev["hessian_max_samples"], seed=ref.seed)
            row.update({k: v for k, v in found.items() if not isinstance(v, list)})
        return row

    def original_row(self, ref: References) -> dict[str, Any]:
        return self.row(ref, "original", ref.teacher, ref.original_logits,
                        float(ref.teacher_info["train_seconds"]),
                        ref.teacher_info["circuit_evaluations"])

    def method_row(self, ref: References, method: str) -> dict[str, Any]:
        """One method on the teacher (``retrain`` is the oracle itself)."""
        if method == "retrain":
            return self.row(ref, "retrain", ref.oracle, ref.oracle_logits, ref.retrain_seconds,
                            ref.oracle_info["circuit_evaluations"])
        seed, name = ref.seed, ref.scenario
        params = self.ctx.method_params(method)
        tag = f"{name}__seed{seed}__{method}"
        key = digest(ref.teacher_info["cache_key"], method, params, seed,
                     self.ctx.scenario(seed, name).forget_idx)
        res = self.store.unlearned(method, ref.teacher,
                                   self.ctx.unlearn_data(seed, name, progress=self.progress),
                                   params, key, tag, self.donors)
        write_record(self.out_dir, self.manifest, f"curves/{tag}.json", res["curve"])
        self.manifest.data["methods"][tag] = {k: res[k] for k in ("params", "info", "seconds",
                                                                  "resumed")}
        return self.row(ref, method, res["model"],
                        split_logits(evaluated_on(res["model"], self.eval_backend), ref.sets),
                        float(res["seconds"]), res["circuit_evaluations"],
                        str(res["params"].get("variant", "")))

    def forgetting_quality(self, ref: References
                           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        fq, mem = forgetting_quality(self.store, self.ctx, ref.seed, ref.scenario, ref.teacher,
                                     ref.original_logits["forget"], self.eval_backend)
        where = {"scenario": ref.scenario, "seed": ref.seed}
        return [{**where, **r} for r in fq], {**where, **mem}


def run_experiment(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None,
                   progress: bool = True, echo: Callable[[str], Any] = print,
                   report: Callable[[Path], Any] | None = None,
                   eval_backend: Mapping[str, Any] | None = None,
                   extra_columns: Mapping[str, Any] | None = None,
                   donors: tuple[Path, ...] = ()) -> Path:
    """Run a validated config (see :mod:`qiskit_unlearn.config`); returns the run directory.

    Per seed and scenario: train (or load) the teacher and the retrain oracle, run every
    configured unlearning method on a copy of the teacher, evaluate everything against the
    teacher and the oracle, then write ``results.csv`` / ``results.json``, curves and the
    manifest. ``report`` (e.g. :func:`qiskit_unlearn.report.write_report`, which ``qunlearn
    run`` passes; reports sit above this layer) is called with the run directory once this
    call has finished the run, still under the run's lock.

    ``eval_backend`` evaluates every model on another backend than it was trained on (noise
    studies: noise only at evaluation time); ``extra_columns`` are added to every row;
    ``donors`` are run directories whose finished unlearned models (same key) are reused.
    A folder holding a run of another config is refused (:class:`~qiskit_unlearn.errors.
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
        ctx = RunContext(cfg, out_dir, extra_columns=options["extra_columns"])
        with _job_log(out_dir):
            _run(ctx, found.manifest, options, cache_dir=cache_dir, progress=progress,
                 echo=echo, donors=donors)
        if report:
            report(out_dir)
    return out_dir


def _job_log(out_dir: Path) -> AbstractContextManager[Any]:
    """Every job of a model on a job-sending backend (``ibm``, ``fake:<device>``) goes to
    ``RUN_DIR/hardware/run-jobs.jsonl`` before the run waits on it (other backends are left
    alone by the log)."""
    from qiskit_unlearn.qnn import routed_estimators
    from qiskit_unlearn.qnn.jobs import JobLog

    return routed_estimators(JobLog(out_dir / "hardware" / "run-jobs.jsonl"))


def _run(ctx: RunContext, previous: Mapping[str, Any], options: Mapping[str, Any], *,
         cache_dir: Path | None, progress: bool, echo: Callable[[str], Any],
         donors: tuple[Path, ...]) -> None:
    out_dir, cfg = ctx.out_dir, ctx.cfg
    assert out_dir is not None
    for sub in ("checkpoints", "history", "curves", "unlearned"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    log = _logger(out_dir)
    manifest = start_manifest(out_dir, cfg, previous, options)
    if previous:
        echo(f"resuming the unfinished run in {out_dir} (started {previous.get('started')})")
        log.info("resuming the unfinished run started %s", previous.get("started"))

    def note(text: str) -> None:
        log.info(text)
        echo(f"  {text}")

    store = ModelStore(out_dir, manifest, ModelCache(cache_dir), progress, note)
    work = Orchestrator(ctx, store, manifest, eval_backend=options["eval_backend"],
                        progress=progress, donors=donors)
    rows: list[dict[str, Any]] = []
    fq_rows: list[dict[str, Any]] = []
    mem_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def add_row(row: dict[str, Any]) -> None:
        rows.append(row)
        log.info("%s: %s", row["method"], json.dumps(row, default=str))
        echo(f"  {row['method']:14s} retain {row['retain_accuracy']:.3f}  forget "
             f"{row['forget_accuracy']:.3f}  test {row['test_accuracy']:.3f}  UQI "
             f"{row['uqi']:+.3f}  MIA {row.get('mia_auc', float('nan')):.3f}  "
             f"({row['seconds']:.1f} s)")

    try:
        for seed, name in ctx.units():
            data = ctx.data(seed)
            if manifest.data["data"].get(str(seed)) is not data["metadata"]:
                manifest.data["data"][str(seed)] = data["metadata"]
                log.info("seed %d: data %s", seed, data["metadata"]["sizes"])
            sc = ctx.scenario(seed, name)
            echo(f"[seed {seed}] scenario {name}: {len(sc.retain_idx)} retain, "
                 f"{len(sc.forget_idx)} forget")
            ref = work.references(seed, name)
            add_row(work.original_row(ref))
            for method in cfg["unlearn"]["methods"] or ["retrain"]:
                add_row(work.method_row(ref, method))
            if cfg["evaluation"]["forgetting_quality"]:
                fq, mem = work.forgetting_quality(ref)
                fq_rows += fq
                mem_rows.append(mem)
        finish(out_dir, manifest, rows, fq_rows, time.perf_counter() - t0, mem_rows)
    finally:
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
