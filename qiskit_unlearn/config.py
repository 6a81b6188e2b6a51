"""Experiment configs: TOML files validated at load time.

Every section has a schema (:mod:`qiskit_unlearn.schema`); an unknown key, a wrong type or an
impossible value raises :class:`ConfigError` naming the key (``section.key``) and what is
allowed, before any work starts. Allowed names come from the registries (datasets,
preprocessors, models, scenario kinds, methods, backends), which also check their own tables
(a model's arguments, a scenario kind's parameters, a method's hyperparameters, a backend's
options). Sections owned by a higher layer (``[sweep]``) are validated by the validator that
layer passes in (``sections``); without one they are kept as given.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qiskit_unlearn.errors import ConfigError
from qiskit_unlearn.schema import (
    NAME_RULE,
    Field,
    fraction,
    int_list,
    interval,
    plain_name,
    positive,
    validate_table,
)

__all__ = [
    "SCHEMA",
    "apply_overrides",
    "load_config",
    "parse_override",
    "validate_config",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _dataset_names() -> list[str]:
    from qiskit_unlearn.data import DATASETS

    return sorted(DATASETS)


def _model_names() -> list[str]:
    from qiskit_unlearn.models import MODELS

    return sorted(MODELS)


def _scenario_names() -> list[str]:
    from qiskit_unlearn.scenarios import SCENARIOS

    return sorted(SCENARIOS)


def _preprocessor_names() -> list[str]:
    from qiskit_unlearn.data import PREPROCESSORS

    return sorted(PREPROCESSORS)


#: The fixed sections of an experiment config, section name -> key ->
#: :class:`~qiskit_unlearn.schema.Field`.
#: ``[model]``, ``[backend]`` and ``[[scenario]]`` are open-ended (each registry entry checks
#: its own keys) and ``[sweep]`` is validated by its own layer, so they are not listed here.
SCHEMA: dict[str, dict[str, Field]] = {
    "experiment": {
        "name": Field((str,), required=True, check=plain_name, rule=NAME_RULE),
        "description": Field((str,), ""),
        "seeds": Field((list,), [0], check=lambda v: bool(v) and int_list(v),
                       rule="a non-empty list of integers"),
    },
    "data": {
        "dataset": Field((str,), required=True, choices=_dataset_names),
        "data_dir": Field((str,), None),
        "classes": Field((list,), [], check=int_list, rule="a list of class labels"),
        "samples_per_class": Field((int,), 0, check=lambda v: v >= 0, rule=">= 0 (0 = all)"),
        "test_size": Field((float,), 0.2, check=fraction, rule="between 0 and 1"),
        "val_size": Field((float,), 0.1, check=lambda v: 0 <= v < 1,
                          rule="in [0, 1): a fraction of the whole dataset (0 = no validation "
                               "split, only with unlearn.faithful = true)"),
        "use_official_test": Field((bool,), False),
        "preprocess": Field((str,), "none", choices=_preprocessor_names),
        "amplitude_pca": Field((bool,), False),
        "angle_pca": Field((bool,), True),
        "angle_range": Field((list,), [-math.pi, math.pi], check=interval,
                             rule="[low, high] with low < high (radians)"),
        "options": Field((dict,), {}),
    },
    "train": {
        "epochs": Field((int,), 30, check=positive, rule=">= 1"),
        "lr": Field((float,), 0.01, check=positive, rule="> 0"),
        "batch_size": Field((int,), 32, check=positive, rule=">= 1"),
        "patience": Field((int,), 10, check=positive, rule=">= 1"),
        "weight_decay": Field((float,), 0.0, check=lambda v: v >= 0, rule=">= 0"),
    },
}
SCHEMA["unlearn"] = {
    "methods": Field((list,), [], check=lambda v: all(isinstance(m, str) for m in v),
                     rule="a list of method names", choices=None),
    "faithful": Field((bool,), False),
    "params": Field((dict,), {}),
}
SCHEMA["evaluation"] = {
    "mia": Field((bool,), True),
    "mia_score": Field((str,), "auto", choices=("auto", "true-label", "top")),
    "hessian": Field((bool,), False),
    "hessian_top_k": Field((int,), 3, check=positive, rule=">= 1"),
    "hessian_samples": Field((int,), 10, check=lambda v: v >= 2, rule=">= 2"),
    "hessian_max_samples": Field((int,), 128, check=positive, rule=">= 1"),
    "forgetting_quality": Field((bool,), False),
    "fq_models": Field((int,), 8, check=lambda v: v >= 6, rule=">= 6 (halves of the retrained "
                                                                 "models form the baseline)"),
    "fq_methods": Field((list,), [], check=lambda v: all(isinstance(m, str) for m in v),
                        rule="a list of method names (default: every configured method)"),
}
MODEL_REQUIRED = {"kind": Field((str,), required=True, choices=_model_names)}
BACKEND_REQUIRED = {"name": Field((str,), "statevector")}
#: Keys of every ``[[scenario]]`` table; each kind adds its own parameters (its registry entry).
SCENARIO_FIELDS: dict[str, Field] = {
    "kind": Field((str,), required=True, choices=_scenario_names),
    "name": Field((str,), "", check=lambda v: v == "" or (plain_name(v) and "__" not in v),
                  rule=NAME_RULE.replace("without '..'", "without '..' or '__'")),
}
#: Sections a higher layer validates (passed in as ``sections``).
EXTENSION_SECTIONS = {"sweep"}
TOP_LEVEL = {"experiment", "data", "model", "backend", "train", "scenario", "unlearn",
             "evaluation", *EXTENSION_SECTIONS}


#: ``validator(table, raw_config)``: the validated section (e.g. ``[sweep]``).
SectionValidator = Callable[[Any, Mapping[str, Any]], Any]


def validate_config(raw: Mapping[str, Any],
                    sections: Mapping[str, SectionValidator] | None = None) -> dict[str, Any]:
    """Check a parsed config and fill in defaults.

    Args:
        raw: The parsed TOML, section name -> table (``scenario``: a list of tables).
        sections: Validators of the sections higher layers own (``{"sweep": ...}``, see
            :func:`qiskit_unlearn.sweep.load_config`), each called as
            ``validator(table, raw)``; such a section without a validator is kept as given.

    Returns:
        A new config with every section validated and defaults filled in.

    Raises:
        ~qiskit_unlearn.errors.ConfigError: If a section or key is unknown or missing, a
            value has the wrong type or is out of range, or names an unknown dataset, model,
            scenario kind, method, preprocessor, backend or class label.
    """
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)}; allowed sections: "
                          f"{', '.join(sorted(TOP_LEVEL))}")
    for required in ("experiment", "data", "model"):
        if required not in raw:
            raise ConfigError(f"missing section [{required}]")
    cfg: dict[str, Any] = {s: validate_table(s, raw.get(s, {}), f) for s, f in SCHEMA.items()}
    cfg["model"] = validate_table("model", raw["model"], MODEL_REQUIRED, open_ended=True)
    cfg["backend"] = validate_table("backend", raw.get("backend", {}), BACKEND_REQUIRED,
                                     open_ended=True)
    scenarios = raw.get("scenario", [])
    if not isinstance(scenarios, list) or not scenarios:
        raise ConfigError("at least one [[scenario]] table is needed, e.g.\n"
                          "[[scenario]]\nkind = \"class\"\nclasses = [0]")
    cfg["scenario"] = [_scenario(i, table) for i, table in enumerate(scenarios)]
    names = [s["name"] for s in cfg["scenario"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"scenario names must be unique, got {names}; set scenario.name")
    for name in sorted(EXTENSION_SECTIONS & set(raw)):
        validator = (sections or {}).get(name)
        cfg[name] = validator(raw[name], raw) if validator else copy.deepcopy(raw[name])
    _check_classes(cfg)
    _check_unlearn(cfg["unlearn"], cfg["evaluation"])
    _check_model_keys(cfg["model"])
    _check_backend_name(cfg["backend"]["name"])
    if cfg["data"]["val_size"] == 0 and not cfg["unlearn"]["faithful"]:
        raise ConfigError("data.val_size = 0 leaves no validation split for early stopping and "
                          "model selection; use a fraction such as 0.1, or set "
                          "unlearn.faithful = true to select on the test split as the HQML "
                          "study does")
    from qiskit_unlearn.data import PREPROCESSORS

    for key in PREPROCESSORS[cfg["data"]["preprocess"]].needs:
        if key not in cfg["model"]:
            raise ConfigError(f"data.preprocess = {cfg['data']['preprocess']!r} needs "
                              f"model.{key} (the number of features it produces depends on it)")
    return cfg


def _scenario(i: int, table: Any) -> dict[str, Any]:
    """One ``[[scenario]]`` table: its kind, name and the kind's own parameters."""
    from qiskit_unlearn.scenarios import SCENARIOS

    where = f"scenario[{i}]"
    head = {k: v for k, v in table.items() if k in SCENARIO_FIELDS} \
        if isinstance(table, dict) else table
    base = validate_table(where, head, SCENARIO_FIELDS)
    kind = SCENARIOS[base["kind"]]
    try:
        sc = {**base, **validate_table(where, table, {**SCENARIO_FIELDS, **kind.params})}
    except ConfigError as exc:
        raise ConfigError(f"{exc} (scenario kind {kind.name!r})") from None
    sc["name"] = sc["name"] or kind.label(sc)
    return sc


