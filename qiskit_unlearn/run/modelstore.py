"""Where a run's models come from: the run directory, the shared cache, or fresh work.

Every model is named by a digest of everything that determines it (model arguments, training
settings and the exact arrays it is trained and selected on), so reusing one is safe:

* a finished model file in the run directory (``checkpoints/<tag>.pt``,
  ``unlearned/<tag>.pt``) whose stored key matches is reused as is (a resumed run); its digest
  in the manifest is checked first, and a corrupt file stops the run with its name, because a
  run directory is a record that must not be silently rewritten;
* a model in the shared cache (``~/.cache/qiskit-unlearn/models``) is reused across runs; a
  corrupt cache entry is moved aside (``*.corrupt``) with a :class:`CacheWarning` and the model
  is trained again: a cache is never a reason for a run to fail;
* otherwise the model is trained, resuming from its per-epoch checkpoint if one exists.

Every path returns the same summary, cost included (``circuit_evaluations``, seconds), so a
resumed or re-run experiment reports what an uninterrupted one would.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qiskit_unlearn.run.context import selection_split
from qiskit_unlearn.run.models import model_kwargs
from qiskit_unlearn.run.rundir import Manifest
from qiskit_unlearn.storage import FileError, digest, json_safe, load_torch, quarantine, save_torch

#: Bump when the meaning of a cached file changes (old entries are then never read).
CACHE_VERSION = 1
_RUN_FILE_FIX = ("delete it and run the same command again to recompute that model (or pass a "
                 "new folder with --out)")


class CacheWarning(UserWarning):
    """The model cache could not be used for one model; the run goes on without it."""


def default_cache_dir() -> Path:
    """The shared model cache's default folder.

    Returns:
        ``$XDG_CACHE_HOME/qiskit-unlearn/models``, or ``~/.cache/qiskit-unlearn/models`` when
        ``XDG_CACHE_HOME`` is unset or empty.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qiskit-unlearn" / "models"


