"""The model a config builds: its constructor arguments, a dry build that fails early, and the
same weights rebuilt on another backend for evaluation."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np


def model_kwargs(cfg: Mapping[str, Any], num_classes: int, input_shape: tuple[int, ...],
                 seed: int) -> dict[str, Any]:
    """Constructor arguments of the config's model (``build_model(kind, **kwargs)``).

    The ``[model]`` table without ``kind``, plus the class count and seed; models with a
    quantum layer also get the ``[backend]`` table (as ``backend`` and ``backend_options``),
    and models that take ``input_dim`` get the flattened input size unless the config sets it.

    Args:
        cfg: A validated config.
        num_classes: Number of classes the model predicts (its output width).
        input_shape: Shape of one sample, without the batch dimension; its product is the
            default ``input_dim``.
        seed: Seeds the model's initial weights.

    Returns:
        Keyword arguments for :func:`qiskit_unlearn.models.build_model`.
    """
    from qiskit_unlearn.models import MODELS

    kwargs = {k: v for k, v in cfg["model"].items() if k != "kind"}
    backend = dict(cfg["backend"])
    kwargs.update(num_classes=num_classes, seed=seed)
    cls = MODELS[cfg["model"]["kind"]]
    if not cls.classical:  # models with a quantum layer take the [backend] table
        kwargs.update(backend=backend.pop("name"), backend_options=backend)
    if "input_dim" in inspect.signature(cls.__init__).parameters:
        kwargs.setdefault("input_dim", int(np.prod(input_shape)))
    return kwargs


def evaluated_on(model: Any, backend: Mapping[str, Any] | None) -> Any:
    """``model`` with its weights, rebuilt on another backend for evaluation.

    Noise studies train on one backend and evaluate on another; the weights are copied, the
    original model is left unchanged.

    Args:
        model: A model built by :func:`qiskit_unlearn.models.build_model` (it carries its
            ``spec``).
        backend: The evaluation backend table, ``{"name": ..., **options}``; ``None`` keeps
            the model's own backend.

    Returns:
        A clone of ``model`` on ``backend``; ``model`` itself for ``backend=None`` and for
        classical models.
    """
    from qiskit_unlearn.models import MODELS
    from qiskit_unlearn.unlearn import clone_model

    if backend is None or MODELS[model.spec["kind"]].classical:
        return model

    options = dict(backend)
    return clone_model(model, backend=options.pop("name"), backend_options=options)


def preflight(cfg: Mapping[str, Any], eval_backend: Mapping[str, Any] | None = None) -> None:
    """Build the config's model once, without data or training, so that what would fail
    mid-run fails now: backend options, a device too small for the circuit, a state that
    does not fit in memory, a missing IBM account.

    Classical models have nothing to check.

    Args:
        cfg: A validated config.
        eval_backend: An evaluation backend table (``{"name": ..., **options}``) checked the
            same way, or ``None``.

    Raises:
        qiskit_unlearn.errors.ConfigError: If a backend cannot run the model; the message
            names the table (``[backend]`` or ``[evaluation backend]``) and the cause.
    """
    from qiskit_unlearn.backends.base import BackendError, validating
    from qiskit_unlearn.data import DATASETS
    from qiskit_unlearn.errors import ConfigError
    from qiskit_unlearn.models import MODELS, ModelError, build_model

    kind = cfg["model"]["kind"]
    if MODELS[kind].classical:
        return
    data = cfg["data"]
    num_classes = len(data["classes"]) or len(DATASETS[data["dataset"]].class_names(
        data["options"]))
    kwargs = model_kwargs(cfg, num_classes, (1,), cfg["experiment"]["seeds"][0])
    tables = [("backend", None)] + ([("evaluation backend", eval_backend)]
                                    if eval_backend is not None else [])
    for what, table in tables:
        if table is not None:
            options = dict(table)
            kwargs = {**kwargs, "backend": options.pop("name"), "backend_options": options}
        try:
            with validating():
                build_model(kind, **kwargs)
        except (BackendError, ModelError) as exc:
            raise ConfigError(f"[{what}] {kwargs['backend']!r} cannot run this model: {exc}") \
                from None
