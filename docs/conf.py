"""Sphinx configuration for the qiskit-unlearn documentation site.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. Warnings are errors, so a broken reference fails the build.
The tutorial notebooks are executed during the build (myst-nb through nbclient): a cell that
raises fails it, and the pages show fresh outputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The notebooks and autodoc import the package; keep its thread pools polite on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")

import qiskit_unlearn  # noqa: E402

project = "qiskit-unlearn"
author = "qiskit-unlearn developers"
copyright = "2026, qiskit-unlearn developers"
release = qiskit_unlearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]

# -- API reference: Google-style docstrings, one page per public object ----------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a package's __all__ is its public API
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# Every reference into the package must resolve; names from other projects cannot be checked
# offline (no intersphinx inventories without network), so those alone are exempt.
nitpicky = True
EXTERNAL = (
    r"(torch|numpy|np|qiskit|qiskit_aer|qiskit_ibm_runtime|qiskit_machine_learning|scipy|"
    r"sklearn|matplotlib|pathlib|typing|typing_extensions|collections|concurrent|"
    r"multiprocessing|argparse|ray|mlflow|tqdm|numba|contextlib|io|os|subprocess|types|"
    r"dataclasses|enum|abc|json|csv|datetime|threading|logging|numbers)(\..*)?"
)
BUILTIN = (
    r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|type|None|NoneType|"
    r"Any|Callable|Iterable|Iterator|Sequence|Mapping|MutableMapping|Generator|Literal|"
    r"Optional|Union|Path|Tensor|ndarray|Module|Self|T|K|V|.*Error|Exception|Warning|"
    r"UserWarning|RuntimeError|ValueError|KeyError|TypeError|Ellipsis|slice|range|"
    r"complex|array_like|optional|callable|iterable|sequence|mapping)"
)
nitpick_ignore_regex = [
    (r"py:.*", EXTERNAL),
    (r"py:.*", BUILTIN),
    # Base classes and annotations may name internal classes (``pkg.module.Name``), which the
    # reference leaves out on purpose; explicit :func:/:mod:/:meth: references stay checked.
    (r"py:class", r"qiskit_unlearn(\.\w+){3,}"),
    (r"py:(class|obj)", r"(qiskit_unlearn\.\w+\.)?[A-Z]"),  # TypeVars: T, K, V
    (r"py:class", r"(MethodFn|CheckFn|BackendFactory|ArrayPair|Corruption)"),  # type aliases
]

# The reference has one page per public module: the modules that declare ``__all__``, in layer
# order. The pages are written at build time from ``__all__``, so the reference cannot drift
# from the code; a module that declares ``__all__`` but is missing here stops the build.
API_MODULES = (
    ("Circuits", ["ansatz", "engine", "gradients"]),
    ("Backends and the quantum layer", ["backends", "qnn"]),
    ("Learning", ["models", "data", "scenarios", "train"]),
    ("Unlearning and evaluation", ["unlearn", "evaluate"]),
    ("Configs, execution and runs", ["config", "execute", "run"]),
    ("Studies", ["report", "sweep", "hardware", "tracking"]),
    ("Foundations", ["registry", "errors", "schema"]),
)


# Written when the configuration loads, before Sphinx looks for source files.
from api_pages import write_api_pages  # noqa: E402

write_api_pages(Path(__file__).resolve().parent / "api", API_MODULES)


# -- MyST and notebooks ---------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("QUNLEARN_DOCS_EXECUTE", "force")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_in_temp = True
nb_execution_show_tb = True
nb_merge_streams = True

# -- HTML -----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"qiskit-unlearn {release}"
html_static_path: list[str] = []
