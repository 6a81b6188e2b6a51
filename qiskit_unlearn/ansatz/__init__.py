"""Ansatz catalogue: builders that return circuits with inputs and weights kept apart.

* :func:`hqml_ansatz`: angle encoding + RX/RY/RZ layers + CZ/CX entangler (optional re-uploading);
* :func:`hardware_efficient_ansatz`: amplitude encoding + RX·RY·RX layers + RZZ ring;
* :func:`z_observables`, :func:`single_z_observable`, :func:`parity_observable`;
* OpenQASM 3 exchange (:func:`dump_ansatz_qasm`, :func:`load_ansatz_qasm`) and the reference
  instances behind ``circuits/`` (:data:`CATALOGUE`).
"""

from qiskit_unlearn.ansatz.amplitude import (
    amplitude_encode,
    amplitude_encoding_angles,
    amplitude_state_preparation,
)
from qiskit_unlearn.ansatz.base import ENTANGLEMENTS, Ansatz, AnsatzError, entangling_pairs
from qiskit_unlearn.ansatz.catalogue import (
    CATALOGUE,
    build_reference,
    check_catalogue,
    export_catalogue,
    rebuild,
    reference_qasm,
)
from qiskit_unlearn.ansatz.hardware_efficient import hardware_efficient_ansatz
from qiskit_unlearn.ansatz.hqml import ENTANGLERS, hqml_ansatz
from qiskit_unlearn.ansatz.observables import (
    make_observables,
    parity_observable,
    single_z_observable,
    z_observables,
)
from qiskit_unlearn.ansatz.qasm import (
    NAMING_RULE,
    QasmAnsatzError,
    dump_ansatz_qasm,
    load_ansatz_qasm,
)

# Annotations only (no new values): they give the re-exported constants their reference entries.
#: The reference ansätze behind ``circuits/``, by name, each with its ``builder`` name, its
#: ``kwargs`` and a ``description`` (see :func:`build_reference`).
CATALOGUE: dict
#: Entanglement layouts of :func:`entangling_pairs` (``none``, ``linear``, ``ring``, ``full``).
ENTANGLEMENTS: tuple
#: Two-qubit gates of the HQML entangling layer (``cz``, ``cx``).
ENTANGLERS: tuple
#: How OpenQASM 3 parameter names tell inputs (``x_<i>``) from weights (``w_<i>``), in words.
NAMING_RULE: str

__all__ = [
    "CATALOGUE",
    "ENTANGLEMENTS",
    "ENTANGLERS",
    "NAMING_RULE",
    "Ansatz",
    "AnsatzError",
    "QasmAnsatzError",
    "amplitude_encode",
    "amplitude_encoding_angles",
    "amplitude_state_preparation",
    "build_reference",
    "check_catalogue",
    "dump_ansatz_qasm",
    "entangling_pairs",
    "export_catalogue",
    "hardware_efficient_ansatz",
    "hqml_ansatz",
    "load_ansatz_qasm",
    "make_observables",
    "parity_observable",
    "rebuild",
    "reference_qasm",
    "single_z_observable",
    "z_observables",
]
