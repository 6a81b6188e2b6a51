"""Amplitude encoding: the bound state-preparation circuit gives the padded, normalized vector."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qiskit_unlearn.ansatz import (
    AnsatzError,
    amplitude_encode,
    amplitude_encoding_angles,
    amplitude_state_preparation,
)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_circuit_shape(n):
    qc, params = amplitude_state_preparation(n, prefix="a")
    assert len(params) == qc.num_parameters == 2**n - 1
    assert params.name == "a"
    ops = qc.count_ops()
    assert ops["ry"] == 2**n - 1
    assert ops.get("cx", 0) == 2**n - 2
    assert set(ops) <= {"ry", "cx"}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_state_equals_padded_normalized_vector_in_qiskit_order(n):
    rng = np.random.default_rng(n)
    qc, _ = amplitude_state_preparation(n)
    lengths = sorted({2**n, 2**n - 1, 2 ** (n - 1) + 1} - {1})
    for length in lengths:
        batch = rng.normal(size=(6, length))
        batch[1] = np.abs(batch[1])             # all positive
        batch[2] = -np.abs(batch[2])            # all negative
        batch[3, : length // 2] = 0.0           # a whole half of the amplitudes is zero
        batch[4] = 0.0
        batch[4, -1] = -2.0                     # a single negative basis state
        angles = amplitude_encoding_angles(batch, n)
        assert angles.shape == (6, 2**n - 1)
        expected = amplitude_encode(batch, n)
        for row, values in zip(expected, angles, strict=True):
            state = Statevector(qc.assign_parameters(values)).data
            np.testing.assert_allclose(state, row, atol=1e-10)


def test_basis_vectors_land_on_qiskit_little_endian_indices():
    qc, _ = amplitude_state_preparation(3)
    for k in range(8):
        state = Statevector(qc.assign_parameters(amplitude_encoding_angles(np.eye(8)[k])))
        assert state.probabilities()[k] == pytest.approx(1.0)
        assert state.probabilities_dict(decimals=10) == {format(k, "03b"): 1.0}


def test_encode_pads_normalizes_and_keeps_batch_shape():
    out = amplitude_encode([3.0, -4.0, 0.0])
    np.testing.assert_allclose(out, [0.6, -0.8, 0.0, 0.0])
    batch = np.arange(1, 2 * 3 * 5 + 1, dtype=float).reshape(2, 3, 5)
    out = amplitude_encode(batch)
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0)
    assert amplitude_encode([1.0, 1.0], num_qubits=3).shape == (8,)
    assert amplitude_encoding_angles(batch).shape == (2, 3, 7)
    assert amplitude_encoding_angles([5.0]).shape == (1,)


@pytest.mark.parametrize(("x", "kwargs", "message"), [
    ([0.0, 0.0, 0.0], {}, "vector is all zeros"),
    ([[1.0, 2.0], [0.0, 0.0]], {}, "vector at index 1 is all zeros"),
    ([1.0, np.nan], {}, "vector has NaN or infinite entries"),
    ([[1.0, 2.0], [np.inf, 1.0]], {}, "vector at index 1 has NaN or infinite"),
    ([1.0, 2.0, 3.0], {"num_qubits": 1}, "length 3 do not fit in 1 qubits (2 amplitudes)"),
    ([1j, 1.0], {}, "takes real vectors"),
    ([], {}, "length >= 1"),
    (2.0, {}, "length >= 1"),
])
def test_bad_vectors_are_rejected(x, kwargs, message):
    for func in (amplitude_encode, amplitude_encoding_angles):
        with pytest.raises(AnsatzError) as info:
            func(x, **kwargs)
        assert message in str(info.value)
