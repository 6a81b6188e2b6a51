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
