"""``qunlearn run``: data → model → train teacher and retrain oracle, per scenario and seed.

Flow (one way): load and split the data (seeded, stratified), fit the preprocessing on the
training split only, build each forget scenario (:class:`~qiskit_unlearn.run.RunContext`),
train the teacher on the scenario's training data and the oracle on the retain set only, run
every unlearning method on a copy of the teacher, evaluate everything on retain / forget /
validation / test, and write a run directory.

The work is a plan of units (``run.units``): every training, every method
on its teacher, every forgetting-quality model, each seeded from the config alone. Any
executor (:mod:`qiskit_unlearn.execute`: this process, ``--jobs N`` processes, a Ray cluster)
runs them; only this driver reads and writes the run directory, so the results are the same
bytes whatever ran the units.

The run directory is a record (``run.rundir``): locked for the length of the
run, bound to one config, every file written atomically and indexed by its digest in the
manifest. Finished models are found before planning (this run's files, a donor run's, the
shared cache), so a killed run resumes model by model. A finished run is never rewritten.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from qiskit_unlearn.execute import Executor, InProcessExecutor, Ref, Unit
from qiskit_unlearn.run import units as work
from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.forgetting import forgetting_quality, fq_methods
from qiskit_unlearn.run.models import preflight
from qiskit_unlearn.run.modelstore import ModelCache, ModelStore, training_key
from qiskit_unlearn.run.outputs import finish, start_manifest, write_record
from qiskit_unlearn.run.rundir import FINISHED, Manifest, claim, locked, remove_stale_temporaries
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


class Orchestrator:
    """Plans a run's units, records each result as it arrives, then builds the rows.

    The driver of :func:`run_experiment`: only it reads and writes the run directory, so the
    units can run on any executor. Use it as ``plan()``, then ``executor.run(plan,
    on_result)``, then ``rows()``.

    Args:
        ctx: The run's context; it must have a run directory (``ctx.out_dir``).
        store: The run's model store (finished models, the cache, recording new ones).
        manifest: The run's :class:`~qiskit_unlearn.run.Manifest`; results are indexed in it.
        executor: The executor that will run the plan. With an
            :class:`~qiskit_unlearn.execute.InProcessExecutor` trainings checkpoint every
            epoch into the run directory and progress bars are shown.
        eval_backend: A backend table every model is evaluated on instead of its own
            (noise studies), or ``None``.
        progress: Whether to show progress bars (only with an in-process executor).
        donors: Run directories whose finished unlearned models (same key) are reused.
    """

    def __init__(self, ctx: RunContext, store: ModelStore, manifest: Manifest, *,
                 executor: Executor, eval_backend: Mapping[str, Any] | None, progress: bool,
                 donors: tuple[Path, ...]) -> None:
        assert ctx.out_dir is not None
        self.ctx, self.store, self.manifest, self.out_dir = ctx, store, manifest, ctx.out_dir
        self.executor, self.eval_backend, self.donors = executor, eval_backend, donors
        self.local = isinstance(executor, InProcessExecutor)
        self.progress = progress and self.local
        self.units: list[Unit] = []
        self.results: dict[str, Any] = {}  # unit key (or found model) → result
        self.info: dict[str, dict[str, Any]] = {}  # model tag → its recorded info
        #: model key → (its unit's key, seed, the tags it is recorded under and whether kept)
        self._trained: dict[str, tuple[str, int, list[tuple[str, bool]]]] = {}
        self._teacher_keys: dict[tuple[int, str], str] = {}  # (seed, scenario) → model key

    # --- planning ------------------------------------------------------------------------

    def model(self, seed: int, name: str, role: str, *, keep: bool = True) -> Any:
        """The trained model ``role`` of (seed, scenario): a result found now, or a reference
        to the unit training it.

        Models are told apart by their key, so two roles with the same key (e.g. the teachers
        of two scenarios trained on the same data) share one unit.

        Args:
            seed: One of the run's seeds.
            name: A scenario name of the config.
            role: ``teacher``, ``oracle`` or ``fq-oracle<j>`` (the ``j``-th
                forgetting-quality model).
            keep: Whether the run directory keeps the model file and records it in the
                manifest (forgetting-quality models are not kept).

        Returns:
            The training result ``{"state", "summary", "source", "key"}`` if the model was
            found (run directory, cache, or already trained), else a
            :class:`~qiskit_unlearn.execute.Ref` to the ``train/<tag>`` unit planned for it.
        """
        cfg, data = self.ctx.cfg, self.ctx.data(seed)
        xy, model_seed = work.training_data(self.ctx, seed, name, role)
        kwargs, _, key = training_key(cfg, data, xy, model_seed)
        tag = f"{name}-seed{seed}-{role}"
        if role == "teacher":
            self._teacher_keys[(seed, name)] = key
        if key in self._trained:  # the same model under another name (e.g. both teachers)
            unit_key, _, tags = self._trained[key]
            tags.append((tag, keep))
            if unit_key not in self.results:
                return Ref(unit_key)
            self._record_model(unit_key, self.results[unit_key])  # records the new name
            return self.results[unit_key]
        from qiskit_unlearn.models import build_model

        model = build_model(cfg["model"]["kind"], **kwargs)
        found = self.store.find_trained(role, key, tag, model)
        unit_key = f"train/{tag}"
        self._trained[key] = (unit_key, seed, [(tag, keep)])
        if found is not None:
            result = {"state": model.state_dict(), "summary": found[0], "source": found[1],
                      "key": key}
            self.results[unit_key] = result
            self._record_model(unit_key, result)
            return result
        checkpoint = str(self.out_dir / "checkpoints" / f"{tag}.ckpt") if self.local else None
        self.units.append(Unit(unit_key, work.train_unit, (cfg, seed, name, role),
                               {"checkpoint": checkpoint, "progress": self.progress},
                               label=f"train {role} (seed {seed}, {name})"))
        return Ref(unit_key)

    def plan(self) -> list[Unit]:
        """Plan every unit of the run, finding finished models first.

        Per (seed, scenario): the teacher's and the oracle's training (unless found) and
        evaluation, one unit per configured method on the teacher (finished results are passed
        in, so the unit only evaluates them), and the forgetting-quality models when
        ``evaluation.forgetting_quality`` is on.

        Returns:
            The planned :class:`~qiskit_unlearn.execute.Unit` list (also kept as ``units``).
        """
        cfg, backend = self.ctx.cfg, self.eval_backend
        for seed, name in self.ctx.units():
            teacher, oracle = self.model(seed, name, "teacher"), self.model(seed, name, "oracle")
            for role, trained in (("teacher", teacher), ("oracle", oracle)):
                self.units.append(Unit(f"eval/{name}-seed{seed}-{role}", work.evaluate_unit,
                                       (cfg, seed, name, trained, backend),
                                       label=f"evaluate {role} (seed {seed}, {name})"))
            for method in self._methods():
                if method == "retrain":
                    continue
                tag = f"{name}__seed{seed}__{method}"
                finished = self.store.find_unlearned(method, self._method_key(seed, name, method),
                                                     tag, self.donors)
                self.units.append(Unit(f"method/{tag}", work.method_unit,
                                       (cfg, seed, name, method, teacher, finished, backend,
                                        self.progress),
                                       label=f"{method} (seed {seed}, {name})"))
            if cfg["evaluation"]["forgetting_quality"]:
                self._plan_fq(seed, name, teacher)
        return self.units

    def _plan_fq(self, seed: int, name: str, teacher: Any) -> None:
        cfg, backend = self.ctx.cfg, self.eval_backend
        where = f"{name}-seed{seed}"
        for j in range(cfg["evaluation"]["fq_models"]):
            trained = self.model(seed, name, f"fq-oracle{j}", keep=False)
            self.units.append(Unit(f"fq/{where}/retrain/{j}", work.fq_oracle_unit,
                                   (cfg, seed, name, trained, backend),
                                   label=f"forgetting-quality model {j} (seed {seed}, {name})"))
        for method in fq_methods(cfg):
            for j in range(cfg["evaluation"]["fq_models"]):
                self.units.append(Unit(f"fq/{where}/{method}/{j}", work.fq_unlearn_unit,
                                       (cfg, seed, name, method, j, teacher, backend),
                                       label=f"forgetting quality: {method} #{j} (seed {seed}, "
                                             f"{name})"))

    def _methods(self) -> list[str]:
        return list(self.ctx.cfg["unlearn"]["methods"]) or ["retrain"]

    def _method_key(self, seed: int, name: str, method: str) -> str:
        """The key of a method's result: its teacher's (recorded when the teacher was
        planned), the method, its params, the seed and the forget set."""
        key = self._teacher_keys[(seed, name)]
        return digest(key[:24], method, self.ctx.method_params(method), seed,
                      self.ctx.scenario(seed, name).forget_idx)

    # --- recording (in the driver, as results arrive) --------------------------------------

    def on_result(self, unit: Unit, result: Any) -> None:
        """Record a finished unit's result (the executor's result handler).

        Trained models are recorded in the store and the manifest (with their history), a
        method's result in ``unlearned/`` and ``curves/``; every result is kept for
        :meth:`rows`.

        Args:
            unit: The unit that finished.
            result: Its return value.
        """
        self.results[unit.key] = result
        if unit.key.startswith("train/"):
            self._record_model(unit.key, result)
        elif unit.key.startswith("method/"):
            self._record_method(unit, result)

    def _record_model(self, unit_key: str, result: Mapping[str, Any]) -> None:
        _, seed, tags = self._trained[result["key"]]
        key = result["key"]
        model = work.model_of(self.ctx, seed, result)
        for i, (tag, keep) in enumerate(tags):
            if tag in self.info:
                continue
            source = result["source"] if i == 0 else "shared"
            summary = result["summary"]
            if summary.get("resumed_from_epoch"):
                self.store.note(f"{tag}: resumed training after epoch "
                                f"{summary['resumed_from_epoch']} (checkpoints/{tag}.ckpt)")
            info = self.store.record_trained(key, tag, model, summary, source, keep=keep)
            self.info[tag] = info
            if keep:
                self.manifest.data["timings"][tag] = float(
                    summary["train_seconds"]) if source == "trained" else 0.0
                self.manifest.data["models"][tag] = {k: v for k, v in info.items()
                                                     if k != "history"}
                write_record(self.out_dir, self.manifest, f"history/{tag}.json",
                             info.get("history", []))

    def _record_method(self, unit: Unit, result: Mapping[str, Any]) -> None:
        _, seed, name, method = unit.args[:4]
        tag = f"{name}__seed{seed}__{method}"
        res = result["result"]
        if not result["resumed"]:
            self.store.record_unlearned(self._method_key(seed, name, method), tag,
                                        result["state"], res)
        write_record(self.out_dir, self.manifest, f"curves/{tag}.json", res["curve"])
        self.manifest.data["methods"][tag] = {"params": res["params"], "info": res["info"],
                                              "seconds": res["seconds"],
                                              "resumed": result["resumed"]}

    # --- rows -------------------------------------------------------------------------------

    def rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Results, forgetting-quality and memorisation rows, in the run's order.

        Call it after every planned unit has finished.

        Returns:
            ``(rows, fq_rows, mem_rows)``: the rows of ``results.csv`` (per seed and scenario
            the teacher as ``original``, then each configured method, ``retrain`` being the
            oracle), of ``forgetting_quality.csv`` and of ``memorisation.csv`` (both empty
            unless ``evaluation.forgetting_quality`` is on).
        """
        rows, fq_rows, mem_rows = [], [], []
        for seed, name in self.ctx.units():
            rows += self._scenario_rows(seed, name)
            if self.ctx.cfg["evaluation"]["forgetting_quality"]:
                teacher = self.results[f"eval/{name}-seed{seed}-teacher"]
                fq, mem = self._forgetting_quality(seed, name, teacher)
                fq_rows += fq
                mem_rows.append(mem)
        return rows, fq_rows, mem_rows

    def _scenario_rows(self, seed: int, name: str) -> list[dict[str, Any]]:
        """The teacher's row, then one per configured method (``retrain``: the oracle)."""
        from qiskit_unlearn.evaluate.suite import evaluate_model

        cfg, sets = self.ctx.cfg, self.ctx.eval_sets(seed, name)
        ev = {role: self.results[f"eval/{name}-seed{seed}-{role}"]
              for role in ("teacher", "oracle")}
        teacher_info = self.info[f"{name}-seed{seed}-teacher"]
        oracle_info = self.info[f"{name}-seed{seed}-oracle"]
        retrain_seconds = float(oracle_info["train_seconds"])
        entries = [("original", ev["teacher"], float(teacher_info["train_seconds"]),
                    teacher_info["circuit_evaluations"], "")]
        for method in self._methods():
            if method == "retrain":  # the oracle *is* the retrained model
                entries.append(("retrain", ev["oracle"], retrain_seconds,
                                oracle_info["circuit_evaluations"], ""))
                continue
            result = self.results[f"method/{name}__seed{seed}__{method}"]
            res = result["result"]
            entries.append((method, result, float(res["seconds"]), res["circuit_evaluations"],
                            str(res["params"].get("variant", ""))))
        rows = []
        for method, evaluation, seconds, circuits, variant in entries:
            row = {**self.ctx.ident(seed, name), "method": method, "variant": variant,
                   **evaluate_model(evaluation["logits"], ev["teacher"]["logits"],
                                    ev["oracle"]["logits"], sets, mia=cfg["evaluation"]["mia"],
                                    seed=seed, mia_score=self.ctx.mia_score),
                   "seconds": seconds, "retrain_seconds": retrain_seconds,
                   "rte": retrain_seconds / seconds if seconds > 0 else float("nan"),
                   "circuit_evaluations": circuits}
            row.update(evaluation.get("landscape", {}))
            rows.append(row)
        return rows

    def _forgetting_quality(self, seed: int, name: str, teacher_eval: Mapping[str, Any]
                            ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        m, where = self.ctx.cfg["evaluation"]["fq_models"], f"{name}-seed{seed}"
        retrained = [self.results[f"fq/{where}/retrain/{j}"] for j in range(m)]
        unlearned = {method: [self.results[f"fq/{where}/{method}/{j}"] for j in range(m)]
                     for method in fq_methods(self.ctx.cfg)}
        fq, mem = forgetting_quality(self.ctx.scenario(seed, name).forget[1],
                                     teacher_eval["logits"]["forget"], retrained, unlearned)
        at = {"scenario": name, "seed": seed}
        return [{**at, **r} for r in fq], {**at, **mem}


def run_experiment(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None,
                   progress: bool = True, echo: Callable[[str], Any] = print,
                   report: Callable[[Path], Any] | None = None,
                   eval_backend: Mapping[str, Any] | None = None,
                   extra_columns: Mapping[str, Any] | None = None,
                   donors: tuple[Path, ...] = (), executor: Executor | None = None) -> Path:
    """Run a validated config (see :mod:`qiskit_unlearn.config`); returns the run directory.

    Per seed and scenario: train (or load) the teacher and the retrain oracle, run every
    configured unlearning method on a copy of the teacher, evaluate everything against the
    teacher and the oracle, then write ``results.csv`` / ``results.json``, curves and the
    manifest. The model is built once first (:func:`preflight`), so a backend that cannot run
    it fails before the folder is touched. An unfinished run of the same config in
    ``out_dir`` is resumed model by model; a folder holding this finished run is returned
    untouched.

    Args:
        cfg: A validated config (:func:`qiskit_unlearn.config.load_config`).
        out_dir: The run directory: new or empty, or holding a run of this same config. It is
            locked for the length of the call.
        cache_dir: The shared model cache folder (e.g. :func:`default_cache_dir`); ``None``
            disables the cache.
        progress: Whether to show progress bars (in-process execution only).
        echo: Called with each line of console output.
        report: Called with the run directory once the run has finished, still under the
            run's lock (``qunlearn run`` passes :func:`qiskit_unlearn.report.write_report`;
            reports sit above this layer). ``None`` writes no report.
        eval_backend: A backend table (``{"name": ..., **options}``) every model is
            evaluated on instead of the one it was trained on (noise studies: noise only at
            evaluation time); ``None`` evaluates on the training backend.
        extra_columns: Columns added to every row's identity (e.g. a sweep's noise columns).
        donors: Run directories whose finished unlearned models (same key) are reused.
        executor: Runs the units of work; ``None`` runs them in this process
            (:class:`~qiskit_unlearn.execute.InProcessExecutor`).

    Returns:
        ``out_dir``.

    Raises:
        qiskit_unlearn.errors.RunDirError: If ``out_dir`` holds a run of another config (the
            message names the keys that differ), is a non-empty folder that is not a run, or
            is locked by another process.
        qiskit_unlearn.errors.ConfigError: If a backend cannot run the config's model.
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
                 echo=echo, donors=donors, executor=executor or InProcessExecutor())
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
         donors: tuple[Path, ...], executor: Executor) -> None:
    out_dir, cfg = ctx.out_dir, ctx.cfg
    assert out_dir is not None
    for sub in ("checkpoints", "history", "curves", "unlearned"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    log = _logger(out_dir)
    manifest = start_manifest(out_dir, cfg, previous, options)
    manifest.data["execution"] = executor.describe()
    if previous:
        echo(f"resuming the unfinished run in {out_dir} (started {previous.get('started')})")
        log.info("resuming the unfinished run started %s", previous.get("started"))

    def note(text: str) -> None:
        log.info(text)
        echo(f"  {text}")

    store = ModelStore(out_dir, manifest, ModelCache(cache_dir), progress, note)
    if isinstance(executor, InProcessExecutor):
        work.adopt(ctx)  # units in this process share the driver's prepared data
    orchestrator = Orchestrator(ctx, store, manifest, executor=executor,
                                eval_backend=options["eval_backend"], progress=progress,
                                donors=donors)
    t0 = time.perf_counter()
    try:
        for seed in ctx.seeds:
            data = ctx.data(seed)
            manifest.data["data"][str(seed)] = data["metadata"]
            log.info("seed %d: data %s", seed, data["metadata"]["sizes"])
        plan = orchestrator.plan()
        echo(f"{len(plan)} units of work on {executor.name} "
             f"({len(list(ctx.units()))} seed x scenario pairs)")
        try:
            executor.run(plan, orchestrator.on_result, progress=progress, what=ctx.name)
        finally:
            manifest.save()  # what finished is indexed, so the next run resumes from it
        rows, fq_rows, mem_rows = orchestrator.rows()
        for seed, name in ctx.units():
            sc = ctx.scenario(seed, name)
            echo(f"[seed {seed}] scenario {name}: {len(sc.retain_idx)} retain, "
                 f"{len(sc.forget_idx)} forget")
            for row in (r for r in rows if r["seed"] == seed and r["scenario"] == name):
                log.info("%s: %s", row["method"], json.dumps(row, default=str))
                echo(f"  {row['method']:14s} retain {row['retain_accuracy']:.3f}  forget "
                     f"{row['forget_accuracy']:.3f}  test {row['test_accuracy']:.3f}  UQI "
                     f"{row['uqi']:+.3f}  MIA {row.get('mia_auc', float('nan')):.3f}  "
                     f"({row['seconds']:.1f} s)")
        finish(out_dir, manifest, rows, fq_rows, time.perf_counter() - t0, mem_rows)
    finally:
        for handler in log.handlers:
            handler.close()
        log.handlers.clear()
