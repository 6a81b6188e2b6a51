"""Conformance of every registered forget-scenario kind (``qiskit_unlearn.scenarios.SCENARIOS``).

Every kind, built through ``make_scenario`` with the shared keyword arguments, must:

* partition the training split: ``retain_idx`` and ``forget_idx`` sorted, disjoint, covering
  every index; ``retain`` / ``forget`` are those rows; both sets non-empty;
* change the training data at forget indices only (retain rows and their labels are the input's;
  ``clean_y`` is the input's labels), keep every sample's shape, keep labels in 0..C-1;
* be deterministic for a seed; across seeds, a forget set that is not a union of whole classes
  (i.e. one drawn at random) must change, and so must the drawn non-members;
* draw non-members from the held-out pool only, matching the forget set's clean class counts
  where the pool allows it; report consistent sizes in ``info``;
* work on inputs of any shape (N, ...), e.g. images.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from qiskit_unlearn.scenarios import SCENARIOS, Scenario, ScenarioError, make_scenario

KINDS = sorted(SCENARIOS)
OPTIONS = {"fraction": 0.2, "classes": (1,), "alpha": 0.3}
SEEDS = range(5)


def _data(n: int, seed: int, shape: tuple[int, ...] = (3,)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3).astype(np.int64)
    return rng.uniform(-1, 1, size=(n, *shape)).astype(np.float32), y


TRAIN = _data(60, 0)
HOLDOUT = _data(90, 1)  # 30 per class: more than any forget set, so non-members are drawn


def _params(kind: str) -> dict:
    """The shared options this kind takes (each kind owns its parameters)."""
    accepted = getattr(SCENARIOS[kind], "params", None)
    return dict(OPTIONS) if accepted is None else \
        {k: v for k, v in OPTIONS.items() if k in accepted}


def _build(kind: str, seed: int = 0, train=TRAIN, holdout=HOLDOUT) -> Scenario:
    return make_scenario(kind, train, holdout, seed=seed, **_params(kind))


def _arrays(sc: Scenario) -> dict[str, np.ndarray]:
    return {k: getattr(sc, k) for k in ("train_x", "train_y", "clean_y", "retain_idx",
                                       "forget_idx", "nonmember_x", "nonmember_y",
                                       "nonmember_idx")}


@pytest.mark.parametrize("shape", [(3,), (1, 4, 4)], ids=["vectors", "images"])
@pytest.mark.parametrize("kind", KINDS)
def test_retain_and_forget_partition_the_training_split(kind, shape):
    train = _data(60, 0, shape)
    sc = _build(kind, train=train, holdout=_data(90, 1, shape))
    n = len(train[1])
    retain, forget = sc.retain_idx, sc.forget_idx
    assert len(forget) > 0, f"{kind}: empty forget set"
    assert len(retain) > 0, f"{kind}: empty retain set"
    for idx in (retain, forget):
        assert np.issubdtype(idx.dtype, np.integer)
        assert np.all(np.diff(idx) > 0), "indices must be sorted and unique"
    assert not np.intersect1d(retain, forget).size
    np.testing.assert_array_equal(np.union1d(retain, forget), np.arange(n))
    np.testing.assert_array_equal(sc.retain[0], sc.train_x[retain])
    np.testing.assert_array_equal(sc.retain[1], sc.train_y[retain])
    np.testing.assert_array_equal(sc.forget[0], sc.train_x[forget])
    np.testing.assert_array_equal(sc.forget[1], sc.train_y[forget])
    assert sc.train_x.shape == train[0].shape and sc.train_y.shape == train[1].shape


@pytest.mark.parametrize("kind", KINDS)
def test_only_forget_samples_are_changed(kind):
    sc = _build(kind)
    x, y = TRAIN
    np.testing.assert_array_equal(sc.clean_y, y)
    np.testing.assert_array_equal(sc.train_x[sc.retain_idx], x[sc.retain_idx])
    np.testing.assert_array_equal(sc.train_y[sc.retain_idx], y[sc.retain_idx])
    assert sc.train_x.dtype == x.dtype
    assert np.isfinite(sc.train_x).all()
    assert set(np.unique(sc.train_y)) <= {0, 1, 2}


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_scenario(kind):
    a, b = _build(kind, seed=4), _build(kind, seed=4)
    for key, value in _arrays(a).items():
        np.testing.assert_array_equal(value, _arrays(b)[key], err_msg=key)
    assert a.name == b.name
    assert json.dumps(a.info, sort_keys=True) == json.dumps(b.info, sort_keys=True)


@pytest.mark.parametrize("kind", KINDS)
def test_different_seeds_differ_where_randomness_is_involved(kind):
    scenarios = [_build(kind, seed=s) for s in SEEDS]
    y = TRAIN[1]
    forgets = {tuple(sc.forget_idx) for sc in scenarios}
    whole_classes = all(
        np.array_equal(sc.forget_idx, np.flatnonzero(np.isin(y, np.unique(y[sc.forget_idx]))))
        for sc in scenarios)
    if whole_classes:  # a deterministic choice (e.g. every sample of a class)
        assert len(forgets) == 1
    else:
        assert len(forgets) > 1, f"{kind}: the drawn forget set ignores the seed"
    assert len({tuple(sc.nonmember_idx) for sc in scenarios}) > 1, \
        f"{kind}: the drawn non-members ignore the seed"
    trained = {sc.train_x.tobytes() + sc.train_y.tobytes() for sc in scenarios}
    if len(forgets) == 1 and len(trained) > 1:
        pytest.fail(f"{kind}: the corruption changes with the seed but the forget set does not")


@pytest.mark.parametrize("kind", KINDS)
def test_nonmembers_come_from_the_holdout_pool_matching_forget_classes(kind):
    sc = _build(kind)
    idx = sc.nonmember_idx
    hx, hy = HOLDOUT
    assert len(idx) == len(sc.nonmember_x) == len(sc.nonmember_y)
    assert np.all((0 <= idx) & (idx < len(hy))) and len(np.unique(idx)) == len(idx)
    assert sc.nonmember_x.shape[1:] == hx.shape[1:]
    want = np.bincount(sc.clean_y[sc.forget_idx], minlength=3)
    pool = np.bincount(hy, minlength=3)
    np.testing.assert_array_equal(np.bincount(hy[idx], minlength=3), np.minimum(want, pool))


@pytest.mark.parametrize("kind", KINDS)
def test_info_reports_consistent_sizes(kind):
    sc = _build(kind)
    info = sc.info
    assert info["kind"] == kind and info["seed"] == 0
    assert info["num_train"] == len(TRAIN[1])
    assert info["num_retain"] == len(sc.retain_idx)
    assert info["num_forget"] == len(sc.forget_idx)
    assert info["num_nonmembers"] == len(sc.nonmember_idx)
    assert sum(info["forget_class_counts"].values()) == len(sc.forget_idx)
    json.dumps(info)  # goes into the manifest
    assert isinstance(sc.name, str) and sc.name


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_builds_from_its_defaults_alone(kind):
    sc = make_scenario(kind, TRAIN, HOLDOUT, seed=0)
    assert len(sc.forget_idx) > 0 and len(sc.retain_idx) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_parameter_is_a_scenario_error_naming_it(kind):
    with pytest.raises(ScenarioError, match="no_such_parameter"):
        make_scenario(kind, TRAIN, HOLDOUT, seed=0, no_such_parameter=1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_negative_seed_is_refused(kind):
    with pytest.raises(ScenarioError, match="seed"):
        make_scenario(kind, TRAIN, HOLDOUT, seed=-1, **_params(kind))
