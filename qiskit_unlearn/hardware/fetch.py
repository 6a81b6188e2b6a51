"""``qunlearn hw status`` / ``fetch``: reconnect to submitted jobs and tabulate their results.

Each finished (seed, scenario, model, split) group takes its rows of its PUB (a PUB holds each
distinct sample of a model once, see ``hardware.submit``); they become
logits (``model.decode`` of the measured expectation values) and then the same metric rows as
``qunlearn run`` (``evaluate_model``), one row per device, settings, seed, scenario and
model, with extra columns saying where and how it was measured. The reference models of a row
(the teacher ``original`` and the oracle ``retrain``) are the hardware-measured ones when they
were measured on every needed split with the same settings, otherwise their exact simulation
(column ``reference``). A model measured on only some splits gets their accuracies only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qiskit_unlearn.evaluate.metrics import accuracy
from qiskit_unlearn.evaluate.suite import ACCURACY_SPLITS, evaluate_model, split_logits
from qiskit_unlearn.hardware.base import (
    ORIGINAL,
    RETRAIN,
    HardwareError,
    sha256_arrays,
    status_kind,
    write_csv,
)
from qiskit_unlearn.hardware.pubs import logits_from_expectations
from qiskit_unlearn.hardware.runs import FinishedRun, Target
from qiskit_unlearn.hardware.store import JobStore

#: Columns added to the simulation's metric columns.
HARDWARE_COLUMNS = ("device", "local_testing_mode", "date", "shots", "precision",
                    "resilience_level", "optimization_level", "job_id", "reference", "splits")
_SETTINGS = ("device", "local_testing_mode", "shots", "precision", "resilience_level",
             "optimization_level")


# --- status -----------------------------------------------------------------------------------

def job_statuses(store: JobStore, *, network: bool = True) -> list[dict[str, Any]]:
    """The status of every submitted job, refreshed first (``qunlearn hw status``).

    Args:
        store: The run's job store.
        network: Whether IBM may be asked for current statuses; ``False`` shows the stored
            ones (local jobs are still checked).

    Returns:
        One row per job: ``job_id``, ``device``, ``date``, ``status`` (IBM's name, e.g.
        ``QUEUED``, ``DONE``, ``ERROR``, or ``LOST``), ``kind`` (``finished``, ``pending`` or
        ``failed``), ``pubs`` (PUB count), ``models`` (``seed<s>/<scenario>/<model>``, comma
        separated) and ``error`` (``None`` unless it failed).
    """
    data = store.refresh(network=network)
    rows = []
    for sub, job in store.jobs(data):
        models = sorted({f"seed{g['seed']}/{g['scenario']}/{g['model']}" for g in job["groups"]})
        rows.append({"job_id": job["job_id"], "device": sub["device"], "date": sub["date"],
                     "status": job["status"], "kind": status_kind(job["status"]),
                     "pubs": len(job["pubs"]), "models": ", ".join(models),
                     "error": job.get("error")})
    return rows


def resubmit_commands(store: JobStore, run_dir: Path) -> list[str]:
    """``qunlearn hw submit`` commands that resend the failed groups with their settings."""
    from qiskit_unlearn.backends.noise import precision_for_shots

    failed: dict[tuple[str, str], dict[str, Any]] = {}
    for sub, job in store.jobs():
        if status_kind(job["status"]) != "failed":
            continue
        entry = failed.setdefault((sub["device"], sub["settings_key"]), {
            "sub": sub, "models": set(), "splits": set(), "seeds": set(), "scenarios": set()})
        for group in job["groups"]:
            for name, key in (("models", "model"), ("splits", "split"), ("seeds", "seed"),
                              ("scenarios", "scenario")):
                entry[name].add(str(group[key]))
    commands = []
    for entry in failed.values():
        sub = entry["sub"]
        shots = (f"--shots {sub['shots']}" if precision_for_shots(sub["shots"]) ==
                 sub["precision"] else f"--precision {sub['precision']!r}")
        parts = [f"qunlearn hw submit {run_dir} --device {sub['device']} {shots}",
                 f"--optimization-level {sub['optimization_level']}"]
        if sub["resilience_level"] is not None:
            parts.append(f"--resilience-level {sub['resilience_level']}")
        parts += [f"--{name} {','.join(sorted(entry[name]))}"
                  for name in ("models", "splits", "seeds", "scenarios")]
        commands.append(" ".join([*parts, "--resubmit-failed"]))
    return commands


# --- fetch ------------------------------------------------------------------------------------

@dataclass
class _Measured:
    """Hardware logits of one model, by split, and where they came from."""

    logits: dict[str, np.ndarray] = field(default_factory=dict)
    job_ids: dict[str, str] = field(default_factory=dict)
    dates: set[str] = field(default_factory=set)


@dataclass
class FetchResult:
    """What :func:`fetch_results` collected and wrote.

    Attributes:
        rows: The rows written to ``hardware/results.csv``: the simulation's metric columns
            for each measured model, then the hardware columns (device, settings, job ids,
            ``reference``: whether the teacher and oracle were measured too or simulated,
            ``splits`` measured).
        jobs: How many jobs are ``finished``, ``pending`` and ``failed``.
        stale_pubs: How many measured groups were skipped because their model's checkpoint
            changed (or was removed) since they were submitted.
        path: The written ``results.csv``, or ``None`` when no job has finished yet.
    """

    rows: list[dict[str, Any]]
    jobs: Counter[str]  # finished / pending / failed
    stale_pubs: int  # groups measured on checkpoints that have changed since
    path: Path | None


def _collect(run: FinishedRun, store: JobStore, data: dict[str, Any]
             ) -> tuple[dict[tuple[Any, ...], dict[str, _Measured]], Counter[str], int]:
    """Hardware logits grouped by (settings, seed, scenario) then model; newest PUB wins."""
    grouped: dict[tuple[Any, ...], dict[str, _Measured]] = {}
    jobs: Counter[str] = Counter()
    stale = 0
    for sub, job in store.jobs(data):
        kind = status_kind(job["status"])
        jobs[kind] += 1
        if kind != "finished":
            continue
        result = store.result(sub, job)
        settings = tuple(sub[k] for k in _SETTINGS)
        for group in job["groups"]:
            target = Target(group["seed"], group["scenario"], group["model"], group["checkpoint"])
            if not (run.dir / target.checkpoint).is_file() or \
                    run.digest(target) != group["checkpoint_sha256"]:
                stale += 1
                continue
            x, y = run.split(target.seed, target.scenario, group["split"])
            if sha256_arrays(x, y) != group["data_sha256"]:
                raise HardwareError(
                    f"the {group['split']} split of {target.label()} is not the data job "
                    f"{job['job_id']} measured: the run's config or dataset changed since; "
                    "restore them or resubmit")
            evs = _group_evs(result, job, group, store)
            measured = grouped.setdefault((settings, target.seed, target.scenario), {}) \
                .setdefault(target.model, _Measured())
            measured.logits[group["split"]] = logits_from_expectations(run.model(target), evs)
            measured.job_ids[group["split"]] = job["job_id"]
            measured.dates.add(sub["date"])
    return grouped, jobs, stale


def _group_evs(result: Any, job: dict[str, Any], group: dict[str, Any],
               store: JobStore) -> np.ndarray:
    """A group's expectation values ``(observables, samples)``: its rows of its PUB."""
    index, rows = group["pub"], np.asarray(group["rows"], dtype=np.int64)
    pub = next((p for p in job["pubs"] if p["index"] == index), None)
    where = f"job {job['job_id']} PUB {index}"
    if pub is None or index >= len(result):
        raise HardwareError(f"{where} is not in the job's record or result; {store.path} or "
                            f"{store.result_path(job['job_id'])} is damaged")
    evs = np.asarray(result[index].data.evs)
    if evs.ndim != 2 or evs.shape[1] != pub["num_rows"] or len(rows) != group["num_samples"] \
            or (len(rows) and (rows.min() < 0 or rows.max() >= pub["num_rows"])):
        raise HardwareError(f"{where} returned expectation values of shape {evs.shape}, but "
                            f"{store.path} expects (observables, {pub['num_rows']}) with "
                            f"{group['num_samples']} of those rows for {group['split']} of seed "
                            f"{group['seed']} / {group['scenario']} / {group['model']}: one of "
                            f"the files is damaged; delete {store.result_path(job['job_id'])} "
                            "and fetch again (IBM jobs) or resubmit")
    return evs[:, rows]


