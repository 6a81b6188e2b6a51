"""File utilities: atomic writes, digests, and reads that name the file at fault."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch

from qiskit_unlearn import storage
from qiskit_unlearn.storage import (
    FileError,
    load_torch,
    quarantine,
    read_json,
    save_torch,
    sha256_file,
    write_atomic,
    write_csv,
    write_json,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    write_atomic(path, "old\n")

    def broken(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new\n")
    monkeypatch.undo()
    assert path.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["results.csv"]


def test_csv_json_and_digests(tmp_path):
    write_csv(tmp_path / "t.csv", [{"a": 1, "t": 2}, {"b": 3}], last=["t"])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,t", "1,,2", ",3,"]
    write_json(tmp_path / "v.json", {"x": np.float32(0.5), "y": np.arange(2)})
    assert read_json(tmp_path / "v.json", fix="") == {"x": 0.5, "y": [0, 1]}
    assert sha256_file(tmp_path / "t.csv") == hashlib.sha256(
        (tmp_path / "t.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize("text", ["{broken", "", "\xff\xfe"])
def test_bad_json_is_named_with_the_fix(tmp_path, text):
    path = tmp_path / "jobs.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(FileError, match=f"{path} is unreadable or corrupt .*; restore it") as e:
        read_json(path, fix="restore it")
    assert e.value.path == path
    with pytest.raises(FileError, match=f"{tmp_path / 'gone.json'} is missing; restore it"):
        read_json(tmp_path / "gone.json", fix="restore it")


def test_checkpoints_are_checked_against_their_digest_before_parsing(tmp_path):
    path = tmp_path / "m.pt"
    digest = save_torch({"w": torch.ones(3)}, path)
    assert digest == sha256_file(path)
    assert torch.equal(load_torch(path, fix="", sha256=digest)["w"], torch.ones(3))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(FileError, match=f"{path} is corrupt: its SHA-256 does not match"):
        load_torch(path, fix="delete it", sha256=digest)
    with pytest.raises(FileError, match=f"{path} is not a readable checkpoint.*; delete it"):
        load_torch(path, fix="delete it")


def test_quarantine_keeps_every_bad_copy(tmp_path):
    for n in range(3):
        (tmp_path / "e.pt").write_text(str(n))
        quarantine(tmp_path / "e.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pt.corrupt", "e.pt.corrupt2",
                                                          "e.pt.corrupt3"]
