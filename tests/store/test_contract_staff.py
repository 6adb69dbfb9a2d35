"""The store contract, the staff desk: open cases with notes and transcripts, references,
staff replies and handing back — on every backend."""

from __future__ import annotations

from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from tests.foundation.helpers import SECRET

VAULT = NumberVault(SECRET)
NUMBER = "+819055556666"


def _resident_in_handoff(h) -> str:
    for text in ("こんにちは", "担当の方へ"):
        inbound = Inbound("twilio", "sms", f"m-{text}", NUMBER, text)
        h.ingest([prepare_inbound(inbound, VAULT, h.clock.now())])
        if text == "担当の方へ":
            resident = VAULT.resident_id(NUMBER)
            h.sql("UPDATE residents SET handoff = ? WHERE id = ?", [True, resident])
        h.process_all()
    return VAULT.resident_id(NUMBER)


def test_open_cases_show_notes_and_the_transcript(harness):
    resident = _resident_in_handoff(harness)
    desk = harness.store.staff
    (case,) = harness.run(desk.open_cases(20))
    assert case.resident_id == resident and case.handoff
    assert [n.text for n in case.notes] == ["担当の方へ"]
    lines = sorted((line.who, line.text) for line in case.transcript)
    assert lines == [
        ("bot", "echo 1: こんにちは"),
        ("resident", "こんにちは"),
        ("resident", "担当の方へ"),
    ]
    since, notes = harness.run(desk.handoff_notes())
    assert set(since) == {resident} and [n.kind for n in notes] == ["message"]


def test_references_find_one_resident_only(harness):
    resident = _resident_in_handoff(harness)
    desk = harness.store.staff
    assert harness.run(desk.find_open(resident[:8])) == resident
    assert harness.run(desk.find_resident(resident[:8])) == resident
    assert harness.run(desk.find_open("zzzz")) is None
    assert harness.run(desk.in_handoff(resident)) is True


def test_staff_reply_and_hand_back_with_a_closing_message(harness):
    resident = _resident_in_handoff(harness)
    desk, now = harness.store.staff, harness.clock.now()
    first = harness.run(desk.staff_reply(resident, "担当の山田です。", now, True, frozenset()))
    closing = harness.run(desk.hand_back(resident, "また何かあればどうぞ。", now, frozenset()))
    assert closing is not None and closing > first
    rows = harness.sql(
        "SELECT text, status, provider FROM outbox WHERE id IN (?, ?) ORDER BY id", [first, closing]
    )
    assert rows == [
        ("担当の山田です。", "pending", "twilio"),
        ("また何かあればどうぞ。", "pending", "twilio"),
    ]
    assert harness.run(desk.in_handoff(resident)) is False
    assert harness.run(desk.open_cases(20)) == []  # notes seen, handoff over
    # A local provider's reply is answered in-process: stored as sent.
    local = harness.run(desk.staff_reply(resident, "テスト", now, False, frozenset({"twilio"})))
    assert harness.sql.one("SELECT status FROM outbox WHERE id = ?", [local]) == "sent"
