"""Sweeps: repeat an experiment over noise settings and any config values (``qunlearn sweep``).

A config's ``[sweep]`` section is validated at load time (:func:`load_config` passes
:func:`validate_sweep` to the config loader) and expanded
into one ordinary run per (placement, setting) (:func:`expand_sweep`), for every point of its
optional ``[sweep.grid]`` of config values (:func:`expand_grid`); :func:`run_sweep` runs them,
sharing every model that does not depend on the noise, and writes the combined table, figures
and report (:func:`write_sweep_report`).
"""

from typing import Any

from qiskit_unlearn.sweep.axes import GridPoint, expand_grid
from qiskit_unlearn.sweep.grid import (
    FAMILIES,
    PLACEMENTS,
    Run,
    Setting,
    SweepError,
    expand_sweep,
    load_config,
    validate_sweep,
)

#: The noise families of ``[sweep]``, each family key mapped to the ``noise_kind`` value its
#: rows carry (``thermal_t1`` is ``thermal``, ``devices`` is ``device``).
FAMILIES = FAMILIES
#: The placements of a sweep's noise, ``train`` (training and unlearning), ``eval``
#: (evaluation only) or ``both``.
PLACEMENTS = PLACEMENTS

__all__ = ["FAMILIES", "PLACEMENTS", "GridPoint", "Run", "Setting", "SweepError", "expand_grid",
           "expand_sweep", "load_config", "run_sweep", "validate_sweep", "write_sweep_report"]


def __getattr__(name: str) -> Any:
    # Loading a config validates [sweep]; running and plotting (torch, matplotlib) load lazily.
    if name == "run_sweep":
        from qiskit_unlearn.sweep.run import run_sweep

        return run_sweep
    if name == "write_sweep_report":
        from qiskit_unlearn.sweep.report import write_sweep_report

        return write_sweep_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
