"""Dataset registry (iris, digits, mnist, fashion-mnist, xxz), subsets and ``load_dataset``.

Files of MNIST-style datasets are found, verified and read by :mod:`qiskit_unlearn.data.files`
(lookup order, downloads, the ``genuine`` flag); iris and digits ship with scikit-learn,
XXZ ground states are computed (:mod:`qiskit_unlearn.data.xxz`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from qiskit_unlearn.data.dataset import Dataset
from qiskit_unlearn.data.files import FASHION_MNIST, MNIST, IdxSource, load_idx, user_cache_dir
from qiskit_unlearn.data.idx import DataError, check_int
from qiskit_unlearn.data.xxz import load_xxz
from qiskit_unlearn.registry import Registry
from qiskit_unlearn.storage import sha256_file

# --- bundled and computed datasets -----------------------------------------------------------

def _sklearn_file_meta(filename: str) -> dict[str, Any]:
    path = Path(str(resources.files("sklearn.datasets.data") / filename))
    if not path.is_file():
        return {}
    return {filename: {"path": str(path), "sha256": sha256_file(path), "genuine": True}}


def _load_sklearn(name: str, filename: str) -> Dataset:
    import sklearn
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = bunch.images if name == "digits" else bunch.data
    meta = {"source": f"scikit-learn {sklearn.__version__} bundled copy (load_{name})",
            "origin": "scikit-learn", "files": _sklearn_file_meta(filename), "genuine": True}
    if name == "iris":
        meta["feature_names"] = list(bunch.feature_names)
    return Dataset(name, np.asarray(x, dtype=float), bunch.target,
                   tuple(str(c) for c in bunch.target_names), meta)


def _load_xxz(data_dir: str | os.PathLike[str] | None = None, num_spins: int = 8,
              num_samples: int = 200, delta_range: tuple[float, float] = (-2.0, 2.0),
              phases: str = "three", cache: bool = True,
              cache_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Ground states of the XXZ chain; ``data_dir`` is unused (the data is computed)."""
    folder = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "xxz"
    out = load_xxz(num_spins, num_samples, delta_range, phases, folder, cache)
    cache_file = out["cache_file"]
    meta = {"source": "computed: ground states of H = Σ X_iX_{i+1} + Y_iY_{i+1} + Δ Z_iZ_{i+1} "
                      "(periodic), qiskit_unlearn.data.xxz",
            "origin": "cache" if out["from_cache"] else "computed",
            "files": {cache_file.name: {"path": str(cache_file), "sha256": sha256_file(cache_file),
                                        "genuine": True}} if cache_file else {},
            "genuine": True, "num_spins": int(num_spins), "num_samples": int(num_samples),
            "delta_range": [float(v) for v in delta_range], "phases": phases}
    return Dataset("xxz", out["states"], out["labels"], out["class_names"], meta,
                   {"delta": out["deltas"], "energy": out["energies"]})


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: ``loader(data_dir=..., **options)`` returns the full dataset, and
    ``classes(**options)`` its class names without loading it (configs are checked against
    them when they are loaded, before any data is read).

    Attributes:
        name: The registered name (lowercase, ``-`` separated).
        description: One line for listings.
        loader: Called as ``loader(data_dir=..., **options)``; returns the full dataset.
        classes: Called with the dataset's options; returns its class names without loading.
        options: Names of the dataset's own options accepted by :func:`load_dataset`.
    """

    name: str
    description: str
    loader: Callable[..., Dataset]
    classes: Callable[..., tuple[str, ...]]
    options: tuple[str, ...] = ()

    def class_names(self, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The dataset's class names for ``options``, without loading any data.

        Args:
            options: Dataset options (e.g. a config's ``data.options``); keys the dataset does
                not take are ignored. None: the defaults.

        Returns:
            The class names, in label order.

        Raises:
            DataError: If an option value is invalid (e.g. an unknown XXZ ``phases``).
        """
        return self.classes(**{k: v for k, v in (options or {}).items()
                               if k in self.options})


def _idx_loader(source: IdxSource) -> Callable[..., Dataset]:
    return lambda data_dir=None, **kw: load_idx(source, data_dir, **kw)


def _sklearn_loader(name: str, filename: str) -> Callable[..., Dataset]:
    return lambda data_dir=None: _load_sklearn(name, filename)


def _fixed(names: Sequence[str]) -> Callable[..., tuple[str, ...]]:
    return lambda **_: tuple(names)


def _xxz_classes(phases: str = "three", **_: Any) -> tuple[str, ...]:
    from qiskit_unlearn.data.xxz import PHASES

    if phases not in PHASES:
        raise DataError(f"xxz: phases must be one of {sorted(PHASES)}, got {phases!r}")
    return tuple(PHASES[phases])


DIGITS = tuple(str(d) for d in range(10))
DATASETS: Registry[DatasetSpec] = Registry("dataset", DataError)
for _spec in (
    DatasetSpec("iris", "Iris (150 × 4 features, 3 classes), scikit-learn's copy",
                _sklearn_loader("iris", "iris.csv"), _fixed(("setosa", "versicolor", "virginica"))),
    DatasetSpec("digits", "8×8 digits (1,797 images, 10 classes), scikit-learn's copy",
                _sklearn_loader("digits", "digits.csv.gz"), _fixed(DIGITS)),
    DatasetSpec("mnist", "MNIST 28×28 digits (official train + t10k files)",
                _idx_loader(MNIST), _fixed(MNIST.class_names), ("download", "base_url")),
    DatasetSpec("fashion-mnist", "Fashion-MNIST 28×28 (train + t10k files)",
                _idx_loader(FASHION_MNIST), _fixed(FASHION_MNIST.class_names),
                ("download", "base_url")),
    DatasetSpec("xxz", "XXZ-chain ground states (2^n amplitudes) labelled by phase",
                _load_xxz, _xxz_classes, ("num_spins", "num_samples", "delta_range", "phases",
                                          "cache", "cache_dir")),
):
    DATASETS.add(_spec.name, _spec)


