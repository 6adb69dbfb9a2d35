"""`python -m bot.evaluation` reads the evaluation sets' exact formats and scores what a
resident is told (small sets of our own here; the independent ones are in tests/nlu/eval)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import main

FAQ = """\
cases:
  - {text: 住民票ってコンビニでも取れますか？, topic: 住民票の写し}
  - {text: 図書館は何時まで開いてますか, topic: 図書館}
  - {text: 図書館は何時まで開いてますか, topic: 避難所}
  - {text: 今日の天気は？, topic: null}
"""

GARBAGE = """\
cases:
  - {text: ペットボトルは何ごみ？, item: ペットボトル, category: 資源（びん・缶・ペットボトル）}
  - {text: ソファーって何ゴミ？, item: ソファー, category: 粗大ごみ}
  - {text: 明日は何のごみの日？, item: null, category: calendar}
  - {text: 桜台の燃えるゴミの日は？, item: null, category: calendar, district: 桜台, category_asked: 燃やすごみ}
  - {text: テレビは何ごみ？, item: テレビ, category: 燃やすごみ}
"""

CONVERSATION = """\
name: 答えが先
now: "2026-11-24T10:00:00+09:00"
turns:
  - say: ソファーを捨てたい
    reply: {contains: [何人掛け]}
  - say: 2人掛け以上です
    reply: {contains: [町名]}
  - say: 桜台
    reply: {contains: [これは届かない言葉]}
"""


def test_each_set_prints_its_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faq, garbage = tmp_path / "faq.yaml", tmp_path / "garbage.yaml"
    faq.write_text(FAQ, encoding="utf-8")
    garbage.write_text(GARBAGE, encoding="utf-8")
    folder = tmp_path / "understanding"
    folder.mkdir()
    (folder / "sofa.yaml").write_text(CONVERSATION, encoding="utf-8")

    code = main([str(faq), str(garbage), str(folder)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # one deliberate miss per set: below 95%
    assert f"FAQ questions ({faq}): 75.0% (3/4; missed topic offered among choices 0/1)" in out
    assert f"ごみ questions ({garbage}): 80.0% (4/5; item named 3/3)" in out
    assert f"mid-flow answers ({folder}): 66.7% (2/3; conversations passed 0/1)" in out
    assert any(line.startswith("MISS 'テレビは何ごみ？'") for line in out)


def test_a_missing_set_is_bad_usage(tmp_path: Path) -> None:
    assert main([str(tmp_path / "nope.yaml")]) == 2
