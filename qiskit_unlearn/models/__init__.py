"""Models: torch ``nn.Module`` classifiers whose quantum parts are ``EstimatorQNN``s in
``TorchConnector`` (built by :func:`qiskit_unlearn.qnn.make_qnn` for the chosen backend).

* ``hybrid-pca`` (:class:`HybridPCA`): PCA angles → HQML circuit → MLP head;
* ``hybrid-cnn`` (:class:`HybridCNN`): CNN → Linear → π·tanh angles → HQML circuit → MLP head;
* ``vqc-amplitude`` (:class:`AmplitudeVQC`): amplitude-encoded pure VQC, binary or multi-class;
* ``mlp`` (:class:`MLP`): classical baseline of comparable size.

Every model is an :class:`UnlearnableModel`: named layer groups in input → output order,
``reset_group``, ``freeze_all_but_last(k)`` and a ``spec`` that :func:`build_model` rebuilds.
"""

from __future__ import annotations

import inspect
from typing import Any

from qiskit_unlearn.models.base import CircuitCounter, ModelError, QuantumLayer, UnlearnableModel
from qiskit_unlearn.models.classical import MLP
from qiskit_unlearn.models.hybrid import HybridCNN, HybridPCA
from qiskit_unlearn.models.vqc import AmplitudeVQC
from qiskit_unlearn.registry import Registry

#: The model kinds by registry name (``hybrid-pca``, ``hybrid-cnn``, ``vqc-amplitude``, ``mlp``);
#: :func:`build_model` looks a kind up here, and an unknown name raises :class:`ModelError`.
MODELS: Registry[type[UnlearnableModel]] = Registry("model kind", ModelError)
for _cls in (HybridPCA, HybridCNN, AmplitudeVQC, MLP):
    MODELS.add(_cls.kind, _cls)


def build_model(kind: str, **kwargs: Any) -> UnlearnableModel:
    """Build a model by registry name; unknown kinds and arguments raise :class:`ModelError`.

    ``build_model(model.spec["kind"], **model.spec["kwargs"])`` rebuilds the same architecture
    with the same (seeded) initial parameters.

    Args:
        kind: a registry name of :data:`MODELS` (``hybrid-pca``, ``hybrid-cnn``,
            ``vqc-amplitude`` or ``mlp``).
        **kwargs: the constructor arguments of that model class; every argument without a
            default must be given.

    Returns:
        The new model, with parameters initialised from its ``seed`` argument.

    Raises:
        ModelError: if ``kind`` is unknown, an argument is not one the class takes, a required
            one is missing, or the class itself refuses a value.
    """
    cls = MODELS.lookup(kind)
    params = inspect.signature(cls.__init__).parameters
    allowed = [name for name in params if name != "self"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ModelError(f"model {kind!r} does not take {unknown}; its arguments are {allowed}")
    missing = [name for name in allowed if params[name].default is inspect.Parameter.empty
               and name not in kwargs]
    if missing:
        raise ModelError(f"model {kind!r} needs {missing}; its arguments are {allowed}")
    return cls(**kwargs)


__all__ = [
    "MLP",
    "MODELS",
    "AmplitudeVQC",
    "CircuitCounter",
    "HybridCNN",
    "HybridPCA",
    "ModelError",
    "QuantumLayer",
    "UnlearnableModel",
    "build_model",
]
