"""``qunlearn hw unlearn``: run an unlearning method of a finished run with its circuit on a device.

The teacher of a simulated run is copied onto the device (its classical layers stay local) and
one registered unlearning method runs on it unchanged: every forward pass is one job, and a
training step's gradient (batched parameter shift) rides in the same job as its forward pass
(``BatchedEstimatorQNN``).

Before anything is sent, the same method is *rehearsed* on ``ideal:<device>`` (the device's
ISA circuits, simulated exactly and without noise): that run sends the same jobs with the same
PUBs and parameter sets, so its count is the cost of the real run (for methods whose number of
steps depends on the results, an estimate), and its result is what the method would reach
without noise. Jobs go through a :class:`~qiskit_unlearn.hardware.JobJournal` (ids on
disk before waiting; a killed or budget-capped run continues where it stopped). The unlearned
model is stored like the run's own (``unlearned/<scenario>__seed<s>__<name>.pt``, so ``hw
submit --models <name>`` can measure it on the device), evaluated exactly against the run's
teacher and oracle, and tabulated in ``RUN_DIR/hardware/unlearn-results.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.backends import ibm
from qiskit_unlearn.evaluate.metrics import accuracy
from qiskit_unlearn.evaluate.suite import evaluate_model, split_logits
from qiskit_unlearn.hardware.base import (
    ORIGINAL,
    RETRAIN,
    HardwareError,
    canonical,
    status_kind,
    utc_now,
    write_csv,
)
from qiskit_unlearn.hardware.journal import (
    CostRecorder,
    JobCost,
    JobJournal,
    JournaledEstimator,
    read_journal,
)
from qiskit_unlearn.hardware.runs import FinishedRun, Target
from qiskit_unlearn.hardware.store import JobStore
from qiskit_unlearn.hardware.submit import (
    DeviceRequest,
    device_backend,
    parse_device,
    runtime_estimator,
    runtime_options,
)
from qiskit_unlearn.locks import RunLock
from qiskit_unlearn.qnn import routed_estimators
from qiskit_unlearn.train import load_checkpoint, predict_logits, save_checkpoint

RESULTS_FILE = "unlearn-results.csv"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+@-]*")


@dataclass(frozen=True, kw_only=True)
class UnlearnRequest(DeviceRequest):
    """A :class:`DeviceRequest` for ``qunlearn hw unlearn``: which method to run, and the name
    of the model it makes.

    Takes every field of :class:`DeviceRequest` (device, seeds, scenarios, shots or precision,
    resilience and optimization levels, mode, seed) and these:

    Attributes:
        method: A registered unlearning method (see ``qunlearn methods``).
        params: Hyperparameters laid over the ones the run gave the method.
        name: The unlearned model's name in the run (letters, digits, ``_ . + @ -``, no
            ``__``, not a model of the simulated run); ``None`` uses ``<method>@<device>``.
    """

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None


@dataclass
class UnlearnTask:
    """One (seed, scenario): where its journal and its model go, and its rehearsal."""

    seed: int
    scenario: str
    key: str
    directory: Path
    checkpoint: str  # relative to the run directory
    done: bool = False
    cost: JobCost = field(default_factory=JobCost)
    journaled: int = 0  # jobs of an earlier, unfinished run that finished
    rehearsal: dict[str, float] = field(default_factory=dict)

    def label(self) -> str:
        return f"seed {self.seed} / {self.scenario}"


@dataclass
class UnlearnPlan:
    """What ``qunlearn hw unlearn`` will run, rehearsed (made by :func:`plan_unlearning`).

    Attributes:
        device: The device's name.
        local: Whether it is a fake device in IBM Runtime local testing mode.
        method: The unlearning method.
        name: The unlearned model's name.
        params: The method's resolved hyperparameters.
        settings: ``shots``, ``precision``, ``resilience_level`` and ``optimization_level``.
        runtime: The validated IBM Runtime settings (Estimator options, mode, seed).
        tasks: One task per (seed, scenario): its journal folder, its model file, whether it
            is already done, and its rehearsal's cost and noiseless accuracies.
        rehearsal_seconds: Wall time of the rehearsals.
    """

    device: str
    local: bool
    method: str
    name: str
    params: dict[str, Any]
    settings: dict[str, Any]
    runtime: Any
    tasks: list[UnlearnTask]
    rehearsal_seconds: float = 0.0

    def cost(self) -> JobCost:
        """What the unfinished tasks ask of the device, as counted by their rehearsals.

        Returns:
            The summed :class:`JobCost` (an estimate for methods whose number of steps
            depends on the results).
        """
        total = JobCost()
        for task in self.tasks:
            if not task.done:
                total.add(task.cost)
        return total


def _key(*parts: Any) -> str:
    return hashlib.sha256(canonical(list(parts)).encode()).hexdigest()


def _check_name(name: str, run: FinishedRun) -> str:
    if not _NAME.fullmatch(name) or "__" in name:
        raise HardwareError(f"--name {name!r} must be letters, digits and _ . + @ - (no '__'), "
                            "e.g. ga@ibm_brisbane")
    taken = {ORIGINAL, RETRAIN, *run.cfg["unlearn"]["methods"]}
    if name in taken:
        raise HardwareError(f"--name {name!r} is a model of the simulated run; pick another "
                            "name (the default is <method>@<device>)")
    return name


def _finished(path: Path, key: str) -> bool:
    """Whether ``path`` holds the model of the unlearning task ``key`` (same run, settings)."""
    fix = ("delete it and run 'qunlearn hw unlearn' again: finished jobs are replayed from the "
           "journal, not sent again")
    return path.is_file() and load_checkpoint(path, fix=fix).get("key") == key


def _teacher(run: FinishedRun, seed: int, scenario: str) -> Target:
    return Target(seed, scenario, ORIGINAL, run.checkpoint(seed, scenario, ORIGINAL))


def _exact_accuracies(run: FinishedRun, teacher: torch.nn.Module, state: Mapping[str, Any],
                      seed: int, scenario: str) -> dict[str, float]:
    """Retain / forget / test accuracy of weights ``state`` on the exact simulator."""
    from qiskit_unlearn.unlearn import clone_model

    model = clone_model(teacher)
    model.load_state_dict(state)
    sets = run.sets(seed, scenario)
    return {s: accuracy(predict_logits(model, sets.split(s)[0]).double().numpy(),
                        sets.split(s)[1]) for s in ("retain", "forget", "test")}


def _ideal_options(plan_settings: dict[str, Any], runtime: Any,
                   store: JobStore, local: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"optimization_level": plan_settings["optimization_level"]}
    if runtime.seed is not None:
        options["seed"] = runtime.seed  # the transpiler seed of the device run
    if not local:
        options.update(store.account)
    return options


def plan_unlearning(run: FinishedRun, store: JobStore, request: UnlearnRequest,
                    echo: Callable[[str], None] = print) -> UnlearnPlan:
    """Validate the request, find the tasks and rehearse the unfinished ones (exactly).

    One task per (seed, scenario) of the selection. A task whose model file already holds
    this exact unlearning (same teacher, method, parameters, device and settings) is done.
    Every other task is rehearsed on ``ideal:<device>``: the same jobs, PUBs and parameter
    sets, simulated exactly and without noise, which gives its cost and what it would reach
    without noise.

    Args:
        run: The finished run whose teachers are unlearned.
        store: The run's job store (its folder holds the journals).
        request: The method, its parameters, the model's name, the device and settings.
        echo: Called with one line per rehearsal.

    Returns:
        The :class:`UnlearnPlan`.

    Raises:
        HardwareError: If the method is unknown, the name is invalid or taken, or the
            selection does not fit the run.
        qiskit_unlearn.errors.BackendError: If the settings break IBM Runtime's rules.
    """
    from qiskit_unlearn.unlearn import METHODS, clone_model, resolve_params, unlearn

    if request.method not in METHODS:
        raise HardwareError(f"unknown unlearning method {request.method!r}; choose one of "
                            f"{', '.join(sorted(METHODS))} (see 'qunlearn methods')")
    device, local = parse_device(request.device)
    settings, runtime = runtime_options(request, device, local)
    params = resolve_params(request.method, {**run.context.method_params(request.method),
                                             **request.params})
    name = _check_name(request.name or f"{request.method}@{device}", run)
    teachers = [t for t in run.targets([ORIGINAL, RETRAIN], request.seeds, request.scenarios)
                if t.model == ORIGINAL]
    plan = UnlearnPlan(device, local, request.method, name, params, settings, runtime, [])
    ideal = _ideal_options(settings, runtime, store, local)
    start = time.perf_counter()
    for t in teachers:
        key = _key(run.digest(t), request.method, params, device, settings, t.seed, t.scenario)
        task = UnlearnTask(t.seed, t.scenario, key,
                           store.root / "unlearn" / name / f"seed{t.seed}-{t.scenario}-{key[:12]}",
                           run.checkpoint(t.seed, t.scenario, name))
        plan.tasks.append(task)
        if _finished(run.dir / task.checkpoint, key):
            task.done = True
            continue
        journal = task.directory / "journal.json"
        if journal.is_file():
            task.journaled = sum(j["status"] == "DONE" for j in JobJournal(task.directory, {})
                                 .jobs)
        teacher = run.model(t)
        recorder = CostRecorder()
        echo(f"rehearsing {request.method} on ideal:{device} for {task.label()} ...")
        with routed_estimators(recorder):
            twin = clone_model(teacher, backend=f"ideal:{device}", backend_options=ideal)
            outcome = unlearn(request.method, twin, run.unlearn_data(t.seed, t.scenario), params)
        task.cost = recorder.cost
        task.rehearsal = _exact_accuracies(run, teacher, outcome.model.state_dict(), t.seed,
                                           t.scenario)
    plan.rehearsal_seconds = time.perf_counter() - start
    return plan


def describe_unlearning(plan: UnlearnPlan) -> list[str]:
    """What is printed before anything is sent (and all a dry run prints).

    Args:
        plan: An unlearning plan.

    Returns:
        Human-readable lines: the device, settings, method and parameters, and per task its
        jobs, parameter sets, circuit executions, shots and noiseless rehearsal accuracies,
        then the total.
    """
    s = plan.settings
    shots = s["shots"]
    where = ("IBM Runtime local testing mode: Aer with the device's noise model, no network, "
             "no cost" if plan.local else "IBM Quantum hardware: billed by QPU time")
    resilience = "n/a (local)" if s["resilience_level"] is None else s["resilience_level"]
    params = ", ".join(f"{k}={v!r}" for k, v in plan.params.items())
    lines = [f"device {plan.device} ({where})",
             f"settings: {shots} shots per circuit execution (precision {s['precision']:.4g}), "
             f"resilience level {resilience}, optimization level {s['optimization_level']}, "
             f"mode {plan.runtime.mode}",
             f"method {plan.method} -> model '{plan.name}': {params}",
             f"rehearsal on ideal:{plan.device} (the device's ISA circuits, exact and noiseless; "
             f"{plan.rehearsal_seconds:.1f} s):"]
    for task in plan.tasks:
        if task.done:
            lines.append(f"  {task.label()}: already unlearned with these settings "
                         f"({task.checkpoint})")
            continue
        c = task.cost
        acc = "  ".join(f"{k} {v:.3f}" for k, v in task.rehearsal.items())
        lines.append(f"  {task.label()}: {c.jobs} jobs, {c.pubs} PUBs, {c.parameter_sets:,} "
                     f"parameter sets, {c.circuit_executions:,} circuit executions = "
                     f"{c.shots(shots):,} shots; noiseless result: {acc}")
        if task.journaled:
            lines.append(f"    {task.journaled} of these jobs finished in an earlier run and "
                         "are replayed from the journal, not sent again")
    total = plan.cost()
    if total.jobs:
        lines.append(f"to run: {total.jobs} jobs (one per forward pass; each training step's "
                     f"gradient rides in its forward job), {total.circuit_executions:,} circuit "
                     f"executions x {shots} shots = {total.shots(shots):,} shots")
        if s["resilience_level"] == 2:
            lines.append("resilience level 2 adds zero-noise extrapolation: expect about 3x "
                         "these shots")
        if not plan.local:
            lines.append("every job waits in the device's queue: the number of jobs, more than "
                         "the shots, decides the wall time (mode 'session' keeps the device "
                         "between jobs where your plan allows it)")
    else:
        lines.append("nothing to run")
    return lines


def _device_model_backend(plan: UnlearnPlan, store: JobStore) -> tuple[str, dict[str, Any]]:
    """Backend name and options that build a model's QNN on the plan's device (job mode: the
    jobs themselves go through the command's one estimator, in its batch or session)."""
    options: dict[str, Any] = {"precision": plan.settings["precision"], "mode": "job",
                               "optimization_level": plan.settings["optimization_level"]}
    if plan.runtime.seed is not None:
        options["seed"] = plan.runtime.seed
    if plan.local:
        return f"fake:{plan.device}", options
    if plan.settings["resilience_level"] is not None:
        options["resilience_level"] = plan.settings["resilience_level"]
    return "ibm", {**options, "device": plan.device, **store.account}


def _write_rows(path: Path, new: list[dict[str, Any]]) -> None:
    """Add ``new`` to the table, replacing rows of the same model, seed and scenario."""
    def ident(row: Mapping[str, Any]) -> tuple[str, str, str]:
        return str(row["method"]), str(row["seed"]), str(row["scenario"])

    rows: list[dict[str, Any]] = []
    if path.is_file():
        replaced = {ident(r) for r in new}
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if ident(r) not in replaced]
    write_csv(path, rows + new)


