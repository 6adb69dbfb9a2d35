"""Intents are data: a city adds an intent (flows/nlu/), a flow that enters on it and a
conversation test — files only, no Python — and `bot flows check` and `bot replay` work
with it. `bot flows check` warns about a flow nothing can start and an intent no rule
gives; a misspelt goto is one error, not one per state it cuts off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]

RULES = """\
# The city's own intent: 市民プールの営業時間.
concepts:
  pool: [プール, 市民プール, ぷーる]
  opening: [営業, 営業時間, 何時, 開いて, 開館, 休み, 休館]
rules:
  - id: pool.hours
    all: [pool, opening]
    intent: pool_hours
    priority: 70
"""

FLOW = """\
id: pool_hours
version: 1
title: 市民プール
entry_intents: [pool_hours]
slots:
  season: {type: yes_no}
states:
  ask_season:
    say: 屋外プールについてのお問い合わせですか？
    ask: season
    next:
      - if: "season"
        goto: outdoor
      - goto: indoor
  outdoor:
    say: 屋外プールは7月1日から8月31日まで、9:00〜17:00です。
    end: answered
  indoor:
    say: 屋内プールは9:00〜21:00です。毎週月曜日は休館です。
    end: answered
"""

CONVERSATION = """\
name: 市民プールの営業時間（市が足したインテント）
now: "2026-11-24T10:00:00+09:00"
turns:
  - say: 市民プールは何時まで営業していますか
    reply: {contains: [屋外プール]}
    expect: {flow: pool_hours, state: ask_season}
  - say: いいえ
    reply: {contains: ["9:00〜21:00", 休館]}
    expect: {flow: null}
"""


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample city (flows and dictionaries) to edit as staff would."""
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_a_city_adds_an_intent_and_its_flow_as_files(city: Path, capsys) -> None:
    (city / "flows" / "nlu" / "pool.yaml").write_text(RULES, encoding="utf-8")
    (city / "flows" / "pool_hours.yaml").write_text(FLOW, encoding="utf-8")
    conversation = city / "tests" / "pool.yaml"
    conversation.parent.mkdir()
    conversation.write_text(CONVERSATION, encoding="utf-8")

    assert _run(capsys, "flows", "check", str(city / "flows")) == (0, ["flows OK"])
    code, out = _run(capsys, "replay", str(conversation))
    assert code == 0, out
    assert out[0].startswith("PASS")
    code, out = _run(capsys, "nlu", "--json", "プールの営業時間を知りたい")
    assert code == 0 and '"intent": "pool_hours"' in out[0]


def test_a_flow_no_rule_starts_and_its_intent_are_warned_about(city: Path, capsys) -> None:
    (city / "flows" / "pool_hours.yaml").write_text(FLOW, encoding="utf-8")  # no rule file
    code, out = _run(capsys, "flows", "check", str(city / "flows"))
    assert code == 0
    path = city / "flows" / "pool_hours.yaml"
    assert out == [
        f"{path}:1: warning: flow `pool_hours` cannot be started: no rule gives its entry "
        "intents, and no reachable flow starts it",
        f"{path}:4: warning: entry intent `pool_hours`: no rule in nlu/ gives it "
        "(residents cannot ask for it in words)",
        "flows OK (2 warning(s))",
    ]


def test_a_rule_for_an_intent_nothing_handles_is_an_error_unless_declared(
    city: Path, capsys
) -> None:
    rules = city / "flows" / "nlu" / "pool.yaml"
    rules.write_text(RULES, encoding="utf-8")  # the intent, but no flow yet
    code, out = _run(capsys, "flows", "check", str(city / "flows"))
    assert code == 1
    assert out == [
        f"{rules}:8: rule `pool.hours`: unknown intent `pool_hours`: no flow enters on it "
        "and it is not a global intent (list it under `intents:` to recognise it before its "
        "flow exists)"
    ]
    rules.write_text("intents: [pool_hours]\n" + RULES, encoding="utf-8")
    assert _run(capsys, "flows", "check", str(city / "flows")) == (0, ["flows OK"])


def test_a_misspelt_goto_is_one_root_cause(city: Path, capsys) -> None:
    flow = city / "flows" / "bulky_waste.yaml"
    text = flow.read_text(encoding="utf-8")
    flow.write_text(text.replace("      - goto: sort_items\n", "      - goto: sort_itemz\n", 1))
    code, out = _run(capsys, "flows", "check", str(city / "flows"))
    assert code == 1
    assert len(out) == 1, out
    assert "goto `sort_itemz`: no such state (did you mean `sort_items`?)" in out[0]
    assert "state(s) after it cannot be reached until this is fixed" in out[0]


def test_a_state_really_unreachable_is_still_reported(city: Path, capsys) -> None:
    flow = city / "flows" / "bulky_waste.yaml"
    text = flow.read_text(encoding="utf-8")
    extra = "\n  orphan:\n    say: だれも来ない状態です。\n    end: orphan\n"
    flow.write_text(text.rstrip("\n") + "\n" + extra, encoding="utf-8")
    code, out = _run(capsys, "flows", "check", str(city / "flows"))
    assert code == 1
    assert any("state `orphan` is unreachable" in line for line in out), out
