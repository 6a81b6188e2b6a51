"""MLflow's limits: key characters, value lengths and batch sizes, on a real local store."""

from __future__ import annotations

import dataclasses

import pytest
from tracking_helpers import all_runs, top_runs

from qiskit_unlearn.tracking import read_directory
from qiskit_unlearn.tracking.mlflow_runs import mlflow_keys
from qiskit_unlearn.tracking.mlflow_tracker import MlflowTracker

pytest.importorskip("mlflow")


def test_keys_keep_to_the_characters_mlflow_accepts_and_stay_distinct():
    assert mlflow_keys({"unlearn.params.neggrad+.lr": 1, "unlearn.params.neggrad_.lr": 2,
                        "a:b/c": 3, ".": 4, "model.kind": 5}) == {
        "unlearn.params.neggrad_.lr": 1, "unlearn.params.neggrad_.lr_2": 2, "a_b_c": 3,
        "_.": 4, "model.kind": 5}
    long = mlflow_keys({"k" * 300: 1, "k" * 301: 2}, limit=250)
    assert [len(k) for k in long] == [250, 250] and len(set(long)) == 2


def test_long_values_are_cut_and_many_parameters_are_sent_in_batches(tiny_run, store):
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

    tracked = read_directory(tiny_run)
    many = {f"extra.p{i:03d}": str(i) for i in range(2 * MAX_PARAMS_TAGS_PER_BATCH + 7)}
    tracked = dataclasses.replace(tracked, params={
        **tracked.params, **many, "extra.long": "x" * (MAX_PARAM_VAL_LENGTH + 500),
        "unlearn.params.neggrad+.lr": "0.01"})
    MlflowTracker(store).log(tracked, lambda _: None)
    [parent] = top_runs(all_runs(store, "tiny-hw"))
    params = parent.data.params
    assert len(params) == len(tracked.params)
    assert all(params[k] == v for k, v in many.items())
    assert len(params["extra.long"]) == MAX_PARAM_VAL_LENGTH
    assert params["extra.long"].endswith("...[truncated]")
    assert params["unlearn.params.neggrad_.lr"] == "0.01"
