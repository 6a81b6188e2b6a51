"""Distance to the oracle, balance score and per-scenario ranking on hand-made rows."""

from __future__ import annotations

import math

import pytest

from qiskit_unlearn.evaluate import (
    EvaluationError,
    balance_score,
    oracle_distance,
    oracle_gap,
    rank_methods,
)
from qiskit_unlearn.evaluate.ranking import ACCURACY_KEYS, harmonic_mean

ORACLE = {"retain_accuracy": 0.90, "forget_accuracy": 0.80, "test_accuracy": 0.85,
          "mia_auc": 0.52}


def test_distance_is_the_oracle_gap_with_the_mia_auc():
    model = {"retain_accuracy": 0.94, "forget_accuracy": 0.60, "test_accuracy": 0.83,
             "mia_auc": 0.60}
    assert oracle_distance(model, ORACLE) == pytest.approx((0.04 + 0.20 + 0.02 + 0.08) / 4)
    assert oracle_distance(model, ORACLE, ACCURACY_KEYS) == pytest.approx(
        oracle_gap(model, ORACLE))
    assert oracle_distance(ORACLE, ORACLE) == 0.0
    assert math.isnan(oracle_distance({**model, "mia_auc": math.nan}, ORACLE))


def test_balance_score_by_hand():
    # forgetting 1 - |0.6 - 0.8| = 0.8, utility 0.81 / 0.9 = 0.9, privacy 1 - 2 * 0.08 = 0.84
    row = {"forget_accuracy": 0.60, "test_accuracy": 0.81, "mia_auc": 0.60}
    b = balance_score(row, ORACLE, 0.90)
    assert (b.forgetting, b.utility, b.privacy) == pytest.approx((0.8, 0.9, 0.84))
    assert b.balance == pytest.approx(3 / (1 / 0.8 + 1 / 0.9 + 1 / 0.84))
    # over-forgetting a subset is penalised like under-forgetting; utility is capped at 1
    over = balance_score({"forget_accuracy": 1.0, "test_accuracy": 0.95, "mia_auc": 0.52},
                         {**ORACLE, "forget_accuracy": 0.8}, 0.90)
    assert (over.forgetting, over.utility, over.privacy) == pytest.approx((0.8, 1.0, 1.0))
    # a far-off attack AUC clips privacy at 0, and the harmonic mean follows it to 0
    leak = balance_score({"forget_accuracy": 0.8, "test_accuracy": 0.85, "mia_auc": 0.99},
                         {**ORACLE, "mia_auc": 0.45}, 0.85)
    assert leak.privacy == 0.0 and leak.balance == 0.0
    # without MIA: two terms, privacy NaN
    no_mia = balance_score({"forget_accuracy": 0.6, "test_accuracy": 0.81}, ORACLE, 0.9,
                           privacy=False)
    assert math.isnan(no_mia.privacy)
    assert no_mia.balance == pytest.approx(2 / (1 / 0.8 + 1 / 0.9))
    # a seed that did not log its attack is missing, not scored 0
    assert math.isnan(balance_score({**row, "mia_auc": math.nan}, ORACLE, 0.9).balance)
    with pytest.raises(EvaluationError, match="privacy=False"):
        balance_score({"forget_accuracy": 0.6, "test_accuracy": 0.8}, ORACLE, 0.9)


def test_harmonic_mean():
    assert harmonic_mean([0.5, 1.0]) == pytest.approx(2 / 3)
    assert harmonic_mean([0.0, 1.0]) == 0.0
    assert math.isnan(harmonic_mean([0.5, math.nan]))


def test_rank_methods_orders_tests_against_the_best_and_corrects():
    seeds = range(8)
    close = {s: (0.125, 0.25, 0.0625)[s % 3] for s in seeds}  # binary fractions: exact sums
    values = {
        "close": close,
        "tied": {s: close[7 - s] for s in seeds},  # the same values on other seeds
        "far": {s: 2.0 + s for s in seeds},  # worse on every seed, distinct differences
        "empty": {s: math.nan for s in seeds},
    }
    ranked = rank_methods(values, lower_is_better=True)
    assert [r.name for r in ranked] == ["close", "tied", "far"]  # no values: left out
    best, tied, far = ranked
    assert best.best and best.rank == 1 and math.isnan(best.p_value)
    assert best.significant is None and best.n == 8
    assert best.ci_low <= best.mean <= best.ci_high
    assert tied.rank == 1 and not tied.best  # ties share a rank
    assert far.rank == 3 and far.test == "wilcoxon"
    assert far.p_value == pytest.approx(2 / 2**8)  # every seed worse: the smallest p
    assert far.p_holm == pytest.approx(2 * far.p_value) and far.significant is True
    assert tied.significant is False
    # higher is better; three seeds cannot separate anything
    small = rank_methods({"a": {0: 0.9, 1: 0.8, 2: 0.85}, "b": {0: 0.5, 1: 0.4, 2: 0.45}},
                         lower_is_better=False)
    assert [r.name for r in small] == ["a", "b"]
    assert small[1].test == "sign-flip" and small[1].p_value == pytest.approx(0.25)
    assert small[1].min_p == pytest.approx(0.25) and small[1].significant is False
    assert rank_methods({}, lower_is_better=True) == []
