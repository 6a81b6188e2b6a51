"""Forget scenarios: complete disjoint splits, the promised corruption, held-out non-members."""

from __future__ import annotations

import numpy as np
import pytest

from qiskit_unlearn.scenarios import SCENARIOS, ScenarioError, make_scenario, stratified_sample

KINDS = sorted(SCENARIOS)


def _data(n: int, seed: int, shape: tuple[int, ...] = (4,), num_classes: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, *shape)).astype(np.float32)
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    return x, y


@pytest.fixture
def split():
    return _data(150, 0), _data(60, 1)


def _build(kind, split, seed=0, **kw):
    defaults = {"fraction": 0.1, "classes": (1,), "alpha": 0.2}
    params = SCENARIOS[kind].params if kind in SCENARIOS else {}
    own = {k: v for k, v in defaults.items() if k in params}  # each kind takes its own only
    return make_scenario(kind, split[0], split[1], seed=seed, **{**own, **kw})


@pytest.mark.parametrize("kind", KINDS)
def test_retain_and_forget_are_disjoint_and_complete(kind, split):
    sc = _build(kind, split)
    n = len(split[0][1])
    assert len(sc.forget_idx) > 0 and len(sc.retain_idx) > 0
    assert not set(sc.retain_idx) & set(sc.forget_idx)
    assert np.array_equal(np.sort(np.concatenate([sc.retain_idx, sc.forget_idx])), np.arange(n))
    rx, ry = sc.retain
    fx, fy = sc.forget
    assert len(rx) == len(ry) == len(sc.retain_idx) and len(fx) == len(fy) == len(sc.forget_idx)
    assert sc.info["num_forget"] == len(sc.forget_idx) and sc.info["kind"] == kind


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.37])
def test_subset_is_stratified(fraction, split):
    sc = _build("subset", split, fraction=fraction)
    y = split[0][1]
    k = len(sc.forget_idx)
    assert k == max(1, round(fraction * len(y)))
    for c in np.unique(y):
        share = k * np.mean(y == c)
        assert abs(np.sum(y[sc.forget_idx] == c) - share) < 1
    assert np.array_equal(sc.train_x, split[0][0]) and np.array_equal(sc.train_y, sc.clean_y)


def test_tiny_subset_forgets_at_least_one_sample():
    y = np.array([0, 1, 0, 1, 2])
    assert len(stratified_sample(y, 0.01, np.random.default_rng(0))) == 1


def test_class_removes_every_sample_of_the_classes(split):
    sc = _build("class", split, classes=[0, 2])
    y = split[0][1]
    assert set(y[sc.retain_idx]) == {1}
    assert np.array_equal(sc.forget_idx, np.flatnonzero(y != 1))
    assert set(sc.nonmember_y) <= {0, 2} and sc.name == "class-0-2"


def test_label_flip_changes_exactly_the_forget_labels(split):
    sc = _build("label-flip", split, alpha=0.3)
    x, y = split[0]
    changed = np.flatnonzero(sc.train_y != y)
    assert np.array_equal(changed, sc.forget_idx)
    assert np.array_equal(sc.clean_y, y)
    assert set(sc.train_y) <= {0, 1, 2}
    assert np.array_equal(sc.train_x, x)
    assert len(sc.forget_idx) == round(0.3 * len(y))


def test_feature_poison_changes_exactly_the_forget_inputs(split):
    sc = _build("feature-poison", split, alpha=0.2)
    x, y = split[0]
    changed = np.flatnonzero(np.any(sc.train_x != x, axis=1))
    assert np.array_equal(changed, sc.forget_idx)
    assert np.array_equal(sc.train_y, y) and sc.train_x.dtype == x.dtype
    poison = sc.train_x[sc.forget_idx]
    assert np.all(poison >= x.min(axis=0)) and np.all(poison <= x.max(axis=0))


