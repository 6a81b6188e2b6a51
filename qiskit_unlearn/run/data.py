"""A run's data for one seed: loaded, split (seeded, stratified) and preprocessed with the
preprocessing fitted on the training split only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def prepare_data(cfg: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Load, split and preprocess the config's dataset for one seed.

    The split is stratified and seeded; the preprocessing (``data.preprocess``) is fitted on
    the training split only, so validation and test statistics never leak into training.

    Args:
        cfg: A validated config; its ``[data]`` table and, for the preprocessing's feature
            count, its ``[model]`` table are read.
        seed: Seeds the class subsampling and the train / validation / test split.

    Returns:
        ``train``, ``val`` and ``test`` as ``(x, y)`` pairs (``x`` float32 features of shape
        ``(n, ...)`` after preprocessing, ``y`` int64 labels of shape ``(n,)``; an empty split
        keeps ``n = 0``), ``num_classes``, and ``metadata`` (dataset and split metadata,
        class names and split sizes) for the manifest.

    Raises:
        qiskit_unlearn.data.DataError: If the dataset cannot be loaded or split as configured,
            or its feature count cannot feed the model through the chosen preprocessing.
    """
    from qiskit_unlearn.data import PREPROCESSORS, load_dataset, split_dataset

    data_cfg = cfg["data"]
    ds = load_dataset(data_cfg["dataset"], data_dir=data_cfg["data_dir"],
                      classes=data_cfg["classes"] or None,
                      samples_per_class=data_cfg["samples_per_class"] or None, seed=seed,
                      **data_cfg["options"])
    official = data_cfg["use_official_test"]
    splits = split_dataset(ds, test_size=None if official else data_cfg["test_size"],
                           val_size=data_cfg["val_size"], seed=seed, use_official_test=official)
    pre_cls = PREPROCESSORS.lookup(data_cfg["preprocess"])
    pre_cls.check_features(int(np.prod(np.shape(splits.train[0])[1:])), data_cfg, cfg["model"])
    pre = pre_cls.from_config(data_cfg, cfg["model"])
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
