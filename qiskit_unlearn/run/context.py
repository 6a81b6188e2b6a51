"""What a validated config means for a run: its seeds, scenarios, split roles and faithful
flags, and the data, scenario, evaluation sets and method inputs of every (seed, scenario).

:class:`RunContext` is the one place "how the run saw its data" is written: ``qunlearn run``
builds its units of work from it, and everything that rebuilds a finished run (``qunlearn hw``,
forgetting quality) asks it rather than re-deriving anything. The functions below it take a
plain config so the model cache and callers without a run can use them too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qiskit_unlearn.run.data import prepare_data


def selection_name(cfg: Mapping[str, Any]) -> str:
    """The split early stopping and model selection look at: ``val``, or ``test`` in faithful
    mode (the HQML study selects on test; that is its documented flaw)."""
    return "test" if cfg["unlearn"]["faithful"] else "val"


def selection_split(cfg: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[Any, Any]:
    """The ``(x, y)`` of :func:`selection_name`."""
    return data[selection_name(cfg)]


def build_scenario(sc_cfg: Mapping[str, Any], data: Mapping[str, Any], seed: int) -> Any:
    """The forget scenario of a validated ``[[scenario]]`` table on prepared data."""
    from qiskit_unlearn.scenarios import SCENARIOS, make_scenario

    params = {k: sc_cfg[k] for k in SCENARIOS[sc_cfg["kind"]].params}
    return make_scenario(sc_cfg["kind"], data["train"], data["test"], seed=seed,
                         num_classes=data["num_classes"], **params)


def eval_sets(sc: Any, data: Mapping[str, Any], faithful: bool, seed: int) -> Any:
    """Evaluation sets; the faithful (HQML) variant draws MIA non-members from the retain set."""
    from qiskit_unlearn.evaluate.suite import EvalSets

    nonmember = (sc.nonmember_x, sc.nonmember_y)
    if faithful:
        rng = np.random.default_rng(seed + 17)
        pick = np.sort(rng.choice(len(sc.retain_idx), min(len(sc.forget_idx),
                                                          len(sc.retain_idx)), replace=False))
        nonmember = (sc.retain[0][pick], sc.retain[1][pick])
    poisoned = not np.array_equal(sc.clean_y, sc.train_y)
    return EvalSets(sc.retain, sc.forget, data["val"], data["test"], nonmember,
                    sc.clean_y[sc.forget_idx] if poisoned else None)


def unlearn_data(cfg: Mapping[str, Any], sc: Any, data: Mapping[str, Any], seed: int,
                 progress: bool = False) -> Any:
    """The ``UnlearnData`` every method gets: retain, forget and the selection split."""
    from qiskit_unlearn.unlearn import UnlearnData

    return UnlearnData(sc.retain, sc.forget, selection_split(cfg, data), data["num_classes"],
                       seed=seed, progress=progress)


def method_params(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The method's configured hyperparameters. ``unlearn.faithful = true`` puts them over the
    HQML study's own settings of the method (its registry entry's ``study``: budget, optimiser,
    early stopping on the selection split, the study's variant), and selects the study's
    version (``faithful``, ``variant = "hqml"``) of methods without study settings."""
    from qiskit_unlearn.unlearn import METHODS

    explicit = dict(cfg["unlearn"]["params"].get(method, {}))
    if not cfg["unlearn"]["faithful"]:
        return explicit
    entry = METHODS[method]
    params = {**entry.study, **explicit}
    if "faithful" in entry.defaults:
        params.setdefault("faithful", True)
    if "variant" in entry.defaults:
        params.setdefault("variant", "hqml")
    return params


def mia_score(cfg: Mapping[str, Any]) -> str:
    """The membership score of ``mia_auc``: ``evaluation.mia_score``, where ``auto`` is the
    HQML study's top softmax probability in faithful mode and the true label's otherwise."""
    score = cfg["evaluation"].get("mia_score", "auto")
    if score == "auto":
        return "top" if cfg["unlearn"]["faithful"] else "true-label"
    return score


