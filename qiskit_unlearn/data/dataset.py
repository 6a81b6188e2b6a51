"""A loaded dataset: features, labels, class names and the manifest metadata of its files."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qiskit_unlearn.data.idx import DataError


@dataclass
class Dataset:
    """Samples ``x`` (first axis = sample), integer labels ``y`` in 0..k-1, class names, and
    ``metadata`` for the run's manifest (source, files, SHA-256, ``genuine``).

    Attributes:
        name: The dataset's name (e.g. ``"mnist"``).
        x: Samples, shape (n_samples, ...) (e.g. (n, 28, 28) images or (n, features)).
        y: Integer labels in 0..k-1, shape (n_samples,) (converted to int64).
        class_names: The name of each class; its length k is the number of classes.
        metadata: Manifest entry: source, files, SHA-256, ``genuine`` and notes.
        sample_info: Per-sample arrays that must follow every subset, each of length
            n_samples: e.g. ``official_test`` (bool mask of a dataset's official test split)
            or the XXZ ``delta``.

    Raises:
        DataError: If ``x``, ``y`` and the ``sample_info`` arrays differ in length, or a label
            is outside 0..k-1.
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
        """Number of classes k (the length of ``class_names``)."""
        return len(self.class_names)

    @property
    def official_test(self) -> np.ndarray | None:
        """Boolean mask of the samples from the dataset's official test files, or None.

        None when the dataset has no official test split.
        """
        return self.sample_info.get("official_test")

    def class_counts(self) -> list[int]:
        """Number of samples of each class.

        Returns:
            k counts, in label order (zero for classes without samples).
        """
        return np.bincount(self.y, minlength=self.num_classes).tolist()

    def subset(self, indices: np.ndarray) -> Dataset:
        """The samples at ``indices`` (a copy), with metadata and sample_info carried along.

        Args:
            indices: Integer indices (or a boolean mask) into the samples.

        Returns:
            A new dataset with the same name and class names.
        """
        idx = np.asarray(indices)
        return Dataset(self.name, self.x[idx], self.y[idx], self.class_names,
                       copy.deepcopy(self.metadata),
                       {k: v[idx] for k, v in self.sample_info.items()})
