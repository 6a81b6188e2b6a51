"""What a validated config means for one seed: data, scenarios, model arguments, method params.

Shared by ``qunlearn run`` (:mod:`qiskit_unlearn.pipeline`) and every consumer that rebuilds a
run (``qunlearn hw``), so "how the run saw its data" is written once: the seeded split, the
preprocessing fitted on the training split only, the scenario, the evaluation sets, and the
faithful (HQML-study) switch that selects on the test split instead of validation.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

PACKAGES = ("qiskit-unlearn", "qiskit", "qiskit-aer", "qiskit-machine-learning",
            "qiskit-ibm-runtime", "torch", "numpy", "scipy", "scikit-learn", "numba")


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages a result depends on (for manifests)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def prepare_data(cfg: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Load, split and preprocess (fitted on the training split only)."""
    from qiskit_unlearn.data import DataError, load_dataset, make_preprocessor, split_dataset

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
        kwargs = {"n_components": cfg["model"]["num_qubits"] if data_cfg["angle_pca"] else None,
                  "feature_range": tuple(float(v) for v in data_cfg["angle_range"])}
    elif kind == "amplitude":
        kwargs = {"num_qubits": cfg["model"]["num_qubits"], "pca": data_cfg["amplitude_pca"]}
    pre = make_preprocessor(kind, **kwargs)
    features = int(np.prod(np.shape(splits.train[0])[1:]))
    direct = kind == "pca-angles" and not data_cfg["angle_pca"]
    if direct and features != cfg["model"]["num_qubits"]:
        raise DataError(f"data.angle_pca = false feeds the {features} features straight to the "
                        f"circuit, but model.num_qubits = {cfg['model']['num_qubits']}; set "
                        f"num_qubits = {features} or angle_pca = true")
    pre.fit(splits.train[0])

    def transform(x: np.ndarray) -> np.ndarray:  # an empty split (val_size = 0) stays empty
        return pre.transform(x if len(x) else splits.train[0][:1])[:len(x)].astype(np.float32)

    out = {name: (transform(x), np.asarray(y, dtype=np.int64))
           for name, (x, y) in (("train", splits.train), ("val", splits.val),
                                ("test", splits.test))}
    out["num_classes"] = len(ds.class_names)
    out["metadata"] = {"dataset": ds.metadata, "splits": splits.metadata,
                       "class_names": list(ds.class_names),
                       "sizes": {k: len(out[k][1]) for k in ("train", "val", "test")}}
    return out


