"""The conversation-test file format (contract), parsed strictly with file:line errors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.clock import parse_instant
from bot.yamlsource import LineDict, LineList, YamlSourceError, load_yaml

TOP_KEYS = {"name", "channel", "now", "from", "turns"}
TURN_ACTIONS = {"say", "tap", "wait", "notice"}
TURN_KEYS = TURN_ACTIONS | {"reply", "expect"}
REPLY_KEYS = {"contains", "not_contains", "matches", "suggestions", "none"}
EXPECT_KEYS = {"flow", "state", "slots"}
WAIT = re.compile(r"^(?:(\d+(?:\.\d+)?)([smhd]))+$")
WAIT_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DEFAULT_FROM = "+819000000001"


@dataclass
class ReplyCheck:
    contains: list[str] = field(default_factory=list)
    not_contains: list[str] = field(default_factory=list)
    matches: re.Pattern[str] | None = None
    suggestions: list[str] | None = None
    none: bool = False


@dataclass
class ExpectCheck:
    has_flow: bool = False
    flow: str | None = None
    has_state: bool = False
    state: str | None = None
    slots: dict[str, Any] | None = None


@dataclass
class TurnSpec:
    number: int
    line: int
    action: str  # say | tap | wait | notice (a notice file, relative to the test file)
    value: str | timedelta
    reply: ReplyCheck | None = None
    expect: ExpectCheck | None = None


@dataclass
class ConversationSpec:
    file: str
    name: str
    channel: str
    now: dt.datetime
    sender: str
    turns: list[TurnSpec]


def _err(file: str, line: int, message: str) -> YamlSourceError:
    return YamlSourceError(file, line, message)


def _check_keys(file: str, data: LineDict, allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            raise _err(
                file, data.key_lines[key], f"unknown key {key!r} in {where} (allowed: {hint})"
            )


def _text(file: str, line: int, value: Any, what: str) -> str:
    if isinstance(value, bool):
        raise _err(
            file, line, f'{what} is a yes/no value to YAML; quote it, e.g. "{str(value).lower()}"'
        )
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise _err(file, line, f"{what} must be text")
    return value


def _text_list(file: str, line: int, value: Any, what: str) -> list[str]:
    if isinstance(value, (str, int, float, bool)):
        value = [value]
    if not isinstance(value, list):
        raise _err(file, line, f"{what} must be a list of texts")
    return [_text(file, line, item, f"an item of {what}") for item in value]


def parse_wait(file: str, line: int, value: Any) -> timedelta:
    text = str(value).strip().replace(" ", "")
    if isinstance(value, bool) or not WAIT.match(text):
        raise _err(file, line, f"wait must look like 30s, 10m, 25h or 2d, not {value!r}")
    total = timedelta()
    for amount, unit in WAIT_PART.findall(text):
        total += timedelta(**{UNITS[unit]: float(amount)})
    return total


def _reply(file: str, data: Any, line: int) -> ReplyCheck:
    if not isinstance(data, LineDict):
        raise _err(file, line, "reply must be a mapping of checks")
    _check_keys(file, data, REPLY_KEYS, "reply")
    check = ReplyCheck()
    lines = data.key_lines
    if "contains" in data:
        check.contains = _text_list(file, lines["contains"], data["contains"], "contains")
    if "not_contains" in data:
        check.not_contains = _text_list(
            file, lines["not_contains"], data["not_contains"], "not_contains"
        )
    if "matches" in data:
        pattern = _text(file, lines["matches"], data["matches"], "matches")
        try:
            check.matches = re.compile(pattern)
        except re.error as exc:
            raise _err(
                file, lines["matches"], f"matches is not a valid regular expression: {exc}"
            ) from None
    if "suggestions" in data:
        check.suggestions = _text_list(
            file, lines["suggestions"], data["suggestions"], "suggestions"
        )
    if "none" in data:
        if not isinstance(data["none"], bool):
            raise _err(file, lines["none"], "none must be true or false")
        check.none = data["none"]
        if check.none and len(data) > 1:
            raise _err(file, lines["none"], "none: true cannot be combined with other reply checks")
    return check


def _plain(value: Any) -> Any:
    """YAML dates become ISO text so they compare with stored slots."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _expect(file: str, data: Any, line: int) -> ExpectCheck:
    if not isinstance(data, LineDict):
        raise _err(file, line, "expect must be a mapping")
    _check_keys(file, data, EXPECT_KEYS, "expect")
    check = ExpectCheck()
    for key in ("flow", "state"):
        if key in data:
            value = data[key]
            if value is not None and not isinstance(value, str):
                raise _err(file, data.key_lines[key], f"{key} must be an id or null")
            setattr(check, f"has_{key}", True)
            setattr(check, key, value)
    if "slots" in data:
        if not isinstance(data["slots"], dict):
            raise _err(file, data.key_lines["slots"], "slots must be a mapping")
        check.slots = _plain(dict(data["slots"]))
    return check


def _turn(file: str, number: int, data: Any, line: int) -> TurnSpec:
    if not isinstance(data, LineDict):
        raise _err(file, line, "each turn must be a mapping with say, tap, wait or notice")
    _check_keys(file, data, TURN_KEYS, f"turn {number}")
    actions = [key for key in TURN_ACTIONS if key in data]
    if len(actions) != 1:
        raise _err(file, data.line, f"turn {number} needs exactly one of say, tap, wait or notice")
    action = actions[0]
    key_line = data.key_lines[action]
    value: str | timedelta
    if action == "wait":
        value = parse_wait(file, key_line, data[action])
    else:
        if data[action] is None:
            raise _err(file, key_line, f"{action} needs a text")
        value = _text(file, key_line, data[action], action)
    turn = TurnSpec(number=number, line=data.line, action=action, value=value)
    if "reply" in data:
        turn.reply = _reply(file, data["reply"], data.key_lines["reply"])
    if "expect" in data:
        turn.expect = _expect(file, data["expect"], data.key_lines["expect"])
    return turn


def parse_conversation(path: Path | str) -> ConversationSpec:
    file = str(path)
    data = load_yaml(path)
    if not isinstance(data, LineDict):
        raise _err(file, 1, "a conversation file must be a mapping with name, now and turns")
    _check_keys(file, data, TOP_KEYS, "the file")
    for key in ("name", "now", "turns"):
        if key not in data:
            raise _err(file, data.line, f"missing required key {key!r}")
    lines = data.key_lines
    name = _text(file, lines["name"], data["name"], "name")
    channel = data.get("channel", "sms")
    if channel not in {"sms", "rcs"}:
        raise _err(file, lines.get("channel", 1), "channel must be sms or rcs")
    raw_now = data["now"]
    try:
        now = (
            raw_now.replace(tzinfo=raw_now.tzinfo or parse_instant("2000-01-01").tzinfo)
            if isinstance(raw_now, dt.datetime)
            else parse_instant(str(raw_now))
        )
    except ValueError:
        raise _err(file, lines["now"], f"now must be an ISO 8601 time, not {raw_now!r}") from None
    sender = _text(file, lines.get("from", 1), data.get("from", DEFAULT_FROM), "from")
    if not re.match(r"^\+[1-9][0-9]{6,14}$", sender):
        raise _err(file, lines["from"], "from must be a phone number like +819012340001")
    turns_data = data["turns"]
    if not isinstance(turns_data, LineList) or not turns_data:
        raise _err(file, lines["turns"], "turns must be a non-empty list")
    turns = [
        _turn(file, index, item, turns_data.item_lines[index - 1])
        for index, item in enumerate(turns_data, start=1)
    ]
    return ConversationSpec(file, name, channel, now, sender, turns)
