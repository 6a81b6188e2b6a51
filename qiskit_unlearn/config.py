"""Experiment configs: TOML files validated at load time.

Every section has a schema; an unknown key, a wrong type or an impossible value raises
:class:`ConfigError` naming the key (``section.key``) and what is allowed, before any work
starts. Model and backend tables are checked by their registries (which know their options).
"""

from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and the fix."""


@dataclass(frozen=True)
class Field:
    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    choices: Callable[[], Sequence[str]] | Sequence[str] | None = None


def _positive(v: Any) -> bool:
    return v > 0


def _fraction(v: Any) -> bool:
    return 0 < v < 1


def _interval(v: Any) -> bool:
    return len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                               for x in v) and v[0] < v[1]


def _int_list(v: Any) -> bool:
    return all(isinstance(i, int) and not isinstance(i, bool) for i in v)


#: A plain folder name: run directories are ``runs/<experiment.name>`` and model files are
#: named after scenarios, so neither may be a path (``..``, ``/``) or empty.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = ("a plain folder name: 1-100 letters, digits, '-', '_' and '.', starting with a "
             "letter or digit, without '..' (choose any folder with --out)")


def _plain_name(v: Any) -> bool:
    return bool(_FOLDER_NAME.fullmatch(v)) and ".." not in v


def _dataset_names() -> list[str]:
    from qiskit_unlearn.data import DATASETS

    return sorted(DATASETS)


def _model_names() -> list[str]:
    from qiskit_unlearn.models import MODELS

    return sorted(MODELS)


def _scenario_names() -> list[str]:
    from qiskit_unlearn.scenarios import SCENARIOS

    return sorted(SCENARIOS)


PREPROCESS = ("none", "pca-angles", "amplitude", "image", "standardize")

SCHEMA: dict[str, dict[str, Field]] = {
    "experiment": {
        "name": Field((str,), required=True, check=_plain_name, rule=NAME_RULE),
        "description": Field((str,), ""),
        "seeds": Field((list,), [0], check=lambda v: bool(v) and _int_list(v),
                       rule="a non-empty list of integers"),
    },
    "data": {
        "dataset": Field((str,), required=True, choices=_dataset_names),
        "data_dir": Field((str,), None),
        "classes": Field((list,), [], check=_int_list, rule="a list of class labels"),
        "samples_per_class": Field((int,), 0, check=lambda v: v >= 0, rule=">= 0 (0 = all)"),
        "test_size": Field((float,), 0.2, check=_fraction, rule="between 0 and 1"),
        "val_size": Field((float,), 0.1, check=lambda v: 0 <= v < 1,
                          rule="in [0, 1): a fraction of the whole dataset (0 = no validation "
                               "split, only with unlearn.faithful = true)"),
        "use_official_test": Field((bool,), False),
        "preprocess": Field((str,), "none", choices=PREPROCESS),
        "amplitude_pca": Field((bool,), False),
        "angle_pca": Field((bool,), True),
        "angle_range": Field((list,), [-math.pi, math.pi], check=_interval,
                             rule="[low, high] with low < high (radians)"),
        "options": Field((dict,), {}),
    },
    "train": {
        "epochs": Field((int,), 30, check=_positive, rule=">= 1"),
        "lr": Field((float,), 0.01, check=_positive, rule="> 0"),
        "batch_size": Field((int,), 32, check=_positive, rule=">= 1"),
        "patience": Field((int,), 10, check=_positive, rule=">= 1"),
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
    "hessian_top_k": Field((int,), 3, check=_positive, rule=">= 1"),
    "hessian_samples": Field((int,), 10, check=lambda v: v >= 2, rule=">= 2"),
    "hessian_max_samples": Field((int,), 128, check=_positive, rule=">= 1"),
    "forgetting_quality": Field((bool,), False),
    "fq_models": Field((int,), 8, check=lambda v: v >= 6, rule=">= 6 (halves of the retrained "
                                                                 "models form the baseline)"),
    "fq_methods": Field((list,), [], check=lambda v: all(isinstance(m, str) for m in v),
                        rule="a list of method names (default: every configured method)"),
}
MODEL_REQUIRED = {"kind": Field((str,), required=True, choices=_model_names)}
BACKEND_REQUIRED = {"name": Field((str,), "statevector")}
SCENARIO_FIELDS: dict[str, Field] = {
    "kind": Field((str,), required=True, choices=_scenario_names),
    "name": Field((str,), "", check=lambda v: v == "" or (_plain_name(v) and "__" not in v),
                  rule=NAME_RULE.replace("without '..'", "without '..' or '__'")),
    "fraction": Field((float,), 0.02, check=_fraction, rule="between 0 and 1"),
    "classes": Field((list,), [0], check=lambda v: bool(v) and _int_list(v),
                     rule="a non-empty list of class labels"),
    "alpha": Field((float,), 0.3, check=_fraction, rule="between 0 and 1"),
}
TOP_LEVEL = {"experiment", "data", "model", "backend", "train", "scenario", "unlearn",
             "evaluation", "sweep"}


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "true/false",
             list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_value(key: str, value: Any, spec: Field) -> Any:
    if float in spec.types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok_type = isinstance(value, spec.types) and not (
        isinstance(value, bool) and bool not in spec.types)
    if not ok_type:
        raise ConfigError(f"{key} must be a {_type_name(spec.types)}, got {value!r}")
    if spec.choices is not None:
        choices = spec.choices() if callable(spec.choices) else spec.choices
        if value not in choices:
            raise ConfigError(f"{key} = {value!r} is not allowed; choose one of: "
                              f"{', '.join(choices)}")
    if spec.check is not None and not spec.check(value):
        raise ConfigError(f"{key} = {value!r} is invalid: must be {spec.rule}")
    return value


def _validate_table(section: str, table: Any, fields: Mapping[str, Field],
                    open_ended: bool = False) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    unknown = sorted(set(table) - set(fields))
    if unknown and not open_ended:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; allowed keys in "
            f"[{section}]: {', '.join(sorted(fields))}")
    out = dict(table) if open_ended else {}
    for name, spec in fields.items():
        key = f"{section}.{name}"
        if name in table:
            out[name] = _check_value(key, table[name], spec)
        elif spec.required:
            raise ConfigError(f"missing required key {key}")
        else:
            out[name] = copy.deepcopy(spec.default)
    return out


def validate_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a parsed config and fill in defaults; raises :class:`ConfigError`."""
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)}; allowed sections: "
                          f"{', '.join(sorted(TOP_LEVEL))}")
    for required in ("experiment", "data", "model"):
        if required not in raw:
            raise ConfigError(f"missing section [{required}]")
    cfg: dict[str, Any] = {s: _validate_table(s, raw.get(s, {}), f) for s, f in SCHEMA.items()}
    cfg["model"] = _validate_table("model", raw["model"], MODEL_REQUIRED, open_ended=True)
    cfg["backend"] = _validate_table("backend", raw.get("backend", {}), BACKEND_REQUIRED,
                                     open_ended=True)
    scenarios = raw.get("scenario", [])
    if not isinstance(scenarios, list) or not scenarios:
        raise ConfigError("at least one [[scenario]] table is needed, e.g.\n"
                          "[[scenario]]\nkind = \"class\"\nclasses = [0]")
    cfg["scenario"] = []
    for i, table in enumerate(scenarios):
        sc = _validate_table(f"scenario[{i}]", table, SCENARIO_FIELDS)
        sc["name"] = sc["name"] or _default_scenario_name(sc)
        cfg["scenario"].append(sc)
    names = [s["name"] for s in cfg["scenario"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"scenario names must be unique, got {names}; set scenario.name")
    if "sweep" in raw:  # noise sweeps (qunlearn sweep) validate their own section
        from qiskit_unlearn.sweep import validate_sweep

        cfg["sweep"] = validate_sweep(raw["sweep"], base=raw)  # grids check each point
    _check_classes(cfg)
    _check_unlearn(cfg["unlearn"], cfg["evaluation"])
    _check_model_keys(cfg["model"])
    _check_backend_name(cfg["backend"]["name"])
    if cfg["data"]["val_size"] == 0 and not cfg["unlearn"]["faithful"]:
        raise ConfigError("data.val_size = 0 leaves no validation split for early stopping and "
                          "model selection; use a fraction such as 0.1, or set "
                          "unlearn.faithful = true to select on the test split as the HQML "
                          "study does")
    needs_qubits = cfg["data"]["preprocess"] in {"pca-angles", "amplitude"}
    if needs_qubits and "num_qubits" not in cfg["model"]:
        raise ConfigError(f"data.preprocess = {cfg['data']['preprocess']!r} needs "
                          "model.num_qubits (the number of features it produces depends on it)")
    return cfg


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
        bad = [c for c in sc["classes"] if not 0 <= c < k]
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


def _default_scenario_name(sc: Mapping[str, Any]) -> str:
    if sc["kind"] == "subset":
        return f"subset-{sc['fraction']:g}"
    if sc["kind"] == "class":
        return "class-" + "-".join(map(str, sc["classes"]))
    return f"{sc['kind']}-{sc['alpha']:g}"


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` → (path, value); the value is read as TOML, else as a string."""
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


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read, override (``--set``) and validate a TOML experiment config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; see experiments/ for examples")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return validate_config(apply_overrides(raw, overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
