"""The units of work of a run, as plain functions any executor can run anywhere.

Each takes the validated config and names (seed, scenario, role, method, index) and rebuilds
what it needs from them (:class:`~qiskit_unlearn.run.context.RunContext`, cached per process),
so it depends on its arguments alone, never on which process runs it or in which order.
Models travel as ``{"state", "summary"}`` results; units write nothing (a local executor may
pass a per-epoch ``checkpoint`` path so a killed training resumes).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.models import evaluated_on, model_kwargs
from qiskit_unlearn.run.modelstore import ModelCache, train_model, unlearned_result
from qiskit_unlearn.storage import digest
from qiskit_unlearn.train import predict_logits

_CONTEXTS: dict[str, RunContext] = {}


def context(cfg: Mapping[str, Any]) -> RunContext:
    """This process's :class:`RunContext` of ``cfg`` (data prepared once per process)."""
    key = digest(cfg)
    if key not in _CONTEXTS:
        _CONTEXTS.clear()  # one config at a time per worker keeps memory bounded
        _CONTEXTS[key] = RunContext(cfg)
    return _CONTEXTS[key]


def adopt(ctx: RunContext) -> None:
    """Units in this process use ``ctx`` (the driver's, data already prepared)."""
    _CONTEXTS.clear()
    _CONTEXTS[digest(ctx.cfg)] = ctx


def training_data(ctx: RunContext, seed: int, name: str, role: str
                  ) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """What ``role`` trains on, and its seed: the teacher on the scenario's training data, the
    oracle and the forgetting-quality oracles (``fq-oracle<j>``) on the retain set only."""
    from qiskit_unlearn.run.forgetting import fq_seed

    sc = ctx.scenario(seed, name)
    if role == "teacher":
        return (sc.train_x, sc.train_y), seed
    if role == "oracle":
        return sc.retain, seed
    return sc.retain, fq_seed(seed, int(role.removeprefix("fq-oracle")))


def model_of(ctx: RunContext, seed: int, trained: Mapping[str, Any]) -> torch.nn.Module:
    """A model of the config with the weights of a ``train`` result."""
    from qiskit_unlearn.models import build_model

    data = ctx.data(seed)
    kwargs = model_kwargs(ctx.cfg, data["num_classes"], data["train"][0].shape[1:], seed)
    model = build_model(ctx.cfg["model"]["kind"], **kwargs)
    model.load_state_dict(trained["state"])
    return model.eval()


def train_unit(cfg: Mapping[str, Any], seed: int, name: str, role: str, *,
               cache_dir: str | None = None, checkpoint: str | None = None,
               progress: bool = False) -> dict[str, Any]:
    """Train ``role`` of (seed, scenario): ``{"state", "summary", "source", "key"}``."""
    ctx = context(cfg)
    data = ctx.data(seed)
    xy, model_seed = training_data(ctx, seed, name, role)
    cache = ModelCache(Path(cache_dir)) if cache_dir and Path(cache_dir).is_dir() else None
    model, summary, source, key = train_model(
        cfg, data, xy, model_seed, checkpoint=Path(checkpoint) if checkpoint else None,
        progress=progress, description=role, cache=cache)
    return {"state": model.state_dict(), "summary": summary, "source": source, "key": key}


def _evaluation(ctx: RunContext, seed: int, name: str, model: torch.nn.Module,
                eval_backend: Mapping[str, Any] | None) -> dict[str, Any]:
    """Logits of every evaluation split (on ``eval_backend``) and, if configured, the loss
    landscape: what a results row is computed from."""
    from qiskit_unlearn.evaluate.suite import landscape, split_logits

    sets = ctx.eval_sets(seed, name)
    out: dict[str, Any] = {"logits": split_logits(evaluated_on(model, eval_backend), sets)}
    ev = ctx.cfg["evaluation"]
    if ev["hessian"]:
        found = landscape(model, sets, top_k=ev["hessian_top_k"], samples=ev["hessian_samples"],
                          max_samples=ev["hessian_max_samples"], seed=seed)
        out["landscape"] = {k: v for k, v in found.items() if not isinstance(v, list)}
    return out


def evaluate_unit(cfg: Mapping[str, Any], seed: int, name: str, trained: Mapping[str, Any],
                  eval_backend: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate a trained model (teacher or oracle): ``{"logits", "landscape"?}``."""
    ctx = context(cfg)
    return _evaluation(ctx, seed, name, model_of(ctx, seed, trained), eval_backend)


def method_unit(cfg: Mapping[str, Any], seed: int, name: str, method: str,
                teacher: Mapping[str, Any], finished: Mapping[str, Any] | None = None,
                eval_backend: Mapping[str, Any] | None = None,
                progress: bool = False) -> dict[str, Any]:
    """Run ``method`` on the teacher (or take its ``finished`` result) and evaluate it:
    ``{"state", "result", "logits", "landscape"?, "resumed"}``."""
    from qiskit_unlearn.models import CircuitCounter
    from qiskit_unlearn.unlearn import clone_model, unlearn

    ctx = context(cfg)
    model = model_of(ctx, seed, teacher)
    if finished is not None:
        unlearned = clone_model(model)
        unlearned.load_state_dict(finished["model"])
        state, result = finished["model"], dict(finished["result"])
    else:
        with CircuitCounter() as counter:
            outcome = unlearn(method, model, ctx.unlearn_data(seed, name, progress=progress),
                              ctx.method_params(method))
        unlearned, state = outcome.model, outcome.model.state_dict()
        result = unlearned_result(outcome, counter.total)
    return {"state": state, "result": result, "resumed": finished is not None,
            **_evaluation(ctx, seed, name, unlearned, eval_backend)}


def fq_oracle_unit(cfg: Mapping[str, Any], seed: int, name: str, trained: Mapping[str, Any],
                   eval_backend: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Forget-set logits of one retrained forgetting-quality model (on ``eval_backend``) and
    the seconds it took (its training's, plus this evaluation)."""
    start = time.perf_counter()
    ctx = context(cfg)
    model = evaluated_on(model_of(ctx, seed, trained), eval_backend)
    logits = predict_logits(model, ctx.scenario(seed, name).forget[0]).double().numpy()
    seconds = float(trained["summary"].get("train_seconds", 0.0))
    return {"logits": logits, "seconds": seconds + time.perf_counter() - start}


def fq_unlearn_unit(cfg: Mapping[str, Any], seed: int, name: str, method: str, j: int,
                    teacher: Mapping[str, Any],
                    eval_backend: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Forget-set logits of the teacher unlearned by ``method`` with the ``j``-th
    forgetting-quality seed, and the seconds it took."""
    start = time.perf_counter()
    from qiskit_unlearn.run.forgetting import fq_seed
    from qiskit_unlearn.unlearn import unlearn

    ctx = context(cfg)
    data = ctx.unlearn_data(seed, name, method_seed=fq_seed(seed, j))
    model = unlearn(method, model_of(ctx, seed, teacher), data, ctx.method_params(method)).model
    logits = predict_logits(evaluated_on(model, eval_backend),
                            ctx.scenario(seed, name).forget[0]).double().numpy()
    return {"logits": logits, "seconds": time.perf_counter() - start}
