"""The config schema's building blocks: :class:`Field` and the table validator.

Below every layer that owns a part of a config (the experiment schema in
:mod:`qiskit_unlearn.config`, a scenario kind's parameters in :mod:`qiskit_unlearn.scenarios`,
the ``[sweep]`` section), so each declares its keys the same way and raises the same
:class:`~qiskit_unlearn.errors.ConfigError`, naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit_unlearn.errors import ConfigError

__all__ = ["NAME_RULE", "ConfigError", "Field", "check_value", "fraction", "int_list",
           "interval", "plain_name", "positive", "validate_table"]


@dataclass(frozen=True)
class Field:
    """One key of a config table: its types, default, and the rule its value must meet
    (``check`` with the ``rule`` shown on error, or ``choices``, possibly computed from a
    registry so the schema never copies a registry's names).

    Attributes:
        types: The accepted Python types of the parsed TOML value (an int is accepted and
            converted where ``float`` is listed; a bool only where ``bool`` is listed).
        default: The value filled in when the key is absent (deep-copied each time).
        required: The key must be given; ``default`` is then unused.
        check: A predicate the (type-checked) value must satisfy, or None.
        rule: What ``check`` demands, in words, for the error message (e.g. ``"> 0"``).
        choices: The allowed values, or a callable returning them (called at validation time,
            e.g. a registry's names), or None for any value.
    """

    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    choices: Callable[[], Sequence[str]] | Sequence[str] | None = None


def positive(v: Any) -> bool:
    """A :attr:`Field.check` for numbers > 0.

    Args:
        v: The value.

    Returns:
        Whether ``v > 0``.
    """
    return v > 0


def fraction(v: Any) -> bool:
    """A :attr:`Field.check` for fractions strictly between 0 and 1.

    Args:
        v: The value.

    Returns:
        Whether ``0 < v < 1``.
    """
    return 0 < v < 1


def interval(v: Any) -> bool:
    """A :attr:`Field.check` for a ``[low, high]`` pair of numbers with ``low < high``.

    Args:
        v: The value (a list).

    Returns:
        Whether ``v`` has two numbers (not booleans) in increasing order.
    """
    return len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                               for x in v) and v[0] < v[1]


def int_list(v: Any) -> bool:
    """A :attr:`Field.check` for a list of integers (booleans excluded; empty is fine).

    Args:
        v: The value (a list).

    Returns:
        Whether every item is an integer.
    """
    return all(isinstance(i, int) and not isinstance(i, bool) for i in v)


#: A plain folder name: run directories are ``runs/<experiment.name>`` and model files are
#: named after scenarios, so neither may be a path (``..``, ``/``) or empty.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: The rule :func:`plain_name` checks, in words, for error messages.
NAME_RULE = ("a plain folder name: 1-100 letters, digits, '-', '_' and '.', starting with a "
             "letter or digit, without '..' (choose any folder with --out)")


def plain_name(v: Any) -> bool:
    """A :attr:`Field.check` for plain folder names (see :data:`NAME_RULE`).

    Args:
        v: The value (a string).

    Returns:
        Whether ``v`` is 1-100 letters, digits, ``-``, ``_`` and ``.``, starts with a letter or
        digit and has no ``..``.
    """
    return bool(_FOLDER_NAME.fullmatch(v)) and ".." not in v


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "true/false",
             list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_value(key: str, value: Any, spec: Field) -> Any:
    """Check one value against its field: type, then ``choices``, then ``check``.

    Args:
        key: The dotted key for messages, e.g. ``"train.epochs"``.
        value: The parsed value.
        spec: The field it must satisfy.

    Returns:
        The value, with an int converted to float where the field takes floats.

    Raises:
        ConfigError: If the type is wrong, the value is not among the choices, or the check
            fails; the message names ``key`` and what is allowed.
    """
    if float in spec.types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok_type = isinstance(value, spec.types) and not (
        isinstance(value, bool) and bool not in spec.types)
    if not ok_type:
        raise ConfigError(f"{key} must be a {_type_name(spec.types)}, got {value!r}")
    if spec.choices is not None:
        choices = spec.choices() if callable(spec.choices) else spec.choices
        if value not in choices:
            raise ConfigError(f"{key} = {value!r} is not allowed; choose one of: "
                              f"{', '.join(choices)}")
    if spec.check is not None and not spec.check(value):
        raise ConfigError(f"{key} = {value!r} is invalid: must be {spec.rule}")
    return value


def validate_table(section: str, table: Any, fields: Mapping[str, Field],
                    open_ended: bool = False) -> dict[str, Any]:
    """Validate a config table against its fields and fill in defaults.

    Args:
        section: The table's name for messages, e.g. ``"train"``.
        table: The parsed table.
        fields: Key -> field of every key the table may (or must) have.
        open_ended: Keep unknown keys as given (for tables whose other keys are checked
            elsewhere, e.g. a model's arguments) instead of rejecting them.

    Returns:
        A new table with every field's key checked or filled with its default.

    Raises:
        ConfigError: If ``table`` is not a table, has unknown keys (unless ``open_ended``),
            misses a required key, or has an invalid value.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    unknown = sorted(set(table) - set(fields))
    if unknown and not open_ended:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; allowed keys in "
            f"[{section}]: {', '.join(sorted(fields))}")
    out = dict(table) if open_ended else {}
    for name, spec in fields.items():
        key = f"{section}.{name}"
        if name in table:
            out[name] = check_value(key, table[name], spec)
        elif spec.required:
            raise ConfigError(f"missing required key {key}")
        else:
            out[name] = copy.deepcopy(spec.default)
    return out
