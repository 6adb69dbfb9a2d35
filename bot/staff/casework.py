"""A day's work in the console, below HTTP: cases, transcripts, replies, hand-backs,
assignment, finding a resident, their notice setting. Each function runs inside one
store transaction and writes its audit entry there (who, what, which resident)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from bot import handoff
from bot.audit import Audit
from bot.clock import TOKYO
from bot.domain import receipts
from bot.identity import NumberVault
from bot.pipeline.intake import identity_of
from bot.store import console as store
from bot.store import queries as q
from bot.store import staff_accounts as accounts_store
from bot.store.queries import from_utc_text

REF_LENGTH = 10  # the short reference staff see and say: the start of the resident id
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


def jst(stamp: str | None) -> str | None:
    if not stamp:
        return None
    return from_utc_text(stamp).astimezone(TOKYO).isoformat(timespec="seconds")


def ref(resident_id: str) -> str:
    return resident_id[:REF_LENGTH]


def check_resident(db: sqlite_utils.Database, resident_id: str) -> None:
    """Only residents in staff's hands are shown (404 for anyone else, or a malformed id)."""
    if not RESIDENT_ID.match(resident_id) or not store.in_scope(db, resident_id):
        raise NOT_FOUND


def cursor_text(cursor: store.Cursor | None) -> str | None:
    return None if cursor is None else f"{cursor[0]}|{cursor[1]}|{cursor[2]}"


def parse_cursor(text: str | None) -> store.Cursor | None:
    if not text:
        return None
    parts = text.split("|")
    try:
        if len(parts) != 3:
            raise ValueError
        from_utc_text(parts[0])
        return parts[0], int(parts[1]), int(parts[2])
    except ValueError:
        raise CaseError(400, "bad cursor", "ページの指定が正しくありません。") from None


# ---- the list ------------------------------------------------------------------------------


def list_cases(db: sqlite_utils.Database, account_id: int) -> list[dict[str, Any]]:
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
        for case in store.open_cases(db, account_id)
    ]


# ---- one resident --------------------------------------------------------------------------


def _entries(page: store.TranscriptPage) -> list[dict[str, Any]]:
    return [{**entry, "at": jst(entry["at"])} for entry in page.entries]


def open_resident(
    db: sqlite_utils.Database,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    now: datetime,
) -> dict[str, Any]:
    """What staff see on opening a resident: their state, waiting notes and the latest
    page of the transcript. Audited as a view; the resident's notes count as read."""
    check_resident(db, resident_id)
    resident = q.get_resident(db, resident_id) or {}
    page = store.transcript_page(db, resident_id, PAGE)
    store.mark_read(db, account_id, resident_id)
    audit.record(actor, "conversation.view", resident_id, detail={"entries": len(page.entries)})
    case = store.case_of(db, resident_id)
    return {
        "resident_id": resident_id,
        "ref": ref(resident_id),
        "handoff": bool(resident.get("handoff")),
        "notices_enabled": bool(resident.get("notices_enabled", 1)),
        "channel": resident.get("last_channel"),
        "last_seen": jst(resident.get("last_seen_at")),
        "case": None
        if case is None
        else {
            "opened_by": case["opened_by"],
            "opened_at": jst(case["opened_at"]),
            "urgent": case["urgent"],
            "assigned_to": case["assigned_to"],
        },
        "notes": [{**note, "at": jst(note["at"])} for note in store.waiting_notes(db, resident_id)],
        "transcript": _entries(page),
        "older": cursor_text(page.older),
        "newest": cursor_text(page.newest),
    }


def transcript(
    db: sqlite_utils.Database,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    before: str | None,
    after: str | None,
) -> dict[str, Any]:
    """An older page (`before`, audited as a view) or what arrived since (`after`: the
    open view refreshing itself; the opening was audited, and new notes count as read)."""
    check_resident(db, resident_id)
    if after:
        page = store.transcript_page(db, resident_id, PAGE, after=parse_cursor(after))
        if page.entries:
            store.mark_read(db, account_id, resident_id)
    else:
        page = store.transcript_page(db, resident_id, PAGE, before=parse_cursor(before))
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
        "notes": [{**note, "at": jst(note["at"])} for note in store.waiting_notes(db, resident_id)],
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
    db: sqlite_utils.Database,
    audit: Audit,
    actor: str,
    account_id: int,
    resident_id: str,
    text: str,
    now: datetime,
) -> int:
    """Send a reply; the resident's next message comes to staff (handoff). An unassigned
    case becomes the replier's. The outbox id."""
    check_resident(db, resident_id)
    outbox_id = handoff.queue_staff_reply(db, resident_id, text, now)
    store.record_reply_author(db, outbox_id, account_id)
    case = store.case_of(db, resident_id)
    if case is None or case["assigned_id"] is None:
        store.assign(db, resident_id, account_id, now)
    store.mark_read(db, account_id, resident_id)
    audit.record(
        actor, "conversation.reply", resident_id, detail={"outbox": outbox_id, "chars": len(text)}
    )
    return outbox_id


def hand_back(
    db: sqlite_utils.Database,
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
    check_resident(db, resident_id)
    if not closing and handoff.in_handoff(db, resident_id):
        closing = default_closing
    outbox_id = None
    if closing:
        outbox_id = handoff.queue_staff_reply(db, resident_id, closing, now, take_over=False)
        store.record_reply_author(db, outbox_id, account_id)
    handoff.hand_back(db, resident_id)
    store.close_case(db, resident_id, now)
    audit.record(actor, "conversation.returned", resident_id, detail={"outbox": outbox_id})
    return outbox_id


def assign(
    db: sqlite_utils.Database,
    audit: Audit,
    actor: str,
    resident_id: str,
    to: str | None,
    now: datetime,
) -> str | None:
    """Assign the case to a colleague by name (None: nobody). The name assigned."""
    check_resident(db, resident_id)
    account_id = None
    if to:
        account = accounts_store.account_by_name(db, to)
        if account is None or account.disabled:
            raise CaseError(400, "no such active account", "その職員は見つかりません。")
        account_id, to = account.id, account.name
    store.assign(db, resident_id, account_id, now)
    audit.record(actor, "conversation.assigned", resident_id, detail={"to": to})
    return to


def set_notices(
    db: sqlite_utils.Database, audit: Audit, actor: str, resident_id: str, enabled: bool
) -> None:
    """On the resident's request (by phone): notices on or off. Topics come later."""
    check_resident(db, resident_id)
    q.update_resident(db, resident_id, {"notices_enabled": enabled})
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
    db: sqlite_utils.Database,
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
        resident_id = store.resident_of_receipt(db, receipts.normalise(query))
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
        found = store.known_residents(db, [vault.resident_id(i) for i in identities])
        resident_id = found[0] if found else None
    if resident_id is not None and store.case_of(db, resident_id) is None:
        store.open_case(db, resident_id, now, "lookup")
    audit.record(
        actor, "resident.search", resident_id, detail={"by": by, "found": resident_id is not None}
    )
    return Found(resident_id, by)
