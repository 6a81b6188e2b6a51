"""Routing every estimator job a block of code sends: the hook job logs and cost counters use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from qiskit.primitives import BaseEstimatorV2

#: ``route(estimator, backend_name)``: the estimator to use instead, or ``None`` to leave it.
EstimatorRoute = Callable[[BaseEstimatorV2, str], BaseEstimatorV2 | None]
_ROUTE: ContextVar[EstimatorRoute | None] = ContextVar("qiskit_unlearn_estimator_route",
                                                       default=None)


@contextmanager
def routed_estimators(route: EstimatorRoute) -> Iterator[None]:
    """Every QNN that :func:`make_qnn` builds inside the block sends its jobs to
    ``route(estimator, backend_name)`` instead of the backend's own estimator (forward and
    gradient alike), unless the route returns ``None`` for that backend.

    Unlearning methods rebuild models (copies of the teacher, fresh models), so a wrapper set
    on one model would miss those; routing at construction reaches every copy. This is how
    ``qunlearn hw unlearn`` journals every hardware job and how its cost is counted. Only
    parameter-shift backends (everything but ``statevector``) can be routed.

    Args:
        route: Called as ``route(estimator, backend_name)`` for every QNN built in the block;
            returns the estimator to use instead, or None to leave the backend's own.

    Yields:
        Nothing; the route applies until the block ends (blocks nest, the innermost wins).
    """
    token = _ROUTE.set(route)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def current_route() -> EstimatorRoute | None:
    """The route of the innermost :func:`routed_estimators` block, if any.

    Returns:
        The route, or None outside every block.
    """
    return _ROUTE.get()
