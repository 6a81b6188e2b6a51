"""The one registry style: a name → entry mapping that refuses duplicates and names the
choices when a lookup fails.

Every extension point (unlearning methods, backends, model kinds, scenario kinds,
preprocessors, datasets) is a :class:`Registry` whose entries carry what callers need to know
about them, so adding an entry touches one file and callers (the config schema, the CLI, the
docs and the conformance tests) derive their lists from the registry instead of copying names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """Entries by name, in a ``dict`` that refuses duplicates and names the choices on a miss.

    Args:
        what: Names the kind in messages (``"model kind"``).
        error: The package's own error class, raised by
            :meth:`~qiskit_unlearn.registry.Registry.lookup` for an unknown name.
    """

    def __init__(self, what: str, error: type[Exception] = KeyError) -> None:
        super().__init__()
        self.what, self.error = what, error

    def add(self, name: str, entry: T) -> T:
        """Register ``entry``; a second entry under the same name is a programming error.

        Args:
            name: The name to register under.
            entry: The entry.

        Returns:
            ``entry`` itself.

        Raises:
            RuntimeError: If ``name`` is already registered.
        """
        if name in self:
            raise RuntimeError(f"{self.what} {name!r} registered twice")
        self[name] = entry
        return entry

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator(name)``: register the decorated object itself.

        Args:
            name: The name to register under.

        Returns:
            A decorator that registers its argument (see
            :meth:`~qiskit_unlearn.registry.Registry.add`) and returns it.
        """
        return lambda entry: self.add(name, entry)

    def names(self) -> list[str]:
        """The registered names.

        Returns:
            The names, sorted.
        """
        return sorted(self)

    def lookup(self, name: str) -> T:
        """The entry ``name``, or the registry's error listing the registered names.

        Args:
            name: A registered name.

        Returns:
            The entry.

        Raises:
            Exception: The registry's ``error`` class (``KeyError`` unless given), if ``name``
                is not registered.
        """
        if name not in self:
            raise self.error(f"unknown {self.what} {name!r}; choose one of: "
                             f"{', '.join(self.names())}")
        return self[name]