def test_feature_poison_keeps_shape_and_unit_norm():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 2, 4))
    x /= np.linalg.norm(x.reshape(40, -1), axis=1)[:, None, None]
    y = np.arange(40) % 2
    sc = make_scenario("feature-poison", (x, y), (x[:10], y[:10]), seed=0, alpha=0.25)
    poison = sc.train_x[sc.forget_idx]
    assert poison.shape == (10, 2, 4)
    assert np.allclose(np.linalg.norm(poison.reshape(10, -1), axis=1), 1.0)
    assert np.allclose(np.linalg.norm(sc.nonmember_x.reshape(len(sc.nonmember_x), -1), axis=1),
                       1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_nonmembers_come_from_holdout_and_match_forget_classes(kind, split):
    (x, _), (hx, hy) = split
    sc = _build(kind, split)
    idx = sc.nonmember_idx
    assert len(idx) == len(np.unique(idx)) == len(sc.nonmember_y) == len(sc.nonmember_x)
    wanted = np.minimum(np.bincount(sc.clean_y[sc.forget_idx], minlength=3),
                        np.bincount(hy, minlength=3))
    assert np.array_equal(np.bincount(hy[idx], minlength=3), wanted)
    if kind != "feature-poison":  # poisoned non-members have random inputs
        assert np.array_equal(sc.nonmember_x, hx[idx])
        retain = {row.tobytes() for row in x[sc.retain_idx]}
        assert not any(row.tobytes() in retain for row in sc.nonmember_x)
    if kind == "label-flip":
        assert np.all(sc.nonmember_y != hy[idx])


def test_nonmembers_are_capped_by_the_holdout_pool(split):
    (x, y), (hx, hy) = split
    sc = make_scenario("class", (x, y), (hx[:6], hy[:6]), seed=0, classes=[0])
    assert sc.info["num_nonmembers"] == np.sum(hy[:6] == 0)
    assert sc.info["nonmember_shortfall"] == len(sc.forget_idx) - sc.info["num_nonmembers"]


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_reproducibility(kind, split):
    a, b, c = (_build(kind, split, seed=s) for s in (5, 5, 6))
    for field in ("train_x", "train_y", "forget_idx", "nonmember_x", "nonmember_y"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    if kind != "class":
        assert not np.array_equal(a.forget_idx, c.forget_idx)


def test_inputs_are_not_modified(split):
    (x, y), _ = split
    x0, y0 = x.copy(), y.copy()
    for kind in KINDS:
        _build(kind, split)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)


@pytest.mark.parametrize(("kind", "kw", "match"), [
    ("forget-all", {}, r"unknown scenario kind 'forget-all'.*subset"),
    ("subset", {"fraction": 0.0}, r"fraction = 0.0 is invalid: must be between 0 and 1"),
    ("subset", {"fraction": 1.5}, r"fraction = 1.5 is invalid"),
    ("subset", {"alpha": 0.1}, r"'subset' takes no parameter\(s\) alpha; its parameters: "
                               r"fraction"),
    ("label-flip", {"alpha": 1.0}, r"alpha = 1.0 is invalid"),
    ("feature-poison", {"alpha": -0.1}, r"alpha = -0.1 is invalid"),
    ("class", {"classes": [7]}, r"classes \[7\] do not occur"),
    ("class", {"classes": []}, r"classes = \[\] is invalid: must be a non-empty list"),
    ("class", {"classes": [0, 0]}, r"more than once"),
    ("class", {"classes": [0, 1, 2]}, r"retain set must not be empty"),
    ("subset", {"seed": -1}, r"seed must be"),
    ("subset", {"num_classes": 2}, r"labels go up to 2 but num_classes=2"),
])
def test_bad_inputs_name_the_problem(kind, kw, match, split):
    with pytest.raises(ScenarioError, match=match):
        _build(kind, split, **kw)


def test_bad_arrays_name_the_problem(split):
    (x, y), (hx, hy) = split
    with pytest.raises(ScenarioError, match=r"train needs x of shape"):
        make_scenario("subset", (x, y[:-1]), (hx, hy), seed=0)
    with pytest.raises(ScenarioError, match=r"holdout inputs have shape"):
        make_scenario("subset", (x, y), (hx[:, :2], hy), seed=0)
    with pytest.raises(ScenarioError, match=r"holdout is empty"):
        make_scenario("subset", (x, y), (hx[:0], hy[:0]), seed=0)
    with pytest.raises(ScenarioError, match=r"labels must be integers"):
        make_scenario("subset", (x, y + 0.5), (hx, hy), seed=0)
    with pytest.raises(ScenarioError, match=r"at least 2 classes"):
        make_scenario("label-flip", (x, y * 0), (hx, hy * 0), seed=0)