def _complete(run: FinishedRun, logits: dict[str, np.ndarray], seed: int,
              scenario: str) -> bool:
    """Measured on every split the metrics need (empty splits count as measured)."""
    needed = [*ACCURACY_SPLITS, *(["nonmember"] if run.mia else [])]
    sets = run.sets(seed, scenario)
    return all(s in logits or len(sets.split(s)[1]) == 0 for s in needed)


def _filled(logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Logits with empty ``(0, C)`` arrays for splits that have no samples."""
    width = next(iter(logits.values())).shape[1]
    empty = np.zeros((0, width))
    return {s: logits.get(s, empty) for s in (*ACCURACY_SPLITS, "nonmember")}


def _rows(run: FinishedRun, settings: tuple[Any, ...], seed: int, scenario: str,
          models: dict[str, _Measured]) -> list[dict[str, Any]]:
    sets = run.sets(seed, scenario)
    refs, sources = {}, {}
    for role in (ORIGINAL, RETRAIN):
        measured = models.get(role)
        if measured is not None and _complete(run, measured.logits, seed, scenario):
            refs[role], sources[role] = _filled(measured.logits), "hardware"
        else:
            target = Target(seed, scenario, role, run.checkpoint(seed, scenario, role))
            refs[role], sources[role] = split_logits(run.model(target), sets), "simulation"
    reference = sources[ORIGINAL] if sources[ORIGINAL] == sources[RETRAIN] else \
        f"original: {sources[ORIGINAL]}, retrain: {sources[RETRAIN]}"
    order = {name: i for i, name in enumerate(run.methods())}
    rows = []
    for name in sorted(models, key=lambda m: order.get(m, len(order))):
        measured = models[name]
        target = Target(seed, scenario, name, run.checkpoint(seed, scenario, name))
        row: dict[str, Any] = {**run.ident(seed, scenario), "method": name,
                               "variant": run.variant(target)}
        if _complete(run, measured.logits, seed, scenario):
            row.update(evaluate_model(_filled(measured.logits), refs[ORIGINAL], refs[RETRAIN],
                                      sets, mia=run.mia, seed=seed,
                                      mia_score=run.mia_score))
            row["reference"] = reference
        else:
            row.update({f"{s}_accuracy": accuracy(measured.logits[s], sets.split(s)[1])
                        for s in ACCURACY_SPLITS if s in measured.logits})
            row["reference"] = ""
        row.update(dict(zip(_SETTINGS, settings, strict=True)))
        row.update(date=";".join(sorted(measured.dates)),
                   job_id=";".join(sorted(set(measured.job_ids.values()))),
                   splits=",".join(s for s in (*ACCURACY_SPLITS, "nonmember")
                                   if s in measured.logits))
        rows.append(row)
    return rows


def fetch_results(run: FinishedRun, store: JobStore,
          echo: Callable[[str], None] = print) -> FetchResult:
    """Refresh statuses, collect finished results and write ``hardware/results.csv``.

    Each finished (seed, scenario, model, split) group takes its rows of its PUB and becomes
    logits; a model measured on every split the metrics need gets the run's full metric row,
    one measured on only some splits their accuracies. For each (settings, seed, scenario)
    the newest measurement of a split wins.

    Args:
        run: The finished run the jobs measured.
        store: The run's job store.
        echo: Called with one line (the accuracies) per written row.

    Returns:
        The rows, job counts, stale groups and the written path.

    Raises:
        HardwareError: If a split's data differs from what a job measured (the run's config
            or dataset changed), or a job's record and result do not fit together.
        qiskit_unlearn.storage.FileError: If a stored result is unreadable.
    """
    data = store.refresh()
    grouped, jobs, stale = _collect(run, store, data)
    rows: list[dict[str, Any]] = []
    for (settings, seed, scenario), models in grouped.items():
        rows += _rows(run, settings, seed, scenario, models)
    path = None
    if rows:
        path = store.root / "results.csv"
        write_csv(path, rows, last=HARDWARE_COLUMNS)
        for row in rows:
            accs = "  ".join(f"{s} {row[f'{s}_accuracy']:.3f}" for s in ACCURACY_SPLITS
                             if f"{s}_accuracy" in row)
            echo(f"  {row['device']:14s} seed {row['seed']} {row['scenario']:12s} "
                 f"{row['method']:14s} {accs}")
    return FetchResult(rows, jobs, stale, path)