class RunContext:
    """A validated config seen as a run: seeds × scenarios, each with its data (prepared once
    per seed), scenario, evaluation sets and ``UnlearnData`` (built once, then cached).

    Everything is derived from ``cfg`` alone (the seeds make data splits and scenarios
    reproducible), so a context built later (``qunlearn hw``, a worker process) sees exactly
    the arrays the run saw.

    Args:
        cfg: A validated config (:func:`qiskit_unlearn.config.validate_config`). It is kept,
            not copied: do not change it while the context is in use.
        out_dir: The run directory, or ``None`` for a context without one (units of work in a
            worker process).
        extra_columns: Columns (e.g. a sweep's noise columns) put into every row's identity,
            after ``experiment`` and before ``scenario``; ``None`` adds none.
    """

    def __init__(self, cfg: Mapping[str, Any], out_dir: Path | None = None, *,
                 extra_columns: Mapping[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.extra_columns = dict(extra_columns or {})
        self.scenario_cfgs: dict[str, Mapping[str, Any]] = {
            sc["name"]: sc for sc in cfg["scenario"]}
        self._data: dict[int, dict[str, Any]] = {}
        self._scenarios: dict[tuple[int, str], Any] = {}
        self._sets: dict[tuple[int, str], Any] = {}

    @property
    def name(self) -> str:
        """The experiment's name (``experiment.name``)."""
        return str(self.cfg["experiment"]["name"])

    @property
    def seeds(self) -> list[int]:
        """The run's seeds (``experiment.seeds``), in order."""
        return list(self.cfg["experiment"]["seeds"])

    @property
    def faithful(self) -> bool:
        """Whether the run follows the HQML study's recipe (``unlearn.faithful``).

        In that mode model selection looks at the test split and every method gets the
        study's own settings.
        """
        return bool(self.cfg["unlearn"]["faithful"])

    @property
    def mia_score(self) -> str:
        """The membership score ``mia_auc`` uses, ``top`` or ``true-label`` (``auto`` resolved)."""
        return mia_score(self.cfg)

    def units(self) -> Iterator[tuple[int, str]]:
        """Every (seed, scenario name) of the run, in results order.

        Yields:
            ``(seed, scenario name)`` pairs: seeds in config order, and per seed the
            scenarios in config order.
        """
        for seed in self.seeds:
            for name in self.scenario_cfgs:
                yield seed, name

    def data(self, seed: int) -> dict[str, Any]:
        """The prepared data of ``seed`` (:func:`qiskit_unlearn.run.prepare_data`), cached.

        Args:
            seed: One of the run's seeds; it seeds the split and the subsampling.

        Returns:
            The dictionary :func:`qiskit_unlearn.run.prepare_data` returns (the same object on
            every call for one seed).
        """
        if seed not in self._data:
            self._data[seed] = prepare_data(self.cfg, seed)
        return self._data[seed]

    def scenario(self, seed: int, name: str) -> Any:
        """The forget scenario ``name`` built on the data of ``seed``, cached.

        Args:
            seed: One of the run's seeds.
            name: A scenario name of the config (``[[scenario]]`` ``name``).

        Returns:
            The :class:`qiskit_unlearn.scenarios.Scenario` (retain / forget indices and
            arrays, the training labels, the non-members).

        Raises:
            KeyError: If ``name`` is not a scenario of the config.
        """
        key = (seed, name)
        if key not in self._scenarios:
            self._scenarios[key] = build_scenario(self.scenario_cfgs[name], self.data(seed), seed)
        return self._scenarios[key]

    def eval_sets(self, seed: int, name: str) -> Any:
        """The evaluation sets every model of (seed, scenario) is evaluated on, cached.

        In faithful mode the membership-inference non-members are drawn from the retain set
        (as the HQML study does); otherwise they are the scenario's held-out non-members.

        Args:
            seed: One of the run's seeds.
            name: A scenario name of the config.

        Returns:
            An ``EvalSets`` of retain, forget, validation, test and non-member ``(x, y)``
            arrays, plus the clean labels of the forget set when the scenario relabels it.
        """
        key = (seed, name)
        if key not in self._sets:
            self._sets[key] = eval_sets(self.scenario(seed, name), self.data(seed),
                                        self.faithful, seed)
        return self._sets[key]

    def unlearn_data(self, seed: int, name: str, *, method_seed: int | None = None,
                     progress: bool = False) -> Any:
        """What every method gets: retain, forget and the selection split of (seed, scenario).

        The selection split is ``val``, or ``test`` in faithful mode.

        Args:
            seed: One of the run's seeds.
            name: A scenario name of the config.
            method_seed: The seed of the method's own randomness; ``None`` uses ``seed``
                (forgetting quality passes a distinct seed per unlearned model).
            progress: Whether the method shows a progress bar.

        Returns:
            A new :class:`qiskit_unlearn.unlearn.UnlearnData` (not cached).
        """
        return unlearn_data(self.cfg, self.scenario(seed, name), self.data(seed),
                            seed if method_seed is None else method_seed, progress)

    def method_params(self, method: str) -> dict[str, Any]:
        """The hyperparameters ``method`` runs with in this run.

        Args:
            method: A registered unlearning method name.

        Returns:
            The configured ``unlearn.params.<method>`` table; in faithful mode laid over the
            HQML study's settings of the method (and ``faithful`` / ``variant = "hqml"`` for
            methods that have those options).
        """
        return method_params(self.cfg, method)

    def ident(self, seed: int, name: str) -> dict[str, Any]:
        """The identifying columns every results row of the run starts with.

        Args:
            seed: One of the run's seeds.
            name: A scenario name of the config.

        Returns:
            ``experiment``, the extra columns, ``scenario``, ``scenario_kind``, ``seed`` and
            ``faithful``, in that order.
        """
        return {"experiment": self.name, **self.extra_columns, "scenario": name,
                "scenario_kind": self.scenario_cfgs[name]["kind"], "seed": seed,
                "faithful": self.faithful}
