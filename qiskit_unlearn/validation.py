"""Argument checks shared by every layer (the one home for them).

Each package keeps its own error class (``AnsatzError``, ``DataError``, ``BackendError``, ...)
so that callers can catch what they expect; the checks themselves, and the wording of their
messages, live here once.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
              error: type[Exception] = ValueError) -> int:
    """``value`` as an int in ``[low, high]`` (either bound optional), or ``error`` naming
    ``name`` and the rule. Booleans and floats are refused, NumPy integers accepted."""
    if low is not None and high is not None:
        rule = f" in [{low}, {high}]"
    elif low is not None:
        rule = f" >= {low}"
    elif high is not None:
        rule = f" <= {high}"
    else:
        rule = ""
    if isinstance(value, bool) or not isinstance(value, Integral) \
            or (low is not None and value < low) or (high is not None and value > high):
        raise error(f"{name} must be an integer{rule}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, error: type[Exception] = ValueError) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` if ``low_open``), or
    ``error`` naming ``name`` and the interval. Booleans and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise error(f"{name} must be a number, got {value!r}")
    value = float(value)
    if value < low or value > high or (low_open and value == low):
        left = "(" if low_open else "["
        raise error(f"{name} must be in {left}{low:g}, {high:g}], got {value:g}")
    return value
