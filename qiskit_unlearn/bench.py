"""Benchmark one training step of the HQML hybrid against qiskit-machine-learning's defaults.

The model is the 8-qubit HQML hybrid (angle encoding, RX/RY/RZ layers, CZ ring, 8 Z outputs,
input gradients on; 2 layers unless ``--layers``) followed by Linear(8,16)-ReLU-Linear(16,10).
One step is forward + cross-entropy + backward + Adam; ``--forward`` also times the forward
pass alone (fresh inputs each time, so no state is reused), which shows what the backward pass
costs on top. Every configuration, including the slow library defaults, is measured in the
same run so the printed ratios compare like with like. ``--scaling`` times the qubit-scaling
table of :mod:`qiskit_unlearn.bench_scaling` instead.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from qiskit_unlearn.storage import write_json

if TYPE_CHECKING:  # torch and Qiskit load when a benchmark runs, not for 'bench --help'
    import torch
    from qiskit_machine_learning.neural_networks import EstimatorQNN

NUM_QUBITS, LAYERS, CLASSES = 8, 2, 10


@dataclass
class Case:
    name: str
    build: Callable[[int], EstimatorQNN]  # layers -> QNN
    baseline: bool = False  # a qiskit-machine-learning default path


@dataclass
class Timing:
    case: str
    batch: int
    seconds: list[float] = field(default_factory=list)
    kind: str = "step"  # "step" (forward + backward + Adam) or "forward"
    layers: int = LAYERS

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _ansatz(layers: int):
    from qiskit_unlearn.ansatz import hqml_ansatz

    return hqml_ansatz(NUM_QUBITS, reps=layers, entanglement="ring", entangler="cz")


def _ours(backend: str, **options) -> Callable[[int], EstimatorQNN]:
    def build(layers: int) -> EstimatorQNN:
        from qiskit_unlearn.ansatz import z_observables
        from qiskit_unlearn.qnn import make_qnn

        a = _ansatz(layers)
        return make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params,
                        observables=z_observables(NUM_QUBITS), backend=backend,
                        input_gradients=True, **options)
    return build


def _qml_default(estimator_factory: Callable[[], object] | None
                 ) -> Callable[[int], EstimatorQNN]:
    def build(layers: int) -> EstimatorQNN:
        from qiskit_machine_learning.neural_networks import EstimatorQNN

        from qiskit_unlearn.ansatz import z_observables

        a = _ansatz(layers)
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
    "statevector": Case("statevector (ours: batched engine + adjoint VJP)", _ours("statevector")),
    "statevector-jacobian": Case("statevector, plain TorchConnector (full adjoint Jacobian)",
                                 _ours("statevector")),
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


def _model(qnn: EstimatorQNN, seed: int, jacobian: bool = False) -> torch.nn.Module:
    """The QNN and a linear head; QNNs with a vector-Jacobian product go through
    :class:`~qiskit_unlearn.vjp.VJPConnector`, as they do inside the project's models (unless
    ``jacobian``: the plain ``TorchConnector`` and its full-Jacobian backward pass)."""
    import torch
    from qiskit_machine_learning.connectors import TorchConnector

    from qiskit_unlearn.vjp import VJPConnector, VJPEstimatorQNN

    torch.manual_seed(seed)
    init = np.random.default_rng(seed).uniform(-np.pi, np.pi, qnn.num_weights)
    vjp = isinstance(qnn, VJPEstimatorQNN) and not jacobian
    connector = VJPConnector if vjp else TorchConnector
    return torch.nn.Sequential(
        connector(qnn, initial_weights=init),
        torch.nn.Linear(NUM_QUBITS, 16), torch.nn.ReLU(), torch.nn.Linear(16, CLASSES),
    )


def time_training_steps(qnn: EstimatorQNN, batch: int, repeats: int, warmup: int = 1,
                        seed: int = 0, budget: float = float("inf"), *,
                        forward_only: bool = False, jacobian: bool = False) -> list[float]:
    """Wall-clock seconds of up to ``repeats`` training steps (or, ``forward_only``, forward
    passes without autograd, on fresh inputs every time) after ``warmup`` untimed ones;
    stops early (after at least one timed step) once ``budget`` seconds have been spent."""
    import torch

    model = _model(qnn, seed, jacobian)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, NUM_QUBITS, generator=gen) * 2 - 1) * np.pi
    y = torch.randint(0, CLASSES, (batch,), generator=gen)
    times: list[float] = []
    spent = 0.0
    for i in range(warmup + repeats):
        start = time.perf_counter()
        if forward_only:
            with torch.no_grad():
                model(x + i)  # new rows: nothing cached from the previous pass
        else:
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
                  log: Callable[[str], None] = print, *, layers: Sequence[int] = (LAYERS,),
                  forward: bool = False) -> list[Timing]:
    """Time every case at every layer count and batch size (and, with ``forward``, its forward
    pass too); fast cases get warm-up steps, slow ones are cut short after ``budget`` seconds
    (at least one timed step each)."""
    results = []
    for key in cases:
        case = CASES[key]
        for depth in layers:
            qnn = case.build(depth)
            for batch in batches:
                reps = baseline_repeats if case.baseline else repeats
                kinds = ("forward", "step") if forward else ("step",)
                for kind in kinds:
                    timing = Timing(key, batch, time_training_steps(
                        qnn, batch, reps, warmup=0 if case.baseline else 2, budget=budget,
                        forward_only=kind == "forward", jacobian=key.endswith("-jacobian")),
                        kind=kind, layers=depth)
                    log(f"  {case.name}, {depth} layers, batch {batch}, {kind}: "
                        f"{timing.median:.4g} s ({len(timing.seconds)} timed)")
                    results.append(timing)
    return results


#: Baselines every row is compared with (columns of the table), when they were timed.
BASELINES = {"qml-default": "× vs qiskit-ml default",
             "qml-aer-default": "× vs Aer + default gradient",
             "aer-noisy": "× vs aer-noisy (same noise)"}


def format_table(results: Sequence[Timing]) -> str:
    """Markdown table: seconds per step (and per forward pass, with the step / forward
    ratio, when timed) and speed-up over each baseline in the same run (the ``aer-noisy``
    column only for the noisy rows, which have the same noise)."""
    steps = [t for t in results if t.kind == "step"]
    forward = {(t.case, t.layers, t.batch): t.median for t in results if t.kind == "forward"}
    base = {(t.case, t.layers, t.batch): t.median for t in steps}
    refs = [r for r in BASELINES if any(t.case == r for t in steps)]
    fwd_cols = ["s / forward", "step ÷ forward"] if forward else []
    head = ["configuration", "layers", "batch", "s / step", *fwd_cols,
            *(BASELINES[r] for r in refs)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for t in steps:
        cells = [CASES[t.case].name, str(t.layers), str(t.batch), f"{t.median:.4g}"]
        if forward:
            f = forward.get((t.case, t.layers, t.batch))
            cells += [f"{f:.4g}", f"{t.median / f:.1f}×"] if f else ["—", "—"]
        for ref in refs:
            b = base.get((ref, t.layers, t.batch))
            noisy_only = ref == "aer-noisy" and t.case not in ("noisy", "aer-noisy")
            cells.append(f"{b / t.median:,.0f}×" if b and not noisy_only else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qunlearn bench",
        description="Time one training step (forward+backward+Adam) of the 8-qubit HQML hybrid "
                    "on our backends and on qiskit-machine-learning's defaults, in one run.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="batch sizes to time (default: 8 64; with --scaling: 16)")
    parser.add_argument("--cases", nargs="+", default=None, choices=list(CASES),
                        help="configurations to time (default: all but statevector-jacobian)")
    parser.add_argument("--layers", type=int, nargs="+", default=[LAYERS],
                        help=f"ansatz layers to time (default: {LAYERS})")
    parser.add_argument("--forward", action="store_true",
                        help="also time the forward pass alone (step ÷ forward column)")
    parser.add_argument("--scaling", type=int, nargs="+", metavar="QUBITS",
                        help="instead: the statevector qubit-scaling table at these widths "
                             "(e.g. 8 12 16 20 22), time and peak memory, double and single "
                             "precision")
    parser.add_argument("--single-only", type=int, nargs="*", default=[], metavar="QUBITS",
                        help="with --scaling: widths timed in single precision only (e.g. 24)")
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

    for value in [*(args.batch or []), *args.layers, *(args.scaling or [])]:
        if value < 1:
            raise ValueError(f"--batch, --layers and --scaling values must be positive, "
                             f"got {value}")
    if args.repeats < 1 or args.baseline_repeats < 1:
        raise ValueError("--repeats and --baseline-repeats must be at least 1")
    if args.scaling:
        from qiskit_unlearn.bench_scaling import format_scaling, run_scaling

        batch = (args.batch or [16])[0]
        print(f"qunlearn bench --scaling: {args.layers[0]} layers, batch {batch}, torch threads "
              f"{torch.get_num_threads()}, {platform.processor() or platform.machine()}")
        rows = run_scaling(args.scaling, args.single_only, batch=batch, layers=args.layers[0],
                           repeats=args.repeats)
        print()
        print(format_scaling(rows))
        if args.json:
            write_json(args.json, rows)
        return 0
    cases = args.cases or [c for c in CASES if c != "statevector-jacobian"]
    print(f"qunlearn bench: {NUM_QUBITS} qubits, layers {args.layers}, torch threads "
          f"{torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    results = run_benchmark(cases, args.batch or [8, 64], args.repeats, args.baseline_repeats,
                            args.budget, layers=args.layers, forward=args.forward)
    print()
    print(format_table(results))
    if args.json:
        write_json(args.json, [asdict(t) | {"median": t.median} for t in results])
    return 0
