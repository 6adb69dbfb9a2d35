"""A FAQ entry may lead into a procedure (spec: "optionally … a flow to start"): its `flow`
in data/faq.yaml starts after the answer (the faq flow's `start_from`), with no code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]

# The entry leads into a two-question procedure only the FAQ starts (no entry intent).
ENTRY = """
  - topic: 犬の鑑札の再交付
    questions: [鑑札をなくした, 犬の鑑札の再交付, 鑑札が見つからない]
    answer: 犬の鑑札をなくしたときは、再交付できます（1枚1,600円）。
    department: 環境課
    phone: 012-345-6720
    flow: {flow}
"""

FLOW = """\
id: dog_tag
version: 1
title: 鑑札の再交付
slots:
  count: {type: number}
  town: {type: district}
states:
  ask_count:
    say: 再交付する鑑札は何枚ですか？
    ask: count
    next:
      - goto: ask_town
  ask_town:
    say: お住まいの町名を教えてください。
    ask: town
    next:
      - goto: done
  done:
    say: "{{ count }}枚の再交付を受け付けました。環境課の窓口でお受け取りください。"
    end: done
"""

CONVERSATION = """\
name: FAQの答えのあとに手続きが始まる
now: "2026-12-03T10:00:00+09:00"
turns:
  - say: 犬の鑑札をなくしてしまいました
    reply:
      contains: [再交付できます, "1,600円", 何枚]
    expect: {flow: dog_tag, state: ask_count}
  - say: 1枚です
    reply:
      contains: [町名]
  - say: 緑町
    reply:
      contains: [1枚の再交付を受け付けました]
    expect: {flow: null}
"""


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))
    return tmp_path / "flows"


def _add_entry(flows: Path, flow: str) -> None:
    faq = flows / "data" / "faq.yaml"
    text = faq.read_text(encoding="utf-8")
    entry = ENTRY.format(flow=flow)
    faq.write_text(text.replace("\n  # Side questions", entry + "\n  # Side questions"), "utf-8")


def test_an_entry_with_a_flow_answers_then_starts_it(city: Path, tmp_path: Path, capsys) -> None:
    conversation = tmp_path / "allowance_day.yaml"
    conversation.write_text(CONVERSATION, encoding="utf-8")
    (city / "dog_tag.yaml").write_text(FLOW, encoding="utf-8")
    _add_entry(city, "dog_tag")
    assert main(["flows", "check", str(city)]) == 0
    # Only the FAQ's data starts dog_tag: it is reachable, not a warning.
    assert "dog_tag" not in capsys.readouterr().out
    assert main(["replay", str(conversation)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("flow", ["dog_tagg", "faq"])
def test_an_entry_must_name_another_flow(city: Path, capsys, flow: str) -> None:
    _add_entry(city, flow)
    assert main(["flows", "check", str(city)]) == 1
    out = capsys.readouterr().out
    assert f"entry `犬の鑑札の再交付`: flow `{flow}` is not a flow to start" in out
    assert "faq.yaml:" in out
