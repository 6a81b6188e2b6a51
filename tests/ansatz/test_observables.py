"""Observables: which qubit each output reads, and the factory's errors."""

import pytest
from qiskit.quantum_info import SparsePauliOp, Statevector

from qiskit_unlearn.ansatz import (
    AnsatzError,
    make_observables,
    parity_observable,
    single_z_observable,
    z_observables,
)


def _labels(ops: list[SparsePauliOp]) -> list[str]:
    return [op.paulis[0].to_label() for op in ops]


def test_z_on_each_qubit_maps_qubit_i_to_output_i():
    ops = z_observables(3)
    assert _labels(ops) == ["IIZ", "IZI", "ZII"]
    state = Statevector.from_label("001")  # qubit 0 in |1>
    assert [state.expectation_value(op).real for op in ops] == pytest.approx([-1, 1, 1])


def test_single_z_and_parity():
    assert _labels(single_z_observable(3)) == ["IIZ"]
    assert _labels(single_z_observable(3, qubit=2)) == ["ZII"]
    assert _labels(parity_observable(4)) == ["ZZZZ"]
    state = Statevector.from_label("0110")
    assert state.expectation_value(parity_observable(4)[0]).real == pytest.approx(1)
    assert state.expectation_value(parity_observable(4)[0].compose(
        SparsePauliOp("IIIZ"))).real == pytest.approx(1)
    for ops in (z_observables(2), single_z_observable(2), parity_observable(2)):
        assert all(op.num_qubits == 2 and op.coeffs[0] == 1 for op in ops)


def test_make_observables_dispatches_by_kind():
    assert _labels(make_observables("z", 2)) == ["IZ", "ZI"]
    assert _labels(make_observables("single-z", 2, qubit=1)) == ["ZI"]
    assert _labels(make_observables("parity", 3)) == ["ZZZ"]


def test_errors_name_the_problem():
    with pytest.raises(AnsatzError, match=r"unknown observables 'x'; choose one of \['z', "):
        make_observables("x", 2)
    with pytest.raises(AnsatzError, match="do not take"):
        make_observables("parity", 2, qubit=1)
    with pytest.raises(AnsatzError, match=r"qubit must be in 0\.\.1, got 2"):
        single_z_observable(2, qubit=2)
    with pytest.raises(AnsatzError, match="num_qubits must be an integer >= 1"):
        z_observables(0)
