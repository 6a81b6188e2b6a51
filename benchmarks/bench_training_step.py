"""Time one HQML training step on our backends vs qiskit-machine-learning's defaults.

Same as ``qunlearn bench``; e.g. ``python benchmarks/bench_training_step.py --batch 8 64``.
"""

import sys

from qiskit_unlearn.bench import main

if __name__ == "__main__":
    sys.exit(main())
