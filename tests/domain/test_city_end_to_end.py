"""The city's flows through the real pipeline (LocalBot): the reminder timer a booking
sets, moves and cancels; the reminder action; and data edits that change answers with
no code change."""

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from bot.city import build_responder
from bot.clock import TOKYO, FrozenClock
from bot.domain import actions, bookings
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line
from bot.local import LocalBot
from bot.store.codec import Codec
from bot.store.sqlite.bookings import SqliteBookings
from tests.domain.stores import bookings_store

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
ME = "+819012340001"


def texts(sent):
    return "\n".join(message["text"] for message in sent)


@pytest.fixture
def bot(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    clock = FrozenClock(START)
    local = LocalBot(
        build_responder(Path("flows"), clock), clock, Path("flows"), tmp_path / "bot.db"
    )
    yield local
    local.close()


def rows(local, sql):
    """The bot's database, read on a connection of the test's own."""
    conn = sqlite3.connect(local.db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def reminders(local):
    found = rows(local, "SELECT name, due_at, payload FROM timers")
    opened = Codec(local.vault.texts)  # the payload is sealed at rest
    return [
        (name, datetime.fromisoformat(due).astimezone(TOKYO), opened.open_obj(json.loads(payload)))
        for name, due, payload in found
        if name.startswith("bulky_reminder:")
    ]


def book_desk(local):
    for text in ["粗大ごみを出したい", "机", "本町3丁目2-1", "12月4日"]:
        local.send(ME, text)
    return texts(local.send(ME, "はい"))


def test_booking_sets_the_reminder_at_18_the_day_before(bot):
    assert "受付番号" in book_desk(bot)
    [(name, due, payload)] = reminders(bot)
    receipt = name.split(":", 1)[1]
    assert due == datetime(2026, 12, 3, 18, 0, tzinfo=TOKYO)
    assert payload["receipt"] == receipt
    notice = payload["notice"]
    for part in ["明日は粗大ごみの収集日", "8:30", "処理券", receipt]:
        assert part in notice
    for private in ["机", "本町", "3丁目"]:  # no item or address detail
        assert private not in notice


def test_changing_the_day_moves_the_reminder_and_cancelling_removes_it(bot):
    book_desk(bot)
    for text in ["収集日を変更したい", "収集日を変更", "12月11日"]:
        bot.send(ME, text)
    assert "変更しました" in texts(bot.send(ME, "はい"))
    [(_, due, payload)] = reminders(bot)
    assert due == datetime(2026, 12, 10, 18, 0, tzinfo=TOKYO)
    assert payload["date"] == "2026-12-11"
    for text in ["予約をキャンセルしたい", "予約を取り消す"]:
        bot.send(ME, text)
    assert "取り消しました" in texts(bot.send(ME, "はい"))
    assert reminders(bot) == []


def test_the_address_is_not_stored(bot):
    book_desk(bot)
    [row] = rows(bot, "SELECT district, town FROM bookings")
    assert row == ("中央", "本町")
    dump = "\n".join(str(r) for r in rows(bot, "SELECT * FROM bookings"))
    assert "3丁目" not in dump


def _reminder_ctx(db, resident, payload, notices=True):
    said = []
    ctx = SimpleNamespace(
        services=SimpleNamespace(bookings=SqliteBookings(db)),
        now=datetime(2026, 12, 3, 18, 0, tzinfo=TOKYO),  # the timer's due time
        resident=SimpleNamespace(resident=resident, notices_enabled=notices),
        turn=SimpleNamespace(payload=payload),
        say=lambda text, suggestions=None, kind="reply": said.append((text, kind)),
    )
    return ctx, said


def test_reminder_action_says_a_notice_only_for_a_standing_booking(tmp_path):
    import sqlite_utils

    db = sqlite_utils.Database(tmp_path / "r.db")
    store = bookings_store(db)
    cal = CollectionCalendar.load()
    booking = bookings.create(
        store,
        cal,
        resident_id="r1",
        district="中央",
        town=None,
        day=datetime(2026, 12, 4).date(),
        lines=[Line("机", 1, 800)],
        now=START,
    )
    payload = {"receipt": booking.receipt, "date": "2026-12-04", "notice": "明日は…"}
    ctx, said = _reminder_ctx(db, "r1", payload)
    actions.send_reminder(ctx)
    assert said == [("明日は…", "notice")]
    ctx, said = _reminder_ctx(db, "r1", payload, notices=False)  # 配信停止
    actions.send_reminder(ctx)
    assert said == []
    ctx, said = _reminder_ctx(db, "r1", {**payload, "date": "2026-12-11"})  # moved since
    actions.send_reminder(ctx)
    assert said == []
    bookings.cancel(store, cal, resident_id="r1", receipt=booking.receipt, now=START)
    ctx, said = _reminder_ctx(db, "r1", payload)
    actions.send_reminder(ctx)
    assert said == []


@pytest.fixture
def city_copy(tmp_path, monkeypatch):
    """A copy of flows/ that a test edits like staff would; the bot runs on it."""
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")  # beside, as in a city
    monkeypatch.chdir(tmp_path)
    return tmp_path / "flows" / "data"


def _run(conversation, now=START):
    clock = FrozenClock(now)
    local = LocalBot(build_responder(Path("flows"), clock), clock, Path("flows"), ":memory:")
    try:
        return [texts(local.send(ME, text)) for text in conversation]
    finally:
        local.close()


def _edit(path, change):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def test_a_fee_edit_changes_the_quote(city_copy):
    booking = ["粗大ごみを出したい", "机", "本町", "1"]
    assert "800円" in _run(booking)[-1]

    def desk_1000(raw):
        next(item for item in raw["items"] if item["name"] == "机")["fee"] = 1000

    _edit(city_copy / "catalogue.yaml", desk_1000)
    quote = _run(booking)[-1]
    assert "1,000円" in quote and "500円券2枚" in quote


def test_a_vacancy_edit_changes_the_answer(city_copy):
    asking = ["保育園の空きはありますか", "2027年1月", "4歳"]
    before = _run(asking)[-1]
    assert "中央こども園" in before and "桜台保育所" in before

    def no_places_for_4(raw):
        for places in raw["vacancies"]["2027-01"].values():
            places.pop(4, None)

    _edit(city_copy / "nurseries.yaml", no_places_for_4)
    after = _run(asking)[-1]
    assert "空きがありません" in after and "入所保留" in after
    assert "中央こども園" not in after


def test_a_capacity_edit_changes_when_a_day_is_full(city_copy):
    def capacity_1(raw):
        raw["capacity"]["items_per_district_day"] = 1

    _edit(city_copy / "bulky_rules.yaml", capacity_1)
    replies = _run(
        [
            "粗大ごみを出したい",
            "椅子",
            "本町",
            "12月4日",
            "はい",
            "粗大ごみを出したい",
            "椅子",
            "本町",
        ]
    )
    assert "12月4日(金)は受付数に達しました" in replies[-1]


def test_the_city_folder_from_bot_flows_is_the_one_whose_data_is_read(
    tmp_path, monkeypatch, capsys
):
    """BOT_FLOWS names another city folder while ./flows exists: the fees, calendar and
    rules the actions read are that folder's too (not the current folder's)."""
    from bot.cli import main

    other = tmp_path / "other-city"
    shutil.copytree(ROOT / "flows", other)
    shutil.copytree(ROOT / "dictionaries", tmp_path / "dictionaries")  # beside, as in a city

    def desk_1000(raw):
        next(item for item in raw["items"] if item["name"] == "机")["fee"] = 1000

    _edit(other / "data" / "catalogue.yaml", desk_1000)
    test = tmp_path / "desk.yaml"
    test.write_text(
        yaml.safe_dump(
            {
                "name": "机の手数料は別の市のデータから",
                "now": "2026-11-24T10:00:00+09:00",
                "turns": [
                    {"say": "粗大ごみを出したい"},
                    {"say": "机"},
                    {"say": "本町"},
                    {"say": "1", "reply": {"contains": ["1,000円"], "not_contains": ["800円"]}},
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(ROOT)  # ./flows/data (机 800円) is right here
    monkeypatch.setenv("BOT_FLOWS", str(other))
    assert main(["replay", str(test)]) == 0, capsys.readouterr().out