def _check_unlearn(unlearn: dict[str, Any], evaluation: Mapping[str, Any]) -> None:
    """Method names and hyperparameters, checked against the method registry."""
    from qiskit_unlearn.unlearn import METHODS, UnlearnError, resolve_params

    methods = unlearn["methods"]
    for key, names in (("unlearn.methods", methods), ("evaluation.fq_methods",
                                                      evaluation["fq_methods"])):
        unknown = [m for m in names if m not in METHODS]
        if unknown:
            raise ConfigError(f"{key}: unknown method(s) {', '.join(unknown)}; choose from: "
                              f"{', '.join(sorted(METHODS))}")
        if len(set(names)) != len(names):
            raise ConfigError(f"{key} lists a method twice: {names}")
    missing = [m for m in evaluation["fq_methods"] if m not in methods]
    if missing:
        raise ConfigError(f"evaluation.fq_methods: {', '.join(missing)} not in unlearn.methods; "
                          "forgetting quality is measured for configured methods only")
    for method, table in unlearn["params"].items():
        if method not in methods:
            raise ConfigError(f"unlearn.params.{method}: {method!r} is not in unlearn.methods "
                              f"({', '.join(methods) or 'empty'}); add it there or remove "
                              "the table")
        if not isinstance(table, dict):
            raise ConfigError(f"unlearn.params.{method} must be a table of hyperparameters")
        try:
            resolve_params(method, table)
        except UnlearnError as exc:
            raise ConfigError(f"unlearn.params.{method}: {exc}") from None


