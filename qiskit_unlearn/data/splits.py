"""Stratified, seeded train / validation / test splits that remember which samples went where.

The indices matter beyond bookkeeping: a forget set is a set of training samples, so unlearning
experiments must be able to name them in the original dataset and rebuild the same split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from qiskit_unlearn.data.dataset import Dataset
from qiskit_unlearn.data.idx import DataError

SPLIT_NAMES = ("train", "val", "test")


@dataclass
class Splits:
    """(x, y) for each split, their indices into the dataset and a manifest entry."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    indices: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; splits: {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def items(self) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
        return [(name, self[name]) for name in SPLIT_NAMES]


def _count(size: float | int, total: int, name: str) -> int:
    """A fraction of ``total`` (rounded up, as scikit-learn does) or a sample count."""
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) \
            or size < 0 or (isinstance(size, (float, np.floating)) and size >= 1):
        raise DataError(f"{name} must be a fraction in [0, 1) or a sample count, got {size!r}")
    return int(size) if isinstance(size, (int, np.integer)) else int(np.ceil(size * total))


def _carve(pool: np.ndarray, y: np.ndarray, size: int, seed: int, what: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``pool`` into (rest, part), stratified, with ``size`` samples in part."""
    if size == 0:
        return pool, pool[:0]
    try:
        rest, part = train_test_split(pool, test_size=size, stratify=y[pool], random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot carve a stratified {what} split of size {size} from "
                        f"{len(pool)} samples with class counts "
                        f"{np.bincount(y[pool]).tolist()}: {exc}") from exc
    return np.sort(rest), np.sort(part)


def split_dataset(ds: Dataset, test_size: float | int | None = None, val_size: float | int = 0.1,
                  seed: int = 0, use_official_test: bool = False) -> Splits:
    """Stratified train / validation / test split, reproducible for a given ``seed``.

    Fractions refer to the whole dataset (default test 0.2, validation 0.1); integers are sample
    counts. With ``use_official_test`` the dataset's official test samples (MNIST / Fashion-MNIST
    t10k) are the test split and ``val_size`` is carved from the official training samples (as
    a fraction of them); ``test_size`` must then be left unset.
    """
    y = ds.y
    everything = np.arange(len(ds))
    if use_official_test:
        mask = ds.official_test
        if mask is None:
            raise DataError(f"{ds.name} has no official test split; use test_size instead")
        if test_size is not None:
            raise DataError("test_size cannot be combined with use_official_test=True")
        pool, test = everything[~mask], everything[mask]
        if len(test) == 0 or len(pool) == 0:
            raise DataError(f"{ds.name}: the official split leaves {len(pool)} training and "
                            f"{len(test)} test samples after subsetting")
        val_count = _count(val_size, len(pool), "val_size")
    else:
        test_size = 0.2 if test_size is None else test_size
        test_count = _count(test_size, len(ds), "test_size")
        val_count = _count(val_size, len(ds), "val_size")
        if test_count + val_count >= len(ds):
            raise DataError(f"test_size={test_size} and val_size={val_size} leave no training "
                            f"samples out of {len(ds)}")
        pool, test = _carve(everything, y, test_count, seed, "test")
    train, val = _carve(pool, y, val_count, seed, "validation")
    indices = {"train": train, "val": val, "test": test}
    metadata = {"dataset": ds.name, "seed": seed, "test_size": test_size, "val_size": val_size,
                "use_official_test": use_official_test,
                "sizes": {k: len(v) for k, v in indices.items()},
                "class_counts": {k: np.bincount(y[v], minlength=ds.num_classes).tolist()
                                 for k, v in indices.items()}}
    return Splits(*((ds.x[i], y[i]) for i in indices.values()), indices=indices,
                  metadata=metadata)