def _evaluate(run: FinishedRun, plan: UnlearnPlan, task: UnlearnTask) -> dict[str, Any]:
    """The run's metric row for the hardware-unlearned model, on the exact simulator."""
    sets = run.sets(task.seed, task.scenario)
    refs = {role: split_logits(run.model(Target(task.seed, task.scenario, role, run.checkpoint(
        task.seed, task.scenario, role))), sets) for role in (ORIGINAL, RETRAIN)}
    model = run.model(Target(task.seed, task.scenario, plan.name, task.checkpoint))
    return evaluate_model(split_logits(model, sets), refs[ORIGINAL], refs[RETRAIN], sets,
                          mia=run.mia, seed=task.seed, mia_score=run.mia_score)


def _always(estimator: Any) -> Callable[[Any], Any]:
    """A route that sends every QNN's jobs to ``estimator`` (its own one goes unused)."""
    return lambda _own, _backend: estimator


def _execute_task(plan: UnlearnPlan, run: FinishedRun, store: JobStore, task: UnlearnTask,
                  estimator: Any, reconnect: Callable[[str], Any] | None,
                  budget: dict[str, int] | None, model_backend: str,
                  model_options: dict[str, Any], echo: Callable[[str], None]) -> dict[str, Any]:
    """One (seed, scenario) on the device, journaled; returns its results row."""
    from qiskit_unlearn.storage import json_safe
    from qiskit_unlearn.unlearn import clone_model, unlearn

    header = {"device": plan.device, "local_testing_mode": plan.local,
              "method": plan.method, "name": plan.name, "params": plan.params,
              "settings": plan.settings, "seed": task.seed, "scenario": task.scenario,
              "key": task.key, "checkpoint": task.checkpoint}
    journal = JobJournal(task.directory, header)
    journaled = JournaledEstimator(journal, estimator, reconnect=reconnect,
                                   budget=budget, echo=echo,
                                   expected_jobs=task.cost.jobs or None)
    echo(f"{task.label()}: {plan.method} on {plan.device} ({task.cost.jobs} jobs)")
    teacher = run.model(_teacher(run, task.seed, task.scenario))
    with routed_estimators(_always(journaled)):
        device_teacher = clone_model(teacher, backend=model_backend,
                                     backend_options=model_options)
        outcome = unlearn(plan.method, device_teacher,
                          run.unlearn_data(task.seed, task.scenario), plan.params)
    cost = journal.cost()
    result = {"params": plan.params, "seconds": outcome.seconds, "info": outcome.info,
              "curve": outcome.curve, "device": plan.device, "settings": plan.settings,
              "cost": asdict(cost), "journal": str(task.directory.relative_to(run.dir)),
              "finished": utc_now()}
    save_checkpoint({"key": task.key, "model": outcome.model.state_dict(),
                     "result": json_safe(result)}, run.dir / task.checkpoint)
    row = {**run.ident(task.seed, task.scenario), "method": plan.name,
           "base_method": plan.method,
           "variant": str(plan.params.get("variant", "")),
           **_evaluate(run, plan, task), "seconds": outcome.seconds,
           **{f"noiseless_{k}_accuracy": v for k, v in task.rehearsal.items()},
           "evaluated_on": "statevector (exact)", "device": plan.device,
           "local_testing_mode": plan.local, "date": utc_now(),
           "shots": plan.settings["shots"], "precision": plan.settings["precision"],
           "resilience_level": plan.settings["resilience_level"],
           "optimization_level": plan.settings["optimization_level"],
           "mode": plan.runtime.mode, **asdict(cost),
           "total_shots": cost.shots(plan.settings["shots"]),
           "jobs_sent": journaled.sent, "jobs_replayed": journaled.replayed,
           "journal": result["journal"]}
    with RunLock(store.root, "qunlearn hw unlearn", wait=True):  # status/fetch: seconds
        _write_rows(store.root / RESULTS_FILE, [row])
    echo(f"  {plan.name}: retain {row['retain_accuracy']:.3f}  forget "
         f"{row['forget_accuracy']:.3f}  test {row['test_accuracy']:.3f}  UQI "
         f"{row['uqi']:+.3f}  ({cost.jobs} jobs, {journaled.sent} sent now, "
         f"{journaled.replayed} replayed; noiseless rehearsal: forget "
         f"{task.rehearsal.get('forget', np.nan):.3f})")
    return row


