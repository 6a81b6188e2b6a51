"""Preprocessing is fitted on the training split only and encodes what the circuits expect."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qiskit_unlearn.ansatz import amplitude_encode, amplitude_state_preparation
from qiskit_unlearn.data import (
    PREPROCESSORS,
    AmplitudeAngles,
    AnglePCA,
    DataError,
    ImageScaler,
    Standardize,
    make_preprocessor,
    xxz_ground_states,
)

RNG = np.random.default_rng(7)
TRAIN = RNG.normal(size=(40, 6, 6))
TEST_A = RNG.normal(size=(15, 6, 6))
TEST_B = 5 + 3 * RNG.normal(size=(15, 6, 6))  # a shifted distribution


def test_angle_pca_range_and_train_only_statistics():
    pre = AnglePCA(4).fit(TRAIN)
    z = pre.transform(TRAIN)
    assert z.shape == (40, 4)
    np.testing.assert_allclose(z.min(axis=0), -np.pi)
    np.testing.assert_allclose(z.max(axis=0), np.pi)
    stats = (pre.pca_.components_.copy(), pre.data_min_.copy(), pre.data_range_.copy())
    for test in (TEST_A, TEST_B):
        out = pre.transform(test)
        assert out.shape == (15, 4) and np.all(np.abs(out) <= np.pi)
    after = (pre.pca_.components_, pre.data_min_, pre.data_range_)
    for before, now in zip(stats, after, strict=True):
        np.testing.assert_array_equal(before, now)
    other = AnglePCA(4).fit(TRAIN)  # same training data, different test data seen: same map
    np.testing.assert_array_equal(other.transform(TEST_B), pre.transform(TEST_B))
    leaky = AnglePCA(4).fit(np.concatenate([TRAIN, TEST_B]))
    assert not np.allclose(leaky.transform(TRAIN), z)


def test_angle_scaling_without_pca_and_errors():
    x = RNG.uniform(0, 10, size=(20, 3))
    z = AnglePCA(None, feature_range=(0, 1)).fit_transform(x)
    np.testing.assert_allclose(z, (x - x.min(0)) / (x.max(0) - x.min(0)))
    with pytest.raises(DataError, match="call fit"):
        AnglePCA(2).transform(x)
    with pytest.raises(DataError, match="5 components need"):
        AnglePCA(5).fit(x)


def _prepared_state(angles, n):
    qc, params = amplitude_state_preparation(n)
    return Statevector(qc.assign_parameters(dict(zip(params, angles, strict=True)))).data


def test_amplitude_angles_reproduce_the_normalized_vector():
    x = RNG.normal(size=(5, 6))
    pre = AmplitudeAngles(3).fit(x[:3])
    angles = pre.transform(x)
    assert angles.shape == (5, 7)
    expected = amplitude_encode(x, 3)
    np.testing.assert_allclose(pre.states(x), expected)
    for row, target in zip(angles, expected, strict=True):
        np.testing.assert_allclose(_prepared_state(row, 3), target, atol=1e-10)


def test_amplitude_angles_prepare_xxz_ground_states_exactly():
    states, _ = xxz_ground_states(4, [-1.5, 0.3, 1.7])
    angles = AmplitudeAngles(4).fit_transform(states)
    for row, psi in zip(angles, states, strict=True):
        np.testing.assert_allclose(_prepared_state(row, 4), psi, atol=1e-10)


def test_amplitude_angles_too_many_features():
    x = RNG.normal(size=(30, 20))
    with pytest.raises(DataError, match="20 features do not fit in 2 qubits"):
        AmplitudeAngles(2).fit(x)
    pre = AmplitudeAngles(2, pca=True).fit(x)
    assert pre.transform(RNG.normal(size=(4, 20))).shape == (4, 3)
    with pytest.raises(DataError, match="all zeros"):
        AmplitudeAngles(2).fit(np.ones((2, 3))).transform(np.zeros((1, 3)))


def test_image_scaler():
    images = RNG.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    out = ImageScaler().fit_transform(images)
    assert out.shape == (4, 1, 28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], images / 255.0, atol=1e-7)
    digits = RNG.uniform(0, 16, (6, 64))
    digits[0, 0] = 16.0
    pre = ImageScaler().fit(digits)
    test = np.full((1, 64), 20.0)
    assert pre.scale_ == 16.0 and pre.transform(test).max() == 1.0  # clipped, not refitted
    with pytest.raises(DataError, match="fitted on images"):
        pre.transform(images)
    with pytest.raises(DataError, match="square"):
        ImageScaler().fit(np.ones((2, 10)))


def test_standardize_uses_training_statistics():
    x = RNG.normal(3, 2, size=(50, 4))
    x[:, 3] = 1.0  # a constant feature is only centred
    pre = Standardize().fit(x)
    z = pre.transform(x)
    np.testing.assert_allclose(z[:, :3].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, :3].std(0), 1)
    np.testing.assert_array_equal(z[:, 3], 0)
    np.testing.assert_allclose(pre.transform(x + 1)[:, :3], z[:, :3] + 1 / pre.scale_[:3])


def test_factory():
    assert set(PREPROCESSORS) == {"pca-angles", "amplitude", "image", "standardize", "none"}
    pre = make_preprocessor("pca-angles", n_components=2)
    assert isinstance(pre, AnglePCA)
    assert pre.config == {"kind": "pca-angles", "n_components": 2,
                          "feature_range": (-np.pi, np.pi)}
    assert make_preprocessor("none").fit_transform(TRAIN) is not None
    with pytest.raises(DataError, match="unknown preprocessor 'pca'; choose one of: amplitude, "
                                        "image, none, pca-angles"):
        make_preprocessor("pca")
    with pytest.raises(DataError, match=r"amplitude: unknown option.* n_components; its options: "
                                        r"num_qubits, pca"):
        make_preprocessor("amplitude", n_components=3)
