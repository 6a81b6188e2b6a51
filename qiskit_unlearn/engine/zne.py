"""Zero-noise extrapolation over exactly scaled noise, as an estimator and a gradient.

The same circuits are evaluated under the noise scaled by factors ``c₁ < c₂ < …`` (one exact
estimator per factor) and every expectation value is extrapolated to ``c = 0``:
``⟨O⟩₀ = Σᵢ wᵢ ⟨O⟩_{cᵢ}``. Richardson weights make the polynomial through all points exact at
zero; linear weights are the intercept of the least-squares line. The extrapolation is linear
in the values, so gradients and vector–Jacobian products extrapolate with the same weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from qiskit.primitives import BaseEstimatorV2, PrimitiveJob, PrimitiveResult, PubResult
from qiskit.primitives.containers import DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPubLike
from qiskit.providers import Options
from qiskit_machine_learning.algorithm_job import AlgorithmJob
from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult

FITS = ("richardson", "linear")


def extrapolation_weights(factors: Sequence[float], fit: str = "richardson") -> np.ndarray:
    """Weights ``w`` with ``⟨O⟩₀ = Σ wᵢ ⟨O⟩_{factors[i]}``.

    Args:
        factors: The noise scale factors ``c₁ < c₂ < …``.
        fit: ``"richardson"`` (the polynomial through all points) or ``"linear"`` (the
            least-squares line).

    Returns:
        One weight per factor, shape (len(factors),).

    Raises:
        ValueError: If ``fit`` is unknown.
    """
    c = np.asarray(factors, dtype=float)
    if fit not in FITS:
        raise ValueError(f"zne_fit must be one of {', '.join(FITS)}, got {fit!r}")
    degree = len(c) - 1 if fit == "richardson" else 1
    vander = np.vander(c, degree + 1, increasing=True)  # columns c^0, c^1, ...
    return np.linalg.pinv(vander)[0]  # the intercept of the (least-squares) polynomial


class ZNEEstimator(BaseEstimatorV2):
    """Extrapolates the results of one exact estimator per noise factor to zero noise.

    Standard deviations are propagated through the weights as independent errors.

    Args:
        estimators: One estimator per noise factor, in the order of ``factors``.
        factors: The noise scale factors.
        fit: ``"richardson"`` or ``"linear"`` (see :func:`extrapolation_weights`).

    Raises:
        ValueError: If ``fit`` is unknown.
    """

    def __init__(self, estimators: Sequence[BaseEstimatorV2], factors: Sequence[float],
                 fit: str = "richardson") -> None:
        self.estimators = list(estimators)
        self.factors = [float(f) for f in factors]
        self.fit = fit
        self.weights = extrapolation_weights(self.factors, fit)
        self.expect_reverse = False  # passed on to every factor's estimator (see run)

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
            ) -> PrimitiveJob[PrimitiveResult[PubResult]]:
        """Run the PUBs on every factor's estimator and extrapolate the values.

        Args:
            pubs: Estimator PUBs, as for any ``BaseEstimatorV2``.
            precision: Precision passed to every estimator; None uses their defaults.

        Returns:
            A job whose result has the extrapolated ``evs`` and ``stds`` per PUB.
        """
        pubs = list(pubs)
        job = PrimitiveJob(self._run, pubs, precision)
        job._submit()
        return job

    def _run(self, pubs: list, precision: float | None) -> PrimitiveResult[PubResult]:
        keep, self.expect_reverse = self.expect_reverse, False
        for estimator in self.estimators:
            if hasattr(estimator, "expect_reverse"):
                estimator.expect_reverse = keep
        results = [list(e.run(pubs, precision=precision).result()) for e in self.estimators]
        out = []
        for i in range(len(pubs)):
            evs = sum(w * np.asarray(r[i].data.evs) for w, r in
                      zip(self.weights, results, strict=True))
            stds = np.sqrt(sum((w * np.asarray(r[i].data.stds)) ** 2 for w, r in
                               zip(self.weights, results, strict=True)))
            out.append(PubResult(DataBin(evs=evs, stds=stds, shape=evs.shape),
                                 metadata={"zne_factors": self.factors, "zne_fit": self.fit}))
        return PrimitiveResult(out, metadata={"version": 2})


class ZNEGradient(BaseEstimatorGradient):
    """The extrapolated gradient: the same weights over one gradient per noise factor.

    Args:
        estimator: The extrapolating estimator (its weights are used).
        gradients: One gradient per noise factor, in the order of the estimator's factors.
    """

    def __init__(self, estimator: ZNEEstimator, gradients: Sequence[BaseEstimatorGradient]):
        """Set up the gradient; the arguments are described in the class docstring."""
        super().__init__(estimator)
        self.gradients = list(gradients)
        self.weights = estimator.weights

    def run(self, circuits, observables, parameter_values, parameters=None,
            **options) -> AlgorithmJob:
        job = AlgorithmJob(self._run, circuits, observables, parameter_values, parameters,
                           **options)
        job.submit()
        return job

    def _run(self, circuits, observables, parameter_values, parameters,
             **options) -> EstimatorGradientResult:
        results = [g.run(circuits, observables, parameter_values, parameters).result()
                   for g in self.gradients]
        gradients = [sum(w * np.asarray(r.gradients[i]) for w, r in
                         zip(self.weights, results, strict=True))
                     for i in range(len(results[0].gradients))]
        return EstimatorGradientResult(gradients=gradients, metadata=results[0].metadata,
                                       options=Options(**options))

    def vjp(self, circuit, observables, values, upstream) -> tuple[np.ndarray, np.ndarray]:
        """The extrapolated values and vector–Jacobian product.

        Every factor's gradient must offer ``vjp``.

        Args:
            circuit: The circuit.
            observables: The O observables.
            values: Parameter rows, shape (S, P).
            upstream: Weights of the observables per row, shape (S, O).

        Returns:
            The values, shape (S, O), and the products, shape (S, P).
        """
        parts = [g.vjp(circuit, observables, values, upstream) for g in self.gradients]
        evs = sum(w * p[0] for w, p in zip(self.weights, parts, strict=True))
        grads = sum(w * p[1] for w, p in zip(self.weights, parts, strict=True))
        return evs, grads
