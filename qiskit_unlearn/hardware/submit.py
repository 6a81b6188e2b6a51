"""``qunlearn hw submit``: plan, price and send a run's evaluation PUBs to a device.

A *PUB group* is one (seed, scenario, model, split). Scenarios often share a model (the
teacher of ``subset-0.05`` and ``class-0`` is one cached model) and splits share samples
(every scenario has the same val and test sets; one's forget set lies in another's retain
set), so groups are not PUBs: each distinct model (told by content, ``pubs.model_sha256``) is
one job with one PUB per circuit whose rows are its distinct samples, each sent once, and
each group records which rows hold its samples. In the default ``batch`` mode IBM schedules
the jobs together while each model can still fail or be resubmitted on its own. Submitting
is idempotent per group: one that already has a finished or pending job on the same device
with the same shots, resilience and optimization settings (and the same checkpoint) is not
sent again; failed ones are sent again only with ``resubmit_failed``.
"""

from __future__ import annotations

import copy
import os
import secrets
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qiskit_unlearn.backends import ibm
from qiskit_unlearn.backends.noise import fake_backend, shots_for_precision
from qiskit_unlearn.hardware.base import (
    SPLITS,
    HardwareError,
    canonical,
    sha256_arrays,
    status_kind,
    utc_now,
    utc_stamp,
)
from qiskit_unlearn.hardware.pubs import (
    circuit_inputs,
    distinct_rows,
    measurement_bases,
    model_sha256,
    observables_column,
    parameter_values,
    quantum_part,
)
from qiskit_unlearn.hardware.runs import FinishedRun, Target
from qiskit_unlearn.hardware.store import JobStore

MODES = ibm.MODES
DEFAULT_MODE = "batch"
#: IBM Runtime's Estimator applies TREX readout mitigation (level 1) unless told otherwise.
DEFAULT_RESILIENCE_LEVEL = 1
_RANK = {"failed": 0, "pending": 1, "finished": 2}


@dataclass(frozen=True, kw_only=True)
class DeviceRequest:
    """Which seeds and scenarios of a run go to which device, and how.

    Settings are validated when a plan is made (IBM Runtime's rules, see
    ``backends.ibm``), before anything touches the network.

    Attributes:
        device: An IBM device name (``ibm_brisbane``) or a fake device (``fake_manila`` or
            ``fake:manila``, run offline in IBM Runtime local testing mode).
        seeds: The run seeds to use; ``None`` uses all.
        scenarios: The scenario names to use; ``None`` uses all.
        shots: Shots per circuit execution (sets the Estimator precision to
            ``1/sqrt(shots)``); give ``shots`` or ``precision``, not both.
        precision: The Estimator's target precision; ``None`` with ``shots`` also ``None``
            uses the backend default.
        resilience_level: IBM Runtime's error-mitigation level, 0 to 2; ``None`` uses 1
            (TREX readout mitigation). Ignored on fake devices.
        optimization_level: Transpiler optimization level, 0 to 3.
        mode: How jobs are grouped on IBM: ``job``, ``batch`` (the default: scheduled
            together, each job failing or resubmitted on its own) or ``session``.
        seed: Seeds the transpiler and the Estimator's simulator or sampling; ``None`` for
            none (a fake device refuses 0).
    """

    device: str
    seeds: Sequence[int] | None = None
    scenarios: Sequence[str] | None = None
    shots: int | None = None
    precision: float | None = None
    resilience_level: int | None = None
    optimization_level: int = ibm.DEFAULT_OPTIMIZATION_LEVEL
    mode: str = DEFAULT_MODE
    seed: int | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitRequest(DeviceRequest):
    """A :class:`DeviceRequest` for ``qunlearn hw submit``: which models and splits to measure.

    Takes every field of :class:`DeviceRequest` (device, seeds, scenarios, shots or precision,
    resilience and optimization levels, mode, seed) and these:

    Attributes:
        models: Model names (``original``, ``retrain``, method names); ``None`` means every
            model the run has.
        splits: Evaluation splits from :data:`SPLITS`; ``None`` means all (``nonmember``
            only when the run measured membership inference).
        resubmit_failed: Whether groups whose earlier job failed with the same settings are
            sent again (otherwise they are skipped).
    """

    models: Sequence[str] | None = None
    splits: Sequence[str] | None = None
    resubmit_failed: bool = False


