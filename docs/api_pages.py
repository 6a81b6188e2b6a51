"""Write the API reference's per-module pages from each public module's ``__all__``.

Called by ``conf.py`` when the build starts. Generated pages live in ``docs/api/modules/`` and
are not committed; autosummary then writes one page per object.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Sequence
from pathlib import Path

import qiskit_unlearn

KINDS = (("Classes", "class"), ("Functions", "function"), ("Exceptions", "exception"),
         ("Module data", "data"))


def public_modules() -> set[str]:
    """Short names of the modules and packages of qiskit_unlearn (not the CLI) that declare
    ``__all__``: the public API. ``tests/test_docstrings.py`` checks the same set."""
    found = set()
    for info in pkgutil.iter_modules(qiskit_unlearn.__path__):
        if info.name != "cli" and "__all__" in vars(
                importlib.import_module(f"qiskit_unlearn.{info.name}")):
            found.add(info.name)
    return found


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def _page(name: str) -> str:
    module = importlib.import_module(f"qiskit_unlearn.{name}")
    full = f"qiskit_unlearn.{name}"
    lines = [full, "=" * len(full), "", f".. automodule:: {full}", "   :no-members:", "",
             f".. currentmodule:: {full}", ""]
    groups: dict[str, list[str]] = {}
    for item in sorted(module.__all__, key=str.lower):
        if item.startswith("__"):
            continue
        groups.setdefault(_kind(getattr(module, item)), []).append(item)
    for title, kind in KINDS:
        if kind not in groups:
            continue
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: ../generated",
                  "   :nosignatures:", ""]
        lines += [f"   {item}" for item in groups[kind]] + [""]
    return "\n".join(lines)


def write_api_pages(folder: Path, layout: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Write ``folder/modules/<name>.rst`` for every listed module and a toctree page of them.

    Raises:
        RuntimeError: if a public module is not listed in ``layout`` or a listed one is not
            public, so the reference always covers exactly the public API.
    """
    listed = [name for _, names in layout for name in names]
    public = public_modules()
    if set(listed) != public:
        raise RuntimeError(
            f"docs/conf.py API_MODULES is out of date: add {sorted(public - set(listed))}, "
            f"remove {sorted(set(listed) - public)}")
    out = folder / "modules"
    out.mkdir(exist_ok=True)
    toc = ["Modules", "=======", ""]
    for title, names in layout:
        toc += [".. toctree::", f"   :caption: {title}", "   :maxdepth: 1", ""]
        toc += [f"   {name}" for name in names] + [""]
        for name in names:
            page = out / f"{name}.rst"
            text = _page(name)
            if not page.exists() or page.read_text(encoding="utf-8") != text:
                page.write_text(text, encoding="utf-8")
    index = out / "index.rst"
    text = "\n".join(toc)
    if not index.exists() or index.read_text(encoding="utf-8") != text:
        index.write_text(text, encoding="utf-8")
