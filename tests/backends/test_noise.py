"""Noise models, fake-device lookup, shot budgets and readout folding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.circuit.library import HGate, SdgGate
from qiskit.quantum_info import SparsePauliOp, Statevector, random_statevector

from qiskit_unlearn.backends.base import BackendError
from qiskit_unlearn.backends.noise import (
    NOISE_BASIS,
    apply_readout_error,
    build_noise_model,
    fake_backend,
    fake_device_names,
    precision_for_shots,
    readout_flips,
    shot_precision,
    shots_for_precision,
)


def test_rate_model_puts_errors_on_every_basis_gate() -> None:
    model = build_noise_model(depolarizing_1q=0.01, depolarizing_2q=0.05, readout_error=0.02,
                              t1=100e3, t2=80e3)
    assert sorted(model.basis_gates) == sorted(NOISE_BASIS)
    assert set(NOISE_BASIS) | {"measure"} <= set(model.noise_instructions)


def test_zero_rates_give_an_ideal_model() -> None:
    assert build_noise_model(depolarizing_1q=0.0, readout_error=0.0).is_ideal()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"depolarizing_1q": 1.5}, "depolarizing_1q"),
        ({"depolarizing_2q": -0.1}, "depolarizing_2q"),
        ({"depolarizing_1q": "high"}, "must be a number"),
        ({"readout_error": (0.1, 0.2, 0.3)}, "pair"),
        ({"readout_error": 2}, "readout_error"),
        ({"readout_error": 0.5}, "every expectation value is 0"),
        ({"readout_error": (0.3, 0.7)}, "independent of the state"),
        ({"t1": 100.0, "t2": 250.0}, "t2 <= 2*t1"),
        ({"t1": 0.0}, "'t1'"),
        ({"t2": 50.0}, "need t1"),
        ({"gate_time_1q": 50.0}, "need t1"),
        ({"device": "manila", "depolarizing_1q": 0.1}, "drop"),
        ({"device": "atlantis"}, "unknown fake device"),
    ],
)
def test_invalid_noise_options_name_the_problem(options: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message.replace("*", r"\*").replace("(", r"\(")):
        build_noise_model(**options)


@pytest.mark.parametrize("name", ["manila", "fake_manila", "FakeManilaV2", " Manila "])
def test_fake_device_aliases(name: str) -> None:
    assert fake_backend(name).name == "fake_manila"


def test_unknown_fake_device_lists_valid_names() -> None:
    with pytest.raises(BackendError, match="manila") as info:
        fake_backend("fake_atlantis")
    assert "brisbane" in str(info.value)
    assert "manila" in fake_device_names()


def test_device_noise_model_has_per_qubit_readout_errors() -> None:
    flips = readout_flips(build_noise_model(device="manila"), 5)
    assert sorted(flips) == [0, 1, 2, 3, 4]
    assert all(0 < a < 0.2 and 0 < b < 0.2 for a, b in flips.values())


def test_symmetric_readout_scales_each_factor_by_one_minus_2p() -> None:
    flips = readout_flips(build_noise_model(readout_error=0.1), 3)
    folded = apply_readout_error(SparsePauliOp(["ZZI", "IIX"], [1.0, 2.0]), flips)
    expected = SparsePauliOp(["ZZI", "IIX"], [0.8**2, 2 * 0.8])
    assert folded.equiv(expected)


def _measured_expectation(state: Statevector, label: str, flips: dict) -> float:
    """Brute force: rotate into the Pauli's eigenbasis, push probabilities through readout."""
    rotated = state
    for q, pauli in enumerate(reversed(label)):
        if pauli == "X":
            rotated = rotated.evolve(HGate(), [q])
        elif pauli == "Y":
            rotated = rotated.evolve(SdgGate(), [q]).evolve(HGate(), [q])
    probs = rotated.probabilities()
    n = state.num_qubits
    for q in range(n):
        a, b = flips.get(q, (0.0, 0.0))
        confusion = np.array([[1 - a, b], [a, 1 - b]])  # column = true bit, row = read bit
        probs = np.moveaxis(
            np.tensordot(confusion, np.moveaxis(probs.reshape([2] * n), n - 1 - q, 0), axes=1),
            0, n - 1 - q,
        ).reshape(-1)
    value = 0.0
    for index, p in enumerate(probs):
        bits = [(index >> q) & 1 for q in range(n)]
        sign = math.prod(-1 if bits[q] else 1 for q, c in enumerate(reversed(label)) if c != "I")
        value += sign * p
    return value


@pytest.mark.parametrize("label", ["ZZI", "XIZ", "IYZ", "ZXY"])
def test_asymmetric_readout_folding_matches_brute_force(label: str) -> None:
    flips = {0: (0.02, 0.10), 1: (0.05, 0.01), 2: (0.0, 0.2)}
    state = random_statevector(8, seed=7)
    folded = apply_readout_error(SparsePauliOp(label), flips)
    assert state.expectation_value(folded).real == pytest.approx(
        _measured_expectation(state, label, flips), abs=1e-12
    )


def test_shot_budget_round_trips_exactly() -> None:
    for shots in [1, 2, 3, 7, 100, 1000, 1024, 4096, 10_007, 123_457]:
        assert shots_for_precision(precision_for_shots(shots)) == shots


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shots": 100, "precision": 0.1}, "both"),
        ({"shots": 0}, "'shots'"),
        ({"shots": 2.5}, "integer"),
        ({"shots": True}, "integer"),
        ({"precision": 0.0}, "'precision'"),
        ({"precision": "fine"}, "number"),
    ],
)
def test_bad_shot_options(options: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        shot_precision("aer", options)


def test_no_shots_means_exact() -> None:
    assert shot_precision("aer", {}) is None
    assert shot_precision("aer", {"precision": 0.05}) == 0.05