@dataclass(frozen=True)
class PubGroup:
    """One (seed, scenario, model, split): the rows of its PUB that hold the split's samples."""

    target: Target
    split: str
    num_samples: int
    checkpoint_sha256: str
    data_sha256: str
    circuit: str
    rows: tuple[int, ...] = ()

    def key(self) -> tuple[Any, ...]:
        """What makes two groups the same measurement (on one device, with one setting)."""
        t = self.target
        return t.seed, t.scenario, t.model, self.split, self.checkpoint_sha256

    def record(self, pub: int) -> dict[str, Any]:
        t = self.target
        return {"seed": t.seed, "scenario": t.scenario, "model": t.model, "split": self.split,
                "checkpoint": t.checkpoint, "checkpoint_sha256": self.checkpoint_sha256,
                "data_sha256": self.data_sha256, "num_samples": self.num_samples,
                "circuit": self.circuit, "pub": pub, "rows": list(self.rows)}


def group_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """:meth:`PubGroup.key` of a group recorded in ``jobs.json``."""
    return (record["seed"], record["scenario"], record["model"], record["split"],
            record["checkpoint_sha256"])


@dataclass
class Pub:
    """One PUB: each distinct sample of one distinct model on one circuit, once."""

    target: Target  # a model with this content: encodes the samples and fixes the weights
    model_sha256: str
    circuit: str
    num_observables: int
    samples: np.ndarray  # the distinct raw samples (``x`` rows), in row order
    groups: list[PubGroup]

    @property
    def num_rows(self) -> int:
        return len(self.samples)

    def record(self, index: int) -> dict[str, Any]:
        return {"index": index, "circuit": self.circuit, "model_sha256": self.model_sha256,
                "num_rows": self.num_rows}


@dataclass
class Plan:
    """What a submission would send (one job per distinct model), what it skips, its cost.

    Made by :func:`plan_submission`, shown by :func:`describe`, sent by :func:`execute`.

    Attributes:
        device: The device's name (fake devices by their backend name, e.g. ``fake_manila``).
        local: Whether it is a fake device in IBM Runtime local testing mode.
        settings: ``shots``, ``precision``, ``resilience_level`` (``None`` when local) and
            ``optimization_level``, as recorded with the jobs.
        runtime: The validated IBM Runtime settings (Estimator options, mode, seed).
        jobs: The PUBs of each job to send, one job per distinct model.
        bases: Measurement bases (circuits run per parameter set) of each circuit, by the
            circuit's fingerprint.
        skipped: How many (model, split) groups were not planned because a ``finished``,
            ``pending`` or ``failed`` job with these settings already exists.
    """

    device: str
    local: bool
    settings: dict[str, Any]
    runtime: Any  # backends.ibm._RuntimeSettings: estimator options, mode, seed
    jobs: list[list[Pub]] = field(default_factory=list)
    bases: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_RANK, 0))

    @property
    def pubs(self) -> list[Pub]:
        """Every PUB of the plan, job by job."""
        return [pub for job in self.jobs for pub in job]

    def cost(self) -> dict[str, int]:
        """What the plan asks of the device.

        Returns:
            Counts of distinct ``circuits``, ``jobs``, ``pubs``, (model, split) ``groups``,
            ``parameter_sets`` sent, ``parameter_sets_saved`` by sending each distinct sample
            of a model once, ``expectation_values``, ``circuit_executions`` (parameter sets
            times measurement bases) and ``shots`` (executions times shots per execution).
        """
        pubs = self.pubs
        sets = sum(p.num_rows for p in pubs)
        asked = sum(g.num_samples for p in pubs for g in p.groups)
        executions = sum(p.num_rows * self.bases[p.circuit] for p in pubs)
        return {"circuits": len({p.circuit for p in pubs}), "jobs": len(self.jobs),
                "pubs": len(pubs), "groups": sum(len(p.groups) for p in pubs),
                "parameter_sets": sets, "parameter_sets_saved": asked - sets,
                "expectation_values": sum(p.num_rows * p.num_observables for p in pubs),
                "circuit_executions": executions,
                "shots": executions * self.settings["shots"]}


