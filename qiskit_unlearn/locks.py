"""Folder locks that die with their process and say who holds them.

A lock is an OS ``flock`` on ``<folder>/.qunlearn.lock``: the kernel drops it when its process
ends, however it ends, so a crash never leaves a stale lock. Exclusive holders (``run``,
``sweep``, ``report``) keep a folder to themselves; shared holders (the ``hw`` commands, which
only read a run) may work side by side. Who holds a folder is kept in
``<folder>/.qunlearn.holders`` (updated under its own brief lock, entries of ended processes
dropped), so a refused process is told the holders' commands, PIDs and hosts.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.storage import utc_now

LOCK_FILE = ".qunlearn.lock"
HOLDERS_FILE = ".qunlearn.holders"
LOCK_FILES = frozenset({LOCK_FILE, HOLDERS_FILE})

Holder = dict[str, Any]


def _cause(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _alive(holder: Holder) -> bool:
    """Whether a holder's process still runs (holders on other hosts are kept)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


class RunLock:
    """An exclusive (or ``shared``) lock on a folder for one command.

    ``wait=True`` blocks until the lock is free (for short critical sections); otherwise a
    busy folder raises :class:`~qiskit_unlearn.errors.RunDirError` at once, naming its holders.
    """

    def __init__(self, directory: Path, command: str, *, shared: bool = False,
                 wait: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.command = command
        self.shared, self.wait = shared, wait
        self._fh: Any = None
        self._me: Holder = {}

    def _update_holders(self, change: Callable[[list[Holder]], list[Holder]]) -> list[Holder]:
        import fcntl

        with open(self.directory / HOLDERS_FILE, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # held for a read and a write
            fh.seek(0)
            try:
                holders = json.loads(fh.read() or "[]")
            except ValueError:
                holders = []
            if not isinstance(holders, list):
                holders = []
            holders = change([h for h in holders if isinstance(h, dict) and _alive(h)])
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(holders))
        return holders

    def holders(self) -> list[Holder]:
        """The processes that hold the folder now (as far as they registered)."""
        try:
            return self._update_holders(lambda holders: holders)
        except OSError:
            return []

    def acquire(self) -> RunLock:
        import fcntl

        try:
            fh = open(self.path, "a+", encoding="utf-8")  # held until release
        except OSError as exc:
            raise RunDirError(f"cannot write to {self.directory} ({_cause(exc)}); pass a folder "
                              "you can write to with --out") from None
        try:
            fcntl.flock(fh.fileno(), (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
                        | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.close()
            who = "; ".join(f"'{h.get('command', '?')}', PID {h.get('pid', '?')} on host "
                            f"{h.get('host', '?')}, since {h.get('since', '?')}"
                            for h in self.holders()) or "a process that did not say who it is"
            raise RunDirError(f"{self.directory} is in use by another process ({who}); wait "
                              "for it to finish, or pass another folder with --out") from None
        self._fh = fh
        self._me = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                    "since": utc_now(), "token": uuid.uuid4().hex}
        me = self._me
        self._update_holders(lambda holders: [*holders, me])
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        import fcntl

        token = self._me.get("token")
        try:
            self._update_holders(lambda holders: [h for h in holders if h.get("token") != token])
        except OSError:
            pass  # the holder list only informs; the lock itself goes with the descriptor
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
