"""``[sweep.grid]``: sweep any config value, crossed with the noise plan of ``[sweep]``.

A grid maps dotted config keys to lists of values (``"model.layers" = [1, 2, 3]``); its points
are the cross product, each the base config with those values set exactly as ``--set`` would
set them. Every value, and every point, is validated at load time like a config of its own, so
a typo fails before any work with the grid key and value named. The backend is not a grid axis:
the noise families own it, and each grid point runs the whole noise plan.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit_unlearn.errors import ConfigError

#: Sections a grid may not set, and why.
FORBIDDEN = {"experiment": "the experiment's name and seeds identify the sweep (seeds are what "
                           "the confidence bands are over)",
             "sweep": "a sweep cannot sweep itself",
             "backend": "the noise families of [sweep] own the backend (depolarizing, readout, "
                        "thermal_t1, shots, devices or [[sweep.setting]])"}
GRID_COLUMN = "grid"
_SEGMENT = re.compile(r"^[A-Za-z0-9_+-]+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
_EXAMPLE = ('e.g.\n[sweep.grid]\n"model.layers" = [1, 2, 3]\n'
            '"model.entanglement" = ["linear", "ring"]')


def _error(text: str) -> ConfigError:
    from qiskit_unlearn.sweep.grid import SweepError

    return SweepError(text)


@dataclass(frozen=True)
class GridPoint:
    """One point of a ``[sweep.grid]``: its config values and its folder-safe label.

    The point with ``values = ()`` and label ``""`` stands for "no grid": the sweep's plain
    layout, with no grid columns.

    Attributes:
        values: The point's ``(dotted config key, value)`` pairs, in grid order.
        label: The folder-safe name of the point, e.g. ``layers=2,entanglement=ring`` (each
            key by its shortest unambiguous suffix); ``""`` for no grid.
    """

    values: tuple[tuple[str, Any], ...]
    label: str

    @property
    def prefix(self) -> str:
        """The folder of the point's runs relative to the sweep folder (``grid/<label>/``,
        or ``""`` for no grid)."""
        return f"grid/{self.label}/" if self.label else ""

    @property
    def columns(self) -> dict[str, Any]:
        """The columns this point adds to every results row.

        One column per grid key (the value as text) and ``grid`` (the label); none for no
        grid.
        """
        if not self.values:
            return {}
        return {**{k: value_text(v) for k, v in self.values}, GRID_COLUMN: self.label}

    def overrides(self) -> list[str]:
        """The point as ``--set`` overrides.

        Returns:
            One ``key=value`` string per pair, the value written as TOML (JSON-compatible),
            e.g. ``model.layers=2``.
        """
        return [f"{k}={json.dumps(v)}" for k, v in self.values]


NO_GRID = GridPoint((), "")


def value_text(value: Any) -> str:
    """A value as its results column holds it: strings as they are, the rest as TOML/JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "-".join(_label_text(v) for v in value) or "none"
    return _UNSAFE.sub("_", str(value)) or "_"


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix of each key that no other key ends with (``model.layers``
    -> ``layers``; ``unlearn.params.ga.lr`` and ``...finetune.lr`` -> ``ga.lr``, ...)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            name = ".".join(parts[-n:])
            if not any(o != key and (o == name or o.endswith("." + name)) for o in keys):
                break
        out[key] = name
    return out


def expand_grid(grid: Mapping[str, Sequence[Any]] | None) -> list[GridPoint]:
    """Every point of a validated grid: the cross product of its value lists.

    Args:
        grid: A validated ``[sweep.grid]`` (dotted config key to its list of values), or
            ``None`` / empty for no grid.

    Returns:
        The points, first key slowest; without a grid a single point with no values and the
        label ``""`` (the sweep's plain layout).
    """
    if not grid:
        return [NO_GRID]
    names = short_names(list(grid))
    points = []
    for combo in itertools.product(*grid.values()):
        pairs = tuple(zip(grid, combo, strict=True))
        label = ",".join(f"{names[k]}={_label_text(v)}" for k, v in pairs)
        points.append(GridPoint(pairs, label))
    return points


def point_config(cfg: Mapping[str, Any], point: GridPoint) -> dict[str, Any]:
    """The validated config of one point: ``cfg`` without ``[sweep]``, the point's values set
    (already validated and normalised at load time, so no second validation is needed)."""
    from qiskit_unlearn.config import apply_overrides
    from qiskit_unlearn.scenarios import SCENARIOS

    base = {k: v for k, v in cfg.items() if k != "sweep"}
    out = apply_overrides(base, point.overrides()) if point.values else copy.deepcopy(base)
    for old, new in zip(base.get("scenario", []), out.get("scenario", []), strict=True):
        if old["name"] == SCENARIOS[old["kind"]].label(old):  # automatic names follow values
            new["name"] = SCENARIOS[new["kind"]].label(new)
    return out