def parse_device(name: str) -> tuple[str, bool]:
    """``(device name, local)``: ``fake_<x>``/``fake:<x>`` are local fake devices, the rest IBM."""
    key = name.strip() if isinstance(name, str) else ""
    if not key:
        raise HardwareError("--device needs a device name such as 'ibm_brisbane' or "
                            "'fake_manila'")
    if key.lower().startswith("fake"):
        return fake_backend(key.replace(":", "_")).name, True
    return key, False


def runtime_options(request: DeviceRequest, device: str, local: bool
                    ) -> tuple[dict[str, Any], Any]:
    """Validated settings (``backends.ibm`` rules) and the record that identifies them."""
    if request.mode not in MODES:
        raise HardwareError(f"--mode must be one of {', '.join(MODES)}, got {request.mode!r}")
    resilience = request.resilience_level
    if local:
        resilience = None  # local testing mode has no error mitigation to configure
    elif resilience is None:
        resilience = DEFAULT_RESILIENCE_LEVEL
    options = {"shots": request.shots, "precision": request.precision, "seed": request.seed,
               "optimization_level": request.optimization_level, "mode": request.mode,
               "resilience_level": resilience}
    runtime = ibm.runtime_settings(device, {k: v for k, v in options.items() if v is not None},
                            local=local)
    settings = {"shots": shots_for_precision(runtime.precision), "precision": runtime.precision,
                "resilience_level": resilience,
                "optimization_level": runtime.optimization_level}
    return settings, runtime


def _existing(store: JobStore, data: dict[str, Any], device: str,
              settings_key: str) -> dict[tuple[Any, ...], str]:
    """Best known state (finished > pending > failed) of every group sent with these settings."""
    state: dict[tuple[Any, ...], str] = {}
    for sub, job in store.jobs(data):
        if sub["device"] != device or sub["settings_key"] != settings_key:
            continue
        kind = status_kind(job["status"])
        for group in job["groups"]:
            key = group_key(group)
            if _RANK[kind] > _RANK.get(state.get(key, ""), -1):
                state[key] = kind
    return state


def plan_submission(run: FinishedRun, store: JobStore, request: SubmitRequest, *,
                    network: bool = True) -> Plan:
    """Everything to send, after skipping groups already finished, pending or failed.

    Targets whose models compute the same thing (a teacher that scenarios share) are one
    distinct model: one job, one PUB per circuit, each distinct sample once. Empty splits are
    left out.

    Args:
        run: The finished run whose models are measured.
        store: The run's job store (to skip what was already sent with these settings).
        request: What to measure, where and how.
        network: Whether IBM may be contacted: the saved account is opened (so a missing one
            fails before any cost is shown) and job statuses refreshed. ``False`` (dry runs)
            judges IBM jobs by their last stored status.

    Returns:
        The :class:`Plan`.

    Raises:
        HardwareError: If the device name is empty, the mode or a split is unknown, or the
            selection of models, seeds or scenarios does not fit the run.
        qiskit_unlearn.errors.BackendError: If the shots, precision, seed or levels break IBM
            Runtime's rules, or the IBM account cannot be opened.
    """
    device, local = parse_device(request.device)
    settings, runtime = runtime_options(request, device, local)
    splits = list(SPLITS) if request.splits is None else list(request.splits)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise HardwareError(f"unknown splits {unknown}; choose from {', '.join(SPLITS)}")
    if request.splits is None and not run.mia:
        splits.remove("nonmember")
    targets = run.targets(request.models, request.seeds, request.scenarios)
    if network and not local:
        store.service()  # a missing IBM account fails here, before any cost is shown
    data = store.refresh(network=network, device=device)
    state = _existing(store, data, device, canonical(settings))
    plan = Plan(device, local, settings, runtime)
    wanted: dict[tuple[str, str], list[tuple[PubGroup, np.ndarray]]] = {}
    observables: dict[str, int] = {}
    for target in targets:
        model = run.model(target)
        part = quantum_part(model)
        plan.bases.setdefault(part.fingerprint, measurement_bases(part.observables))
        observables[part.fingerprint] = part.num_observables
        checkpoint, key = run.digest(target), (model_sha256(model), part.fingerprint)
        for split in splits:
            x, y = run.split(target.seed, target.scenario, split)
            if len(y) == 0:
                continue
            group = PubGroup(target, split, len(y), checkpoint, sha256_arrays(x, y),
                             part.fingerprint)
            known = state.get(group.key())
            if known == "failed" and request.resubmit_failed:
                known = None
            if known is None:
                wanted.setdefault(key, []).append((group, x))
            else:
                plan.skipped[known] += 1
    jobs: dict[str, list[Pub]] = {}
    for (model_key, circuit), items in wanted.items():
        samples, rows = distinct_rows([x for _, x in items])
        groups = [replace(group, rows=tuple(int(r) for r in where))
                  for (group, _), where in zip(items, rows, strict=True)]
        jobs.setdefault(model_key, []).append(
            Pub(items[0][0].target, model_key, circuit, observables[circuit], samples, groups))
    plan.jobs = list(jobs.values())
    return plan


