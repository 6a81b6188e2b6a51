"""Statistics over seeds: bootstrap confidence intervals (the one home for them).

Seeds are few (3 to 10), so intervals use the percentile bootstrap of the mean with a fixed
resampling seed: the same values always give the same interval, and a run's report is
reproducible byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

#: Resamples and seed of every bootstrap in the toolkit (deterministic reports).
RESAMPLES = 10_000
BOOTSTRAP_SEED = 20231101


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite values as float64 (NaN marks a seed that did not log a metric)."""
    arr = np.asarray([float(v) for v in values], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ci(values: Iterable[float], *, level: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of the finite ``values``.

    Returns ``(low, high)``; ``(nan, nan)`` below two values (one seed has no spread), and
    ``(v, v)`` when all values are equal.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    vals = finite(values)
    if vals.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = vals[rng.integers(0, vals.size, size=(resamples, vals.size))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)
