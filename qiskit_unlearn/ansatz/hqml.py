"""The HQML hybrid ansatz: angle encoding, then layers of trainable rotations and an entangler.

Layout (n qubits, L = ``reps``)::

    encode:  RX(x_i) RY(x_i) RZ(x_i) on qubit i          (time order: RX first)
    layer l: RX(w) RY(w) RZ(w) on every qubit, then CZ or CX on each entangling pair

The same ``x_i`` feeds three gates on purpose (one feature, three axes). With ``reuploading``
the encoding is repeated before every layer, which makes the model a richer Fourier series in x.

Weight order is (layer, qubit, gate): ``w[3 * (l * n + q) + g]`` with g = 0, 1, 2 for RX, RY, RZ.
"""

from __future__ import annotations

from qiskit.circuit import ParameterVector, QuantumCircuit

from qiskit_unlearn.ansatz.base import Ansatz, AnsatzError, check_int, entangling_pairs

ENTANGLERS = ("cz", "cx")


def hqml_ansatz(num_qubits: int, reps: int = 2, entanglement: str = "ring",
                entangler: str = "cz", reuploading: bool = False) -> Ansatz:
    """Build the HQML ansatz; inputs ``x[0..n-1]`` (one feature per qubit), weights ``w``.

    Args:
        num_qubits: Qubits n (at least 1), which is also the number of input features.
        reps: Trainable layers L (at least 1; 3 * n * L weights).
        entanglement: ``none``, ``linear``, ``ring`` or ``full`` (see
            :func:`entangling_pairs`).
        entangler: Two-qubit gate of the entangling layer, ``cz`` or ``cx``.
        reuploading: Repeat the encoding before every layer instead of only the first.

    Returns:
        The ansatz; ``metadata["encoding"]`` is ``"angle"``.

    Raises:
        AnsatzError: If ``num_qubits`` or ``reps`` is not an integer >= 1, or ``entanglement``
            or ``entangler`` is unknown.
    """
    n = check_int(num_qubits, "num_qubits", 1)
    reps = check_int(reps, "reps", 1)
    if entangler not in ENTANGLERS:
        raise AnsatzError(f"entangler must be one of {list(ENTANGLERS)}, got {entangler!r}")
    pairs = entangling_pairs(n, entanglement)
    name = f"hqml-{n}q-{reps}l-{entanglement}-{entangler}" + ("-reupload" if reuploading else "")
    x = ParameterVector("x", n)
    w = ParameterVector("w", 3 * n * reps)
    qc = QuantumCircuit(n, name=name)
    for layer in range(reps):
        if layer == 0 or reuploading:
            for q in range(n):
                qc.rx(x[q], q)
                qc.ry(x[q], q)
                qc.rz(x[q], q)
        for q in range(n):
            k = 3 * (layer * n + q)
            qc.rx(w[k], q)
            qc.ry(w[k + 1], q)
            qc.rz(w[k + 2], q)
        for a, b in pairs:
            qc.cz(a, b) if entangler == "cz" else qc.cx(a, b)
    kwargs = {"num_qubits": n, "reps": reps, "entanglement": entanglement,
              "entangler": entangler, "reuploading": bool(reuploading)}
    return Ansatz(name, qc, list(x), list(w),
                  {"builder": "hqml_ansatz", "kwargs": kwargs, "encoding": "angle"})