def describe(plan: Plan) -> list[str]:
    """The lines printed before anything is sent (and all a dry run prints).

    Args:
        plan: A submission plan.

    Returns:
        Human-readable lines: the device and where it runs, the settings, the jobs, PUBs,
        parameter sets and shots to send, what de-duplication saves, and what was skipped.
    """
    s, c = plan.settings, plan.cost()
    where = ("IBM Runtime local testing mode: Aer with the device's noise model, no network, "
             "no cost" if plan.local else "IBM Quantum hardware: billed by QPU time")
    resilience = "n/a (local)" if s["resilience_level"] is None else s["resilience_level"]
    lines = [f"device {plan.device} ({where})",
             f"settings: {s['shots']} shots per circuit execution (precision "
             f"{s['precision']:.4g}), resilience level {resilience}, optimization level "
             f"{s['optimization_level']}, mode {plan.runtime.mode}"]
    if c["pubs"]:
        saved = c["parameter_sets_saved"]
        lines.append(f"to submit: {c['jobs']} jobs, {c['pubs']} PUBs on {c['circuits']} "
                     f"distinct circuit(s), {c['parameter_sets']} parameter sets "
                     f"({c['expectation_values']} expectation values)")
        if saved:
            lines.append(f"  de-duplicated: {c['groups']} model/split evaluations of "
                         f"{c['parameter_sets'] + saved} samples on {c['jobs']} distinct "
                         f"model(s); sending each distinct sample of a model once saves "
                         f"{saved} parameter sets ({saved / (c['parameter_sets'] + saved):.0%})")
        lines.append(f"circuit evaluations: {c['circuit_executions']} circuit executions x "
                     f"{s['shots']} shots = {c['shots']:,} shots")
        if s["resilience_level"] == 2:
            lines.append("resilience level 2 adds zero-noise extrapolation: expect about 3x "
                         "these shots")
    else:
        lines.append("nothing to submit")
    skipped = plan.skipped
    if any(skipped.values()):
        lines.append(f"already sent with these settings: {skipped['finished']} finished, "
                     f"{skipped['pending']} pending, {skipped['failed']} failed model/split "
                     "evaluations")
    if skipped["failed"]:
        lines.append("failed evaluations are not sent again unless you pass --resubmit-failed")
    return lines


def _isa_record(isa: Any, backend: Any) -> dict[str, Any]:
    info = ibm.layout_info(isa, backend)
    info.pop("device")
    return {**info, "depth": isa.depth(), "size": isa.size(),
            "two_qubit_gates": sum(1 for inst in isa.data if len(inst.qubits) == 2),
            "num_parameters": isa.num_parameters}


def device_backend(plan: Any, store: JobStore) -> Any:
    """The device of a plan (``.device``, ``.local``): a fake device, or IBM's by name."""
    if plan.local:
        return fake_backend(plan.device)
    return ibm.runtime_device(store.service(), plan.device, 1)