def _check_classes(cfg: Mapping[str, Any]) -> None:
    """Class labels of ``[data]`` and every scenario against the dataset's own classes (known
    from its registry entry, without loading any data)."""
    from qiskit_unlearn.data import DATASETS, DataError

    data = cfg["data"]
    spec = DATASETS[data["dataset"]]
    unknown = sorted(set(data["options"]) - set(spec.options))
    if unknown:
        raise ConfigError(f"data.options: {data['dataset']} has no option(s) "
                          f"{', '.join(unknown)}; its options: {', '.join(spec.options) or 'none'}")
    try:
        names = spec.class_names(data["options"])
    except DataError as exc:
        raise ConfigError(f"data.options: {exc}") from None
    listing = ", ".join(f"{i} {n}" for i, n in enumerate(names))
    chosen = data["classes"]
    bad = [c for c in chosen if not 0 <= c < len(names)]
    if bad or len(set(chosen)) != len(chosen):
        raise ConfigError(f"data.classes = {chosen}: {data['dataset']} has classes "
                          f"0..{len(names) - 1} ({listing}); list each at most once")
    if chosen:
        k = len(chosen)
        listing = ", ".join(f"{i} = {names[c]} (label {c})" for i, c in enumerate(chosen))
    else:
        k = len(names)
    if k < 2:
        raise ConfigError(f"data.classes = {chosen}: a classifier needs at least 2 classes")
    for i, sc in enumerate(cfg["scenario"]):
        bad = [c for c in sc.get("classes", []) if not 0 <= c < k]
        if bad:
            after = " after data.classes renumbers them" if chosen else ""
            raise ConfigError(f"scenario[{i}].classes = {sc['classes']}: there are {k} classes"
                              f"{after}, 0..{k - 1} ({listing}); class {bad[0]} does not exist")


