"""``report.md``: a readable account of a run, rebuilt from its files at any time.

Order: what was run (description, dates, versions), a headline table, the per-scenario
rankings (distance to the oracle, balance), the figures with one sentence each, the optional
forgetting-quality, memorisation and landscape tables, the full summary, and how the numbers
were obtained, so a reader can judge them without opening the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiskit_unlearn.evaluate.stats import seeds_needed
from qiskit_unlearn.report.tables import (
    STUDY_MARK,
    Summary,
    fmt_duration,
    fmt_number,
    fmt_stat,
)

if TYPE_CHECKING:
    from qiskit_unlearn.evaluate.ranking import RankedMethod
    from qiskit_unlearn.report.ranking import Ranking
    from qiskit_unlearn.report.style import Plot

HEADERS = {
    "retain_accuracy": "Retain acc.", "forget_accuracy": "Forget acc.",
    "val_accuracy": "Val. acc.", "test_accuracy": "Test acc.",
    "original_retain_accuracy": "Orig. retain acc.", "original_forget_accuracy":
        "Orig. forget acc.", "original_test_accuracy": "Orig. test acc.",
    "retain_drop": "Retain drop", "forget_drop": "Forget drop", "test_drop": "Test drop",
    "uqi": "UQI", "kl_retain": "KL retain", "kl_test": "KL test", "js_retain": "JS retain",
    "js_test": "JS test", "agreement_retain": "Agreement retain",
    "agreement_test": "Agreement test", "oracle_gap": "Oracle gap", "mia_auc": "MIA AUC",
    "mia_loss_auc": "MIA loss AUC", "mia_efficacy": "MIA efficacy", "seconds": "Time",
    "retrain_seconds": "Retrain time", "rte": "RTE", "circuit_evaluations": "Circuit evals",
    "forgetting_quality": "Forgetting quality", "ulira_accuracy": "U-LiRA acc.",
    "num_unlearned_models": "Unlearned models", "num_retrained_models": "Retrained models",
    "hessian_top": "Top Hessian eig.", "hessian_trace": "Hessian trace",
    "hessian_top_retain": "Top eig. (retain)", "hessian_top_forget": "Top eig. (forget)",
    "hessian_trace_retain": "Trace (retain)", "hessian_trace_forget": "Trace (forget)",
    "memorisation": "Memorisation (acc.)", "memorisation_prob": "Memorisation (prob.)",
    "num_out_models": "Out-models", "num_examples": "Examples",
}
FAMILIES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("Accuracy", lambda m: m.endswith("accuracy")),
    ("Drops and UQI", lambda m: m.endswith("_drop") or m == "uqi"),
    ("Agreement with the oracle",
     lambda m: m.startswith(("kl_", "js_", "agreement_")) or m == "oracle_gap"),
    ("Membership inference", lambda m: m.startswith("mia_")),
    ("Cost", lambda m: m in ("seconds", "retrain_seconds", "rte", "circuit_evaluations")),
    ("Loss landscape", lambda m: m.startswith("hessian_")),
)
SECTION_ORDER = ("Metrics by method", "Forgetting vs utility", "Unlearning curves",
                 "Training histories", "Noise")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def stat_table(summary: Summary, metrics: Sequence[str], *, seeds: bool = True,
               names: Mapping[str, str] | None = None, ci: bool = False) -> list[str]:
    """One row per group: its key columns (method as its display label), then mean ± std, or
    with ``ci`` mean [95 % interval] (times and counts keep ± std)."""
    names = {**HEADERS, **(names or {})}
    keys = [k for k in summary.keys if k not in ("variant", "faithful")]
    if len(summary.noises()) < 2 and "noise" in keys:
        keys.remove("noise")
    header = [k.replace("_", " ").capitalize() for k in keys] + (["Seeds"] if seeds else [])
    header += [names.get(m, m) for m in metrics]
    rows = []
    for g in summary.groups:
        row: list[Any] = [g.label if k == "method" else g.key[k] for k in keys]
        row += [g.n_seeds] if seeds else []
        row += [fmt_stat(g.stat(m), m, ci=ci) for m in metrics]
        rows.append(row)
    return _table(header, rows, len(keys))


def _duration(manifest: Mapping[str, Any]) -> str:
    total = manifest.get("timings", {}).get("total") if isinstance(
        manifest.get("timings"), dict) else None
    if isinstance(total, (int, float)) and math.isfinite(total):
        return fmt_duration(float(total))
    try:
        start = datetime.fromisoformat(str(manifest["started"]))
        end = datetime.fromisoformat(str(manifest["finished"]))
    except (KeyError, ValueError):
        return ""
    return fmt_duration((end - start).total_seconds())


def _description(manifest: Mapping[str, Any]) -> str:
    exp = manifest.get("config", {}).get("experiment", {}) if isinstance(
        manifest.get("config"), dict) else {}
    text = exp.get("description") if isinstance(exp, dict) else None
    return str(text or manifest.get("description") or "")


def _timestamp(value: Any) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    utc = when.utcoffset() is not None and not when.utcoffset()
    return when.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if utc else "")


def _run_facts(manifest: Mapping[str, Any], summary: Summary, n_rows: int) -> list[str]:
    facts = []
    when = " → ".join(_timestamp(manifest[k]) for k in ("started", "finished")
                      if manifest.get(k))
    if when:
        duration = _duration(manifest)
        facts.append(("Run", when + (f" ({duration})" if duration else "")))
    seeds = manifest.get("seeds")
    if isinstance(seeds, list) and seeds:
        facts.append(("Seeds", ", ".join(str(s) for s in seeds)))
    kinds = {g.scenario: g.scenario_kind for g in summary.groups}
    facts.append(("Scenarios", ", ".join(f"{s} ({k})" if k and k != s else s
                                         for s, k in kinds.items())))
    facts.append(("Methods", ", ".join(summary.labels())))
    if len(summary.noises()) > 1:
        facts.append(("Noise settings", ", ".join(summary.noises())))
    versions = manifest.get("versions")
    if isinstance(versions, dict) and versions:
        facts.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    facts.append(("Data", f"`results.csv` ({n_rows} rows), `summary.csv` (mean, std and 95 % "
                          "interval per group), `ranking.csv` (the rankings below)"))
    return [f"- **{name}:** {value}" for name, value in facts]


def _headline(summary: Summary) -> list[str]:
    js = "js_test" if summary.has("js_test") else "js_retain"
    wanted = ["forget_accuracy", "retain_accuracy", "test_accuracy", "uqi", "mia_auc", js,
              "seconds"]
    metrics = [m for m in wanted if summary.has(m)]
    return stat_table(summary, metrics, seeds=False, names={js: "JS to oracle"}, ci=True)


def _plot_block(plot: Plot, level: str = "###") -> list[str]:
    return [f"{level} {plot.title}", "", plot.caption, "", f"![{plot.title}]({plot.file})", ""]


def render(manifest: Mapping[str, Any], summary: Summary, plots: Sequence[Plot], *,
           experiment: str, n_rows: int, quality: Summary | None = None,
           landscape: Summary | None = None, rankings: Sequence[Ranking] = (),
           memorisation: Summary | None = None) -> str:
    """The whole Markdown document."""
    out = [f"# Unlearning report: {experiment}", ""]
    description = _description(manifest)
    if description:
        out += [description, ""]
    out += [*_run_facts(manifest, summary, n_rows), ""]
    out += ["## Headline results", "",
            "Mean over seeds [95 % bootstrap interval of the mean] for every scenario and "
            "method (times: mean ± std); the oracle `retrain` is the target each unlearning "
            "method should match.", ""]
    out += [*_headline(summary), ""]
    if summary.has_study_behaviour():
        out += [f"{STUDY_MARK} `faithful = true`: reproduces the HQML study's code, including "
                "where it departs from the published methods (see docs/guides/studies.md); "
                "unmarked rows use the corrected versions.", ""]
    out += ranking_sections(rankings)
    by_section: dict[str, list[Plot]] = {}
    for p in plots:
        by_section.setdefault(p.section, []).append(p)
    for section in SECTION_ORDER:
        if section in by_section:
            single = len(by_section[section]) == 1
            out += [f"## {section}", ""]
            for p in by_section[section]:
                out += [p.caption, "", f"![{p.title}]({p.file})", ""] if single else \
                    _plot_block(p)
    if quality is not None:
        out += ["## Forgetting quality", "",
                "Per scenario and method, from `forgetting_quality.csv`.", ""]
        out += [*stat_table(quality, quality.metrics), ""]
        for p in by_section.get("Forgetting quality", []):
            out += [p.caption, "", f"![{p.title}]({p.file})", ""]
    if memorisation is not None:
        out += ["## Memorisation", "",
                "Per-example memorisation of the forget set (Feldman & Zhang 2020): whether "
                "the teacher, trained with the example, classifies it correctly, minus the "
                "fraction of the forgetting-quality retrained models (trained without it) that "
                "do, averaged over the forget examples; *prob.* uses the true label's "
                "probability instead. Mean [95 % interval] over seeds, from "
                "`memorisation.csv`. One teacher per seed makes each estimate noisy; for class "
                "forgetting the retrained models never saw the class, so the number measures "
                "how far the class generalises from the others, not memorisation.", ""]
        out += [*stat_table(memorisation, memorisation.metrics, ci=True), ""]
    if landscape is not None:
        out += ["## Loss landscape", "",
                "Top Hessian eigenvalue and Hessian trace of the loss (sharpness), from "
                "`landscape.csv`.", ""]
        out += [*stat_table(landscape, landscape.metrics), ""]
    out += _full_summary(summary)
    out += _methodology(manifest, summary)
    return "\n".join(out).rstrip() + "\n"


def _full_summary(summary: Summary) -> list[str]:
    out = ["## Full summary", "",
           "Every metric of `summary.csv`, grouped by kind (mean ± std over seeds).", ""]
    left = [m for m in summary.metrics if m != "noise_level"]
    for name, belongs in (*FAMILIES, ("Other", lambda m: True)):
        metrics = [m for m in left if belongs(m)]
        left = [m for m in left if m not in metrics]
        if metrics:
            out += [f"### {name}", "", *stat_table(summary, metrics), ""]
    return out


def _methodology(manifest: Mapping[str, Any], summary: Summary) -> list[str]:
    seeds = manifest.get("seeds")
    seed_text = (f"the seeds {', '.join(str(s) for s in seeds)}" if isinstance(seeds, list)
                 and seeds else "the seeds of the run")
    counts = sorted({g.n_seeds for g in summary.groups})
    count_text = " or ".join(str(c) for c in counts)
    return [
        "## Methodology", "",
        "- **Selection.** Hyperparameters and stopping points of every method were chosen on "
        "the validation split only; the test split and the forget-set metrics were used for "
        "reporting, never for selection.",
        f"- **Seeds.** Each number is the mean over {seed_text} ({count_text} per group) "
        "with the sample standard deviation (n − 1) or, in brackets, the 95 % percentile "
        "bootstrap interval of the mean (10,000 resamples, fixed seed; too narrow with few "
        "seeds: with two it is their range); a value without either comes from a single "
        "seed, and a seed that did not produce a metric is left out of that metric's mean.",
        "- **Comparisons.** Rankings pair each method with the oracle and teacher of the same "
        "seed and test it against the best method on the same seeds: Wilcoxon signed-rank "
        "from 6 seeds, the exact sign-flip permutation test below, two-sided, Holm-corrected "
        "over the methods of a scenario, significant at Holm p < 0.05.",
        "- **References.** `retrain (oracle)` is retrained from scratch on the retain set "
        "only, the gold standard of exact unlearning; `original (teacher)` is the model before "
        "unlearning.",
        "- **Cost.** Times are wall-clock seconds of the unlearning call; RTE is retraining "
        "time divided by the method's time (above 1 = faster than retraining).",
        "", "Rebuild this report and its figures with `qunlearn report RUN_DIR`.", "",
    ]


def experiment_name(manifest: Mapping[str, Any], experiments: Sequence[str], run_dir: Path
                    ) -> str:
    """The manifest's name, else the results' ``experiment`` column, else the folder name."""
    return str(manifest.get("experiment") or (experiments[0] if experiments else run_dir.name))


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _verdict(entry: RankedMethod, separable: bool) -> str:
    if entry.best:
        return "best"
    if entry.significant is None:
        return "—"
    if not separable:
        return "no (n too small)"
    return "yes" if entry.significant else "no"


def _separable(ranking: Ranking, alpha: float = 0.05) -> tuple[bool, list[str]]:
    """Whether the block's paired tests can reach Holm p < alpha at all, and a note if not."""
    tested = [e for e in ranking.entries if e.test]
    if not tested:
        return False, ["Only one method has values here: there is nothing to compare."]
    m, floor = len(tested), min(e.min_p for e in tested)
    if m * floor < alpha:
        return True, []
    n = max(e.n for e in tested)
    return False, [f"With {n} paired seed{'s' * (n != 1)} and {m} comparison"
                   f"{'s' * (m != 1)} the smallest p-value these tests can give is "
                   f"{_p(m * floor)} after Holm's correction, so no difference can be "
                   f"significant at {alpha:g}: these seeds cannot separate the methods (at "
                   f"least {seeds_needed(m, alpha)} seeds with distinct results would be "
                   "needed)."]


