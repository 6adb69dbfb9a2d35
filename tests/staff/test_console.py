"""The console's day of work over real loopback HTTP with the real flows: cases and unread
marks, transcripts page by page, replies and hand-backs, assignment, finding a resident by
受付番号 or phone number, their bookings changed on their behalf, their notice setting."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.app import PIPELINE, SETTINGS
from bot.audit import Audit
from bot.domain import bookings
from bot.domain.calendar import CollectionCalendar
from bot.domain.fees import Line
from bot.pipeline.intake import identity_of
from bot.staff.behalf import Desk
from bot.staff.roles import Role
from bot.store.sqlite import SqliteStore
from tests.foundation.helpers import ROOT, SECRET
from tests.staff.helpers import (
    ASK_FOR_PERSON,
    HANDED_OVER,
    MONDAY_20,
    fresh_clock,
    make_account,
    on_db,
    router_of,
    sign_in,
    staff_app,
)
from tests.support.sealed import Opener

NUMBER = "+819012345678"
OTHER = "+818011112222"
QUESTION = "転入の手続きについて相談したいです"
ANSWER = "お問い合わせありがとうございます。転入届は市民課の窓口で受け付けています。"
DATA = ROOT / "flows" / "data"


async def say(client, text: str, number: str = NUMBER) -> list[str]:
    response = await client.post("/sim/messages", json={"from": number, "text": text})
    assert response.status == 200, await response.text()
    return [reply["text"] for reply in (await response.json())["replies"]]


async def phone_of(client, number: str = NUMBER) -> list[str]:
    response = await client.get("/sim/messages", params={"from": number})
    return [m["text"] for m in (await response.json())["messages"]]


def rid_of(client, number: str = NUMBER) -> str:
    return client.app[PIPELINE].vault.resident_id(identity_of("sim", number))


async def hand_over(client, clock) -> None:
    await say(client, "こんにちは")
    clock.advance(timedelta(minutes=1))
    assert any(HANDED_OVER in t for t in await say(client, ASK_FOR_PERSON))
    clock.advance(timedelta(minutes=1))
    assert await say(client, QUESTION) == []  # a person is answering: the bot is silent


async def cases(signed) -> list[dict]:
    response = await signed.get("/staff/api/conversations")
    assert response.status == 200
    return (await response.json())["conversations"]


async def audit_rows(client) -> list[tuple]:
    def read(db):
        return db.execute(
            "SELECT actor, action, resident_id, subject, detail FROM audit_log ORDER BY seq"
        ).fetchall()

    return await on_db(client.app, read)


async def test_a_handed_over_resident_is_listed_opened_and_read(client, clock, browsers):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    ito = await sign_in(
        await browsers(), await make_account(client.app, "ito", Role.OPERATOR), clock
    )
    await hand_over(client, clock)
    await say(client, "ヘルプ", OTHER)  # a resident the bot is handling: not listed

    raw = await (await sato.get("/staff/api/conversations")).text()
    [case] = json.loads(raw)["conversations"]
    assert case["resident_id"] == rid_of(client) and case["ref"] == rid_of(client)[:10]
    assert case["opened_by"] == "handoff" and case["handoff"] is True
    assert case["since"] == "2026-03-02T10:01:00+09:00"  # JST
    assert case["unread"] == 2 and case["channel"] == "sms" and case["assigned_to"] is None
    assert QUESTION not in raw and NUMBER not in raw  # the list carries no texts, no number

    detail = await (await sato.get(f"/staff/api/residents/{case['resident_id']}")).json()
    whos = [(m["who"], m["channel"]) for m in detail["transcript"]]
    assert whos[0] == ("resident", "sms") and whos[-1] == ("resident", "sms")
    assert detail["transcript"][-1]["text"] == QUESTION
    assert detail["transcript"][0]["at"] == "2026-03-02T10:00:00+09:00"
    assert [n["kind"] for n in detail["notes"]] == ["note", "message"]
    # Read by sato: cleared for sato, still unread for ito.
    assert (await cases(sato))[0]["unread"] == 0
    assert (await cases(ito))[0]["unread"] == 2
    await say(client, "追加でもう一つ質問です")
    assert (await cases(sato))[0]["unread"] == 1
    views = [r for r in await audit_rows(client) if r[1] == "conversation.view"]
    assert views == [("sato", "conversation.view", rid_of(client), None, '{"entries":5}')]


async def test_reply_assigns_and_hand_back_closes(client, clock, caplog):
    caplog.set_level(logging.DEBUG)
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await hand_over(client, clock)
    rid = rid_of(client)
    clock.advance(timedelta(minutes=3))
    response = await sato.post(f"/staff/api/residents/{rid}/reply", json={"text": f" {ANSWER}\n"})
    assert response.status == 200, await response.text()
    assert (await phone_of(client))[-1] == ANSWER
    [case] = await cases(sato)
    assert case["assigned_to"] == "sato" and case["mine"] is True
    detail = await (await sato.get(f"/staff/api/residents/{rid}")).json()
    last = detail["transcript"][-1]
    assert (last["who"], last["author"], last["text"], last["at"]) == (
        "staff",
        "sato",
        ANSWER,
        "2026-03-02T10:05:00+09:00",
    )
    assert await say(client, "わかりました") == []  # still with a person

    response = await sato.post(f"/staff/api/residents/{rid}/return", json={})
    assert response.status == 200
    assert "担当者との会話を終了しました" in (await phone_of(client))[-1]
    assert await cases(sato) == []
    assert await say(client, "ヘルプ")  # the bot answers again
    actions = [(a, act) for a, act, *_ in await audit_rows(client) if act.startswith("conv")]
    assert actions == [
        ("sato", "conversation.reply"),
        ("sato", "conversation.view"),
        ("sato", "conversation.returned"),
    ]
    logged = " ".join(
        json.dumps(r.__dict__, default=str, ensure_ascii=False)
        for r in caplog.records
        if "/sim/" not in r.getMessage()
    )
    for secret in (ANSWER, QUESTION, NUMBER, NUMBER[3:]):
        assert secret not in logged


async def test_an_out_of_hours_message_is_a_case_and_a_reply_takes_over(
    aiohttp_client, tmp_path, monkeypatch
):
    clock = fresh_clock(MONDAY_20)
    client = await aiohttp_client(staff_app(tmp_path, monkeypatch, clock))
    member = await make_account(client.app, "sato", Role.OPERATOR)
    sato = await sign_in(client, member, clock)
    await say(client, ASK_FOR_PERSON)
    await say(client, "はい")
    await say(client, "書類の件でご相談があります")
    [case] = await cases(sato)
    assert case["opened_by"] == "message" and case["handoff"] is False
    clock.advance(timedelta(hours=14))  # the next morning: a new session
    sato = await sign_in(client, member, clock)
    await sato.post(f"/staff/api/residents/{case['resident_id']}/reply", json={"text": ANSWER})
    [case] = await cases(sato)
    assert case["handoff"] is True
    assert await say(client, "ありがとうございます") == []


async def test_assignment_to_a_colleague(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await make_account(client.app, "ito", Role.EDITOR)
    await hand_over(client, clock)
    rid = rid_of(client)
    colleagues = await (await sato.get("/staff/api/colleagues")).json()
    assert {c["name"] for c in colleagues["colleagues"]} == {"sato", "ito"}
    assert (await sato.post(f"/staff/api/residents/{rid}/assign", json={"to": "ito"})).status == 200
    [case] = await cases(sato)
    assert case["assigned_to"] == "ito" and case["mine"] is False
    bad = await sato.post(f"/staff/api/residents/{rid}/assign", json={"to": "nobody"})
    assert bad.status == 400
    assert (await sato.post(f"/staff/api/residents/{rid}/assign", json={"to": None})).status == 200
    assert (await cases(sato))[0]["assigned_to"] is None


async def test_urgent_cases_come_first(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await hand_over(client, clock)
    await say(client, "こんにちは", OTHER)

    def mark(work):  # what a notice's `ask` handoff answer does (notices engineer)
        work.cases.open(rid_of(client, OTHER), clock.now(), "notice", urgent=True)

    await router_of(client.app).deps.console.write(mark)
    listed = await cases(sato)
    assert [c["resident_id"] for c in listed] == [rid_of(client, OTHER), rid_of(client)]
    assert listed[0]["urgent"] is True and listed[0]["opened_by"] == "notice"


async def test_transcript_pages_back_and_refreshes_forward(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await hand_over(client, clock)
    for index in range(40):  # with a person: no bot replies, 40 more messages
        await say(client, f"追加の質問{index}")
    rid = rid_of(client)
    first = await (await sato.get(f"/staff/api/residents/{rid}")).json()
    assert len(first["transcript"]) == 30 and first["older"]
    assert first["transcript"][-1]["text"] == "追加の質問39"
    seen = [m["text"] for m in first["transcript"]]
    older = await (
        await sato.get(f"/staff/api/residents/{rid}/transcript", params={"before": first["older"]})
    ).json()
    assert older["older"] is None  # the beginning
    everything = [m["text"] for m in older["transcript"]] + seen
    assert everything[0] == "こんにちは" and everything[-1] == "追加の質問39"
    assert len(everything) == len(set(everything))  # no entry twice across pages
    new = await (
        await sato.get(f"/staff/api/residents/{rid}/transcript", params={"after": first["newest"]})
    ).json()
    assert new["transcript"] == []
    await say(client, "まだですか")
    new = await (
        await sato.get(f"/staff/api/residents/{rid}/transcript", params={"after": first["newest"]})
    ).json()
    assert [m["text"] for m in new["transcript"]] == ["まだですか"]
    bad = await sato.get(f"/staff/api/residents/{rid}/transcript", params={"before": "x|y"})
    assert bad.status == 400


async def test_residents_never_handed_to_staff_are_not_shown(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await say(client, "ヘルプ", OTHER)
    for path in ("", "/transcript"):
        assert (await sato.get(f"/staff/api/residents/{rid_of(client, OTHER)}{path}")).status == 404
    assert (await sato.get("/staff/api/residents/not-an-id")).status == 404


async def test_finding_a_resident_on_the_phone_by_number(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await say(client, "ヘルプ", OTHER)
    for typed in ("080-1111-2222", "０８０１１１１２２２２", "+81 80 1111 2222"):
        response = await sato.post("/staff/api/search", json={"query": typed})
        assert response.status == 200, typed
        assert (await response.json()) == {"resident_id": rid_of(client, OTHER), "by": "phone"}
    [case] = await cases(sato)
    assert case["opened_by"] == "lookup"
    assert (await sato.get(f"/staff/api/residents/{case['resident_id']}")).status == 200
    missing = await sato.post("/staff/api/search", json={"query": "090-0000-0000"})
    assert missing.status == 404
    nonsense = await sato.post("/staff/api/search", json={"query": "hello"})
    assert nonsense.status == 400
    searches = [r for r in await audit_rows(client) if r[1] == "resident.search"]
    assert searches[0][2] == rid_of(client, OTHER) and searches[-1][2] is None
    # The number typed is nowhere: not in the audit log, not in the database file.
    dump = json.dumps(await audit_rows(client), ensure_ascii=False)
    raw = Path(client.app[SETTINGS].db_path).read_bytes()
    for form in ("08011112222", "8011112222", "080-1111-2222"):
        assert form not in dump and form.encode() not in raw


# ---- bookings on the resident's behalf --------------------------------------------------------


async def booked(client, clock, day: date) -> tuple[str, str]:
    """A booking made by the domain's own rules (as the bot makes it) for a resident."""
    await say(client, "こんにちは")

    def write(work):
        booking = bookings.create(
            work.bookings,
            CollectionCalendar.load(DATA),
            resident_id=rid_of(client),
            district="北",
            town="北町",
            day=day,
            lines=[Line("ソファー", 1, 1000, "2人掛け以上")],
            now=clock.now(),
            directory=DATA,
        )
        return booking.receipt

    receipt = await router_of(client.app).deps.console.write(write)
    return rid_of(client), receipt


