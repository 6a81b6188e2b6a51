"""The tracker registry and credential redaction: no tracking package needed."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from qiskit_unlearn.tracking import TRACKERS, Tracker, TrackingError, make_tracker, redact
from qiskit_unlearn.tracking.base import one_line


@pytest.mark.parametrize(("text", "expected"), [
    ("http://alice:s3cret@mlflow.example:5000", "http://***@mlflow.example:5000"),
    ("https://token123@host/path", "https://***@host/path"),
    ("postgresql+psycopg2://user:pw@db:5432/mlflow", "postgresql+psycopg2://***@db:5432/mlflow"),
    ("API request to http://a:b@h/api/2.0/x failed; see http://c:d@h2",
     "API request to http://***@h/api/2.0/x failed; see http://***@h2"),
    ("mysql://db/x?user=u&password=hunter2&ssl=1", "mysql://db/x?user=u&password=***&ssl=1"),
    ("https://h/?token=abc", "https://h/?token=***"),
    ("sqlite:////tmp/mlruns/mlflow.db", "sqlite:////tmp/mlruns/mlflow.db"),
    ("http://mlflow.example:5000", "http://mlflow.example:5000"),
])
def test_credentials_in_uris_are_redacted(text, expected):
    assert redact(text) == expected


def test_messages_become_one_redacted_line():
    text = "failed at http://u:secret@h:5000\n\nThe cause of this error is\n  typically"
    line = one_line(text)
    assert "\n" not in line and "secret" not in line and line.startswith("failed at http://***@")
    assert len(one_line("x" * 1000)) == 400


def test_an_unknown_tracker_names_the_registered_ones():
    with pytest.raises(TrackingError, match=r"unknown tracker 'wandb'; choose one of: mlflow"):
        make_tracker("wandb")


def test_every_entry_is_a_tracker_with_its_extra():
    assert TRACKERS.names() == ["mlflow"]
    for name, cls in TRACKERS.items():
        tracker = make_tracker(name, uri="sqlite:////tmp/x.db", experiment="e")
        assert isinstance(tracker, Tracker) and cls.name == name
        assert f'pip install "qiskit-unlearn[{cls.extra}]"' in tracker.install_hint
        assert 'pip install -e ".[' in tracker.install_hint


def test_the_guide_lists_exactly_the_registered_trackers():
    guide = Path(__file__).resolve().parents[2] / "docs" / "guides" / "tracking.md"
    lines = guide.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| tracker | extra |"))
    rows = [[c.strip().strip("`") for c in line.strip("|").split("|")]
            for line in itertools.takewhile(lambda x: x.startswith("|"), lines[start + 2:])]
    assert {name: extra for name, extra, *_ in rows} == {
        name: cls.extra for name, cls in TRACKERS.items()}