def _ranking_block(ranking: Ranking, several_noises: bool) -> list[str]:
    title = ranking.scenario + (f" ({ranking.key.get('noise')})" if several_noises else "")
    separable, note = _separable(ranking)
    balance = ranking.measure == "balance"
    terms = [t for t in ("forgetting", "utility", "privacy") if t != "privacy"
             or ranking.privacy] if balance else []
    header = ["Rank", "Method", "Seeds", "Balance" if balance else "Distance", "95 % CI",
              *(t.capitalize() for t in terms), "p vs best", "Holm p", "Significant"]
    rows = []
    entries = [*ranking.entries, *([ranking.reference] if ranking.reference else [])]
    for e in entries:
        stats = ranking.terms.get(e.name, {})
        rows.append([e.rank or "ref.", e.name, e.n, f"{e.mean:.3f}",
                     f"[{e.ci_low:.3f}, {e.ci_high:.3f}]" if math.isfinite(e.ci_low) else "—",
                     *(fmt_number(stats[t].mean) if t in stats else "—" for t in terms),
                     _p(e.p_value), _p(e.p_holm),
                     _verdict(e, separable) if e.rank else "reference"])
    return [f"### {title}", "", *_table(header, rows, 2), "", *([*note, ""] if note else [])]


def ranking_sections(rankings: Sequence[Ranking]) -> list[str]:
    """The "Distance to the oracle" and "Balance ranking" sections (none without rankings)."""
    if not rankings:
        return []
    several = len({r.key.get("noise", "") for r in rankings}) > 1
    privacy = all(r.privacy for r in rankings)
    mia_note = "" if privacy else (
        " Membership inference was not measured (`evaluation.mia = false`, or no oracle "
        "row), so the MIA AUC is left out of the distance and the privacy term out of the "
        "balance.")
    tests = ("Each method is tested against the best one with a paired test across seeds "
             "(Wilcoxon signed-rank from 6 seeds, the exact sign-flip permutation test "
             "below), Holm-corrected over the methods of the scenario; *significant* = Holm "
             "p < 0.05. The 95 % CI is the bootstrap interval of the mean over seeds.")
    out = ["## Distance to the oracle", "",
           "Per seed, the mean over retain, forget and test accuracy and the MIA AUC of "
           "|method − retrain oracle of the same seed| (0 = behaves like retraining; the "
           "oracle itself is the target and not ranked); lower is better. " + tests + mia_note,
           ""]
    out += [line for r in rankings if r.measure == "distance"
            for line in _ranking_block(r, several)]
    out += ["## Balance ranking", "",
            "Per seed, the harmonic mean of forgetting = 1 − |forget acc. − oracle forget "
            "acc.|, utility = min(1, test acc. / teacher test acc.) and privacy = max(0, 1 − "
            "2 |MIA AUC − oracle MIA AUC|), so a method scores high only if it does well on "
            "all three; higher is better, and the oracle's own balance is the reference. "
            + tests + mia_note, ""]
    out += [line for r in rankings if r.measure == "balance"
            for line in _ranking_block(r, several)]
    return out
