"""Small helpers the loader uses to read YAML values and report errors with lines."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from bot.engine.errors import FlowError
from bot.engine.yamlloc import BOOL_WORDS, LDict, LList, line_of, raw_of

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DURATION_RE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def hint(word: Any, choices: Iterable[Any]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def describe(value: Any) -> str:
    """What a YAML value is, in an error message staff can act on."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}` (a yes/no value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"text `{value}`"
    if isinstance(value, date):
        return f"a date `{value}`"
    return f"`{value}`"


class Reporter:
    """Collects errors for one file."""

    def __init__(self, file: str, sink: list[FlowError]) -> None:
        self.file = file
        self.sink = sink

    def error(self, line: int, message: str) -> None:
        self.sink.append(FlowError(self.file, line, message))

    def mapping(self, value: Any, where: str, line: int) -> LDict | None:
        if isinstance(value, LDict):
            return value
        self.error(line, f"{where} must be a mapping (key: value), got {describe(value)}")
        return None

    def keys(
        self, d: LDict, allowed: Iterable[str], where: str, required: Iterable[str] = ()
    ) -> None:
        allowed = list(allowed)
        for key in d:
            if isinstance(key, bool):
                self.error(
                    line_of(d, key),
                    f"{where}: key `{key}` is a YAML boolean (unquoted yes/no/on/off); quote it",
                )
            elif key not in allowed:
                self.error(line_of(d, key), f"{where}: unknown key `{key}`{hint(key, allowed)}")
        for key in required:
            if key not in d:
                self.error(d.line, f"{where}: missing required key `{key}`")

    def text(self, d: Any, key: Any, where: str, required: bool = False) -> str | None:
        """A text value; explains YAML booleans and rejects lists/mappings."""
        if not isinstance(d, (LDict, LList)) or (isinstance(d, LDict) and key not in d):
            if required:
                self.error(line_of(d), f"{where}: missing required key `{key}`")
            return None
        value = d[key]
        line = line_of(d, key)
        if isinstance(value, bool):
            raw = raw_of(d, key) or str(value)
            if raw.lower() in BOOL_WORDS:
                self.error(
                    line,
                    f"{where}: `{raw}` is read by YAML as a boolean, not text; "
                    f'write it in quotes: "{raw}"',
                )
            else:
                self.error(line, f"{where}: expected text, got a boolean")
            return None
        if isinstance(value, (int, float)):
            return str(value)
        if value is None:
            if required:
                self.error(line, f"{where}: must not be empty")
            return None
        if not isinstance(value, str):
            self.error(line, f"{where}: expected text, got {describe(value)}")
            return None
        return value

    def ident(self, d: Any, key: Any, where: str, required: bool = False) -> str | None:
        value = self.text(d, key, where, required)
        if value is not None and not ID_RE.match(value):
            self.error(line_of(d, key), f"{where}: `{value}` is not a valid id (a-z, 0-9, _)")
            return None
        return value

    def text_list(self, d: LDict, key: str, where: str) -> list[str]:
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, LList):
            self.error(line_of(d, key), f"{where}: expected a list, got {describe(value)}")
            return []
        out = []
        for i in range(len(value)):
            item = self.text(value, i, where)
            if item is not None:
                out.append(item)
        return out

    def duration(self, d: LDict, key: str, where: str) -> timedelta | None:
        value = self.text(d, key, where)
        if value is None:
            return None
        m = DURATION_RE.match(value.strip())
        if not m:
            self.error(line_of(d, key), f"{where}: `{value}` is not a duration (e.g. 30m, 2h, 1d)")
            return None
        return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
