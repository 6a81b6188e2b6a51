"""Qubit scaling of the exact statevector engine: forward and forward + backward time and peak
memory of the HQML circuit (angle encoding, RX/RY/RZ layers, CZ ring, one Z readout per
qubit) at growing widths, in double and single precision, through the VJP path the models use.

Peak memory is the peak of Python-tracked allocations (``tracemalloc``: every NumPy state,
table and temporary) during one forward + backward pass; the pass is untimed. Batches run
under ``memory_limit`` (default 8 GiB), so wide circuits are chunked to fit it.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qiskit_unlearn.engine.memory import format_bytes

#: Memory budget the scaling rows run under (the issue's target machine: 8 GB).
MEMORY_LIMIT = "8GiB"


def _connector(qubits: int, layers: int, precision: str, memory_limit: str) -> Any:
    from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
    from qiskit_unlearn.qnn import make_qnn
    from qiskit_unlearn.vjp import VJPConnector

    ansatz = hqml_ansatz(qubits, reps=layers, entanglement="ring", entangler="cz")
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(qubits),
                   backend="statevector", precision=precision, memory_limit=memory_limit)
    init = np.random.default_rng(0).uniform(-np.pi, np.pi, qnn.num_weights)
    return VJPConnector(qnn, initial_weights=init)


def _passes(connector: Any, qubits: int, batch: int) -> tuple[Callable[[int], None],
                                                              Callable[[int], None]]:
    import torch

    gen = torch.Generator().manual_seed(qubits)
    x = (torch.rand(batch, qubits, generator=gen) * 2 - 1) * np.pi
    upstream = torch.randn(batch, qubits, generator=gen)

    def forward(i: int) -> None:
        with torch.no_grad():
            connector(x + i)  # fresh rows: nothing reused from an earlier pass

    def forward_backward(i: int) -> None:
        inputs = (x + i).requires_grad_(True)
        connector.zero_grad(set_to_none=True)
        (connector(inputs) * upstream).sum().backward()

    return forward, forward_backward


def scaling_row(qubits: int, precision: str, *, batch: int = 16, layers: int = 2,
                repeats: int = 3, memory_limit: str = MEMORY_LIMIT) -> dict[str, Any]:
    """One row: median seconds of the forward pass and of forward + backward, and the peak
    traced memory of one forward + backward pass (which also compiles the circuit)."""
    connector = _connector(qubits, layers, precision, memory_limit)
    forward, forward_backward = _passes(connector, qubits, batch)
    tracemalloc.start()
    forward_backward(-1)  # compiles, builds the tables; untimed
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times: dict[str, list[float]] = {"forward": [], "forward_backward": []}
    for i in range(repeats):
        for name, run in (("forward", forward), ("forward_backward", forward_backward)):
            start = time.perf_counter()
            run(i)
            times[name].append(time.perf_counter() - start)
    return {"qubits": qubits, "precision": precision, "layers": layers, "batch": batch,
            "forward_s": float(np.median(times["forward"])),
            "forward_backward_s": float(np.median(times["forward_backward"])),
            "peak_bytes": int(peak), "memory_limit": memory_limit, "repeats": repeats}


def run_scaling(widths: Sequence[int], single_only: Sequence[int] = (), *, batch: int = 16,
                layers: int = 2, repeats: int = 3, memory_limit: str = MEMORY_LIMIT,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Rows for every width in double and single precision (``single_only``: single only);
    widths of 20 qubits and more are timed once, they take seconds to minutes each."""
    rows = []
    plan = [(q, p) for q in widths for p in ("double", "single")]
    plan += [(q, "single") for q in single_only]
    for qubits, precision in plan:
        row = scaling_row(qubits, precision, batch=batch, layers=layers,
                          repeats=1 if qubits >= 20 else repeats, memory_limit=memory_limit)
        log(f"  {qubits} qubits, {precision}: forward {row['forward_s']:.4g} s, forward + "
            f"backward {row['forward_backward_s']:.4g} s, peak {format_bytes(row['peak_bytes'])}")
        rows.append(row)
    return rows


def format_scaling(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table with the growth of forward + backward against the previous width of the
    same precision, next to the growth of the state (2× per qubit)."""
    lines = ["| qubits | precision | forward (s) | forward + backward (s) | f+b ÷ forward | "
             "× previous width (state ×) | peak memory |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    previous: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = previous.get(r["precision"])
        growth = "" if p is None else (
            f"{r['forward_backward_s'] / p['forward_backward_s']:.1f}× "
            f"({2 ** (r['qubits'] - p['qubits'])}×)")
        lines.append(f"| {r['qubits']} | {r['precision']} | {r['forward_s']:.4g} | "
                     f"{r['forward_backward_s']:.4g} | "
                     f"{r['forward_backward_s'] / r['forward_s']:.1f}× | {growth} | "
                     f"{format_bytes(r['peak_bytes'])} |")
        previous[r["precision"]] = r
    return "\n".join(lines)