# --- subsets and the public entry point ------------------------------------------------------

def select_classes(ds: Dataset, classes: Sequence[int | str]) -> Dataset:
    """Keep ``classes`` (labels or names) and relabel them 0..k-1 in the order given.

    Args:
        ds: The dataset.
        classes: Original labels or class names, without repeats; their order gives the new
            labels.

    Returns:
        A new dataset with only those classes; ``metadata["classes"]`` records the original
        labels and names.

    Raises:
        DataError: If a class is unknown, or ``classes`` is empty or has repeats.
    """
    chosen = []
    for c in classes:
        if isinstance(c, str) and c in ds.class_names:
            c = ds.class_names.index(c)
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) \
                or not 0 <= c < ds.num_classes:
            raise DataError(f"{ds.name}: unknown class {c!r}; classes are 0..{ds.num_classes - 1}"
                            f" or the names {list(ds.class_names)}")
        chosen.append(int(c))
    if not chosen or len(set(chosen)) != len(chosen):
        raise DataError(f"{ds.name}: classes must be a non-empty list without repeats, got "
                        f"{list(classes)!r}")
    out = ds.subset(np.flatnonzero(np.isin(ds.y, chosen)))
    relabel = np.zeros(ds.num_classes, np.int64)
    relabel[chosen] = np.arange(len(chosen))
    out.y = relabel[out.y]
    out.class_names = tuple(ds.class_names[c] for c in chosen)
    out.metadata["classes"] = {"original_labels": chosen,
                               "original_class_names": [ds.class_names[c] for c in chosen]}
    return out


def balanced_subsample(ds: Dataset, samples_per_class: int, seed: int = 0) -> Dataset:
    """``samples_per_class`` samples of every class, drawn without replacement (seeded).

    Args:
        ds: The dataset.
        samples_per_class: Samples to keep of each class (at least 1).
        seed: Seed of the draw.

    Returns:
        A new dataset with the samples in their original order.

    Raises:
        DataError: If ``samples_per_class`` is not an integer >= 1 or a class has fewer
            samples.
    """
    n = check_int(samples_per_class, "samples_per_class")
    rng = np.random.default_rng(seed)
    picked = []
    for c, name in enumerate(ds.class_names):
        members = np.flatnonzero(ds.y == c)
        if len(members) < n:
            raise DataError(f"{ds.name}: class {c} ({name!r}) has only {len(members)} samples, "
                            f"fewer than samples_per_class={n}")
        picked.append(rng.choice(members, n, replace=False))
    out = ds.subset(np.sort(np.concatenate(picked)))
    out.metadata["samples_per_class"] = n
    return out


def load_dataset(name: str, *, data_dir: str | os.PathLike[str] | None = None,
                 classes: Sequence[int | str] | None = None,
                 samples_per_class: int | None = None, seed: int = 0,
                 **options: Any) -> Dataset:
    """Load a registered dataset, optionally restricted to ``classes`` and balanced.

    Args:
        name: A registered dataset (``iris``, ``digits``, ``mnist``, ``fashion-mnist``,
            ``xxz``); case and ``_`` versus ``-`` do not matter.
        data_dir: Folder holding ``<name>/`` with the IDX files of mnist / fashion-mnist (see
            :func:`locate_idx_files`); None reads ``$QUNLEARN_DATA_DIR``, else the user cache.
            Unused by the other datasets.
        classes: Keep only these classes, relabelled 0..k-1 in this order (see
            :func:`select_classes`); None keeps all.
        samples_per_class: Draw this many samples of every class (see
            :func:`balanced_subsample`); None keeps all.
        seed: Seed of the balanced draw.
        **options: The dataset's own options (``DATASETS[name].options``): ``download`` and
            ``base_url`` for mnist / fashion-mnist; ``num_spins``, ``num_samples``,
            ``delta_range``, ``phases``, ``cache`` and ``cache_dir`` for xxz.

    Returns:
        The dataset; its ``metadata`` records the name, seed, options, sizes and class counts
        next to the source files.

    Raises:
        DataError: If the name or an option is unknown, or the data cannot be found, read or
            subset as asked.
    """
    key = str(name).strip().lower().replace("_", "-")
    DATASETS.lookup(key)
    spec = DATASETS[key]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise DataError(f"{key}: unknown option(s) {', '.join(unknown)}; its options: {allowed}")
    ds = spec.loader(data_dir=data_dir, **options)
    if classes is not None:
        ds = select_classes(ds, classes)
    if samples_per_class is not None:
        ds = balanced_subsample(ds, samples_per_class, seed)
    ds.metadata.update(name=key, seed=seed, options={k: _plain(v) for k, v in options.items()},
                       num_samples=len(ds), class_names=list(ds.class_names),
                       class_counts=ds.class_counts())
    return ds


def _plain(value: Any) -> Any:
    """JSON-friendly form of an option value for the manifest."""
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value
