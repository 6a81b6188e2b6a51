"""The method registry and the validation of hyperparameters, which happens before any training.

Each registry entry owns its hyperparameters' range rules: :func:`resolve_params` checks names,
types and ranges, so a config that sets an impossible value fails when it is loaded, not
minutes into a run. The rules of the common training keys (:func:`common_rules`) apply to every
method that has them; a method adds its own through ``register(..., check=...)``, and
``register`` refuses an entry with a hyperparameter no rule covers. What depends on the model or
the data (``k`` against a model's layer groups, an empty forget set) is checked when the method
runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from torch import nn

from qiskit_unlearn.registry import Registry

if TYPE_CHECKING:
    from qiskit_unlearn.unlearn.base import UnlearnData


class UnlearnError(ValueError):
    """A method or hyperparameter that cannot be used as given; the message says the fix."""


MethodFn = Callable[[nn.Module, "UnlearnData", dict[str, Any]], dict[str, Any] | None]

#: The optimisers of ``optimizer = "..."`` (see ``qiskit_unlearn.unlearn.steps.make_optimizer``).
OPTIMIZERS = ("adam", "sgd")
#: What early stopping watches: the selection samples of the retained classes, or all of them
#: (the HQML study, whose selection split is the test split including a forgotten class).
STOP_ON = ("retained", "all")
#: Hyperparameters every epoch-based method gets from the registry (see :func:`register`):
#: early stopping is the wrapper's job (:func:`qiskit_unlearn.unlearn.base.unlearn`), so a
#: new method obeys it without code of its own.
EARLY_STOPPING = {"early_stopping": 0, "early_stopping_on": "retained"}
#: ``pairing`` of methods that pair retain with forget batches (see ``paired_steps``).
PAIRINGS = ("cycle", "shortest")


class Checked:
    """Range checks of a method's hyperparameters (their types are checked by
    :func:`resolve_params`); messages name the method, the hyperparameter, the allowed range
    and the value given. ``rules`` records the rule of every hyperparameter checked so far,
    which is how :func:`register` knows that none is left unchecked.

    A method's own rules (``register(..., check=fn)``) receive one and call its checks, e.g.
    ``check.number("temperature")``. Every check raises :class:`UnlearnError` on a bad value.

    Args:
        method: the method's name, for messages.
        params: the resolved hyperparameters to check.
    """

    def __init__(self, method: str, params: Mapping[str, Any]) -> None:
        self.method, self.params = method, params
        self.rules: dict[str, str] = {}

    def _fail(self, name: str, rule: str) -> UnlearnError:
        return UnlearnError(f"{self.method}.{name} must be {rule}, got "
                            f"{self.params[name]!r}; pass a valid value in params")

    def satisfies(self, name: str, ok: Callable[[Any], bool], rule: str) -> Any:
        """Check ``name`` with a predicate and record its rule.

        Args:
            name: the hyperparameter.
            ok: true for a valid value.
            rule: what ``ok`` demands, in words (completes "must be ...").

        Returns:
            The value.

        Raises:
            UnlearnError: if ``ok(value)`` is false.
        """
        self.rules[name] = rule
        value = self.params[name]
        if not ok(value):
            raise self._fail(name, rule)
        return value

    def integer(self, name: str, low: int = 1) -> int:
        """Check that ``name`` is an integer >= ``low`` (booleans refused).

        Args:
            name: the hyperparameter.
            low: the smallest allowed value.

        Returns:
            The value.

        Raises:
            UnlearnError: if it is not.
        """
        return self.satisfies(name, lambda v: isinstance(v, int) and not isinstance(v, bool)
                              and v >= low, f"an integer >= {low}")

    def number(self, name: str, low: float = 0.0, *, allow_low: bool = False,
               high: float | None = None, allow_high: bool = False) -> float:
        """Check that ``name`` is a finite number in a range (booleans refused).

        Args:
            name: the hyperparameter.
            low: the lower bound, excluded unless ``allow_low``.
            allow_low: allow the value ``low`` itself.
            high: the upper bound, excluded unless ``allow_high``; ``None`` for none.
            allow_high: allow the value ``high`` itself.

        Returns:
            The value as a float.

        Raises:
            UnlearnError: if it is not.
        """

        def ok(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) \
                and math.isfinite(v) and (v >= low if allow_low else v > low) \
                and (high is None or (v <= high if allow_high else v < high))

        upper = "" if high is None else f" and {'<=' if allow_high else '<'} {high}"
        rule = f"a finite number {'>=' if allow_low else '>'} {low}{upper}"
        return float(self.satisfies(name, ok, rule))

    def choice(self, name: str, options: Sequence[str]) -> str:
        """Check that ``name`` is one of ``options``.

        Args:
            name: the hyperparameter.
            options: the allowed values.

        Returns:
            The value.

        Raises:
            UnlearnError: if it is not.
        """
        return self.satisfies(name, lambda v: v in options, f"one of {list(options)}")

    def training(self) -> tuple[int, int]:
        """Check the training keys: ``epochs``, ``batch_size``, ``lr`` and ``weight_decay``.

        ``weight_decay`` is checked only if present; the others are required.

        Returns:
            ``(epochs, batch_size)``.

        Raises:
            UnlearnError: if a value is out of range.
        """
        self.number("lr")
        if "weight_decay" in self.params:
            self.number("weight_decay", allow_low=True)
        return self.integer("epochs"), self.integer("batch_size")


def common_rules(check: Checked) -> None:
    """The rules of the training keys many methods share, applied to those a method has."""
    params = check.params
    for name in ("epochs", "batch_size"):
        if name in params:
            check.integer(name)
    if "lr" in params:
        check.number("lr")
    if "weight_decay" in params:
        check.number("weight_decay", allow_low=True)
    if "optimizer" in params:
        check.satisfies("optimizer", lambda v: v in OPTIMIZERS,
                        " or ".join(repr(o) for o in OPTIMIZERS))
    if "early_stopping" in params:
        check.integer("early_stopping", low=0)
    if "early_stopping_on" in params:
        check.choice("early_stopping_on", STOP_ON)
    if "pairing" in params:
        check.choice("pairing", PAIRINGS)
    for name, value in params.items():
        if isinstance(value, bool):
            check.rules.setdefault(name, "true or false")  # its type is its whole rule


#: A method's own range rules: called with a :class:`Checked` of its resolved hyperparameters.
CheckFn = Callable[[Checked], None]


@dataclass(frozen=True)
class Method:
    """A registry entry: the function, its defaults and what the methods guide's table says.

    ``check`` holds the method's own range rules (the common ones apply anyway) and ``rules``
    the rule of every hyperparameter in words, e.g. for ``qunlearn methods NAME``. ``study``
    holds the HQML study's settings of the method (its released MNIST / Fashion-MNIST code),
    which ``unlearn.faithful = true`` applies under the config's own values.

    Attributes:
        name: the method's registry name.
        fn: ``fn(model, data, params) -> dict | None`` changes ``model`` in place; the dict is
            extra info for the run's manifest.
        defaults: the published defaults of every hyperparameter.
        family: the method's family in the methods guide's table (docs/guides/methods.md).
        changes: what the method changes (e.g. which layer groups), for the table.
        reference: the paper or source the method follows.
        summary: one line describing the method (default: its docstring's first line).
        check: the method's own range rules, called with a :class:`Checked`; ``None`` if the
            common rules cover every hyperparameter.
        rules: the rule of every hyperparameter in words, by name.
        study: the HQML study's settings of the method.
    """

    name: str
    fn: MethodFn
    defaults: Mapping[str, Any]
    family: str
    changes: str
    reference: str
    summary: str = ""
    check: CheckFn | None = None
    rules: Mapping[str, str] = field(default_factory=dict)
    study: Mapping[str, Any] = field(default_factory=dict)

    def validate(self, params: Mapping[str, Any]) -> Checked:
        """Run every range rule, common and the method's own, on ``params``.

        Args:
            params: hyperparameter values by name (normally the resolved ones).

        Returns:
            The :class:`Checked`, whose ``rules`` list the rules applied.

        Raises:
            UnlearnError: for the first value that breaks a rule.
        """
        checked = Checked(self.name, params)
        common_rules(checked)
        if self.check is not None:
            self.check(checked)
        return checked


#: The unlearning methods by name; an unknown name raises :class:`UnlearnError`.
METHODS: Registry[Method] = Registry("unlearning method", UnlearnError)


def register(name: str, *, defaults: Mapping[str, Any], family: str, changes: str,
             reference: str, summary: str = "", check: CheckFn | None = None,
             study: Mapping[str, Any] | None = None) -> Callable[[MethodFn], MethodFn]:
    """Decorator adding a method to :data:`METHODS` (its docstring is its documentation).

    An entry whose defaults break a rule, or with a hyperparameter no rule covers, is refused.
    Methods that train for ``epochs`` (and have no ``patience`` of their own) also get the
    ``early_stopping`` (patience, 0 = off) and ``early_stopping_on`` (``"retained"`` or
    ``"all"``) hyperparameters.

    Args:
        name: the method's registry name.
        defaults: the published default of every hyperparameter; a value's type is the type
            the hyperparameter accepts.
        family: the method's family in the methods guide's table (docs/guides/methods.md).
        changes: what the method changes (e.g. which layer groups), for the table.
        reference: the paper or source the method follows.
        summary: one line describing the method; empty uses the docstring's first line.
        check: validates the ranges of the hyperparameters the common training rules
            (``epochs``, ``lr``, ``optimizer``, ...) do not cover, with a :class:`Checked`.
        study: the HQML study's settings of the method; must name existing hyperparameters
            with valid values.

    Returns:
        The decorator; it registers the method function and returns it unchanged.

    Raises:
        RuntimeError: (when decorating) if the defaults or study settings break a rule, name
            unknown hyperparameters, or a hyperparameter has no rule.
    """

    def wrap(fn: MethodFn) -> MethodFn:
        full = dict(defaults)
        if "epochs" in full and "patience" not in full:
            full = {**full, **{k: v for k, v in EARLY_STOPPING.items() if k not in full}}
        entry = Method(name, fn, full, family, changes, reference,
                       summary or (fn.__doc__ or "").strip().split("\n")[0], check,
                       study=dict(study or {}))
        try:
            rules = entry.validate(entry.defaults).rules
        except UnlearnError as exc:
            raise RuntimeError(f"the defaults of {name!r} break its own rules: {exc}") from None
        unchecked = sorted(set(entry.defaults) - set(rules))
        if unchecked:
            raise RuntimeError(f"unlearning method {name!r} has no range rule for "
                               f"{', '.join(unchecked)}; pass register(..., check=fn) where fn "
                               "checks them with Checked (e.g. check.number(name))")
        unknown = sorted(set(entry.study) - set(entry.defaults))
        if unknown:
            raise RuntimeError(f"the study settings of {name!r} name unknown hyperparameters "
                               f"{', '.join(unknown)}")
        try:
            entry.validate({**entry.defaults, **entry.study})
        except UnlearnError as exc:
            raise RuntimeError(f"the study settings of {name!r} break its rules: {exc}") \
                from None
        METHODS.add(name, replace(entry, rules={k: rules[k] for k in entry.defaults}))
        return fn

    return wrap


def resolve_params(method: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults of ``method`` overridden by ``overrides``, with names, types and ranges checked.

    Everything that does not depend on the model or the data is checked here, so callers (the
    config loader among them) reject an impossible value before any training.

    Args:
        method: a registry name of :data:`METHODS`.
        overrides: hyperparameter values replacing the defaults; an int is accepted where the
            default is a float.

    Returns:
        Every hyperparameter of the method, checked.

    Raises:
        UnlearnError: for an unknown method or hyperparameter, a value of the wrong type, or
            a value out of range.
    """
    params = dict(METHODS.lookup(method).defaults)
    for key, value in (overrides or {}).items():
        if key not in params:
            raise UnlearnError(f"method {method!r} has no hyperparameter {key!r}; its "
                               f"hyperparameters are {', '.join(sorted(params)) or 'none'}")
        default = params[key]
        if default is not None and not _same_kind(default, value):
            raise UnlearnError(f"{method}.{key} must be of type {type(default).__name__} like the "
                               f"default {default!r}, got {value!r}")
        params[key] = float(value) if isinstance(default, float) else value
    METHODS[method].validate(params)
    return params


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))
