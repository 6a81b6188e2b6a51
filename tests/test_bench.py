"""``qunlearn bench``: forward rows, the VJP/Jacobian pair and the qubit-scaling table run and
report what they measured (no timing thresholds: only that the numbers exist and add up)."""

from __future__ import annotations

import json

from qiskit_unlearn.bench import format_table, run_benchmark
from qiskit_unlearn.bench_scaling import format_scaling, run_scaling
from qiskit_unlearn.cli.main import main


def test_forward_rows_and_step_over_forward_ratio():
    results = run_benchmark(["statevector", "statevector-jacobian"], [4], repeats=1,
                            layers=[1], forward=True, log=lambda _: None)
    assert [(t.case, t.kind) for t in results] == [
        ("statevector", "forward"), ("statevector", "step"),
        ("statevector-jacobian", "forward"), ("statevector-jacobian", "step")]
    assert all(t.layers == 1 and t.median > 0 for t in results)
    table = format_table(results)
    assert "step ÷ forward" in table and "full adjoint Jacobian" in table
    step, forward = results[1].median, results[0].median
    assert f"{step / forward:.1f}×" in table


def test_scaling_rows_in_both_precisions_with_peak_memory():
    rows = run_scaling([4, 6], single_only=[7], batch=2, layers=1, repeats=1,
                       log=lambda _: None)
    assert [(r["qubits"], r["precision"]) for r in rows] == [
        (4, "double"), (4, "single"), (6, "double"), (6, "single"), (7, "single")]
    assert all(r["forward_s"] > 0 and r["forward_backward_s"] > 0 for r in rows)
    # a 6-qubit double-precision pass holds at least its batch of states
    assert rows[2]["peak_bytes"] >= 2 * 16 * 2**6
    table = format_scaling(rows)
    assert table.count("\n") == len(rows) + 1 and "(4×)" in table


def test_the_cli_writes_the_scaling_json(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    assert main(["bench", "--scaling", "3", "--batch", "2", "--layers", "1", "--repeats", "1",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["precision"] for r in rows] == ["double", "single"]
    assert "| 3 | double |" in capsys.readouterr().out
    assert main(["bench", "--scaling", "0"]) == 2
    assert "must be positive, got 0" in capsys.readouterr().err