class ModelCache:
    """Trained models shared between runs, one file per key; failures only warn.

    A cache is never a reason for a run to fail: an unreadable entry is moved aside and an
    unwritable folder skipped, each with a :class:`CacheWarning`.

    Args:
        directory: The cache folder (e.g. :func:`default_cache_dir`); ``None`` disables the
            cache (nothing is read or written).
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    def path(self, key: str) -> Path | None:
        """The file of a model key.

        Args:
            key: The model's key (a hex digest of everything that determines it); its first
                24 characters name the file.

        Returns:
            ``<directory>/<key[:24]>.pt``, or ``None`` when the cache is disabled.
        """
        return None if self.directory is None else self.directory / f"{key[:24]}.pt"

    def get(self, key: str, model: torch.nn.Module) -> dict[str, Any] | None:
        """Load the cached weights into ``model`` and return their summary, or ``None``.

        A corrupt entry is moved aside (``*.corrupt``) with a :class:`CacheWarning`, and
        ``None`` is returned so the model is trained again.

        Args:
            key: The model's key.
            model: A freshly built model of the same architecture; the cached weights are
                loaded into it in place.

        Returns:
            The training summary stored with the weights, or ``None`` when the cache is
            disabled, has no such entry, or the entry is unusable.
        """
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            state = load_torch(path, fix="")
            model.load_state_dict(state["model"])
            result = state["result"]
            if not isinstance(result, dict):
                raise TypeError("no training summary")
        except (FileError, KeyError, TypeError, RuntimeError) as exc:
            self._set_aside(path, exc)
            return None
        return result

    def _set_aside(self, path: Path, exc: Exception) -> None:
        try:
            moved = f"moved it to {quarantine(path)}"
        except OSError as err:
            moved = f"could not move it aside ({err}); delete it by hand"
        detail = str(exc).split(";")[0]
        warnings.warn(f"model cache entry {path} is unusable ({detail}); {moved} and training "
                      "the model again", CacheWarning, stacklevel=3)

    def put(self, key: str, model: torch.nn.Module, summary: Mapping[str, Any]) -> None:
        """Store a trained model's weights and summary under ``key`` (atomically).

        Does nothing when the cache is disabled; a failed write only warns
        (:class:`CacheWarning`).

        Args:
            key: The model's key.
            model: The trained model; its ``state_dict`` is stored.
            summary: The training summary returned later by :meth:`get`.
        """
        path = self.path(key)
        if path is None:
            return
        try:
            save_torch({"model": model.state_dict(), "result": dict(summary)}, path)
        except OSError as exc:
            warnings.warn(f"could not write the model cache entry {path} ({exc}); the run goes "
                          "on without caching this model", CacheWarning, stacklevel=3)


def training_key(cfg: Mapping[str, Any], data: Mapping[str, Any],
                 train_xy: tuple[np.ndarray, np.ndarray], seed: int
                 ) -> tuple[dict[str, Any], Any, str]:
    """The model's constructor arguments, its training settings and the key naming everything
    that determines the trained model (arguments, settings, the exact arrays)."""
    from qiskit_unlearn.train import TrainConfig

    kwargs = model_kwargs(cfg, data["num_classes"], data["train"][0].shape[1:], seed)
    tcfg = TrainConfig(seed=seed, **cfg["train"])
    select = selection_split(cfg, data)
    key = digest(CACHE_VERSION, cfg["model"]["kind"], kwargs, asdict(tcfg), train_xy[0],
                 train_xy[1], select[0], select[1])
    return kwargs, tcfg, key


def train_model(cfg: Mapping[str, Any], data: Mapping[str, Any],
                train_xy: tuple[np.ndarray, np.ndarray], seed: int, *,
                checkpoint: Path | None = None, progress: bool = False, description: str = "",
                cache: ModelCache | None = None
                ) -> tuple[torch.nn.Module, dict[str, Any], str, str]:
    """Train the config's model on ``train_xy`` (best epoch on the selection split), or take it
    from ``cache``; returns the model, its training summary, where it came from and its key.
    A unit of work: it writes nothing but the per-epoch ``checkpoint`` (when given)."""
    from qiskit_unlearn.models import build_model
    from qiskit_unlearn.train import train

    kwargs, tcfg, key = training_key(cfg, data, train_xy, seed)
    model = build_model(cfg["model"]["kind"], **kwargs)
    cached = cache.get(key, model) if cache is not None else None
    if cached is not None:
        return model, cached, "cache", key
    result = train(model, train_xy, selection_split(cfg, data), tcfg, checkpoint=checkpoint,
                   progress=progress, description=description, fingerprint=key)
    summary = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "best_val_accuracy": result.best_val_accuracy,
               "train_seconds": result.seconds,
               "resumed_from_epoch": result.resumed_from_epoch,
               "history": result.history,
               "circuit_evaluations": result.circuit_evaluations}
    return model, summary, "trained", key


def unlearned_result(outcome: Any, circuits: int) -> dict[str, Any]:
    """What a run keeps of an :class:`~qiskit_unlearn.unlearn.UnlearnOutcome` (JSON data)."""
    return json_safe({"params": outcome.params, "seconds": outcome.seconds,
                      "info": outcome.info, "curve": outcome.curve,
                      "circuit_evaluations": circuits})


def _no_note(text: str) -> None:
    """Report that a finished model was reused; by default the text is dropped.

    Args:
        text: One line naming the model and where it was found.
    """


@dataclass
class ModelStore:
    """The models of one run directory (``root``), indexed in its ``manifest``: finding a
    finished one (this run's file, another run's, the cache) and recording a new one. Only the
    driver of a run uses it; the units of work train and unlearn.

    Attributes:
        root: The run directory; model files are ``checkpoints/<tag>.pt`` and
            ``unlearned/<tag>.pt`` below it.
        manifest: The run's :class:`Manifest`, which indexes every model file by
            its SHA-256.
        cache: The shared model cache (disabled with ``ModelCache(None)``).
        progress: Whether progress bars are shown.
        _memo: Models recorded by this store, by key (weights and summary); internal, so a
            model shared by two tags is loaded once.

    Args:
        note: Called with one line of text whenever a finished model is reused (the run's log
            and console); the default drops it.
    """

    root: Path
    manifest: Manifest
    cache: ModelCache
    progress: bool = False
    note: Callable[[str], None] = _no_note
    _memo: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

    def _load_run_file(self, relative: str) -> dict[str, Any] | None:
        """A finished model file of this run (digest-checked), or ``None`` if absent."""
        path = self.root / relative
        if not path.is_file():
            return None
        state = load_torch(path, fix=_RUN_FILE_FIX, sha256=self.manifest.expected(relative))
        if self.manifest.expected(relative) is None:  # written, then killed before indexing
            self.manifest.record(relative)
        return state

    def _save_run_file(self, relative: str, obj: Mapping[str, Any]) -> None:
        self.manifest.record(relative, save_torch(dict(obj), self.root / relative))

    def find_trained(self, role: str, key: str, tag: str, model: torch.nn.Module
                     ) -> tuple[dict[str, Any], str] | None:
        """Find the finished model ``key``: in this run's memo, its finished file
        ``checkpoints/<tag>.pt``, or the cache.

        A file of this run holding another model stops the run: a run directory is a record
        and is never silently rewritten.

        Args:
            role: The model's role (``teacher``, ``oracle``, ``fq-oracle<j>``), for the note.
            key: The model's key (from the config and the exact training arrays).
            tag: The model's name in the run directory (``<scenario>-seed<s>-<role>``).
            model: A freshly built model; the found weights are loaded into it in place.

        Returns:
            ``(summary, source)`` with ``source`` one of ``"shared"`` (recorded earlier under
            another tag), ``"run directory"`` or ``"cache"``; ``None`` if it must be trained.

        Raises:
            qiskit_unlearn.storage.FileError: If ``checkpoints/<tag>.pt`` is corrupt (its digest
                differs from the manifest's) or holds a model with another key.
        """
        if key in self._memo:
            state, summary = self._memo[key]
            model.load_state_dict(state)
            return summary, "shared"
        final = f"checkpoints/{tag}.pt"
        stored = self._load_run_file(final)
        if stored is not None and stored.get("key") == key and "result" in stored:
            model.load_state_dict(stored["model"])
            self.note(f"{role}: reused the finished model {final}")
            return stored["result"], "run directory"
        if stored is not None:
            raise FileError(f"{self.root / final} holds another model than this config trains "
                            f"(its key differs); {_RUN_FILE_FIX}", self.root / final)
        cached = self.cache.get(key, model)
        return (cached, "cache") if cached is not None else None

    def record_trained(self, key: str, tag: str, model: torch.nn.Module,
                       summary: Mapping[str, Any], source: str, *, keep: bool = True
                       ) -> dict[str, Any]:
        """Remember a trained (or found) model: the cache, the memo, and (``keep``) the run's
        ``checkpoints/<tag>.pt``.

        Args:
            key: The model's key.
            tag: The model's name in the run directory.
            model: The model with its trained weights.
            summary: Its training summary (best epoch, history, seconds, circuit evaluations).
            source: Where it came from: ``"trained"`` (then it is also written to the cache),
                ``"cache"``, ``"run directory"`` or ``"shared"``.
            keep: Whether the run directory keeps the model file (forgetting-quality models
                are not kept); an existing file is never rewritten.

        Returns:
            ``summary`` with ``source``, ``cache`` (``hit``, ``miss`` or the source) and
            ``cache_key`` (the key's first 24 characters): what the manifest records.
        """
        if source == "trained":
            self.cache.put(key, model, summary)
        self._memo[key] = ({k: v.detach().clone() for k, v in model.state_dict().items()},
                           dict(summary))
        final = f"checkpoints/{tag}.pt"
        if keep and not (self.root / final).is_file():
            self._save_run_file(final, {"model": model.state_dict(), "spec": model.spec,
                                        "key": key, "result": json_safe(dict(summary))})
        return {**summary, "source": source, "cache": _cache_column(source),
                "cache_key": key[:24]}

    def find_unlearned(self, method: str, key: str, tag: str, donors: tuple[Path, ...] = ()
                       ) -> dict[str, Any] | None:
        """The finished result of ``method``: this run's ``unlearned/<tag>.pt``, or a donor run
        directory's file with the same key (copied into this run).

        Args:
            method: The unlearning method, for the note.
            key: The key of the method's result (its teacher, the method, its parameters, the
                seed and the forget set).
            tag: The result's name (``<scenario>__seed<s>__<method>``).
            donors: Other run directories whose finished results may be reused; damaged or
                mismatching donor files are skipped.

        Returns:
            The stored state (``key``, ``model`` weights, ``result``), or ``None`` if the
            method must run.

        Raises:
            qiskit_unlearn.storage.FileError: If this run's file is corrupt or holds the
                result of other settings.
        """
        relative = f"unlearned/{tag}.pt"
        state = self._load_run_file(relative)
        if state is not None and state.get("key") != key:
            raise FileError(f"{self.root / relative} holds the result of other settings than "
                            f"this config's (its key differs); {_RUN_FILE_FIX}",
                            self.root / relative)
        source = "run directory"
        if state is None:
            state = self._from_donor(relative, key, donors)
            source = "shared run"
        if state is not None:
            self.note(f"{method}: reused the finished result {relative} ({source})")
        return state

    def record_unlearned(self, key: str, tag: str, state: Mapping[str, Any],
                         result: Mapping[str, Any]) -> None:
        """Write a method's finished result to ``unlearned/<tag>.pt`` (indexed).

        Args:
            key: The key of the method's result.
            tag: The result's name (``<scenario>__seed<s>__<method>``).
            state: The unlearned model's ``state_dict``.
            result: What the run keeps of the outcome (parameters, seconds, info, curve,
                circuit evaluations).
        """
        self._save_run_file(f"unlearned/{tag}.pt", {"key": key, "model": dict(state),
                                                    "result": dict(result)})

    def _from_donor(self, relative: str, key: str, donors: tuple[Path, ...]
                    ) -> dict[str, Any] | None:
        for donor in donors:
            path = Path(donor) / relative
            if not path.is_file():
                continue
            try:
                state = load_torch(path, fix="")
            except FileError:
                continue  # the donor's own run reports its damaged file; compute it here
            if state.get("key") == key:
                self._save_run_file(relative, state)
                return state
        return None


def _cache_column(source: str) -> str:
    return {"cache": "hit", "trained": "miss"}.get(source, source)
