"""A named migration set, one per owner of tables, for any backend (the step's argument is
the backend's connection). How steps are applied and recorded is each backend's own
(bot/store/sqlite/migrations.py, bot/store/postgres/migrations.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass
class MigrationSet(Generic[C]):
    owner: str
    steps: list[tuple[str, Callable[[C], None]]] = field(default_factory=list)

    def step(self, name: str) -> Callable[[Callable[[C], None]], Callable[[C], None]]:
        """Declare the next step (a function of the connection); names are unique."""

        def add(fn: Callable[[C], None]) -> Callable[[C], None]:
            if any(existing == name for existing, _ in self.steps):
                raise ValueError(f"{self.owner}: migration {name!r} declared twice")
            self.steps.append((name, fn))
            return fn

        return add
