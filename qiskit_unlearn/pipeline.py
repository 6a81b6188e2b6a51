"""``qunlearn run``: data → model → train teacher and retrain oracle, per scenario and seed.

Flow (one way): load and split the data (seeded, stratified), fit the preprocessing on the
training split only, build each forget scenario, train the teacher on the scenario's training
data and the oracle on the retain set only, evaluate both on retain / forget / validation /
test, and write a run directory. Trained models are cached by a hash of everything that
determines them, so scenarios sharing a teacher (e.g. ``subset`` and ``class``) train it once
and a re-run is free; a killed run resumes from per-model checkpoints.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.evaluate.suite import EvalSets, evaluate_model, landscape, split_logits
from qiskit_unlearn.train import (
    TrainConfig,
    load_checkpoint,
    predict_logits,
    save_checkpoint,
    train,
)
from qiskit_unlearn.unlearn import UnlearnData

PACKAGES = ("qiskit-unlearn", "qiskit", "qiskit-aer", "qiskit-machine-learning",
            "qiskit-ibm-runtime", "torch", "numpy", "scipy", "scikit-learn", "numba")
CACHE_VERSION = 1


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qiskit-unlearn" / "models"


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(repr((part.shape, str(part.dtype))).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _logger(run_dir: Path) -> logging.Logger:
    log = logging.getLogger(f"qunlearn.run.{run_dir}")
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fh = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(fh)
    return log


def prepare_data(cfg: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Load, split and preprocess (fitted on the training split only)."""
    from qiskit_unlearn.data import load_dataset, make_preprocessor, split_dataset

    data_cfg = cfg["data"]
    ds = load_dataset(data_cfg["dataset"], data_dir=data_cfg["data_dir"],
                      classes=data_cfg["classes"] or None,
                      samples_per_class=data_cfg["samples_per_class"] or None, seed=seed,
                      **data_cfg["options"])
    official = data_cfg["use_official_test"]
    splits = split_dataset(ds, test_size=None if official else data_cfg["test_size"],
                           val_size=data_cfg["val_size"], seed=seed, use_official_test=official)
    kind = data_cfg["preprocess"]
    kwargs: dict[str, Any] = {}
    if kind == "pca-angles":
        kwargs = {"n_components": cfg["model"]["num_qubits"],
                  "feature_range": tuple(float(v) for v in data_cfg["angle_range"])}
    elif kind == "amplitude":
        kwargs = {"num_qubits": cfg["model"]["num_qubits"], "pca": data_cfg["amplitude_pca"]}
    pre = make_preprocessor(kind, **kwargs)
    pre.fit(splits.train[0])
    out = {name: (pre.transform(x).astype(np.float32), np.asarray(y, dtype=np.int64))
           for name, (x, y) in (("train", splits.train), ("val", splits.val),
                                ("test", splits.test))}
    out["num_classes"] = len(ds.class_names)
    out["metadata"] = {"dataset": ds.metadata, "splits": splits.metadata,
                       "class_names": list(ds.class_names),
                       "sizes": {k: len(out[k][1]) for k in ("train", "val", "test")}}
    return out


def _model_kwargs(cfg: Mapping[str, Any], data: Mapping[str, Any], seed: int) -> dict[str, Any]:
    kwargs = {k: v for k, v in cfg["model"].items() if k != "kind"}
    backend = dict(cfg["backend"])
    kwargs.update(num_classes=data["num_classes"], backend=backend.pop("name"),
                  backend_options=backend, seed=seed)
    if cfg["model"]["kind"] == "mlp":
        kwargs.pop("backend"), kwargs.pop("backend_options")
        kwargs.setdefault("input_dim", int(np.prod(data["train"][0].shape[1:])))
    return kwargs


