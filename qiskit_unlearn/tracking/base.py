"""The tracker contract, its registry, and the message hygiene every tracker shares.

A tracker logs a ``Tracked`` (what a finished run or sweep directory records, read by
``tracking.records``) to a tracking service. It is checked before any work
(:meth:`Tracker.check`: its package is importable and its target makes sense), so a missing
extra or a mistyped URI fails in seconds instead of after hours of training. Nothing here
imports a tracking package: each entry does that lazily.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from qiskit_unlearn.registry import Registry

if TYPE_CHECKING:
    from qiskit_unlearn.tracking.records import Tracked

#: ``scheme://user:password@`` (or a bare token before ``@``) in a URI or a message.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s]+)@")
#: Credentials passed as query parameters (``?password=...``, ``&token=...``).
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|token|access_token|secret|api_key|apikey)=)[^&;\s]+",
    re.IGNORECASE)


class TrackingError(ValueError):
    """Tracking cannot be set up or failed; the message says why and what to do, and never
    contains credentials."""


def redact(text: str) -> str:
    """``text`` with the credentials of every URI in it replaced by ``***``.

    Messages quote tracking URIs (and the errors of tracking clients quote them back), and a
    URI may carry ``user:password@`` or a token; those must never reach a terminal or a log.

    Args:
        text: A URI or a message that may contain URIs.

    Returns:
        The text with ``user:password@`` and secret query values replaced by ``***``.
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}***", text)


def one_line(text: str, limit: int = 400) -> str:
    """A message as one redacted line (tracking clients raise multi-line messages; the CLI
    prints every error as one line)."""
    line = " ".join(redact(str(text)).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


class Tracker(ABC):
    """One tracking service; entries of :data:`TRACKERS` are subclasses.

    Args:
        uri: Where to log (a tracker-specific URI); None picks the tracker's default.
        experiment: The experiment (or project) to log into; None: the config's name.
    """

    #: The name ``--track`` takes.
    name: ClassVar[str]
    #: The optional dependency (``pip install "qiskit-unlearn[<extra>]"``) it needs.
    extra: ClassVar[str]

    def __init__(self, uri: str | None = None, experiment: str | None = None) -> None:
        self.requested_uri = uri
        self.experiment = experiment

    @property
    def install_hint(self) -> str:
        """How to install what this tracker needs, for error messages."""
        return (f'pip install "qiskit-unlearn[{self.extra}]" (from a source checkout: '
                f'pip install -e ".[{self.extra}]")')

    @abstractmethod
    def check(self) -> None:
        """Fail now, before any training, if logging cannot work: the package is missing or
        the target is malformed. Creates nothing.

        Raises:
            TrackingError: With the fix (the install command, a valid URI form).
        """

    @abstractmethod
    def log(self, tracked: Tracked, echo: Callable[[str], Any] = print) -> str:
        """Log ``tracked`` unless the target already holds it; never writes into its folder.

        Args:
            tracked: A finished run or sweep, as read by :func:`read_directory`.
            echo: Receives one line per notable event (skipped, replaced, logged).

        Returns:
            The id of the tracker's top-level record (new, or the existing one when skipped).

        Raises:
            TrackingError: When logging failed (message redacted, one line).
        """

    def describe(self) -> str:
        """Where this tracker logs, for messages.

        Returns:
            The target with any credentials redacted.
        """
        return redact(self.requested_uri or "(default)")


#: Trackers by the name ``--track`` takes.
TRACKERS: Registry[type[Tracker]] = Registry("tracker", TrackingError)


def register_tracker(name: str) -> Callable[[type[Tracker]], type[Tracker]]:
    """Register a :class:`Tracker` subclass, the one step of adding a tracker.

    Args:
        name: The name ``--track`` takes (also set as the class's ``name``).

    Returns:
        A class decorator that registers the class and returns it unchanged.
    """

    def decorator(cls: type[Tracker]) -> type[Tracker]:
        cls.name = name
        return TRACKERS.add(name, cls)

    return decorator


def make_tracker(name: str, uri: str | None = None, experiment: str | None = None) -> Tracker:
    """The tracker registered as ``name``, not yet checked.

    Args:
        name: A name of :data:`TRACKERS` (``"mlflow"``).
        uri: Where to log; None: the tracker's default.
        experiment: The experiment to log into; None: the logged config's name.

    Returns:
        The tracker; call :meth:`Tracker.check` before any long work.

    Raises:
        TrackingError: For an unknown name, listing the registered ones.
    """
    return TRACKERS.lookup(name)(uri=uri, experiment=experiment)
