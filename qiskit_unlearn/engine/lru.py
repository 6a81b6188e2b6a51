"""A small least-recently-used cache of compiled programs, plans and tables (bounded memory
for long runs that see many circuits)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRU(OrderedDict):
    """At most ``size`` entries; :meth:`get_or_make` builds a missing one and evicts the
    least recently used."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value