def selection_split(cfg: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[Any, Any]:
    """The split that stopping and model selection look at: validation, or the test split in
    faithful mode (the HQML study selects on test; that is its documented flaw)."""
    return data["test"] if cfg["unlearn"]["faithful"] else data["val"]


def model_kwargs(cfg: Mapping[str, Any], num_classes: int, input_shape: tuple[int, ...],
                 seed: int) -> dict[str, Any]:
    """Constructor arguments of the config's model (``build_model(kind, **kwargs)``)."""
    from qiskit_unlearn.models import MODELS

    kwargs = {k: v for k, v in cfg["model"].items() if k != "kind"}
    backend = dict(cfg["backend"])
    kwargs.update(num_classes=num_classes, seed=seed)
    cls = MODELS[cfg["model"]["kind"]]
    params = _init_parameters(cls)
    if "backend" in params:  # models with a quantum layer take the [backend] table
        kwargs.update(backend=backend.pop("name"), backend_options=backend)
    if "input_dim" in params:
        kwargs.setdefault("input_dim", int(np.prod(input_shape)))
    return kwargs


def _init_parameters(cls: type) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def build_scenario(sc_cfg: Mapping[str, Any], data: Mapping[str, Any], seed: int) -> Any:
    """The forget scenario of a validated ``[[scenario]]`` table on prepared data."""
    from qiskit_unlearn.scenarios import make_scenario

    return make_scenario(sc_cfg["kind"], data["train"], data["test"], seed=seed,
                         fraction=sc_cfg["fraction"], classes=sc_cfg["classes"],
                         alpha=sc_cfg["alpha"], num_classes=data["num_classes"])


def eval_sets(sc: Any, data: Mapping[str, Any], faithful: bool, seed: int) -> Any:
    """Evaluation sets; the faithful (HQML) variant draws MIA non-members from the retain set."""
    from qiskit_unlearn.evaluate.suite import EvalSets

    nonmember = (sc.nonmember_x, sc.nonmember_y)
    if faithful:
        rng = np.random.default_rng(seed + 17)
        pick = np.sort(rng.choice(len(sc.retain_idx), min(len(sc.forget_idx),
                                                          len(sc.retain_idx)), replace=False))
        nonmember = (sc.retain[0][pick], sc.retain[1][pick])
    poisoned = not np.array_equal(sc.clean_y, sc.train_y)
    return EvalSets(sc.retain, sc.forget, data["val"], data["test"], nonmember,
                    sc.clean_y[sc.forget_idx] if poisoned else None)


def unlearn_data(cfg: Mapping[str, Any], sc: Any, data: Mapping[str, Any], seed: int,
                 progress: bool = False) -> Any:
    """The ``UnlearnData`` every method gets: retain, forget and the selection split."""
    from qiskit_unlearn.unlearn import UnlearnData

    return UnlearnData(sc.retain, sc.forget, selection_split(cfg, data), data["num_classes"],
                       seed=seed, progress=progress)


def method_params(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The method's configured hyperparameters. ``unlearn.faithful = true`` puts them over the
    HQML study's own settings of the method (its registry entry's ``study``: budget, optimiser,
    early stopping on the selection split, the study's variant), and selects the study's
    version (``faithful``, ``variant = "hqml"``) of methods without study settings."""
    from qiskit_unlearn.unlearn import METHODS

    explicit = dict(cfg["unlearn"]["params"].get(method, {}))
    if not cfg["unlearn"]["faithful"]:
        return explicit
    entry = METHODS[method]
    params = {**entry.study, **explicit}
    if "faithful" in entry.defaults:
        params.setdefault("faithful", True)
    if "variant" in entry.defaults:
        params.setdefault("variant", "hqml")
    return params


def mia_score(cfg: Mapping[str, Any]) -> str:
    """The membership score of ``mia_auc``: ``evaluation.mia_score``, where ``auto`` is the
    HQML study's top softmax probability in faithful mode and the true label's otherwise."""
    score = cfg["evaluation"].get("mia_score", "auto")
    if score == "auto":
        return "top" if cfg["unlearn"]["faithful"] else "true-label"
    return score


def evaluated_on(model: Any, backend: Mapping[str, Any] | None) -> Any:
    """``model`` with its weights, rebuilt on another backend (``{"name": ..., **options}``)
    for evaluation; classical models and ``backend=None`` return the model itself."""
    if backend is None or "backend" not in getattr(model, "spec", {}).get("kwargs", {}):
        return model
    from qiskit_unlearn.unlearn import clone_model

    options = dict(backend)
    return clone_model(model, backend=options.pop("name"), backend_options=options)


def preflight(cfg: Mapping[str, Any], eval_backend: Mapping[str, Any] | None = None) -> None:
    """Build the config's model once, without data or training, so that what would fail
    mid-run fails now: backend options, a device too small for the circuit, a state that
    does not fit in memory, a missing IBM account. ``eval_backend`` is checked the same way.
    Classical models have nothing to check. Errors name the ``[backend]`` table.
    """
    from qiskit_unlearn.backends.base import BackendError, validating
    from qiskit_unlearn.config import ConfigError
    from qiskit_unlearn.data import DATASETS
    from qiskit_unlearn.models import MODELS, ModelError, build_model

    kind = cfg["model"]["kind"]
    if "backend" not in _init_parameters(MODELS[kind]):
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
