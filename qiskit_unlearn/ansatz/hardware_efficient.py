"""Hardware-efficient ansatz of the quantum-unlearning paper, on amplitude-encoded inputs.

Layout (n qubits, L = ``reps``)::

    encode:  amplitude state preparation (inputs: its 2^n - 1 RY angles x[0..2^n-2])
    layer l: RX(w) RY(w) RX(w) on every qubit, then RZZ(w) on each ring pair (0,1), (1,2), ...

Inputs are *angles*, not data: feed ``amplitude_encoding_angles(data)`` (data of length <= 2^n);
``metadata["encoding"] == "amplitude"`` tells callers to do so.

Weight order per layer: the rotations in (qubit, gate) order, then one RZZ weight per ring pair;
layer l starts at ``l * (3 * n + pairs)``.
"""

from __future__ import annotations

from qiskit.circuit import ParameterVector

from qiskit_unlearn.ansatz.amplitude import amplitude_state_preparation
from qiskit_unlearn.ansatz.base import Ansatz, check_int, entangling_pairs


def hardware_efficient_ansatz(num_qubits: int, reps: int = 2, rzz_ring: bool = True) -> Ansatz:
    """Build the amplitude-encoded hardware-efficient ansatz.

    Args:
        num_qubits: Qubits n (at least 1); the encoded data vectors have up to 2^n entries.
        reps: Trainable layers L (at least 1).
        rzz_ring: Add the RZZ ring after each rotation layer (off: no entanglement beyond the
            encoding, useful as an ablation).

    Returns:
        The ansatz, with 2^n - 1 input (angle) parameters ``x`` and ``L * (3 * n + pairs)``
        weights ``w``; ``metadata["encoding"]`` is ``"amplitude"``.

    Raises:
        AnsatzError: If ``num_qubits`` or ``reps`` is not an integer >= 1.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    reps = check_int(reps, "reps", 1)
    pairs = entangling_pairs(n, "ring") if rzz_ring else []
    name = f"hea-amp-{n}q-{reps}l" + ("" if rzz_ring else "-norzz")
    qc, x = amplitude_state_preparation(n, prefix="x")
    qc.name = name
    per_layer = 3 * n + len(pairs)
    w = ParameterVector("w", reps * per_layer)
    for layer in range(reps):
        start = layer * per_layer
        for q in range(n):
            qc.rx(w[start + 3 * q], q)
            qc.ry(w[start + 3 * q + 1], q)
            qc.rx(w[start + 3 * q + 2], q)
        for j, (a, b) in enumerate(pairs):
            qc.rzz(w[start + 3 * n + j], a, b)
    kwargs = {"num_qubits": n, "reps": reps, "rzz_ring": bool(rzz_ring)}
    return Ansatz(name, qc, list(x), list(w),
                  {"builder": "hardware_efficient_ansatz", "kwargs": kwargs,
                   "encoding": "amplitude", "input_dim": 2**n})
