"""Docstrings follow one style (Google), and the public API documents every argument.

The API reference (``docs/``) is built from these docstrings with napoleon, so a parameter left
out here is missing from the reference. The public API is what a module's ``__all__`` names
(read with ``docs/api_pages.py``, the code that chooses the reference's pages).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import qiskit_unlearn

PACKAGE = Path(qiskit_unlearn.__file__).parent

# Google-style section headers napoleon reads, in the spelling we use. Aliases napoleon also
# accepts (Parameters:, Arguments:, Return:, ...) are refused so the source reads one way.
SECTIONS = {"Args", "Returns", "Yields", "Raises", "Attributes", "Example", "Examples", "Note",
            "Notes", "Warning", "Warnings", "See Also", "References", "Keyword Args", "Methods",
            "Todo"}
ALIASES = {"Arguments", "Parameters", "Params", "Return", "Yield", "Keyword Arguments",
           "Other Parameters", "Raise", "Warns"}
HEADER = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
NUMPY_UNDERLINE = re.compile(r"^\s*[A-Z][A-Za-z ]+\n\s*-{3,}\s*$", re.MULTILINE)
ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:")


def _api_pages() -> ModuleType:
    """``docs/api_pages.py``, which chooses the reference's pages: one rule for both."""
    path = PACKAGE.parent / "docs" / "api_pages.py"
    spec = importlib.util.spec_from_file_location("api_pages", path)
    assert spec is not None and spec.loader is not None, f"{path} is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_modules() -> list[str]:
    """Top-level modules and packages of qiskit_unlearn (not the CLI) that declare ``__all__``."""
    return sorted(f"qiskit_unlearn.{name}" for name in _api_pages().public_modules())


def sections(doc: str) -> dict[str, list[str]]:
    """Section name -> its body lines (dedented), for a cleaned docstring."""
    found: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        match = HEADER.match(line)
        if match and not line.startswith(" "):
            current = match.group(1)
            found[current] = []
        elif current is not None:
            if line and not line.startswith(" "):
                current = None
            else:
                found[current].append(line)
    return found


def entries(body: list[str]) -> set[str]:
    """Names documented in an Args/Attributes section body (first indentation level only)."""
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    if not indents:
        return set()
    level = min(indents)
    names = set()
    for line in body:
        if line.strip() and len(line) - len(line.lstrip()) == level:
            match = ENTRY.match(line.strip())
            if match:
                names.add(match.group(1).lstrip("*"))
    return names


def api_objects() -> Iterator[tuple[str, object]]:
    """Every public function, class and public method, by dotted name."""
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            full = f"{module_name}.{name}"
            if inspect.isclass(obj):
                yield full, obj
                for attr, value in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(value):
                        yield f"{full}.{attr}", value
                    elif isinstance(value, (staticmethod, classmethod)) and not attr.startswith(
                            "_"):
                        yield f"{full}.{attr}", value.__func__
            elif inspect.isfunction(obj):
                yield full, obj


def parameters(obj: object) -> list[str]:
    """The names a docstring must document (``self``/``cls`` and ``*``/``**`` markers dropped)."""
    try:
        signature = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    names = [name for name in signature.parameters if name not in ("self", "cls")]
    if inspect.isclass(obj) and all(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        return []  # an inherited (*args, **kwargs) constructor documents nothing of its own
    return names


def inherited_fields(cls: type) -> set[str]:
    """Names under ``Attributes:`` of the class or of a base class of the package: a dataclass
    that extends another documents only its own fields."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is cls or klass.__module__.startswith("qiskit_unlearn"):
            names |= entries(sections(own_doc(klass)).get("Attributes", []))
    return names


def returns_value(func: object) -> bool:
    annotation = inspect.signature(func).return_annotation  # type: ignore[arg-type]
    return annotation not in (inspect.Signature.empty, None, "None", "NoReturn", "Never")


def own_doc(obj: object) -> str:
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    return inspect.cleandoc(doc) if doc else ""


API = sorted(api_objects(), key=lambda pair: pair[0])


def test_there_is_a_public_api() -> None:
    assert "qiskit_unlearn.unlearn" in public_modules()
    assert len(API) > 200


def problems(name: str, obj: object) -> list[str]:
    """What is wrong with one public object's docstring (empty when nothing)."""
    doc = own_doc(obj)
    if not doc:
        return [f"{name} has no docstring"]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return []
    found = sections(doc)
    wrong = []
    if ALIASES & set(found):
        wrong.append(f"{name}: write {ALIASES & set(found)} in Google spelling (Args:, ...)")
    if set(found) - SECTIONS:
        wrong.append(f"{name}: unknown section header(s) {set(found) - SECTIONS}")
    wanted = parameters(obj)
    documented = entries(found.get("Args", [])) | (
        inherited_fields(obj) if inspect.isclass(obj) else set())
    missing = [p for p in wanted if p not in documented]
    if missing:
        wrong.append(f"{name}: document {missing} under 'Args:' (Google style)")
    extra = documented - set(wanted) if not inspect.isclass(obj) else set()
    if extra:
        wrong.append(f"{name}: 'Args:' names {sorted(extra)}, which the signature lacks")
    if (not inspect.isclass(obj) and returns_value(obj)
            and not {"Returns", "Yields"} & set(found)):
        wrong.append(f"{name}: add a 'Returns:' section")
    return wrong


@pytest.mark.parametrize(("name", "obj"), API, ids=[name for name, _ in API])
def test_public_object_documents_its_arguments(name: str, obj: object) -> None:
    assert problems(name, obj) == []


def test_the_check_catches_what_it_should() -> None:
    def undocumented(x: int, y: int = 0) -> int:
        """Sum.

        Args:
            x: first.
            z: not an argument.
        """
        return x + y

    def numpy_style(x: int) -> None:
        """Do.

        Parameters:
            x: first.
        """

    found = problems("f", undocumented)
    assert any("['y']" in p for p in found)
    assert any("['z']" in p for p in found)
    assert any("Returns" in p for p in found)
    assert any("Google spelling" in p for p in problems("g", numpy_style))
    assert problems("h", lambda: None) == ["h has no docstring"]


def test_no_numpy_style_sections_anywhere() -> None:
    """Private code too: one style in the whole package."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and NUMPY_UNDERLINE.search(doc):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{getattr(node, 'name', '')}")
                if doc and ALIASES & set(sections(doc)):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{getattr(node, 'name', '')}")
    assert not offenders, f"NumPy-style or aliased sections: {offenders}"


def test_section_parser_reads_google_style() -> None:
    doc = inspect.cleandoc('''Summary.

        Args:
            x (int): first.
                Continued.
            *args: more.
            y: second.

        Returns:
            Something.
        ''')
    found = sections(doc)
    assert set(found) == {"Args", "Returns"}
    assert entries(found["Args"]) == {"x", "args", "y"}
    assert NUMPY_UNDERLINE.search("Summary.\n\nParameters\n----------\nx : int\n")
