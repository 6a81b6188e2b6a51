"""Conformance of every registered model kind (``qiskit_unlearn.models.MODELS``).

Each kind, built tiny (2 qubits, 1 layer, 4x4 images), must:

* round-trip through its spec: ``build_model(spec["kind"], **spec["kwargs"])`` rebuilds the same
  initial parameters, the spec is JSON data, and spec + ``state_dict`` reproduce the outputs;
* give finite (batch, num_classes) logits, row by row the same as in a batch, for float32 and
  float64 inputs alike;
* be deterministic for a seed (and differ across seeds) without touching torch's global RNG;
* have layer groups as documented: disjoint submodules covering every parameter, in order;
  ``reset_group`` re-initialises exactly one group, reproducibly for a seed, by name or index;
  ``freeze_all_but_last(k)`` leaves exactly the last k groups trainable and ``unfreeze`` undoes it;
* (quantum kinds) compute the same logits on every exact local backend as on ``statevector``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conformance_helpers import TINY_MODELS, model_kinds, tiny_inputs, tiny_model, tiny_spec

from qiskit_unlearn.models import MODELS, ModelError, QuantumLayer, UnlearnableModel, build_model

KINDS = model_kinds()
#: Exact local backends (and their options) a quantum model must agree with statevector on.
EXACT_BACKENDS = [("aer", {}), ("ideal:manila", {}), ("noisy", {"depolarizing_1q": 0.0})]


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_state(a, b) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _group_keys(model: UnlearnableModel, group: str) -> list[str]:
    return [k for k, _ in model.named_parameters() if k.startswith(group + ".")]


def _logits(model, x) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x))


def test_every_kind_has_a_tiny_spec():
    assert set(KINDS) <= set(TINY_MODELS), "add the new kinds to TINY_MODELS"


@pytest.mark.parametrize("kind", KINDS)
def test_registry_entry_names_its_kind(kind):
    cls = MODELS[kind]
    assert issubclass(cls, UnlearnableModel) and cls.kind == kind
    assert (cls.__doc__ or "").strip(), f"{kind} has no docstring"
    model = tiny_model(kind)
    assert isinstance(model, cls) and model.spec["kind"] == kind


@pytest.mark.parametrize("kind", KINDS)
def test_spec_round_trip_rebuilds_the_same_initial_parameters(kind):
    model = tiny_model(kind, seed=3)
    spec = json.loads(json.dumps(model.spec))  # JSON- and checkpoint-friendly
    assert spec == model.spec
    twin = build_model(spec["kind"], **spec["kwargs"])
    assert twin.spec == model.spec
    _assert_same_state(_state(model), _state(twin))


@pytest.mark.parametrize("kind", KINDS)
def test_spec_and_state_dict_reproduce_the_outputs(kind):
    model = tiny_model(kind, seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.25)  # moved away from the seeded initialisation
    twin = build_model(model.spec["kind"], **model.spec["kwargs"])
    twin.load_state_dict(model.state_dict())
    x = tiny_inputs(kind, 5, seed=1)
    torch.testing.assert_close(_logits(twin, x), _logits(model, x), rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_gives_finite_logits_of_shape_batch_by_classes(kind):
    model = tiny_model(kind)
    x = tiny_inputs(kind, 5, seed=2)
    logits = _logits(model, x)
    assert logits.shape == (5, tiny_spec(kind).num_classes)
    assert logits.is_floating_point() and torch.isfinite(logits).all()
    # one row at a time gives the same logits as the batch (no batch coupling)
    rows = torch.cat([_logits(model, x[i:i + 1]) for i in range(len(x))])
    torch.testing.assert_close(rows, logits, rtol=1e-5, atol=1e-6)
    # float64 inputs are accepted
    torch.testing.assert_close(_logits(model, x.astype(np.float64)), logits, rtol=1e-5,
                               atol=1e-6)
    # gradients reach every parameter
    model.train()
    model.zero_grad()
    model(torch.as_tensor(x)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_construction_is_deterministic_and_leaves_the_global_rng_alone(kind):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = tiny_model(kind, seed=5), tiny_model(kind, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before), \
        f"building {kind} advanced torch's global generator"
    _assert_same_state(_state(a), _state(b))
    c = tiny_model(kind, seed=6)
    assert any(not torch.equal(v, _state(c)[k]) for k, v in _state(a).items()), \
        f"{kind}: seeds 5 and 6 give the same parameters"


@pytest.mark.parametrize("kind", KINDS)
def test_layer_groups_partition_the_parameters_in_order(kind):
    model = tiny_model(kind)
    names = model.group_names
    assert names and len(set(names)) == len(names)
    assert [n for n, _ in model.layer_groups()] == names
    owners: dict[str, str] = {}
    for group in names:
        model.get_submodule(group)  # the name is a submodule path
        for key in _group_keys(model, group):
            assert key not in owners, f"{key} is in groups {owners[key]} and {group}"
            owners[key] = group
    assert set(owners) == {n for n, _ in model.named_parameters()}, \
        "every parameter belongs to exactly one layer group"


@pytest.mark.parametrize("kind", KINDS)
def test_reset_group_reinitialises_exactly_that_group_reproducibly(kind):
    for index, group in enumerate(tiny_model(kind).group_names):
        models = [tiny_model(kind) for _ in range(3)]
        for m in models:
            with torch.no_grad():
                for p in m.parameters():
                    p.add_(0.37)  # away from any initial value, so a reset is visible
        moved = _state(models[0])
        rng = torch.random.get_rng_state()
        assert models[0].reset_group(group, seed=11) == group
        assert models[1].reset_group(index, seed=11) == group  # by index: the same group
        assert torch.equal(torch.random.get_rng_state(), rng), "a seeded reset used the global RNG"
        _assert_same_state(_state(models[0]), _state(models[1]))
        after = _state(models[0])
        inside = {k for k in after if k.startswith(group + ".")}  # the group's state keys
        for key, value in after.items():
            if key in inside:
                assert not torch.equal(value, moved[key]), f"reset_group({group!r}) left {key}"
            else:
                assert torch.equal(value, moved[key]), f"reset_group({group!r}) changed {key}"
        generator = torch.Generator().manual_seed(4)
        assert models[2].reset_group(group, seed=generator) == group
    with pytest.raises(ModelError):
        tiny_model(kind).reset_group("no-such-group")
    with pytest.raises(ModelError):
        tiny_model(kind).reset_group(len(tiny_model(kind).group_names))


@pytest.mark.parametrize("kind", KINDS)
def test_freeze_all_but_last_leaves_exactly_the_last_k_groups_trainable(kind):
    model = tiny_model(kind)
    names = model.group_names
    for k in range(len(names) + 1):
        assert model.freeze_all_but_last(k) == names[len(names) - k:]
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        expected = {key for g in names[len(names) - k:] for key in _group_keys(model, g)}
        assert trainable == expected, f"k={k}"
        model.unfreeze()
        assert all(p.requires_grad for p in model.parameters())
    for bad in (-1, len(names) + 1, True, 1.0):
        with pytest.raises(ModelError):
            model.freeze_all_but_last(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_and_missing_arguments_are_model_errors(kind):
    with pytest.raises(ModelError, match="no_such_argument"):
        build_model(kind, **tiny_spec(kind).kwargs, no_such_argument=1)
    with pytest.raises(ModelError):
        build_model(kind)


QUANTUM = [k for k in KINDS if k in TINY_MODELS and not MODELS[k].classical]


@pytest.mark.parametrize("kind", KINDS)
def test_the_registry_says_which_kinds_have_a_circuit(kind):
    """``classical`` (the registry's word, asked by runs, sweeps and hardware) must match the
    model: a classical kind takes no backend and holds no quantum layer."""
    model = tiny_model(kind)
    quantum = any(isinstance(m, QuantumLayer) for m in model.modules())
    assert MODELS[kind].classical == (not quantum) == ("backend" not in model.spec["kwargs"])


@pytest.mark.parametrize("backend", EXACT_BACKENDS, ids=[b for b, _ in EXACT_BACKENDS])
@pytest.mark.parametrize("kind", QUANTUM)
def test_quantum_kinds_give_the_same_logits_on_every_exact_backend(kind, backend):
    name, options = backend
    x = tiny_inputs(kind, 3, seed=5)
    want = _logits(tiny_model(kind), x)
    model = tiny_model(kind, backend=name, backend_options=options)
    assert model.spec["kwargs"]["backend"] == name
    torch.testing.assert_close(_logits(model, x), want, rtol=0, atol=1e-5)
