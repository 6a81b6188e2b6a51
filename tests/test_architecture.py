"""The layer order, written down once: every import in the package points down.

Bottom to top (a unit may import its own layer's units and every lower layer's, never a
higher layer's; within a layer the imports between units must not form a cycle). Imports
inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qiskit_unlearn"

#: (layer, its units: top-level modules or packages of ``qiskit_unlearn``), bottom first.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "validation", "registry", "schema", "storage", "locks"}),
    ("circuits", {"ansatz", "engine", "gradients"}),
    ("backends", {"backends"}),
    ("qnn", {"qnn", "batched_qnn", "vjp"}),
    ("learning", {"models", "data", "scenarios", "train"}),
    ("unlearning", {"unlearn", "evaluate"}),
    ("config", {"config"}),
    ("execution", {"execute"}),
    ("run", {"run"}),
    ("studies", {"report", "sweep", "hardware", "tracking"}),
    ("interface", {"cli", "bench", "bench_scaling", "demo", "__main__"}),
]
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str | None:
    """``qiskit_unlearn.run.context`` → ``run``; the package itself (its lazy public façade,
    ``qiskit_unlearn/__init__.py``) → None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "qiskit_unlearn" else None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every absolute or relative ``qiskit_unlearn`` import."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name == "qiskit_unlearn":  # ``from qiskit_unlearn import x``: x is the unit
                found += [(node.lineno, f"qiskit_unlearn.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, name))
    return [(line, name) for line, name in found if name.startswith("qiskit_unlearn")]


def _edges() -> list[tuple[str, int, str, str]]:
    """(file, line, importing unit, imported unit) for every cross-unit import; an import
    through the package façade (``from qiskit_unlearn import make_qnn``) hides its layer, so
    it is its own unit, ``<facade>``, which no layer may import (``__version__`` aside)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit(_module_name(path))
        if src is None:
            continue
        for line, name in _imports(path):
            dst = _unit(name)
            if dst is not None and dst not in RANK and dst != "__version__":
                dst = "<facade>"
            if dst not in (None, src, "__version__"):
                out.append((str(path.relative_to(PACKAGE.parent)), line, src, dst))
    return out


def test_no_module_imports_through_the_package_facade():
    assert [f"{file}:{line}" for file, line, _, dst in _edges() if dst == "<facade>"] == []


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert units - set(RANK) == set(), (
        "add the new module to LAYERS (and the diagram in docs/guides/architecture.md)")
    assert set(RANK) - units == set(), "LAYERS names a unit that no longer exists"


def test_no_import_points_up():
    upward = [f"{file}:{line}: {src} ({LAYERS[RANK[src]][0]}) imports {dst} "
              f"({LAYERS[RANK[dst]][0]})" for file, line, src, dst in _edges()
              if dst in RANK and RANK[dst] > RANK[src]]
    assert upward == []


def test_units_of_one_layer_do_not_import_each_other_in_a_cycle():
    graph: dict[str, set[str]] = {}
    for _, _, src, dst in _edges():
        if dst in RANK and RANK[src] == RANK[dst]:
            graph.setdefault(src, set()).add(dst)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle between units of one layer: {exc.args[1]}")


def test_the_checker_sees_lazy_relative_and_package_imports(tmp_path):
    """The test above must be able to fail: a function-level import, a relative import and
    ``from qiskit_unlearn import x`` are all found."""
    sample = PACKAGE / "run" / "orchestrator.py"  # imports the job log inside a function
    assert "qiskit_unlearn.qnn.jobs" in {name for _, name in _imports(sample)}
    fake = tmp_path / "qiskit_unlearn" / "models"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text("def f():\n    from ..sweep import run\n"
                               "    from qiskit_unlearn import cli\n")
    path = fake / "x.py"
    found = [name for _, name in _imports_at(path)]
    assert found == ["qiskit_unlearn.sweep", "qiskit_unlearn.cli"]
    assert all(RANK[_unit(n)] > RANK["models"] for n in found)


def _imports_at(path: Path) -> list[tuple[int, str]]:
    global PACKAGE
    saved, PACKAGE = PACKAGE, path.parents[1]
    try:
        return _imports(path)
    finally:
        PACKAGE = saved


def test_the_architecture_guide_diagram_shows_every_layer_and_unit():
    guide = (PACKAGE.parent / "docs" / "guides" / "architecture.md").read_text(encoding="utf-8")
    section = guide.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    diagram = section.split("```", 2)[1]
    lines = {line.split()[0]: line for line in diagram.splitlines() if line.strip()
             and line.split()[0].isalpha()}
    for layer, units in LAYERS:
        assert layer in lines, f"the architecture guide's layer diagram lacks the {layer!r} layer"
        row = lines[layer]
        missing = [u for u in units if u not in row.replace("/", " ").split()]
        assert not missing, f"the architecture guide's {layer!r} row does not name {missing}"
