"""Staff-facing flow errors: every one names a file and a line."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import BotError


@dataclass(frozen=True, order=True)
class FlowError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowsInvalid(BotError):
    """Raised by load_flowset when `bot flows check` would fail; carries every error."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:20])
        super().__init__(f"{len(errors)} flow error(s):\n{shown}")