# --- validation -------------------------------------------------------------------------------

def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Unquoted dotted keys (``model.layers = [...]`` in TOML, or ``--set sweep.grid.model.
    layers=[...]``) arrive as nested tables: join them back into dotted keys."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def _check_key(key: str) -> None:
    from qiskit_unlearn.config import TOP_LEVEL

    name = f'sweep.grid."{key}"'
    parts = key.split(".")
    if len(parts) < 2 or not all(_SEGMENT.match(p) for p in parts):
        raise _error(f"{name}: a grid key is a dotted config path such as \"model.layers\" or "
                     "\"unlearn.params.ga.lr\" (letters, digits, _ + -; list items by index)")
    if parts[0] in FORBIDDEN:
        raise _error(f"{name}: the grid cannot set [{parts[0]}] keys: {FORBIDDEN[parts[0]]}")
    if parts[0] not in TOP_LEVEL:
        allowed = sorted(TOP_LEVEL - set(FORBIDDEN))
        raise _error(f"{name}: unknown section {parts[0]!r}; a grid key starts with one of "
                     f"{', '.join(allowed)}")


def _scalar(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    return isinstance(v, (str, int))


def _check_values(key: str, values: Any) -> list[Any]:
    name = f'sweep.grid."{key}"'
    if not isinstance(values, list) or not values:
        raise _error(f"{name} must be a non-empty list of values, e.g. [1, 2, 3], got "
                     f"{values!r}")
    seen: set[str] = set()
    for i, v in enumerate(values):
        if not (_scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))):
            raise _error(f"{name}[{i}] = {v!r}: grid values are strings, numbers, true/false "
                         "or lists of them")
        text = json.dumps(v, sort_keys=True)
        if text in seen:
            raise _error(f"{name}[{i}] = {v!r} is listed twice; list each value once")
        seen.add(text)
    return list(values)


def validate_grid(table: Any, base: Mapping[str, Any] | None = None) -> dict[str, list[Any]]:
    """Check ``[sweep.grid]``; with the raw ``base`` config also every value and every point
    as a config of its own (values come back normalised, e.g. ``lr = 1`` as ``1.0``)."""
    if not isinstance(table, dict) or not table:
        raise _error(f"sweep.grid must be a table of dotted config keys and value lists; "
                     f"{_EXAMPLE}")
    grid = {}
    for key, values in _flatten(table).items():
        _check_key(key)
        grid[key] = _check_values(key, values)
    labels = [p.label for p in expand_grid(grid)]
    if len(set(labels)) != len(labels):
        twice = next(lab for lab in labels if labels.count(lab) > 1)
        raise _error(f"sweep.grid: two points share the folder name {twice!r} (values that "
                     "differ only in type or in characters other than letters, digits . _ + -)")
    if base is None:
        return grid
    return _validate_points(grid, {k: v for k, v in base.items() if k != "sweep"})


def _validate_points(grid: dict[str, list[Any]], raw: Mapping[str, Any]
                     ) -> dict[str, list[Any]]:
    from qiskit_unlearn.config import validate_config

    validate_config(raw)  # a mistake in the base config is reported as itself, not as a value's
    built: set[str] = set()
    normal: dict[str, list[Any]] = {}
    for key, values in grid.items():
        normal[key] = []
        for i, v in enumerate(values):
            cfg = _checked(raw, GridPoint(((key, v),), "x"),
                           f'sweep.grid."{key}"[{i}] = {v!r}', built)
            normal[key].append(_read(cfg, key, v))
    for point in expand_grid(normal):
        _checked(raw, point, f"sweep.grid point {point.label}", built)
    return normal


def _checked(raw: Mapping[str, Any], point: GridPoint, where: str, built: set[str]
             ) -> dict[str, Any]:
    """The validated config of ``raw`` with ``point`` set; models are built once per distinct
    model table (catching e.g. an unknown entanglement, which the schema cannot see)."""
    from qiskit_unlearn.config import apply_overrides, validate_config

    try:
        cfg = validate_config(apply_overrides(dict(raw), point.overrides()))
        if any(k.startswith("model.") for k, _ in point.values):
            what = json.dumps([cfg["model"], cfg["backend"], cfg["data"]["dataset"],
                               cfg["data"]["classes"]], sort_keys=True, default=str)
            if what not in built:
                from qiskit_unlearn.run.models import preflight

                preflight(cfg)
                built.add(what)
    except (ValueError, TypeError) as exc:  # ConfigError, and the model's own errors
        raise _error(f"{where}: {exc}") from None
    return cfg


def _read(cfg: Mapping[str, Any], key: str, default: Any) -> Any:
    """The validated value at ``key`` (normalised by the schema), else ``default``."""
    node: Any = cfg
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return default
    return copy.deepcopy(node)
