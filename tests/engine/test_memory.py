"""The exact engine's memory guard: wide circuits are refused before anything 2^n-sized exists,
chunking under a limit changes no value or gradient, the byte counts bound the real peaks
(numpy reports its allocations to ``tracemalloc``), and the ``memory_limit`` syntax."""

from __future__ import annotations

import ast
import gc
import os
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from circuit_helpers import random_circuit, random_observables, small_qnn_circuit
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import UnitaryGate
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, random_unitary
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient

import qiskit_unlearn.engine as engine_package
from qiskit_unlearn import BackendError, make_qnn
from qiskit_unlearn.ansatz import z_observables
from qiskit_unlearn.engine import AdjointEstimatorGradient, FastStatevectorEstimator
from qiskit_unlearn.engine.estimator import program_for
from qiskit_unlearn.engine.memory import (
    ENV_VAR,
    default_memory_limit,
    format_bytes,
    parse_memory_limit,
)
from qiskit_unlearn.engine.observables import PauliTable
from qiskit_unlearn.engine.statevector import StatevectorProgram

SMALL = 16 << 20  # peak allowed while refusing: far below any 2^30-sized array


@pytest.fixture(autouse=True)
def _no_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _refused(action) -> tuple[str, int]:
    """The BackendError ``action`` raises, and the peak bytes traced while it ran."""
    gc.collect()
    tracemalloc.start()
    try:
        with pytest.raises(BackendError) as info:
            action()
        return str(info.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _bytes_needed(message: str) -> int:
    return int(re.search(r"needs (\d+) bytes", message).group(1))


def test_a_40_qubit_circuit_is_refused_without_allocating():
    qc, xs, ws = small_qnn_circuit(40)
    obs = z_observables(40)[:2]
    message, peak = _refused(lambda: make_qnn(qc, input_params=xs, weight_params=ws,
                                              observables=obs))
    assert peak < SMALL
    assert "40-qubit circuit" in message and 'backend="ibm"' in message
    assert "raise memory_limit" not in message  # no machine has 1.7 PiB to give it
    state = 16 << 40
    needed = _bytes_needed(message)
    assert needed >= 3 * state  # at least the state, its copy and the VJP's co-state
    assert needed == program_for(qc).footprint(PauliTable(obs, 40), vjp=True).total(1)
    assert "vector-Jacobian product" in message
    assert f"({format_bytes(needed)})" in message

    values = np.zeros((3, qc.num_parameters))
    message, peak = _refused(
        lambda: FastStatevectorEstimator().run([(qc, obs[0], values)]).result())
    assert peak < SMALL and "forward pass of this 40-qubit circuit" in message
    message, peak = _refused(
        lambda: AdjointEstimatorGradient().run([qc], [obs[0]], values[:1]).result())
    assert peak < SMALL and "adjoint gradient of this 40-qubit circuit" in message


def _wide_circuit(n: int) -> QuantumCircuit:
    """CX and CZ chains and RZZ: every kind of 2^n table the compiler would build."""
    params = [Parameter(f"t{i}") for i in range(n)]
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(params[q], q)
    for q in range(n - 1):
        qc.cx(q, q + 1)
        qc.rzz(params[q], q, q + 1)
    for q in range(n - 1):
        qc.cz(q, q + 1)
    return qc


def test_a_30_qubit_circuit_is_refused_at_construction_without_building_its_tables():
    qc = _wide_circuit(30)  # its CX table alone would be 24 GiB
    message, peak = _refused(lambda: make_qnn(qc, backend="statevector", memory_limit="1GiB"))
    assert peak < SMALL
    assert "30-qubit circuit" in message
    assert "memory limit of 1073741824 bytes (1.0 GiB)" in message
    assert _bytes_needed(message) > (16 << 30)
    assert "one 30-qubit state alone is 16.0 GiB" in message  # so no simulator: hardware


def test_chunked_rows_give_the_same_values_and_gradients():
    qc = random_circuit(4, depth=30, seed=11)
    obs = random_observables(4, 3, 5)
    values = np.random.default_rng(3).uniform(-np.pi, np.pi, (12, qc.num_parameters))
    program, table = program_for(qc), PauliTable(obs, 4)
    limit = program.footprint(table, adjoint=True).total(2)
    assert program.footprint(table, adjoint=True).max_rows(limit) == 2
    assert program.footprint(table).max_rows(limit) < len(values)  # the forward pass chunks too

    pubs = [(qc, o, values) for o in obs]
    whole = [r.data.evs for r in FastStatevectorEstimator().run(pubs).result()]
    chunked = [r.data.evs for r in FastStatevectorEstimator(memory_limit=limit).run(pubs)
               .result()]
    reference = [r.data.evs for r in StatevectorEstimator().run(pubs).result()]
    np.testing.assert_allclose(chunked, whole, atol=1e-12, rtol=0)
    np.testing.assert_allclose(chunked, reference, atol=1e-10, rtol=0)

    circuits = [qc] * (len(obs) * len(values))
    observables = [o for o in obs for _ in values]
    tiled = np.tile(values, (len(obs), 1))
    whole = AdjointEstimatorGradient().run(circuits, observables, tiled).result().gradients
    chunked = AdjointEstimatorGradient(memory_limit=limit).run(circuits, observables,
                                                               tiled).result().gradients
    reference = ParamShiftEstimatorGradient(StatevectorEstimator()).run(
        circuits, observables, tiled).result().gradients
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(whole), atol=1e-12, rtol=0)
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(reference), atol=1e-8, rtol=0)


