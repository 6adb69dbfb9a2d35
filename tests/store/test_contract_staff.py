"""The store contract, staff's side — on every backend: the handoff desk (`bot handoff`),
and the console's unit of work: accounts, sign-in limits, sessions, the audit chain (also
with two processes appending at once), cases, transcripts, residents, timers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.audit import AuditChain, verify
from bot.channels.base import Inbound
from bot.identity import NumberVault
from bot.pipeline.intake import prepare_inbound
from bot.store.base import StoreUnavailable
from bot.store.records import AuditFilter, NewAuditEntry, Timer
from tests.foundation.helpers import SECRET, RecordingResponder, StoreHarness

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


def _write(h, work):
    return h.run(h.store.console.write(work))


def _entry(h, action: str = "conversation.view", resident: str | None = None, n: int = 0):
    return NewAuditEntry(h.clock.now(), "yamada", action, resident, subject=str(n), detail={"n": n})


# ---- the handoff desk ------------------------------------------------------------------------


def test_the_desk_lists_hands_back_and_audits_in_one_transaction(harness):
    resident = _resident_in_handoff(harness)
    desk = harness.store.staff
    since, notes = harness.run(desk.handoff_notes())
    assert set(since) == {resident} and [n.text for n in notes] == ["担当の方へ"]
    assert harness.run(desk.find_resident(resident[:8])) == resident
    assert harness.run(desk.find_resident("zzzz")) is None
    harness.run(desk.hand_back(resident, _entry(harness, "conversation.returned", resident)))
    since, notes = harness.run(desk.handoff_notes())
    assert since == {} and notes == []
    rows = _write(harness, lambda w: w.audit.search(AuditFilter(), None, 10))
    assert [(r.action, r.resident_id) for r in rows] == [("conversation.returned", resident)]


# ---- accounts, sign-in limits, sessions -------------------------------------------------------


def test_accounts(harness):
    now = harness.clock.now()

    def work(w):
        made = w.accounts.add("Yamada", "operator", "hash1", now + timedelta(days=1), now)
        assert made is not None and made.password_temporary and made.role == "operator"
        assert w.accounts.add("yamada", "admin", "hash2", now, now) is None  # any letter case
        assert w.accounts.by_name("YAMADA").id == made.id
        assert w.accounts.by_id(made.id).name == "Yamada"
        w.accounts.add("abe", "admin", "h", now, now)
        assert sorted(a.name for a in w.accounts.all()) == ["Yamada", "abe"]
        w.accounts.set_password(made.id, "hash3", False, None, now)
        w.accounts.set_totp(made.id, b"sealed", True, now)
        assert w.accounts.use_totp_step(made.id, 10) and not w.accounts.use_totp_step(made.id, 10)
        assert not w.accounts.use_totp_step(made.id, 9)
        w.accounts.set_role(made.id, "editor", now)
        assert w.accounts.count_failure(made.id, 2, now + timedelta(minutes=5)) == 1
        assert w.accounts.count_failure(made.id, 2, now + timedelta(minutes=5)) == 2
        locked = w.accounts.by_id(made.id)
        assert locked.locked_until == now + timedelta(minutes=5) and locked.failed_logins == 2
        w.accounts.signed_in(made.id, now)
        w.accounts.set_disabled(made.id, True, now)
        return w.accounts.by_id(made.id), w.accounts.count(), w.accounts.count(False)

    account, active, every = _write(harness, work)
    assert (account.password_hash, account.password_temporary, account.role) == (
        "hash3",
        False,
        "editor",
    )
    assert (account.totp_secret, account.totp_enabled, account.totp_last_step) == (
        b"sealed",
        True,
        10,
    )
    assert (account.failed_logins, account.locked_until, account.disabled) == (0, None, True)
    assert account.last_login_at == harness.clock.now()
    assert (active, every) == (1, 2)


def test_sign_in_limits_and_sessions(harness):
    now = harness.clock.now()
    later = now + timedelta(minutes=15)

    def work(w):
        counts = [w.sign_ins.count_failure("10.0.0.1", now, now - timedelta(hours=1), 3, later)]
        counts += [w.sign_ins.count_failure("10.0.0.1", now, now - timedelta(hours=1), 3, later)]
        counts += [w.sign_ins.count_failure("10.0.0.1", now, now - timedelta(hours=1), 3, later)]
        locked = w.sign_ins.locked_until("10.0.0.1")
        w.sign_ins.forgive("10.0.0.1", 3)
        forgiven = w.sign_ins.locked_until("10.0.0.1")
        # A window that began before `window_start_after` starts again at 1.
        fresh = w.sign_ins.count_failure("10.0.0.1", later, later, 3, later)
        account = w.accounts.add("sato", "operator", "h", now, now)
        w.sessions.add("abc", account.id, "ready", now)
        w.sessions.add("def", account.id, "totp", now - timedelta(days=2))
        got = w.sessions.get("abc")
        w.sessions.touch("abc", later)
        touched = w.sessions.get("abc").last_seen_at
        expired = w.sessions.end_expired(now - timedelta(hours=1), now - timedelta(days=1))
        w.sessions.add("ghi", account.id, "ready", now)
        w.sessions.end("ghi")
        return (
            counts,
            locked,
            forgiven,
            fresh,
            got,
            touched,
            expired,
            w.sessions.end_all(account.id),
        )

    counts, locked, forgiven, fresh, got, touched, expired, ended = _write(harness, work)
    assert counts == [1, 2, 3] and locked == later and forgiven is None and fresh == 1
    assert (got.stage, got.account.name, got.created_at) == ("ready", "sato", now)
    assert touched == later and expired == 1 and ended == 1
    assert _write(harness, lambda w: w.sessions.get("abc")) is None


# ---- the audit log -----------------------------------------------------------------------------


def test_the_audit_chain_appends_reads_searches_and_verifies(harness):
    resident = "r" * 32
    for n in range(5):
        _write(harness, lambda w, n=n: w.audit.append(_entry(harness, resident=resident, n=n)))
    harness.clock.advance(timedelta(hours=1))
    _write(harness, lambda w: w.audit.append(_entry(harness, "booking.changed", n=9)))

    def read(w):
        return (
            w.audit.head(),
            w.audit.entries(2, 2),
            w.audit.search(AuditFilter(action="booking."), None, 10),
            w.audit.search(AuditFilter(resident_id=resident), 4, 10),
            w.audit.search(AuditFilter(since=harness.clock.now()), None, 10),
            w.audit.search(AuditFilter(actor="yamada", until=harness.clock.now()), None, 2),
            verify(w.audit, AuditChain.from_secret(SECRET)),
        )

    head, page, booking, older, since, until, check = harness.run(harness.store.console.read(read))
    assert head.seq == 6 and [r.seq for r in page] == [3, 4]
    assert [r.seq for r in booking] == [6] and [r.seq for r in since] == [6]
    assert [r.seq for r in older] == [3, 2, 1] and [r.seq for r in until] == [5, 4]
    assert check.ok and check.checked == 6, check.problems


def test_the_audit_log_refuses_changes_and_a_failed_action_leaves_no_entry(harness):
    _write(harness, lambda w: w.audit.append(_entry(harness)))
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            harness.sql(sql)

    def fails(w):
        w.audit.append(_entry(harness, n=1))
        raise RuntimeError("the action failed")

    with pytest.raises((RuntimeError, StoreUnavailable)):
        _write(harness, fails)
    assert harness.sql.one("SELECT count(*) FROM audit_log") == 1


def test_two_processes_appending_at_once_keep_one_unbroken_chain(location, clock):
    first = StoreHarness(location, RecordingResponder(), clock)
    second = StoreHarness(location, RecordingResponder(), clock)
    errors: list[BaseException] = []

    def appends(h, who):
        try:
            for n in range(15):
                _write(h, lambda w, n=n: w.audit.append(_entry(h, n=n + who)))
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [
            threading.Thread(target=appends, args=(h, 100 * i))
            for i, h in enumerate((first, second))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        check = first.run(
            first.store.console.read(lambda w: verify(w.audit, AuditChain.from_secret(SECRET)))
        )
        assert check.ok and check.checked == 30, check.problems
    finally:
        second.close()
        first.close()


# ---- cases, transcripts, residents, timers -------------------------------------------------------


def test_cases_open_assign_read_and_close(harness):
    resident = _resident_in_handoff(harness)
    now = harness.clock.now()

    def work(w):
        yamada = w.accounts.add("yamada", "operator", "h", now, now)
        before = w.cases.open_cases(yamada.id)
        w.cases.assign(resident, yamada.id, now)
        state = w.cases.case_of(resident)
        w.cases.mark_read(yamada.id, resident)
        after = w.cases.open_cases(yamada.id)
        waiting = w.cases.waiting_notes(resident)
        w.handoffs.hand_back(resident, None, now, frozenset())
        w.cases.close(resident, now)
        return yamada, before, state, after, waiting, w.cases.open_cases(yamada.id)

    yamada, before, state, after, waiting, closed = _write(harness, work)
    (case,) = before
    assert (case.resident_id, case.handoff, case.opened_by, case.unread, case.waiting) == (
        resident,
        True,
        "handoff",
        1,
        1,
    )
    assert state.assigned_id == yamada.id and state.assigned_to == "yamada"
    assert after[0].unread == 0 and after[0].assigned_to == "yamada"
    assert [n.text for n in waiting] == ["担当の方へ"]
    assert closed == []
    assert _write(harness, lambda w: w.cases.in_scope(resident)) is True
    assert _write(harness, lambda w: w.cases.in_scope("n" * 32)) is False


def test_an_urgent_case_opened_by_a_notice_goes_first(harness):
    resident = _resident_in_handoff(harness)
    now = harness.clock.now()
    inbound = Inbound("twilio", "sms", "other-1", "+819011110000", "hello")
    harness.ingest([prepare_inbound(inbound, VAULT, now)])
    other = VAULT.resident_id("+819011110000")

    def work(w):
        account = w.accounts.add("sato", "operator", "h", now, now)
        w.cases.open(other, now, "notice", urgent=True)
        w.cases.open(other, now, "lookup")  # open already: keeps its urgency
        return w.cases.open_cases(account.id), w.cases.case_of(other)

    cases, state = _write(harness, work)
    assert [c.resident_id for c in cases] == [other, resident]
    assert cases[0].urgent and state.opened_by == "notice"


def test_transcript_pages_and_staff_replies(harness):
    resident = _resident_in_handoff(harness)
    now = harness.clock.now()

    def reply(w):
        account = w.accounts.add("yamada", "operator", "h", now, now)
        outbox_id = w.handoffs.staff_reply(resident, "担当の山田です。", now, False, frozenset())
        w.cases.record_author(outbox_id, account.id)
        return outbox_id, w.handoffs.in_handoff(resident)

    outbox_id, handed = _write(harness, reply)
    assert handed is True
    assert harness.sql("SELECT status, provider FROM outbox WHERE id = ?", [outbox_id]) == [
        ("pending", "twilio")
    ]

    def pages(w):
        latest = w.cases.transcript(resident, 2)
        older = w.cases.transcript(resident, 2, before=latest.older)
        since = w.cases.transcript(resident, 10, after=older.newest)
        return latest, older, since

    latest, older, since = _write(harness, pages)
    assert [(e.who, e.text) for e in older.entries + latest.entries] == [
        ("resident", "こんにちは"),
        ("bot", "echo 1: こんにちは"),
        ("resident", "担当の方へ"),
        ("staff", "担当の山田です。"),
    ]
    assert latest.entries[-1].author == "yamada" and older.older is None
    assert [e.text for e in since.entries] == ["担当の方へ", "担当の山田です。"]


def test_residents_and_timers_for_staff(harness):
    resident = _resident_in_handoff(harness)
    now = harness.clock.now()

    def work(w):
        w.residents.set_notices(resident, False)
        w.timers.set(resident, Timer("call_back", now + timedelta(hours=2), {"why": "電話"}))
        w.timers.set(resident, Timer("call_back", now + timedelta(hours=3)))
        w.timers.set(resident, Timer("other", now))
        w.timers.cancel(resident, "other")
        return (
            w.residents.get(resident),
            w.residents.last_seen(resident),
            w.residents.known([resident, "n" * 32]),
            w.residents.by_receipt("NOPE"),
        )

    person, seen, known, receipt = _write(harness, work)
    assert person.notices_enabled is False and seen == now
    assert known == [resident] and receipt is None
    assert harness.run(harness.store.next_timer_due()) == now + timedelta(hours=3)
