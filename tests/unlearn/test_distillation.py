"""SCRUB, SCRUB+R and bad teaching on the 2-qubit Iris hybrid (class-0 forgetting)."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import changes_weights_on_hybrid_cnn, same_weights, snapshot

from qiskit_unlearn.train import evaluate
from qiskit_unlearn.unlearn import UnlearnData, UnlearnError, unlearn
from qiskit_unlearn.unlearn.distillation import distill_kl

# The retrained oracle of this 2-qubit model reaches 0.85 retain accuracy against the teacher's
# 0.92, so forgetting a whole class may cost a little more than that, but no more than this.
RETAIN_MARGIN = 0.2


@pytest.mark.parametrize("method", ["scrub", "bad-teacher"])
def test_forgets_class_keeps_retain_and_leaves_teacher(class_setup, method):
    before = snapshot(class_setup.teacher)
    out = unlearn(method, class_setup.teacher, class_setup.data())
    assert same_weights(before, snapshot(class_setup.teacher))
    assert class_setup.accuracy(class_setup.teacher, "forget") > 0.9
    assert class_setup.accuracy(out.model, "forget") < 0.5
    assert class_setup.accuracy(out.model, "retain") >= \
        class_setup.accuracy(class_setup.teacher, "retain") - RETAIN_MARGIN
    assert len(out.curve) == out.params["epochs"]


def _mean_kl(student: torch.nn.Module, teacher: torch.nn.Module, x, temperature: float) -> float:
    with torch.no_grad():
        xs = torch.as_tensor(x, dtype=torch.float32)
        return float(distill_kl(student(xs), teacher(xs), temperature))


def test_scrub_hqml_variant_pushes_forget_away_and_keeps_retain_close(class_setup):
    """The HQML variant optimises λ_r·KL_retain − λ_f·KL_forget. It starts at a stationary
    point (student = teacher: both KL terms and their gradients vanish), so its first Adam
    step follows float rounding noise and whether the growing forget KL flips labels or only
    sharpens them is not a property of the method; what it guarantees is its objective:
    forget outputs move far from the teacher's, retain outputs stay close to them."""
    params = {"variant": "hqml", "epochs": 4}
    out = unlearn("scrub", class_setup.teacher, class_setup.data(), params)
    t = out.params["temperature"]
    forget_kl = _mean_kl(out.model, class_setup.teacher, class_setup.scenario.forget[0], t)
    retain_kl = _mean_kl(out.model, class_setup.teacher, class_setup.scenario.retain[0], t)
    losses = [point["loss"] for point in out.curve]
    assert losses[-1] < losses[0] < 0.0
    assert forget_kl > 1.0
    assert forget_kl > retain_kl


def test_scrub_is_deterministic(class_setup):
    params = {"epochs": 2, "msteps": 1}
    a = unlearn("scrub", class_setup.teacher, class_setup.data(), params)
    b = unlearn("scrub", class_setup.teacher, class_setup.data(), params)
    assert same_weights(snapshot(a.model), snapshot(b.model))
    assert not same_weights(snapshot(a.model), snapshot(class_setup.teacher))


def test_scrub_rewind_returns_checkpoint_and_faithful_returns_final(class_setup):
    # Validation samples of the kept classes only: the reference error is low while SCRUB
    # drives the forget error to 1, so SCRUB+R must rewind to an earlier epoch.
    x, y = class_setup.val
    keep = y != 0
    data = UnlearnData(class_setup.scenario.retain, class_setup.scenario.forget,
                       (x[keep], y[keep]), 3, seed=0)
    params = {"epochs": 6, "msteps": 5}
    rewound = unlearn("scrub+r", class_setup.teacher, data, params)
    info = rewound.info
    assert info["forget_error_final"] > info["reference_error"]
    assert info["rewind_epoch"] == info["returned_epoch"] < info["final_epoch"] == 6
    assert info["forget_error_returned"] < info["forget_error_final"]
    assert evaluate(rewound.model, data.forget)["accuracy"] == \
        pytest.approx(1 - info["forget_error_returned"])
    # The rewound model is exactly SCRUB stopped at the chosen epoch.
    short = unlearn("scrub", class_setup.teacher, data, {**params,
                                                          "epochs": info["rewind_epoch"]})
    assert same_weights(snapshot(rewound.model), snapshot(short.model))

    final = unlearn("scrub+r", class_setup.teacher, data, {**params, "faithful": True})
    assert final.info["rewind_epoch"] == info["rewind_epoch"]
    assert final.info["returned_epoch"] == 6
    assert evaluate(final.model, data.forget)["accuracy"] == \
        pytest.approx(1 - info["forget_error_final"])
    assert not same_weights(snapshot(final.model), snapshot(rewound.model))


def test_distill_kl_matches_definition():
    s, t = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0, 2.0, 0.0]])
    p, q = torch.softmax(t / 2, 1), torch.softmax(s / 2, 1)
    expected = 4 * (p * (p.log() - q.log())).sum()
    assert distill_kl(s, t, 2.0).item() == pytest.approx(expected.item(), rel=1e-6)
    assert distill_kl(t, t, 2.0).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize(("method", "params"), [
    ("scrub", {"variant": "kurmanji-v2"}),
    ("scrub", {"temperature": 0.0}),
    ("scrub", {"epochs": 0}),
    ("scrub", {"optimizer": "lbfgs"}),
    ("scrub+r", {"msteps": -1}),
    ("bad-teacher", {"retain_fraction": 1.5}),
    ("bad-teacher", {"lr": -0.1}),
])
def test_bad_hyperparameters_raise(class_setup, method, params):
    (name,) = params
    with pytest.raises(UnlearnError, match=name):
        unlearn(method, class_setup.teacher, class_setup.data(), params)


def test_scrub_on_amplitude_vqc(vqc_setup):
    """A pure VQC (2 Iris classes, amplitude encoding): SCRUB still removes class 0."""
    assert vqc_setup.accuracy(vqc_setup.teacher, "forget") > 0.9
    out = unlearn("scrub", vqc_setup.teacher, vqc_setup.data())
    assert vqc_setup.accuracy(out.model, "forget") < 0.5
    assert vqc_setup.accuracy(out.model, "retain") >= 0.9


@pytest.mark.parametrize(("method", "params"), [
    ("scrub", {"epochs": 1}), ("scrub", {"epochs": 1, "variant": "hqml"}),
    ("scrub+r", {"epochs": 2}), ("bad-teacher", {"epochs": 1}),
])
def test_runs_on_hybrid_cnn(method, params):
    assert changes_weights_on_hybrid_cnn(method, params)
