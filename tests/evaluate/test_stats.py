"""Statistics over seeds: bootstrap intervals, paired tests and Holm's correction."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import permutation_test, rankdata

from qiskit_unlearn.evaluate import bootstrap_ci, holm, paired_test
from qiskit_unlearn.evaluate.stats import (
    BOOTSTRAP_SEED,
    RESAMPLES,
    seeds_needed,
    sign_flip_p,
)


def test_bootstrap_ci_is_deterministic_and_handles_few_values():
    values = [0.61, 0.72, 0.58, 0.69, 0.75]
    low, high = bootstrap_ci(values)
    assert (low, high) == bootstrap_ci(list(values))  # same values, same interval
    assert min(values) <= low < np.mean(values) < high <= max(values)
    # the cached resampling plan gives what a fresh draw of the fixed seed gives
    idx = np.random.default_rng(BOOTSTRAP_SEED).integers(0, 5, size=(RESAMPLES, 5))
    means = np.asarray(values)[idx].mean(axis=1)
    assert (low, high) == tuple(np.quantile(means, [0.025, 0.975]))
    # two values: the resampled means are a, (a+b)/2 and b, so the interval is their range
    assert bootstrap_ci([0.6, 0.7]) == pytest.approx((0.6, 0.7))
    assert bootstrap_ci([0.4, 0.4, 0.4]) == (0.4, 0.4)
    assert all(math.isnan(v) for v in bootstrap_ci([0.5, math.nan]))  # one finite value
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, level=95)


def test_bootstrap_ci_covers_the_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits, widths = [], {10: [], 40: []}
    for _ in range(300):
        sample = rng.normal(0.0, 1.0, 10)
        low, high = bootstrap_ci(sample)
        hits.append(low <= 0.0 <= high)
        widths[10].append(high - low)
        low, high = bootstrap_ci(rng.normal(0.0, 1.0, 40))
        widths[40].append(high - low)
    # the percentile bootstrap under-covers a little at n = 10 (about 0.91 for a normal mean)
    assert 0.85 <= np.mean(hits) <= 0.98
    # width ~ 2 * 1.96 / sqrt(n): halves from 10 to 40 values
    assert np.mean(widths[10]) == pytest.approx(2 * 1.96 / math.sqrt(10), rel=0.15)
    assert np.mean(widths[40]) == pytest.approx(np.mean(widths[10]) / 2, rel=0.15)


def test_sign_flip_test_matches_scipy_permutation_test():
    for d in ([0.3, -0.1, 0.25, 0.4, 0.05], [0.2, 0.1, 0.3], [1.0, -2.0, 0.5, 0.25]):
        arr = np.array(d)
        expected = permutation_test((arr,), np.mean, permutation_type="samples",
                                    n_resamples=math.inf).pvalue
        assert sign_flip_p(arr) == pytest.approx(expected)
        result = paired_test(arr, np.zeros_like(arr))
        assert result.test == "sign-flip" and result.n == len(d)
        assert result.p_value == pytest.approx(expected)
        assert result.statistic == pytest.approx(arr.mean())
    # all five differences positive: the two most extreme of 32 sign patterns
    assert paired_test([1, 2, 3, 4, 5], [0] * 5).p_value == pytest.approx(2 / 32)


def _exact_wilcoxon(d: np.ndarray) -> float:
    """Two-sided exact signed-rank p by listing every sign pattern (no ties, no zeros)."""
    ranks = rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    null = np.array([ranks[np.array(s)].sum() for s in itertools.product([True, False],
                                                                          repeat=len(d))])
    return min(1.0, 2 * min(np.mean(null <= observed), np.mean(null >= observed)))


def test_wilcoxon_from_six_pairs_matches_the_exact_distribution():
    a = np.array([0.71, 0.64, 0.80, 0.77, 0.69, 0.73, 0.66, 0.75])
    b = np.array([0.62, 0.66, 0.70, 0.71, 0.58, 0.76, 0.60, 0.64])
    result = paired_test(a, b)
    assert result.test == "wilcoxon" and result.n == 8
    assert result.p_value == pytest.approx(_exact_wilcoxon(a - b))
    assert result.p_value < 0.05  # 6 of 8 seeds clearly better
    assert result.min_p == pytest.approx(2 / 2**8)


def test_paired_test_pairs_only_finite_values_and_reports_what_it_cannot_do():
    result = paired_test([0.5, math.nan, 0.7, 0.9], [0.4, 0.3, math.nan, 0.6])
    assert result.n == 2 and result.test == "sign-flip"
    assert result.min_p == 0.5 and result.p_value == 0.5  # 2 pairs: p >= 2 / 4
    same = paired_test([0.5, 0.6], [0.5, 0.6])
    assert (same.test, same.p_value) == ("none", 1.0)
    assert paired_test([math.nan], [0.1]).test == "none"
    with pytest.raises(ValueError, match="same length"):
        paired_test([1, 2], [1])


def test_holm_adjusts_step_down_and_keeps_order():
    # by hand: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> raised to 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, math.nan, 0.01])  # NaN is no test: m = 2
    assert adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []


def test_seeds_needed_follows_the_smallest_attainable_p():
    assert seeds_needed(1) == 6  # 2 / 2^5 = 0.0625, 2 / 2^6 = 0.031
    assert seeds_needed(2) == 7 and seeds_needed(4) == 8
