"""The ``run`` every gradient of the toolkit shares: validate once, submit one job.

``BaseEstimatorGradient.run`` validates item by item and wraps ``_run`` per call; ours
validate once per distinct object (:mod:`.validation`) and hand ``_run`` the validated items.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from typing import Any, ClassVar

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit_machine_learning.algorithm_job import AlgorithmJob
from qiskit_machine_learning.gradients import BaseEstimatorGradient

from qiskit_unlearn.gradients.validation import gradient_arguments

__all__ = ["ValidatedEstimatorGradient"]


class ValidatedEstimatorGradient(BaseEstimatorGradient):
    """``BaseEstimatorGradient`` whose ``run`` validates once per distinct circuit, observable
    and parameter list, then runs ``_run`` in one ``AlgorithmJob``."""

    #: Whether ``_run`` receives the values as one float array (see ``gradient_arguments``).
    values_as_array: ClassVar[bool] = True

    def run(
        self,
        circuits: Sequence[QuantumCircuit] | QuantumCircuit,
        observables: Sequence[BaseOperator] | BaseOperator,
        parameter_values: Sequence[Sequence[float]] | np.ndarray,
        parameters: Sequence[Sequence[Parameter] | None] | None = None,
        **options: Any,
    ) -> AlgorithmJob:
        """Same contract as ``BaseEstimatorGradient.run``: a job whose result is an
        ``EstimatorGradientResult``; ``ValueError`` on inconsistent lengths, qubit counts or
        unknown parameters. ``options`` (see :meth:`_run_options`) reach ``_run``."""
        items = gradient_arguments(circuits, observables, parameter_values, parameters,
                                   as_array=self.values_as_array)
        job = AlgorithmJob(self._run, *items, **self._run_options(options))
        job.submit()
        return job

    def _run_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``_run``'s keywords: the gradient's default options updated with ``run``'s."""
        opts = copy(self._default_options)
        opts.update_options(**options)
        return opts.__dict__
