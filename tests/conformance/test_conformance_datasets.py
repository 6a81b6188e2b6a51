"""Conformance of every registered dataset (``qiskit_unlearn.data.DATASETS``) available offline.

Downloads are forbidden (``QUNLEARN_OFFLINE=1``): ``iris`` and ``digits`` are scikit-learn's
bundled copies, ``mnist`` / ``fashion-mnist`` come from ``$QUNLEARN_DATA_DIR`` (skipped, with the
reason, when it does not hold them) and ``xxz`` is computed locally at a tiny size into a
temporary cache. Each dataset must:

* load with integer labels 0..k-1, every class present, finite numeric inputs, one entry per
  sample in every ``sample_info`` array;
* name the same classes as its registry entry does without loading;
* carry manifest metadata (name, source, ``genuine``, counts) that is JSON data;
* load deterministically, and subset (``select_classes`` / ``balanced_subsample``) with
  relabelling, per-sample info carried along and seeded, balanced draws;
* refuse an unknown option naming its options.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pytest

from qiskit_unlearn.data import (
    DATASETS,
    DataError,
    balanced_subsample,
    load_dataset,
    select_classes,
)

KINDS = sorted(DATASETS)


def _options(name: str, cache: Any) -> dict[str, Any]:
    """Offline options: tiny and locally computed for xxz, none for the others."""
    if name == "xxz":
        return {"num_spins": 4, "num_samples": 12, "cache_dir": str(cache)}
    return {}


def _json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, (np.ndarray, np.generic)):
            return v.tolist()
        raise TypeError(f"{type(v).__name__} is not JSON data")

    return json.dumps(value, default=plain, sort_keys=True)


def _digest(ds) -> str:
    h = hashlib.sha256()
    for arr in (ds.x, ds.y, *(ds.sample_info[k] for k in sorted(ds.sample_info))):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("QUNLEARN_OFFLINE", "1")
    yield tmp_path_factory.mktemp("xxz-cache")
    mp.undo()


_LOADED: dict[str, Any] = {}


@pytest.fixture
def loaded(offline):
    def load(name: str):
        if name not in _LOADED:
            try:
                _LOADED[name] = load_dataset(name, **_options(name, offline))
            except DataError as exc:
                if "not found" in str(exc) or "downloads are disabled" in str(exc):
                    _LOADED[name] = exc
                else:
                    raise
        value = _LOADED[name]
        if isinstance(value, DataError):
            pytest.skip(f"{name} is not available offline here: {value}")
        return value

    return load


@pytest.mark.parametrize("name", KINDS)
def test_dataset_loads_with_well_formed_samples_and_labels(name, loaded):
    ds = loaded(name)
    assert ds.name == name
    assert len(ds) > 0 and len(ds.x) == len(ds.y)
    assert ds.y.dtype == np.int64
    assert ds.num_classes == len(ds.class_names) >= 2
    counts = np.bincount(ds.y, minlength=ds.num_classes)
    assert len(counts) == ds.num_classes and (counts > 0).all(), f"{name}: empty class"
    assert np.issubdtype(ds.x.dtype, np.number) and np.isfinite(ds.x).all()
    for key, values in ds.sample_info.items():
        assert len(values) == len(ds.y), key
    if ds.official_test is not None:
        assert ds.official_test.dtype == bool


@pytest.mark.parametrize("name", KINDS)
def test_registry_names_the_classes_without_loading(name, loaded, offline):
    ds = loaded(name)
    spec = DATASETS[name]
    assert spec.name == name and spec.description.strip()
    assert tuple(spec.class_names(_options(name, offline))) == ds.class_names


@pytest.mark.parametrize("name", KINDS)
def test_metadata_is_manifest_data(name, loaded):
    meta = loaded(name).metadata
    _json(meta)
    assert meta["name"] == name
    assert isinstance(meta["genuine"], bool)
    assert isinstance(meta["source"], str) and meta["source"]
    assert meta["num_samples"] == len(loaded(name))
    assert meta["class_counts"] == loaded(name).class_counts()
    assert meta["class_names"] == list(loaded(name).class_names)
    if not meta["genuine"]:
        assert meta.get("note"), f"{name}: a non-genuine copy must say why in its metadata"


@pytest.mark.parametrize("name", KINDS)
def test_loading_is_deterministic(name, loaded, offline):
    first = loaded(name)
    options = _options(name, offline)
    if name == "xxz":
        options["cache"] = False  # recomputed, not read back from the cache
    again = load_dataset(name, **options)
    assert _digest(again) == _digest(first)
    assert again.class_names == first.class_names


@pytest.mark.parametrize("name", KINDS)
def test_class_subsets_are_relabelled_and_carry_their_sample_info(name, loaded):
    ds = loaded(name)
    sub = select_classes(ds, [1, 0])
    assert sub.class_names == (ds.class_names[1], ds.class_names[0])
    np.testing.assert_array_equal(np.bincount(sub.y), [np.sum(ds.y == 1), np.sum(ds.y == 0)])
    keep = np.isin(ds.y, [0, 1])
    np.testing.assert_array_equal(sub.x, ds.x[keep])
    np.testing.assert_array_equal(sub.y, 1 - ds.y[keep])
    for key, values in ds.sample_info.items():
        np.testing.assert_array_equal(sub.sample_info[key], values[keep])
    by_name = select_classes(ds, [ds.class_names[1], ds.class_names[0]])
    np.testing.assert_array_equal(by_name.y, sub.y)
    with pytest.raises(DataError):
        select_classes(ds, [ds.num_classes])


@pytest.mark.parametrize("name", KINDS)
def test_balanced_subsamples_are_seeded_and_balanced(name, loaded):
    ds = loaded(name)
    per_class = int(min(ds.class_counts()))
    per_class = max(1, min(2, per_class - 1))
    a, b = (balanced_subsample(ds, per_class, seed=3) for _ in range(2))
    assert _digest(a) == _digest(b)
    assert a.class_counts() == [per_class] * ds.num_classes
    draws = {_digest(balanced_subsample(ds, per_class, seed=s)) for s in range(4)}
    assert len(draws) > 1, f"{name}: the subsample ignores the seed"


@pytest.mark.parametrize("name", KINDS)
def test_unknown_option_is_a_data_error_naming_the_options(name, offline):
    with pytest.raises(DataError, match="no_such_option") as err:
        load_dataset(name, no_such_option=1)
    for option in DATASETS[name].options:
        assert option in str(err.value)