def _json_safe(value: Any) -> Any:
    """Plain JSON types (numpy scalars and arrays become numbers and lists)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist()
                                 if hasattr(v, "tolist") else str(v)))


def train_cached(role: str, cfg: Mapping[str, Any], data: Mapping[str, Any],
                 train_xy: tuple[np.ndarray, np.ndarray], seed: int, *, cache_dir: Path | None,
                 checkpoint: Path, progress: bool) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train (or fetch from the cache) one model; returns the model at its best epoch.

    The best epoch is chosen on the validation split; only ``unlearn.faithful = true`` (the
    HQML study's behaviour) selects on the test split instead.
    """
    from qiskit_unlearn.models import CircuitCounter, build_model

    kwargs = _model_kwargs(cfg, data, seed)
    tcfg = TrainConfig(seed=seed, **cfg["train"])
    select = data["test"] if cfg["unlearn"]["faithful"] else data["val"]
    key = _digest(CACHE_VERSION, cfg["model"]["kind"], kwargs, asdict(tcfg), train_xy[0],
                  train_xy[1], select[0], select[1])
    model = build_model(cfg["model"]["kind"], **kwargs)
    cached = cache_dir / f"{key[:24]}.pt" if cache_dir is not None else None
    if cached is not None and cached.exists():
        state = load_checkpoint(cached)
        model.load_state_dict(state["model"])
        return model, {**state["result"], "cache": "hit", "cache_key": key[:24]}
    with CircuitCounter() as counter:
        result = train(model, train_xy, select, tcfg, checkpoint=checkpoint, progress=progress,
                       description=role, fingerprint=key)
    summary = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "best_val_accuracy": result.best_val_accuracy, "train_seconds": result.seconds,
               "resumed_from_epoch": result.resumed_from_epoch, "history": result.history,
               "circuit_evaluations": counter.total}
    if cached is not None:
        save_checkpoint({"model": model.state_dict(), "result": summary}, cached)
    return model, {**summary, "cache": "miss", "cache_key": key[:24]}


def build_scenario(sc_cfg: Mapping[str, Any], data: Mapping[str, Any], seed: int) -> Any:
    """The forget scenario of a validated ``[[scenario]]`` table on prepared data."""
    from qiskit_unlearn.scenarios import make_scenario

    return make_scenario(sc_cfg["kind"], data["train"], data["test"], seed=seed,
                         fraction=sc_cfg["fraction"], classes=sc_cfg["classes"],
                         alpha=sc_cfg["alpha"], num_classes=data["num_classes"])


def eval_sets(sc: Any, data: Mapping[str, Any], faithful: bool, seed: int) -> EvalSets:
    """Evaluation sets; the faithful (HQML) variant draws MIA non-members from the retain set."""
    nonmember = (sc.nonmember_x, sc.nonmember_y)
    if faithful:
        rng = np.random.default_rng(seed + 17)
        pick = np.sort(rng.choice(len(sc.retain_idx), min(len(sc.forget_idx),
                                                          len(sc.retain_idx)), replace=False))
        nonmember = (sc.retain[0][pick], sc.retain[1][pick])
    poisoned = not np.array_equal(sc.clean_y, sc.train_y)
    return EvalSets(sc.retain, sc.forget, data["val"], data["test"], nonmember,
                    sc.clean_y[sc.forget_idx] if poisoned else None)


