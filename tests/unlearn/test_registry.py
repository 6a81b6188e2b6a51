"""The registry's contract: every method's hyperparameters are range-checked by
``resolve_params``, so impossible values fail when a config is loaded, before any training."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from run_helpers import TINY_IRIS

from qiskit_unlearn.cli.main import main
from qiskit_unlearn.config import ConfigError, load_config
from qiskit_unlearn.unlearn import METHODS, Method, UnlearnError, register, resolve_params, unlearn
from qiskit_unlearn.unlearn.registry import Checked

NAN, INF = math.nan, math.inf

#: Bad values of the training keys that many methods share (each is checked where present).
COMMON_BAD = {
    "epochs": (0, -1, NAN, 2.5),
    "batch_size": (0, -1, NAN),
    "lr": (0.0, -0.1, NAN, INF),
    "weight_decay": (-1e-3, NAN, INF),
    "optimizer": ("lbfgs", ""),
}
CASES = [(name, key, bad) for name in sorted(METHODS) for key, values in COMMON_BAD.items()
         if key in METHODS[name].defaults for bad in values]

def _config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_IRIS.split("[unlearn]")[0], encoding="utf-8")  # tests add methods
    return path


@pytest.mark.parametrize("name", sorted(METHODS))
def test_defaults_pass_and_every_hyperparameter_has_a_rule(name):
    method = METHODS[name]
    assert resolve_params(name) == dict(method.defaults)
    assert set(method.rules) == set(method.defaults)
    assert all(rule for rule in method.rules.values())


def test_the_shared_bad_values_reach_every_registry_entry():
    assert {name for name, _, _ in CASES} == set(METHODS)


@pytest.mark.parametrize(("name", "key", "bad"), CASES,
                         ids=[f"{n}-{k}-{b!r}" for n, k, b in CASES])
def test_bad_common_value_is_rejected_naming_method_and_key(name, key, bad):
    with pytest.raises(UnlearnError, match=rf"^{re.escape(name)}\.{key} must be .*, got "):
        resolve_params(name, {key: bad})


@pytest.mark.parametrize(("name", "params", "match"), [
    ("certified", {"delta": 0.0}, r"certified\.delta must be a finite number > 0\.0 and < 1\.0"),
    ("certified", {"delta": 1.0}, r"certified\.delta must be .*< 1\.0, got 1\.0"),
    ("certified", {"delta": 1.5}, r"certified\.delta must be .*, got 1\.5"),
    ("certified", {"clip": 0.0}, r"certified\.clip must be a finite number > 0"),
    ("certified", {"noise_multiplier": -0.5}, r"certified\.noise_multiplier must be .* >= 0"),
    ("bad-teacher", {"retain_fraction": 1.01}, r"bad-teacher\.retain_fraction must be .*<= 1"),
    ("bad-teacher", {"retain_fraction": 0.0}, r"bad-teacher\.retain_fraction must be .*> 0"),
    ("bad-teacher", {"temperature": 0.0}, r"bad-teacher\.temperature must be .*> 0"),
    ("scrub", {"variant": "kurmanji-v2"},
     r"scrub\.variant must be one of \['kurmanji', 'hqml'\], got 'kurmanji-v2'"),
    ("scrub+r", {"msteps": -1}, r"scrub\+r\.msteps must be an integer >= 0, got -1"),
    ("scrub", {"forget_batch_size": 0}, r"scrub\.forget_batch_size must be an integer >= 1"),
    ("scrub", {"lambda_f": NAN}, r"scrub\.lambda_f must be a finite number >= 0"),
    ("salun", {"fraction": 1.5}, r"salun\.fraction must be .*<= 1\.0"),
    ("ssd", {"alpha": 0.0}, r"ssd\.alpha must be a finite number > 0"),
    ("cf-k", {"k": 0}, r"cf-k\.k must be an integer >= 1, got 0"),
    ("eu-k", {"variant": "exact"}, r"eu-k\.variant must be one of \['goel', 'hqml'\]"),
    ("retrain", {"patience": -1}, r"retrain\.patience must be an integer >= 0"),
    ("fisher", {"fisher_samples": 0}, r"fisher\.fisher_samples must be an integer >= 1"),
    ("adv-uniform", {"eps": -0.1}, r"adv-uniform\.eps must be a finite number >= 0"),
])
def test_method_specific_rules(name, params, match):
    with pytest.raises(UnlearnError, match=match):
        resolve_params(name, params)


@pytest.mark.parametrize(("name", "params"), [
    ("certified", {"delta": 0.5, "noise_multiplier": 0.0}),
    ("bad-teacher", {"retain_fraction": 1.0}),
    ("scrub", {"variant": "hqml", "msteps": 0, "alpha": 0}),
    ("salun", {"fraction": 1}),
    ("retrain", {"patience": 0}),
    ("cf-k", {"k": 7, "variant": "hqml"}),  # k against the model's groups: at run time
])
def test_edge_values_inside_the_range_pass(name, params):
    resolved = resolve_params(name, params)
    assert all(resolved[k] == v for k, v in params.items())


def test_a_bad_value_fails_when_the_config_is_loaded(tmp_path):
    path = _config(tmp_path)
    with pytest.raises(ConfigError, match=r"unlearn\.params\.scrub: scrub\.epochs must be an "
                                          r"integer >= 1, got -1"):
        load_config(path, ["unlearn.methods=['scrub']", "unlearn.params.scrub.epochs=-1"])
    with pytest.raises(ConfigError, match=r"certified\.delta must be .*< 1\.0, got 2\.0"):
        load_config(path, ["unlearn.methods=['certified']", "unlearn.params.certified.delta=2.0"])
    cfg = load_config(path, ["unlearn.methods=['scrub']", "unlearn.params.scrub.epochs=1"])
    assert cfg["unlearn"]["params"]["scrub"]["epochs"] == 1


def _never_runs(model, data, params):
    raise AssertionError("the method ran although its hyperparameters were invalid")


@pytest.fixture
def scratch_name():
    """A method name that is removed from the registry again after the test."""
    name = "test-registry-scratch"
    yield name
    METHODS.pop(name, None)


def test_register_refuses_a_hyperparameter_without_rule(scratch_name):
    with pytest.raises(RuntimeError, match=r"no range rule for radius; pass register\(\.\.\., "
                                           r"check=fn\)"):
        register(scratch_name, defaults={"epochs": 1, "radius": 2.0}, family="f", changes="c",
                 reference="r")(_never_runs)
    assert scratch_name not in METHODS


def test_register_refuses_defaults_that_break_their_rules(scratch_name):
    with pytest.raises(RuntimeError, match=rf"defaults of '{scratch_name}' break its own rules: "
                                           rf"{scratch_name}\.radius must be"):
        register(scratch_name, defaults={"radius": -2.0}, family="f", changes="c", reference="r",
                 check=lambda check: check.number("radius"))(_never_runs)
    assert scratch_name not in METHODS


def test_a_registered_check_guards_unlearn_before_the_method_runs(scratch_name, class_setup):
    register(scratch_name, defaults={"epochs": 1, "radius": 2.0, "fast": False}, family="f",
             changes="c", reference="r",
             check=lambda check: check.number("radius", high=3.0))(_never_runs)
    assert METHODS[scratch_name].rules == {"epochs": "an integer >= 1",
                                           "radius": "a finite number > 0.0 and < 3.0",
                                           "fast": "true or false",
                                           "early_stopping": "an integer >= 0",
                                           "early_stopping_on": "one of ['retained', 'all']"}
    with pytest.raises(UnlearnError, match=rf"{scratch_name}\.radius must be .*, got 3\.5"):
        unlearn(scratch_name, class_setup.teacher, class_setup.data(), {"radius": 3.5})


def test_method_stays_constructible_with_its_original_fields():
    method = Method("m", _never_runs, {"lr": -1.0}, "family", "changes", "reference")
    assert method.check is None and method.rules == {}
    assert method.validate({"lr": 0.1}).rules == {"lr": "a finite number > 0.0"}
    with pytest.raises(UnlearnError, match=r"m\.lr must be"):
        method.validate(method.defaults)


def test_checked_satisfies_records_the_rule_and_names_the_value():
    check = Checked("m", {"order": 3})
    assert check.satisfies("order", lambda v: v % 2 == 1, "odd") == 3
    assert check.rules == {"order": "odd"}
    with pytest.raises(UnlearnError, match=r"^m\.order must be even, got 3; pass a valid"):
        check.satisfies("order", lambda v: v % 2 == 0, "even")


def test_methods_command_still_lists_every_hyperparameter(capsys):
    assert main(["methods", "certified"]) == 0
    out = capsys.readouterr().out
    defaults = METHODS["certified"].defaults
    assert all(f"  {key} = {value!r}" in out for key, value in defaults.items())
