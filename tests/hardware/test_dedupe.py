"""``hw submit`` sends each distinct sample of each distinct model once.

The scenarios ``subset-0.1`` and ``class-0`` of one seed train the same teacher (same training
set) and evaluate the same val and test sets, and one's forget set lies in the other's retain
set: ``--models original`` is one job, one PUB of the teacher's distinct samples, and every
(seed, scenario, model, split) records which rows of that PUB are its samples. Checked on
``fake_manila`` in IBM Runtime local testing mode, and against the exact simulation of the
very values that were sent.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from run_helpers import TINY_IRIS, finished_tiny_run

from qiskit_unlearn.cli.main import main as qunlearn
from qiskit_unlearn.hardware.pubs import model_sha256
from qiskit_unlearn.hardware.runs import FinishedRun
from qiskit_unlearn.hardware.store import JobStore
from qiskit_unlearn.hardware.submit import SubmitRequest, plan_submission

pytestmark = pytest.mark.filterwarnings(
    "ignore:The EstimatorV2 class is deprecated:DeprecationWarning")

TWO_SCENARIOS = TINY_IRIS.replace('[[scenario]]\nkind = "class"',
                                  '[[scenario]]\nkind = "subset"\nfraction = 0.1\n\n'
                                  '[[scenario]]\nkind = "class"')
SCENARIOS = ("subset-0.1", "class-0")
SPLITS = ("retain", "forget", "val", "test", "nonmember")
FAKE = ["--device", "fake_manila", "--shots", "1000", "--seed", "3"]
# metric columns that depend on nothing but the model's logits and the reference models
_RANDOM_OR_TIMED = {"seconds", "retrain_seconds", "rte", "circuit_evaluations"}


def main(args: list[str]) -> int:
    return qunlearn(["hw", *args])


@pytest.fixture(scope="module")
def two_scenarios(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("two"), TWO_SCENARIOS)


@pytest.fixture(scope="module")
def submitted(two_scenarios, tmp_path_factory) -> tuple[Path, list]:
    """The teacher submitted once (local testing mode), with the PUBs that were sent."""
    from qiskit_ibm_runtime import EstimatorV2

    run = tmp_path_factory.mktemp("submitted") / "run"
    shutil.copytree(two_scenarios, run)
    sent, real = [], EstimatorV2.run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EstimatorV2, "run",
                      lambda self, pubs, **kw: sent.append(list(pubs)) or real(self, pubs, **kw))
        assert main(["submit", str(run), *FAKE, "--models", "original", "--yes"]) == 0
    return run, sent


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def _jobs(run: Path) -> list[dict]:
    data = json.loads((run / "hardware" / "jobs.json").read_text())
    return [job for sub in data["submissions"] for job in sub["jobs"]]


def _rows(path: Path, method: str) -> dict[str, dict[str, str]]:
    return {r["scenario"]: r for r in csv.DictReader(path.open()) if r["method"] == method}


def _distinct(run: FinishedRun) -> tuple[int, int]:
    """(sum of the teacher's split sizes over both scenarios, its distinct samples)."""
    xs = [run.split(0, scenario, split)[0] for scenario in SCENARIOS for split in SPLITS]
    return sum(len(x) for x in xs), len(np.unique(np.concatenate(xs), axis=0))


def test_the_shared_teacher_is_one_pub_of_its_distinct_samples(two_scenarios, capsys):
    run = FinishedRun(two_scenarios)
    teachers = run.targets(["original"])
    assert [t.scenario for t in teachers] == list(SCENARIOS)
    assert len({model_sha256(run.model(t)) for t in teachers}) == 1  # one trained model
    asked, distinct = _distinct(run)
    assert distinct < asked

    plan = plan_submission(run, JobStore(two_scenarios), SubmitRequest(
        device="fake_manila", models=["original"], shots=1000, seed=3), network=False)
    ((pub,),) = plan.jobs
    assert pub.num_rows == distinct and plan.cost()["parameter_sets"] == distinct
    assert plan.cost()["parameter_sets_saved"] == asked - distinct
    assert [(g.target.scenario, g.split) for g in pub.groups] == \
        [(s, split) for s in SCENARIOS for split in SPLITS]
    for group in pub.groups:  # every group's rows are its split's samples, in order
        x, _ = run.split(0, group.target.scenario, group.split)
        np.testing.assert_array_equal(pub.samples[list(group.rows)], x)

    assert main(["submit", str(two_scenarios), *FAKE, "--models", "original",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"1 jobs, 1 PUBs on 1 distinct circuit(s), {distinct} parameter sets" in out
    assert f"10 model/split evaluations of {asked} samples on 1 distinct model(s)" in out
    assert f"saves {asked - distinct} parameter sets" in out


def test_fetch_gives_each_scenario_the_exact_metrics_of_the_values_sent(submitted, tmp_path):
    """The device's results, replaced by the exact simulation of the same PUB values, give
    every scenario's teacher row of the simulation: each group's rows are its samples."""
    from qiskit.primitives import StatevectorEstimator

    run = _copy(submitted[0], tmp_path)
    (job,) = _jobs(run)
    ((circuit, observables, values),) = submitted[1][0]
    asked, distinct = _distinct(FinishedRun(run))
    assert job["status"] == "DONE" and values.shape[0] == distinct
    assert [p["num_rows"] for p in job["pubs"]] == [distinct]
    assert len(job["groups"]) == 10 and {g["pub"] for g in job["groups"]} == {0}
    assert sum(len(g["rows"]) for g in job["groups"]) == asked

    simulation = _rows(run / "results.csv", "original")
    assert main(["fetch", str(run)]) == 0  # the noisy fake device: close to the simulation
    noisy = _rows(run / "hardware" / "results.csv", "original")
    assert set(noisy) == set(SCENARIOS)
    for scenario, row in noisy.items():
        assert row["job_id"] == job["job_id"] and row["splits"] == ",".join(SPLITS)
        for split in ("retain", "forget", "val", "test"):
            assert abs(float(row[f"{split}_accuracy"]) -
                       float(simulation[scenario][f"{split}_accuracy"])) <= 0.1

    exact = StatevectorEstimator().run([(circuit, observables, values)]).result()
    JobStore(run).save_result(job["job_id"], exact)
    assert main(["fetch", str(run)]) == 0
    measured = _rows(run / "hardware" / "results.csv", "original")
    for scenario in SCENARIOS:
        row, sim = measured[scenario], simulation[scenario]
        assert row["reference"] == "original: hardware, retrain: simulation"
        columns = [c for c in sim if c in row and c not in _RANDOM_OR_TIMED and
                   c.endswith(("accuracy", "drop", "uqi", "auc", "efficacy", "gap"))]
        assert len(columns) > 10
        for column in columns:
            assert float(row[column]) == pytest.approx(float(sim[column]), abs=1e-4), \
                (scenario, column)


def test_nothing_is_sent_twice_and_a_failed_job_is_sent_again(submitted, tmp_path, capsys):
    run = _copy(submitted[0], tmp_path)
    before = _jobs(run)
    assert main(["submit", str(run), *FAKE, "--models", "original", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "nothing to submit" in out
    assert "10 finished, 0 pending, 0 failed model/split evaluations" in out
    assert _jobs(run) == before

    path = run / "hardware" / "jobs.json"
    data = json.loads(path.read_text())
    data["submissions"][0]["jobs"][0]["status"] = "CANCELLED"
    path.write_text(json.dumps(data))
    assert main(["status", str(run)]) == 0
    assert ("--models original --splits forget,nonmember,retain,test,val --seeds 0 "
            "--scenarios class-0,subset-0.1 --resubmit-failed") in capsys.readouterr().out
    assert main(["submit", str(run), *FAKE, "--models", "original", "--yes",
                 "--resubmit-failed"]) == 0
    first, second = _jobs(run)
    assert second["status"] == "DONE" and second["pubs"] == first["pubs"]
    assert second["groups"] == first["groups"]
    assert main(["fetch", str(run)]) == 0
    rows = _rows(run / "hardware" / "results.csv", "original")
    assert {r["job_id"] for r in rows.values()} == {second["job_id"]}


def test_a_format_1_record_is_read_and_upgraded(submitted, tmp_path, capsys):
    """The previous version wrote one PUB per group holding all of its rows, in order."""
    from qiskit.primitives import PrimitiveResult, PubResult
    from qiskit.primitives.containers import DataBin

    run = _copy(submitted[0], tmp_path)
    assert main(["fetch", str(run)]) == 0
    expected = _rows(run / "hardware" / "results.csv", "original")
    store = JobStore(run)
    data = json.loads(store.path.read_text())
    sub = data["submissions"][0]
    (job,) = sub["jobs"]
    result = store.result(sub, job)
    evs = np.asarray(result[0].data.evs)
    pubs, old = [], []
    for index, group in enumerate(job["groups"]):
        rows = group.pop("rows")
        group.pop("pub")
        old.append({"index": index, **group})
        part = evs[:, rows]
        pubs.append(PubResult(DataBin(evs=part, stds=np.zeros_like(part), shape=part.shape)))
    store.save_result(job["job_id"], PrimitiveResult(pubs))
    del job["groups"]
    job["pubs"] = old
    data["format"] = 1
    store.path.write_text(json.dumps(data))

    assert main(["status", str(run), "--offline"]) == 0
    assert "1 finished, 0 pending, 0 failed" in capsys.readouterr().out
    assert main(["fetch", str(run)]) == 0
    assert _rows(run / "hardware" / "results.csv", "original") == expected
    assert main(["submit", str(run), *FAKE, "--models", "original", "--yes"]) == 0
    assert "nothing to submit" in capsys.readouterr().out
    assert json.loads(store.path.read_text())["format"] == 1  # nothing was written

    store.set_status(job["job_id"], "DONE")  # any change writes the current format
    data = json.loads(store.path.read_text())
    (job,) = data["submissions"][0]["jobs"]
    assert data["format"] == 2 and len(job["pubs"]) == len(job["groups"]) == 10
    assert all(g["rows"] == list(range(g["num_samples"])) for g in job["groups"])
    assert main(["fetch", str(run)]) == 0
    assert _rows(run / "hardware" / "results.csv", "original") == expected
