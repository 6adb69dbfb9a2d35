"""The conversation-test format is strict: each mistake names file:line and what is wrong."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from bot.replay.spec import parse_conversation
from bot.yamlsource import YamlSourceError

GOOD = """\
name: 例
channel: rcs
now: "2026-11-24T10:00:00+09:00"
from: "+819012340001"
turns:
  - say: 粗大ごみを出したい
    reply:
      contains: [品目]
      not_contains: [エラー]
      matches: "1,?000円"
      suggestions: [はい, いいえ]
  - tap: はい
  - wait: 25h
  - say: "はい"
    expect:
      flow: null
      slots: {district: 桜台, date: 2026-12-04}
    reply:
      none: true
"""


def _write(tmp_path, text):
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_contract_example_parses(tmp_path):
    spec = parse_conversation(_write(tmp_path, GOOD))
    assert spec.name == "例" and spec.channel == "rcs" and spec.sender == "+819012340001"
    assert spec.now.isoformat() == "2026-11-24T10:00:00+09:00"
    assert [t.action for t in spec.turns] == ["say", "tap", "wait", "say"]
    assert spec.turns[2].value == timedelta(hours=25)
    assert spec.turns[0].reply.suggestions == ["はい", "いいえ"]
    assert spec.turns[3].expect.has_flow and spec.turns[3].expect.flow is None
    assert spec.turns[3].expect.slots == {"district": "桜台", "date": "2026-12-04"}
    assert spec.turns[3].reply.none


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (GOOD.replace("channel: rcs", "chanel: rcs"), 2, "unknown key 'chanel'"),
        (GOOD.replace("name: 例\n", ""), 1, "missing required key 'name'"),
        (GOOD.replace('now: "2026-11-24T10:00:00+09:00"', "now: tomorrow"), 3, "ISO 8601"),
        (GOOD.replace("  - wait: 25h", "  - wait: soon"), 13, "wait must look like"),
        (GOOD.replace("  - tap: はい", "  - tap: はい\n    say: いいえ"), 12, "exactly one of"),
        (
            GOOD.replace("      contains: [品目]", "      contain: [品目]"),
            8,
            "unknown key 'contain'",
        ),
        (GOOD.replace('  - say: "はい"', "  - say: yes"), 14, "quote it"),
        (GOOD.replace('matches: "1,?000円"', 'matches: "1,(000円"'), 10, "regular expression"),
        (GOOD.replace("channel: rcs", "channel: fax"), 2, "sms or rcs"),
        (GOOD.replace("      flow: null", "      flows: null"), 16, "unknown key 'flows'"),
        (
            GOOD.replace("      none: true", "      none: true\n      contains: [x]"),
            19,
            "cannot be combined",
        ),
        (GOOD + "turns: []\n", 20, "duplicate key 'turns'"),
        ("name: [unclosed\n", 2, "YAML syntax"),
        ("", 1, "empty"),
        ("- just a list\n", 1, "mapping"),
    ],
)
def test_each_mistake_is_reported_with_its_line(tmp_path, text, line, needle):
    path = _write(tmp_path, text)
    with pytest.raises(YamlSourceError) as info:
        parse_conversation(path)
    assert info.value.file == str(path)
    assert needle in info.value.message
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")
