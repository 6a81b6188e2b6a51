"""Ranking unlearning methods per scenario: distance to the oracle, balance score, paired tests.

Every score is computed per seed against the retrain oracle (and teacher) *of the same seed*,
so seed-to-seed variation shared by a method and its oracle cancels, and methods are compared
with paired tests across seeds (:func:`~qiskit_unlearn.evaluate.stats.paired_test`).

*Distance to the oracle* = mean over retain, forget and test accuracy and the MIA AUC of
|method − oracle| (:func:`~qiskit_unlearn.evaluate.metrics.oracle_gap` with the MIA AUC
added; without MIA it is the ``oracle_gap`` column). Lower is better; the oracle scores 0.

*Balance* = harmonic mean of forgetting = 1 − |forget acc − oracle forget acc|, utility =
min(1, test acc / teacher test acc) and privacy = max(0, 1 − 2 |MIA AUC − oracle MIA AUC|)
(left out when MIA was not measured). Forgetting is closeness to the oracle, so forgetting
more than retraining would (over-forgetting a random subset, itself a membership signal) is
not rewarded. Higher is better.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qiskit_unlearn.evaluate.metrics import DEFAULT_GAP_KEYS, EvaluationError, oracle_gap
from qiskit_unlearn.evaluate.stats import bootstrap_ci, finite, holm, paired_test

ACCURACY_KEYS = DEFAULT_GAP_KEYS  # retain, forget and test accuracy: the oracle gap's keys
DISTANCE_KEYS = (*ACCURACY_KEYS, "mia_auc")
BALANCE_TERMS = ("forgetting", "utility", "privacy")
ALPHA = 0.05


def oracle_distance(model: Mapping[str, float], oracle: Mapping[str, float],
                    keys: Sequence[str] = DISTANCE_KEYS) -> float:
    """Mean over ``keys`` of ``|model − oracle|`` (NaN if any of them is NaN).

    Args:
        model: the method's metrics of one seed.
        oracle: the retrain oracle's metrics of the same seed.
        keys: the metrics to compare; by default retain, forget and test accuracy and
            ``mia_auc``. Pass ``ACCURACY_KEYS`` (the three accuracies) when the run measured
            no membership inference.

    Returns:
        The distance; lower is better, 0 for the oracle itself.

    Raises:
        EvaluationError: if ``keys`` is empty or a key is missing from either mapping.
    """
    return oracle_gap(model, oracle, keys)


@dataclass(frozen=True)
class Balance:
    """The three terms of the balance score (each in [0, 1], 1 = best) and their harmonic
    mean; ``privacy`` is NaN when left out.

    Attributes:
        forgetting: 1 − ``|forget acc − oracle forget acc|``.
        utility: min(1, test acc / teacher test acc).
        privacy: max(0, 1 − 2 ``|MIA AUC − oracle MIA AUC|``), or NaN.
        balance: the harmonic mean of the terms used.
    """

    forgetting: float
    utility: float
    privacy: float
    balance: float


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean of values in [0, 1]: 0 if any is 0, NaN if any is NaN."""
    vals = np.asarray(values, dtype=float)
    if vals.size == 0 or np.any(np.isnan(vals)):
        return math.nan
    if np.any(vals <= 0):
        return 0.0
    return float(vals.size / np.sum(1.0 / vals))


def balance_score(model: Mapping[str, float], oracle: Mapping[str, float],
                  teacher_test_accuracy: float, *, privacy: bool = True) -> Balance:
    """Balance of one seed: forgetting, utility and (``privacy``) privacy, harmonic mean.

    ``model`` and ``oracle`` need ``forget_accuracy`` (and ``mia_auc`` with ``privacy``);
    ``model`` also ``test_accuracy``. A teacher with test accuracy 0 leaves nothing to lose:
    utility 1. A NaN input (a metric a seed did not log) gives a NaN balance, so the seed is
    left out rather than scored as zero.

    Args:
        model: the method's metrics of one seed.
        oracle: the retrain oracle's metrics of the same seed.
        teacher_test_accuracy: the teacher's test accuracy of the same seed.
        privacy: include the privacy term (needs ``mia_auc`` in both mappings).

    Returns:
        The terms and their harmonic mean.

    Raises:
        EvaluationError: if a needed metric is missing.
    """
    needed = ["forget_accuracy", *(["mia_auc"] if privacy else [])]
    for which, values in (("model", model), ("oracle", oracle)):
        missing = [k for k in [*needed, *(["test_accuracy"] if which == "model" else [])]
                   if k not in values]
        if missing:
            raise EvaluationError(f"balance_score: the {which}'s metrics lack {missing}; pass "
                                  "privacy=False when the run measured no MIA")
    forgetting = 1.0 - abs(float(model["forget_accuracy"]) - float(oracle["forget_accuracy"]))
    teacher, test = float(teacher_test_accuracy), float(model["test_accuracy"])
    utility = math.nan if math.isnan(teacher) or math.isnan(test) else \
        min(1.0, test / teacher) if teacher > 0 else 1.0
    priv = float(np.clip(1.0 - 2.0 * abs(float(model["mia_auc"]) - float(oracle["mia_auc"])),
                         0.0, 1.0)) if privacy else math.nan  # NaN stays NaN
    terms = [forgetting, utility, *([priv] if privacy else [])]
    return Balance(forgetting, utility, priv, harmonic_mean(terms))


