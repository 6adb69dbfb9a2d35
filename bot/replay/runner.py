"""Run conversation-test files against the real pipeline and engine, in-process."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.channels.sms_choices import render_choices
from bot.clock import TOKYO, FrozenClock
from bot.errors import InputError
from bot.local import LocalBot
from bot.replay.spec import ConversationSpec, ExpectCheck, ReplyCheck, TurnSpec, parse_conversation
from bot.turn import Responder
from bot.yamlsource import YamlSourceError


@dataclass
class Failure:
    turn: int | None
    message: str


@dataclass
class FileResult:
    file: str
    name: str | None
    failures: list[Failure] = field(default_factory=list)
    broken: bool = False  # the file itself is invalid (exit 2)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.broken

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name,
            "passed": self.passed,
            "failures": [{"turn": f.turn, "message": f.message} for f in self.failures],
        }


def collect_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"})
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(raw)
    return files


def render_sent(messages: list[dict], channel: str) -> str:
    """What the resident saw, joined: on SMS, suggestions arrive as numbered lines."""
    parts = []
    for message in messages:
        text = message["text"]
        if channel == "sms" and message.get("suggestions"):
            text += "\n" + render_choices(message["suggestions"])
        parts.append(text)
    return "\n".join(parts)


def _describe(turn: TurnSpec) -> str:
    value = turn.value if isinstance(turn.value, str) else f"{turn.value}"
    return f"{turn.action}: {value}"


def _check_reply(check: ReplyCheck, sent: list[dict], channel: str) -> list[str]:
    text = render_sent(sent, channel)
    shown = f"the bot sent: {text!r}" if sent else "the bot sent nothing"
    problems = []
    if check.none and sent:
        problems.append(f"expected no reply; {shown}")
    if not check.none and not sent and (check.contains or check.matches or check.suggestions):
        problems.append(f"expected a reply; {shown}")
    for needle in check.contains:
        if needle not in text:
            problems.append(f"expected the reply to contain {needle!r}; {shown}")
    for needle in check.not_contains:
        if needle in text:
            problems.append(f"expected the reply not to contain {needle!r}; {shown}")
    if check.matches is not None and not check.matches.search(text):
        problems.append(f"expected the reply to match /{check.matches.pattern}/; {shown}")
    if check.suggestions is not None:
        offered = [label for message in sent for label in message.get("suggestions", [])]
        missing = [label for label in check.suggestions if label not in offered]
        if missing:
            problems.append(f"expected suggestions {check.suggestions}; offered {offered}; {shown}")
    return problems


def describe_conversation(conversation: dict | None) -> tuple[str | None, str | None, dict]:
    """(active flow, state, slots) of a stored conversation."""
    if not conversation or not conversation.get("flow"):
        return None, None, {}
    return conversation.get("flow"), conversation.get("state"), conversation.get("slots") or {}


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _check_expect(check: ExpectCheck, conversation: dict | None) -> list[str]:
    flow, state, slots = describe_conversation(conversation)
    problems = []
    if check.has_flow and check.flow != flow:
        problems.append(f"expected flow {check.flow!r}, the conversation is in {flow!r}")
    if check.has_state and check.state != state:
        problems.append(f"expected state {check.state!r}, the conversation is in {state!r}")
    if check.slots:
        actual = _normal(slots)
        for key, expected in check.slots.items():
            if key not in actual:
                if expected is None:  # `slot: null` reads "no value": never set is no value
                    continue
                problems.append(f"expected slot {key!r} = {expected!r}; it is not set")
            elif _normal(expected) != actual[key]:
                problems.append(f"expected slot {key!r} = {expected!r}, it is {actual[key]!r}")
    return problems


def notice_file(test_file: Path, name: str, flows_dir: Path) -> Path:
    """A `notice:` turn's file: beside the test, else in the city folder (notices/…)."""
    beside = test_file.parent / name
    return beside if beside.exists() or not (flows_dir / name).exists() else flows_dir / name


def run_conversation(
    spec: ConversationSpec, responder: Responder, flows_dir: Path, clock: FrozenClock
) -> FileResult:
    """`clock` is the one the responder was built with; it is set to the file's `now`."""
    result = FileResult(file=spec.file, name=spec.name)
    clock.set(spec.now)
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        bot = LocalBot(responder, clock, flows_dir, Path(tmp) / "replay.db")
        try:
            offered: list[str] = []
            for turn in spec.turns:
                errors_before = len(bot.failures)
                if turn.action == "wait":
                    assert not isinstance(turn.value, str)
                    sent = bot.advance(spec.sender, turn.value)
                elif turn.action == "notice":
                    path = notice_file(Path(spec.file), str(turn.value), flows_dir)
                    try:
                        sent = bot.notice(spec.sender, path, spec.channel)
                    except InputError as exc:
                        result.failures.append(Failure(turn.number, f"notice: {exc}"))
                        continue
                elif turn.action == "tap":
                    label = str(turn.value)
                    if label not in offered:
                        result.failures.append(
                            Failure(
                                turn.number, f"tap: {label!r} was not offered (offered: {offered})"
                            )
                        )
                    sent = bot.send(spec.sender, label, spec.channel, postback=label)
                else:
                    sent = bot.send(spec.sender, str(turn.value), spec.channel)
                if sent:
                    offered = [label for message in sent for label in message["suggestions"]]
                problems: list[str] = []
                if len(bot.failures) > errors_before:
                    error = bot.failures[-1]
                    problems.append(
                        f"the bot failed to process this turn ({type(error).__name__}: {error})"
                    )
                if turn.reply is not None:
                    problems += _check_reply(turn.reply, sent, spec.channel)
                if turn.expect is not None:
                    problems += _check_expect(turn.expect, bot.conversation(spec.sender))
                for problem in problems:
                    result.failures.append(Failure(turn.number, f"{_describe(turn)}: {problem}"))
        finally:
            bot.close()
    return result


def run_files(
    files: list[Path], responder_factory: Callable[[FrozenClock], Responder], flows_dir: Path
) -> list[FileResult]:
    """Runs every file with one responder (built once, on first need) and one clock."""
    clock = FrozenClock(datetime(2000, 1, 1, tzinfo=TOKYO))
    responder: Responder | None = None
    results = []
    for path in files:
        try:
            spec = parse_conversation(path)
        except YamlSourceError as exc:
            results.append(
                FileResult(
                    file=str(path),
                    name=_name_of_broken(path),
                    broken=True,
                    failures=[Failure(None, str(exc))],
                )
            )
            continue
        if responder is None:
            responder = responder_factory(clock)
        results.append(run_conversation(spec, responder, flows_dir, clock))
    return results


def _name_of_broken(path: Path) -> str | None:
    """The `name:` of a file that failed its checks, when its YAML can still be read."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None