def execute_unlearning(plan: UnlearnPlan, run: FinishedRun, store: JobStore, *,
                       max_jobs: int | None = None,
                       echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every unfinished task on the device, journaled.

    Each task's model is stored in the run (``unlearned/<scenario>__seed<s>__<name>.pt``),
    evaluated exactly against the run's teacher and oracle, and its row added to
    ``RUN_DIR/hardware/unlearn-results.csv``.

    Args:
        plan: The plan (:func:`plan_unlearning`).
        run: The run the plan was made for.
        store: The run's job store.
        max_jobs: At most this many new jobs are sent by this call (replayed jobs are free);
            ``None`` sets no limit.
        echo: Called with progress lines (one per job, one per finished task).

    Returns:
        The new rows of the results table, one per task run now.

    Raises:
        JobBudgetReached: After ``max_jobs`` new jobs; the journal keeps them, so the same
            call later continues from there.
        HardwareError: If a job fails or a journaled job no longer matches what the method
            asks (the model, data or settings changed).
    """
    todo = [task for task in plan.tasks if not task.done]
    if not todo:
        return []
    backend = device_backend(plan, store)
    mode = ibm.open_execution_mode(plan.runtime.mode, backend)
    budget = None if max_jobs is None else {"left": int(max_jobs)}
    reconnect = None if plan.local else store.remote_job
    model_backend, model_options = _device_model_backend(plan, store)
    rows = []
    try:
        estimator = runtime_estimator(mode, plan.runtime.estimator_options)
        for task in todo:
            task.directory.mkdir(parents=True, exist_ok=True)
            with RunLock(task.directory, f"qunlearn hw unlearn {plan.method}"):
                rows.append(_execute_task(plan, run, store, task, estimator, reconnect,
                                          budget, model_backend, model_options, echo))
    finally:
        if plan.runtime.mode != "job":
            mode.close()
    return rows


def unlearning_statuses(store: JobStore, *, network: bool = True) -> list[dict[str, Any]]:
    """One row per on-device unlearning (journal): jobs finished, the last job and its status
    (asked of IBM when it is still unfinished and ``network``), and whether the model is done."""
    from qiskit_unlearn.hardware.store import status_name

    rows = []
    for path in sorted((store.root / "unlearn").glob("*/*/journal.json")):
        data = read_journal(path)
        jobs = data["jobs"]
        last = jobs[-1] if jobs else {"job_id": "", "status": "-"}
        status = last["status"]
        if jobs and status_kind(status) == "pending":
            if data["local_testing_mode"]:
                status = "LOST"  # local jobs end with their process; the next run resends it
            elif network:
                status = status_name(store.remote_job(last["job_id"]).status())
        finished = _finished(store.root.parent / data["checkpoint"], data["key"])
        rows.append({"name": data["name"], "seed": data["seed"], "scenario": data["scenario"],
                     "device": data["device"], "done": sum(j["status"] == "DONE" for j in jobs),
                     "jobs": len(jobs), "last_job": last["job_id"], "last_status": status,
                     "finished": finished})
    return rows
