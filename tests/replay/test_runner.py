"""The runner against a recording responder: checks pass and fail for the right reasons."""

from __future__ import annotations

import textwrap
from datetime import datetime

from bot.clock import TOKYO, FrozenClock
from bot.replay.runner import run_conversation
from bot.replay.spec import parse_conversation
from bot.turn import Reply, TimerRequest, TurnResult
from tests.foundation.helpers import ROOT


class ScriptedResponder:
    """Replies with suggestions, keeps a flow/state/slots conversation, sets a timer."""

    def respond(self, turn, conversation, resident, services):
        if turn.kind == "timer":
            return TurnResult(conversation, [Reply("明日は収集日です", kind="notice")])
        if turn.text == "だんまり":
            return TurnResult(conversation, [])
        state = {"flow": "demo", "state": "ask", "slots": {"district": "桜台", "n": 2}}
        timer = TimerRequest("remind", turn.received_at.replace(hour=18, minute=0))
        reply = Reply(f"受付: {turn.text} / {turn.postback}", suggestions=["はい", "いいえ"])
        return TurnResult(state, [reply], timers=[timer])


def _run(tmp_path, body: str):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    clock = FrozenClock(datetime(2000, 1, 1, tzinfo=TOKYO))
    return run_conversation(parse_conversation(path), ScriptedResponder(), ROOT / "flows", clock)


HEAD = """\
name: demo
channel: rcs
now: "2026-11-24T10:00:00+09:00"
turns:
"""


def test_passing_checks(tmp_path):
    result = _run(
        tmp_path,
        HEAD
        + """\
  - say: こんにちは
    reply: {contains: [受付, こんにちは], not_contains: [エラー], matches: "受付: \\\\S+", suggestions: [はい]}
    expect: {flow: demo, state: ask, slots: {district: 桜台}}
  - tap: いいえ
    reply: {contains: ["いいえ / いいえ"]}
  - say: だんまり
    reply: {none: true}
  - wait: 9h
    reply: {contains: [明日は収集日です]}
""",
    )
    assert result.passed, result.failures


def test_failures_name_the_turn_the_expectation_and_what_was_sent(tmp_path):
    result = _run(
        tmp_path,
        HEAD
        + """\
  - say: こんにちは
    reply: {contains: [さようなら], suggestions: [たぶん]}
    expect: {flow: other, slots: {district: 北, missing: 1}}
  - tap: 存在しない
  - wait: 1h
    reply: {contains: [明日]}
""",
    )
    messages = [(f.turn, f.message) for f in result.failures]
    assert not result.passed
    assert any(t == 1 and "'さようなら'" in m and "受付: こんにちは" in m for t, m in messages)
    assert any(t == 1 and "たぶん" in m for t, m in messages)
    assert any(t == 1 and "expected flow 'other'" in m for t, m in messages)
    assert any(t == 1 and "'district' = '北', it is '桜台'" in m for t, m in messages)
    assert any(t == 1 and "'missing'" in m and "not set" in m for t, m in messages)
    assert any(t == 2 and "was not offered" in m for t, m in messages)
    assert any(t == 3 and "the bot sent nothing" in m for t, m in messages)


def test_sms_replies_show_suggestions_as_numbered_choices(tmp_path):
    result = _run(
        tmp_path,
        HEAD.replace("channel: rcs", "channel: sms")
        + """\
  - say: こんにちは
    reply: {contains: ["1. はい", "2. いいえ"]}
""",
    )
    assert result.passed, result.failures
