"""The shared argument checks: one wording, each caller's own error class."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qiskit_unlearn.ansatz.base import AnsatzError
from qiskit_unlearn.ansatz.base import check_int as ansatz_check_int
from qiskit_unlearn.backends.base import BackendError
from qiskit_unlearn.backends.noise import check_int as option_check_int
from qiskit_unlearn.data.idx import DataError
from qiskit_unlearn.data.idx import check_int as data_check_int
from qiskit_unlearn.storage import utc_stamp
from qiskit_unlearn.validation import check_int


@pytest.mark.parametrize(("kwargs", "rule"), [({"low": 1}, ">= 1"), ({"high": 4}, "<= 4"),
                                              ({"low": 0, "high": 4}, "in [0, 4]"), ({}, "")])
def test_check_int_names_the_argument_and_the_rule(kwargs, rule):
    assert check_int(np.int64(2), "reps", **kwargs) == 2
    expected = re.escape(f"reps must be an integer{' ' + rule if rule else ''}, got")
    for bad in (True, 2.0, "2"):
        with pytest.raises(ValueError, match=expected):
            check_int(bad, "reps", **kwargs)


def test_out_of_range_values_are_refused_with_the_callers_error():
    with pytest.raises(KeyError):
        check_int(0, "n", low=1, error=KeyError)
    with pytest.raises(AnsatzError, match="reps must be an integer >= 1, got 0"):
        ansatz_check_int(0, "reps", 1)
    with pytest.raises(DataError, match="samples must be an integer >= 1, got -3"):
        data_check_int(-3, "samples")
    with pytest.raises(BackendError, match=r"option 'seed' must be an integer >= 0, got -1"):
        option_check_int("seed", -1, low=0)


def test_utc_stamp_is_file_name_safe():
    stamp = utc_stamp()
    assert len(stamp) == 16 and stamp.endswith("Z") and stamp[8] == "T" and stamp[:8].isdigit()
