"""Error mitigation in noise sweeps: the same noisy evaluations, mitigated.

``mitigation = ["zne", "readout", "zne+readout"]`` in ``[sweep]`` adds, for every exact noisy
setting evaluated under noise (placements ``eval`` and ``both``), a run evaluated on the
mitigated backend: zero-noise extrapolation over the gate noise scaled exactly by
``zne_factors`` (Richardson or linear ``zne_fit``; rate-based noise only, a device's noise
model cannot be stretched exactly), and/or readout error inverted exactly (devices too).
Models are trained exactly as in the unmitigated run (``both``: on the unmitigated noisy
backend), so they are shared with it and only evaluation is repeated. Mitigated runs appear at
placement ``<where>+<mitigation>`` (e.g. ``eval+zne``), so the sweep's comparison figures draw
them next to the unmitigated line: does mitigation restore the teacher–oracle gap that
evaluation noise hides?
"""

from __future__ import annotations

import dataclasses
from typing import Any

from qiskit_unlearn.sweep.grid import Run, SweepError

#: mitigation name -> (needs gate noise, needs readout error, backend options)
MITIGATIONS: dict[str, tuple[bool, bool]] = {
    "zne": (True, False), "readout": (False, True), "zne+readout": (True, True)}
DEFAULTS: dict[str, Any] = {"mitigation": [], "zne_factors": [1.0, 1.5, 2.0, 3.0],
                            "zne_fit": "richardson"}
_GATE_NOISE = ("depolarizing_1q", "depolarizing_2q", "t1")


def validate(table: dict[str, Any]) -> dict[str, Any]:
    """The mitigation keys of a ``[sweep]`` table, checked, defaults filled in."""
    from qiskit_unlearn.engine.zne import FITS

    out = {}
    names = table.get("mitigation", DEFAULTS["mitigation"])
    if not isinstance(names, list) or any(n not in MITIGATIONS for n in names):
        raise SweepError(f"sweep.mitigation must be a list from {', '.join(MITIGATIONS)}, got "
                         f"{names!r}")
    out["mitigation"] = list(dict.fromkeys(names))
    factors = table.get("zne_factors", DEFAULTS["zne_factors"])
    ok = isinstance(factors, list) and len(factors) >= 2 and all(
        isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 1 for f in factors)
    if not ok or len(set(factors)) != len(factors):
        raise SweepError("sweep.zne_factors must list at least two distinct noise factors "
                         f">= 1, e.g. [1, 1.5, 2, 3]; got {factors!r}")
    out["zne_factors"] = sorted(float(f) for f in factors)
    fit = table.get("zne_fit", DEFAULTS["zne_fit"])
    if fit not in FITS:
        raise SweepError(f"sweep.zne_fit must be one of {', '.join(FITS)}, got {fit!r}")
    out["zne_fit"] = fit
    return out


def _options(name: str, sweep: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "zne" in name:
        options.update(zne_factors=list(sweep["zne_factors"]), zne_fit=sweep["zne_fit"])
    if "readout" in name:
        options["mitigate_readout"] = True
    return options


def mitigated_runs(runs: list[Run], sweep: dict[str, Any]) -> list[Run]:
    """The mitigated twin of every exact noisy run evaluated under noise, per mitigation."""
    out = []
    for name in sweep.get("mitigation", []):
        gate, readout = MITIGATIONS[name]
        for run in runs:
            backend = run.setting.backend or {}
            if run.where not in ("eval", "both") or backend.get("name") != "noisy":
                continue
            device = backend.get("device") is not None  # its readout errors can be inverted,
            has_gate = any(k in backend for k in _GATE_NOISE)  # its gate noise not stretched
            if (gate and (device or not has_gate)) or \
                    (readout and not (device or "readout_error" in backend)):
                continue
            setting = dataclasses.replace(run.setting, mitigation=name,
                                          mitigation_options=_options(name, sweep))
            out.append(Run(run.where, setting))
    return out
