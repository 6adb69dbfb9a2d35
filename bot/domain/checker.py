"""The checker the data-file checks share: reads a parsed file (LineDict/LineList from
bot.yamlsource) and collects every problem as `file:line: message`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.text import fold
from bot.engine.checks import describe, hint
from bot.yamlsource import LineDict, LineList


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


_MISSING = object()
HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
NO_PLACES = ("–", "-", "—", "ー", "－")  # a nursery that does not take this age


class Checker:
    """Reads one parsed file (LineDict/LineList from bot.yamlsource) and collects problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    # ---- lines and access ----------------------------------------------------------------

    @staticmethod
    def line(container: Any, key: Any = None) -> int:
        if isinstance(container, LineDict):
            return (
                container.key_lines.get(key, container.line) if key is not None else container.line
            )
        if isinstance(container, LineList):
            if isinstance(key, int) and 0 <= key < len(container.item_lines):
                return container.item_lines[key]
            return container.line
        return 1

    def value(self, d: Any, key: Any, where: str, required: bool) -> Any:
        """d[key], or _MISSING (reported when required)."""
        if isinstance(d, LineList):
            return d[key]
        if not isinstance(d, dict) or key not in d:
            if required:
                self.error(self.line(d), f"{where}: missing required key `{key}`")
            return _MISSING
        return d[key]

    # ---- shapes --------------------------------------------------------------------------

    def mapping(
        self, d: Any, key: Any, where: str, required: bool = True, empty_ok: bool = False
    ) -> LineDict | None:
        value = self.value(d, key, where, required)
        if value is _MISSING or (value is None and (empty_ok or not required)):
            return None
        if not isinstance(value, LineDict):
            self.error(
                self.line(d, key),
                f"{where}: expected a mapping (key: value), got {describe(value)}",
            )
            return None
        return value

    def seq(
        self, d: Any, key: Any, where: str, required: bool = True, nonempty: bool = False
    ) -> LineList | None:
        value = self.value(d, key, where, required)
        if value is _MISSING or (value is None and not required):
            return None
        if not isinstance(value, LineList):
            self.error(self.line(d, key), f"{where}: expected a list, got {describe(value)}")
            return None
        if nonempty and not value:
            self.error(self.line(d, key), f"{where}: the list must not be empty")
        return value

    def records(self, d: Any, key: Any, where: str, required: bool = True, nonempty: bool = True):
        """(index, mapping) for each item of a list of mappings; others are reported."""
        items = self.seq(d, key, where, required, nonempty)
        for i, item in enumerate(items or []):
            if isinstance(item, LineDict):
                yield i, item
            else:
                self.error(
                    self.line(items, i),
                    f"{where}[{i + 1}]: expected a mapping, got {describe(item)}",
                )

    def keys(self, d: LineDict, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key in d:
            if key not in allowed:
                self.error(self.line(d, key), f"{where}: unknown key `{key}`{hint(key, allowed)}")

    # ---- scalars -------------------------------------------------------------------------

    def text(self, d: Any, key: Any, where: str, required: bool = True) -> str | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        line = self.line(d, key)
        if isinstance(value, str):
            if not value.strip():
                self.error(line, f"{where}: must not be empty")
                return None
            return value
        if value is None:
            if required:
                self.error(line, f"{where}: must not be empty")
            return None
        if isinstance(value, bool):
            self.error(
                line,
                f"{where}: YAML read this as a yes/no value, not text "
                "(unquoted yes/no/on/off/true/false); write it in quotes",
            )
        elif isinstance(value, (int, float, date)):
            self.error(
                line,
                f"{where}: YAML read this as {describe(value)}, not text "
                '(e.g. a phone number, 8:30 or 0120…); write it in quotes: "…"',
            )
        else:
            self.error(line, f"{where}: expected text, got {describe(value)}")
        return None

    def texts(
        self, d: Any, key: Any, where: str, required: bool = False, nonempty: bool = False
    ) -> list[str]:
        items = self.seq(d, key, where, required, nonempty)
        out = []
        for i in range(len(items or [])):
            word = self.text(items, i, f"{where}[{i + 1}]")
            if word is not None:
                out.append(word)
        return out

    def integer(
        self,
        d: Any,
        key: Any,
        where: str,
        required: bool = True,
        low: int | None = None,
        high: int | None = None,
        what: str = "a whole number (e.g. 3)",
    ) -> int | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        line = self.line(d, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(line, f"{where}: expected {what}, got {describe(value)}")
            return None
        if low is not None and value < low:
            self.error(line, f"{where}: must be at least {low}, got {value}")
            return None
        if high is not None and value > high:
            self.error(line, f"{where}: must be at most {high}, got {value}")
            return None
        return value

    def boolean(self, d: Any, key: Any, where: str, required: bool = True) -> bool | None:
        value = self.value(d, key, where, required)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.error(self.line(d, key), f"{where}: expected true or false, got {describe(value)}")
            return None
        return value

    def hhmm(self, d: Any, key: Any, where: str, required: bool = True) -> str | None:
        value = self.text(d, key, where, required)
        if value is not None and not HHMM_RE.match(value.strip()):
            self.error(self.line(d, key), f'{where}: expected a time like "17:00", got `{value}`')
            return None
        return value

    def month_day(self, d: Any, key: Any, where: str) -> tuple[int, int] | None:
        value = self.text(d, key, where)
        if value is None:
            return None
        m = MONTH_DAY_RE.match(value.strip())
        if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
            self.error(
                self.line(d, key), f'{where}: expected a month-day like "12-29", got `{value}`'
            )
            return None
        return int(m[1]), int(m[2])

    def a_date(self, d: Any, key: Any, where: str) -> date | None:
        value = self.value(d, key, where, True)
        if value is _MISSING:
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(
            self.line(d, key), f"{where}: expected a date like 2026-10-01, got {describe(value)}"
        )
        return None

    def closed_periods(self, d: LineDict, where: str) -> None:
        for i, row in self.records(d, "closed_periods", f"{where}closed_periods", False, False):
            w = f"{where}closed_periods[{i + 1}]"
            self.keys(row, ("from", "to"), w)
            self.month_day(row, "from", f"{w}.from")
            self.month_day(row, "to", f"{w}.to")

    def unique(self, seen: dict[str, int], word: str, line: int, what: str) -> None:
        key = fold(word)
        if key in seen:
            self.error(line, f"{what} `{word}` is listed twice (also on line {seen[key]})")
        else:
            seen[key] = line

    def owned(self, seen: dict[str, tuple[str, int]], word: str, owner: str, line: int) -> None:
        """A word may mean one item only (the same word twice for one item is harmless)."""
        key = fold(word)
        if key in seen and seen[key][0] != owner:
            other, at = seen[key]
            self.error(
                line, f"`{word}` already means `{other}` (line {at}); a word can name one item only"
            )
        else:
            seen.setdefault(key, (owner, line))


def _top(c: Checker, doc: Any, what: str) -> LineDict | None:
    if not isinstance(doc, LineDict):
        c.error(
            Checker.line(doc),
            f"{what} must be a mapping (key: value) at the top, got {describe(doc)}",
        )
        return None
    return doc