def test_a_batch_whose_single_row_does_not_fit_is_refused_with_the_bytes():
    qc = random_circuit(5, depth=20, seed=3)
    obs = random_observables(5, 2, 3)
    program, table = program_for(qc), PauliTable(obs, 5)
    forward = program.footprint(table).total(1)
    adjoint = program.footprint(table, adjoint=True).total(1)
    values = np.zeros((4, qc.num_parameters))
    pub = (qc, [[o] for o in obs], values)  # (2, 1) observables by 4 rows
    with pytest.raises(BackendError, match=rf"needs {forward} bytes .* memory limit of "
                                           rf"{forward - 1} bytes"):
        FastStatevectorEstimator(memory_limit=forward - 1).run([pub]).result()
    gradient = AdjointEstimatorGradient(memory_limit=forward)  # the forward pass fits
    with pytest.raises(BackendError, match=rf"needs {adjoint} bytes .*fewer observables"):
        gradient.run([qc, qc], obs, values[:2]).result()


def _rzz_circuit(n: int) -> QuantumCircuit:
    params = [Parameter(f"p{i}") for i in range(n)]
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.h(q)
        qc.rz(params[q], q)
    for q in range(n - 1):
        qc.rzz(2 * params[q], q, q + 1)
    for q in range(n - 1):
        qc.cx(q, q + 1)
    for q in range(n - 1):
        qc.rzz(params[q] + 0.3, q, q + 1)
    return qc


def _generic_circuit(n: int) -> QuantumCircuit:
    params = [Parameter(f"p{i}") for i in range(n)]
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(params[q], q)
    for q in range(n - 1):
        qc.crx(0.5 * params[q], q, q + 1)
    qc.append(UnitaryGate(random_unitary(4, seed=1)), [0, n - 1])
    qc.ch(2, 1)
    return qc


def _run_task(program: StatevectorProgram, n: int, task: str, dtype, limit=None) -> None:
    """The forward pass, adjoint Jacobian or VJP of ``program`` (3 rows, 3 observables)."""
    obs = [*z_observables(n)[:2], SparsePauliOp("XY" + "I" * (n - 2))]
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, (3, program.plan.num_parameters))
    table = PauliTable(obs, n)
    if task == "forward":
        program.expectations(values, table, limit, dtype=dtype)
    else:
        weights = rng.normal(size=(3, len(obs))) if task == "vjp" else None
        program.jacobian(values, table, limit, weights=weights, dtype=dtype)


@pytest.mark.parametrize("build", [lambda n: small_qnn_circuit(n)[0], _rzz_circuit,
                                   _generic_circuit])
@pytest.mark.parametrize("task", ["forward", "adjoint", "vjp"])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=["double", "single"])
def test_the_byte_counts_bound_the_real_peak(build, task, dtype):
    n, rows = 15, 3
    qc = build(n)
    # compile every kernel this task uses first (numba's compiler allocates too)
    _run_task(StatevectorProgram(build(4)), 4, task, dtype)
    gc.collect()
    tracemalloc.start()
    try:
        program = StatevectorProgram(qc)
        obs = [*z_observables(n)[:2], SparsePauliOp("XY" + "I" * (n - 2))]
        footprint = program.footprint(PauliTable(obs, n), adjoint=task == "adjoint",
                                      vjp=task == "vjp", dtype=np.dtype(dtype))
        _run_task(program, n, task, dtype, limit=footprint.total(rows))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.4 * footprint.total(rows) < peak <= footprint.total(rows)


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1), (4096, 4096), (2.5e9, 2_500_000_000), ("100", 100), ("64 KB", 64_000),
    ("512MiB", 512 << 20), ("8GiB", 8 << 30), ("2GB", 2_000_000_000), ("1.5 gib", 3 << 29),
])
def test_memory_limits_parse(value, expected):
    assert parse_memory_limit(value) == expected


@pytest.mark.parametrize("value", [0, -1, 0.5, True, "lots", "8 GiBs", "-1GiB", "",
                                   float("nan"), float("inf"), [8]])
def test_bad_memory_limits_say_what_is_accepted(value):
    with pytest.raises(BackendError, match=r"option 'memory_limit' must be a positive number "
                                           r"of bytes or a size such as '512MiB'"):
        parse_memory_limit(value)


def test_the_default_is_a_share_of_the_machine_or_the_environment_variable(monkeypatch):
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < default_memory_limit() <= physical
    monkeypatch.setenv(ENV_VAR, "3GiB")
    assert default_memory_limit() == 3 << 30
    assert FastStatevectorEstimator().memory_limit == 3 << 30
    assert AdjointEstimatorGradient().memory_limit == 3 << 30
    assert FastStatevectorEstimator(memory_limit="1GiB").memory_limit == 1 << 30
    estimator = FastStatevectorEstimator(memory_limit=12345)
    assert AdjointEstimatorGradient(estimator).memory_limit == 12345  # follows its estimator
    monkeypatch.setenv(ENV_VAR, "plenty")
    with pytest.raises(BackendError, match=f"environment variable {ENV_VAR} must be"):
        default_memory_limit()


@pytest.mark.parametrize(("num", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"),
                                           (1 << 30, "1.0 GiB"), (16 << 40, "16.0 TiB")])
def test_sizes_are_written_in_binary_units(num, text):
    assert format_bytes(num) == text


def test_the_engine_does_not_import_the_backends():
    """The engine raises the shared BackendError from ``qiskit_unlearn.errors``."""
    for path in Path(engine_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("qiskit_unlearn.backends") for n in names), path.name
