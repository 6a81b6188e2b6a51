"""Conformance of every registered preprocessor (``qiskit_unlearn.data.preprocess.PREPROCESSORS``).

Each kind, built by ``make_preprocessor`` from a tiny spec, must:

* learn only from ``fit(x_train)``: transforming test rows uses the training statistics, row by
  row (a test row's output does not depend on the other test rows, their order or their number),
  and ``transform`` never refits (the training split's output is the same before and after
  transforming other data);
* give the documented output shape (and range, where one is documented), finite values even for
  test rows far outside the training range;
* be deterministic (two fits on the same data transform identically);
* refuse ``transform`` before ``fit``, refuse unknown options naming the accepted ones, and
  rebuild from its ``config`` (the manifest's record of it) to the same transform.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from qiskit_unlearn.data import DataError
from qiskit_unlearn.data.preprocess import PREPROCESSORS, make_preprocessor

N_TRAIN, N_TEST = 12, 5


@dataclass(frozen=True)
class TinyPreprocessor:
    kwargs: dict[str, Any]
    #: one raw sample's shape and dtype
    sample_shape: tuple[int, ...]
    #: the documented output shape of a batch of n samples
    output_shape: Callable[[int], tuple[int, ...]]
    #: the documented output range, if any
    output_range: tuple[float, float] | None = None
    dtype: Any = np.float64
    scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


#: One tiny spec per registered preprocessor, with its documented output (module docstrings).
TINY: dict[str, TinyPreprocessor] = {
    "pca-angles": TinyPreprocessor({"n_components": 2, "feature_range": (-1.5, 1.5)}, (5,),
                                   lambda n: (n, 2), (-1.5, 1.5)),
    "amplitude": TinyPreprocessor({"num_qubits": 2}, (4,), lambda n: (n, 3)),
    "image": TinyPreprocessor({}, (4, 4), lambda n: (n, 1, 4, 4), (0.0, 1.0), np.uint8, 255.0),
    "standardize": TinyPreprocessor({}, (5,), lambda n: (n, 5)),
    "none": TinyPreprocessor({}, (5,), lambda n: (n, 5)),
}
KINDS = sorted(PREPROCESSORS)


def _tiny(kind: str) -> TinyPreprocessor:
    if kind not in TINY:
        pytest.fail(f"preprocessor {kind!r} has no tiny spec: add it to TINY in {__file__}")
    return TINY[kind]


def _data(kind: str, n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    spec = _tiny(kind)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1.0, size=(n, *spec.sample_shape)) * spec.scale
    x = x + shift * spec.scale
    if spec.dtype == np.uint8:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)
    return x.astype(spec.dtype)


TRAIN_SEED, TEST_SEED = 1, 2


def _fitted(kind: str):
    pre = make_preprocessor(kind, **_tiny(kind).kwargs)
    assert pre.fit(_data(kind, N_TRAIN, TRAIN_SEED)) is pre  # fit returns the preprocessor
    return pre


def _test_rows(kind: str) -> np.ndarray:
    """Test rows partly far outside the training range (an extreme row among them)."""
    x = _data(kind, N_TEST, TEST_SEED)
    far = _data(kind, 1, 3, shift=0.8 if _tiny(kind).dtype == np.uint8 else 5.0)
    return np.concatenate([x, far])


def test_every_preprocessor_has_a_tiny_spec():
    assert set(KINDS) <= set(TINY), "add the new preprocessors to TINY"


@pytest.mark.parametrize("kind", KINDS)
def test_registry_name_is_the_kind(kind):
    cls = PREPROCESSORS[kind]
    assert cls.kind == kind
    assert (cls.__doc__ or "").strip(), f"{kind} has no docstring"


@pytest.mark.parametrize("kind", KINDS)
def test_output_shape_range_and_finiteness_are_as_documented(kind):
    spec = _tiny(kind)
    pre = _fitted(kind)
    test = _test_rows(kind)
    for x in (_data(kind, N_TRAIN, TRAIN_SEED), test, test[:1]):
        out = np.asarray(pre.transform(x))
        assert out.shape == spec.output_shape(len(x)), kind
        assert np.issubdtype(out.dtype, np.floating) and np.isfinite(out).all()
        if spec.output_range is not None:
            lo, hi = spec.output_range
            assert out.min() >= lo - 1e-12 and out.max() <= hi + 1e-12, (out.min(), out.max())


@pytest.mark.parametrize("kind", KINDS)
def test_test_rows_are_transformed_with_training_statistics_only(kind):
    pre = _fitted(kind)
    test = _test_rows(kind)
    batch = np.asarray(pre.transform(test))
    # row by row: a test row's output does not depend on the other test rows
    one_by_one = np.concatenate([np.asarray(pre.transform(test[i:i + 1]))
                                 for i in range(len(test))])
    np.testing.assert_allclose(one_by_one, batch, rtol=1e-12, atol=1e-12)
    order = np.random.default_rng(0).permutation(len(test))
    np.testing.assert_allclose(np.asarray(pre.transform(test[order])), batch[order], rtol=1e-12,
                               atol=1e-12)
    # and it equals what a preprocessor that has only ever seen the training split gives
    np.testing.assert_array_equal(np.asarray(_fitted(kind).transform(test)), batch)


@pytest.mark.parametrize("kind", KINDS)
def test_transform_never_refits(kind):
    pre = _fitted(kind)
    train = _data(kind, N_TRAIN, TRAIN_SEED)
    before = np.asarray(pre.transform(train)).copy()
    pre.transform(_test_rows(kind))
    pre.transform(_data(kind, 40, 9, shift=0.5 if _tiny(kind).dtype == np.uint8 else 3.0))
    np.testing.assert_array_equal(np.asarray(pre.transform(train)), before)
    np.testing.assert_array_equal(np.asarray(
        make_preprocessor(kind, **_tiny(kind).kwargs).fit_transform(train)), before)


@pytest.mark.parametrize("kind", KINDS)
def test_fitting_is_deterministic(kind):
    test = _test_rows(kind)
    np.testing.assert_array_equal(np.asarray(_fitted(kind).transform(test)),
                                  np.asarray(_fitted(kind).transform(test)))


@pytest.mark.parametrize("kind", KINDS)
def test_transform_before_fit_is_a_data_error(kind):
    with pytest.raises(DataError, match="fit"):
        make_preprocessor(kind, **_tiny(kind).kwargs).transform(_test_rows(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_option_is_a_data_error_naming_the_options(kind):
    with pytest.raises(DataError, match="no_such_option") as err:
        make_preprocessor(kind, **_tiny(kind).kwargs, no_such_option=1)
    for key in _tiny(kind).kwargs:
        assert key in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_config_rebuilds_the_same_preprocessor(kind):
    pre = _fitted(kind)
    config = dict(pre.config)
    json.dumps(config)  # goes into the manifest
    assert config.pop("kind") == kind
    twin = make_preprocessor(kind, **config).fit(_data(kind, N_TRAIN, TRAIN_SEED))
    test = _test_rows(kind)
    np.testing.assert_array_equal(np.asarray(twin.transform(test)), np.asarray(pre.transform(test)))