#: Model arguments the pipeline fills in itself (from the data, [backend] and the seed).
PIPELINE_MODEL_ARGS = ("num_classes", "backend", "backend_options", "seed")


def _check_model_keys(model: Mapping[str, Any]) -> None:
    import inspect

    from qiskit_unlearn.models import MODELS

    params = inspect.signature(MODELS[model["kind"]].__init__).parameters
    allowed = sorted(set(params) - {"self", *PIPELINE_MODEL_ARGS})
    for key in sorted(set(model) - {"kind"}):
        if key in PIPELINE_MODEL_ARGS:
            raise ConfigError(f"model.{key} is set by the pipeline (from the data, the [backend] "
                              "table or experiment.seeds); remove it")
        if key not in allowed:
            raise ConfigError(f"unknown key model.{key} for model.kind = {model['kind']!r}; "
                              f"allowed keys: {', '.join(allowed)}")


def _check_backend_name(name: str) -> None:
    from qiskit_unlearn.backends.base import BackendConfig, BackendError, resolve_backend

    try:
        resolve_backend(BackendConfig(name))
    except BackendError as exc:
        raise ConfigError(f"backend.name: {exc}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` → (path, value); the value is read as TOML, else as a string.

    Args:
        text: One ``--set`` override, e.g. ``train.epochs=5`` or ``scenario.0.classes=[1]``.

    Returns:
        The key split at dots and the parsed value.

    Raises:
        ~qiskit_unlearn.errors.ConfigError: If ``text`` has no ``=`` or an empty key.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. train.epochs=5), got {text!r}")
    key, _, value = text.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set has an empty key in {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return path, parsed


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a parsed (not yet validated) config.

    Missing tables on the way are created; a list (``[[scenario]]``) is entered by index.

    Args:
        raw: The parsed TOML; it is not modified.
        overrides: ``section.key=value`` strings (see :func:`parse_override`), applied in order.

    Returns:
        A deep copy of ``raw`` with the overrides applied.

    Raises:
        ~qiskit_unlearn.errors.ConfigError: If an override is malformed or indexes a list wrongly.
    """
    raw = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = raw
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {text!r}: {'.'.join(path[:i + 1])} is a list; "
                                      f"use an index below {len(node)}")
                node = node[int(part)]
            else:
                node = node.setdefault(part, {})
        if isinstance(node, list):
            raise ConfigError(f"--set {text!r}: give an index into the list")
        node[path[-1]] = value
    return raw


def load_config(path: str | Path, overrides: Sequence[str] = (),
                sections: Mapping[str, SectionValidator] | None = None) -> dict[str, Any]:
    """Read, override (``--set``) and validate a TOML experiment config.

    Args:
        path: The TOML file.
        overrides: ``section.key=value`` overrides applied before validation (see
            :func:`apply_overrides`).
        sections: Validators of sections higher layers own (see :func:`validate_config`).

    Returns:
        The validated config with defaults filled in.

    Raises:
        ~qiskit_unlearn.errors.ConfigError: If the file does not exist, is not valid TOML,
            or the config is invalid (the message starts with the file's path).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; see experiments/ for examples")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return validate_config(apply_overrides(raw, overrides), sections)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
