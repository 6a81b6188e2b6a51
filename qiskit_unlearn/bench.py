"""Benchmark one training step of the HQML hybrid against qiskit-machine-learning's defaults.

The model is the 8-qubit, 2-layer HQML hybrid (angle encoding, RX/RY/RZ layers, CZ ring,
8 Z outputs, input gradients on) followed by Linear(8,16)-ReLU-Linear(16,10). One step is
forward + cross-entropy + backward + Adam. Every configuration, including the slow library
defaults, is measured in the same run so the printed ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch and Qiskit load when a benchmark runs, not for 'bench --help'
    import torch
    from qiskit_machine_learning.neural_networks import EstimatorQNN

NUM_QUBITS, LAYERS, CLASSES = 8, 2, 10


@dataclass
class Case:
    name: str
    build: Callable[[], EstimatorQNN]
    baseline: bool = False  # a qiskit-machine-learning default path


@dataclass
class Timing:
    case: str
    batch: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _ansatz():
    from qiskit_unlearn.ansatz import hqml_ansatz

    return hqml_ansatz(NUM_QUBITS, reps=LAYERS, entanglement="ring", entangler="cz")


def _ours(backend: str, **options) -> Callable[[], EstimatorQNN]:
    def build() -> EstimatorQNN:
        from qiskit_unlearn.ansatz import z_observables
        from qiskit_unlearn.qnn import make_qnn

        a = _ansatz()
        return make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params,
                        observables=z_observables(NUM_QUBITS), backend=backend,
                        input_gradients=True, **options)
    return build


def _qml_default(estimator_factory: Callable[[], object] | None) -> Callable[[], EstimatorQNN]:
    def build() -> EstimatorQNN:
        from qiskit_machine_learning.neural_networks import EstimatorQNN

        from qiskit_unlearn.ansatz import z_observables

        a = _ansatz()
        kwargs = {} if estimator_factory is None else {"estimator": estimator_factory()}
        return EstimatorQNN(circuit=a.circuit, observables=z_observables(NUM_QUBITS),
                            input_params=a.input_params, weight_params=a.weight_params,
                            input_gradients=True, **kwargs)
    return build


def _aer_estimator():
    from qiskit_aer.primitives import EstimatorV2

    return EstimatorV2()


#: The noisy cases' noise: depolarizing 1e-3 / 1e-2, thermal relaxation T1 = T2 = 100 µs
#: (gate times 50 / 300 ns) and readout error 0.02.
NOISE = {"depolarizing_1q": 1e-3, "depolarizing_2q": 1e-2, "t1": 100e3, "t2": 100e3,
         "readout_error": 0.02}

CASES: dict[str, Case] = {
    "statevector": Case("statevector (ours: batched engine + adjoint)", _ours("statevector")),
    "aer": Case("aer exact (ours: Aer EstimatorV2 + batched gradient)", _ours("aer")),
    "noisy": Case("noisy (ours: density-matrix engine + reverse mode), depol+thermal+readout",
                  _ours("noisy", **NOISE)),
    "aer-noisy": Case("aer-noisy (Aer density matrix + batched parameter shift), same noise",
                      _ours("aer-noisy", **NOISE)),
    "qml-default": Case("qiskit-ml default (reference Estimator + ParamShift)",
                        _qml_default(None), baseline=True),
    "qml-aer-default": Case("Aer EstimatorV2 + default ParamShift gradient",
                            _qml_default(_aer_estimator), baseline=True),
}


def _model(qnn: EstimatorQNN, seed: int) -> torch.nn.Module:
    """The QNN and a linear head; QNNs with a vector-Jacobian product (``noisy``) go through
    :class:`~qiskit_unlearn.vjp.VJPConnector`, as they do inside the project's models."""
    import torch
    from qiskit_machine_learning.connectors import TorchConnector

    from qiskit_unlearn.vjp import VJPConnector, VJPEstimatorQNN

    torch.manual_seed(seed)
    init = np.random.default_rng(seed).uniform(-np.pi, np.pi, qnn.num_weights)
    connector = VJPConnector if isinstance(qnn, VJPEstimatorQNN) else TorchConnector
    return torch.nn.Sequential(
        connector(qnn, initial_weights=init),
        torch.nn.Linear(NUM_QUBITS, 16), torch.nn.ReLU(), torch.nn.Linear(16, CLASSES),
    )