@dataclass(frozen=True)
class RankedMethod:
    """One method's place in a per-scenario ranking.

    ``p_value`` is the paired test against the best method (NaN for the best itself),
    ``p_holm`` the Holm-adjusted one over all methods tested against the best; ``significant``
    is None for the best or when no test was possible. ``min_p`` is the smallest p-value the
    test could give with its pairs.

    Attributes:
        name: the method.
        n: the number of seeds with a finite value.
        mean: the mean over those seeds.
        ci_low: lower end of the 95 % bootstrap interval of the mean.
        ci_high: upper end of that interval.
        rank: 1 for the best; tied means share a rank.
        test: the paired test used (``wilcoxon``, ``sign-flip``, ``none``), empty for the best.
        p_value: the paired test's p-value against the best (NaN for the best itself).
        p_holm: the Holm-adjusted p-value.
        significant: Holm p < alpha, or None for the best or when no test was possible.
        min_p: the smallest p-value the test could give with its pairs.
    """

    name: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    rank: int
    test: str = ""
    p_value: float = math.nan
    p_holm: float = math.nan
    significant: bool | None = None
    min_p: float = math.nan

    @property
    def best(self) -> bool:
        """True for the best method (rank 1, not tested against itself)."""
        return self.rank == 1 and math.isnan(self.p_value)


def rank_methods(values: Mapping[str, Mapping[Hashable, float]], *, lower_is_better: bool,
                 alpha: float = ALPHA) -> list[RankedMethod]:
    """Rank methods by their mean over seeds and test each against the best.

    ``values[method][seed]`` is the method's score on that seed (NaN = missing). Methods with
    no finite value are left out. Ties share a rank. Each other method is compared with the
    best by :func:`~qiskit_unlearn.evaluate.paired_test` on the seeds both have, and the
    p-values are Holm-corrected together; ``significant`` = Holm p < ``alpha``.

    Args:
        values: ``values[method][seed]``, one score per method and seed (NaN = missing).
        lower_is_better: True for scores like the distance to the oracle, False for the
            balance.
        alpha: significance level of the Holm-corrected tests.

    Returns:
        The methods in ranking order, best first.
    """
    kept = {name: finite(by_seed.values()) for name, by_seed in values.items()}
    means = {name: float(np.mean(vals)) for name, vals in kept.items() if vals.size}
    if not means:
        return []
    sign = 1.0 if lower_is_better else -1.0
    order = sorted(means, key=lambda m: sign * means[m])  # stable: first listed wins a tie
    best = order[0]
    tests = {}
    for name in order[1:]:
        seeds = [s for s in values[name] if s in values[best]]
        tests[name] = paired_test([values[name][s] for s in seeds],
                                  [values[best][s] for s in seeds])
    adjusted = dict(zip(tests, holm([t.p_value for t in tests.values()]), strict=True))
    out = []
    for name in order:
        low, high = bootstrap_ci(kept[name])
        rank = 1 + sum(1 for m in order if sign * means[m] < sign * means[name])
        t = tests.get(name)
        p_holm = adjusted.get(name, math.nan)
        out.append(RankedMethod(
            name, len(kept[name]), means[name], low, high, rank,
            test=t.test if t else "", p_value=t.p_value if t else math.nan, p_holm=p_holm,
            significant=None if math.isnan(p_holm) else bool(p_holm < alpha),
            min_p=t.min_p if t else math.nan))
    return out
