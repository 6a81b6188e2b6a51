"""Loss-landscape curvature: Hessian-vector products, top eigenvalues and the trace.

``TorchConnector`` has no double backward, so second-order information comes from central
finite differences of full-batch gradients, Hv ≈ (g(θ + hv) − g(θ − hv)) / 2h, which works
for every model in the package (quantum layers included). The loss is the mean
cross-entropy over the given data; only parameters with ``requires_grad`` count, in
``model.parameters()`` order; the model runs in eval mode and its parameters are restored
bit-for-bit afterwards. All vectors are flat float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch import nn

from qiskit_unlearn.evaluate.metrics import EvaluationError


def _trainable(model: nn.Module) -> list[nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise EvaluationError("the model has no parameters with requires_grad; unfreeze it")
    return params


def num_trainable(model: nn.Module) -> int:
    """Dimension of the Hessian: the number of trainable scalars.

    Args:
        model: the model; only parameters with ``requires_grad`` count.

    Returns:
        The number of trainable scalars.

    Raises:
        EvaluationError: if no parameter is trainable.
    """
    return sum(p.numel() for p in _trainable(model))


def _batch(model: nn.Module, data: tuple[Any, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = data
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if len(x) == 0 or len(x) != len(y):
        raise EvaluationError(f"data must be a non-empty (x, y) pair of equal length, got "
                              f"{len(x)} inputs and {len(y)} labels")
    if x.is_floating_point():
        x = x.to(_trainable(model)[0].dtype)
    return x, y.long()


class _Gradient:
    """Full-batch gradient of the mean cross-entropy as a function of the flat parameters."""

    def __init__(self, model: nn.Module, data: tuple[Any, Any]) -> None:
        self.model = model
        self.x, self.y = _batch(model, data)
        self.params = _trainable(model)
        self.theta = [p.detach().clone() for p in self.params]
        self.norm = float(torch.sqrt(sum((t.double() ** 2).sum() for t in self.theta)))

    def at(self, shift: np.ndarray | None) -> np.ndarray:
        """g(θ + shift), leaving the parameters at θ exactly afterwards."""
        try:
            with torch.no_grad():
                offset = 0
                for p, t in zip(self.params, self.theta, strict=True):
                    n = p.numel()
                    p.copy_(t if shift is None else t + torch.as_tensor(
                        shift[offset:offset + n], dtype=t.dtype).view_as(t))
                    offset += n
            loss = nn.functional.cross_entropy(self.model(self.x), self.y)
            grads = torch.autograd.grad(loss, self.params)
        finally:
            with torch.no_grad():
                for p, t in zip(self.params, self.theta, strict=True):
                    p.copy_(t)
        return torch.cat([g.reshape(-1) for g in grads]).double().cpu().numpy()


def _step(grad: _Gradient, v: np.ndarray, rel_step: float | None) -> float:
    if rel_step is None:
        rel_step = torch.finfo(grad.theta[0].dtype).eps ** 0.5
    return rel_step * max(1.0, grad.norm) / float(np.linalg.norm(v))


def _hvp_fn(model: nn.Module, data: tuple[Any, Any], rel_step: float | None
            ) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    grad = _Gradient(model, data)
    n = sum(p.numel() for p in grad.params)

    def hvp(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape != (n,):
            raise EvaluationError(f"v must have {n} entries (one per trainable parameter), "
                                  f"got {v.shape}")
        if not np.any(v):
            return np.zeros(n)
        h = _step(grad, v, rel_step)
        return (grad.at(h * v) - grad.at(-h * v)) / (2 * h)

    return hvp, n


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run a block with the model in eval mode, restoring its previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def hessian_vector_product(model: nn.Module, data: tuple[Any, Any], v: Any, *,
                           rel_step: float | None = None) -> np.ndarray:
    """H v for the Hessian H of the mean cross-entropy on ``data`` = (x, y), by central
    differences of the gradient.

    The step is h = rel_step · max(1, ‖θ‖) / ‖v‖, so the perturbation is relative to the
    parameter scale. The default rel_step is the square root of the parameters' machine
    epsilon (3.5e-4 for float32, 1.5e-8 for float64): smaller than the cube root that would
    balance truncation and rounding for a smooth loss, because a step that moves a ReLU
    pre-activation across 0 picks up a gradient jump that finite differences turn into
    spurious curvature (the package's MLP heads use ReLU).

    Args:
        model: the model; only parameters with ``requires_grad`` count, and they are
            restored bit-for-bit afterwards.
        data: ``(x, y)`` inputs and integer labels (arrays or tensors), used as one batch.
        v: the vector, one entry per trainable scalar (flat, in ``model.parameters()``
            order); numpy array or tensor.
        rel_step: the relative step; ``None`` for the square root of machine epsilon.

    Returns:
        H v, flat float64 of the same length as ``v``.

    Raises:
        EvaluationError: for empty or mismatched data, no trainable parameter, or a ``v`` of
            the wrong length.
    """
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    with _eval_mode(model):
        hvp, _ = _hvp_fn(model, data, rel_step)
        return hvp(v)


def top_hessian_eigenvalues(model: nn.Module, data: tuple[Any, Any], k: int = 3, *,
                            seed: int = 0, which: str = "LA", tol: float = 1e-6,
                            maxiter: int | None = None,
                            rel_step: float | None = None) -> np.ndarray:
    """The ``k`` largest Hessian eigenvalues, in descending order, by Lanczos.

    ``scipy.sparse.linalg.eigsh`` on the finite-difference HVP with a seeded start vector;
    ``which="LA"`` gives the largest algebraic (sharpness), ``"LM"`` the largest in magnitude
    (reveals strongly negative curvature). Each Lanczos step costs two gradient evaluations.

    Args:
        model: the model; only parameters with ``requires_grad`` count, and they are
            restored bit-for-bit afterwards.
        data: ``(x, y)`` inputs and integer labels (arrays or tensors), used as one batch.
        k: how many eigenvalues, in 1..(number of trainable scalars − 1).
        seed: seeds the Lanczos start vector.
        which: ``"LA"`` (largest algebraic) or ``"LM"`` (largest magnitude).
        tol: relative accuracy of the eigenvalues (``eigsh``'s ``tol``; 0 = machine
            precision).
        maxiter: maximum Lanczos iterations; ``None`` for ``eigsh``'s default.
        rel_step: the relative finite-difference step (see
            :func:`hessian_vector_product`); ``None`` for the default.

    Returns:
        The ``k`` eigenvalues, largest first.

    Raises:
        EvaluationError: for an invalid ``which`` or ``k``, or bad data or model.
    """
    if which not in ("LA", "LM"):
        raise EvaluationError(f"which must be 'LA' or 'LM', got {which!r}")
    with _eval_mode(model):
        hvp, n = _hvp_fn(model, data, rel_step)
        if not 1 <= k < n:
            raise EvaluationError(f"k must be in 1..{n - 1} for a model with {n} trainable "
                                  f"parameters, got {k}")
        op = LinearOperator((n, n), matvec=hvp, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        values = eigsh(op, k=k, which=which, v0=v0, tol=tol, maxiter=maxiter,
                       return_eigenvectors=False)
    return np.sort(values)[::-1]


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson estimate of tr(H): the mean of vᵀHv, its standard error and sample count.

    Attributes:
        mean: the estimate of tr(H), the mean of vᵀHv.
        stderr: its standard error.
        samples: the number of Rademacher vectors.
    """

    mean: float
    stderr: float
    samples: int


def hessian_trace(model: nn.Module, data: tuple[Any, Any], *, samples: int = 100,
                  seed: int = 0, rel_step: float | None = None) -> TraceEstimate:
    """tr(H) by Hutchinson's estimator with seeded Rademacher vectors (E[vᵀHv] = tr H).

    The standard error is the sample std (ddof = 1) of vᵀHv over √samples; ``samples`` must
    be at least 2 for it to exist.

    Args:
        model: the model; only parameters with ``requires_grad`` count, and they are
            restored bit-for-bit afterwards.
        data: ``(x, y)`` inputs and integer labels (arrays or tensors), used as one batch.
        samples: Rademacher vectors to average over, at least 2 (each costs two gradient
            evaluations).
        seed: seeds the vectors.
        rel_step: the relative finite-difference step (see
            :func:`hessian_vector_product`); ``None`` for the default.

    Returns:
        The estimate with its standard error.

    Raises:
        EvaluationError: if ``samples`` < 2, or for bad data or model.
    """
    if samples < 2:
        raise EvaluationError(f"samples must be at least 2 (for a standard error), got {samples}")
    rng = np.random.default_rng(seed)
    with _eval_mode(model):
        hvp, n = _hvp_fn(model, data, rel_step)
        values = np.empty(samples)
        for i in range(samples):
            v = rng.choice([-1.0, 1.0], size=n)
            values[i] = v @ hvp(v)
    return TraceEstimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(samples)),
                         samples)
