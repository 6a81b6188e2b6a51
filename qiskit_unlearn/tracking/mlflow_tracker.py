"""MLflow (``--track mlflow``): where to log, checked before any work, and logging a
finished folder once.

The layout of the runs (a parent run per run directory with nested runs per result row, a
sweep's settings nested under the sweep) is ``tracking.mlflow_runs``'s.
Everything goes through :class:`mlflow.tracking.MlflowClient` with explicit run ids, so nothing
touches (or is touched by) a caller's active fluent run. A top run tagged with the folder's
identity and FINISHED means "already logged" (skipped); an unfinished one is an interrupted
attempt, deleted with its nested runs before the folder is logged again.

The default store is ``sqlite:///<cwd>/mlruns/mlflow.db``: MLflow 3 refuses the plain file
store unless ``MLFLOW_ALLOW_FILE_STORE=true`` (it is in maintenance mode). A SQLite store keeps
new experiments' artifacts in ``artifacts/`` beside its database file, not in the current
folder. ``mlflow`` itself is imported only by :meth:`MlflowTracker.check` and
:meth:`MlflowTracker.log`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from qiskit_unlearn.tracking.base import (
    Tracker,
    TrackingError,
    one_line,
    redact,
    register_tracker,
)
from qiskit_unlearn.tracking.mlflow_runs import IDENTITY, ROOT, RunWriter
from qiskit_unlearn.tracking.records import Tracked

DEFAULT_DIR, DB_FILE, ARTIFACTS = "mlruns", "mlflow.db", "artifacts"
_NO_URLS = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


def default_uri(cwd: Path | None = None) -> str:
    """``sqlite:///<cwd>/mlruns/mlflow.db``, absolute, so the store does not move with the
    current folder."""
    return f"sqlite:///{((cwd or Path.cwd()) / DEFAULT_DIR / DB_FILE).resolve().as_posix()}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URI (None: another scheme, or in memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep MLflow's own output off the terminal while logging: Alembic's and MLflow's INFO
    lines on migrations, and the "View run at URL" line MLflow writes to stdout for every run
    ended on a server, with the URI's credentials in it."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    saved = os.environ.get(_NO_URLS)
    os.environ[_NO_URLS] = "true"
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        if saved is None:
            os.environ.pop(_NO_URLS, None)
        else:
            os.environ[_NO_URLS] = saved


@register_tracker("mlflow")
class MlflowTracker(Tracker):
    """Logs to MLflow (``--track mlflow``); see the module docstring for the layout.

    Args:
        uri: A tracking URI; None: ``$MLFLOW_TRACKING_URI``, else :func:`default_uri`.
        experiment: The experiment; None: the logged config's ``experiment.name``.
    """

    extra = "mlflow"

    def __init__(self, uri: str | None = None, experiment: str | None = None) -> None:
        super().__init__(uri, experiment)
        env = os.environ.get("MLFLOW_TRACKING_URI", "")
        self.source = ("--tracking-uri" if uri is not None else
                       "MLFLOW_TRACKING_URI" if env else "the default store")
        self.uri = uri if uri is not None else env or default_uri()

    def describe(self) -> str:
        """The resolved tracking URI, for messages.

        Returns:
            The URI with any credentials redacted.
        """
        return redact(self.uri)

    def check(self) -> None:
        try:
            import mlflow.tracking  # noqa: F401  (the real import: a broken install fails here)
        except ImportError as exc:
            missing = (exc.name or "mlflow").split(".")[0] == "mlflow"
            broken = "" if missing else f" (installed, but: {exc})"
            raise TrackingError(f"--track mlflow needs the mlflow package{broken}; install it "
                                f"with: {self.install_hint}") from None
        where = f"{self.source} {self.describe()}"
        if not self.uri.strip():
            raise TrackingError(f"{self.source} is empty; pass a tracking URI such as "
                                "sqlite:///mlruns/mlflow.db or http://HOST:5000")
        from mlflow.utils.uri import get_uri_scheme

        try:
            scheme = get_uri_scheme(self.uri)
        except Exception as exc:
            raise TrackingError(f"{where} is not a tracking URI MLflow understands "
                                f"({one_line(exc)})") from None
        if scheme in ("", "file"):
            try:
                from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
            except ImportError:  # pragma: no cover - an MLflow that still takes file stores
                return
            if not MLFLOW_ALLOW_FILE_STORE.get():
                raise TrackingError(
                    f"{where} is a plain file store, which MLflow 3 refuses (maintenance mode); "
                    "use a database file instead, e.g. --tracking-uri sqlite:///mlruns/"
                    "mlflow.db, or set MLFLOW_ALLOW_FILE_STORE=true")
            return
        self._check_scheme(where)
        db = sqlite_path(self.uri)
        if scheme == "sqlite" and not all(importlib.util.find_spec(m)
                                          for m in ("sqlalchemy", "alembic")):
            raise TrackingError(f"the SQLite store {where} needs SQLAlchemy and Alembic, which "
                                f"mlflow-skinny lacks; install the full package with: "
                                f"{self.install_hint}")
        if db is not None and db.is_dir():
            raise TrackingError(f"{where} names a folder, not a database file; use "
                                f"sqlite:///{(db / DB_FILE).as_posix()}")

    def _check_scheme(self, where: str) -> None:
        """Ask MLflow's store registry (plugins included) whether it knows the scheme."""
        try:
            from mlflow.tracking._tracking_service.utils import _tracking_store_registry
        except ImportError:  # pragma: no cover - a private module; then MLflow says it later
            return
        try:
            _tracking_store_registry.get_store_builder(self.uri)
        except Exception:
            schemes = sorted(s for s in getattr(_tracking_store_registry, "_registry", {}) if s)
            raise TrackingError(f"{where}: MLflow has no tracking store for this scheme; use "
                                f"one of: {', '.join(schemes)} (e.g. sqlite:///mlruns/mlflow.db "
                                "or http://HOST:5000)") from None

    def log(self, tracked: Tracked, echo: Callable[[str], Any] = print) -> str:
        try:
            with _quiet():
                return self._log(tracked, echo)
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(f"{type(exc).__name__}: {one_line(exc)}") from exc

    def _log(self, tracked: Tracked, echo: Callable[[str], Any]) -> str:
        from mlflow.tracking import MlflowClient

        db = sqlite_path(self.uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        client = MlflowClient(tracking_uri=self.uri)
        name = self.experiment or tracked.config_name
        experiment = self._experiment(client, name, db)
        done = [r for r in _search(client, experiment, f"tags.`{IDENTITY}` = "
                                                       f"'{tracked.identity}'")
                if r.info.status == "FINISHED"]
        if done:
            echo(f"mlflow: {tracked.directory} is already logged (run {done[0].info.run_id} in "
                 f"experiment {name!r}); nothing was logged")
            return done[0].info.run_id
        stale = _search(client, experiment, f"tags.`{ROOT}` = '{tracked.identity}'")
        for run in stale:
            client.delete_run(run.info.run_id)
        if stale:
            echo(f"mlflow: deleted {len(stale)} runs left by an interrupted attempt to log "
                 f"{tracked.directory}")
        run_id = RunWriter(client, experiment, tracked.identity).run(tracked)
        runs, rows = tracked.count()
        settings = f"{runs - 1} setting runs, " if tracked.children else ""
        echo(f"mlflow: logged {tracked.directory} as run {run_id} in experiment {name!r} "
             f"({settings}{rows} result rows) at {self.describe()}")
        if db is not None:
            echo(f"mlflow: view it with: mlflow ui --backend-store-uri {self.uri}")
        elif self.uri.startswith(("http://", "https://")):
            echo(f"mlflow: {_browser_url(self.uri)}/#/experiments/{experiment}/runs/{run_id}")
        return run_id

    def _experiment(self, client: Any, name: str, db: Path | None) -> str:
        """The id of experiment ``name``, created if new (a SQLite store's artifacts beside
        its database, not in the current folder)."""
        found = client.get_experiment_by_name(name)
        if found is None:
            location = (db.parent.resolve() / ARTIFACTS).as_uri() if db is not None else None
            try:
                return client.create_experiment(name, artifact_location=location)
            except Exception:
                found = client.get_experiment_by_name(name)  # created meanwhile by another
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise TrackingError(
                f"experiment {name!r} is deleted in {self.describe()}; restore it (mlflow "
                f"experiments restore --experiment-id {found.experiment_id}) or pass another "
                "--experiment")
        return found.experiment_id


def _browser_url(uri: str) -> str:
    """A server URI without credentials or query, as a link to open."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"),
                       "", ""))


def _search(client: Any, experiment: str, query: str) -> list[Any]:
    """Every active run of ``experiment`` matching ``query`` (all pages)."""
    out: list[Any] = []
    token = None
    while True:
        page = client.search_runs([experiment], filter_string=query, max_results=1000,
                                  page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out
