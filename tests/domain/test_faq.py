"""The city FAQ: questions nothing answered are counted (redacted, without who asked) and
listed most frequent first by `bot faq misses`; an entry added in data is answered."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from bot.city import build_responder
from bot.cli import main
from bot.clock import TOKYO, FrozenClock
from bot.local import LocalBot
from bot.redact import for_staff
from bot.store.records import FaqMiss
from bot.store.sqlite import faq
from bot.store.sqlite.connection import open_database
from bot.store.sqlite.schema import migrate

ROOT = Path(__file__).resolve().parents[2]
RESIDENTS = ["+819012340101", "+819012340102", "+819012340103"]
SECRET = b"faq-test-secret-0123456789-abcdefghijklmnop"


def test_unanswered_questions_are_counted_most_frequent_first(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = tmp_path / "bot.db"
    clock = FrozenClock(datetime(2026, 12, 5, 10, 0, tzinfo=TOKYO))  # Saturday
    # The questions are sealed at rest: `bot faq misses` reads them with the same key.
    monkeypatch.setenv("BOT_SECRET_KEY", SECRET.decode())
    flows = ROOT / "flows"
    bot = LocalBot(build_responder(flows, clock), clock, flows, db_path, secret_key=SECRET)
    try:
        for resident in RESIDENTS:  # nothing understood: the fallback counts it
            bot.send(resident, "パスポートの申請はどこでできますか")
            bot.send(resident, "やめる")
        bot.send(RESIDENTS[0], "印鑑証明書はどこで発行してもらえますか")  # close ones offered
        bot.send(RESIDENTS[0], "どれでもない")  # none of them: counted too
        bot.send(RESIDENTS[2], "ありがとう")  # small talk is not a question
    finally:
        bot.close()

    assert main(["faq", "--db", str(db_path), "misses", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    texts = [row["text"] for row in rows]
    assert rows[0] == {**rows[0], "text": "パスポートの申請はどこでできますか", "count": 3}
    assert "印鑑証明書はどこで発行してもらえますか" in texts
    assert not any("ありがとう" in text for text in texts)
    assert main(["faq", "--db", str(db_path), "misses"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == [
        "3",
        "パスポートの申請はどこでできますか",
    ]
    assert "パスポート".encode() not in db_path.read_bytes()  # sealed, its key a keyed hash


def test_numbers_that_could_identify_someone_are_masked() -> None:
    assert for_staff("折り返しは090-1234-5678へ") == "折り返しは＊＊＊へ"
    assert for_staff("カード4111111111111111の件") == "カード［番号を削除しました］の件"
    assert for_staff("  12月3日の\n件  ") == "12月3日の 件"


def test_the_same_question_written_differently_is_one_row(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.db")
    migrate(db)
    stamp = datetime(2026, 12, 3, 10, tzinfo=TOKYO).isoformat()
    for text in ["市民プール は 何時まで", "市民プールは何時まで", "ｼﾐﾝﾌﾟｰﾙ"]:
        miss = FaqMiss.of(text)
        assert miss is not None
        faq.record(db, miss, stamp)
    rows = faq.most_frequent(db, 50)
    assert [row.count for row in rows] == [2, 1]
    assert FaqMiss.of("  \n ") is None  # nothing to count


def test_bad_limit_is_bad_usage(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["faq", "--db", str(tmp_path / "x.db"), "misses", "--limit", "abc"])
    assert exit_info.value.code == 2
    assert main(["faq", "--db", str(tmp_path / "x.db"), "misses", "--limit", "0"]) == 2


CONVERSATION = """\
name: データに足したFAQ
now: "2026-12-03T10:00:00+09:00"
turns:
  - say: 市民プールは何時まで営業していますか
    reply:
      contains: [市民プールは9:00〜21:00]
"""

ENTRY = """
  - topic: 市民プール
    questions: [市民プールの営業時間, 市民プールは何時まで, プールの休みの日]
    answer: 市民プールは9:00〜21:00です。毎週月曜日は休館です。
    department: スポーツ課
    phone: 012-345-6000
"""


def test_an_entry_added_in_data_is_answered(tmp_path: Path, monkeypatch, capsys) -> None:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_FLOWS", str(tmp_path / "flows"))
    monkeypatch.setenv("BOT_CACHE_DIR", str(ROOT / "var" / "cache"))
    conversation = tmp_path / "pool.yaml"
    conversation.write_text(CONVERSATION, encoding="utf-8")
    assert main(["replay", str(conversation)]) == 1  # not in the FAQ yet
    faq = tmp_path / "flows" / "data" / "faq.yaml"
    text = faq.read_text(encoding="utf-8")
    faq.write_text(text.replace("\n  # Side questions", ENTRY + "\n  # Side questions"), "utf-8")
    capsys.readouterr()
    assert main(["flows", "check", str(tmp_path / "flows")]) == 0
    assert main(["replay", str(conversation)]) == 0, capsys.readouterr().out
