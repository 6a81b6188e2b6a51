"""The ``[sweep]`` config section: validation and expansion into noise settings.

A sweep names noise *families* (lists of strengths) and *where* the noise acts. Every family is
measured against one shared zero-noise reference, the config's own exact ``[backend]``, so a
level of 0 (or ``shots = 0``) is that reference rather than a run of its own. Families listed
directly in ``[sweep]`` are run for every placement in ``where``; a placement sub-table
(``[sweep.both]``) adds families for that placement only, which keeps expensive noisy training
to a few levels while evaluation-time noise covers the whole grid.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from qiskit_unlearn.errors import ConfigError

PLACEMENTS = ("train", "eval", "both")
#: family key -> noise_kind column value
FAMILIES = {"depolarizing": "depolarizing", "readout": "readout", "thermal_t1": "thermal",
            "shots": "shots", "devices": "device"}
OPTIONS: dict[str, Any] = {"depolarizing_1q_ratio": 0.1, "thermal_t2_ratio": 1.0,
                           "gate_time_1q": None, "gate_time_2q": None, "noise_shots": 0,
                           "seed": 0}
REFERENCE = "exact"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_EXAMPLE = ('e.g.\n[sweep]\nwhere = ["eval"]\ndepolarizing = [0.0, 1e-3, 1e-2, 5e-2]\n'
            'readout = [0.0, 0.02, 0.1]\nshots = [0, 256, 4096]\ndevices = ["manila"]')


class SweepError(ConfigError):
    """A ``[sweep]`` section that cannot run; the message names the key and the fix."""


@dataclass(frozen=True)
class Setting:
    """One noise setting: how it is labelled and plotted, and the backend table it runs on.

    Attributes:
        label: Folder-safe name, unique per placement (e.g. ``depolarizing-0.01``,
            ``t1-50us``, ``device-manila``; ``exact`` for the reference).
        kind: The family, as the ``noise_kind`` column holds it (``depolarizing``,
            ``readout``, ``thermal``, ``shots``, ``device``, or an explicit setting's kind).
        level: The strength on the family's axis: the 2-qubit depolarizing rate, the readout
            flip probability, the relaxation rate 1/T1 in 1/µs, the shot-noise scale
            ``1/sqrt(shots)``; NaN for settings without one, such as devices.
        backend: The backend table the setting runs on; ``None`` for the reference (the
            config's own ``[backend]``).
        shots: Shots per circuit execution of that backend (0: exact expectation values).
        precision: The estimator precision those shots give (0.0: exact).
        device: The fake device's name for device settings, else ``""``.
        mitigation: Error mitigation at evaluation (``zne``, ``readout``, ``zne+readout``;
            see ``sweep.mitigation``), ``""`` for none.
        mitigation_options: The backend options the mitigation adds to the evaluation
            backend (``{}`` for none).
    """

    label: str
    kind: str
    level: float
    backend: dict[str, Any] | None
    shots: int = 0
    precision: float = 0.0
    device: str = ""
    # Error mitigation at evaluation (``sweep.mitigation``): its name and the backend
    # options it adds to the evaluation backend ("" and {}: none).
    mitigation: str = ""
    mitigation_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        """Whether this is the shared zero-noise reference (no backend of its own)."""
        return self.backend is None


@dataclass(frozen=True)
class Run:
    """A setting at one placement: one run directory of the sweep.

    Attributes:
        where: Where the noise acts: ``train`` (training and unlearning), ``eval``
            (evaluation only) or ``both``; ``"nowhere"`` for the reference.
        setting: The noise setting.
    """

    where: str
    setting: Setting

    @property
    def placement(self) -> str:
        """``where`` with the mitigation appended (``eval+zne``), as results and figures
        group the run."""
        m = self.setting.mitigation
        return f"{self.where}+{m}" if m else self.where

    @property
    def columns(self) -> dict[str, Any]:
        """The noise columns every results row of this run carries."""
        s = self.setting
        return {"noise": s.label, "noise_kind": s.kind, "noise_level": s.level,
                "noise_where": self.placement, "shots": s.shots, "precision": s.precision,
                "noise_device": s.device, "mitigation": s.mitigation}

    @property
    def path(self) -> str:
        """The run directory relative to the sweep's output folder."""
        return s.label if (s := self.setting).is_reference else f"{self.placement}/{s.label}"


REFERENCE_RUN = Run("nowhere", Setting(REFERENCE, REFERENCE, 0.0, None))


# --- validation -------------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def _number_list(key: str, value: Any, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False, integer: bool = False) -> list[float] | list[int]:
    if not isinstance(value, list):
        raise SweepError(f"{key} must be a list of levels, got {value!r}")
    out = []
    for i, v in enumerate(value):
        ok = (isinstance(v, int) and not isinstance(v, bool)) if integer else _is_number(v)
        if not ok or v < low or v > high or (low_open and v == low) or (high_open and v == high):
            kind = "an integer" if integer else "a number"
            left = "(" if low_open else "["
            right = "]" if math.isfinite(high) and not high_open else ")"
            raise SweepError(f"{key}[{i}] = {v!r} is invalid: must be {kind} in {left}{low:g}, "
                             f"{high:g}{right}")
        out.append(int(v) if integer else float(v))
    return sorted(set(out))


def _device_list(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SweepError(f"{key} must be a list of fake device names such as "
                         f"[\"manila\", \"lima\"], got {value!r}")
    if not value:
        return []
    from qiskit_unlearn.backends.noise import fake_device_names  # slow: only when needed

    known = fake_device_names()
    names = [v.strip().lower().removeprefix("fake_") for v in value]
    unknown = [v for v, n in zip(value, names, strict=True) if n not in known]
    if unknown:
        raise SweepError(f"{key}: unknown fake device(s) {', '.join(map(repr, unknown))}; choose "
                         f"from qiskit_ibm_runtime.fake_provider: {', '.join(known)}")
    return list(dict.fromkeys(names))


def _family(key: str, value: Any) -> list[Any]:
    name = key.rsplit(".", 1)[-1]
    if name == "depolarizing":
        return _number_list(key, value, 0.0, 1.0)
    if name == "readout":  # 0.5 erases the measured bit: every expectation value is 0
        return _number_list(key, value, 0.0, 0.5, high_open=True)
    if name == "thermal_t1":
        return _number_list(key, value, 0.0, math.inf, low_open=True)
    if name == "shots":
        return _number_list(key, value, 0, math.inf, integer=True)
    return _device_list(key, value)


def _where(value: Any, key: str = "sweep.where") -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise SweepError(f"{key} must be a placement or a list of them "
                         f"({', '.join(PLACEMENTS)}), got {value!r}")
    bad = [v for v in items if v not in PLACEMENTS]
    if bad:
        raise SweepError(f"{key}: {', '.join(map(repr, bad))} is not a placement; choose "
                         f"from {', '.join(PLACEMENTS)} (train: noise while training and "
                         "unlearning, eval: only when evaluating, both)")
    return list(dict.fromkeys(items))


def _option(key: str, value: Any) -> Any:
    name = key.rsplit(".", 1)[-1]
    if name in ("noise_shots", "seed"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SweepError(f"{key} must be an integer >= 0, got {value!r}")
        return value
    if not _is_number(value):
        raise SweepError(f"{key} must be a number, got {value!r}")
    value = float(value)
    bounds = {"depolarizing_1q_ratio": (0.0, 10.0), "thermal_t2_ratio": (0.0, 2.0),
              "gate_time_1q": (0.0, math.inf), "gate_time_2q": (0.0, math.inf)}[name]
    if not bounds[0] <= value <= bounds[1] or (name == "thermal_t2_ratio" and value == 0):
        rule = {"depolarizing_1q_ratio": "in [0, 10] (the 1-qubit rate is this times the "
                                         "2-qubit rate)",
                "thermal_t2_ratio": "in (0, 2] (t2 = ratio * t1; t2 > 2 t1 is unphysical)",
                }.get(name, ">= 0 (ns)")
        raise SweepError(f"{key} = {value:g} is invalid: must be {rule}")
    return value


def _explicit(i: int, table: Any, where: list[str]) -> dict[str, Any]:
    from qiskit_unlearn.backends.base import BackendConfig, BackendError, resolve_backend

    key = f"sweep.setting[{i}]"
    if not isinstance(table, dict):
        raise SweepError(f"{key} must be a table with label and backend, got {table!r}")
    allowed = {"label", "kind", "level", "where", "backend"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SweepError(f"unknown key(s) {', '.join(f'{key}.{k}' for k in unknown)}; allowed: "
                         f"{', '.join(sorted(allowed))}")
    label = table.get("label")
    if not isinstance(label, str) or not _LABEL.match(label) or label == REFERENCE:
        raise SweepError(f"{key}.label must be a folder-safe name (letters, digits, . _ + -) "
                         f"other than {REFERENCE!r}, got {label!r}")
    backend = table.get("backend")
    if not isinstance(backend, dict) or "name" not in backend:
        raise SweepError(f"{key}.backend must be a backend table such as {{name = \"aer-noisy\", "
                         f"depolarizing_2q = 0.02}}, got {backend!r}")
    try:
        resolve_backend(BackendConfig.coerce(backend))
    except BackendError as exc:
        raise SweepError(f"{key}.backend: {exc}") from None
    kind = table.get("kind", "custom")
    if not isinstance(kind, str) or not kind or kind == REFERENCE:
        raise SweepError(f"{key}.kind must be a non-empty family name (e.g. \"depolarizing\" to "
                         f"join that family's plots), got {kind!r}")
    level = table.get("level", math.nan)
    if not (_is_number(level) or (isinstance(level, float) and math.isnan(level))):
        raise SweepError(f"{key}.level must be a finite number (the x position in the "
                         f"{kind!r} plots), got {level!r}")
    places = _where(table["where"], f"{key}.where") if "where" in table else where
    return {"label": label, "kind": kind, "level": float(level), "where": places,
            "backend": copy.deepcopy(backend)}


def validate_sweep(table: Any, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check a ``[sweep]`` section and fill in defaults.

    The result has the same shape as the input (so validating it again is a no-op): ``where``
    as a list, every family (sorted, de-duplicated), the options, ``setting``, the placement
    sub-tables, the mitigation keys and ``grid`` that were given.

    Args:
        table: The raw ``[sweep]`` table.
        base: The raw config the section belongs to. With it, every value and every point of
            ``[sweep.grid]`` is validated as a config too (models are built once per distinct
            model table); ``None`` checks the grid's shape only.

    Returns:
        The validated section, defaults filled in.

    Raises:
        SweepError: If a key, level, placement, option, explicit setting or grid value is
            invalid, or the sweep has neither a non-zero noise level nor a grid; the message
            names the key and the fix.
    """
    if not isinstance(table, dict):
        raise SweepError(f"[sweep] must be a table, got {table!r}; {_EXAMPLE}")
    from qiskit_unlearn.sweep import mitigation

    allowed = {"where", *FAMILIES, *OPTIONS, "setting", *PLACEMENTS, *mitigation.DEFAULTS,
               "grid"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SweepError(f"unknown key(s) {', '.join(f'sweep.{k}' for k in unknown)}; allowed "
                         f"keys in [sweep]: {', '.join(sorted(allowed))}")
    out: dict[str, Any] = {"where": _where(table.get("where", ["eval"]))}
    for name in FAMILIES:
        out[name] = _family(f"sweep.{name}", table[name]) if name in table else []
    for name, default in OPTIONS.items():
        out[name] = _option(f"sweep.{name}", table[name]) if table.get(name) is not None \
            else default
    for place in PLACEMENTS:
        if place not in table:
            continue
        sub = table[place]
        if not isinstance(sub, dict):
            raise SweepError(f"sweep.{place} must be a table of noise families, e.g. "
                             f"[sweep.{place}] depolarizing = [0.0, 0.01], got {sub!r}")
        bad = sorted(set(sub) - set(FAMILIES))
        if bad:
            raise SweepError(f"unknown key(s) {', '.join(f'sweep.{place}.{k}' for k in bad)}; "
                             f"[sweep.{place}] takes the families {', '.join(FAMILIES)}")
        out[place] = {name: _family(f"sweep.{place}.{name}", v) for name, v in sub.items()}
    settings = table.get("setting", [])
    if not isinstance(settings, list):
        raise SweepError("sweep.setting must be a list of [[sweep.setting]] tables")
    out["setting"] = [_explicit(i, s, out["where"]) for i, s in enumerate(settings)]
    out.update(mitigation.validate(table))
    if "grid" in table:
        from qiskit_unlearn.sweep.axes import validate_grid

        out["grid"] = validate_grid(table["grid"], base)
    elif not expand_sweep(out):
        raise SweepError("[sweep] has no noise setting besides the exact reference: give at "
                         "least one non-zero level, or a [sweep.grid] of config values; "
                         f"{_EXAMPLE}")
    return out


# --- expansion --------------------------------------------------------------------------------

def _budget(backend: Mapping[str, Any]) -> tuple[int, float]:
    """(shots, precision) a backend table runs with; (0, 0.0) when it is exact."""
    from qiskit_unlearn.backends.noise import (
        DEFAULT_PRECISION,
        precision_for_shots,
        shots_for_precision,
    )

    if backend.get("shots") is not None:
        return int(backend["shots"]), precision_for_shots(int(backend["shots"]))
    if backend.get("precision") is not None:
        return shots_for_precision(float(backend["precision"])), float(backend["precision"])
    if backend.get("method") == "shots":
        return shots_for_precision(DEFAULT_PRECISION), DEFAULT_PRECISION
    return 0, 0.0


def _make(label: str, kind: str, level: float, backend: dict[str, Any],
          device: str = "") -> Setting:
    shots, precision = _budget(backend)
    return Setting(label, kind, level, backend, shots, precision, device)


def _noisy(rates: dict[str, Any], sweep: Mapping[str, Any]) -> dict[str, Any]:
    """Exact noise runs on the density-matrix engine (``noisy``: exact values, reverse-mode
    gradients, devices cut to the qubits used); shot noise on Aer (``aer-noisy``)."""
    if sweep["noise_shots"]:
        return {"name": "aer-noisy", **rates, "seed": sweep["seed"],
                "shots": sweep["noise_shots"]}
    return {"name": "noisy", **rates, "seed": sweep["seed"]}


def _setting(kind: str, value: Any, sweep: Mapping[str, Any]) -> Setting | None:
    """The setting of one family level; None for a zero level (the shared reference).

    Levels: the 2-qubit depolarizing rate, the readout flip probability, the relaxation rate
    1/T1 in 1/µs, the shot-noise scale 1/sqrt(shots); devices have none (NaN).
    """
    if kind == "device":
        return _make(f"device-{value}", kind, math.nan, _noisy({"device": value}, sweep), value)
    if kind == "thermal":
        rates = {"t1": value, "t2": value * sweep["thermal_t2_ratio"]}
        rates.update({k: sweep[k] for k in ("gate_time_1q", "gate_time_2q")
                      if sweep[k] is not None})
        return _make(f"t1-{value / 1000:g}us", kind, 1000.0 / value, _noisy(rates, sweep))
    if value == 0:
        return None
    if kind == "shots":
        return _make(f"shots-{value}", kind, 1 / math.sqrt(value),
                     {"name": "aer", "shots": value, "seed": sweep["seed"]})
    if kind == "readout":
        return _make(f"readout-{value:g}", kind, value, _noisy({"readout_error": value}, sweep))
    rate_1q = round(value * sweep["depolarizing_1q_ratio"], 12)
    if rate_1q > 1:
        raise SweepError(f"sweep.depolarizing = {value:g} with depolarizing_1q_ratio = "
                         f"{sweep['depolarizing_1q_ratio']:g} gives a 1-qubit rate above 1; "
                         "lower the ratio or the level")
    return _make(f"depolarizing-{value:g}", kind, value,
                 _noisy({"depolarizing_2q": value, "depolarizing_1q": rate_1q}, sweep))


def _families(sweep: Mapping[str, Any], place: str) -> dict[str, list[Any]]:
    """The levels of every family at one placement: the top-level lists (if ``place`` is in
    ``where``) joined with the placement's own sub-table."""
    out = {name: list(sweep[name]) if place in sweep["where"] else [] for name in FAMILIES}
    for name, levels in sweep.get(place, {}).items():
        joined = out[name] + list(levels)
        out[name] = list(dict.fromkeys(joined)) if name == "devices" else sorted(set(joined))
    return out


def expand_sweep(sweep: Mapping[str, Any]) -> list[Run]:
    """Every (placement, setting) of a validated sweep, reference excluded, in a stable order.

    Placements as listed in ``where`` (then those with only a sub-table), within each the
    families, by increasing strength (thermal: T1 descending; devices as listed); then the
    explicit ``[[sweep.setting]]`` tables, then the mitigated copies of the noisy
    evaluation runs. Zero levels are the shared reference and produce no run.

    Args:
        sweep: A validated ``[sweep]`` section (:func:`validate_sweep`).

    Returns:
        One :class:`Run` per run directory.

    Raises:
        SweepError: If an explicit setting's label is used twice at one placement, or a
            depolarizing level times ``depolarizing_1q_ratio`` exceeds 1.
    """
    runs: dict[tuple[str, str], Run] = {}
    for place in dict.fromkeys([*sweep["where"], *(p for p in PLACEMENTS if p in sweep)]):
        for name, levels in _families(sweep, place).items():
            settings = [s for v in levels if (s := _setting(FAMILIES[name], v, sweep))]
            if name != "devices":  # by strength (thermal: T1 descending)
                settings.sort(key=lambda s: s.level)
            for setting in settings:
                runs.setdefault((place, setting.label), Run(place, setting))
    for i, table in enumerate(sweep.get("setting", [])):
        setting = _make(table["label"], table["kind"], table["level"], table["backend"])
        for place in table["where"]:
            if (place, setting.label) in runs:
                raise SweepError(f"sweep.setting[{i}].label = {setting.label!r} is already used "
                                 f"at where = {place!r}; labels must be unique per placement")
            runs[(place, setting.label)] = Run(place, setting)
    from qiskit_unlearn.sweep.mitigation import mitigated_runs

    return [*runs.values(), *mitigated_runs(list(runs.values()), sweep)]


def describe(setting: Setting) -> str:
    """The backend table as one line, for reports."""
    if setting.backend is None:
        return "the config's [backend] (exact)"
    return ", ".join(f"{k}={v}" for k, v in setting.backend.items())


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """:func:`qiskit_unlearn.config.load_config` with the ``[sweep]`` section (if any)
    validated too, grid points included: what ``qunlearn run`` and ``qunlearn sweep`` load.

    Args:
        path: The TOML config file.
        overrides: ``--set`` style ``key=value`` overrides applied before validation.

    Returns:
        The validated config, ``sweep`` included when the file has one.

    Raises:
        qiskit_unlearn.errors.ConfigError: If the config is invalid (a :class:`SweepError`
            for the ``[sweep]`` section).
    """
    from qiskit_unlearn import config

    return config.load_config(path, overrides, sections=SECTIONS)


#: The config sections this package validates (see :func:`qiskit_unlearn.config.validate_config`).
SECTIONS = {"sweep": lambda table, raw: validate_sweep(table, base=raw)}
