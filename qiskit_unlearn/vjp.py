"""Vector–Jacobian products for ``EstimatorQNN`` in torch: one reverse sweep per row.

``TorchConnector`` asks the QNN for the full Jacobian (samples × observables × parameters) and
contracts it with the upstream gradient afterwards. On the exact engines a backward pass can
instead propagate the single co-state ``Σₒ gₒ Oₒ`` (the upstream-gradient-weighted observable),
so it costs about one reverse sweep per row however many outputs the circuit has. This module
adds that path without changing the QNN's public contract:

* :class:`VJPEstimatorQNN` is an ``EstimatorQNN`` (``forward``/``backward`` as before, full
  Jacobians from ``backward``) with a :meth:`~VJPEstimatorQNN.vjp` method, available when its
  gradient offers ``vjp`` (the exact statevector and density-matrix gradients do);
* :class:`VJPConnector` is a ``TorchConnector`` whose autograd function calls ``vjp``; a plain
  ``TorchConnector(qnn)`` keeps working on the Jacobian path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.neural_networks import EstimatorQNN


class VJPEstimatorQNN(EstimatorQNN):
    """``EstimatorQNN`` with a vector–Jacobian product (its gradient must offer ``vjp``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(getattr(self.gradient, "vjp", None)):
            raise TypeError(f"{type(self.gradient).__name__} has no vjp(); use EstimatorQNN")
        self.num_vjp_calls = 0

    def vjp(self, input_data: np.ndarray | None, weights: np.ndarray | None,
            grad_output: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Input gradients ``(S, num_inputs)`` (``None`` without ``input_gradients``) and the
        weight gradient ``(num_weights,)`` of ``Σ grad_output · forward(input_data, weights)``.
        """
        values, _ = self._preprocess_forward(input_data, weights)
        upstream = np.asarray(grad_output, dtype=float).reshape(values.shape[0], -1)
        _, grads = self.gradient.vjp(self._circuit, self._observables, values, upstream)
        self.num_vjp_calls += 1
        inputs = grads[:, :self._num_inputs] if self._input_gradients else None
        return inputs, grads[:, self._num_inputs:].sum(axis=0)


class _VJPFunction(torch.autograd.Function):
    """Forward through ``qnn.forward``, backward through ``qnn.vjp`` (float32 like
    ``TorchConnector``)."""

    @staticmethod
    def forward(ctx: Any, input_data: torch.Tensor, weights: torch.Tensor,
                qnn: VJPEstimatorQNN, backward_follows: bool) -> torch.Tensor:
        if input_data.shape[-1] != qnn.num_inputs:
            raise ValueError(f"invalid input dimension: got {tuple(input_data.shape)}, the QNN "
                             f"takes {qnn.num_inputs} inputs")
        ctx.qnn = qnn
        ctx.save_for_backward(input_data, weights)
        if backward_follows and hasattr(qnn.estimator, "expect_reverse"):
            qnn.estimator.expect_reverse = True  # keep the forward's states for the backward
        result = qnn.forward(input_data.detach().cpu().numpy(), weights.detach().cpu().numpy())
        out = torch.as_tensor(np.asarray(result), dtype=torch.float)
        if input_data.dim() == 1:
            out = out[0]
        return out.to(input_data.device)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple:  # type: ignore[override]
        input_data, weights = ctx.saved_tensors
        qnn: VJPEstimatorQNN = ctx.qnn
        x = input_data.detach().cpu().numpy()
        upstream = grad_output.detach().cpu().numpy()
        if x.ndim == 1:
            x, upstream = x[None], upstream.reshape(1, -1)
        input_grad, weight_grad = qnn.vjp(x if qnn.num_inputs else None,
                                          weights.detach().cpu().numpy(), upstream)
        gi = None
        if input_grad is not None and ctx.needs_input_grad[0]:
            gi = torch.as_tensor(input_grad, dtype=input_data.dtype).reshape(input_data.shape)
            gi = gi.to(input_data.device)
        gw = torch.as_tensor(weight_grad, dtype=weights.dtype).to(weights.device) \
            if ctx.needs_input_grad[1] else None
        return gi, gw, None, None


class VJPConnector(TorchConnector):
    """``TorchConnector`` whose backward pass is one vector–Jacobian product per batch."""

    def __init__(self, neural_network: VJPEstimatorQNN, initial_weights: Any = None) -> None:
        if not isinstance(neural_network, VJPEstimatorQNN):
            raise TypeError("VJPConnector needs a VJPEstimatorQNN (see qiskit_unlearn.make_qnn)")
        super().__init__(neural_network, initial_weights=initial_weights)

    def forward(self, input_data: torch.Tensor | None = None) -> torch.Tensor:
        input_ = torch.zeros(0) if input_data is None else input_data
        backward_follows = torch.is_grad_enabled() and (input_.requires_grad
                                                        or self.weight.requires_grad)
        return _VJPFunction.apply(input_, self.weight, self.neural_network, backward_follows)


def connector_for(qnn: Any, initial_weights: Any = None) -> TorchConnector:
    """The connector a QNN should run in: :class:`VJPConnector` when it offers a
    vector–Jacobian product (``make_qnn`` on ``statevector`` and ``noisy``), else a plain
    ``TorchConnector``. Everything the toolkit builds goes through here."""
    if isinstance(qnn, VJPEstimatorQNN):
        return VJPConnector(qnn, initial_weights=initial_weights)
    return TorchConnector(qnn, initial_weights=initial_weights)
