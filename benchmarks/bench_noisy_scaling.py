"""How a noisy training step on the density-matrix engine grows with qubits and layers.

Usage: ``python benchmarks/bench_noisy_scaling.py [--json FILE]``. One training step is
forward + cross-entropy + backward (vector-Jacobian product) + Adam of the HQML hybrid
(angle encoding, RX/RY/RZ layers, CZ ring, Z readout, Linear head) on backend ``noisy`` with
the noise of ``qunlearn bench`` (depolarizing 1e-3 / 1e-2, T1 = T2 = 100 µs, readout 0.02).
Printed: the median step time per configuration, the step-time ratio to the previous row, and
the peak of NumPy allocations during one batch-64 step (``tracemalloc``; the states, which are
all NumPy arrays) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc

import numpy as np
import torch

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz, z_observables
from qiskit_unlearn.bench import NOISE
from qiskit_unlearn.vjp import VJPConnector


def model(qubits: int, layers: int) -> torch.nn.Module:
    ansatz = hqml_ansatz(qubits, reps=layers, entanglement="ring", entangler="cz")
    qnn = make_qnn(ansatz.circuit, input_params=ansatz.input_params,
                   weight_params=ansatz.weight_params, observables=z_observables(qubits),
                   backend="noisy", **NOISE)
    init = np.random.default_rng(0).uniform(-np.pi, np.pi, qnn.num_weights)
    return torch.nn.Sequential(VJPConnector(qnn, initial_weights=init),
                               torch.nn.Linear(qubits, 10))


def step_times(net: torch.nn.Module, qubits: int, batch: int, repeats: int) -> list[float]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, qubits, generator=gen) * 2 - 1) * np.pi
    y = torch.randint(0, 10, (batch,), generator=gen)
    times = []
    for i in range(repeats + 1):  # the first step compiles and plans: not timed
        start = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    # the batch-64 step first, so the process's peak memory is its own
    net = model(8, 2)
    step_times(net, 8, 64, 0)
    tracemalloc.start()
    t64 = float(np.median(step_times(net, 8, 64, 1)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"8 qubits, 2 layers, batch 64: {t64:.3f} s / step, peak NumPy memory "
          f"{peak / 2**30:.2f} GiB, peak resident memory of the process {rss / 2**30:.2f} GiB",
          flush=True)
    del net
    rows = []
    configs = [(q, 2, 16) for q in (4, 6, 8, 10)] + [(8, layers, 16) for layers in (1, 4, 6)]
    for qubits, layers, batch in configs:
        t = float(np.median(step_times(model(qubits, layers), qubits, batch, args.repeats)))
        rows.append({"qubits": qubits, "layers": layers, "batch": batch, "seconds": t})
        print(f"{qubits:2d} qubits, {layers} layers, batch {batch}: {t:.3f} s / step", flush=True)
    print("\n| qubits | layers | batch | s / step | × previous row |")
    print("|---:|---:|---:|---:|---:|")
    for i, r in enumerate(rows):
        ratio = "" if i in (0, 4) else f"{r['seconds'] / rows[i - 1]['seconds']:.1f}×"
        print(f"| {r['qubits']} | {r['layers']} | {r['batch']} | {r['seconds']:.3f} | {ratio} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows, "batch64": {"seconds": t64, "peak_numpy_bytes": peak,
                                                 "peak_rss_bytes": rss}}, fh, indent=2)


if __name__ == "__main__":
    main()