def method_params(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The method's configured hyperparameters; ``unlearn.faithful = true`` also selects the
    HQML study's version (``faithful``, ``variant = "hqml"``) wherever a method has one and
    the config does not set it explicitly."""
    from qiskit_unlearn.unlearn import METHODS

    params = dict(cfg["unlearn"]["params"].get(method, {}))
    defaults = METHODS[method].defaults
    if "faithful" in defaults:
        params.setdefault("faithful", cfg["unlearn"]["faithful"])
    if cfg["unlearn"]["faithful"] and "variant" in defaults:
        params.setdefault("variant", "hqml")
    return params


def _unlearn_cached(method: str, teacher: torch.nn.Module, data: UnlearnData,
                    params: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    """Run a method, or reload its finished result (a killed run resumes method by method)."""
    from qiskit_unlearn.models import CircuitCounter
    from qiskit_unlearn.unlearn import clone_model, unlearn

    if path.exists():
        state = load_checkpoint(path)
        if state.get("key") == key:
            model = clone_model(teacher)
            model.load_state_dict(state["model"])
            return {**state["result"], "model": model, "resumed": True}
    with CircuitCounter() as counter:
        outcome = unlearn(method, teacher, data, params)
    result = _json_safe({"params": outcome.params, "seconds": outcome.seconds,
                         "info": outcome.info, "curve": outcome.curve,
                         "circuit_evaluations": counter.total})
    save_checkpoint({"key": key, "model": outcome.model.state_dict(), "result": result}, path)
    return {**result, "model": outcome.model, "resumed": False}


def _landscape(model: torch.nn.Module, sets: EvalSets, cfg: Mapping[str, Any],
               seed: int) -> dict[str, Any]:
    ev = cfg["evaluation"]
    return landscape(model, sets, top_k=ev["hessian_top_k"], samples=ev["hessian_samples"],
                     max_samples=ev["hessian_max_samples"], seed=seed)


def _forgetting_quality(cfg: Mapping[str, Any], data: Mapping[str, Any], sc: Any,
                        teacher: torch.nn.Module, seed: int, tag: str, out_dir: Path,
                        cache_dir: Path | None, progress: bool,
                        eval_backend: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """NeurIPS-2023-style forgetting quality and a U-LiRA-style attack for each method.

    M retrained models (fresh seeds, cached) and, per method, M unlearned models (the same
    teacher, M unlearning seeds) give each forget example M logit confidences per side. A
    retrain-vs-retrain row (two halves of the retrained models) is the reference score.
    Confidences are measured on ``eval_backend`` like every other metric of the run.
    """
    from qiskit_unlearn.evaluate import forgetting_quality, logit_confidence, ulira
    from qiskit_unlearn.unlearn import UnlearnData, unlearn

    m = cfg["evaluation"]["fq_models"]
    fx, fy = sc.forget

    def confidences(model: torch.nn.Module) -> np.ndarray:
        logits = predict_logits(evaluated_on(model, eval_backend), fx)
        return logit_confidence(logits.double().numpy(), fy,
                                from_logits=True)

    retrained = []
    for j in range(m):
        model, _ = train_cached("fq-oracle", cfg, data, sc.retain, seed * 1000 + j + 1,
                                cache_dir=cache_dir, checkpoint=out_dir / "checkpoints" /
                                f"{tag}-fq-oracle{j}.ckpt", progress=progress)
        retrained.append(confidences(model))
    retrained_arr = np.array(retrained)
    rows = []
    half = m // 2
    baselines = {"retrain": (retrained_arr[:half], retrained_arr[half:2 * half])}
    methods = cfg["evaluation"]["fq_methods"] or [
        x for x in cfg["unlearn"]["methods"] if x != "retrain"]
    for method in methods:
        outs = []
        for j in range(m):
            ud = UnlearnData(sc.retain, sc.forget, data["val"], data["num_classes"],
                             seed=seed * 1000 + j + 1)
            outs.append(confidences(unlearn(method, teacher, ud,
                                            method_params(cfg, method)).model))
        baselines[method] = (np.array(outs), retrained_arr)
    for method, (u, r) in baselines.items():
        fq, lira = forgetting_quality(u, r), ulira(u, r)
        rows.append({"method": method, "forgetting_quality": fq.score,
                     "ulira_accuracy": lira.accuracy, "ulira_auc": lira.auc,
                     "num_unlearned_models": fq.num_unlearned,
                     "num_retrained_models": fq.num_retrained,
                     "reference": "retrain half vs half" if method == "retrain" else ""})
    return rows


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
                            mia=cfg["evaluation"]["mia"], seed=seed),
           "seconds": seconds, "retrain_seconds": unit.retrain_seconds,
           "rte": unit.retrain_seconds / seconds if seconds > 0 else float("nan"),
           "circuit_evaluations": circuits}
    if cfg["evaluation"]["hessian"]:
        row.update({k: v for k, v in _landscape(model, unit.sets, cfg, seed).items()
                    if not isinstance(v, list)})
    return row


def _iterate(cfg: Mapping[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for seed in cfg["experiment"]["seeds"]:
        for sc in cfg["scenario"]:
            yield seed, sc


def evaluated_on(model: torch.nn.Module, backend: Mapping[str, Any] | None) -> torch.nn.Module:
    """``model`` with its weights, rebuilt on another backend (``{"name": ..., **options}``)
    for evaluation; classical models and ``backend=None`` return the model itself."""
    if backend is None or "backend" not in getattr(model, "spec", {}).get("kwargs", {}):
        return model
    from qiskit_unlearn.unlearn import clone_model

    options = dict(backend)
    return clone_model(model, backend=options.pop("name"), backend_options=options)


def run_experiment(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None = None,
                   progress: bool = True, echo: Any = print, report: bool = True,
                   eval_backend: Mapping[str, Any] | None = None,
                   extra_columns: Mapping[str, Any] | None = None) -> Path:
    """Run a validated config (see :mod:`qiskit_unlearn.config`); returns the run directory.

    Per seed and scenario: train (or load) the teacher and the retrain oracle, run every
    configured unlearning method on a copy of the teacher, evaluate everything against the
    teacher and the oracle, then write ``results.csv`` / ``results.json``, curves, the
    manifest and (``report=True``) the Markdown report with plots.

    ``eval_backend`` evaluates every model on another backend than it was trained on (noise
    studies: noise only at evaluation time); ``extra_columns`` are added to every row.
    """
    with _job_log(out_dir):
        return _run_experiment(cfg, out_dir, cache_dir=cache_dir, progress=progress, echo=echo,
                               report=report, eval_backend=eval_backend,
                               extra_columns=extra_columns)


def _job_log(out_dir: Path) -> AbstractContextManager[Any]:
    """Every job of a model on an IBM backend (``ibm``, ``fake:<device>``) goes to
    ``RUN_DIR/hardware/run-jobs.jsonl`` before the run waits on it (other backends are left
    alone by the log)."""
    from qiskit_unlearn.hardware.journal import JobLog
    from qiskit_unlearn.qnn import routed_estimators

    return routed_estimators(JobLog(out_dir / "hardware" / "run-jobs.jsonl"))


def _run_experiment(cfg: Mapping[str, Any], out_dir: Path, *, cache_dir: Path | None,
                    progress: bool, echo: Any, report: bool,
                    eval_backend: Mapping[str, Any] | None,
                    extra_columns: Mapping[str, Any] | None) -> Path:
    for sub in ("checkpoints", "history", "curves", "unlearned"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    log = _logger(out_dir)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    faithful = cfg["unlearn"]["faithful"]
    manifest: dict[str, Any] = {"experiment": cfg["experiment"]["name"],
                                "description": cfg["experiment"]["description"],
                                "started": started, "seeds": cfg["experiment"]["seeds"],
                                "versions": package_versions(), "config": cfg, "data": {},
                                "timings": {}, "models": {}, "methods": {}}
    rows: list[dict[str, Any]] = []
    fq_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    data_by_seed: dict[int, dict[str, Any]] = {}
    for seed, sc_cfg in _iterate(cfg):
        if seed not in data_by_seed:
            data_by_seed[seed] = prepare_data(cfg, seed)
            manifest["data"][str(seed)] = data_by_seed[seed]["metadata"]
            log.info("seed %d: data %s", seed, data_by_seed[seed]["metadata"]["sizes"])
        data = data_by_seed[seed]
        sc = build_scenario(sc_cfg, data, seed)
        name = sc_cfg["name"]
        echo(f"[seed {seed}] scenario {name}: {len(sc.retain_idx)} retain, "
             f"{len(sc.forget_idx)} forget")
        trained: dict[str, tuple[torch.nn.Module, dict[str, Any]]] = {}
        for role, xy in (("teacher", (sc.train_x, sc.train_y)), ("oracle", sc.retain)):
            tag = f"{name}-seed{seed}-{role}"
            start = time.perf_counter()
            model, info = train_cached(role, cfg, data, xy, seed, cache_dir=cache_dir,
                                       checkpoint=out_dir / "checkpoints" / f"{tag}.ckpt",
                                       progress=progress)
            torch.save({"model": model.state_dict(), "spec": getattr(model, "spec", {})},
                       out_dir / "checkpoints" / f"{tag}.pt")
            manifest["timings"][tag] = time.perf_counter() - start
            manifest["models"][tag] = {k: v for k, v in info.items() if k != "history"}
            (out_dir / "history" / f"{tag}.json").write_text(
                json.dumps(info.get("history", []), indent=1), encoding="utf-8")
            trained[role] = model, info
        (teacher, tinfo), (oracle, oinfo) = trained["teacher"], trained["oracle"]
        sets = eval_sets(sc, data, faithful, seed)
        original_logits = split_logits(evaluated_on(teacher, eval_backend), sets)
        oracle_logits = split_logits(evaluated_on(oracle, eval_backend), sets)
        ident = {"experiment": cfg["experiment"]["name"], **(extra_columns or {}),
                 "scenario": name, "scenario_kind": sc_cfg["kind"], "seed": seed,
                 "faithful": faithful}
        retrain_seconds = float(oinfo["train_seconds"])

        unit = _Unit(ident, sets, original_logits, oracle_logits, retrain_seconds)

        def add_row(row: dict[str, Any]) -> None:
            rows.append(row)
            log.info("%s: %s", row["method"], json.dumps(row, default=str))
            echo(f"  {row['method']:14s} retain {row['retain_accuracy']:.3f}  forget "
                 f"{row['forget_accuracy']:.3f}  test {row['test_accuracy']:.3f}  UQI "
                 f"{row['uqi']:+.3f}  MIA {row.get('mia_auc', float('nan')):.3f}  "
                 f"({row['seconds']:.1f} s)")

        add_row(_row(cfg, unit, "original", teacher, original_logits,
                     float(tinfo["train_seconds"]), tinfo.get("circuit_evaluations", "")))
        for method in cfg["unlearn"]["methods"] or ["retrain"]:
            if method == "retrain":  # the oracle *is* the retrained model
                add_row(_row(cfg, unit, "retrain", oracle, oracle_logits, retrain_seconds,
                             oinfo.get("circuit_evaluations", "")))
                continue
            params = method_params(cfg, method)
            udata = UnlearnData(sc.retain, sc.forget, sets.test if faithful else data["val"],
                                data["num_classes"], seed=seed, progress=progress)
            tag = f"{name}__seed{seed}__{method}"
            key = _digest(tinfo["cache_key"], method, params, seed, sc.forget_idx)
            res = _unlearn_cached(method, teacher, udata, params, key,
                                  out_dir / "unlearned" / f"{tag}.pt")
            (out_dir / "curves" / f"{tag}.json").write_text(json.dumps(res["curve"]),
                                                             encoding="utf-8")
            manifest["methods"][tag] = {k: res[k] for k in ("params", "info", "seconds",
                                                            "resumed")}
            model = res["model"]
            add_row(_row(cfg, unit, method, model,
                         split_logits(evaluated_on(model, eval_backend), sets),
                         float(res["seconds"]), res["circuit_evaluations"],
                         str(res["params"].get("variant", ""))))
        if cfg["evaluation"]["forgetting_quality"]:
            for r in _forgetting_quality(cfg, data, sc, teacher, seed, f"{name}-seed{seed}",
                                         out_dir, cache_dir, progress, eval_backend):
                fq_rows.append({"scenario": name, "seed": seed, **r})
    manifest["timings"]["total"] = time.perf_counter() - t0
    manifest["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write_rows(out_dir / "results.csv", rows)
    (out_dir / "results.json").write_text(json.dumps(_json_safe(rows), indent=2),
                                          encoding="utf-8")
    if fq_rows:
        _write_rows(out_dir / "forgetting_quality.csv", fq_rows)
    (out_dir / "manifest.json").write_text(json.dumps(_json_safe(manifest), indent=2),
                                           encoding="utf-8")
    if report:
        from qiskit_unlearn.report import write_report

        write_report(out_dir)
    return out_dir


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
