"""A day's work in the console, below HTTP: cases, transcripts, replies, hand-backs,
assignment, finding a resident, their notice setting. Each function runs inside one
store transaction and writes its audit entry there (who, what, which resident)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.audit import Audit
from bot.clock import TOKYO
from bot.domain import receipts
from bot.handoff import REF_LENGTH
from bot.identity import NumberVault
from bot.pipeline.intake import identity_of
from bot.pipeline.turns import LOCAL_PROVIDERS
from bot.store.console import ConsoleWork
from bot.store.records import Cursor, StaffNote, TranscriptPage

PAGE = 30  # transcript entries per page
MAX_REPLY_CHARS = 1000
RESIDENT_ID = re.compile(r"^[0-9a-f]{32}$")


class CaseError(Exception):
    """A request the console cannot do: HTTP status, error (English), message (Japanese)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error)
        self.status, self.error, self.message = status, error, message


NOT_FOUND = CaseError(
    404,
    "no such resident in the console (unknown, or never handed to staff)",
    "この会話は見つかりません。",
)


def jst(at: datetime | None) -> str | None:
    return at.astimezone(TOKYO).isoformat(timespec="seconds") if at else None


def ref(resident_id: str) -> str:
    return resident_id[:REF_LENGTH]


def check_resident(work: ConsoleWork, resident_id: str) -> None:
    """Only residents in staff's hands are shown (404 for anyone else, or a malformed id)."""
    if not RESIDENT_ID.match(resident_id) or not work.cases.in_scope(resident_id):
        raise NOT_FOUND