def time_training_steps(qnn: EstimatorQNN, batch: int, repeats: int, warmup: int = 1,
                        seed: int = 0, budget: float = float("inf")) -> list[float]:
    """Wall-clock seconds of up to ``repeats`` training steps after ``warmup`` untimed ones;
    stops early (after at least one timed step) once ``budget`` seconds have been spent."""
    import torch

    model = _model(qnn, seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, NUM_QUBITS, generator=gen) * 2 - 1) * np.pi
    y = torch.randint(0, CLASSES, (batch,), generator=gen)
    times: list[float] = []
    spent = 0.0
    for i in range(warmup + repeats):
        start = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        elapsed = time.perf_counter() - start
        spent += elapsed
        if i >= warmup:
            times.append(elapsed)
            if spent > budget:
                break
        elif spent > budget:  # a slow configuration: its warm-up step is not worth repeating
            warmup = i + 1
    return times


def run_benchmark(cases: Sequence[str], batches: Sequence[int], repeats: int,
                  baseline_repeats: int = 1, budget: float = 60.0,
                  log: Callable[[str], None] = print) -> list[Timing]:
    """Time every case at every batch size; fast cases get warm-up steps, slow ones are cut
    short after ``budget`` seconds (at least one timed step each)."""
    results = []
    for key in cases:
        case = CASES[key]
        qnn = case.build()
        for batch in batches:
            reps = baseline_repeats if case.baseline else repeats
            timing = Timing(key, batch, time_training_steps(
                qnn, batch, reps, warmup=0 if case.baseline else 2, budget=budget))
            log(f"  {case.name}, batch {batch}: {timing.median:.4g} s/step "
                f"({len(timing.seconds)} timed step(s))")
            results.append(timing)
    return results


#: Baselines every row is compared with (columns of the table), when they were timed.
BASELINES = {"qml-default": "× vs qiskit-ml default",
             "qml-aer-default": "× vs Aer + default gradient",
             "aer-noisy": "× vs aer-noisy (same noise)"}


def format_table(results: Sequence[Timing]) -> str:
    """Markdown table: seconds per step and speed-up over each baseline in the same run
    (the ``aer-noisy`` column only for the noisy rows, which have the same noise)."""
    base = {(t.case, t.batch): t.median for t in results}
    refs = [r for r in BASELINES if any(t.case == r for t in results)]
    lines = ["| configuration | batch | s / step | " + " | ".join(BASELINES[r] for r in refs)
             + " |", "|---|---:|---:|" + "---:|" * len(refs)]
    for t in results:
        cells = []
        for ref in refs:
            b = base.get((ref, t.batch))
            noisy_only = ref == "aer-noisy" and t.case not in ("noisy", "aer-noisy")
            cells.append(f"{b / t.median:,.0f}×" if b and not noisy_only else "—")
        lines.append(f"| {CASES[t.case].name} | {t.batch} | {t.median:.4g} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qunlearn bench",
        description="Time one training step (forward+backward+Adam) of the 8-qubit HQML hybrid "
                    "on our backends and on qiskit-machine-learning's defaults, in one run.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 64],
                        help="batch sizes to time (default: 8 64)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES),
                        help="configurations to time (default: all)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed steps per fast configuration (default: 5)")
    parser.add_argument("--baseline-repeats", type=int, default=1,
                        help="timed steps per library-default configuration; each takes minutes "
                             "at batch 64 (default: 1)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds after which a configuration stops repeating steps "
                             "(default: 60)")
    parser.add_argument("--json", metavar="FILE", help="also write the timings as JSON")


def run_from_args(args: argparse.Namespace) -> int:
    import torch

    for b in args.batch:
        if b < 1:
            raise SystemExit(f"--batch values must be positive, got {b}")
    if args.repeats < 1 or args.baseline_repeats < 1:
        raise SystemExit("--repeats and --baseline-repeats must be at least 1")
    print(f"qunlearn bench: {NUM_QUBITS} qubits, {LAYERS} layers, torch threads "
          f"{torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    results = run_benchmark(args.cases, args.batch, args.repeats, args.baseline_repeats,
                            args.budget)
    print()
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([asdict(t) | {"median": t.median} for t in results], fh, indent=2)
    return 0
