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
    """(x, y) for each split, their indices into the dataset and a manifest entry.

    ``splits["train"]`` is the same as ``splits.train``.

    Attributes:
        train: Training samples and labels.
        val: Validation samples and labels (may be empty).
        test: Test samples and labels.
        indices: Split name -> sorted indices of its samples in the dataset.
        metadata: Manifest entry: dataset, seed, sizes asked for, split sizes and class counts.
    """

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
        """Every split with its name.

        Returns:
            ``(name, (x, y))`` pairs in the order of :data:`SPLIT_NAMES`.
        """
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

    Fractions refer to the whole dataset; integers are sample counts. Fractions are rounded up
    to whole samples.

    Args:
        ds: The dataset to split.
        test_size: Fraction in [0, 1) or sample count of the test split; None means 0.2. Must
            be None with ``use_official_test``.
        val_size: Fraction in [0, 1) or sample count of the validation split (0: none). With
            ``use_official_test`` a fraction refers to the official training samples.
        seed: Random seed of both stratified draws.
        use_official_test: Use the dataset's official test samples (MNIST / Fashion-MNIST
            t10k) as the test split and carve the validation split from the official training
            samples.

    Returns:
        The splits, with their indices into ``ds`` and a manifest entry.

    Raises:
        DataError: If a size is invalid, the splits leave no training samples, a stratified
            split is impossible with the class counts, or ``use_official_test`` is asked of a
            dataset without an official test split (or combined with ``test_size``).
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
