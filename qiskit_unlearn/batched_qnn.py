"""``BatchedEstimatorQNN``: an ``EstimatorQNN`` that sends a training step as one primitive job.

``EstimatorQNN`` sends its forward pass as one PUB per observable, so a simulator prepares each
sample's state once per observable and a device measures every observable in a circuit of
its own; and a training step is two jobs (forward, then the gradient on ``backward``). On a
device each job waits in the queue, so the number of jobs, not only the shots, decides how
long hardware training takes. This subclass

* sends the forward pass as ONE broadcast PUB ``(circuit, observables[k, 1], values[N, P])``
  (qubit-wise commuting readouts such as Z on every qubit share one measured circuit), and
* when the layer has announced that a backward pass will follow (``expect_backward``, set by
  :class:`qiskit_unlearn.models.base.QuantumLayer` whenever autograd will need the gradient),
  appends the batched parameter-shift PUBs of that gradient to the same job and keeps the
  gradient for the ``backward`` call with the same inputs and weights.

Values, gradients and result shapes are exactly those of ``EstimatorQNN`` with the same
estimator and gradient (checked in the tests); only the number of jobs changes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qiskit_unlearn.gradients.batched_param_shift import BatchedParamShiftEstimatorGradient
from qiskit_unlearn.storage import sha256_arrays

#: Gradients computed ahead of their backward call, kept at most this many (a forward pass
#: whose backward never comes must not keep its gradient forever).
_MAX_PREFETCHED = 8

Gradients = tuple[np.ndarray | None, np.ndarray | None]


def _with_precision(pub: tuple[Any, ...], precision: float | None) -> tuple[Any, ...]:
    return pub if precision is None else (*pub, precision)


class BatchedEstimatorQNN(EstimatorQNN):
    """``EstimatorQNN`` with a one-PUB forward pass and forward + gradient in one job.

    Takes ``EstimatorQNN``'s arguments; ``gradient`` must be a
    :class:`~qiskit_unlearn.gradients.BatchedParamShiftEstimatorGradient` (its PUBs are what
    gets appended to the forward job). Counters: ``num_jobs`` estimator jobs sent by forward
    passes, ``num_fused`` of them that also carried the gradient.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.gradient, BatchedParamShiftEstimatorGradient):
            raise TypeError("BatchedEstimatorQNN needs a BatchedParamShiftEstimatorGradient, got "
                            f"{type(self.gradient).__name__}")
        #: Set to ``True`` right before a forward pass whose backward pass will follow.
        self.expect_backward = False
        self._prefetched: OrderedDict[str, Gradients] = OrderedDict()
        self.num_jobs = 0
        self.num_fused = 0

    @staticmethod
    def _key(input_data: np.ndarray | None, weights: np.ndarray | None) -> str:
        return sha256_arrays(*(a for a in (input_data, weights) if a is not None))

    def _gradient_arguments(self, values: np.ndarray, num_samples: int
                            ) -> tuple[list[Any], list[Any], np.ndarray, list[Any] | None] | None:
        """What ``EstimatorQNN._backward`` passes to ``gradient.run`` (``None``: no gradient)."""
        if not np.prod(values.shape) > 0:
            return None
        num_observables = self.output_shape[0]
        num_circuits = num_samples * num_observables
        circuits = [self._circuit] * num_circuits
        observables = [op for op in self._observables for _ in range(num_samples)]
        tiled = np.tile(values, (num_observables, 1))
        if self._input_gradients:
            return circuits, observables, tiled, None
        if len(values[0]) > self._num_inputs:
            return circuits, observables, tiled, \
                [self._circuit.parameters[self._num_inputs:]] * num_circuits
        return None

    def _forward(self, input_data: np.ndarray | None, weights: np.ndarray | None
                 ) -> np.ndarray | None:
        values, num_samples = self._preprocess_forward(input_data, weights)
        column = [[obs] for obs in self._observables]  # (k, 1) broadcasts against (N, P)
        pubs = [_with_precision((self._circuit, column, values), self._default_precision)]
        prepared = None
        if self.expect_backward:
            self.expect_backward = False
            arguments = self._gradient_arguments(values, num_samples)
            if arguments is not None:
                circuits, observables, tiled, params = arguments
                prepared = self.gradient.prepare(circuits, observables, tiled, params)
                pubs += [_with_precision(pub, prepared.precision) for pub in prepared.pubs]
        results = list(self.estimator.run(pubs).result())
        self.num_jobs += 1
        evs = np.asarray(results[0].data.evs).reshape(len(self._observables), num_samples)
        if prepared is not None:
            self.num_fused += 1
            gradient = self.gradient.finish(prepared, results[1:])
            self._prefetched[self._key(input_data, weights)] = \
                self._backward_postprocess(num_samples, gradient)
            while len(self._prefetched) > _MAX_PREFETCHED:
                self._prefetched.popitem(last=False)
        return evs.T

    def _backward(self, input_data: np.ndarray | None, weights: np.ndarray | None
                  ) -> Gradients:
        cached = self._prefetched.pop(self._key(input_data, weights), None)
        if cached is not None:
            return cached
        return super()._backward(input_data, weights)
