"""A finished run directory as hardware sees it: which models exist, their weights and data.

Everything is rebuilt from the run directory (``config.json``, ``checkpoints/``,
``unlearned/``) exactly as ``qunlearn run`` built it: ``prepare_data`` and the scenario
builder are seeded, so the retain / forget / val / test / non-member sets are the same arrays
the simulation evaluated. Models are rebuilt on the exact ``statevector`` backend whatever
backend they were trained on: hardware runs need only their logical circuit, weights and the
classical parts around the circuit (``encode`` / ``decode``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.evaluate.suite import EvalSets
from qiskit_unlearn.hardware.base import ORIGINAL, RETRAIN, HardwareError, sha256_file
from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.rundir import open_run
from qiskit_unlearn.storage import load_torch

_UNLEARNED = re.compile(r"\d+__(.+)\.pt")


@dataclass(frozen=True)
class Target:
    """One trained model of the run.

    Attributes:
        seed: The run seed the model belongs to.
        scenario: The scenario name.
        model: ``original`` (the teacher), ``retrain`` (the oracle) or a method name
            (including models unlearned on hardware, e.g. ``ga@fake_manila``).
        checkpoint: The model file, relative to the run directory.
    """

    seed: int
    scenario: str
    model: str
    checkpoint: str  # relative to the run directory

    def label(self) -> str:
        """A short human-readable name.

        Returns:
            ``"seed <seed> / <scenario> / <model>"``.
        """
        return f"seed {self.seed} / {self.scenario} / {self.model}"


def _pick(asked: Sequence[Any] | None, available: Sequence[Any], what: str) -> list[Any]:
    if asked is None:
        return list(available)
    unknown = [a for a in asked if a not in available]
    if unknown:
        raise HardwareError(f"unknown {what} {unknown}; this run has: "
                            f"{', '.join(str(a) for a in available)}")
    return [a for a in available if a in asked]


class FinishedRun:
    """Lazy access to a run directory's models and evaluation sets (built once, then cached).

    The run must be finished and its ``config.json`` must match the manifest's fingerprint
    (``qiskit_unlearn.run.rundir.open_run``); every checkpoint is checked against the digest
    the manifest recorded for it before it is read.

    Args:
        run_dir: A run directory written by ``qunlearn run``.

    Raises:
        HardwareError: If ``run_dir`` is not a finished run directory or its ``config.json``
            no longer matches the manifest (the message says what to do).
    """

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        try:
            self.record = open_run(self.dir)
        except RunDirError as exc:
            raise HardwareError(str(exc)) from None
        self.cfg: dict[str, Any] = self.record.config
        #: The run's :class:`~qiskit_unlearn.run.RunContext`, the same context ``qunlearn run``
        #: built its rows from (how the run saw its data).
        self.context = RunContext(self.cfg, self.dir)
        self.scenario_cfgs = self.context.scenario_cfgs
        self._models: dict[Target, torch.nn.Module] = {}
        self._digests: dict[str, str] = {}

    @property
    def seeds(self) -> list[int]:
        """The run's seeds, in config order."""
        return self.context.seeds

    @property
    def mia(self) -> bool:
        """Whether the run measured membership inference (``evaluation.mia``)."""
        return bool(self.cfg["evaluation"]["mia"])

    @property
    def mia_score(self) -> str:
        """The run's membership score (``top`` or ``true-label``), so device rows score
        ``mia_auc`` as the run's own rows do."""
        return self.context.mia_score

    def methods(self) -> list[str]:
        """The run's model names in table order.

        Returns:
            ``original`` (the teacher), ``retrain`` (the oracle), the configured methods, then
            models unlearned on hardware (``qunlearn hw unlearn``, e.g. ``ga@fake_manila``),
            sorted, as found in ``unlearned/``.
        """
        configured = [m for m in self.cfg["unlearn"]["methods"] if m != RETRAIN]
        known = {ORIGINAL, RETRAIN, *configured}
        found = {m.group(1) for path in (self.dir / "unlearned").glob("*__seed*__*.pt")
                 if (m := _UNLEARNED.fullmatch(path.name.split("__seed", 1)[1]))}
        return [ORIGINAL, RETRAIN, *configured, *sorted(found - known)]

    def checkpoint(self, seed: int, scenario: str, model: str) -> str:
        """Where a model's file is (whether or not it exists).

        Args:
            seed: A run seed.
            scenario: A scenario name.
            model: ``original``, ``retrain`` or a method name.

        Returns:
            The path relative to the run directory: ``checkpoints/<scenario>-seed<s>-teacher.pt``
            or ``-oracle.pt`` for the references, ``unlearned/<scenario>__seed<s>__<model>.pt``
            otherwise.
        """
        if model in (ORIGINAL, RETRAIN):
            role = "teacher" if model == ORIGINAL else "oracle"
            return f"checkpoints/{scenario}-seed{seed}-{role}.pt"
        return f"unlearned/{scenario}__seed{seed}__{model}.pt"

    def targets(self, models: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                scenarios: Sequence[str] | None = None) -> list[Target]:
        """The models to evaluate; missing checkpoints are an error only when asked for by name.

        Args:
            models: Model names (:meth:`methods`) to select; ``None`` selects every model
                whose file exists.
            seeds: Seeds to select; ``None`` selects all.
            scenarios: Scenario names to select; ``None`` selects all.

        Returns:
            One :class:`Target` per existing model file, by seed, scenario, then model order.

        Raises:
            HardwareError: If a selection names something the run does not have, a model asked
                for by name has no file, or nothing is found.
        """
        names = _pick(models, self.methods(), "models")
        out = []
        for seed in _pick(seeds, self.seeds, "seeds"):
            for scenario in _pick(scenarios, list(self.scenario_cfgs), "scenarios"):
                for name in names:
                    path = self.checkpoint(seed, scenario, name)
                    if (self.dir / path).is_file():
                        out.append(Target(seed, scenario, name, path))
                    elif models is not None:
                        raise HardwareError(f"{self.dir / path} is missing: the run did not "
                                            f"finish model '{name}'; re-run 'qunlearn run' or "
                                            "leave it out of --models")
        if not out:
            raise HardwareError(f"no trained models found in {self.dir}; run 'qunlearn run' first")
        return out

    def digest(self, target: Target) -> str:
        """SHA-256 of the model's checkpoint file: a re-run model is a different model.

        Args:
            target: A model of the run.

        Returns:
            The hex digest (computed once per file, then cached).
        """
        if target.checkpoint not in self._digests:
            self._digests[target.checkpoint] = sha256_file(self.dir / target.checkpoint)
        return self._digests[target.checkpoint]

    def load(self, checkpoint: str) -> dict[str, Any]:
        """A checkpoint of the run, checked against the manifest's digest before it is parsed
        (models unlearned on hardware are checked against their journal's key on use).

        Args:
            checkpoint: The file, relative to the run directory.

        Returns:
            The stored dictionary (``model`` weights, and ``spec``, ``key`` or ``result``
            depending on the kind of file).

        Raises:
            qiskit_unlearn.storage.FileError: If the file is missing, unreadable, or differs
                from the digest the manifest recorded.
        """
        fix = ("restore it, or delete it and run 'qunlearn run' (or 'qunlearn hw unlearn') "
               "again into a new folder to recompute it")
        return load_torch(self.dir / checkpoint, fix=fix,
                          sha256=self.record.files.get(checkpoint))

    def variant(self, target: Target) -> str:
        """The method variant a model was unlearned with (its ``variant`` parameter).

        Args:
            target: A model of the run.

        Returns:
            The variant, or ``""`` for the references and methods without one.
        """
        if target.model in (ORIGINAL, RETRAIN):
            return ""
        params = self.load(target.checkpoint)["result"].get("params", {})
        return str(params.get("variant", ""))

    def model(self, target: Target) -> torch.nn.Module:
        """The model of ``target`` on the ``statevector`` backend, in evaluation mode.

        Args:
            target: A model of the run.

        Returns:
            The model (built once, then cached).

        Raises:
            HardwareError: If the run's model kind is classical (no circuit to run).
        """
        if target not in self._models:
            from qiskit_unlearn.models import MODELS, build_model

            teacher = self.checkpoint(target.seed, target.scenario, ORIGINAL)
            spec = self.load(teacher)["spec"]
            if MODELS[spec["kind"]].classical:
                raise HardwareError(f"model kind '{spec['kind']}' is classical: it has no "
                                    "circuit to run on a quantum device")
            model = build_model(spec["kind"], **{**spec["kwargs"], "backend": "statevector",
                                                 "backend_options": {}})
            model.load_state_dict(self.load(target.checkpoint)["model"])
            self._models[target] = model.eval()
        return self._models[target]

    def sets(self, seed: int, scenario: str) -> EvalSets:
        """The evaluation sets of ``qunlearn run`` for this seed and scenario.

        Args:
            seed: A run seed.
            scenario: A scenario name.

        Returns:
            The retain, forget, validation, test and non-member sets (see
            :meth:`qiskit_unlearn.run.RunContext.eval_sets`).
        """
        return self.context.eval_sets(seed, scenario)

    def unlearn_data(self, seed: int, scenario: str) -> Any:
        """The ``UnlearnData`` ``qunlearn run`` gave every method for this seed and scenario.

        Args:
            seed: A run seed.
            scenario: A scenario name.

        Returns:
            A :class:`qiskit_unlearn.unlearn.UnlearnData` (retain, forget, selection split).
        """
        return self.context.unlearn_data(seed, scenario)

    def split(self, seed: int, scenario: str, split: str) -> tuple[np.ndarray, np.ndarray]:
        """One evaluation split's arrays.

        Args:
            seed: A run seed.
            scenario: A scenario name.
            split: One of :data:`qiskit_unlearn.hardware.SPLITS`.

        Returns:
            ``(x, y)``: the inputs, shape ``(n, ...)``, and the labels, shape ``(n,)``.
        """
        return self.sets(seed, scenario).split(split)

    def ident(self, seed: int, scenario: str) -> dict[str, Any]:
        """The identifying columns every results row of ``qunlearn run`` starts with.

        Args:
            seed: A run seed.
            scenario: A scenario name.

        Returns:
            The columns of :meth:`qiskit_unlearn.run.RunContext.ident`.
        """
        return self.context.ident(seed, scenario)