def cursor_text(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    at, inbox_id, outbox_id = cursor
    return f"{at.isoformat(timespec='microseconds')}|{inbox_id}|{outbox_id}"


def parse_cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    parts = text.split("|")
    try:
        if len(parts) != 3:
            raise ValueError
        at = datetime.fromisoformat(parts[0])
        if at.tzinfo is None:
            raise ValueError
        return at, int(parts[1]), int(parts[2])
    except ValueError:
        raise CaseError(400, "bad cursor", "ページの指定が正しくありません。") from None


# ---- the list ------------------------------------------------------------------------------


def list_cases(work: ConsoleWork, account_id: int) -> list[dict[str, Any]]:
    """Open cases (urgent first, then the longest waiting): no texts here, so the list can
    refresh every few seconds without anyone reading a resident's words."""
    return [
        {
            "resident_id": case.resident_id,
            "ref": ref(case.resident_id),
            "handoff": case.handoff,
            "opened_by": case.opened_by,
            "urgent": case.urgent,
            "since": jst(case.since),
            "last_at": jst(case.last_at),
            "unread": case.unread,
            "waiting": case.waiting,
            "assigned_to": case.assigned_to,
            "mine": case.assigned_id == account_id,
            "channel": case.channel,
        }
        for case in work.cases.open_cases(account_id)
    ]


# ---- one resident --------------------------------------------------------------------------


def _entries(page: TranscriptPage) -> list[dict[str, Any]]:
    return [
        {
            "who": entry.who,
            "text": entry.text,
            "channel": entry.channel,
            "at": jst(entry.at),
            "kind": entry.kind,
            "status": entry.status,
            "suggestions": entry.suggestions,
            "author": entry.author,
        }
        for entry in page.entries
    ]


def _notes(notes: list[StaffNote]) -> list[dict[str, Any]]:
    return [
        {"id": note.id, "kind": note.kind, "text": note.text, "at": jst(note.created_at)}
        for note in notes
    ]


def open_resident(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    now: datetime,
) -> dict[str, Any]:
    """What staff see on opening a resident: their state, waiting notes and the latest
    page of the transcript. Audited as a view; the resident's notes count as read."""
    check_resident(work, resident_id)
    resident = work.residents.get(resident_id)
    page = work.cases.transcript(resident_id, PAGE)
    work.cases.mark_read(account_id, resident_id)
    audit.record(actor, "conversation.view", resident_id, detail={"entries": len(page.entries)})
    case = work.cases.case_of(resident_id)
    return {
        "resident_id": resident_id,
        "ref": ref(resident_id),
        "handoff": bool(resident and resident.handoff),
        "notices_enabled": resident.notices_enabled if resident else True,
        "channel": resident.last_channel if resident else None,
        "last_seen": jst(work.residents.last_seen(resident_id)),
        "case": None
        if case is None
        else {
            "opened_by": case.opened_by,
            "opened_at": jst(case.opened_at),
            "urgent": case.urgent,
            "assigned_to": case.assigned_to,
        },
        "notes": _notes(work.cases.waiting_notes(resident_id)),
        "transcript": _entries(page),
        "older": cursor_text(page.older),
        "newest": cursor_text(page.newest),
    }


def transcript(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    before: str | None,
    after: str | None,
) -> dict[str, Any]:
    """An older page (`before`) or what arrived since (`after`: the open view refreshing
    itself; new notes count as read). Every read that shows messages is audited: the
    cursor comes from the client, so `after` from long ago is a read like any other."""
    check_resident(work, resident_id)
    if after:
        page = work.cases.transcript(resident_id, PAGE, after=parse_cursor(after))
        if page.entries:
            work.cases.mark_read(account_id, resident_id)
            audit.record(
                actor,
                "conversation.view",
                resident_id,
                detail={"entries": len(page.entries), "page": "newer"},
            )
    else:
        page = work.cases.transcript(resident_id, PAGE, before=parse_cursor(before))
        audit.record(
            actor,
            "conversation.view",
            resident_id,
            detail={"entries": len(page.entries), "page": "older"},
        )
    return {
        "transcript": _entries(page),
        "older": cursor_text(page.older),
        "newest": cursor_text(page.newest),
        "notes": _notes(work.cases.waiting_notes(resident_id)),
    }


def check_text(text: object, required: bool) -> str | None:
    """The text to send (stripped), None for none (only when not required), or CaseError."""
    if text is None and not required:
        return None
    if not isinstance(text, str):
        raise CaseError(400, "'text' is required and must be a string", "返信を入力してください。")
    text = text.strip()
    if not text:
        if required:
            raise CaseError(400, "'text' must not be empty", "返信を入力してください。")
        return None
    if len(text) > MAX_REPLY_CHARS:
        raise CaseError(
            400,
            f"'text' must be at most {MAX_REPLY_CHARS} characters",
            f"返信は{MAX_REPLY_CHARS}文字以内でお願いします。",
        )
    return text


def reply(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    text: str,
    now: datetime,
) -> int:
    """Send a reply; the resident's next message comes to staff (handoff). An unassigned
    case becomes the replier's. The outbox id."""
    check_resident(work, resident_id)
    outbox_id = work.handoffs.staff_reply(resident_id, text, now, True, LOCAL_PROVIDERS)
    work.cases.record_author(outbox_id, account_id)
    case = work.cases.case_of(resident_id)
    if case is None or case.assigned_id is None:
        work.cases.assign(resident_id, account_id, now)
    work.cases.mark_read(account_id, resident_id)
    audit.record(
        actor, "conversation.reply", resident_id, detail={"outbox": outbox_id, "chars": len(text)}
    )
    return outbox_id


def hand_back(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    closing: str | None,
    default_closing: str,
    now: datetime,
) -> int | None:
    """The bot answers the resident again; their notes are dealt with and the case closes.
    A resident who was waiting for a person is told (the default text, or staff's own)."""
    check_resident(work, resident_id)
    if not closing and work.handoffs.in_handoff(resident_id):
        closing = default_closing
    outbox_id = work.handoffs.hand_back(resident_id, closing, now, LOCAL_PROVIDERS)
    if outbox_id is not None:
        work.cases.record_author(outbox_id, account_id)
    work.cases.close(resident_id, now)
    audit.record(actor, "conversation.returned", resident_id, detail={"outbox": outbox_id})
    return outbox_id


def assign(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    resident_id: str,
    to: str | None,
    now: datetime,
) -> str | None:
    """Assign the case to a colleague by name (None: nobody). The name assigned."""
    check_resident(work, resident_id)
    account_id = None
    if to:
        account = work.accounts.by_name(to)
        if account is None or account.disabled:
            raise CaseError(400, "no such active account", "その職員は見つかりません。")
        account_id, to = account.id, account.name
    work.cases.assign(resident_id, account_id, now)
    audit.record(actor, "conversation.assigned", resident_id, detail={"to": to})
    return to


def set_notices(
    work: ConsoleWork, audit: Audit, actor: str, resident_id: str, enabled: bool
) -> None:
    """On the resident's request (by phone): notices on or off. Topics come later."""
    check_resident(work, resident_id)
    work.residents.set_notices(resident_id, enabled)
    audit.record(actor, "notices.setting_changed", resident_id, detail={"enabled": enabled})


# ---- finding a resident (someone on the phone) --------------------------------------------


_SEPARATORS = re.compile(r"[\s\-‐‑–—―ー−()（）.]")


def phone_number(text: str) -> str | None:
    """A Japanese number as staff type it (090-1234-5678, ０９０…, +81 90…) → E.164."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if re.fullmatch(r"\+81[1-9]\d{8,9}", digits):
        return digits
    if re.fullmatch(r"81[1-9]\d{8,9}", digits):
        return "+" + digits
    if re.fullmatch(r"0[1-9]\d{8,9}", digits):
        return "+81" + digits[1:]
    return None


@dataclass(frozen=True)
class Found:
    resident_id: str | None
    by: str  # receipt | phone


def search(
    work: ConsoleWork,
    audit: Audit,
    actor: str,
    query: str,
    vault: NumberVault,
    simulator: bool,
    now: datetime,
) -> Found:
    """By 受付番号 or by phone number (hashed with the residents' key: the number itself
    is neither stored nor logged nor audited). A resident found is opened as a case."""
    query = (query or "").strip()
    if receipts.looks_like_receipt(query):
        by = "receipt"
        resident_id = work.residents.by_receipt(receipts.normalise(query))
    else:
        number = phone_number(query)
        if number is None:
            raise CaseError(
                400,
                "not a reception number or a phone number",
                "受付番号（8文字）か電話番号を入力してください。",
            )
        by = "phone"
        # Real channels know a resident by the number; the simulator by a namespace of its own.
        identities = [number] + ([identity_of("sim", number)] if simulator else [])
        found = work.residents.known([vault.resident_id(i) for i in identities])
        resident_id = found[0] if found else None
    if resident_id is not None and work.cases.case_of(resident_id) is None:
        work.cases.open(resident_id, now, "lookup")
    audit.record(
        actor, "resident.search", resident_id, detail={"by": by, "found": resident_id is not None}
    )
    return Found(resident_id, by)
