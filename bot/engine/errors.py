"""Staff-facing flow errors: every one names a file and a line."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import BotError, InputError


@dataclass(frozen=True, order=True)
class FlowError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowsInvalid(BotError):
    """Raised by load_flowset when `bot flows check` would fail; carries every error.
    Its message is one line (the count and the first error); `.errors` has them all."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = errors
        first = f"; the first: {errors[0]}" if errors else ""
        more = " (run `bot flows check` to see them all)" if len(errors) > 1 else ""
        super().__init__(f"{len(errors)} flow error(s){first}{more}")


class NotAFlowsFolder(InputError):
    """The path given is not a flows folder (bad usage, exit 2): a one-line message."""