def runtime_estimator(mode: Any, options: dict[str, Any]) -> Any:
    from qiskit_ibm_runtime import EstimatorV2

    with warnings.catch_warnings():  # the project uses EstimatorV2 throughout (backends.ibm)
        warnings.filterwarnings("ignore", "The EstimatorV2 class is deprecated",
                                DeprecationWarning)
        return EstimatorV2(mode=mode, options=copy.deepcopy(options))


def execute(plan: Plan, run: FinishedRun, store: JobStore,
            echo: Callable[[str], None] = print) -> list[str]:
    """Transpile each distinct circuit once, send one job per distinct model and record every
    job id in ``jobs.json`` as soon as IBM returns it; local jobs are then waited for and
    stored.

    The submission is recorded (device, settings, ISA layouts, versions) before the first job
    is sent, so a failure part-way leaves every sent job on record and the same call later
    sends only the rest.

    Args:
        plan: The plan to send (:func:`plan_submission`).
        run: The run the plan was made for.
        store: The run's job store.
        echo: Called with one line per sent job (and per finished local job).

    Returns:
        The ids of the jobs sent, in order.

    Raises:
        HardwareError: If IBM Runtime refuses a job (the jobs already sent stay recorded).
    """
    from qiskit_unlearn.run.outputs import package_versions

    backend = device_backend(plan, store)
    runtime = plan.runtime
    isa: dict[str, tuple[Any, list[Any]]] = {}
    for pub in plan.pubs:
        if pub.circuit not in isa:
            part = quantum_part(run.model(pub.target))
            isa[pub.circuit] = ibm.to_isa(part.circuit, part.observables, backend,
                                          optimization_level=runtime.optimization_level,
                                          seed=runtime.seed)
    sub_id = f"{utc_stamp()}-{secrets.token_hex(3)}"
    record = {
        "id": sub_id, "date": utc_now(), "device": plan.device,
        "local_testing_mode": plan.local, "num_device_qubits": backend.num_qubits,
        **plan.settings, "settings_key": canonical(plan.settings), "mode": runtime.mode,
        "seed": runtime.seed, "estimator_options": runtime.estimator_options,
        **({"pid": os.getpid()} if plan.local else {}), "versions": package_versions(),
        "circuits": {key: _isa_record(circuit, backend) for key, (circuit, _) in isa.items()},
    }
    mode = ibm.open_execution_mode(runtime.mode, backend)
    handles: list[tuple[str, Any]] = []
    try:
        estimator = runtime_estimator(mode, runtime.estimator_options)
        store.add_submission(record)
        for number, job in enumerate(plan.jobs, 1):
            pubs = []
            for pub in job:
                model = run.model(pub.target)
                circuit, observables = isa[pub.circuit]
                values = parameter_values(circuit, quantum_part(model),
                                          circuit_inputs(model, pub.samples))
                pubs.append((circuit, observables_column(observables), values))
            try:
                handle = estimator.run(pubs)
            except Exception as exc:
                raise HardwareError(
                    f"IBM Runtime refused job {number} of {len(plan.jobs)} "
                    f"({type(exc).__name__}: {exc}); the {number - 1} job(s) already sent are "
                    "recorded in jobs.json, so after fixing the problem 'submit' sends only "
                    "the rest") from exc
            job_id = handle.job_id()
            groups = [g.record(i) for i, pub in enumerate(job) for g in pub.groups]
            store.add_job(sub_id, {"job_id": job_id, "status": "QUEUED", "error": None,
                                   "pubs": [pub.record(i) for i, pub in enumerate(job)],
                                   "groups": groups})
            handles.append((job_id, handle))
            labels = sorted({g.target.label() for pub in job for g in pub.groups})
            echo(f"job {number}/{len(plan.jobs)}: {job_id} ({'; '.join(labels)}: {len(groups)} "
                 f"splits, {sum(p.num_rows for p in job)} parameter sets)")
    finally:
        if runtime.mode != "job":
            mode.close()  # a closed batch or session still runs the jobs it has accepted
        if handles and runtime.mode != "job":
            store.set_fields(sub_id, batch_id=getattr(mode, "session_id", None))
        if plan.local:
            for job_id, handle in handles:
                echo(f"local job {job_id}: {store.finish_local(job_id, handle)}")
    return [job_id for job_id, _ in handles]
