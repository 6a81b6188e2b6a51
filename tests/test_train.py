"""Training: validation-based selection, checkpoint/resume equivalence, safe loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit_machine_learning.connectors import TorchConnector

from qiskit_unlearn import make_qnn
from qiskit_unlearn.ansatz import hqml_ansatz
from qiskit_unlearn.train import BestEpoch, TrainConfig, evaluate, load_checkpoint, train


def _hybrid(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    a = hqml_ansatz(2, reps=1)
    qnn = make_qnn(a.circuit, input_params=a.input_params, weight_params=a.weight_params)
    init = np.random.default_rng(seed).uniform(-np.pi, np.pi, a.num_weights)
    return torch.nn.Sequential(TorchConnector(qnn, initial_weights=init), torch.nn.Linear(2, 2))


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, (n, 2)).astype(np.float32)
    return x, (np.sin(x[:, 0]) > 0).astype(np.int64)


def test_loss_falls_and_best_validation_epoch_is_kept():
    model = _hybrid(0)
    tr, va = _data(48, 1), _data(16, 2)
    before = evaluate(model, tr)["loss"]
    result = train(model, tr, va, TrainConfig(epochs=8, lr=0.1, batch_size=16, patience=None),
                   progress=False)
    assert result.history[-1]["train_loss"] < 0.8 * result.history[0]["train_loss"]
    assert evaluate(model, tr)["loss"] < before
    best = max(result.history, key=lambda h: (h["val_accuracy"], -h["val_loss"]))
    assert result.best_epoch == best["epoch"]
    assert evaluate(model, va)["accuracy"] == pytest.approx(best["val_accuracy"])


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    tr, va = _data(40, 3), _data(12, 4)
    cfg = TrainConfig(epochs=6, lr=0.05, batch_size=8, patience=None, seed=7)
    full = _hybrid(5)
    train(full, tr, va, cfg, checkpoint=tmp_path / "full.ckpt", progress=False)

    interrupted = _hybrid(5)
    first = train(interrupted, tr, va, cfg, checkpoint=tmp_path / "part.ckpt", progress=False,
                  stop_after=3)
    assert first.epochs_run == 3
    resumed_model = _hybrid(99)  # a fresh process would rebuild the model with any weights
    resumed = train(resumed_model, tr, va, cfg, checkpoint=tmp_path / "part.ckpt",
                    progress=False)
    assert resumed.resumed_from_epoch == 3 and resumed.epochs_run == 6
    pairs = zip(full.state_dict().items(), resumed_model.state_dict().values(), strict=True)
    for (k, a), b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_early_stopping_and_checkpoint_is_loadable_with_weights_only(tmp_path):
    tr = _data(24, 5)
    va = (tr[0][:8], 1 - tr[1][:8])  # validation labels that training cannot fit
    ckpt = tmp_path / "m.ckpt"
    result = train(_hybrid(0), tr, va, TrainConfig(epochs=50, lr=0.1, batch_size=8, patience=2),
                   checkpoint=ckpt, progress=False)
    assert result.epochs_run < 50
    state = load_checkpoint(ckpt)
    assert state["epoch"] == result.epochs_run and "optimizer" in state


def test_checkpoint_from_another_config_is_refused(tmp_path):
    tr, va = _data(16, 6), _data(8, 7)
    ckpt = tmp_path / "m.ckpt"
    train(_hybrid(0), tr, va, TrainConfig(epochs=1, batch_size=8), checkpoint=ckpt,
          progress=False)
    with pytest.raises(ValueError, match=r"another training run \(epochs: 1 -> 2\); delete it"):
        train(_hybrid(0), tr, va, TrainConfig(epochs=2, batch_size=8), checkpoint=ckpt,
              progress=False)
    # same training configuration, but another model/data fingerprint: refused as well
    with pytest.raises(ValueError, match="another model, data set or selection split"):
        train(_hybrid(0), tr, va, TrainConfig(epochs=1, batch_size=8), checkpoint=ckpt,
              progress=False, fingerprint="another model")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs"), ({"lr": 0.0}, "lr"), ({"batch_size": 0}, "batch_size"),
    ({"patience": 0}, "patience")])
def test_bad_train_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_a_resumed_training_reports_the_uninterrupted_cost(tmp_path):
    """Circuit evaluations and epochs before an interruption are carried by the checkpoint."""
    from qiskit_unlearn.models import build_model

    def model() -> torch.nn.Module:  # a QuantumLayer model: its circuit evaluations count
        return build_model("hybrid-pca", num_qubits=2, num_classes=2, layers=1, head_hidden=4)

    tr, va = _data(16, 6), _data(8, 7)
    config = TrainConfig(epochs=3, batch_size=8, patience=None)
    whole = train(model(), tr, va, config, progress=False)
    ckpt = tmp_path / "m.ckpt"
    first = train(model(), tr, va, config, checkpoint=ckpt, progress=False, stop_after=1)
    assert 0 < first.circuit_evaluations < whole.circuit_evaluations
    resumed = train(model(), tr, va, config, checkpoint=ckpt, progress=False)
    assert resumed.resumed_from_epoch == 1
    assert resumed.circuit_evaluations == whole.circuit_evaluations
    assert resumed.history == whole.history
    done = train(model(), tr, va, config, checkpoint=ckpt, progress=False)  # nothing left
    assert done.circuit_evaluations == whole.circuit_evaluations


def test_a_corrupt_checkpoint_is_named(tmp_path):
    from qiskit_unlearn.storage import FileError

    tr, va = _data(16, 6), _data(8, 7)
    ckpt = tmp_path / "m.ckpt"
    train(_hybrid(0), tr, va, TrainConfig(epochs=1, batch_size=8), checkpoint=ckpt,
          progress=False)
    ckpt.write_bytes(ckpt.read_bytes()[:50])
    with pytest.raises(FileError, match=f"{ckpt} is not a readable checkpoint .*delete it"):
        train(_hybrid(0), tr, va, TrainConfig(epochs=1, batch_size=8), checkpoint=ckpt,
              progress=False)


def test_best_epoch_keeps_the_first_of_equal_scores_and_counts_patience():
    model = torch.nn.Linear(2, 2)
    best = BestEpoch((-1.0,), patience=2)
    assert best.update(model, 1, (0.5,)) and best.epoch == 1 and best.stale == 0
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not best.update(model, 2, (0.5,))  # a tie is not better: epoch 1 stays
    assert best.epoch == 1 and not best.exhausted
    assert not best.update(model, 3, (0.4,)) and best.exhausted
    best.restore(model)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in kept.items())
    assert not BestEpoch((0.0,)).exhausted  # no patience: never exhausted