async def timers(client) -> list[tuple]:
    def read(db):
        return db.execute("SELECT name, due_at FROM timers ORDER BY id").fetchall()

    return await on_db(client.app, read)


async def test_a_booking_changed_and_cancelled_for_a_resident_on_the_phone(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    rid, receipt = await booked(client, clock, date(2026, 3, 16))
    found = await (await sato.post("/staff/api/search", json={"query": receipt.lower()})).json()
    assert found == {"resident_id": rid, "by": "receipt"}
    detail = await (await sato.get(f"/staff/api/residents/{rid}")).json()
    [booking] = detail["bookings"]
    assert booking["receipt"] == receipt and booking["changeable"] is True
    assert booking["deadline"] == "2026-03-12T17:00:00+09:00"  # two 開庁日 before, 17:00

    days = await (await sato.get(f"/staff/api/residents/{rid}/bookings/{receipt}/days")).json()
    labels = [d["date"] for d in days["days"]]
    assert labels[0] == "2026-03-09" and "2026-03-16" not in labels  # 北地区: Mondays
    response = await sato.post(
        f"/staff/api/residents/{rid}/bookings/{receipt}/change", json={"date": "2026-03-23"}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["booking"]["date"] == "2026-03-23"
    # The day-before reminder moved with it (18:00 on Sunday 3/22, JST).
    assert [t[0] for t in await timers(client) if t[0].startswith("bulky")] == [
        f"bulky_reminder:{receipt}"
    ]
    assert [t[1] for t in await timers(client) if t[0].startswith("bulky")] == [
        "2026-03-22T09:00:00.000000+00:00"
    ]
    wrong_day = await sato.post(
        f"/staff/api/residents/{rid}/bookings/{receipt}/change", json={"date": "2026-03-24"}
    )
    assert wrong_day.status == 409 and "収集日ではありません" in (await wrong_day.json())["message"]

    cancel = await sato.post(f"/staff/api/residents/{rid}/bookings/{receipt}/cancel", json={})
    assert cancel.status == 200 and (await cancel.json())["bookings"] == []
    assert not [t for t in await timers(client) if t[0].startswith("bulky")]
    rows = [r for r in await audit_rows(client) if r[1].startswith("booking.")]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("sato", "booking.changed", rid, receipt),
        ("sato", "booking.cancelled", rid, receipt),
    ]
    assert json.loads(rows[0][4]) == {"from": "2026-03-16", "to": "2026-03-23"}


async def test_a_change_on_behalf_and_its_audit_entry_commit_together(client, clock):
    """The entry is written in the change's own transaction: when it cannot be written
    (here: a store opened without the audit key), the booking is not changed either."""
    rid, receipt = await booked(client, clock, date(2026, 3, 16))
    now = clock.now()
    await router_of(client.app).deps.console.write(lambda work: work.cases.open(rid, now, "lookup"))

    def change(work):
        audit = Audit(work.audit, now)
        return Desk(DATA).change(work, audit, "sato", rid, receipt, date(2026, 3, 23), None, now)

    keyless = SqliteStore(client.app[SETTINGS].db_path, single_lane=True)
    await keyless.open()
    try:
        with pytest.raises(RuntimeError, match="audit key"):
            await keyless.console.write(change)
    finally:
        await keyless.close()

    def stored(db):
        return db.execute("SELECT collection_date, status FROM bookings").fetchall()

    assert await on_db(client.app, stored) == [("2026-03-16", "booked")]
    assert [r for r in await audit_rows(client) if r[1].startswith("booking.")] == []
    assert [t for t in await timers(client) if t[0].startswith("bulky")] == []  # not moved
    # With the key (the server's store), the same change commits with its entry.
    assert (await router_of(client.app).deps.console.write(change))["date"] == "2026-03-23"
    assert await on_db(client.app, stored) == [("2026-03-23", "changed")]
    assert [t[0] for t in await timers(client) if t[0].startswith("bulky")] == [
        f"bulky_reminder:{receipt}"
    ]
    [entry] = [r for r in await audit_rows(client) if r[1].startswith("booking.")]
    assert entry[:4] == ("sato", "booking.changed", rid, receipt)


async def test_a_change_on_behalf_keeps_to_the_day_s_capacity_whatever_the_reason(client, clock):
    """Staff move a booking through the same bookings service as the bot: a full day is
    refused (a reason passes deadlines, never capacity) and is not offered."""
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    rid, receipt = await booked(client, clock, date(2026, 3, 16))
    await sato.post("/staff/api/search", json={"query": receipt})

    def fill(work):  # other residents take all 30 places of Monday 3/23 in 北地区
        for n in range(3):
            bookings.create(
                work.bookings,
                CollectionCalendar.load(DATA),
                resident_id=f"{n:032x}",
                district="北",
                town="北町",
                day=date(2026, 3, 23),
                lines=[Line("ソファー", 5, 1000, "2人掛け以上"), Line("椅子", 5, 300)],
                now=clock.now(),
                directory=DATA,
            )

    await router_of(client.app).deps.console.write(fill)
    days = await (await sato.get(f"/staff/api/residents/{rid}/bookings/{receipt}/days")).json()
    assert "2026-03-23" not in [d["date"] for d in days["days"]]
    for body in ({"date": "2026-03-23"}, {"date": "2026-03-23", "reason": "電話で依頼"}):
        full = await sato.post(f"/staff/api/residents/{rid}/bookings/{receipt}/change", json=body)
        assert full.status == 409 and "いっぱい" in (await full.json())["message"]
    assert [r for r in await audit_rows(client) if r[1] == "booking.changed"] == []


async def test_past_the_deadline_staff_need_a_reason_which_is_audited(client, clock):
    member = await make_account(client.app, "sato", Role.OPERATOR)
    sato = await sign_in(client, member, clock)
    rid, receipt = await booked(client, clock, date(2026, 3, 9))
    await sato.post("/staff/api/search", json={"query": receipt})
    clock.set(clock.now().replace(day=6, hour=9))  # Friday 3/6: past Thursday's 17:00
    sato = await sign_in(client, member, clock)
    refused = await sato.post(
        f"/staff/api/residents/{rid}/bookings/{receipt}/change", json={"date": "2026-03-16"}
    )
    assert refused.status == 409 and "期限" in (await refused.json())["message"]
    reason = "センター了承済み（電話で依頼）"
    response = await sato.post(
        f"/staff/api/residents/{rid}/bookings/{receipt}/change",
        json={"date": "2026-03-16", "reason": reason},
    )
    assert response.status == 200, await response.text()
    [row] = [r for r in await audit_rows(client) if r[1] == "booking.changed"]
    stored = json.loads(row[4])
    # Words staff typed may name the resident: sealed at rest, opened for the audit page.
    assert Opener(SECRET).text(stored.pop("override_reason")) == reason
    assert stored == {
        "from": "2026-03-09",
        "to": "2026-03-16",
        "deadlines_passed": ["change_deadline"],
    }
    # Never a day already begun, whatever the reason.
    clock.set(clock.now().replace(day=16, hour=7))
    sato = await sign_in(client, member, clock)
    late = await sato.post(
        f"/staff/api/residents/{rid}/bookings/{receipt}/cancel", json={"reason": reason}
    )
    assert late.status == 409


async def test_the_notice_setting_changed_on_request(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await hand_over(client, clock)
    rid = rid_of(client)
    response = await sato.post(f"/staff/api/residents/{rid}/notices", json={"enabled": False})
    assert response.status == 200
    detail = await (await sato.get(f"/staff/api/residents/{rid}")).json()
    assert detail["notices_enabled"] is False
    assert [r[1] for r in await audit_rows(client)].count("notices.setting_changed") == 1
    bad = await sato.post(f"/staff/api/residents/{rid}/notices", json={"enabled": "no"})
    assert bad.status == 400


async def test_canned_replies_come_from_the_city_data(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    body = await (await sato.get("/staff/api/canned")).json()
    assert body["replies"] and all(r["title"] and r["text"] for r in body["replies"])


BAD_REPLIES = [
    ({}, 400),
    ({"text": 12}, 400),
    ({"text": " \n\u3000"}, 400),
    ({"text": "あ" * 1001}, 400),
]


async def test_bad_replies_are_refused_and_1000_characters_pass(client, clock):
    sato = await sign_in(client, await make_account(client.app, "sato", Role.OPERATOR), clock)
    await hand_over(client, clock)
    rid = rid_of(client)
    for body, status in BAD_REPLIES:
        response = await sato.post(f"/staff/api/residents/{rid}/reply", json=body)
        assert response.status == status, body
        assert (await response.json())["message"]
    nested = await sato.post(
        f"/staff/api/residents/{rid}/reply",
        data="[" * 5000,
        headers={"Content-Type": "application/json"},
    )
    assert nested.status == 400
    ok = await sato.post(f"/staff/api/residents/{rid}/reply", json={"text": "あ" * 1000})
    assert ok.status == 200


def test_a_broken_canned_replies_file_is_reported_with_its_line(tmp_path):
    from bot.domain.validate import validate_data_file

    path = tmp_path / "canned_replies.yaml"
    path.write_text(
        "replies:\n  - title: あいさつ\n  - title: あいさつ\n    text: 2\n    tone: x\n"
    )
    problems = [str(p) for p in validate_data_file(path)]
    assert any(p.startswith(f"{path}:2: replies[1].text: missing") for p in problems)
    assert any(p.startswith(f"{path}:5: replies[2]: unknown key `tone`") for p in problems)
    assert any(":3: replies[2].title: `あいさつ` is used twice" in p for p in problems)
