"""Statistics over seeds: bootstrap confidence intervals and paired tests (their one home).

Seeds are few (3 to 10), so intervals use the percentile bootstrap of the mean with a fixed
resampling seed: the same values always give the same interval, and a run's report is
reproducible byte for byte. With so few seeds the percentile interval is too narrow (with two
seeds it is the range of the two values); it shows how much the mean moves between seeds, not
a guarantee. Methods are compared by paired tests across seeds (:func:`paired_test`), which
say honestly when there are too few seeds to separate them (:attr:`PairedTest.min_p`), with
Holm's correction (:func:`holm`) when one method is tested against several.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Resamples and seed of every bootstrap in the toolkit (deterministic reports).
RESAMPLES = 10_000
BOOTSTRAP_SEED = 20231101


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite values as float64 (NaN marks a seed that did not log a metric)."""
    arr = np.asarray([float(v) for v in values], dtype=float)
    return arr[np.isfinite(arr)]


@lru_cache(maxsize=64)
def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """The resampling plan of ``n`` values: drawn once per size, so summarising many metrics
    of the same seeds costs one draw (and every interval is the same as drawing afresh)."""
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    indices.flags.writeable = False
    return indices


def bootstrap_ci(values: Iterable[float], *, level: float = 0.95, resamples: int = RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of the finite ``values``.

    Args:
        values: one value per seed; non-finite values are dropped.
        level: the interval's coverage, between 0 and 1.
        resamples: bootstrap resamples.
        seed: the resampling seed (fixed by default, so reports are reproducible).

    Returns:
        ``(low, high)``; ``(nan, nan)`` below two values (one seed has no spread), and
        ``(v, v)`` when all values are equal.

    Raises:
        ValueError: if ``level`` is not between 0 and 1.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    vals = finite(values)
    if vals.size < 2:
        return math.nan, math.nan
    if np.all(vals == vals[0]):
        return float(vals[0]), float(vals[0])
    means = vals[_resample_indices(vals.size, resamples, seed)].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.clip(np.quantile(means, [alpha, 1 - alpha]), vals.min(), vals.max())
    return float(low), float(high)  # clipped: a mean of equal values may round past them


# --- paired tests across seeds ---------------------------------------------------------------

#: Pairs from which :func:`paired_test` uses the Wilcoxon signed-rank test (below: the exact
#: sign-flip permutation test).
WILCOXON_FROM = 6
#: Above this many non-zero differences the sign-flip test samples flips instead of listing
#: all 2^n of them.
EXACT_FLIPS_UP_TO = 16


@dataclass(frozen=True)
class PairedTest:
    """Two-sided paired comparison of two methods over the seeds both have a value for.

    ``statistic`` is the mean difference a − b; ``min_p`` is the smallest p-value the test can
    give with these pairs (2 / 2^n for n non-zero differences), so a reader can tell "no
    difference" from "too few seeds to see one".

    Attributes:
        test: ``"wilcoxon"``, ``"sign-flip"`` or ``"none"`` (no pair, or no difference at
            all).
        n: the number of pairs with two finite values.
        statistic: the mean difference a − b.
        p_value: the two-sided p-value.
        min_p: the smallest p-value the test can give with these pairs.
    """

    test: str  # "wilcoxon", "sign-flip" or "none" (no pair, or no difference at all)
    n: int
    statistic: float
    p_value: float
    min_p: float


def sign_flip_p(differences: Iterable[float], *, seed: int = BOOTSTRAP_SEED) -> float:
    """Two-sided p of the sign-flip permutation test of mean(differences) = 0.

    Under the null each paired difference is symmetric around 0, so every sign pattern is
    equally likely; p = the fraction of the 2^n patterns whose |mean| reaches the observed one.
    Exact (every pattern listed) up to :data:`EXACT_FLIPS_UP_TO` non-zero differences, else
    :data:`RESAMPLES` seeded random patterns. No normality assumption, which three to five
    seeds could never check.
    """
    d = finite(differences)
    d = d[d != 0]  # a zero difference is the same under both signs
    if d.size == 0:
        return 1.0
    observed = abs(d.mean())
    if d.size <= EXACT_FLIPS_UP_TO:
        grid = np.array(np.meshgrid(*[[1.0, -1.0]] * d.size, indexing="ij"))
        signs = grid.reshape(d.size, -1).T
    else:
        signs = np.random.default_rng(seed).choice([1.0, -1.0], size=(RESAMPLES, d.size))
    means = np.abs(signs @ d) / d.size
    return float(np.mean(means >= observed * (1 - 1e-12)))


def paired_test(a: Iterable[float], b: Iterable[float], *,
                wilcoxon_from: int = WILCOXON_FROM) -> PairedTest:
    """Test a = b on paired values (same seed, same position) ignoring pairs with a NaN.

    Wilcoxon signed-rank (SciPy, exact distribution where it applies) from ``wilcoxon_from``
    pairs on; below, the exact sign-flip test (``sign_flip_p``): with 3 to 5 seeds the
    t-test's normality cannot be checked, and the sign-flip test uses the sizes of the
    differences rather than only their ranks. Both are two-sided, and neither can give p below
    2 / 2^n (:attr:`PairedTest.min_p`): under 6 seeds nothing is significant at 0.05.

    Args:
        a: one method's values, one per seed.
        b: the other method's values for the same seeds, in the same order.
        wilcoxon_from: the number of pairs from which the Wilcoxon test is used.

    Returns:
        The test used, the pair count, the mean difference, p and the smallest possible p.

    Raises:
        ValueError: if ``a`` and ``b`` differ in length.
    """
    x = np.asarray([float(v) for v in a], dtype=float)
    y = np.asarray([float(v) for v in b], dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired values need the same length, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    n = int(d.size)
    if n == 0:
        return PairedTest("none", 0, math.nan, math.nan, math.nan)
    nonzero = int(np.count_nonzero(d))
    min_p = min(1.0, 2.0 / 2**nonzero) if nonzero else 1.0
    if nonzero == 0:
        return PairedTest("none", n, 0.0, 1.0, 1.0)
    if n >= wilcoxon_from:
        from scipy.stats import wilcoxon

        with warnings.catch_warnings():  # ties or zeros: SciPy says it uses the normal approx.
            warnings.simplefilter("ignore", UserWarning)
            p = float(wilcoxon(d).pvalue)
        return PairedTest("wilcoxon", n, float(d.mean()), p, min_p)
    return PairedTest("sign-flip", n, float(d.mean()), sign_flip_p(d), min_p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control, no independence needed).

    The i-th smallest of m p-values is multiplied by m − i + 1, made non-decreasing and capped
    at 1; NaN (no test) stays NaN and does not count towards m.

    Args:
        p_values: the raw p-values, NaN for no test.

    Returns:
        The adjusted p-values in the input order.
    """
    p = [float(v) for v in p_values]
    order = sorted((i for i, v in enumerate(p) if not math.isnan(v)), key=lambda i: p[i])
    m = len(order)
    adjusted = [math.nan] * len(p)
    running = 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p[i]))
        adjusted[i] = running
    return adjusted


def seeds_needed(comparisons: int, alpha: float = 0.05) -> int:
    """Fewest non-zero paired seeds at which a Holm-corrected paired test of ``comparisons``
    methods can reach p < ``alpha`` at all (min p = comparisons · 2 / 2^n)."""
    n = 1
    while max(comparisons, 1) * 2.0 / 2**n >= alpha:
        n += 1
    return n
