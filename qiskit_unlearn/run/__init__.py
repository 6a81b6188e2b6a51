"""Run orchestration: one config → one run directory.

* ``run.context``: :class:`RunContext`, what a config means per (seed,
  scenario): data, scenario, split roles, evaluation sets, method inputs;
* ``run.data``, ``run.models``: data preparation and the
  model a config builds (with the early dry build, :func:`preflight`);
* ``run.modelstore``: where models come from (run directory, cache, training);
* ``run.rundir``, ``run.outputs``: the run directory as a
  record (lock, claim, manifest) and the atomic result writers;
* ``run.units``: the units of work (training, a method on its teacher,
  evaluation, forgetting-quality models), runnable by any executor;
* ``run.orchestrator``: the driver: plans the units, records results as they
  arrive, writes the rows (:func:`run_experiment`).
"""

from qiskit_unlearn.run.context import RunContext
from qiskit_unlearn.run.data import prepare_data
from qiskit_unlearn.run.models import evaluated_on, model_kwargs, preflight
from qiskit_unlearn.run.modelstore import CacheWarning, ModelCache, ModelStore, default_cache_dir
from qiskit_unlearn.run.orchestrator import Orchestrator, run_experiment
from qiskit_unlearn.run.outputs import package_versions
from qiskit_unlearn.run.rundir import Manifest

__all__ = ["CacheWarning", "Manifest", "ModelCache", "ModelStore", "Orchestrator", "RunContext",
           "default_cache_dir", "evaluated_on", "model_kwargs", "package_versions", "preflight",
           "prepare_data", "run_experiment"]
