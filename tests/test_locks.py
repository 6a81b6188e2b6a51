"""Folder locks: exclusive or shared, gone with their process, naming their holders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from qiskit_unlearn.errors import RunDirError
from qiskit_unlearn.locks import HOLDERS_FILE, RunLock


def test_shared_holders_coexist_and_an_exclusive_one_is_told_who_they_are(tmp_path):
    with RunLock(tmp_path, "qunlearn hw status", shared=True), \
            RunLock(tmp_path, "qunlearn hw fetch", shared=True):
        with pytest.raises(RunDirError) as refused:
            RunLock(tmp_path, "qunlearn run").acquire()
        message = str(refused.value)
        assert "'qunlearn hw status', PID" in message and "'qunlearn hw fetch', PID" in message
        assert f"on host {socket.gethostname()}" in message
    with RunLock(tmp_path, "qunlearn run"):  # both released
        with pytest.raises(RunDirError, match="'qunlearn run'"):
            RunLock(tmp_path, "qunlearn hw status", shared=True).acquire()
    assert json.loads((tmp_path / HOLDERS_FILE).read_text()) == []


def test_a_killed_holder_frees_the_folder_and_leaves_no_entry(tmp_path):
    code = ("import os; from qiskit_unlearn.locks import RunLock; "
            f"RunLock({str(tmp_path)!r}, 'qunlearn run').acquire(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    holders = json.loads((tmp_path / HOLDERS_FILE).read_text())
    assert len(holders) == 1 and holders[0]["pid"] != os.getpid()  # it never released
    with RunLock(tmp_path, "qunlearn run") as lock:  # the kernel dropped its lock
        assert [h["command"] for h in lock.holders()] == ["qunlearn run"]
        assert lock.holders()[0]["pid"] == os.getpid()  # the dead entry is gone


def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "absent"
    with pytest.raises(RunDirError, match=f"cannot write to {missing}"):
        RunLock(missing, "qunlearn report").acquire()
